"""``coopledger trial-balance`` as a real process: it answers without building the web app (the county-scale
path measured in bench/run.py), and says exactly what the in-app command says, with the same exit codes."""

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.operations import create_entity
from ledger.db import make_engine, writer
from ledger.entries import EntryDraft, PostingDraft
from ledger.operations import post_entries
from payouts.admin.migrate import upgrade

COOPLEDGER = str(Path(sys.executable).parent / "coopledger")
D = Decimal


@pytest.fixture
def books(isolated_db):
    """A migrated database with one cooperative and three entries over two years, committed."""
    engine = make_engine(isolated_db)
    upgrade(engine)
    with Session(writer(engine)) as session:
        entity = create_entity(session, code="TBX", name="试算合作社", kind="farmer_coop", township="甲乡",
                               first_year=2024, actor=CONSOLE)
        post_entries(session, entity.book, [
            EntryDraft(date=dt.date(2024, 12, 1), postings=(PostingDraft("102", D("1000.00")),
                                                             PostingDraft("301", D("-1000.00"))), memo="股金"),
            EntryDraft(date=dt.date(2025, 3, 1), postings=(PostingDraft("102", D("250.50")),
                                                            PostingDraft("113", D("49.50")),
                                                            PostingDraft("501", D("-300.00"))), memo="销售"),
            EntryDraft(date=dt.date(2025, 4, 1), postings=(PostingDraft("521", D("80.25")),
                                                            PostingDraft("102", D("-80.25"))), memo="支出")])
        session.commit()
    engine.dispose()
    return isolated_db


def run(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "COOP_SECRET_KEY": "test-trial-balance"}
    return subprocess.run([COOPLEDGER, "trial-balance", *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_command_prints_every_account_exactly(books):
    done = run(books, "--entity", "TBX", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    closing = {a["code"]: a["closing"] for a in out["accounts"]}
    assert closing == {"102": "1170.25", "113": "49.50", "301": "-1000.00", "501": "-300.00", "521": "80.25"}
    assert out["totals"] == {"opening": "0.00", "debit": "1380.25", "credit": "1380.25", "closing": "0.00"}
    assert out["balanced"] is True

    year = json.loads(run(books, "--entity", "TBX", "--year", "2025", "--json").stdout)
    bank = next(a for a in year["accounts"] if a["code"] == "102")
    assert (bank["opening"], bank["debit"], bank["credit"], bank["closing"]) == ("1000.00", "250.50", "80.25",
                                                                                 "1170.25")
    assert "301" in {a["code"] for a in year["accounts"]}        # opening balance only: still listed


def test_the_command_does_not_build_the_web_app(books):
    code = ("import sys; sys.argv = ['coopledger', 'trial-balance', '--entity', 'TBX']\n"
            "from payouts.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code in (0, None)\n"
            "print('LOADED', sorted(m for m in ('payouts.app', 'weasyprint', 'payouts.statements.web') "
            "if m in sys.modules))")
    env = {**os.environ, "DATABASE_URL": books, "COOP_SECRET_KEY": "test-trial-balance"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1170.25" in done.stdout and "LOADED []" in done.stdout


def test_bad_input_gets_a_message_and_the_usual_exit_codes(books):
    unknown = run(books, "--entity", "NOPE")
    assert unknown.returncode == 1 and "no entity 'NOPE'" in unknown.stderr and "Traceback" not in unknown.stderr
    usage = run(books)
    assert usage.returncode == 2 and "--entity" in usage.stderr
    assert run(books, "--entity", "TBX", "--year", "next").returncode == 2

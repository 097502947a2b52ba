"""Posting a run survives races and crashes: real processes on a real (committed) database."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.db import make_engine
from ledger.models import JournalEntry
from payouts.models import PayoutRun

COOPLEDGER = str(Path(sys.executable).parent / "coopledger")
POLICY = '[[pools]]\nname = "patronage"\npct = "70"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "30"\nbasis = "capital"\n'
#: what posting this run writes: one entry per pool and the closing of 各项分配 (no reserve, no deductions)
RUN_ENTRIES = 3
WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["FX", "故障测试合作社", "farmer_coop", "测试乡"]],
    "households": [["code", "head_name", "village"], ["F1", "甲", "一村"], ["F2", "乙", "一村"]],
    "members": [["member", "member_no", "joined_on"], ["F1", 1, "2020-01-01"], ["F2", 2, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-01", "F1", "1000"], ["2025-01-01", "F2", "3000"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                   ["2025-05-01", "F1", "茶", "100", "kg", "5", "bank"], ["2025-05-01", "F2", "茶", "300", "kg", "5", "bank"]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "茶企", "干茶", "10000"]],
}


@pytest.fixture
def approved_run(isolated_db, xlsx, tmp_path):
    env = {**os.environ, "DATABASE_URL": isolated_db, "COOP_SECRET_KEY": "fault-test"}
    env.pop("COOPLEDGER_TEST_PAUSE_IN_POST", None)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")

    def run(*args, **kw):
        return subprocess.run([COOPLEDGER, *args], env={**env, **kw.pop("env", {})}, capture_output=True,
                              text=True, timeout=120, cwd=tmp_path, **kw)

    for args in (("init",), ("import", xlsx(WORKBOOK)), ("distribute", "--entity", "FX", "--year", "2025",
                                                          "--policy", str(policy)),
                 ("run", "approve", "1", "--meeting-date", "2026-03-01", "--attended", "2", "--votes-for", "2")):
        done = run(*args)
        assert done.returncode == 0, done.stderr
    engine = make_engine(isolated_db)
    yield run, env, engine
    engine.dispose()


def run_entries(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.source.like("run:1:%")))


def run_status(engine) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(PayoutRun.status).where(PayoutRun.id == 1))


@pytest.mark.slow
def test_two_processes_posting_the_same_run_post_it_once(approved_run):
    run, env, engine = approved_run
    procs = [subprocess.Popen([COOPLEDGER, "run", "post", "1"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted(out.strip() for out, _ in outputs)
    assert said == ["run 1 posted", "run 1 was already posted; nothing was posted again"]
    assert run_entries(engine) == RUN_ENTRIES
    assert run_status(engine) == "posted"
    assert run("verify").returncode == 0


@pytest.mark.slow
def test_killed_while_posting_leaves_nothing_and_a_retry_posts_once(approved_run):
    run, env, engine = approved_run
    proc = subprocess.Popen([COOPLEDGER, "run", "post", "1"], env={**env, "COOPLEDGER_TEST_PAUSE_IN_POST": "60"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "POSTING-PAUSED"     # entries written, transaction not committed
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)                # reap it and close its pipes
    assert proc.returncode == -signal.SIGKILL
    assert run_entries(engine) == 0 and run_status(engine) == "approved"
    verified = run("verify")
    assert verified.returncode == 0, verified.stderr
    retry = run("run", "post", "1")
    assert retry.returncode == 0 and retry.stdout.strip() == "run 1 posted"
    assert run_entries(engine) == RUN_ENTRIES and run_status(engine) == "posted"
    assert run("run", "post", "1").stdout.strip() == "run 1 was already posted; nothing was posted again"
    assert run_entries(engine) == RUN_ENTRIES
    assert run("verify").returncode == 0

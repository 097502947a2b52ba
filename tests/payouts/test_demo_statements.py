"""Every statement of the demo runs, rendered and read back: the head of household's name, the net in
figures and in capital numerals, the verification code; notice lists carry no full ID or phone number."""

import shutil
import subprocess
from decimal import Decimal

import pytest
from sqlalchemy import select

from cooperatives import privacy
from cooperatives.models import Household, Member
from ledger.numerals import capital_numerals
from payouts.admin.demo import load_demo_world
from payouts.models import PayoutRun, StatementSnapshot

pytestmark = [
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed"),
    # rendering does not depend on the database; the snapshots are built on both in tests/payouts
    pytest.mark.skipif("config.getoption('--db-url').startswith('postgresql')", reason="rendering only: SQLite run"),
]


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_every_demo_statement_and_notice_list(session, cli, tmp_path):
    load_demo_world(session)
    session.commit()
    runs = session.execute(select(PayoutRun.id, PayoutRun.entity_id, PayoutRun.year)
                           .where(PayoutRun.status.in_(("posted", "published", "paid")))).all()
    assert len(runs) >= 12
    checked = 0
    for run in runs:                 # plain rows: each command closes the session it shares with the test
        out = tmp_path / f"run{run.id}"
        result = cli("statements", "--run", str(run.id), "--out", str(out), "--workers", "2")
        assert result.exit_code == 0, result.output
        snaps = session.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id)).all()
        for snap in snaps:
            data = snap.content
            text = pdf_text(out / f"{data['member']['member_no']:05d}-{data['member']['code']}.pdf")
            flat = text.replace("\n", "")
            net = Decimal(data["net"])
            assert data["member"]["name"] in text, snap.code
            assert f"{net:,.2f}" in text and capital_numerals(net) in flat and snap.code in text, snap.code
            checked += 1
        code = session.get(PayoutRun, run.id).entity.code
        notice = pdf_text(out / f"notice-{code}-{run.year}.pdf")
        households = session.scalars(select(Household).join(Member, Member.household_id == Household.id)
                                     .where(Member.entity_id == run.entity_id)).all()
        for hh in households:
            for secret in (privacy.decrypt(hh.id_number_enc), hh.phone):
                assert not secret or secret not in notice, (code, hh.code)
    # 80 tea households, 9 villages of the cluster, 190 village households, 40 land-coop households, and the
    # anomaly cooperative's 9 (2024) and 11 (2025) households
    assert checked == 339

"""Verification, objections, receipts and PINs on a posted run (both databases)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import Household
from ledger.queries import account_balance, get_book, party_balances
from payouts.models import PayoutRun, StatementSnapshot
from payouts.runs.operations import publish_run
from payouts.statements.operations import (
    StatementError,
    answer_objection,
    household_by_phone_and_pin,
    record_objection,
    record_receipt,
    set_pin,
    verify_code,
)

D = Decimal
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["VO", "核验合作社", "farmer_coop", "测试乡"]],
    "households": [["code", "head_name", "village", "phone"], ["V1", "王大山", "一村", "13900000001"],
                   ["V2", "李秀英", "一村", "13900000002"]],
    "members": [["member", "member_no", "joined_on"], ["V1", 1, "2020-01-01"], ["V2", 2, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-01", "V1", "1000"], ["2025-01-01", "V2", "1000"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                   ["2025-05-01", "V1", "茶", "100", "kg", "10", "bank"], ["2025-05-01", "V2", "茶", "300", "kg", "10", "bank"]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "茶企", "干茶", "14000"]],
}


@pytest.fixture
def run(session, cli, xlsx, policy_file):
    assert cli("import", xlsx(WORKBOOK)).exit_code == 0
    out = json.loads(cli("distribute", "--entity", "VO", "--year", "2025", "--policy", policy_file(POLICY),
                         "--json").stdout)
    cli("run", "approve", str(out["run"]), "--meeting-date", "2026-03-01", "--attended", "2", "--votes-for", "2")
    assert cli("run", "post", str(out["run"])).exit_code == 0
    return session.get(PayoutRun, out["run"])


def snap_of(session, code):
    return session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == code))


def test_a_printed_statement_verifies_and_a_changed_amount_does_not(session, run):
    snap = snap_of(session, "V1")
    net = D(snap.content["net"])                                    # 10,000 surplus: 60 % by trade 1:3, 40 % 1:1
    assert net == D("1500.00") + D("2000.00")
    ok = verify_code(session, snap.code.lower(), amount=net)
    assert ok.found and ok.matches_ledger and ok.amount_matches and ok.name == "王*山" and ok.superseded_by is None
    assert verify_code(session, snap.code, amount=net + D("100")).amount_matches is False
    assert verify_code(session, "NOPE-NOPE-NOPE").found is False
    notice = verify_code(session, run.notice_code)
    assert notice.kind == "notice" and notice.net == D("10000.00")


def test_a_reversed_run_verifies_as_superseded_by_its_correction(session, run, cli):
    snap = snap_of(session, "V2")
    result = cli("run", "reverse", str(run.id))
    assert result.exit_code == 0
    reversing = int(result.stdout.strip().rsplit(" ", 1)[1])
    v = verify_code(session, snap.code)
    assert v.status == "reversed" and v.superseded_by == reversing
    again = json.loads(cli("distribute", "--entity", "VO", "--year", "2025", "--json").stdout)
    cli("run", "approve", str(again["run"]), "--meeting-date", "2026-04-01", "--attended", "2", "--votes-for", "2")
    assert cli("run", "post", str(again["run"])).exit_code == 0
    assert verify_code(session, snap.code).superseded_by == again["run"]


def test_objections_only_during_the_notice_period_and_answers(session, run):
    snap = snap_of(session, "V1")
    with pytest.raises(StatementError, match="notice period"):
        record_objection(session, snap, line="patronage", text="交售量少算了", actor=CONSOLE)
    publish_run(session, run, today=dt.date(2026, 3, 20), actor=CONSOLE)
    with pytest.raises(StatementError, match="notice period"):
        record_objection(session, snap, line="patronage", text="交售量少算了", today=dt.date(2026, 3, 28), actor=CONSOLE)
    objection = record_objection(session, snap, line="patronage", text="交售量少算了", today=dt.date(2026, 3, 21), actor=CONSOLE)
    with pytest.raises(StatementError, match="Choose the line"):
        record_objection(session, snap, line="bonus", text="?", today=dt.date(2026, 3, 21), actor=CONSOLE)
    answer_objection(session, objection, answer="已核对交售单，数量无误。", actor=CONSOLE)
    assert objection.status == "answered"


def test_receipts_post_to_the_ledger_and_a_run_paid_in_full_is_paid(session, run):
    publish_run(session, run, actor=CONSOLE)
    book = get_book(session, "VO")
    s1, s2 = snap_of(session, "V1"), snap_of(session, "V2")
    with pytest.raises(StatementError, match="signature"):
        record_receipt(session, s1, amount=D("100.00"), method="cash", on=dt.date(2026, 4, 1), actor=CONSOLE)
    with pytest.raises(StatementError, match="more than"):
        record_receipt(session, s1, amount=D("99999.00"), method="bank", on=dt.date(2026, 4, 1), actor=CONSOLE)
    from cooperatives.models import Entity
    from cooperatives.operations import record

    vo = session.scalar(select(Entity).where(Entity.code == "VO"))      # 提现: the cash the payout is paid in
    record(session, vo, "transfers", {"date": dt.date(2026, 4, 1), "from_account": "bank", "to_account": "cash",
                                      "amount": D("1000.00")}, actor=CONSOLE)
    record_receipt(session, s1, amount=D("1000.00"), method="cash", signed=True, on=dt.date(2026, 4, 1), actor=CONSOLE)
    assert -party_balances(session, book, "221")["V1"] == D("1500.00") - D("1000.00")
    record_receipt(session, s1, amount=D("2500.00"), method="bank", on=dt.date(2026, 4, 2), reference="YH1", actor=CONSOLE)
    assert party_balances(session, book, "221")["V1"] == 0 and party_balances(session, book, "222")["V1"] == 0
    assert run.status == "published"
    record_receipt(session, s2, amount=D(s2.content["net"]), method="mobile", on=dt.date(2026, 4, 2), actor=CONSOLE)
    assert run.status == "paid"
    assert account_balance(session, book, "221") == 0 and account_balance(session, book, "222") == 0


def test_phone_and_pin(session, run):
    hh = session.scalar(select(Household).where(Household.code == "V2"))
    pin = set_pin(session, hh, actor=CONSOLE)
    assert len(pin) == 6 and pin not in (hh.pin_hash or "")
    assert household_by_phone_and_pin(session, "139 0000 0002", pin) == hh
    assert household_by_phone_and_pin(session, "13900000002", "000000" if pin != "000000" else "111111") is None


def test_receipt_is_confirmed_only_once_a_payment_is_recorded(session, run):
    from cooperatives.access import Principal
    from cooperatives.models import AuditLog
    from payouts.statements.operations import confirm_receipt

    publish_run(session, run, actor=CONSOLE)
    snap = snap_of(session, "V1")
    household = Principal.of_household(snap.household_id)
    logged = session.scalar(select(func.count(AuditLog.id)))
    with pytest.raises(StatementError) as refused:                      # nothing paid: nothing to confirm
        confirm_receipt(session, snap, actor=household)
    assert refused.value.problem.column == "_schema" and refused.value.problem.reason.code == "no_payment_yet"
    assert snap.confirmed_at is None and session.scalar(select(func.count(AuditLog.id))) == logged
    record_receipt(session, snap, amount=D("1000.00"), method="bank", on=dt.date(2026, 4, 1), actor=CONSOLE)
    confirm_receipt(session, snap, actor=household)                    # paid (even in part): confirmed
    assert snap.confirmed_at is not None

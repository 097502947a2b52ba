"""Voiding a record (红字冲销, issue 13 §3): the exact reversal of the record's own legs, dated the record's own
date, by the API, the page and the command line through one operation; nothing edited or deleted; a voided
record counts for nothing (the member's account, the run's basis); refused in a closed year, twice, without
a reason, and for another tenant. Figures are those of the ``world`` fixture's records, computed by hand."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.kinds import KINDS
from cooperatives.models import AuditLog, Delivery, Entity, LandContract
from cooperatives.queries import member_account, year_contributions
from ledger.models import JournalEntry, Posting
from ledger.queries import account_balance, member_balances
from payouts.runs.operations import close_year

A = "TA-COOP"
D = Decimal


def _entity(session) -> Entity:
    return session.scalar(select(Entity).where(Entity.code == A))


def _record(session, kind: str):
    model = KINDS[kind].model
    entity = _entity(session)
    return session.scalar(select(model).where(model.entity_id == entity.id).order_by(model.id))


def _book(session) -> dict[tuple[str, str | None], Decimal]:
    """Every (account, member) balance of A's book, leaving out what nets to zero."""
    entity = _entity(session)
    out = {}
    for code in ("101", "102", "113", "114", "151", "161", "213", "235", "301", "311", "501", "511", "521", "523"):
        amount = account_balance(session, entity.book, code)
        if amount:
            out[(code, None)] = amount
    for member, accounts in member_balances(session, entity.book).items():
        for code, amount in accounts.items():
            if amount:
                out[(code, member)] = amount
    return out


def _void(client, token, kind: str, record_id: int, reason: str | None = "录入错误", user: str = "acc_a"):
    body = {} if reason is None else {"reason": reason}
    return client.post(f"/api/v1/{kind}/{record_id}/void", json=body, headers=token(user))


#: what each of the world's records posted (debits positive), by hand: the void must take exactly this away
POSTED = {
    "capital": {("102", None): D("3000.00"), ("301", "A-H001"): D("-3000.00")},
    "land": {("521", None): D("2100.00"), ("114", "A-H001"): D("-2100.00")},         # 3.5 亩 × 600, all of 2025
    "labor": {("521", None): D("360.00"), ("213", "A-H002"): D("-360.00")},          # 3 days × 120
    "deliveries": {("521", None): D("672.00"), ("114", "A-H001"): D("-672.00")},     # 120 斤 × 5.60, not paid
    "inputs": {("114", "A-H003"): D("800.00"), ("102", None): D("-800.00")},
    "sales": {("113", None): D("42000.00"), ("501", None): D("-42000.00")},          # on credit (应收款)
    "receipts": {("102", None): D("42000.00"), ("113", None): D("-42000.00")},       # received in full
    "expenses": {("523", None): D("5200.00"), ("102", None): D("-5200.00")},
    # a fiscal subsidy waits in 235 until used (books-review W2); the asset bought out of it moves that much to 311
    "subsidies": {("102", None): D("20000.00"), ("235", None): D("-20000.00")},
    "assets": {("151", None): D("12000.00"), ("102", None): D("-12000.00"), ("235", None): D("12000.00"),
               ("311", None): D("-12000.00")},
    "advances": {("114", "A-H002"): D("600.00"), ("101", None): D("-600.00")},
    "payments": {("114", "A-H001"): D("500.00"), ("102", None): D("-500.00")},
    "income": {("102", None): D("1500.00"), ("511", None): D("-1500.00")},
}


@pytest.mark.parametrize("kind", sorted(POSTED))
def test_voiding_a_record_takes_away_exactly_what_it_posted(client, world, session, token, kind):
    if kind == "sales":             # a sale on credit already received: the receipt is voided first
        refused = _void(client, token, "sales", _record(session, "sales").id)
        assert refused.get_json()["errors"]["_schema"] == [
            "Only 0.00 of this sale is still owed (the rest was received): void the receipt first."]
        assert _void(client, token, "receipts", _record(session, "receipts").id).status_code == 200
    if kind == "subsidies":         # 12,000 of it bought the world's roaster: the asset is voided first
        refused = _void(client, token, "subsidies", _record(session, "subsidies").id)
        assert refused.get_json()["errors"]["_schema"] == [
            "Only 8000.00 of project 县农业农村局产业资金 is unspent: void the assets and expenses paid out of it first."]
        assert _void(client, token, "assets", _record(session, "assets").id).status_code == 200
    before = _book(session)
    row = _record(session, kind)
    answer = _void(client, token, kind, row.id)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["entity"], body["kind"], body["id"], body["void_reason"]) == (A, kind, row.id, "录入错误")
    after = _book(session)
    expected = dict(before)
    for (code, member), amount in POSTED[kind].items():
        for key in {(code, member), (code, None)}:                     # the member's line and the account's total
            expected[key] = expected.get(key, D(0)) - amount
    assert after == {k: v for k, v in expected.items() if v}
    voided = session.get(KINDS[kind].model, row.id)
    assert voided.voided_at is not None and voided.void_reason == "录入错误"
    assert voided.entry_id == row.entry_id                          # the record and its voucher are kept
    reversal = session.scalars(select(JournalEntry).where(
        JournalEntry.book_id == _entity(session).book_id, JournalEntry.source.like(f"void:{kind}:{row.id}%"))).all()
    expected_date = dt.date(2025, 12, 31) if kind == "land" else row.date       # land: the year's rent accrual
    assert [e.date for e in reversal] == [expected_date]
    assert session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "void", AuditLog.target == f"{kind}:{row.id}", AuditLog.detail == "录入错误")) == 1


def test_a_voided_record_counts_for_nothing(client, world, session, token):
    """The member's account and the distribution's basis leave a voided delivery out; the land contract,
    once voided, accrues no rent for the next year."""
    entity = _entity(session)
    delivery, land = _record(session, "deliveries"), _record(session, "land")
    assert member_account(session, entity, "A-H001").deliveries == [("藤茶鲜叶", "jin", D("120"), D("672.00"))]
    assert _void(client, token, "deliveries", delivery.id).status_code == 200
    assert _void(client, token, "land", land.id).status_code == 200
    account = member_account(session, entity, "A-H001")
    assert account.deliveries == [] and account.land == []
    found = {m["code"]: m for m in year_contributions(session, entity, 2025)["members"]}
    assert found["A-H001"]["trade"] == [] and found["A-H001"]["land_shares"] == 0
    from cooperatives.operations import accrue_land_rent

    assert accrue_land_rent(session, entity, 2026, actor=CONSOLE) is None      # nothing left to accrue


def test_a_record_summed_into_a_days_voucher_is_voided_alone(client, world, session, token, tmp_path):
    """The bulk import sums a day's deliveries into one voucher: voiding one reverses its own legs only."""
    from cooperatives.importer import import_path

    book = {"deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid"],
                           ["2025-09-01", "A-H002", "藤茶鲜叶", "100", "jin", "6.00", "no"],
                           ["2025-09-01", "A-H003", "藤茶鲜叶", "50", "jin", "6.00", "no"]]}
    path = tmp_path / "book.xlsx"
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    session.commit()
    first, second = session.scalars(select(Delivery).where(Delivery.date == dt.date(2025, 9, 1))
                                    .order_by(Delivery.id)).all()
    assert first.entry_id == second.entry_id                           # one summary voucher for the day
    before = _book(session)
    assert _void(client, token, "deliveries", first.id).status_code == 200
    after = _book(session)
    assert after[("521", None)] == before[("521", None)] - D("600.00")
    assert after.get(("114", "A-H002"), D(0)) == before.get(("114", "A-H002"), D(0)) + D("600.00")
    assert after[("114", "A-H003")] == before[("114", "A-H003")]       # the other record stands
    voucher_lines = session.scalar(select(func.count(Posting.id)).where(Posting.entry_id == first.entry_id))
    assert voucher_lines == 3                                          # the day's voucher itself is untouched


def test_a_void_is_refused_twice_without_a_reason_in_a_closed_year_and_elsewhere(client, world, session, token):
    row = _record(session, "expenses")
    model, row_id = type(row), row.id                                  # (each request closes the session)
    answer = _void(client, token, "expenses", row_id, reason="  ")
    assert answer.status_code == 422 and answer.get_json()["errors"]["reason"]
    assert _void(client, token, "expenses", row_id, reason=None).status_code == 422
    assert _void(client, token, "expenses", row_id, user="acc_b").status_code == 404    # another tenant's
    assert _void(client, token, "expenses", row_id, user="aud_a").status_code == 403    # an auditor reads only
    assert _void(client, token, "expenses", 10 ** 9).status_code == 404
    assert session.get(model, row_id).voided_at is None
    assert _void(client, token, "expenses", row_id).status_code == 200
    again = _void(client, token, "expenses", row_id)
    assert again.status_code == 422
    assert again.get_json()["errors"]["_schema"] == ["This record was voided already."]

    other = _record(session, "sales")
    other_id = other.id
    close_year(session, _entity(session), 2025, actor=CONSOLE)
    session.commit()
    entries = session.scalar(select(func.count(JournalEntry.id)))
    closed = _void(client, token, "sales", other_id)
    assert closed.status_code == 422
    assert closed.get_json()["errors"]["_schema"] == ["2025 is closed in the books of TA-COOP."]
    assert session.scalar(select(func.count(JournalEntry.id))) == entries
    assert session.get(KINDS["sales"].model, other_id).voided_at is None


def test_voiding_on_the_page(client, world, session, login, csrf):
    login(client, "acc_a")
    row = _record(session, "advances")
    path = f"/e/{A}/records/advances"
    token = csrf(client, path)
    answer = client.post(f"{path}/{row.id}/void", data={"reason": "重复录入", "csrf_token": token})
    assert answer.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert f'id="voided-{row.id}"' in page and "已作废" in page and "重复录入" in page
    assert "作废这条记录" not in page                                  # nothing left to void on this page
    refused = client.post(f"{path}/{row.id}/void", data={"reason": "再来一次", "csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)
    assert "这条记录已经作废。" in refused
    assert client.post(f"{path}/{row.id}/void", data={"reason": "x"}).status_code == 400      # no CSRF token


def test_voiding_from_the_command_line(cli, world, session):
    land = session.scalar(select(LandContract).where(LandContract.contract_no == "TD-A-001"))
    listed = json.loads(cli("records", "land", "--entity", A, "--json").output)
    assert [(r["id"], r["date"], r["member"], r["voided_at"]) for r in listed["records"]] == [
        (land.id, "2025-01-01", "A-H001", None)]
    result = cli("void", "land", str(land.id), "--reason", "合同未签订")
    assert result.exit_code == 0, result.output
    assert "TA-COOP" in result.output and "voided" in result.output
    listed = json.loads(cli("records", "land", "--entity", A, "--json", "--year", "2025").output)
    assert listed["records"][0]["void_reason"] == "合同未签订" and listed["records"][0]["voided_at"]
    again = cli("void", "land", str(land.id), "--reason", "再来")
    assert again.exit_code == 1 and "voided already" in again.output
    assert cli("void", "land", "999999", "--reason", "x").exit_code == 1
    assert json.loads(cli("records", "deliveries", "--entity", A, "--json", "--member", "A-H002").output)[
        "records"] == []

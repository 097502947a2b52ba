"""Wages are paid out of what 应付劳务费 owes (issue 13 §5, books-review W3): a payment ``for`` labour posts
Dr 213 / Cr 102 (or 101), by form, API and workbook alike; a labour payment above what is owed is refused
with the figures. The world's A-H002 worked 3 days × 120 = 360.00 (Cr 213)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.importer import import_path
from cooperatives.models import Entity
from cooperatives.workbook import WorkbookError
from ledger.queries import account_balance

A = "TA-COOP"
D = Decimal


def _book(session):
    return session.scalar(select(Entity).where(Entity.code == A)).book


def test_wages_are_paid_out_of_what_is_owed_and_never_more(client, world, session, token):
    headers = token("acc_a")
    assert account_balance(session, _book(session), "213", party="A-H002") == D("-360.00")
    before = account_balance(session, _book(session), "114", party="A-H002")
    paid = client.post(f"/api/v1/entities/{A}/payments", headers=headers, json={
        "date": "2025-08-05", "member": "A-H002", "amount": "300", "method": "cash", "paid_for": "labor"})
    assert paid.status_code == 201, paid.get_json()
    book = _book(session)
    assert account_balance(session, book, "213", party="A-H002") == D("-60.00")
    assert account_balance(session, book, "114", party="A-H002") == before        # not a debt of the member
    more = client.post(f"/api/v1/entities/{A}/payments", headers=headers, json={
        "date": "2025-05-30", "member": "A-H002", "amount": "100", "paid_for": "labor"})
    assert more.status_code == 422
    assert more.get_json()["errors"]["amount"] == [
        "A-H002 is owed 60.00 in wages (应付劳务费): a payment of 100.00 for labour is more than that."]


def test_a_workbook_pays_the_wages_it_accrues(session, world, tmp_path):
    book = {"用工": [["日期", "成员", "天数", "日工资"], ["2025-09-01", "A-H003", "2", "150"]],
            "付款": [["日期", "成员", "金额", "方式", "用途"], ["2025-09-30", "A-H003", "300", "现金", "劳务费"]]}
    path = tmp_path / "wages.xlsx"
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert account_balance(session, _book(session), "213", party="A-H003") == D("0.00")
    book["付款"][1][2] = "301"
    book["用工"][1][0] = "2025-09-02"                                   # (another workbook: another digest)
    path.write_bytes(xlsx(book).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert [str(p) for p in refused.value.problems] == [
        "付款:2:金额: A-H003 is owed 300.00 in wages (应付劳务费): a payment of 301.00 for labour is more than that."]


def test_wages_paid_cannot_be_voided_away(client, world, session, token):
    """Voiding a labour record whose wages were paid would leave 应付劳务费 in debit: refused until the payment
    itself is voided."""
    from cooperatives.models import LaborRecord

    headers = token("acc_a")
    labor = session.scalar(select(LaborRecord).where(LaborRecord.member.has(code="A-H002")))
    labor_id = labor.id
    paid = client.post(f"/api/v1/entities/{A}/payments", headers=headers, json={
        "date": "2025-04-30", "member": "A-H002", "amount": "300", "paid_for": "labor"}).get_json()
    refused = client.post(f"/api/v1/labor/{labor_id}/void", json={"reason": "录错"}, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["_schema"] == [
        "Only 60.00 of these wages is still owed (the rest was paid): void the payment first."]
    assert client.post(f"/api/v1/payments/{paid['id']}/void", json={"reason": "付错"}, headers=headers).status_code == 200
    assert client.post(f"/api/v1/labor/{labor_id}/void", json={"reason": "录错"}, headers=headers).status_code == 200
    assert account_balance(session, _book(session), "213", party="A-H002") == D("0.00")

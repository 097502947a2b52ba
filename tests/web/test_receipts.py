"""Sales on credit and the money received against them (issue 13 §5, books-review W12): a sale ``paid_by`` credit
stays owed — on 113 应收款 by its buyer, or on the member's 114 — until ``receipts`` (收款) bring the money in; a
receipt larger than what its buyer still owes is refused with the figures, and a sale already received cannot be
voided away. The world's TA-COOP sold 42,000.00 on credit to 湘西茶业有限公司 and received all of it."""

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
    session.expire_all()
    return session.scalar(select(Entity).where(Entity.code == A)).book


def test_a_receipt_takes_what_the_buyer_owes_and_never_more(client, world, session, token):
    headers = token("acc_a")
    post = lambda kind, body: client.post(f"/api/v1/entities/{A}/{kind}", headers=headers, json=body)  # noqa: E731
    assert account_balance(session, _book(session), "113") == D("0.00")
    assert post("sales", {"date": "2025-09-01", "buyer": "茶商", "product": "干茶", "amount": "900",
                          "paid_by": "credit"}).status_code == 201
    first = post("receipts", {"date": "2025-09-20", "buyer": "茶商", "amount": "500"})
    assert first.status_code == 201, first.get_json()
    assert account_balance(session, _book(session), "113") == D("400.00")
    more = post("receipts", {"date": "2025-10-01", "buyer": "茶商", "amount": "400.01", "method": "mobile"})
    assert more.status_code == 422
    assert more.get_json()["errors"]["amount"] == [
        "茶商 owes 400.00 (应收款): a receipt of 400.01 is more than that."]
    nobody = post("receipts", {"date": "2025-10-01", "buyer": "不认识的人", "amount": "1"})
    assert nobody.status_code == 422 and "不认识的人 owes 0.00" in nobody.get_json()["errors"]["amount"][0]
    assert post("receipts", {"date": "2025-10-01", "buyer": "茶商", "amount": "400", "method": "mobile"}).status_code == 201
    book = _book(session)
    assert (account_balance(session, book, "113"), account_balance(session, book, "109")) == (D("0.00"), D("400.00"))


def test_a_workbook_receives_what_it_sells_on_credit(session, world, tmp_path):
    """Chinese names: 销售 with 付款方式 = 赊销, 收款 with 购买方/金额/方式."""
    book = {"销售": [["日期", "购买方", "产品", "金额", "付款方式"], ["2025-10-01", "县城超市", "干茶", "3000", "赊销"]],
            "收款": [["日期", "购买方", "金额", "方式"], ["2025-10-15", "县城超市", "2000", "银行"],
                   ["2025-10-30", "县城超市", "1000.01", "现金"]]}
    path = tmp_path / "credit.xlsx"
    path.write_bytes(xlsx(book).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert [str(p) for p in refused.value.problems] == [
        "收款:3:金额: 县城超市 owes 1000.00 (应收款): a receipt of 1000.01 is more than that."]
    session.rollback()
    book["收款"][2][2] = "1000"
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    session.commit()
    assert account_balance(session, _book(session), "113") == D("0.00")
    assert account_balance(session, _book(session), "101") == D("4400.00") + D("1000.00")


def test_a_sale_on_credit_to_a_member_is_the_members_debt(client, world, session, token):
    before = account_balance(session, _book(session), "114", party="A-H002")
    sold = client.post(f"/api/v1/entities/{A}/sales", headers=token("acc_a"), json={
        "date": "2025-09-01", "buyer": "李秀英", "product": "茶苗", "amount": "150", "member": "A-H002",
        "paid_by": "credit"})
    assert sold.status_code == 201
    assert account_balance(session, _book(session), "114", party="A-H002") - before == D("150.00")
    assert account_balance(session, _book(session), "113") == D("0.00")

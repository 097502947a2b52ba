"""Where money is (issue 13 §5, books-review W1 and W12): 库存现金 never ends a day below zero — by page, API,
workbook or a void alike; ``transfers`` (提现存现) move money between cash, the bank and 其他货币资金 (109);
``paid_by`` says where a delivery, a sale or an expense is paid, a sale on ``credit`` stays owed (113 应收款, or the
member's 114).

The world's TA-COOP has 5,000.00 drawn into cash on 2025-07-31 and an advance of 600.00 paid from it on
2025-08-01: 4,400.00 in hand from then on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.importer import import_path
from cooperatives.models import Entity, Transfer
from ledger.errors import CashOverdrawn
from ledger.queries import account_balance

A = "TA-COOP"
D = Decimal


def _book(session):
    session.expire_all()
    return session.scalar(select(Entity).where(Entity.code == A)).book


def test_cash_is_paid_out_only_once_it_is_in_hand(client, world, session, token):
    headers = token("acc_a")
    assert account_balance(session, _book(session), "101") == D("4400.00")
    short = client.post(f"/api/v1/entities/{A}/advances", headers=headers,
                        json={"date": "2025-08-02", "member": "A-H003", "amount": "4400.01"})
    assert short.status_code == 422
    assert short.get_json()["errors"]["_schema"] == [
        "Cash on hand (101) of TA-COOP would be 0.01 short at the end of 2025-08-02: cash cannot be paid out before "
        "it is in hand. Record the withdrawal from the bank first (a transfer, 提现)."]
    # a day before the 提现 has no cash to pay with, however much comes in later
    early = client.post(f"/api/v1/entities/{A}/advances", headers=headers,
                        json={"date": "2025-07-30", "member": "A-H003", "amount": "1.00"})
    assert early.status_code == 422 and "2025-07-30" in early.get_json()["errors"]["_schema"][0]
    exact = client.post(f"/api/v1/entities/{A}/advances", headers=headers,
                        json={"date": "2025-08-02", "member": "A-H003", "amount": "4400.00"})
    assert exact.status_code == 201, exact.get_json()
    assert account_balance(session, _book(session), "101") == D("0.00")


def test_the_page_says_why_in_chinese(client, world, login, post_form, session):
    login(client, "acc_a")
    form = {**world.forms["advances"], "date": "2025-07-30"}
    refused = post_form(client, f"/e/{A}/records/advances", form)
    assert refused.status_code == 422
    assert "TA-COOP 的库存现金（101）在 2025-07-30 日终将短缺 600.00 元" in refused.get_data(as_text=True)


def test_a_withdrawal_whose_cash_was_spent_cannot_be_voided(client, world, session, token):
    headers = token("acc_a")
    transfer_id = session.scalar(select(Transfer.id))
    refused = client.post(f"/api/v1/transfers/{transfer_id}/void", json={"reason": "录错"}, headers=headers)
    assert refused.status_code == 422
    # (undone on 07-31 it leaves that day at nought; the advance of 08-01 is then paid with cash never drawn)
    assert "600.00 short at the end of 2025-08-01" in refused.get_json()["errors"]["_schema"][0]
    assert account_balance(session, _book(session), "101") == D("4400.00")


def test_a_workbook_that_overdraws_is_refused_whole_and_its_withdrawal_lets_it_in(session, world, tmp_path):
    """Chinese sheet and column names: 提现存现 with 转出/转入, 交售 with 付款方式."""
    before = account_balance(session, _book(session), "101"), account_balance(session, _book(session), "102")
    book = {"交售": [["日期", "成员", "产品", "数量", "单位", "单价", "付款方式"],
                   ["2025-09-01", "A-H001", "藤茶鲜叶", "1000", "斤", "5", "现金"],       # 5,000.00 in cash
                   ["2025-09-02", "A-H002", "藤茶鲜叶", "100", "斤", "5", "银行"]]}      # 500.00 through the bank
    path = tmp_path / "overdraw.xlsx"
    path.write_bytes(xlsx(book).getvalue())
    with pytest.raises(CashOverdrawn) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert (str(refused.value.on), refused.value.short) == ("2025-09-01", D("600.00"))      # 4,400 in hand
    session.rollback()
    assert (account_balance(session, _book(session), "101"), account_balance(session, _book(session), "102")) == before
    book["提现存现"] = [["日期", "转出", "转入", "金额", "备注"], ["2025-09-01", "银行", "现金", "1000", "提现"]]
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert account_balance(session, _book(session), "101") == before[0] + D("1000.00") - D("5000.00")
    assert account_balance(session, _book(session), "102") == before[1] - D("1000.00") - D("500.00")


def test_paid_by_decides_the_money_account_and_credit_stays_owed(client, world, session, token):
    headers = token("acc_a")
    post = lambda kind, body: client.post(f"/api/v1/entities/{A}/{kind}", headers=headers, json=body)  # noqa: E731
    book = _book(session)
    member_before = account_balance(session, book, "114", party="A-H003")
    assert post("deliveries", {"date": "2025-09-01", "member": "A-H001", "product": "藤茶鲜叶", "quantity": "10",
                               "unit": "kg", "unit_price": "6", "paid_by": "mobile"}).status_code == 201
    assert post("sales", {"date": "2025-09-02", "buyer": "A-H003 王", "product": "茶苗", "amount": "80",
                          "member": "A-H003", "paid_by": "credit"}).status_code == 201
    assert post("sales", {"date": "2025-09-03", "buyer": "茶商", "product": "干茶", "amount": "900",
                          "paid_by": "credit"}).status_code == 201
    assert post("sales", {"date": "2025-09-04", "buyer": "游客", "product": "干茶", "amount": "120",
                          "paid_by": "cash"}).status_code == 201
    assert post("expenses", {"date": "2025-09-05", "category": "operating", "amount": "20.5",
                             "paid_by": "cash"}).status_code == 201
    book = _book(session)
    assert account_balance(session, book, "109") == D("-60.00")           # paid out of 其他货币资金
    assert account_balance(session, book, "114", party="A-H003") - member_before == D("80.00")   # the member owes it
    assert account_balance(session, book, "113") == D("900.00")           # 应收款: the buyer owes it
    assert account_balance(session, book, "101") == D("4400.00") + D("120.00") - D("20.50")
    same = post("transfers", {"date": "2025-09-06", "from_account": "cash", "to_account": "cash", "amount": "1"})
    assert same.status_code == 422 and "to_account" in same.get_json()["errors"]
    deposit = post("transfers", {"date": "2025-09-06", "from_account": "cash", "to_account": "bank", "amount": "4499.5"})
    assert deposit.status_code == 201, deposit.get_json()
    assert account_balance(session, _book(session), "101") == D("0.00")

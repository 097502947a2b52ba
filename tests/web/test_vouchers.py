"""Vouchers typed as such (记账凭证, issue 13 §2): any balanced entry on the chart, by page, API and the workbook's
``journal`` (凭证) sheet, with who made it (制单), its attachments (附件张数) and memo; voided, never edited
(issue 13 §3), by page, API and command line. The world's TA-COOP: 5,000.00 drawn into cash on 2025-07-31, an
advance of 600.00 paid from it (4,400.00 in hand); no loans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.importer import import_path
from cooperatives.models import Entity, ManualVoucher
from cooperatives.workbook import WorkbookError
from ledger.models import JournalEntry
from ledger.queries import account_balance

A = "TA-COOP"
D = Decimal
LOAN = {"date": "2025-03-31", "memo": "向信用社借入短期借款", "attachments": 2, "lines": [
    {"account": "102", "debit": "20000"}, {"account": "短期借款", "credit": "20000"}]}


def _book(session):
    session.expire_all()
    return session.scalar(select(Entity).where(Entity.code == A)).book


def test_a_loan_and_its_interest_through_the_api(client, world, session, token):
    headers = token("acc_a")
    loan = client.post(f"/api/v1/entities/{A}/vouchers", headers=headers, json=LOAN)
    assert loan.status_code == 201, loan.get_json()
    body = loan.get_json()
    assert (body["memo"], body["attachments"], body["made_by"]) == ("向信用社借入短期借款", 2, "用户acc_a")
    assert body["lines"] == [
        {"account": "102", "name": "银行存款", "member": None, "debit": "20000.00", "credit": None},
        {"account": "201", "name": "短期借款", "member": None, "debit": None, "credit": "20000.00"}]
    entry = session.scalar(select(JournalEntry).where(JournalEntry.source == f"voucher:{body['id']}"))
    assert (entry.kind, entry.voucher) == ("manual", body["voucher"])
    interest = client.post(f"/api/v1/entities/{A}/vouchers", headers=headers, json={
        "date": "2025-06-30", "memo": "支付借款利息", "lines": [
            {"account": "524 财务费用", "debit": "275.5"}, {"account": "102", "credit": "275.50"}]})
    assert interest.status_code == 201, interest.get_json()
    book = _book(session)
    assert account_balance(session, book, "201") == D("-20000.00")
    assert account_balance(session, book, "524") == D("275.50")
    listed = client.get(f"/api/v1/entities/{A}/vouchers", headers=headers).get_json()
    assert listed["total"] == 2 and [v["memo"] for v in listed["vouchers"]] == ["支付借款利息", "向信用社借入短期借款"]


@pytest.mark.parametrize("change, key, reason", [
    ({"lines": [{"account": "102", "debit": "1"}, {"account": "201", "credit": "2"}]}, "_schema",
     "The voucher does not balance: debits 1.00, credits 2.00."),
    ({"lines": [{"account": "102", "debit": "1"}, {"account": "999", "credit": "1"}]}, "lines.2.account",
     "999 is not an account of this chart that takes postings."),
    ({"lines": [{"account": "114", "member": "B-H001", "debit": "1"}, {"account": "102", "credit": "1"}]},
     "lines.1.member", "B-H001 is not a member of TA-COOP."),
    ({"lines": [{"account": "102", "debit": "1", "credit": "1"}, {"account": "201", "credit": "1"}]},
     "lines.1.debit", "Give a debit or a credit balance (one, above zero)."),
    ({"date": "2024-12-31"}, "date", "2024-12-31 is before the books of TA-COOP start (2025-01-01)."),
    ({"lines": [{"account": "101", "credit": "4400.01"}, {"account": "529", "debit": "4400.01"}]}, "_schema",
     "Cash on hand (101) of TA-COOP would be 0.01 short at the end of 2025-03-31: cash cannot be paid out before "
     "it is in hand. Record the withdrawal from the bank first (a transfer, 提现)."),
])
def test_a_wrong_voucher_is_refused_with_its_line_and_writes_nothing(client, world, session, token, change, key,
                                                                       reason):
    if key == "_schema" and "Cash" in reason:
        change = {**change, "date": "2025-08-02"}
        reason = reason.replace("2025-03-31", "2025-08-02")
    entries = session.scalar(select(JournalEntry.id).order_by(JournalEntry.id.desc()).limit(1))
    refused = client.post(f"/api/v1/entities/{A}/vouchers", headers={**token("acc_a"), "Accept-Language": "en"},
                          json={**LOAN, **change})
    assert refused.status_code == 422
    assert refused.get_json()["errors"][key] == [reason]
    assert session.scalar(select(JournalEntry.id).order_by(JournalEntry.id.desc()).limit(1)) == entries
    assert session.scalar(select(ManualVoucher.id)) is None


def test_the_page_posts_a_voucher_and_voids_it(client, world, login, post_form, session):
    login(client, "acc_a")
    form = {"date": "2025-04-01", "memo": "以现金支付非成员临时用工", "attachments": "1",
            "lines-1-account": "529 其他支出", "lines-1-debit": "300", "lines-2-account": "库存现金", "lines-2-credit": "300"}
    bad = post_form(client, f"/e/{A}/vouchers", {**form, "lines-2-credit": "301"})
    assert bad.status_code == 422 and "凭证借贷不平：借方 300.00，贷方 301.00。" in bad.get_data(as_text=True)
    # cash is in hand only from 07-31: paid on 04-01 it would overdraw 库存现金
    early = post_form(client, f"/e/{A}/vouchers", form)
    assert early.status_code == 422 and "2025-04-01 日终将短缺 300.00 元" in early.get_data(as_text=True)
    posted = post_form(client, f"/e/{A}/vouchers", {**form, "date": "2025-08-03"})
    assert posted.status_code == 302
    page = client.get(f"/e/{A}/vouchers").get_data(as_text=True)
    assert "以现金支付非成员临时用工" in page and "529 其他支出" in page and "用户acc_a" in page
    voucher = session.scalar(select(ManualVoucher))
    assert account_balance(session, _book(session), "101") == D("4100.00")
    voided = post_form(client, f"/e/{A}/records/journal/{voucher.id}/void", {"reason": "记错科目"},
                       token_path=f"/e/{A}/vouchers")
    assert voided.status_code == 302
    assert account_balance(session, _book(session), "101") == D("4400.00")
    assert account_balance(session, _book(session), "529") == D("0.00")
    assert f'id="voided-{voucher.id}"' in client.get(f"/e/{A}/vouchers").get_data(as_text=True)


def test_the_api_voids_a_voucher_once(client, world, session, token):
    headers = token("acc_a")
    voucher_id = client.post(f"/api/v1/entities/{A}/vouchers", headers=headers, json=LOAN).get_json()["id"]
    voided = client.post(f"/api/v1/journal/{voucher_id}/void", headers=headers, json={"reason": "重复录入"})
    assert voided.status_code == 200, voided.get_json()
    assert (voided.get_json()["kind"], voided.get_json()["void_reason"]) == ("journal", "重复录入")
    assert account_balance(session, _book(session), "201") == D("0.00")
    again = client.post(f"/api/v1/journal/{voucher_id}/void", headers=headers, json={"reason": "重复录入"})
    assert again.status_code == 422
    assert client.post(f"/api/v1/journal/{voucher_id}/void", headers=token("acc_b"),
                       json={"reason": "x"}).status_code == 404          # another tenant's voucher is absent


def test_the_journal_sheet_posts_one_voucher_per_key_and_names_the_row_of_each_problem(session, world, tmp_path, cli):
    header = ["凭证号", "日期", "摘要", "科目", "成员", "借方", "贷方", "附件张数"]
    book = {"凭证": [header,
                   ["J1", "2025-03-31", "短期借款", "银行存款", "", "20000", "", "2"],
                   ["J1", "2025-03-31", "短期借款", "201", "", "", "20000", ""],
                   ["J2", "2025-12-31", "计提应交税费", "522", "", "120", "", ""],
                   ["J2", "2025-12-31", "计提应交税费", "214 应交税费", "", "", "120", ""]]}
    path = tmp_path / "journal.xlsx"
    bad = {"凭证": [header, *book["凭证"][1:3], ["J2", "2025-12-31", "计提", "522", "", "120", "", ""],
                  ["J2", "2025-12-30", "计提", "214", "", "", "100", ""]]}
    path.write_bytes(xlsx(bad).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert [str(p) for p in refused.value.problems] == [
        "凭证:5:日期: The lines of voucher J2 must have one date.",
        "凭证:4:: The voucher does not balance: debits 120.00, credits 100.00."]
    session.rollback()
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    session.commit()
    vouchers = session.scalars(select(ManualVoucher).order_by(ManualVoucher.id)).all()
    assert [(v.key, v.memo, v.attachments) for v in vouchers] == [("J1", "短期借款", 2), ("J2", "计提应交税费", 0)]
    assert account_balance(session, _book(session), "214") == D("-120.00")
    listed = cli("records", "journal", "--entity", A)
    assert listed.exit_code == 0 and str(vouchers[0].id) in listed.output
    voided = cli("void", "journal", str(vouchers[1].id), "--reason", "计提有误")
    assert voided.exit_code == 0, voided.output
    assert account_balance(session, _book(session), "214") == D("0.00")


def test_the_api_answers_with_the_voucher_it_posted_whatever_the_page(client, world, session, token, monkeypatch):
    """(The answer once looked for the new voucher in the newest page only: an older date fell off it.)"""
    monkeypatch.setattr("cooperatives.web.api.PAGE", 1)
    headers = token("acc_a")
    late = client.post(f"/api/v1/entities/{A}/vouchers", headers=headers, json={**LOAN, "date": "2025-12-01"})
    early = client.post(f"/api/v1/entities/{A}/vouchers", headers=headers, json={**LOAN, "date": "2025-02-01"})
    assert (late.status_code, early.status_code) == (201, 201)
    assert early.get_json()["date"] == "2025-02-01" and early.get_json()["id"] != late.get_json()["id"]
    assert client.get(f"/api/v1/entities/{A}/vouchers", headers=headers).get_json()["total"] == 2


def test_the_vouchers_page_makes_no_query_per_voucher(client, world, login, session, queries):
    from cooperatives.operations import post_vouchers

    login(client, "acc_a")
    entity = session.scalar(select(Entity).where(Entity.code == A))
    loan = {"date": dt.date(2025, 3, 31), "memo": "借款", "lines": [
        {"account": "102", "debit": D("10.00")}, {"account": "201", "credit": D("10.00")}]}
    post_vouchers(session, entity, [loan], actor=CONSOLE)
    session.commit()
    client.get(f"/e/{A}/vouchers")
    with queries() as few:
        assert client.get(f"/e/{A}/vouchers").status_code == 200
    entity = session.scalar(select(Entity).where(Entity.code == A))
    post_vouchers(session, entity, [loan] * 12, actor=CONSOLE)
    session.commit()
    with queries() as many:
        page = client.get(f"/e/{A}/vouchers")
    assert page.status_code == 200 and page.get_data(as_text=True).count('class="voucher"') == 13
    assert many[0] <= few[0]

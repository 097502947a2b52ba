"""Starting the books (issue 13 §1; MOF transition rules, reference/sources/fpc2021-transition-rules.txt): an
entity's books have a start (建账日期) before which nothing is dated, by any path; opening balances (期初余额)
by account and by member come in by workbook, page and API through one operation, only into books with no
entry, once, balanced; they are the first year's 年初 balances, and capital, reserve and fund shares by member
carry into the 成员账户 and the residual basis. Land base rent accrues from the start only. Figures by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.importer import import_path
from cooperatives.models import Entity, LandAccrual
from cooperatives.operations import (
    RecordError,
    create_entity,
    post_opening,
    record,
    register_household,
    register_member,
)
from cooperatives.queries import year_contributions
from cooperatives.workbook import WorkbookError
from ledger.errors import BeforeBooksStart
from ledger.models import JournalEntry
from ledger.queries import account_balance, retained_before, trial_balance
from payouts.reports.statutory import member_accounts

D = Decimal

#: an existing cooperative moving its books in on 2025-01-01 (a 2024 balance sheet that balances):
#: 102 银行存款 52,000 + 114 成员往来 (H2 owes) 800 = 301 股金 (H1 30,000, H2 20,000) + 322 盈余公积 (H1 1,200,
#: H2 800) + 311 专项基金 (H1 300, H2 300) + 33202 未分配盈余 200
OPENING = [
    {"account": "102", "debit": "52000.00"},
    {"account": "成员往来", "member": "H2", "debit": "800"},
    {"account": "301", "member": "H1", "credit": "30000"}, {"account": "301", "member": "H2", "credit": "20000"},
    {"account": "322", "member": "H1", "credit": "1200"}, {"account": "322", "member": "H2", "credit": "800"},
    {"account": "311", "member": "H1", "credit": "300"}, {"account": "311", "member": "H2", "credit": "300"},
    {"account": "332", "credit": "200"},
]


def _coop(session, code="OB-COOP", start=dt.date(2025, 1, 1), prefix="H") -> Entity:
    """A cooperative with two members, households ``<prefix>1`` and ``<prefix>2``."""
    entity = create_entity(session, code=code, name=f"期初合作社{code}", kind="farmer_coop", township="甲乡",
                           books_start=start, actor=CONSOLE)
    for n in (1, 2):
        register_household(session, entity, code=f"{prefix}{n}", head_name=f"户{n}", village="一村", actor=CONSOLE)
        register_member(session, entity, code=f"{prefix}{n}", member_no=n, joined_on=dt.date(2020, 1, 1),
                        actor=CONSOLE)
    return entity


def _lines(raw=OPENING, prefix="H"):
    out = []
    for line in raw:
        line = {k: v.replace("H", prefix, 1) if k == "member" else v for k, v in line.items()}
        values, problems = parse_form("opening", line)
        assert not problems, problems
        out.append(values)
    return out


def test_opening_balances_are_the_first_years_opening_and_carry_to_members(session):
    entity = _coop(session)
    entry = post_opening(session, entity, _lines(), actor=CONSOLE)
    assert (entry.kind, entry.date, entry.voucher) == ("opening", dt.date(2024, 12, 31), "2024-0001")
    rows = {r.code: r for r in trial_balance(session, entity.book, 2025)}
    assert (rows["102"].opening, rows["301"].opening, rows["33202"].opening) == (D("52000.00"), D("-50000.00"),
                                                                                 D("-200.00"))
    assert retained_before(session, entity.book, 2025, ("331", "33201", "33202")) == D("200.00")   # 年初未分配盈余
    found = {m["code"]: m for m in year_contributions(session, entity, 2025)["members"]}
    assert found["H1"]["capital"] == [("cash", D("30000.00"))] and found["H1"]["fund_share"] == D("300.00")
    accounts = {a.code: a for a in member_accounts(session, entity, 2025).members}
    start = accounts["H1"].lines[0]                                      # 年初余额
    assert (start.capital_other, start.reserve_share, start.fiscal_share) == (D("30000.00"), D("1200.00"),
                                                                              D("300.00"))
    assert account_balance(session, entity.book, "114", party="H2") == D("800.00")


@pytest.mark.parametrize(("change", "reason"), [
    ({0: {"account": "999", "debit": "52000"}}, "999 is not an account of this chart that takes postings."),
    ({0: {"account": "501", "debit": "52000"}}, "501 经营收入 is an income or cost account"),
    ({1: {"account": "114", "member": "H9", "debit": "800"}}, "H9 is not a member of OB-COOP."),
    ({1: {"account": "114", "member": "H2", "debit": "800", "credit": "1"}}, "Give a debit or a credit balance"),
    ({0: {"account": "102", "debit": "52000.01"}}, "The opening balances do not balance: debits 52800.01, credits"),
])
def test_opening_balances_are_refused_with_every_reason(session, change, reason):
    entity = _coop(session)
    raw = [change.get(i, line) for i, line in enumerate(OPENING)]
    with pytest.raises(RecordError) as refused:
        post_opening(session, entity, _lines(raw), actor=CONSOLE)
    assert any(reason in str(p.reason) for p in refused.value.problems), refused.value.problems
    assert session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.book_id == entity.book_id)) == 0


def test_opening_balances_only_into_empty_books_and_once(session):
    entity = _coop(session)
    post_opening(session, entity, _lines(), actor=CONSOLE)
    with pytest.raises(RecordError, match="already has entries"):
        post_opening(session, entity, _lines(), actor=CONSOLE)
    other = _coop(session, code="OB-TWO", prefix="T")
    values, _ = parse_form("capital", {"date": "2025-02-01", "member": "T1", "amount": "100"})
    record(session, other, "capital", values, actor=CONSOLE)
    with pytest.raises(RecordError, match="already has entries"):
        post_opening(session, other, _lines(prefix="T"), actor=CONSOLE)


def test_nothing_is_dated_before_the_books_start(session):
    """Once anything is posted (here the opening balances) the start is fixed: a record or an entry dated before
    it is refused. (An empty book's start follows its first records: see below.)"""
    entity = _coop(session)
    post_opening(session, entity, _lines(), actor=CONSOLE)
    values, _ = parse_form("deliveries", {"date": "2024-12-30", "member": "H1", "product": "茶", "quantity": "1",
                                          "unit": "kg", "unit_price": "2"})
    with pytest.raises(RecordError) as refused:
        record(session, entity, "deliveries", values, actor=CONSOLE)
    assert [p.code for p in refused.value.problems] == ["before_books_start"]
    from ledger.entries import EntryDraft, PostingDraft
    from ledger.operations import post_entry

    with pytest.raises(BeforeBooksStart):                        # the ledger's own rule, whatever the caller
        post_entry(session, entity.book, EntryDraft(dt.date(2024, 12, 30), (PostingDraft("101", D("1.00")),
                                                                           PostingDraft("501", D("-1.00")))))


def test_the_database_refuses_an_entry_before_the_books_start(session):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, IntegrityError

    entity = _coop(session)
    session.flush()
    account = {code: i for code, i in session.execute(text(
        "SELECT code, id FROM ledger_accounts WHERE book_id = :b"), {"b": entity.book_id})}
    with pytest.raises((DBAPIError, IntegrityError), match="before the books start"):
        with session.begin_nested():
            for code, fen in (("101", 500), ("501", -500)):
                session.execute(text("INSERT INTO ledger_postings (entry_id, book_id, year, account_id, amount) "
                                     "VALUES (900300, :b, 2024, :a, :amt)"),
                                {"b": entity.book_id, "a": account[code], "amt": fen})
            session.execute(text("INSERT INTO ledger_entries (id, book_id, year, voucher_no, date, memo, prev_hash, hash)"
                                 " VALUES (900300, :b, 2024, 7, :d, 'raw', '', '')"),
                            {"b": entity.book_id, "d": dt.date(2024, 6, 1)})


def test_a_workbook_starts_the_books_from_its_opening_sheet(session, tmp_path):
    """A new entity from a workbook: its books start on the entity sheet's 建账日期; the 期初余额 sheet posts
    first; a land contract signed in 2022 costs rent from the start on, never 2022–2024; a record dated
    before the start refuses the whole workbook, naming the row."""
    book = {
        "主体": [["编码", "名称", "类型", "乡镇", "建账日期"], ["WB-OPEN", "建账合作社", "farmer_coop", "甲乡", "2025-01-01"]],
        "农户": [["户号", "户主", "村"], ["W1", "甲", "一村"], ["W2", "乙", "一村"]],
        "成员": [["成员", "成员编号", "入社日期"], ["W1", "1", "2020-01-01"], ["W2", "2", "2020-01-01"]],
        "期初余额": [["科目", "成员", "借方", "贷方"], ["102", "", "1000", ""], ["301", "W1", "", "600"],
                   ["301", "W2", "", "400"]],
        "土地": [["成员", "合同号", "面积(亩)", "保底租金(元/亩)", "起始日期"], ["W1", "TD-2022", "2", "500", "2022-03-01"]],
        "股金": [["日期", "成员", "金额"], ["2025-03-01", "W2", "100"]],
    }
    path = tmp_path / "book.xlsx"
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), actor=CONSOLE)
    entity = session.scalar(select(Entity).where(Entity.code == "WB-OPEN"))
    assert entity.books_start == dt.date(2025, 1, 1)
    first = session.scalar(select(JournalEntry).where(JournalEntry.book_id == entity.book_id)
                           .order_by(JournalEntry.id))
    assert (first.kind, first.date) == ("opening", dt.date(2024, 12, 31))
    assert account_balance(session, entity.book, "301", party="W2") == D("-500.00")
    rents = dict(session.execute(select(LandAccrual.year, LandAccrual.amount)).tuples().all())
    assert min(rents) == 2025 and rents[2025] == D("1000.00")            # 2 亩 × 500, all of 2025 only

    late = dict(book, **{"主体": [book["主体"][0], ["WB-LATE", "建账合作社二", "farmer_coop", "甲乡", "2026-01-01"]]})
    path.write_bytes(xlsx(late).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), actor=CONSOLE)
    assert [str(p) for p in refused.value.problems] == [
        "股金:2:日期: 2025-03-01 is before the books of WB-LATE start (2026-01-01)."]
    mid_year = dict(book, **{"主体": [book["主体"][0], ["WB-MID", "建账合作社三", "farmer_coop", "甲乡", "2025-06-01"]]})
    path.write_bytes(xlsx(mid_year).getvalue())
    with pytest.raises(WorkbookError) as refused:           # each year's 年初 must hold the opening balances
        import_path(session, str(path), actor=CONSOLE)
    assert "主体:2:建账日期: The books start on 1 January of a year, not 2025-06-01." in [
        str(p) for p in refused.value.problems]


def test_opening_balances_through_the_api_and_the_page(client, world, session, token, login, csrf):
    """The same operation behind both doors: the API refuses line by line (``lines.<n>.<column>``) and posts
    once; the page shows the form until then, and the posted voucher after."""
    _coop(session, code="OB-WEB")
    session.commit()                                # (requests close the session: the flush must be kept)
    admin = {"Authorization": token("admin")["Authorization"], "Accept-Language": "en"}
    url = "/api/v1/entities/OB-WEB/opening"
    assert client.get(url, headers=admin).get_json()["lines"] == []
    bad = client.post(url, json={"lines": [{"account": "102", "debit": "abc"}, {"account": "301", "credit": "5",
                                                                                   "colour": "red"}]}, headers=admin)
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"lines.1.debit", "lines.2.colour"}
    unbalanced = client.post(url, json={"lines": [{"account": "102", "debit": 5}, {"account": "301", "credit": 4}]},
                             headers=admin)
    assert unbalanced.status_code == 422 and "do not balance" in unbalanced.get_json()["errors"]["_schema"][0]
    posted = client.post(url, json={"lines": OPENING}, headers=admin)
    assert posted.status_code == 201, posted.get_json()
    body = posted.get_json()
    assert (body["voucher"], body["books_start"], len(body["lines"])) == ("2024-0001", "2025-01-01", 9)
    assert {"account": "301", "name": "股金", "member": "H1", "debit": None, "credit": "30000.00"} in body["lines"]
    again = client.post(url, json={"lines": OPENING}, headers=admin)
    assert again.status_code == 422 and "already has entries" in again.get_json()["errors"]["_schema"][0]

    login(client, "admin")
    page = client.get("/e/OB-WEB/opening").get_data(as_text=True)
    assert "2024-0001" in page and "30,000.00" in page and 'name="lines-1-account"' not in page
    other = _coop(session, code="OB-PAGE", prefix="P")
    session.commit()
    path = "/e/OB-PAGE/opening"
    form = {"csrf_token": csrf(client, path), "lines-1-account": "102", "lines-1-debit": "100",
            "lines-2-account": "301", "lines-2-member": "P1", "lines-2-credit": "90"}
    refused = client.post(path, data=form)
    assert refused.status_code == 422 and "不平衡" in refused.get_data(as_text=True)
    assert 'value="90"' in refused.get_data(as_text=True)              # what was typed is shown back
    form["lines-2-credit"] = "100"
    assert client.post(path, data=form).status_code == 302
    assert account_balance(session, other.book, "301", party="P1") == D("-100.00")


def test_an_empty_books_start_follows_its_first_records(session):
    """An entity registered this year (books start 1 January) catching up on last year's records: while its
    books are empty, the start moves back to 1 January of the earliest record; then it is fixed."""
    entity = _coop(session, start=dt.date(2026, 1, 1))
    values, _ = parse_form("capital", {"date": "2025-03-01", "member": "H1", "amount": "100"})
    record(session, entity, "capital", values, actor=CONSOLE)
    assert entity.books_start == dt.date(2025, 1, 1)
    values, _ = parse_form("capital", {"date": "2024-03-01", "member": "H1", "amount": "100"})
    with pytest.raises(RecordError):
        record(session, entity, "capital", values, actor=CONSOLE)
    assert entity.books_start == dt.date(2025, 1, 1)

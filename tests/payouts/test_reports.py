"""The statutory statements (会农社01/02/03表, 成员账户; a collective's 资产负债表 and 收益及收益分配表) on the
worked example of reference/domain.md §1.3, imported, distributed, approved and posted through the
command line; then their pages, JSON and Excel downloads, and who may see them."""

from __future__ import annotations

import html
import io
import json
import re
from decimal import Decimal

import openpyxl
import pytest
from samples import POLICY_70_30
from sqlalchemy import event, select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity
from cooperatives.users import create_user
from ledger.queries import account_balance, year_profit
from payouts.models import PayoutRun
from payouts.reports.statutory import balance_sheet, equity_changes, member_accounts, surplus_statement, to_dict

D = Decimal
PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*\bvalue="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
AMOUNT_RE = re.compile(r"^-?\d+\.\d{2}$")



def collective_workbook(books_start="2025-01-01"):
    """A village collective: S = 150,000 − 50,000 = 100,000; 公积公益金 30 % → 70,000 by shares 4:3:3. Its books
    start in 2025, so it keeps the 2023 system; ``books_start`` before 2024 keeps the 2004 one."""
    return {
        "entity": [["code", "name", "kind", "township", "village", "books_start"],
                   ["CV", "五星村股份经济合作社", "collective", "青铜峡镇", "五星村", books_start]],
        "households": [["code", "head_name", "village"]] + [[f"C{i}", f"户{i}", "五星村"] for i in (1, 2, 3)],
        "members": [["member", "member_no", "joined_on"]] + [[f"C{i}", i, "2018-01-01"] for i in (1, 2, 3)],
        "capital": [["date", "member", "amount"], ["2025-01-01", "C1", "4000"], ["2025-01-01", "C2", "3000"],
                    ["2025-01-01", "C3", "3000"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-07-01", "承包方", "土地发包", "150000"]],
        "expenses": [["date", "category", "amount"], ["2025-08-01", "management", "50000"]],
    }


COLLECTIVE_POLICY = 'reserve_pct = "30"\nreserve_quantify = "none"\n[[pools]]\nname = "shares"\npct = "100"\nbasis = "capital"\n'


def entity(session, code) -> Entity:
    return session.scalar(select(Entity).where(Entity.code == code))


def distribute_and_post(cli, code, policy, members=3) -> int:
    result = cli("distribute", "--entity", code, "--year", "2025", "--policy", policy, "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)["run"]
    assert cli("run", "approve", str(run), "--meeting-date", "2026-03-15", "--attended", str(members),
               "--votes-for", str(members)).exit_code == 0
    posted = cli("run", "post", str(run))
    assert posted.exit_code == 0, posted.output
    return run


@pytest.fixture
def imported(session, cli, xlsx, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    return entity(session, "WX")


@pytest.fixture
def posted(session, cli, imported, policy_file):
    distribute_and_post(cli, "WX", policy_file(POLICY_70_30))
    return entity(session, "WX")


@pytest.fixture
def collective(session, cli, xlsx, policy_file):
    assert cli("import", xlsx(collective_workbook())).exit_code == 0
    distribute_and_post(cli, "CV", policy_file(COLLECTIVE_POLICY))
    return entity(session, "CV")


@pytest.fixture
def collective2004(session, cli, xlsx, policy_file):
    assert cli("import", xlsx(collective_workbook("2023-01-01"))).exit_code == 0
    distribute_and_post(cli, "CV", policy_file(COLLECTIVE_POLICY))
    return entity(session, "CV")


def figures(statement, *numbers, column=0) -> list[Decimal]:
    return [statement.line(n).values[column] for n in numbers]


# ------------------------------------------------------------------------------------ 01 资产负债表


def test_balance_sheet_balances_in_both_columns_after_the_run(session, posted):
    sheet = balance_sheet(session, posted, 2025)
    assert (sheet.form, sheet.title, sheet.columns) == ("会农社01表", "资产负债表", ("期末余额", "年初余额"))
    assert [ln.no for ln in sheet.lines if ln.no] == list(range(1, 43))
    for column in (0, 1):
        assert sheet.line(22).values[column] == sheet.line(42).values[column]
        assert sheet.line(42).values[column] == sheet.line(35).values[column] + sheet.line(41).values[column]
    # cash: capital 100,000 + subsidy 90,000 + sales 700,000 − 2024 expense 20,000, less deliveries paid in cash,
    # less the 90,000 the subsidy built (在建工程, line 13: books-review W2)
    assert figures(sheet, 1, 2, 13, 22) == [D("580000.00"), D("0.00"), D("90000.00"), D("670000.00")]
    assert figures(sheet, 29, 30, 35) == [D("302400.00"), D("129600.00"), D("432000.00")]
    assert figures(sheet, 36, 37, 39, 40, 41) == [D("100000.00"), D("90000.00"), D("48000.00"), D("0.00"),
                                                   D("238000.00")]
    # at the start of 2025 only the unclosed 2024 loss: cash −20,000 against 未分配盈余 −20,000
    assert figures(sheet, 1, 22, 40, 42, column=1) == [D("-20000.00")] * 4
    assert sheet.notes == ()


def test_balance_sheet_balances_before_the_year_is_closed(session, imported):
    """Nothing closed yet: the year's result sits in the income and expense accounts and is shown in
    未分配盈余 with 331/332, so the sheet still balances."""
    sheet = balance_sheet(session, imported, 2025)
    assert figures(sheet, 22, 42) == [D("870000.00") - D("200000.00")] * 2
    assert sheet.line(40).values[0] == D("480000.00")          # 500,000 this year − 20,000 brought in


def test_members_owing_and_owed_split_into_receivables_and_payables(session, cli, imported, xlsx):
    """成员往来 per member: a debit balance is 应收款项, a credit balance 应付款项 (never netted)."""
    more = {"inputs": [["date", "member", "item", "amount"], ["2025-03-01", "H001", "化肥", "800"]],
            "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid"],
                           ["2025-06-01", "H002", "藤茶鲜叶", "100", "kg", "6", "no"]]}
    assert cli("import", xlsx(more), "--entity", "WX").exit_code == 0
    sheet = balance_sheet(session, imported, 2025)
    assert figures(sheet, 2, 24) == [D("800.00"), D("600.00")]
    assert sheet.line(22).values[0] == sheet.line(42).values[0]


# ------------------------------------------------------------------------- 02 盈余及盈余分配表


def test_surplus_statement_lines_of_the_worked_example(session, posted):
    statement = surplus_statement(session, posted, 2025)
    assert (statement.form, statement.columns) == ("会农社02表", ("本年金额", "上年金额"))
    assert [ln.no for ln in statement.lines] == list(range(1, 21))
    assert figures(statement, 1, 3, 7, 10, 12) == [D("700000.00"), D("200000.00")] + [D("500000.00")] * 3
    assert figures(statement, 13, 14, 15, 16) == [D("-20000.00"), D("0.00"), D("48000.00"), D("432000.00")]
    assert figures(statement, 17, 18, 19, 20) == [D("302400.00"), D("129600.00"), D("0.00"), D("0.00")]
    # last year: the 20,000 management cost was a loss, carried into this year's line 13
    assert figures(statement, 5, 12, 20, column=1) == [D("20000.00"), D("-20000.00"), D("-20000.00")]
    assert statement.line(20).values[1] == statement.line(13).values[0]
    assert statement.line(20).values[0] == balance_sheet(session, posted, 2025).line(40).values[0]


def test_a_reversed_run_leaves_nothing_distributed(session, cli, posted):
    run_id = session.scalar(select(PayoutRun.id).where(PayoutRun.entity_id == posted.id))
    assert cli("run", "reverse", str(run_id)).exit_code == 0
    statement = surplus_statement(session, posted, 2025)
    assert figures(statement, 15, 16, 17, 18, 20) == [D("0.00"), D("480000.00"), D("0.00"), D("0.00"),
                                                      D("480000.00")]
    sheet = balance_sheet(session, posted, 2025)
    assert sheet.line(40).values[0] == D("480000.00") and sheet.line(22).values[0] == sheet.line(42).values[0]
    _assert_equity_reconciles(session, posted)


# ---------------------------------------------------------------------------- 03 成员权益变动表


def _assert_equity_reconciles(session, entity):
    changes = equity_changes(session, entity, 2025)
    sheet = balance_sheet(session, entity, 2025)
    opening, inc, dec, closing = (changes.row(label).values for label in
                                  ("一、年初余额", "二、本年增加数", "三、本年减少数", "四、年末余额"))
    for col in range(6):
        assert opening[col] + inc[col] - dec[col] == closing[col], changes.columns[col]
    assert list(closing[:5]) == [sheet.line(n).values[0] for n in range(36, 41)]
    assert list(opening[:5]) == [sheet.line(n).values[1] for n in range(36, 41)]
    return changes


def test_equity_changes_reconcile_with_the_balance_sheet(session, posted):
    changes = _assert_equity_reconciles(session, posted)
    assert changes.columns == ("股金", "专项基金", "资本公积", "盈余公积", "未分配盈余", "合计")
    assert changes.row("二、本年增加数").values == (D("100000.00"), D("90000.00"), D("0.00"), D("48000.00"),
                                                D("500000.00"), D("738000.00"))
    assert changes.row("成员增加出资").values[0] == D("100000.00")
    assert changes.row("接受国家财政直接补助形成").values[1] == D("90000.00")
    assert changes.row("接受他人捐赠形成").values[1] == D("0.00")
    assert changes.row("从盈余中提取").values[3] == D("48000.00")
    assert changes.row("三、本年减少数").values[4] == D("480000.00")
    assert changes.row("盈余返还").values[4] == D("302400.00")
    assert changes.row("转为成员出资").values[:2] == (None, None)       # not a 股金 / 专项基金 item
    assert changes.row("四、年末余额").values[5] == D("238000.00")


# ------------------------------------------------------------------------------------- 成员账户


def test_member_account_of_the_first_household(session, posted):
    accounts = member_accounts(session, posted, 2025)
    assert accounts.products == ("藤茶鲜叶",) and accounts.run_id is not None
    h001 = accounts.member("H001")
    assert (h001.name, h001.address) == ("甲", "一村")
    opening, closing = h001.lines[0], h001.closing
    assert (opening.summary, closing.summary) == ("年初余额", "年末余额/总额")
    assert (opening.capital_other, opening.reserve_share, opening.fiscal_share) == (D("0.00"),) * 3
    assert (closing.capital_poverty, closing.capital_other) == (D("0.00"), D("50000.00"))
    assert (closing.reserve_share, closing.fiscal_share, closing.donation_share) == (
        D("28800.00"), D("30000.00"), D("0.00"))
    assert (closing.quantities, closing.amounts) == ((D("20000.000"),), (D("120000.00"),))
    assert accounts.quantity_columns == (("藤茶鲜叶", "公斤"),)
    assert (closing.patronage, closing.residual) == (D("181440.00"), D("59245.72"))
    # one numbered line per transaction in date order (the 编号 is the line's, not the member's), then the
    # year-end movements, between 年初余额 and 年末余额/总额
    assert [(ln.no, ln.date.isoformat(), ln.summary, ln.kind) for ln in h001.lines] == [
        (None, "2025-01-01", "年初余额", "opening"), (1, "2025-01-02", "入股 现金", "capital"),
        (2, "2025-05-01", "交售 藤茶鲜叶", "delivery"), (3, "2025-12-31", "公积金份额量化", "reserve"),
        (4, "2025-12-31", "财政补助、捐赠形成财产份额量化", "funds"), (5, "2025-12-31", "盈余返还", "patronage"),
        (6, "2025-12-31", "剩余盈余分配", "residual"), (None, "2025-12-31", "年末余额/总额", "closing")]
    joined, delivered = h001.lines[1], h001.lines[2]
    assert (joined.capital_poverty, joined.capital_other, joined.amounts) == (None, D("50000.00"), (None,))
    assert (delivered.quantity, delivered.unit, delivered.quantities, delivered.amounts) == (
        D("20000.000"), "公斤", (D("20000.000"),), (D("120000.00"),))
    assert (h001.lines[5].patronage, h001.lines[6].residual) == (closing.patronage, closing.residual)
    assert [m.closing.residual for m in accounts.members] == [D("59245.72"), D("40513.61"), D("29840.67")]
    assert sum(m.closing.patronage for m in accounts.members) == D("302400.00")


def test_trade_counts_deliveries_and_purchases_by_members_per_product(session, cli, imported, xlsx):
    """交易量 in the unit traded (斤 is not added to 公斤: a column per product and unit) and 交易额 per product,
    from deliveries, sales to members and inputs (农资); a sale to a non-member is not member trade."""
    more = {"deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                           ["2025-07-01", "H001", "藤茶鲜叶", "500", "jin", "3", "bank"]],
            "sales": [["date", "buyer", "product", "quantity", "unit", "amount", "member", "paid_by"],
                      ["2025-10-01", "甲", "茶苗", "30", "kg", "450", "H001", "credit"],
                      ["2025-10-02", "外村", "茶苗", "99", "kg", "999", "", "bank"]],
            "inputs": [["date", "member", "item", "amount", "on_credit"], ["2025-03-01", "H001", "化肥", "800", "yes"]]}
    assert cli("import", xlsx(more), "--entity", "WX").exit_code == 0
    accounts = member_accounts(session, imported, 2025)
    assert accounts.products == ("化肥", "茶苗", "藤茶鲜叶") and accounts.run_id is None
    assert accounts.quantity_columns == (("茶苗", "公斤"), ("藤茶鲜叶", "公斤"), ("藤茶鲜叶", "斤"))
    h001 = accounts.member("H001")
    closing = h001.closing
    assert closing.quantities == (D("30.000"), D("20000.000"), D("500.000"))
    assert closing.amounts == (D("800.00"), D("450.00"), D("121500.00"))
    assert (closing.patronage, closing.residual) == (D("0.00"), D("0.00"))
    assert accounts.member("H002").closing.amounts == (None, None, D("60000.00"))
    trade = [(ln.no, ln.date.isoformat(), ln.summary, ln.quantity, ln.unit) for ln in h001.lines
             if ln.kind in ("delivery", "sale", "input")]
    assert trade == [(2, "2025-03-01", "购买 化肥（赊销）", None, None),
                     (3, "2025-05-01", "交售 藤茶鲜叶", D("20000.000"), "公斤"),
                     (4, "2025-07-01", "交售 藤茶鲜叶", D("500.000"), "斤"),
                     (5, "2025-10-01", "购买 茶苗（赊销）", D("30.000"), "公斤")]
    assert h001.quantity_columns() == (0, 1, 2) and accounts.member("H002").quantity_columns() == (1,)


def test_member_accounts_take_a_fixed_number_of_queries(session, cli, imported, xlsx):
    engine = session.get_bind().engine
    seen = [0]

    def count(*_args):
        seen[0] += 1

    def queries() -> int:
        seen[0] = 0
        event.listen(engine, "before_cursor_execute", count)
        try:
            member_accounts(session, imported, 2025)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return seen[0]

    assert imported.chart == "fpc2021"          # (its book loaded: the count is of the report's own queries)
    three = queries()
    more = {"households": [["code", "head_name", "village"]] + [[f"N{i:03d}", f"新{i}", "一村"] for i in range(20)],
            "members": [["member", "member_no", "joined_on"]] + [[f"N{i:03d}", 10 + i, "2025-06-01"] for i in range(20)],
            "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid", "paid_by"]]
            + [["2025-12-01", f"N{i:03d}", "干茶", "10", "jin", "30", "yes", "bank"] for i in range(20)]}
    assert cli("import", xlsx(more), "--entity", "WX").exit_code == 0
    assert len(member_accounts(session, imported, 2025).members) == 23
    assert queries() == three <= 14           # one query per kind of record (deliveries, sales, inputs, capital …)


# ------------------------------------------------------------------------------------ collectives


def test_a_collective_on_the_2004_system_gets_its_two_statements(session, collective2004):
    collective = collective2004
    assert collective.chart == "collective2004"
    sheet = balance_sheet(session, collective, 2025)
    assert (sheet.title, sheet.columns) == ("资产负债表", ("年初数", "年末数"))
    assert sheet.line(32).values == sheet.line(56).values == (D("0.00"), D("110000.00"))
    assert sheet.line(36).values[1] == D("70000.00")                   # 内部往来 owed to households
    assert [sheet.line(n).values[1] for n in (50, 51, 52)] == [D("10000.00"), D("30000.00"), D("0.00")]
    income = surplus_statement(session, collective, 2025)
    assert income.title == "收益及收益分配表"
    assert figures(income, 1, 7, 10, 20, 22, 26) == [D("150000.00"), D("50000.00"), D("100000.00"),
                                                     D("100000.00"), D("0.00"), D("100000.00")]
    assert figures(income, 27, 30, 35) == [D("30000.00"), D("70000.00"), D("0.00")]
    assert equity_changes(session, collective, 2025) is None
    assert member_accounts(session, collective, 2025) is None


@pytest.fixture
def collective2023(session, cli, xlsx, policy_file):
    """CV on the 2023 system with a public expense, interest, a donation and project money (below)."""
    book = collective_workbook()
    book["expenses"] += [["2025-08-02", "public", "8000"], ["2025-08-03", "finance", "2000"]]
    book["subsidies"] = [["date", "source", "kind", "amount", "project"],
                         ["2025-03-01", "爱心企业", "donation", "20000", ""],
                         ["2025-04-01", "衔接资金", "fiscal", "100000", "村道硬化"]]
    assert cli("import", xlsx(book)).exit_code == 0
    distribute_and_post(cli, "CV", policy_file(COLLECTIVE_POLICY))
    return entity(session, "CV")


def test_a_collective_on_the_2023_system_posts_to_its_codes_and_its_statements_tie(session, collective2023):
    """Books from 2025 keep 财会〔2023〕14号 (INTERFACES §3.1). Hand figures: 发包 150,000 is 经营收入 (501);
    management 50,000 (513), 公益 8,000 (514), interest 2,000 (其他支出 515: the 2023 chart has no 财务费用);
    a donation 20,000 is 公积公益金 (311), not income; 100,000 of project money waits in 专项应付款 (241).
    本年收益 = 150,000 − 50,000 − 8,000 − 2,000 = 90,000; 公积公益金 30 % = 27,000; households 63,000 by capital
    4:3:3 (25,200 / 18,900 / 18,900). Bank = 10,000 + 150,000 − 60,000 + 20,000 + 100,000 = 220,000."""
    cv = collective2023
    assert cv.chart == "collective2023"
    balances = {code: -account_balance(session, cv.book, code) for code in ("501", "513", "514", "515", "311", "241")}
    assert balances == {"501": D("0.00"), "513": D("0.00"), "514": D("0.00"), "515": D("0.00"),   # closed into 321
                        "311": D("47000.00"), "241": D("100000.00")}
    moved = year_profit(session, cv.book, 2025)
    assert {c: moved.get(c) for c in ("501", "513", "514", "515")} == {
        "501": D("-150000.00"), "513": D("50000.00"), "514": D("8000.00"), "515": D("2000.00")}
    assert not {"522", "541", "551", "531"} & set(moved)              # no 2004 code in these books

    sheet = balance_sheet(session, cv, 2025)
    assert (sheet.title, sheet.columns, sheet.form) == ("资产负债表", ("期末余额", "年初余额"), "")
    assert "财会〔2023〕14号" in sheet.notes[0] and len(sheet.notes) == 1       # says the layout is our reading
    closing = {key: sheet.line(key).values[0] for key in ("A1", "A3", "A24", "L2", "L10", "L12", "E1", "E2", "E3",
                                                          "E4", "E5")}
    assert closing == {"A1": D("220000.00"), "A3": D("0.00"), "A24": D("220000.00"), "L2": D("63000.00"),
                       "L10": D("100000.00"), "L12": D("163000.00"), "E1": D("10000.00"), "E2": D("47000.00"),
                       "E3": D("0.00"), "E4": D("57000.00"), "E5": D("220000.00")}
    assert sheet.line("A24").values[1] == sheet.line("E5").values[1] == D("0.00")

    income = surplus_statement(session, cv, 2025)
    assert (income.title, income.columns) == ("收益及收益分配表", ("本年金额", "上年金额"))
    this = {key: income.line(key).values[0] for key in ("I1", "I5", "I6", "I9", "I10", "I11", "I13", "I16", "I17",
                                                         "I18", "I19")}
    assert this == {"I1": D("150000.00"), "I5": D("50000.00"), "I6": D("100000.00"), "I9": D("8000.00"),
                    "I10": D("2000.00"), "I11": D("90000.00"), "I13": D("90000.00"), "I16": D("90000.00"),
                    "I17": D("27000.00"), "I18": D("63000.00"), "I19": D("0.00")}
    # it ties to the balance sheet: 本年收益 less what was distributed is the change in 未分配收益
    assert this["I19"] == sheet.line("E3").values[0] - sheet.line("E3").values[1]
    assert this["I17"] == sheet.line("E2").values[0] - sheet.line("E2").values[1] - D("20000.00")  # + the donation


def test_the_2023_collective_notes_explain_what_the_forms_do_not_show(app, session, collective2023):
    """会计报表附注 (财会〔2023〕14号 第七章), our reading of its items: figures from the same books as the forms."""
    from payouts.reports.statutory import build

    notes = build(session, collective2023, 2025, "notes")
    sections = {s.title: s for s in notes.sections}
    assert notes.title == "会计报表附注" and "财会〔2023〕14号" in notes.notes[0]
    assert [t[:2] for t in sections] == ["一、", "二、", "三、", "（二", "（三", "四、", "五、", "六、", "七、", "八、", "九、"]
    items = {row[0]: row[1:] for row in sections["三、会计报表重要项目的进一步说明"].rows}
    assert items["货币资金"] == (D("220000.00"), D("0.00")) and items["专项应付款"] == (D("100000.00"), D("0.00"))
    assert items["公积公益金"] == (D("47000.00"), D("0.00"))
    assert sections["（二）专项应付款（尚未使用的财政项目资金）"].rows == (("村道硬化", D("100000.00")),)
    other = " ".join(sections["六、其他重要事项"].paragraphs)
    assert "接受捐赠：2025-03-01 爱心企业 20000.00 元" in other and "国家财政支持：2025-04-01 衔接资金 100000.00 元" in other
    assert "提取公积公益金 27000.00 元，向成员分配 63000.00 元" in other
    assert dict(sections["二、基本情况"].rows)["主要经营项目"] == "土地发包"
    assert build(session, entity(session, "CV"), 2025, "equity-changes") is None
    client = app.test_client()
    _login(client, session, "kuaiji-cv", collective2023.id)
    page = client.get("/e/CV/reports/2025/notes").get_data(as_text=True)
    assert "会计报表附注" in page and "村道硬化" in page and "100,000.00" in page
    data = client.get("/e/CV/reports/2025/notes.json").get_json()
    assert data["sections"][2]["rows"][0] == ["货币资金", "220000.00", "0.00"]
    ws = _workbook(client.get("/e/CV/reports/2025/notes.xlsx"))
    assert ws["A1"].value == "会计报表附注"


def test_public_expenses_are_a_collectives_own(cli, xlsx, worked_example):
    book = worked_example()
    book["expenses"] = [["date", "category", "amount"], ["2025-08-02", "public", "8000"]]
    result = cli("import", xlsx(book))
    assert result.exit_code == 1 and "expenses:2:category" in result.output and "公益支出" in result.output


# ------------------------------------------------------------------------------- JSON and pages


def test_json_amounts_are_two_decimal_strings(session, posted):
    data = to_dict(surplus_statement(session, posted, 2025))
    values = [v for line in data["lines"] for v in line["values"]]
    assert values and all(AMOUNT_RE.match(v) for v in values)
    assert {ln["no"]: ln["values"][0] for ln in data["lines"]}[16] == "432000.00"


def _login(client, session, username, entity_id):
    create_user(session, username=username, password=PASSWORD, role="accountant", entity_id=entity_id, actor=CONSOLE)
    session.commit()
    page = client.get("/login").get_data(as_text=True)
    found = CSRF_RE.search(page)
    token = html.unescape(found.group(1) or found.group(2))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


@pytest.fixture
def accountant(app, session, posted):
    client = app.test_client()
    _login(client, session, "kuaiji-wx", posted.id)
    return client


PAGES = [("balance-sheet", "负债和所有者权益总计", "670,000.00"), ("surplus", "可分配盈余", "432,000.00"),
         ("equity-changes", "从盈余中提取", "48,000.00"), ("member-accounts", "剩余盈余分配金额", "59,245.72")]


@pytest.mark.parametrize("name, label, amount", PAGES)
def test_pages_render_for_the_accountant(accountant, name, label, amount):
    page = accountant.get(f"/e/WX/reports/2025/{name}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert label in text and amount in text and "例题合作社" in text
    assert '<div class="scroll">' in text and 'class="num"' in text
    assert "<script" not in text and "style=" not in text


def test_the_index_links_every_statement(accountant):
    page = accountant.get("/e/WX/reports/2025")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for name in ("balance-sheet", "surplus", "equity-changes", "member-accounts"):
        assert f"/e/WX/reports/2025/{name}.xlsx" in text


def test_json_downloads(accountant):
    data = accountant.get("/e/WX/reports/2025/member-accounts.json").get_json()
    h001 = next(m for m in data["members"] if m["member"] == "H001")
    closing = h001["lines"][-1]
    assert (closing["amounts"], closing["reserve_share"], closing["patronage"], closing["residual"],
            closing["fiscal_share"]) == ({"藤茶鲜叶": "120000.00"}, "28800.00", "181440.00", "59245.72", "30000.00")
    assert (closing["no"], closing["kind"], closing["quantities"]) == (None, "closing", {"藤茶鲜叶（公斤）": "20000.000"})
    assert data["quantity_columns"] == [{"key": "藤茶鲜叶（公斤）", "product": "藤茶鲜叶", "unit": "公斤"}]
    delivered = next(ln for ln in h001["lines"] if ln["kind"] == "delivery")
    assert (delivered["no"], delivered["date"], delivered["summary"], delivered["quantity"], delivered["unit"],
            delivered["amounts"]) == (2, "2025-05-01", "交售 藤茶鲜叶", "20000.000", "公斤", {"藤茶鲜叶": "120000.00"})
    assert [ln["no"] for ln in h001["lines"]] == [None, 1, 2, 3, 4, 5, 6, None]
    sheet = accountant.get("/e/WX/reports/2025/balance-sheet.json").get_json()
    assert all(AMOUNT_RE.match(v) for ln in sheet["lines"] for v in ln["values"] if v is not None)
    assert (sheet["form"], sheet["unit"]) == ("会农社01表", "元")


def _workbook(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data)).active


def _amount(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_xlsx_downloads_hold_the_figures(accountant):
    ws = _workbook(accountant.get("/e/WX/reports/2025/surplus.xlsx"))
    assert ws["A1"].value == "盈余及盈余分配表" and "例题合作社" in ws["A3"].value
    by_line = {row[1]: row[2:] for row in ws.iter_rows(min_row=5, values_only=True) if isinstance(row[1], int)}
    assert [_amount(by_line[n][0]) for n in (12, 13, 15, 16, 17, 18, 20)] == [
        D("500000.00"), D("-20000.00"), D("48000.00"), D("432000.00"), D("302400.00"), D("129600.00"), D("0.00")]
    assert ws.cell(5 + 11, 3).number_format == "#,##0.00"
    sheet = _workbook(accountant.get("/e/WX/reports/2025/balance-sheet.xlsx"))
    totals = {row[1]: row[2:] for row in sheet.iter_rows(min_row=5, values_only=True) if isinstance(row[1], int)}
    assert totals[22] == totals[42] and _amount(totals[42][0]) == D("670000.00")
    accounts = _workbook(accountant.get("/e/WX/reports/2025/member-accounts.xlsx"))    # a sheet per member: 甲's
    assert (accounts.title, accounts["A1"].value, accounts["A2"].value) == ("1 甲", "成员账户", "2025年度")
    assert (accounts["A3"].value, accounts["C3"].value, accounts["D3"].value, accounts["F3"].value) == (
        "成员姓名（名称）：", "甲", "联系地址：", "一村")
    rows = [row for row in accounts.iter_rows(min_row=7, values_only=True) if row[0] == "年末余额/总额"]
    assert len(rows) == 1
    row = rows[0]
    # 编号 日期 摘要 | 出资×2 公积金 财政 捐赠 | 交易量 交易额 | 盈余返还 剩余盈余分配
    assert [_amount(row[i]) for i in (4, 5, 6, 9, 10, 11)] == [
        D("50000.00"), D("28800.00"), D("30000.00"), D("120000.00"), D("181440.00"), D("59245.72")]
    assert (row[3], row[8]) == (0, 20000)
    delivery = next(row for row in accounts.iter_rows(min_row=7) if row[2].value == "交售 藤茶鲜叶")
    assert (delivery[0].value, delivery[8].value, delivery[8].number_format) == (2, 20000, '#,##0" 公斤"')
    assert accounts.column_dimensions["C"].width > 10


@pytest.mark.parametrize("suffix", ["", "/balance-sheet", "/surplus.json", "/member-accounts.xlsx"])
def test_an_accountant_of_another_entity_gets_404(app, session, cli, xlsx, posted, suffix):
    assert cli("import", xlsx(collective_workbook())).exit_code == 0
    client = app.test_client()
    _login(client, session, "kuaiji-cv", entity(session, "CV").id)
    assert client.get(f"/e/WX/reports/2025{suffix}").status_code == 404
    assert client.get(f"/e/CV/reports/2025{suffix.replace('member-accounts', 'balance-sheet')}").status_code == 200


def test_unknown_reports_and_anonymous_visitors(app, accountant, posted):
    assert accountant.get("/e/WX/reports/2025/cash-flow").status_code == 404
    assert accountant.get("/e/WX/reports/2025/cash-flow.json").status_code == 404
    assert accountant.get("/e/NOPE/reports/2025/surplus").status_code == 404
    for year in ("1948", "20x5", "٢٠٢٥", "02025"):
        assert accountant.get(f"/e/WX/reports/{year}/surplus").status_code == 404, year
    anonymous = app.test_client().get("/e/WX/reports/2025/surplus")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_collectives_reports_render(app, session, collective):
    client = app.test_client()
    _login(client, session, "kuaiji-cv", collective.id)
    sheet = client.get("/e/CV/reports/2025/balance-sheet").get_data(as_text=True)
    assert "资产负债表" in sheet and "110,000.00" in sheet and "未分配收益" in sheet
    income = client.get("/e/CV/reports/2025/surplus").get_data(as_text=True)
    assert "收益及收益分配表" in income and "70,000.00" in income and "向成员分配" in income
    assert "财会〔2023〕14号" in sheet and "财会〔2023〕14号" in income          # the layout says it is our reading
    for name, title in (("equity-changes", "成员权益变动表"), ("member-accounts", "成员账户")):
        page = client.get(f"/e/CV/reports/2025/{name}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and title in text and "<table" not in text     # says so, shows nothing
        assert client.get(f"/e/CV/reports/2025/{name}.json").status_code == 404
    ws = _workbook(client.get("/e/CV/reports/2025/surplus.xlsx"))
    assert ws["A1"].value == "收益及收益分配表"
    index = client.get("/e/CV/reports/2025").get_data(as_text=True)
    assert "会计报表附注" in index and "/e/CV/reports/2025/notes" in index and "成员权益变动表" in index

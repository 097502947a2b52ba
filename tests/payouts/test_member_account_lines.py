"""The 成员账户 by transaction (system Art. 57 and its 编制说明 4: "成员与合作社发生经济业务往来时，交易量（额）按实际发生数
填列"): one numbered line per delivery, sale to the member, input and capital contribution, in the unit traded; the
year-end lines; 年末余额/总额 the sum of the lines and the run's figures. On every cooperative of the demo, then on
the worked example: a 斤 delivery, the page, the printed accounts (read back with pdftotext and pdfinfo) and the
workbook of a sheet per member."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections import defaultdict
from decimal import Decimal

import openpyxl
import pytest
import test_reports
from sqlalchemy import select
from test_reports import _login, distribute_and_post, entity

from cooperatives.models import CapitalContribution, Delivery, Entity, InputSupply, Member, Sale
from payouts.models import IN_FORCE, PayoutRun
from payouts.reports.statutory import (
    _STOCKS,
    MemberAccount,
    _sheet_title,
    member_accounts,
    quantity_label,
    to_dict,
    to_xlsx,
)
from payouts.runs.snapshot import patronage_pools

D = Decimal
Z = D("0.00")
TRADE = ("delivery", "sale", "input")
POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")


def _check_account(m: MemberAccount, columns, products) -> None:
    """The account's own arithmetic: 年初余额 + the lines = 年末余额 in every balance column; 交易量 per column and
    交易额 per product of the totals row = the sums of the lines; 编号 1, 2, 3 … on every line between."""
    opening, closing, lines = m.lines[0], m.closing, m.lines[1:-1]
    assert (opening.kind, opening.summary, opening.no) == ("opening", "年初余额", None), m.code
    assert (closing.kind, closing.summary, closing.no) == ("closing", "年末余额/总额", None), m.code
    assert [ln.no for ln in lines] == list(range(1, len(lines) + 1)), m.code
    trade = [ln for ln in lines if ln.kind in (*TRADE, "capital")]
    assert [ln.date for ln in trade] == sorted(ln.date for ln in trade), m.code
    assert list(lines[:len(trade)]) == trade, m.code                 # the transactions first, then the year-end lines
    for key in _STOCKS:
        moved = sum((getattr(ln, key) or Z for ln in lines), Z)
        assert getattr(opening, key) + moved == getattr(closing, key), (m.code, key)
    for i, _column in enumerate(columns):
        found = [ln.quantities[i] for ln in lines if ln.quantities[i] is not None]
        assert closing.quantities[i] == (sum(found, D(0)) if found else None), (m.code, columns[i])
    for i, product in enumerate(products):
        found = [ln.amounts[i] for ln in lines if ln.amounts[i] is not None]
        assert closing.amounts[i] == (sum(found, Z) if found else None), (m.code, product)
    for ln in lines:
        if ln.kind in TRADE:
            i = products.index(ln.product)
            assert ln.amounts[i] is not None and sum(a is not None for a in ln.amounts) == 1, (m.code, ln)
            if ln.quantity is not None:
                assert ln.quantities[columns.index((ln.product, ln.unit))] == ln.quantity, (m.code, ln)
    assert sum((ln.patronage or Z for ln in lines), Z) == closing.patronage, m.code
    assert sum((ln.residual or Z for ln in lines), Z) == closing.residual, m.code


def _run_figures(run: PayoutRun) -> dict[str, tuple[Decimal, Decimal]]:
    """member code -> (盈余返还, 剩余盈余分配) read from the run's JSON: its pools by trade are returns, every other
    pool and the preferred returns residual; together each member's ``total``."""
    returns = set(patronage_pools(run.result))
    out = {}
    for m in run.result["members"]:
        patronage = sum((D(ln["amount"]) for ln in m["lines"] if ln["pool"] in returns), Z)
        residual = sum((D(ln["amount"]) for ln in m["lines"] if ln["pool"] not in returns), Z)
        residual += sum((D(p["amount"]) for p in m["preferred"]), Z)
        assert patronage + residual == D(m["total"]), m["member"]
        out[m["member"]] = (patronage, residual)
    return out


def _records(session, entity_: Entity, year: int) -> tuple[dict, dict]:
    """member code -> (the sum of the member's live deliveries, sales to the member and inputs of ``year``; how many),
    and member code -> how many live capital records of the year — read straight from the records."""
    codes = dict(session.execute(select(Member.id, Member.code).where(Member.entity_id == entity_.id)).all())
    trade: dict[str, list] = defaultdict(lambda: [Z, 0])
    capital: dict[str, int] = defaultdict(int)
    for model in (Delivery, Sale, InputSupply, CapitalContribution):
        for record in session.scalars(select(model).where(model.entity_id == entity_.id, model.live())):
            if record.date.year != year or record.member_id is None:
                continue
            if model is CapitalContribution:
                capital[codes[record.member_id]] += 1
            else:
                trade[codes[record.member_id]][0] += record.amount
                trade[codes[record.member_id]][1] += 1
    return trade, capital


def test_every_demo_account_is_its_transactions_and_ties_to_the_run(demo_world):
    """Every cooperative of the demo, every year with a run in force: each member's lines sum to the totals row,
    the totals row's 盈余返还/剩余盈余分配 are the member's figures in the run's JSON, and the trade lines are the
    member's live deliveries, sales and inputs of the year (their sum and their number)."""
    session = demo_world
    runs = session.scalars(select(PayoutRun).where(PayoutRun.status.in_(IN_FORCE))).all()
    kinds, accounts_checked, pairs = set(), 0, set()
    for run in runs:
        entity_ = session.get(Entity, run.entity_id)
        if entity_.chart != "fpc2021":
            continue
        pairs.add((entity_.code, run.year))
        report = member_accounts(session, entity_, run.year)
        assert report.run_id == run.id, (entity_.code, run.year)
        figures = _run_figures(run)
        trade, capital = _records(session, entity_, run.year)
        assert {m.code for m in report.members} >= set(figures), (entity_.code, run.year)
        for m in report.members:
            _check_account(m, report.quantity_columns, report.products)
            assert (m.closing.patronage, m.closing.residual) == figures.get(m.code, (Z, Z)), (entity_.code, m.code)
            lines = [ln for ln in m.lines if ln.kind in TRADE]
            total = sum((a for ln in lines for a in ln.amounts if a is not None), Z)
            assert (total, len(lines)) == tuple(trade.get(m.code, (Z, 0))), (entity_.code, run.year, m.code)
            assert sum(a for a in m.closing.amounts if a is not None) == total, (entity_.code, m.code)
            assert sum(ln.kind == "capital" for ln in m.lines) == capital.get(m.code, 0), (entity_.code, m.code)
            kinds |= {ln.kind for ln in m.lines}
            accounts_checked += 1
        # every member with trade has an account: nobody's trade is left out
        assert set(trade) <= {m.code for m in report.members}, (entity_.code, run.year)
        if entity_.code == "JGP-TEA":                       # the workbook: a sheet per member, each its account
            book = openpyxl.load_workbook(io.BytesIO(to_xlsx(report)))
            assert len(book.sheetnames) == len(report.members) == 80
            assert [ws["C3"].value for ws in book.worksheets] == [m.name for m in report.members]
            assert [ws.max_row - 6 for ws in book.worksheets] == [len(m.lines) for m in report.members]
        data = to_dict(report)
        assert len(data["members"]) == len(report.members)
        assert all(ln["no"] == line.no and ln["kind"] == line.kind
                   for m, dm in zip(report.members, data["members"], strict=True)
                   for line, ln in zip(m.lines, dm["lines"], strict=True))
    # the tea, vegetable (2024 and 2025), grape-cluster and land cooperatives: 80 + 9 + 11 + 9 + 40 accounts
    assert sorted(pairs) == [("JGP-TEA", 2025), ("JGP-VEG", 2024), ("JGP-VEG", 2025), ("TL-GRAPE", 2025),
                             ("WX-LAND", 2025)]
    assert accounts_checked == 149
    assert {"opening", "delivery", "input", "capital", "reserve", "funds", "patronage", "residual", "closing"} <= kinds


# ----------------------------------------------------------------------------------------- the worked example


#: the worked example imported, and distributed and posted (test_reports' fixtures)
imported, posted = test_reports.imported, test_reports.posted


@pytest.fixture
def accountant(app, session):
    def sign_in(entity_):
        client = app.test_client()
        _login(client, session, "kuaiji-wx", entity_.id)
        return client
    return sign_in


def test_a_jin_delivery_shows_jin_and_its_quantity_unchanged(session, cli, xlsx, imported, accountant):
    more = {"deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                           ["2025-06-01", "H002", "藤茶鲜叶", "1200", "jin", "3", "bank"]]}
    assert cli("import", xlsx(more), "--entity", "WX").exit_code == 0
    report = member_accounts(session, imported, 2025)
    h002 = report.member("H002")
    line = next(ln for ln in h002.lines if ln.kind == "delivery" and ln.date.isoformat() == "2025-06-01")
    assert (line.summary, line.product, line.quantity, line.unit, line.amounts) == (
        "交售 藤茶鲜叶", "藤茶鲜叶", D("1200.000"), "斤", (D("3600.00"),))
    assert report.quantity_columns == (("藤茶鲜叶", "公斤"), ("藤茶鲜叶", "斤"))      # 斤 is not added to 公斤
    assert line.quantities == (None, D("1200.000"))
    assert h002.closing.quantities == (D("10000.000"), D("1200.000"))
    assert h002.closing.amounts == (D("63600.00"),)
    _check_account(h002, report.quantity_columns, report.products)
    data = to_dict(report)
    shown = next(ln for m in data["members"] if m["member"] == "H002" for ln in m["lines"] if ln["unit"] == "斤")
    assert (shown["quantity"], shown["quantities"]) == ("1200.000", {"藤茶鲜叶（公斤）": None, "藤茶鲜叶（斤）": "1200.000"})
    assert quantity_label("藤茶鲜叶", "斤") == "藤茶鲜叶（斤）" and quantity_label("茶苗", "") == "茶苗"
    page = accountant(imported).get("/e/WX/reports/2025/member-accounts?member=H002")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "1,200 斤" in text and "10,000 公斤" in text and "交售 藤茶鲜叶" in text


def test_the_page_shows_one_account_per_member_and_picks_one(posted, accountant):
    client = accountant(posted)
    text = client.get("/e/WX/reports/2025/member-accounts").get_data(as_text=True)
    assert text.count("成员姓名（名称）：") == 3 and "联系地址：一村" in text
    assert '<select id="member" name="member">' in text and '<option value="H002">2 乙</option>' in text
    assert "/e/WX/reports/2025/member-accounts.pdf?member=H001" in text
    assert "<script" not in text and "style=" not in text
    one = client.get("/e/WX/reports/2025/member-accounts?member=H002").get_data(as_text=True)
    assert one.count("成员姓名（名称）：") == 1 and "成员姓名（名称）：乙" in one and "成员姓名（名称）：甲" not in one
    assert '<option value="H002" selected>' in one
    assert "年初余额" in one and "入股 现金" in one and "年末余额/总额" in one
    assert client.get("/e/WX/reports/2025/member-accounts?member=NOPE").status_code == 404


def _pdf_pages(data: bytes, tmp_path) -> list[str]:
    path = tmp_path / "accounts.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+)", info, re.M)
    assert float(size.group(1)) > float(size.group(2))                                   # landscape
    return [subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(path), "-"], capture_output=True,
                           text=True, check=True).stdout for n in range(1, pages + 1)]


def _first_page(text: str) -> bool:
    return re.search(r"第\s*1\s*页", text) is not None


@pytest.mark.skipif(not POPPLER, reason="poppler-utils is not installed")
def test_the_printed_accounts_start_each_member_on_a_new_page(posted, accountant, tmp_path):
    client = accountant(posted)
    response = client.get("/e/WX/reports/2025/member-accounts.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = _pdf_pages(response.data, tmp_path)
    assert len(pages) == 3                                      # three members, each account one page here
    for text, name in zip(pages, ("甲", "乙", "丙"), strict=True):
        flat = re.sub(r"\s+", "", text)
        for label in ("成员账户", "2025年度", "成员姓名（名称）：" + name, "联系地址：一村", "编号", "日期", "摘要",
                      "成员出资", "交易量", "交易额", "年初余额", "入股现金", "年末余额/总额", "编制单位：例题合作社"):
            assert label in flat, (name, label)
        assert _first_page(text), name
    assert "59,245.72" in pages[0] and "181,440.00" in pages[0] and "20,000公斤" in re.sub(r"\s+", "", pages[0])
    assert "交售藤茶鲜叶" in re.sub(r"\s+", "", pages[0]) and "入股现金" in re.sub(r"\s+", "", pages[0])
    one = client.get("/e/WX/reports/2025/member-accounts.pdf?member=H002")
    assert one.status_code == 200
    (only,) = _pdf_pages(one.data, tmp_path)
    assert "乙" in only and "成员姓名（名称）：甲" not in re.sub(r"\s+", "", only)
    assert client.get("/e/WX/reports/2025/member-accounts.pdf?member=NOPE").status_code == 404


@pytest.mark.skipif(not POPPLER, reason="poppler-utils is not installed")
def test_a_long_account_runs_on_with_its_head_and_the_next_member_starts_a_page(session, cli, xlsx, imported,
                                                                               accountant, tmp_path):
    more = {"deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"]] + [
        [f"2025-{month:02d}-{day:02d}", "H001", "藤茶鲜叶", str(100 + day), "jin", "3", "bank"]
        for month in range(6, 10) for day in range(1, 21)]}
    assert cli("import", xlsx(more), "--entity", "WX").exit_code == 0
    report = member_accounts(session, imported, 2025)
    assert len(report.member("H001").lines) == 1 + 2 + 80 + 1 + 1         # (its capital, its 公斤 delivery; no run)
    pages = _pdf_pages(accountant(imported).get("/e/WX/reports/2025/member-accounts.pdf").data, tmp_path)
    starts = [i for i, text in enumerate(pages) if _first_page(text)]
    assert len(starts) == 3 and starts[0] == 0 and starts[1] >= 2         # 甲's account runs on over 2+ pages
    for i in range(1, starts[1]):                                       # … each headed as the form is, 第 2 页 …
        flat = re.sub(r"\s+", "", pages[i])
        assert f"第{i + 1}页" in flat and "成员姓名（名称）：甲" in flat and "交易量" in flat, i
    assert "成员姓名（名称）：乙" in re.sub(r"\s+", "", pages[starts[1]])
    assert "成员姓名（名称）：丙" in re.sub(r"\s+", "", pages[starts[2]]) and starts[2] == len(pages) - 1
    assert "年末余额/总额" in pages[starts[1] - 1] and "8,840 斤" in pages[starts[1] - 1]


def test_the_workbook_has_a_sheet_per_member(posted, accountant):
    response = accountant(posted).get("/e/WX/reports/2025/member-accounts.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["1 甲", "2 乙", "3 丙"]
    for ws, name in zip(book.worksheets, ("甲", "乙", "丙"), strict=True):
        assert (ws["A1"].value, ws["A2"].value, ws["A3"].value, ws["C3"].value) == (
            "成员账户", "2025年度", "成员姓名（名称）：", name)
        rows = list(ws.iter_rows(min_row=7, values_only=True))
        assert rows[0][0] == "年初余额" and rows[-1][0] == "年末余额/总额"
        assert [r[0] for r in rows[1:-1]] == list(range(1, len(rows) - 1))
        assert ws.oddHeader.right.text and "页" in ws.oddHeader.right.text
    residual = [r for r in book["1 甲"].iter_rows(min_row=7, values_only=True) if r[2] == "剩余盈余分配"]
    assert len(residual) == 1 and D(str(residual[0][-1])).quantize(D("0.01")) == D("59245.72")


def test_a_large_entitys_workbook_is_plain_and_still_has_every_member(session, posted, monkeypatch):
    """From PLAIN_FROM_MEMBERS members on the sheets carry no styles or merged cells — the same rows and numbers."""
    report = member_accounts(session, posted, 2025)
    styled = openpyxl.load_workbook(io.BytesIO(to_xlsx(report)))
    monkeypatch.setattr("payouts.reports.statutory.PLAIN_FROM_MEMBERS", 3)
    plain = openpyxl.load_workbook(io.BytesIO(to_xlsx(report)))
    assert plain.sheetnames == styled.sheetnames == ["1 甲", "2 乙", "3 丙"]
    for a, b in zip(styled.worksheets, plain.worksheets, strict=True):
        assert list(a.iter_rows(values_only=True)) == list(b.iter_rows(values_only=True))
        assert a.merged_cells.ranges and not b.merged_cells.ranges


def test_sheet_titles_are_valid_unique_and_short():
    taken: set[str] = set()

    def title(no, name):
        return _sheet_title(MemberAccount(code=f"M{no}", member_no=no, name=name, address="", lines=()), taken)

    assert title(1, "甲") == "1 甲"
    assert title(2, "a/b\\c?d*e[f]g:h\ti") == "2 a_b_c_d_e_f_g_h_i"
    long = title(3, "长" * 40)
    assert len(long) == 31 and long.startswith("3 长")
    assert title(4, "x'") == "4 x"
    taken.add("5 dup")
    assert title(5, "DUP") == "5 DUP~2"                       # Excel compares titles without case


def test_a_collective_has_no_member_accounts_to_print(app, session, cli, xlsx, policy_file):
    from test_reports import COLLECTIVE_POLICY, collective_workbook

    assert cli("import", xlsx(collective_workbook())).exit_code == 0
    distribute_and_post(cli, "CV", policy_file(COLLECTIVE_POLICY))
    client = app.test_client()
    _login(client, session, "kuaiji-cv", entity(session, "CV").id)
    assert client.get("/e/CV/reports/2025/member-accounts.pdf").status_code == 404

"""Sample data shared by test modules (``tests/`` is on the path: pytest puts the root conftest's folder there).

Kept here once instead of copied into each module: the worked example of reference/domain.md §1.3 as an
import workbook, the 70/30 policy it is distributed under, and an in-memory .xlsx builder for uploads.
"""

from __future__ import annotations

import io

import openpyxl

POLICY_70_30 = """
reserve_pct = "10"
reserve_quantify = "transactions"
[[pools]]
name = "patronage"
pct = "70"
basis = "transactions"
[[pools]]
name = "residual"
pct = "30"
basis = "capital"
"""
#: the same, returning only half by member trade: below the 60 % of law Art. 44
POLICY_50_50 = POLICY_70_30.replace('pct = "70"', 'pct = "50"').replace('pct = "30"', 'pct = "50"')


def worked_example_workbook(code: str = "WX", township: str = "例乡") -> dict:
    """reference/domain.md §1.3 as an import workbook: S 500,000; a 20,000 loss brought forward (2024);
    member trade 120k/60k/20k (paid through the bank: in cash they would overdraw 库存现金, books-review W1);
    capital 50k/30k/20k; a fiscal subsidy of 90,000 quantified equally — the example's 专项基金 of 90,000: the
    subsidy builds a cold store (在建工程, not yet in use, so no depreciation changes S), which is what moves it
    from 235 专项应付款 to 311 (2021 system acct 235 三, 311 二; books-review W2: money merely received is not
    property formed and is not quantified)."""
    return {
        "entity": [["code", "name", "kind", "township"], [code, "例题合作社", "farmer_coop", township]],
        "households": [["code", "head_name", "village"], ["H001", "甲", "一村"], ["H002", "乙", "一村"],
                       ["H003", "丙", "一村"]],
        "members": [["member", "member_no", "joined_on"], ["H001", 1, "2020-01-01"], ["H002", 2, "2020-01-01"],
                    ["H003", 3, "2020-01-01"]],
        "capital": [["date", "member", "amount"], ["2025-01-02", "H001", "50000"], ["2025-01-02", "H002", "30000"],
                    ["2025-01-02", "H003", "20000"]],
        "subsidies": [["date", "source", "kind", "amount"], ["2025-03-01", "县财政", "fiscal", "90000"]],
        "assets": [["code", "name", "acquired_on", "cost", "life_years", "project", "under_construction"],
                   ["GD-01", "冷库（在建）", "2025-04-01", "90000", "20", "县财政", "yes"]],
        "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                       ["2025-05-01", "H001", "藤茶鲜叶", "20000", "kg", "6", "bank"],
                       ["2025-05-01", "H002", "藤茶鲜叶", "10000", "kg", "6", "bank"],
                       ["2025-05-02", "H003", "藤茶鲜叶", "4000", "kg", "5", "bank"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "茶企", "干茶", "700000"]],
        "expenses": [["date", "category", "amount"], ["2024-06-30", "management", "20000"]],   # last year's loss
    }


def xlsx_bytes(sheets: dict[str, list[list]]) -> io.BytesIO:
    """``{sheet: [header, *rows]}`` as an .xlsx file in memory (for upload tests)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    return data


def count_queries(session, fn) -> int:
    """How many SQL statements ``fn()`` runs on ``session``'s engine."""
    from sqlalchemy import event

    engine = session.get_bind().engine
    seen = [0]

    def before(*_args):
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return seen[0]

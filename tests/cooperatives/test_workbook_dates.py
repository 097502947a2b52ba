"""Dates and numbers as people type them (issue 16): Excel date cells, Excel serial numbers (a date cell whose format
was lost, or its number typed as text), ``YYYY-MM-DD``, ``YYYY/M/D``, ``YYYY年M月D日`` and full-width digits — one
parsing function (``workbook.parse_date``) for every date the workbook reads."""

import datetime as dt
from decimal import Decimal

import pytest
from samples import xlsx_bytes

from cooperatives.workbook import SHEETS, WorkbookError, parse_date, read_workbook

JULY_6 = dt.date(2026, 7, 6)


@pytest.mark.parametrize("raw", [
    "2026-07-06", "2026/07/06", "2026/7/6", "2026-7-6", "2026.7.6", "2026年7月6日", "2026年07月06日", "2026 年 7 月 6 日",
    "２０２６－０７－０６", "２０２６／７／６", "２０２６年７月６日", " 2026-07-06 ", "2026-07-06 00:00:00", "46209",
    46209, 46209.0, dt.datetime(2026, 7, 6), JULY_6,
])
def test_a_date_as_typed(raw):
    assert parse_date(raw) == JULY_6


@pytest.mark.parametrize("raw", ["2026-02-30", "2026/13/1", "20260706", "7/6/2026", "2026年7月", "46209.5", 2025,
                                 "2026-07-06 12:30", "١٢٣٤-٠٧-٠٦"])
def test_not_a_date(raw):
    with pytest.raises(Exception, match="not a date"):
        parse_date(raw)


def test_every_date_column_reads_dates_the_same_way():
    assert all(c.type.parse("2026年7月6日") == JULY_6 for spec in SHEETS.values() for c in spec.columns
               if c.type.name == "date")


def _read(tmp_path, sheets):
    path = tmp_path / "book.xlsx"
    path.write_bytes(xlsx_bytes(sheets).getvalue())
    return read_workbook(path)


def test_a_workbook_of_dates_and_full_width_numbers(tmp_path):
    rows = [["日期", "成员", "产品", "数量", "单位", "单价", "金额"],
            [JULY_6, "H1", "茶", "１０", "斤", "２．５", "２５．００"],              # an Excel date cell
            ["2026/7/6", "H1", "茶", "1,000", "斤", "1", "１，０００"],           # typed as text
            ["２０２６年７月６日", "H1", "茶", "2", "斤", "3", "6"],
            [46209, "H1", "茶", "2", "斤", "3", "6"]]                            # a date cell that lost its format
    wb = _read(tmp_path, {"交售": rows})
    got = [(r.values["date"], r.values["quantity"], r.values["amount"]) for r in wb.sheets["deliveries"]]
    assert got == [(JULY_6, Decimal("10.000"), Decimal("25.00")), (JULY_6, Decimal("1000.000"), Decimal("1000.00")),
                   (JULY_6, Decimal("2.000"), Decimal("6.00")), (JULY_6, Decimal("2.000"), Decimal("6.00"))]


def test_every_problem_of_a_row_is_listed(tmp_path):
    rows = [["日期", "成员", "产品", "数量", "单位", "单价", "已付"],
            ["2026-02-30", "H 1", "", "-1", "磅", "x", "也许"]]
    with pytest.raises(WorkbookError) as caught:
        _read(tmp_path, {"交售": rows})
    assert [(p.row, p.column) for p in caught.value.problems] == [
        (2, "日期"), (2, "成员"), (2, "产品"), (2, "数量"), (2, "单位"), (2, "单价"), (2, "已付")]
    assert all(p.reason.code for p in caught.value.problems)          # each a Message with its code and parameters

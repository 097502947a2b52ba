"""Bank payout batch files (payouts.batches.layouts): both layouts in both formats, and the bank's return file —
read back exactly, every refusal located, hostile input refused without a traceback. Pure: no database."""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from payouts.batches.layouts import (
    LAYOUT_LABELS,
    LAYOUTS,
    MAX_BYTES,
    ApartLine,
    OutLine,
    ReturnFileError,
    batch_file,
    read_returns,
)

LINES = [
    OutLine(1, "张三", "6222021234567890123", Decimal("1234.50"), "2025年收益分配"),
    OutLine(2, "李四", "6217001234567890", Decimal("0.10"), "2025年收益分配"),
    OutLine(3, "=HYPERLINK(1)", "622848001234567", Decimal("99999.99"), "2025年收益分配"),
    OutLine(4, "王五", "6230520010000000001", Decimal("7.00"), "2025年收益分配"),
]
APART = [ApartLine("M5", "赵六", Decimal("300.00"), "没有银行账号"), ApartLine("M6", "钱七", Decimal("0.01"), "已冻结")]
TITLE = "金果坪藤茶种植专业合作社 2025年收益分配 代发 第1批"
PAYER = "金果坪藤茶种植专业合作社"
TOTAL = sum(line.amount for line in LINES)


def write(layout: str, fmt: str) -> bytes:
    return batch_file(layout, fmt, LINES, APART, title=TITLE, payer=PAYER)


def xlsx_rows(data: bytes, sheet: int = 0) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [list(row) for row in book.worksheets[sheet].iter_rows()]


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def header_at(rows: list[list], columns: tuple[str, ...]) -> int:
    values = [[c.value if hasattr(c, "value") else c for c in row] for row in rows]
    return next(i for i, row in enumerate(values) if tuple(row[: len(columns)]) == columns)


# --------------------------------------------------------------------------- writing


def test_the_layouts_are_labelled():
    assert {"generic", "rcb"} <= set(LAYOUTS)
    assert set(LAYOUT_LABELS) == set(LAYOUTS)
    assert "序号, 户名, 账号, 金额, 附言" in LAYOUT_LABELS["generic"]


@pytest.mark.parametrize("layout", ["generic", "rcb"])
def test_xlsx_amounts_are_two_decimal_numbers_and_accounts_text(layout):
    spec = LAYOUTS[layout]
    rows = xlsx_rows(write(layout, "xlsx"))
    at = header_at(rows, spec.columns)
    data = rows[at + 1 : at + 1 + len(LINES)]
    for line, row in zip(LINES, data, strict=True):
        account, amount = row[spec.account_column], row[spec.amount_column]
        assert account.data_type == "s" and account.value == line.account      # never a number: 19 digits stay
        assert amount.data_type == "n" and amount.number_format == "0.00"
        assert Decimal(repr(amount.value)).quantize(Decimal("0.01")) == line.amount
        assert row[0].value == line.seq
    names = [row[spec.columns.index("户名" if layout == "generic" else "收款户名")].value for row in data]
    assert names == [line.name for line in LINES]          # a name like a formula stays text
    assert all(row[1].data_type == "s" or row[2].data_type == "s" for row in data)


def test_generic_xlsx_has_a_title_row_and_the_summary_after_the_rows():
    rows = xlsx_rows(write("generic", "xlsx"))
    assert rows[0][0].value == TITLE
    at = header_at(rows, LAYOUTS["generic"].columns)
    summary = rows[at + 1 + len(LINES)]
    assert summary[0].value == "合计"
    assert int(re.fullmatch(r"(\d+)笔", summary[1].value)[1]) == len(LINES)
    assert Decimal(repr(summary[3].value)).quantize(Decimal("0.01")) == TOTAL and summary[3].number_format == "0.00"
    assert len(rows) == at + 2 + len(LINES)


def test_rcb_xlsx_puts_payer_count_and_total_above_the_headers():
    rows = xlsx_rows(write("rcb", "xlsx"))
    values = [[c.value for c in row] for row in rows]
    assert values[0][:2] == ["付款单位", PAYER]
    assert values[1][0] == "总笔数" and values[1][1] == len(LINES) and values[1][2] == "总金额"
    assert Decimal(repr(values[1][3])).quantize(Decimal("0.01")) == TOTAL and rows[1][3].number_format == "0.00"
    assert header_at(rows, LAYOUTS["rcb"].columns) == 2
    assert len(rows) == 3 + len(LINES)                       # nothing after the rows
    assert TITLE not in str(values)                          # the bank's template has no title row


@pytest.mark.parametrize("layout", ["generic", "rcb"])
def test_xlsx_apart_lines_go_on_a_second_sheet(layout):
    data = write(layout, "xlsx")
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames[1] == "未列入"
    rows = xlsx_rows(data, 1)
    assert [c.value for c in rows[0]] == ["户号", "户名", "应付金额", "原因"]
    assert [(r[0].value, r[1].value, r[3].value) for r in rows[1:]] == [(a.member, a.name, a.reason) for a in APART]
    assert [Decimal(repr(r[2].value)).quantize(Decimal("0.01")) for r in rows[1:]] == [a.amount for a in APART]
    assert all(r[2].number_format == "0.00" for r in rows[1:])


def test_without_apart_lines_there_is_one_sheet():
    data = batch_file("generic", "xlsx", LINES, [], title=TITLE, payer=PAYER)
    assert len(openpyxl.load_workbook(io.BytesIO(data)).sheetnames) == 1


@pytest.mark.parametrize("layout", ["generic", "rcb"])
def test_csv_is_utf8_with_bom_two_decimal_text_and_no_apart_lines(layout):
    spec = LAYOUTS[layout]
    rows = csv_rows(write(layout, "csv"))
    at = rows.index(list(spec.columns))
    data = rows[at + 1 : at + 1 + len(LINES)]
    assert [row[spec.amount_column] for row in data] == ["1234.50", "0.10", "99999.99", "7.00"]
    assert [row[spec.account_column] for row in data] == [line.account for line in LINES]
    assert "'=HYPERLINK(1)" in {cell for row in data for cell in row}        # defused (ledger.cells.csv_field)
    text = str(rows)
    assert "赵六" not in text and "未列入" not in text and TITLE not in text
    if layout == "generic":
        assert at == 0
        assert rows[-1][0] == "合计" and rows[-1][1] == f"{len(LINES)}笔" and rows[-1][3] == f"{TOTAL:.2f}"
        assert len(rows) == len(LINES) + 2
    else:
        assert rows[0] == ["付款单位", PAYER]
        assert rows[1] == ["总笔数", str(len(LINES)), "总金额", f"{TOTAL:.2f}"]
        assert at == 2 and len(rows) == 3 + len(LINES)


def test_bad_arguments_are_programming_errors():
    with pytest.raises(ValueError):
        batch_file("nobank", "csv", LINES, [], title=TITLE, payer=PAYER)
    with pytest.raises(ValueError):
        batch_file("generic", "xls", LINES, [], title=TITLE, payer=PAYER)
    with pytest.raises(ValueError):
        batch_file("generic", "csv", [OutLine(1, "a", "1", Decimal("1.005"), "")], [], title=TITLE, payer=PAYER)


# --------------------------------------------------------------------------- the return file


STATUS = ["成功", "失败", "处理成功", "F"]
REASONS = [None, "户名与账号不符", None, "账户已销户"]


def returned_xlsx(layout: str) -> bytes:
    """The batch file as a bank sends it back: title rows above, 状态 and 失败原因 columns added."""
    book = openpyxl.load_workbook(io.BytesIO(write(layout, "xlsx")))
    sheet = book.worksheets[0]
    sheet.insert_rows(1, 2)
    sheet.cell(1, 1, "XX农商银行 批量代发结果")
    sheet.cell(2, 1, "打印日期")
    at = header_at(list(sheet.iter_rows()), LAYOUTS[layout].columns) + 1
    sheet.cell(at, 6, "状态")
    sheet.cell(at, 7, "失败原因")
    for i, (status, reason) in enumerate(zip(STATUS, REASONS, strict=True)):
        sheet.cell(at + 1 + i, 6, status)
        sheet.cell(at + 1 + i, 7, reason)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def returned_csv(layout: str, encoding: str) -> bytes:
    rows = csv_rows(write(layout, "csv"))
    at = rows.index(list(LAYOUTS[layout].columns))
    rows[at] += ["处理状态", "错误信息"]
    for i, (status, reason) in enumerate(zip(STATUS, REASONS, strict=True)):
        rows[at + 1 + i] += [status, reason or ""]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([["代发结果查询"], [], *rows])
    return out.getvalue().encode(encoding)


def check_read(found, first_row: int):
    assert [r.account for r in found] == [line.account for line in LINES]
    assert [r.amount for r in found] == [line.amount for line in LINES]
    assert [r.ok for r in found] == [True, False, True, False]
    assert [r.reason for r in found] == REASONS
    assert [r.seq for r in found] == [1, 2, 3, 4]
    assert [r.row for r in found] == list(range(first_row, first_row + len(LINES)))


@pytest.mark.parametrize("layout", ["generic", "rcb"])
def test_an_xlsx_return_file_reads_back(layout):
    # generic: 2 title rows, the layout's title row, header at 4; rcb: 2 title rows, 2 header rows, header at 5
    check_read(read_returns(returned_xlsx(layout), "结果.xlsx"), 5 if layout == "generic" else 6)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
@pytest.mark.parametrize("layout", ["generic", "rcb"])
def test_a_csv_return_file_reads_back(layout, encoding):
    check_read(read_returns(returned_csv(layout, encoding), "result.CSV"), 4 if layout == "generic" else 6)


def sheet_bytes(rows: list[list], title: str = "Sheet1") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems_of(data: bytes, name: str) -> list[tuple]:
    with pytest.raises(ReturnFileError) as caught:
        read_returns(data, name)
    return [(p.sheet, p.row, p.column, p.code) for p in caught.value.problems]


def test_english_headers_in_any_order_and_number_cells():
    data = sheet_bytes([["Status", "Amount", "Account", "Name", "Reason"],
                        ["success", 12.3, 6217001234567890, "a", None],
                        ["failed", 5, "6217 0012 3456 7891", "b", "closed"],
                        ["S", "1,234.50", 123456789012345.0, "c", ""],
                        [None, None, None, None, None],
                        ["合计", 3, None, None, None]])
    found = read_returns(data, "r.xlsx")
    assert [(r.row, r.seq, r.account, r.amount, r.ok, r.reason) for r in found] == [
        (2, None, "6217001234567890", Decimal("12.30"), True, None),
        (3, None, "6217001234567891", Decimal("5.00"), False, "closed"),
        (4, None, "123456789012345", Decimal("1234.50"), True, None)]


def test_every_problem_of_the_file_at_once_located():
    data = sheet_bytes([["代发结果"],
                        ["序号", "收款人账号", "交易金额", "交易状态", "失败原因"],
                        [1, "6217001234567890", "12.345", "成功", None],        # three decimals
                        [2, None, "10.00", "失败", "x"],                          # no account
                        [3, 6.222021234567891e18, "10.00", "成功", None],        # a 19-digit account as a float
                        [4, "6217001234567890", 12.345, "成功", None],              # a float, not a whole number of fen
                        [5, "6217001234567890", "-3.00", "成功", None],          # negative
                        [6, "6217001234567890", "3.00", "退回", None],            # unknown status
                        [7, "62170012345X", "3.00", "成功", None],               # not digits
                        [8, "6217001234567890", "abc", None, None]],              # not a number, no status
                       title="结果")
    assert problems_of(data, "r.xlsx") == [
        ("结果", 3, "交易金额", "decimal_places"),
        ("结果", 4, "收款人账号", "missing_value"),
        ("结果", 5, "收款人账号", "inexact_number"),
        ("结果", 6, "交易金额", "decimal_places"),
        ("结果", 7, "交易金额", "not_positive"),
        ("结果", 8, "交易状态", "unknown_value"),
        ("结果", 9, "收款人账号", "not_an_account"),
        ("结果", 10, "交易金额", "not_a_number"),
        ("结果", 10, "交易状态", "missing_value"),
    ]


def test_the_float_account_refusal_says_to_format_the_column_as_text():
    data = sheet_bytes([["账号", "金额", "状态"], [6.222021234567891e18, 1, "成功"]])
    with pytest.raises(ReturnFileError) as caught:
        read_returns(data, "r.xlsx")
    assert "format the cell as text" in str(caught.value)


def test_missing_required_columns_are_named():
    assert problems_of(sheet_bytes([["序号", "账号", "户名"], [1, "6217001234567890", "a"]]), "r.xlsx") == [
        ("Sheet1", 1, "金额", "missing_column"), ("Sheet1", 1, "状态", "missing_column")]
    assert problems_of("序号,账号,金额\r\n1,62,3.00\r\n".encode(), "r.csv") == [("r.csv", 1, "状态", "missing_column")]


def test_a_duplicate_column_is_refused_but_a_memo_beside_the_reason_is_not():
    assert problems_of("账号,卡号,金额,状态\r\n1,2,3.00,成功\r\n".encode(), "r.csv") == [
        ("r.csv", 1, "卡号", "duplicate_column")]
    found = read_returns("账号,金额,状态,备注,失败原因\r\n62,3.00,失败,2025年收益分配,销户\r\n".encode(), "r.csv")
    assert found[0].reason == "销户"


def test_a_header_without_rows_is_a_problem():
    assert problems_of("账号,金额,状态\r\n".encode(), "r.csv") == [("r.csv", 0, "", "return_file_no_rows")]


HOSTILE = [
    (b"", "r.xlsx"), (b"", "r.csv"), (os.urandom(4096), "r.xlsx"), (b"\x80\xff\x00\xfe" * 100, "r.csv"),
    ("账号,金额,状态\n".encode() * 3, "r.xlsx"), (b"PK\x05\x06" + b"\x00" * 18, "r.xlsx"),
    (b"a,b\x00,c\r\n", "r.csv"), (b"col\r\n1\r\n", "r.xls"), (b"x", "noname"),
]


@pytest.mark.parametrize(("data", "name"), HOSTILE)
def test_hostile_input_is_a_return_file_error(data, name):
    with pytest.raises(ReturnFileError) as caught:
        read_returns(data, name)
    assert caught.value.problems and all(p.row is not None for p in caught.value.problems)


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    assert problems_of(out.getvalue(), "r.xlsx") == [("r.xlsx", 0, "", "not_a_workbook")]


def test_a_file_past_the_size_limit_is_refused_unread():
    assert problems_of(b"0" * (MAX_BYTES + 1), "r.csv") == [("r.csv", 0, "", "file_too_large")]


def test_a_csv_past_the_row_limit_is_refused(monkeypatch):
    from payouts.batches import layouts

    monkeypatch.setattr(layouts, "_LIMITS", layouts.ReadLimits(max_rows=5))
    data = ("账号,金额,状态\r\n" + "62,1.00,成功\r\n" * 10).encode()
    assert problems_of(data, "r.csv")[-1][1] == 6


def test_an_xlsx_row_numbered_past_the_limit_is_refused():
    book = openpyxl.Workbook()
    book.active.append(["账号", "金额", "状态"])
    book.active.cell(250_000, 1, "62")
    out = io.BytesIO()
    book.save(out)
    problems = problems_of(out.getvalue(), "r.xlsx")
    assert problems[-1][1] == 250_000

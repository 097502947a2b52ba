"""Tests for cooperatives.workbook: the import workbook format, its validation and its digest."""

import csv
import re
import subprocess
import sys
import tempfile
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cooperatives.workbook import SHEETS, Problem, Workbook, WorkbookError, problem, read_workbook, sheet_kind

# ---------------------------------------------------------------- helpers


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def write_csv(folder: Path, sheets: dict[str, list[list]], encoding: str = "utf-8") -> Path:
    folder.mkdir(exist_ok=True)
    for name, rows in sheets.items():
        with open(folder / f"{name}.csv", "w", encoding=encoding, newline="") as handle:
            csv.writer(handle).writerows(rows)
    return folder


def problems_of(path: Path) -> list[str]:
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    return [str(p) for p in caught.value.problems]


def values_of(book: Workbook) -> dict[str, list[dict]]:
    return {kind: [row.values for row in rows] for kind, rows in book.sheets.items()}


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def typed(sheets: dict[str, list[list]]) -> dict[str, list[list]]:
    """The same sheets with real date cells and numeric cells, as a spreadsheet program stores them."""

    def cell(value):
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                return value  # an impossible date stays text
        if isinstance(value, str) and _NUMBER.fullmatch(value.replace(",", "")):
            number = value.replace(",", "")
            return float(number) if "." in number else int(number)
        return value

    return {name: [rows[0], *([cell(v) for v in row] for row in rows[1:])] for name, rows in sheets.items()}


# A complete workbook in English, every sheet, optional columns partly blank.
ENGLISH: dict[str, list[list]] = {
    "entity": [
        ["code", "name", "kind", "township", "village", "credit_code"],
        ["C001", "Green Tea Farmers Cooperative", "farmer_coop", "Lushan", "Xicun", "93510000MA0000000X"],
    ],
    "households": [
        ["code", "head_name", "village", "phone", "id_number", "bank_account", "monitoring", "poverty_exited"],
        ["H001", "张三", "西村", "13800138000", "", "", "unstable", "yes"],
        ["H002", "李四", "西村", "", "", "", "", "no"],
    ],
    "members": [
        ["member", "member_no", "joined_on", "left_on", "farmer"],
        ["H001", "1", "2024-01-01", "", "yes"],
        ["H002", "2", "2024-02-01", "2025-01-31", "no"],
    ],
    "capital": [
        ["date", "member", "amount", "form", "note"],
        ["2024-01-05", "H001", "1,000.00", "cash", "first instalment"],
        ["2024-01-06", "H002", "2500", "land", ""],
    ],
    "land": [
        ["member", "contract_no", "area_mu", "shares", "base_rent_per_mu", "start_on", "end_on"],
        ["H001", "TD-2024-01", "2.5", "", "300", "2024-01-01", "2033-12-31"],
    ],
    "labor": [
        ["date", "member", "worker", "days", "rate", "task"],
        ["2025-04-01", "H002", "Li Si", "1.5", "150", "picking"],
    ],
    "deliveries": [
        ["date", "member", "product", "grade", "quantity", "unit", "unit_price", "amount", "paid", "confirm"],
        ["2025-04-10", "H001", "green tea", "A", "12.5", "kg", "80", "", "", ""],
        ["2025-04-11", "H002", "green tea", "", "3", "jin", "0.335", "", "no", ""],
        # 10 × 2.5 = 25.00, paid 24.00 (a deduction for grade B): the warning confirmed (确认)
        ["2025-04-12", "H002", "green tea", "B", "10", "kg", "2.5", "24.00", "yes", "yes"],
    ],
    "inputs": [
        ["date", "member", "item", "amount", "on_credit"],
        ["2025-03-01", "H001", "fertiliser", "350.5", "no"],
    ],
    "sales": [
        ["date", "buyer", "product", "quantity", "unit", "amount", "invoice_no", "member"],
        ["2025-05-01", "Tea Trading Co.", "green tea", "15.5", "kg", "1,860.00", "INV-1", ""],
    ],
    "expenses": [
        ["date", "category", "amount", "payee", "note"],
        ["2025-05-02", "management", "120.00", "Print shop", "forms"],
    ],
    "subsidies": [
        ["date", "source", "kind", "amount", "quantify", "poverty_asset"],
        ["2025-01-15", "County agriculture bureau", "fiscal", "50000", "", "yes"],
    ],
    "advances": [
        ["date", "member", "amount", "note"],
        ["2025-02-01", "H002", "200", "school fees"],
    ],
    "payments": [
        ["date", "member", "amount", "method", "reference"],
        ["2025-05-10", "H001", "1000", "mobile", "WX123"],
    ],
    "income": [
        ["date", "source", "amount"],
        ["2025-06-30", "Bank deposit interest", "12.30"],
    ],
    "transfers": [
        ["date", "from", "to", "amount", "note"],
        ["2025-04-09", "mobile", "cash", "500", "withdrawn"],
    ],
    "stock": [
        ["date", "product", "quantity", "unit", "value"],
        ["2025-12-31", "green tea", "3", "kg", "240"],
    ],
    "receipts": [
        ["date", "buyer", "amount", "method"],
        ["2025-06-15", "Tea Trading Co.", "1,860.00", "cash"],
    ],
    "assets": [
        ["code", "name", "acquired_on", "cost", "life_years", "salvage_pct", "paid_by", "project",
         "under_construction", "in_use_on"],
        ["GD-01", "tea dryer", "2025-02-01", "30,000.00", "10", "", "", "County agriculture bureau", "yes",
         "2025-03-15"],
    ],
    "journal": [
        ["voucher", "date", "memo", "account", "member", "debit", "credit", "attachments"],
        ["J1", "2025-03-31", "short-term loan", "102", "", "20,000.00", "", "2"],
        ["J1", "2025-03-31", "short-term loan", "201", "", "", "20000", ""],
    ],
    "opening": [
        ["account", "member", "debit", "credit", "note"],
        ["102", "", "1,000.00", "", "bank"],
        ["301", "H001", "", "1000", ""],
    ],
    "shares": [
        ["member", "shares", "kind", "note", "date", "from_member"],
        ["H001", "10.5", "", "2020 reform", "2020-06-30", ""],
        ["H002", "2.25", "transferred", "", "2025-03-01", "H001"],
    ],
}

SHEETS_ZH = {
    "entity": "主体", "households": "农户", "members": "成员", "capital": "股金", "land": "土地", "labor": "用工",
    "deliveries": "交售", "inputs": "农资", "sales": "销售", "expenses": "费用", "subsidies": "补助",
    "advances": "借支", "payments": "付款", "income": "投资收益", "opening": "期初余额",
    "transfers": "提现存现", "journal": "凭证", "receipts": "收款", "stock": "期末盘点",
    "assets": "固定资产", "shares": "份额",
}  # fmt: skip
HEADERS_ZH = {
    "code": "编码", "name": "名称", "kind": "类型", "township": "乡镇", "village": "村",
    "credit_code": "统一社会信用代码", "head_name": "户主", "phone": "电话", "id_number": "身份证号",
    "bank_account": "银行账号", "monitoring": "监测类型", "poverty_exited": "脱贫户", "member": "成员",
    "member_no": "成员编号", "joined_on": "入社日期", "left_on": "退社日期", "farmer": "农民", "date": "日期",
    "amount": "金额", "form": "出资方式", "note": "备注", "contract_no": "合同号", "area_mu": "面积（亩）",
    "shares": "股数", "base_rent_per_mu": "保底租金(元/亩)", "start_on": "起始日期", "end_on": "终止日期",
    "worker": "劳动者", "days": "天数", "rate": "日工资", "task": "工作内容", "product": "产品", "grade": "等级",
    "quantity": "数量", "unit": "单位", "unit_price": "单价", "paid": "已付", "item": "品名", "on_credit": "赊欠",
    "buyer": "购买方", "invoice_no": "发票号", "category": "类别", "payee": "收款方", "source": "来源",
    "quantify": "量化", "poverty_asset": "扶贫资产", "method": "方式", "reference": "凭据号",
    "account": "科目", "debit": "借方", "credit": "贷方", "from": "转出", "to": "转入",
    "voucher": "凭证号", "memo": "摘要", "attachments": "附件张数", "value": "成本",
    "acquired_on": "购置日期", "cost": "原值", "life_years": "使用年限", "salvage_pct": "残值率（%）",
    "paid_by": "付款方式", "project": "项目名称", "confirm": "确认", "under_construction": "在建工程", "in_use_on": "交付使用日期",
    "from_member": "转出成员",
}  # fmt: skip
VALUES_ZH = {
    "yes": "是", "no": "否", "farmer_coop": "农民专业合作社", "unstable": "脱贫不稳定户", "cash": "现金",
    "land": "土地", "kg": "公斤", "jin": "斤", "management": "管理", "fiscal": "财政", "mobile": "微信",
    "transferred": "转让",
}  # fmt: skip


def chinese(sheets: dict[str, list[list]]) -> dict[str, list[list]]:
    """The same workbook with Chinese sheet names, headers and enum values, columns reversed, plus an extra column."""
    result = {}
    for name, rows in sheets.items():
        header = [HEADERS_ZH[h] for h in rows[0]]
        if name == "households":
            header[0] = "户号"
        body = [[VALUES_ZH.get(v, v) if isinstance(v, str) else v for v in row] for row in rows[1:]]
        result[SHEETS_ZH[name]] = [[*reversed(header), "说明"], *([*reversed(row), "ignored"] for row in body)]
    return result


# ---------------------------------------------------------------- equivalence of containers and languages


def test_a_resident_id_number_must_pass_its_check_digit(tmp_path):
    """Issue 13 §7: a mistyped ID number fails GB 11643's check digit and is refused, without the number in the
    message; 15-digit first-generation numbers (no check digit) and a lower-case x pass."""
    rows = [["code", "head_name", "village", "id_number"],
            ["H1", "甲", "一村", "430821195001011237"],            # valid
            ["H2", "乙", "一村", "430821195001011234"],            # one digit off: the check digit no longer fits
            ["H3", "丙", "一村", "43082119500101123"],             # 17 characters
            ["H4", "丁", "一村", "430821500101123"],               # first generation, 15 digits
            ["H5", "戊", "一村", "11010519491231002x"]]            # X written small
    found = problems_of(write_xlsx(tmp_path / "ids.xlsx", {"households": rows}))
    assert found == [
        "households:3:id_number: This is not a valid resident ID number: its last character (the check digit) does "
        "not match the other 17 (GB 11643). Check it against the ID card.",
        "households:4:id_number: A resident ID number has 18 characters: 17 digits and a digit or X."]
    assert not any("430821195001011234" in p for p in found)


def test_english_workbook_reads_every_sheet(tmp_path):
    book = read_workbook(write_xlsx(tmp_path / "book.xlsx", ENGLISH))
    assert set(book.sheets) == set(SHEETS) == set(ENGLISH)
    assert book.source == str(tmp_path / "book.xlsx")
    assert re.fullmatch(r"[0-9a-f]{64}", book.digest)
    household = book.sheets["households"][0]
    assert household.values == {
        "code": "H001", "head_name": "张三", "village": "西村", "phone": "13800138000", "id_number": None,
        "bank_account": None, "monitoring": "unstable", "poverty_exited": True, "persons": None,
    }  # fmt: skip
    assert household.row == 2 and household.sheet == household.sheet_label == "households"
    assert book.sheets["capital"][0].values["amount"] == Decimal("1000.00")
    assert book.sheets["members"][1].values["left_on"] == date(2025, 1, 31)
    assert book.sheets["members"][0].values["member_no"] == 1


def test_chinese_names_give_same_values_and_digest(tmp_path):
    english = read_workbook(write_xlsx(tmp_path / "en.xlsx", ENGLISH))
    zh = read_workbook(write_xlsx(tmp_path / "zh.xlsx", chinese(ENGLISH)))
    assert values_of(zh) == values_of(english)
    assert zh.digest == english.digest
    row = zh.sheets["deliveries"][0]
    assert row.sheet == "deliveries" and row.sheet_label == "交售"
    assert row.columns["member"] == "成员" and row.columns["unit"] == "单位"


def test_xlsx_and_csv_folder_give_same_digest(tmp_path):
    from_csv = read_workbook(write_csv(tmp_path / "csv", ENGLISH))
    from_xlsx = read_workbook(write_xlsx(tmp_path / "book.xlsx", typed(ENGLISH)))
    from_zh_csv = read_workbook(write_csv(tmp_path / "zh", chinese(ENGLISH)))
    assert values_of(from_csv) == values_of(from_xlsx) == values_of(from_zh_csv)
    assert from_csv.digest == from_xlsx.digest == from_zh_csv.digest


def test_digest_changes_with_content(tmp_path):
    before = read_workbook(write_csv(tmp_path / "a", ENGLISH)).digest
    changed = {**ENGLISH, "income": [ENGLISH["income"][0], ["2025-06-30", "Bank deposit interest", "12.31"]]}
    assert read_workbook(write_csv(tmp_path / "b", changed)).digest != before
    fewer = {k: v for k, v in ENGLISH.items() if k != "income"}
    assert read_workbook(write_csv(tmp_path / "c", fewer)).digest != before


def test_only_sheets_present_are_imported(tmp_path):
    book = read_workbook(write_csv(tmp_path / "csv", {"advances": ENGLISH["advances"]}))
    assert list(book.sheets) == ["advances"]


# ---------------------------------------------------------------- problems


BAD = {
    "deliveries": [
        ["date", "member", "product", "quantity", "unit_price"],  # no unit column
        ["2025-03-01", "M1", "apple", "-5", "2.5"],
        ["", "", "", "", ""],
        ["2025-02-30", "M1", "apple", "5", "2.5"],
    ],
    "capital": [
        ["date", "member", "amount"],
        ["2025-03-01", "M1", "12.345"],
        ["2025-03-02", "", "10"],
    ],
    "付款": [
        ["日期", "成员", "金额", "方式"],
        ["2025-03-01", "M1", "100", "paypal"],
    ],
}
BAD_PROBLEMS = [
    "deliveries:1:unit: missing required column",
    "deliveries:2:quantity: must be positive",
    "deliveries:4:date: not a date (expected YYYY-MM-DD): '2025-02-30'",
    "capital:2:amount: more than two decimal places: '12.345'",
    "capital:3:member: required value is missing",
    "付款:2:方式: unknown value 'paypal' (expected bank, cash, mobile)",
]


def test_bad_xlsx_reports_every_problem_in_order(tmp_path):
    assert problems_of(write_xlsx(tmp_path / "bad.xlsx", BAD)) == BAD_PROBLEMS


def test_bad_xlsx_with_numeric_cells_reports_the_same(tmp_path):
    assert problems_of(write_xlsx(tmp_path / "bad.xlsx", typed(BAD))) == BAD_PROBLEMS


def test_bad_csv_folder_reports_every_problem(tmp_path):
    assert sorted(problems_of(write_csv(tmp_path / "bad", BAD))) == sorted(BAD_PROBLEMS)


def test_workbook_error_carries_problem_objects(tmp_path):
    with pytest.raises(WorkbookError) as caught:
        read_workbook(write_csv(tmp_path / "bad", {"capital": BAD["capital"]}))
    assert caught.value.problems[0] == Problem("capital", 2, "amount", "more than two decimal places: '12.345'")
    assert str(caught.value).splitlines()[0] == "capital:2:amount: more than two decimal places: '12.345'"


@pytest.mark.parametrize(
    ("column", "raw", "reason"),
    [
        ("quantity", "1.2345", "more than three decimal places: '1.2345'"),
        ("quantity", "0", "must be positive"),
        ("quantity", "abc", "not a number: 'abc'"),
        ("quantity", "1e3", "not a number: '1e3'"),
        ("quantity", "NaN", "not a number: 'NaN'"),
        ("quantity", "1,2", "not a number: '1,2'"),
        ("quantity", "1_000", "not a number: '1_000'"),
        ("quantity", "1" * 13, "number is too large: '1111111111111'"),
        ("unit_price", "-0.01", "must not be negative"),
        ("unit_price", "1.23456", "more than four decimal places: '1.23456'"),
        ("amount", "1.001", "more than two decimal places: '1.001'"),
        ("unit", "lb", "unknown value 'lb' (expected kg, jin)"),
        ("paid", "maybe", "unknown value 'maybe' (expected yes, no)"),
        ("member", "M 1", "must not contain spaces: 'M 1'"),
        ("date", "2025/13/01", "not a date (expected YYYY-MM-DD): '2025/13/01'"),
        ("date", "20250301", "not a date (expected YYYY-MM-DD): '20250301'"),
        ("product", "   ", "required value is missing"),
    ],
)
def test_delivery_cell_problems(tmp_path, column, raw, reason):
    row = {"date": "2025-03-01", "member": "M1", "product": "tea", "quantity": "1", "unit": "kg",
           "unit_price": "2", "amount": "", "paid": "", column: raw}  # fmt: skip
    folder = write_csv(tmp_path / "csv", {"deliveries": [list(row), list(row.values())]})
    assert problems_of(folder) == [f"deliveries:2:{column}: {reason}"]


def test_row_checks_and_duplicates(tmp_path):
    folder = write_csv(
        tmp_path / "csv",
        {
            "households": [
                ["code", "head_name", "village"],
                ["H001", "A", "V"],
                ["H002", "B", "V"],
                ["H001", "C", "V"],
            ],
            "members": [
                ["member", "member_no", "joined_on", "left_on"],
                ["M1", "1", "2024-01-01", "2023-12-31"],
                ["M2", "1", "2024-01-01", ""],
                ["M1", "x", "2024-01-01", ""],
                ["M3", "0", "2024-01-01", ""],
            ],
            "land": [
                ["member", "contract_no", "area_mu", "start_on", "end_on"],
                ["M1", "C1", "1.234", "2024-01-01", "2023-01-01"],
                ["M2", "C1", "1", "2024-01-01", ""],
            ],
        },
    )
    assert problems_of(folder) == [
        "households:4:code: duplicate household code 'H001' (first at row 2)",
        "land:2:area_mu: more than two decimal places: '1.234'",
        "land:2:end_on: end_on is before start_on",
        "land:3:contract_no: duplicate contract number 'C1' (first at row 2)",
        "members:2:left_on: left_on is before joined_on",
        "members:3:member_no: duplicate member number '1' (first at row 2)",
        "members:4:member_no: not a whole number: 'x'",
        "members:4:member: duplicate member 'M1' (first at row 2)",
        "members:5:member_no: must be positive",
    ]


def test_entity_needs_exactly_one_row(tmp_path):
    header, row = ENGLISH["entity"]
    assert problems_of(write_csv(tmp_path / "two", {"entity": [header, row, row]})) == [
        "entity:1:: entity sheet must have exactly one row (found 2)"
    ]
    assert problems_of(write_csv(tmp_path / "none", {"entity": [header]})) == [
        "entity:1:: entity sheet must have exactly one row (found 0)"
    ]


def test_unknown_and_duplicate_sheets_and_columns(tmp_path):
    path = write_xlsx(
        tmp_path / "book.xlsx",
        {
            "delivery": [["date"], ["2025-01-01"]],
            "Sheet1": [],  # an untouched sheet is ignored
            "income": [["date", "source", "amount", "金额"], ["2025-01-01", "bank", "1", "2"]],
            "投资收益": ENGLISH["income"],
        },
    )
    found = problems_of(path)
    assert found[0].startswith("delivery:1:: unknown sheet (expected one of entity, households,")
    assert found[1:] == [
        "income:1:金额: duplicate column 'amount' (also 'amount')",
        "投资收益:1:: duplicate sheet: 'income' is also 'income'",
    ]


def test_all_problems_are_collected_across_many_rows(tmp_path):
    rows = [["date", "source", "amount"]] + [["2025-01-01", "bank", "-1"]] * 500
    found = problems_of(write_csv(tmp_path / "csv", {"income": rows}))
    assert found == [f"income:{n}:amount: must be positive" for n in range(2, 502)]


# ---------------------------------------------------------------- defaults, blanks, headers, cells


def test_defaults_are_applied(tmp_path):
    book = read_workbook(write_csv(tmp_path / "csv", ENGLISH))
    deliveries = [row.values for row in book.sheets["deliveries"]]
    assert deliveries[0]["amount"] == Decimal("1000.00") and deliveries[0]["paid"] is True
    assert deliveries[1]["amount"] == Decimal("1.01")  # 3 × 0.335 = 1.005, rounded half-up
    assert deliveries[1]["paid"] is False
    assert deliveries[2]["amount"] == Decimal("24.00")  # a given amount overrides quantity × unit_price
    assert deliveries[0]["grade"] == "A" and deliveries[1]["grade"] is None
    land = book.sheets["land"][0].values
    assert land["shares"] == Decimal("2.5") == land["area_mu"]
    assert land["base_rent_per_mu"] == Decimal("300")
    assert book.sheets["members"][0].values["farmer"] is True
    assert book.sheets["households"][1].values["monitoring"] == "none"
    assert book.sheets["subsidies"][0].values["quantify"] is True
    assert book.sheets["inputs"][0].values["on_credit"] is False


def test_defaults_for_absent_columns(tmp_path):
    folder = write_csv(
        tmp_path / "csv",
        {
            "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price"],
                           ["2025-01-01", "M1", "tea", "2", "kg", "1.005"]],
            "land": [["member", "contract_no", "area_mu", "start_on"], ["M1", "C1", "3.25", "2024-01-01"]],
            "members": [["member", "member_no", "joined_on"], ["M1", "7", "2024-01-01"]],
            "payments": [["date", "member", "amount"], ["2025-01-01", "M1", "5"]],
            "capital": [["date", "member", "amount"], ["2025-01-01", "M1", "5"]],
        },
    )  # fmt: skip
    book = read_workbook(folder)
    delivery = book.sheets["deliveries"][0]
    assert delivery.values["amount"] == Decimal("2.01") and delivery.values["paid"] is True
    assert delivery.columns["amount"] == "amount"  # absent column: its canonical name
    land = book.sheets["land"][0].values
    assert land["shares"] == Decimal("3.25") and land["base_rent_per_mu"] == 0 and land["end_on"] is None
    assert book.sheets["members"][0].values == {
        "member": "M1", "member_no": 7, "joined_on": date(2024, 1, 1), "left_on": None, "farmer": True,
        "land_consent": False, "persons": None,
    }  # fmt: skip
    assert book.sheets["payments"][0].values["method"] == "bank"
    assert book.sheets["capital"][0].values["form"] == "cash"


def test_blank_rows_are_skipped_and_rows_keep_their_numbers(tmp_path):
    rows = [
        ["date", "source", "amount"],
        ["", "", ""],
        ["2025-01-01", "bank", "1"],
        ["  ", "\t", ""],
        [],
        ["2025-01-02", "bank", "oops"],
    ]
    assert problems_of(write_csv(tmp_path / "csv", {"income": rows})) == ["income:6:amount: not a number: 'oops'"]
    rows[-1][-1] = "2"
    book = read_workbook(write_xlsx(tmp_path / "book.xlsx", {"income": rows}))
    assert [row.row for row in book.sheets["income"]] == [3, 6]


def test_csv_with_byte_order_mark(tmp_path):
    folder = write_csv(
        tmp_path / "csv", {"投资收益": [["日期", "来源", "金额"], ["2025-01-01", "银行", "1.5"]]}, "utf-8-sig"
    )
    assert (folder / "投资收益.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    book = read_workbook(folder)
    assert book.sheets["income"][0].values == {"date": date(2025, 1, 1), "source": "银行", "amount": Decimal("1.50")}
    assert book.sheets["income"][0].columns["date"] == "日期"


def test_csv_that_is_not_utf8(tmp_path):
    folder = write_csv(tmp_path / "csv", {"income": [["日期", "来源", "金额"], ["2025-01-01", "银行", "1"]]}, "gbk")
    found = problems_of(folder)
    assert len(found) == 1 and found[0].startswith("income:0:: cannot read file: not UTF-8 text")


@pytest.mark.parametrize(
    "header", ["户号(code)", "code(户号)", "户号（code）", "  CODE ", "Code", "编码", "代码 (code)", "户号 ( code )"]
)
def test_header_forms(tmp_path, header):
    folder = write_csv(tmp_path / "csv", {"农户(households)": [[header, "户主", "村"], ["H1", "A", "V"]]})
    row = read_workbook(folder).sheets["households"][0]
    assert row.values["code"] == "H1" and row.columns["code"] == header.strip()


def test_sheet_and_enum_names_are_lenient(tmp_path):
    folder = write_csv(
        tmp_path / "csv",
        {
            " Expenses ": [["Date", "CATEGORY", "Amount"], ["2025-01-01", "Tax", "1"], ["2025-01-02", "税金", "2"]],
            "付款": [
                ["日期", "成员", "金额", "方式"],
                *(["2025-01-01", "M1", "1", m] for m in ("支付宝", "银行", "Cash")),
            ],
        },
    )
    book = read_workbook(folder)
    assert [r.values["category"] for r in book.sheets["expenses"]] == ["tax", "tax"]
    assert [r.values["method"] for r in book.sheets["payments"]] == ["mobile", "bank", "cash"]
    assert sheet_kind("交售") == "deliveries" and sheet_kind("交售（deliveries）") == "deliveries"
    assert sheet_kind("nope") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("n", False),
        ("TRUE", True),
        ("false", False),
        ("1", True),
        ("0", False),
    ],
)
def test_yes_no_values(tmp_path, raw, expected):
    folder = write_csv(
        tmp_path / "csv", {"members": [["member", "member_no", "joined_on", "farmer"], ["M1", "1", "2024-01-01", raw]]}
    )
    assert read_workbook(folder).sheets["members"][0].values["farmer"] is expected


def test_numbers_with_thousands_separators(tmp_path):
    rows = [["date", "source", "amount"], ["2025-01-01", "a", "1,234.50"], ["2025-01-01", "b", "1,234,567"]]
    book = read_workbook(write_csv(tmp_path / "csv", {"income": rows}))
    assert [r.values["amount"] for r in book.sheets["income"]] == [Decimal("1234.50"), Decimal("1234567.00")]


def test_xlsx_cells_of_every_type(tmp_path):
    path = write_xlsx(
        tmp_path / "book.xlsx",
        {
            "income": [
                ["date", "source", "amount"],
                [datetime(2025, 1, 1, 0, 0), 2024, 12.3],
                [date(2025, 1, 2), "bank", 7],
            ],
            "members": [["member", "member_no", "joined_on", "farmer"], ["M1", 3.0, "2024-01-01", True]],
        },
    )
    book = read_workbook(path)
    assert [r.values for r in book.sheets["income"]] == [
        {"date": date(2025, 1, 1), "source": "2024", "amount": Decimal("12.30")},
        {"date": date(2025, 1, 2), "source": "bank", "amount": Decimal("7.00")},
    ]
    assert book.sheets["members"][0].values["member_no"] == 3
    assert book.sheets["members"][0].values["farmer"] is True


def with_raw_number(path: Path, written: str, raw: str) -> Path:
    """Replace a number as openpyxl wrote it by ``raw`` (openpyxl shortens floats when writing)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert members[sheet].count(f"<v>{written}</v>".encode()) == 1
    members[sheet] = members[sheet].replace(f"<v>{written}</v>".encode(), f"<v>{raw}</v>".encode())
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_xlsx_float_noise_is_rejected(tmp_path):
    rows = [
        ["date", "source", "amount"],
        ["2025-01-01", "a", 0.25],  # becomes 0.1 + 0.2 = 0.30000000000000004, as a program computing it stores it
        ["2025-01-01", "b", 12.345],
        [2025, "c", True],
        ["2025-01-01", "d", 1e300],
    ]
    path = with_raw_number(write_xlsx(tmp_path / "book.xlsx", {"income": rows}), "0.25", repr(0.1 + 0.2))
    assert problems_of(path) == [
        "income:2:amount: more than two decimal places: '0.30000000000000004'",
        "income:3:amount: more than two decimal places: '12.345'",
        "income:4:date: not a date (expected YYYY-MM-DD): '2025'",
        "income:4:amount: not a number: 'True'",
        "income:5:amount: number is too large: '1e+300'",
    ]


def test_problem_helper_uses_headers_as_written(tmp_path):
    folder = write_csv(tmp_path / "csv", {"交售": [["日期", "成员", "产品", "数量", "单位", "单价"],
                                                 ["2025-01-01", "M9", "茶", "1", "斤", "2"]]})  # fmt: skip
    row = read_workbook(folder).sheets["deliveries"][0]
    assert str(problem(row, "member", "unknown member 'M9'")) == "交售:2:成员: unknown member 'M9'"
    assert str(row.problem("amount", "too much")) == "交售:2:amount: too much"


# ---------------------------------------------------------------- not a workbook


def _garbage_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a spreadsheet")
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: tmp / "missing.xlsx",
        lambda tmp: tmp / "missing-folder",
        lambda tmp: (tmp / "notes.txt").write_text("hello") and tmp / "notes.txt",
        lambda tmp: (tmp / "fake.xlsx").write_bytes(b"\x00\x01garbage") and tmp / "fake.xlsx",
        lambda tmp: (tmp / "empty.xlsx").write_bytes(b"") or tmp / "empty.xlsx",
        lambda tmp: _garbage_zip(tmp / "zip.xlsx"),
        lambda tmp: write_csv(tmp / "csv", {"income": ENGLISH["income"]}) / "income.csv",  # a lone CSV file
        lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
        lambda tmp: (tmp / "other").mkdir() or (tmp / "other" / "a.txt").write_text("x") and tmp / "other",
    ],
)
def test_not_a_workbook(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    [found] = caught.value.problems
    assert found.sheet == str(path) and found.row == 0 and found.column == ""
    assert found.reason.startswith("not a workbook: ")


def test_module_needs_no_database_or_web_framework():
    code = "import sys, cooperatives.workbook; print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'sqlalchemy'}))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- robustness (Hypothesis)

DELIVERY_HEADER = ["date", "member", "product", "grade", "quantity", "unit", "unit_price", "amount", "paid"]
cell_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "2025-02-28", "2025-02-30", "M1", "kg", "斤", "1", "-1", "0.335", "1,000.5", "是", "nan"]
    ),
)
rows_of = st.lists(st.lists(cell_text, min_size=0, max_size=11), max_size=6)
header_of = st.lists(st.sampled_from([*DELIVERY_HEADER, "数量", "单位", "x", "", "金额(元)"]), max_size=11)
hypothesis_settings = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _check_outcome(path: Path) -> None:
    try:
        book = read_workbook(path)
    except WorkbookError as exc:
        assert exc.problems and all(isinstance(p, Problem) for p in exc.problems)
        assert str(exc)
        return
    for row in book.sheets.get("deliveries", []):
        assert row.values["amount"] is not None and isinstance(row.values["quantity"], Decimal)


@hypothesis_settings
@given(header=st.one_of(st.just(DELIVERY_HEADER), header_of), rows=rows_of)
def test_random_csv_cells_only_raise_workbook_error(header, rows):
    with tempfile.TemporaryDirectory() as folder:
        _check_outcome(write_csv(Path(folder), {"deliveries": [header, *rows]}))


@hypothesis_settings
@given(data=st.binary(max_size=200))
def test_random_csv_bytes_only_raise_workbook_error(data):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "交售.csv").write_bytes(data)
        _check_outcome(Path(folder))


xlsx_cell = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=10),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    cell_text.filter(lambda s: s.isprintable()),
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(xlsx_cell, max_size=10), max_size=5))
def test_random_xlsx_cells_only_raise_workbook_error(rows):
    with tempfile.TemporaryDirectory() as folder:
        _check_outcome(write_xlsx(Path(folder) / "book.xlsx", {"deliveries": [DELIVERY_HEADER, *rows]}))


@pytest.mark.parametrize(("sheet", "row", "column", "zh"), [
    ("labor", {"date": "2025-03-01", "member": "M1", "days": "999999999", "rate": "99999", "confirm": "yes"}, "rate",
     "工资（天数 × 日工资）太大"),
    ("land", {"member": "M1", "contract_no": "C1", "area_mu": "999999999", "base_rent_per_mu": "99999",
              "start_on": "2025-01-01"},
     "base_rent_per_mu", "每年保底租金（面积(亩) × 保底租金(元/亩)）太大"),
])
def test_an_amount_too_large_to_compute_is_named_in_the_readers_language(tmp_path, sheet, row, column, zh):
    """A product the operation would compute (days × rate, area × rent) past the largest amount is refused at
    the column that makes it so, in words translated like every other problem (not an English f-string)."""
    from ledger.i18n import translations_for, use_translations

    use_translations(str(Path(__file__).resolve().parents[2] / "payouts" / "translations"))
    folder = write_csv(tmp_path / "csv", {sheet: [list(row), list(row.values())]})
    with pytest.raises(WorkbookError) as caught:
        read_workbook(folder)
    [found] = caught.value.problems
    assert (found.row, found.column) == (2, column)
    assert found.reason.translate(translations_for("zh_Hans_CN")) == zh
    assert found.reason.code == "too_large"


def test_a_workbook_without_the_later_columns_keeps_its_digest(tmp_path):
    """The columns added by issue 13 (确认 confirm, a subsidy's project — by default its source —, an expense's
    project, capital's account) are left out of the digest when they hold what a workbook without them gives, so a
    workbook imported before them is still the same workbook (and refused a second time). The figure is the digest
    this workbook had before they existed (commit 3094ddf)."""
    sheets = {
        "households": [["code", "head_name", "village", "bank_account"], ["H1", "甲", "一村", "6217991234567890124"]],
        "capital": [["date", "member", "amount", "form"], ["2025-01-02", "H1", "100", "in_kind"]],
        "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "amount"],
                       ["2025-05-01", "H1", "茶", "10", "kg", "2.5", "25"]],
        "subsidies": [["date", "source", "kind", "amount"], ["2025-03-01", "县财政", "fiscal", "90000"]],
        "expenses": [["date", "category", "amount"], ["2025-03-01", "management", "100"]],
    }
    book = read_workbook(write_xlsx(tmp_path / "old.xlsx", sheets))
    assert book.digest == "58d35c775181a68b032d77c36846ba35852fe3f1fb60e3ffff11583b8ac8672f"
    sheets["subsidies"] = [["date", "source", "kind", "amount", "project"],
                           ["2025-03-01", "县财政", "fiscal", "90000", "冷库项目"]]
    assert read_workbook(write_xlsx(tmp_path / "new.xlsx", sheets)).digest != book.digest

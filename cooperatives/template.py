"""The import template (导入模板): an ``.xlsx`` workbook a new user fills in and uploads (no Flask here).

One sheet per kind the importer reads (:data:`cooperatives.workbook.SHEETS`), named in Chinese, with Chinese column
headers; a notes sheet (说明) first, listing each sheet's columns: the header, its English key, whether it is
required, its format and what it means. Enumerated columns carry a list validation of their Chinese values (是/否,
公斤/斤, …), date columns a date validation and the ``yyyy-mm-dd`` format, code and number-like text columns (户号,
身份证号, 银行账号) the text format, so Excel keeps their leading zeros and all their digits.

Headers and values are *data*, not page text: fixed Chinese strings the importer accepts (each one is among the
column's aliases, :meth:`SheetSpec.column_for`), whatever the language of the person downloading — a workbook is read
back by the importer, and one filled in by an English reader imports the same way. Only the notes sheet's prose is
translated, in the reader's language (``gettext``).

The example rows (grey, italic, one or a few a sheet) are real, valid data for a tiny made-up cooperative: the
template as downloaded imports without a problem (``tests/cooperatives/test_template.py`` imports it), so a user
can try the import first and see what it does; they are to be replaced by the user's own rows. A template for an
existing entity has that entity's own row in the ``entity`` sheet (not an example), example member numbers after its
last one, example dates in a year its books accept, and no example opening balances once its books have entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook as XlsxWorkbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from cooperatives.labels import COLUMN_LABELS, RECORD_LABELS
from cooperatives.workbook import NOTES_SHEET, SHEETS, Column, Derived, SheetSpec
from ledger.cells import save_workbook
from ledger.clock import china_today
from ledger.i18n import N_

#: the header a column gets in the template where its first Chinese alias is not the clearest (sheet, column)
_HEADERS = {
    ("households", "code"): "户号", ("assets", "code"): "资产编号", ("assets", "name"): "资产名称",
    ("shares", "shares"): "份额数", ("shares", "kind"): "份额类别", ("entity", "name"): "名称",
    ("stock", "value"): "成本", ("journal", "voucher"): "凭证号", ("payments", "reference"): "凭据号",
}  # fmt: skip
#: text columns kept as text in Excel (a code, an ID or bank number typed as a number loses digits)
_TEXT_FORMAT = frozenset({"code", "member", "from_member", "id_number", "bank_account", "phone", "contract_no",
                          "credit_code", "invoice_no", "account", "voucher", "reference"})
_SHEET_LABELS = {"entity": N_("Entity"), "households": N_("Households"), "members": N_("Members"),
                 "opening": N_("Opening balances"), **RECORD_LABELS}
_ONLY_COLLECTIVES = frozenset({"shares"})
ROWS_VALIDATED = 2000       #: rows a validation covers below the header
_EXAMPLE = PatternFill("solid", fgColor="EEEEEE")
_HEADER = PatternFill("solid", fgColor="DDEBF7")


def header(sheet: str, column: Column) -> str:
    """The Chinese header of ``column`` of ``sheet`` in the template (one the importer reads as that column)."""
    chinese = [alias for alias in column.aliases if not alias.isascii()]
    return _HEADERS.get((sheet, column.name)) or (chinese[0] if chinese else column.name)


def sheet_title(spec: SheetSpec) -> str:
    return next((alias for alias in spec.aliases if not alias.isascii()), spec.name)


def _choices(column: Column) -> list[str] | None:
    """The values offered in a list validation: each value's first Chinese name (else the value itself)."""
    kind = column.type
    if kind.name == "bool":
        return ["是", "否"]
    values = getattr(kind, "values", None)
    if not values:
        return None
    names = {}
    for alias, value in kind.table.items():
        if not alias.isascii():
            names.setdefault(value, alias)
    return [names.get(value, value) for value in values]


def _format(column: Column) -> str:
    name = column.type.name
    if name == "date":
        return N_("date, e.g. 2026-07-06, 2026/7/6 or 2026年7月6日")
    if name == "bool":
        return N_("是 (yes) or 否 (no)")
    if name == "money":
        return N_("yuan, at most two decimals")
    if name == "int":
        return N_("a whole number")
    if name.startswith("decimal"):
        return N_("a number")
    if getattr(column.type, "values", None):
        return N_("one of the list") if getattr(column.type, "closed", True) else N_("text; 公斤 and 斤 are known units")
    if name == "code":
        return N_("a code: letters, digits, - _ . or Chinese characters, no spaces")
    return N_("text")


@dataclass(frozen=True)
class EntityFacts:
    """What the template of an existing entity needs to know of it."""

    code: str
    name: str
    kind: str
    township: str
    village: str | None
    credit_code: str | None
    books_start: dt.date
    has_entries: bool
    next_member_no: int


def _examples(year: int, kind: str, member_no: int, has_entries: bool) -> dict[str, list[list]]:
    """Example rows by sheet, by column name: a tiny cooperative's first quarter, valid together."""
    d = lambda month, day: dt.date(year, month, day)        # noqa: E731
    collective = kind == "collective"
    equity = "301"                                      # 股金 (cooperatives) / 资本 (collectives), by member
    rows: dict[str, list[dict]] = {
        "households": [{"code": "EX-H001", "head_name": "张示例", "village": "示例村", "monitoring": "none",
                        "poverty_exited": False, "persons": 4}],
        "members": [{"member": "EX-H001", "member_no": member_no, "joined_on": d(1, 1), "farmer": True}],
        "opening": [] if has_entries else [
            {"account": "102", "debit": Decimal("500.00"), "note": "期初银行存款"},
            {"account": equity, "member": "EX-H001", "credit": Decimal("500.00"), "note": "期初股金"}],
        "capital": [{"date": d(1, 10), "member": "EX-H001", "amount": Decimal("1000.00"), "form": "cash",
                     "note": "入股"}],
        "land": [{"member": "EX-H001", "contract_no": "EX-TD001", "area_mu": Decimal("2.5"),
                  "base_rent_per_mu": Decimal("300"), "start_on": d(1, 1)}],
        "subsidies": [{"date": d(2, 1), "source": "县农业农村局", "kind": "fiscal", "amount": Decimal("5000.00"),
                       "quantify": True, "poverty_asset": False, "project": "示例提升项目"}],
        "assets": [{"code": "EX-ZC001", "name": "杀青机", "acquired_on": d(2, 15), "cost": Decimal("5000.00"),
                    "life_years": 10, "salvage_pct": Decimal("5"), "paid_by": "bank", "project": "示例提升项目",
                    "poverty_asset": False, "under_construction": False}],
        "transfers": [{"date": d(3, 1), "from_account": "bank", "to_account": "cash", "amount": Decimal("1000.00"),
                       "note": "提现"}],
        "labor": [{"date": d(3, 1), "member": "EX-H001", "worker": "张示例", "days": Decimal("2"),
                   "rate": Decimal("120"), "task": "采摘"}],
        "inputs": [{"date": d(3, 2), "member": "EX-H001", "item": "有机肥", "amount": Decimal("200.00"),
                    "on_credit": True}],
        "deliveries": [{"date": d(3, 5), "member": "EX-H001", "product": "鲜叶", "grade": "一级",
                        "quantity": Decimal("50"), "unit": "jin", "unit_price": Decimal("8"),
                        "amount": Decimal("400.00"), "paid": True, "paid_by": "cash"}],
        "sales": [{"date": d(3, 10), "buyer": "示例茶厂", "product": "鲜叶", "quantity": Decimal("50"), "unit": "jin",
                   "amount": Decimal("600.00"), "paid_by": "credit"}],
        "expenses": [{"date": d(3, 15), "category": "management", "amount": Decimal("50.00"), "payee": "文具店",
                      "note": "办公用品", "paid_by": "cash"}],
        "advances": [{"date": d(3, 18), "member": "EX-H001", "amount": Decimal("100.00"), "note": "借支"}],
        "receipts": [{"date": d(3, 20), "buyer": "示例茶厂", "amount": Decimal("600.00"), "method": "bank"}],
        "payments": [{"date": d(3, 25), "member": "EX-H001", "amount": Decimal("240.00"), "method": "cash",
                      "paid_for": "labor"}],
        "income": [{"date": d(3, 28), "source": "示例联合体项目", "amount": Decimal("100.00")}],
        "journal": [{"voucher": "1", "date": d(3, 31), "memo": "存现", "account": "102", "debit": Decimal("10.00"),
                     "attachments": 1},
                    {"voucher": "1", "date": d(3, 31), "memo": "存现", "account": "101", "credit": Decimal("10.00")}],
        "stock": [{"date": d(12, 31), "product": "鲜叶", "quantity": Decimal("10"), "unit": "jin",
                   "value": Decimal("80.00")}],
        "shares": [{"member": "EX-H001", "shares": Decimal("1"), "kind": "member"}] if collective else [],
    }
    return rows


def _shown(column: Column, value):
    """A value as the template writes it: enumerations and yes/no by their Chinese names."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    choices = _choices(column)
    values = getattr(column.type, "values", None)
    if choices and values and value in values:
        return choices[list(values).index(value)]
    return value            # a Decimal as it is: openpyxl writes it as a number cell, exactly as its digits


def build_template(gettext: Callable[[str], str] | None = None, entity: EntityFacts | None = None,
                   today: dt.date | None = None) -> bytes:
    """The template as ``.xlsx`` bytes: for ``entity`` (its own entity row), or for a new one (an example entity)."""
    _ = gettext or (lambda text: text)
    today = today or china_today()
    year = max(today.year, entity.books_start.year) if entity else today.year
    kind = entity.kind if entity else "farmer_coop"
    examples = _examples(year, kind, entity.next_member_no if entity else 1, entity.has_entries if entity else False)
    if entity is not None:
        entity_row = {"code": entity.code, "name": entity.name, "kind": entity.kind, "township": entity.township,
                      "village": entity.village, "credit_code": entity.credit_code, "books_start": entity.books_start}
    else:
        entity_row = {"code": "EX-COOP", "name": "示例茶叶专业合作社", "kind": kind, "township": "示例镇",
                      "village": "示例村", "books_start": dt.date(year, 1, 1)}
    book = XlsxWorkbook()
    notes = book.active
    notes.title = NOTES_SHEET
    _write_notes(notes, _, kind)
    for name, spec in SHEETS.items():
        sheet = book.create_sheet(sheet_title(spec))
        rows = [entity_row] if name == "entity" else examples.get(name, [])
        _write_sheet(sheet, spec, rows, example=name != "entity" or entity is None)
    return save_workbook(book)        # an entity's name typed as "=…" stays text (ledger.cells)


def _write_sheet(sheet, spec: SheetSpec, rows: list[dict], *, example: bool) -> None:
    last = ROWS_VALIDATED + 1
    for index, column in enumerate(spec.columns, 1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=header(spec.name, column))
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        cell.fill = _HEADER
        sheet.column_dimensions[letter].width = max(10, 2 * len(cell.value) + 4)
        for number, values in enumerate(rows, 2):
            target = sheet.cell(row=number, column=index, value=_shown(column, values.get(column.name)))
            if example:
                target.fill, target.font = _EXAMPLE, Font(italic=True, color="595959")
            if column.type.name == "date":
                target.number_format = "yyyy-mm-dd"
            elif column.name in _TEXT_FORMAT or column.type.name == "code":
                target.number_format = "@"
        if column.type.name == "date":
            sheet.column_dimensions[letter].number_format = "yyyy-mm-dd"
            sheet.column_dimensions[letter].width = 12
            rule = DataValidation(type="date", operator="between", formula1="DATE(1990,1,1)",
                                  formula2="DATE(2099,12,31)", allow_blank=True, errorStyle="warning",
                                  showErrorMessage=True, error="日期，例如 2026-07-06", errorTitle="日期")
        elif (choices := _choices(column)) is not None:
            closed = getattr(column.type, "closed", True)
            rule = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                                  errorStyle="stop" if closed and column.type.name == "bool" else "warning",
                                  showErrorMessage=True, error="请从列表中选择：" + "、".join(choices),
                                  errorTitle=header(spec.name, column))
        else:
            if column.name in _TEXT_FORMAT or column.type.name == "code":
                sheet.column_dimensions[letter].number_format = "@"
            continue
        rule.add(f"{letter}2:{letter}{last}")
        sheet.add_data_validation(rule)
    sheet.freeze_panes = "A2"


def _default(column: Column) -> str:
    if column.default is None or isinstance(column.default, Derived):
        return column.default.description if isinstance(column.default, Derived) else ""
    return str(_shown(column, column.default))


def _write_notes(sheet, _: Callable[[str], str], kind: str) -> None:
    lines = [
        _("How to fill in this workbook"),
        _("Each sheet is one kind of record; row 1 holds the column headers: keep them as they are. Columns in red "
          "are required. Only the sheets you fill in are imported; delete or leave empty the others."),
        _("The grey rows are examples for a made-up cooperative: they import as they are, so you can try the import "
          "with “Check only, write nothing”. Replace them with your own rows before the real import."),
        _("Dates may be typed 2026-07-06, 2026/7/6 or 2026年7月6日; amounts are in yuan with at most two decimals. "
          "Yes/no columns take 是 or 否."),
        _("If any row is wrong, nothing is imported and every problem is listed by sheet, row and column."),
        "",
    ]
    for text in lines:
        sheet.append([text])
    sheet["A1"].font = Font(bold=True, size=14)
    titles = [_("Sheet"), _("Column"), _("Key"), _("Required"), _("Format"), _("Meaning"), _("Default"),
              _("Allowed values")]
    sheet.append(titles)
    for cell in sheet[sheet.max_row]:
        cell.font, cell.fill = Font(bold=True), _HEADER
    for name, spec in SHEETS.items():
        title = f"{sheet_title(spec)} ({_(_SHEET_LABELS.get(name, name))})"
        if name in _ONLY_COLLECTIVES:
            title += " — " + _("village collectives only")
        if name == "entity":
            title += " — " + _("exactly one row")
        for column in spec.columns:
            choices = _choices(column)
            sheet.append([title, header(name, column), column.name, _("yes") if column.required else _("no"),
                          _(_format(column)), _(COLUMN_LABELS.get(column.name, column.name)), _default(column),
                          "、".join(choices) if choices else ""])
    for letter, width in zip("ABCDEFGH", (28, 16, 18, 8, 36, 40, 16, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=1, max_row=5):
        row[0].alignment = Alignment(wrap_text=False)

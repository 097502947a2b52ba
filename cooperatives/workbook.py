"""Parsing and validation of the cooperative import workbook (no database, no web framework).

The format
==========

A workbook is either an ``.xlsx`` file with one worksheet per kind of record, or a folder with one
``<sheet>.csv`` file (UTF-8, a byte-order mark is allowed) per kind.  Only the sheets present are
imported.  Sheet and column names may be written in English or in Chinese (see :data:`SHEETS`);
English names are matched case-insensitively, surrounding whitespace is ignored, full-width
parentheses count as ASCII ones, and a header may give both names, one in parentheses after the
other: ``户号(code)``, ``code（户号）``, ``金额(元)``.  Unknown extra columns are ignored; a sheet whose
name is not a known kind is a problem ("unknown sheet") unless it is completely empty (like the
untouched ``Sheet1`` that spreadsheet programs create).

Sheets (Chinese name) and columns, ``*`` = required; :data:`SHEETS` is the authoritative list::

    entity (主体)        exactly one row: code*, name*, kind*, township*, village, credit_code
    households (农户)    code* (户号), head_name*, village*, phone, id_number, bank_account,
                         monitoring (default none), poverty_exited (default no), persons (家庭人口)
    members (成员)       member*, member_no*, joined_on*, left_on, farmer (default yes), land_consent,
                         persons (家庭人口: fills the member household's record)
    capital (股金)       date*, member*, amount*, form (default cash), note
    land (土地)          member*, contract_no*, area_mu*, shares (default area_mu),
                         base_rent_per_mu (default 0), start_on*, end_on
    labor (用工)         date*, member*, worker, days*, rate*, task
    deliveries (交售)    date*, member*, product*, grade, quantity*, unit*, unit_price*,
                         amount (default quantity × unit_price, rounded half-up to the fen), paid (default yes),
                         paid_by (cash, bank, mobile; default cash)
    inputs (农资)        date*, member*, item*, amount*, on_credit (default yes)
    sales (销售)         date*, buyer*, product*, quantity, unit, amount*, invoice_no, member,
                         paid_by (bank, cash, mobile, credit; default bank)
    expenses (费用)      date*, category*, amount*, payee, note, paid_by (bank, cash, mobile; default bank), project
    subsidies (补助)     date*, source*, kind*, amount*, quantify (default yes), poverty_asset (default no),
                         project (default the source)
    advances (借支)      date*, member*, amount*, note
    payments (付款)      date*, member*, amount*, method (default bank), reference, for (account, labor)
    transfers (提现存现) date*, from*, to* (cash, bank, mobile), amount*, note
    receipts (收款)      date*, buyer*, amount*, method (default bank)
    stock (期末盘点)     date* (31 December), product*, quantity*, unit*, value*
    assets (固定资产)    code*, name*, acquired_on*, cost*, life_years*, salvage_pct (default 5), paid_by (bank, cash,
                         mobile, in_kind; default bank), project, poverty_asset, under_construction, in_use_on
    journal (凭证)       voucher*, date*, memo*, account*, member, debit, credit, attachments (附件张数)
    income (投资收益)    date*, source*, amount*
    shares (份额)        member*, shares*, kind (member, reform, inherited, transferred; default member), note,
                         date (default the day the books start), from_member (who an inherited or transferred
                         row's shares come from) — collectives only; posts nothing (份额登记簿)

The sheets of households and of a member's records (capital, labor, deliveries, inputs, sales, advances,
payments) also take ``confirm`` (确认, default no): a plausibility warning of the row — a bank card failing its
Luhn digit, an amount that is not quantity × unit price, more labour days than the month has, a record outside
the membership, a payment above what is owed — stops it until the row says yes (an extension of INTERFACES §3).

Within a sheet, household codes, member codes, member numbers and land contract numbers must be
unique; ``left_on``/``end_on`` must not be before ``joined_on``/``start_on``.

Row 1 is the header, data starts at row 2; rows whose cells are all blank are skipped but keep
their numbering.  Columns right of the header's last filled cell are not read (a filled cell there
still makes its row non-blank).  Cell values:

* text is stripped of surrounding whitespace, and an empty cell is a missing value;
* ``code`` values (household and member codes) must not contain whitespace;
* dates are ``YYYY-MM-DD`` (in xlsx a real date or datetime cell is also accepted);
* numbers are plain decimals, optionally with thousands separators (``1,234.50``); in xlsx a numeric
  cell is taken at its shortest ``repr`` so ``12.3`` is ``12.3`` but a float with binary noise such
  as ``0.30000000000000004`` has too many decimal places and is rejected.  Every number is bounded
  by a number of decimal places and a sign rule, and must be below 10**15.  Values come back as
  Decimals quantized to their column (amounts and rates 2 places, quantity 3, unit_price and shares 4,
  days and area_mu 2), so ``12.3`` yuan is ``Decimal("12.30")``;
* yes/no values accept yes/no, y/n, true/false, 1/0, 是/否;
* enumerations accept the English value (any case) or its Chinese name; ``sales.unit`` is free text
  in which only the known units are normalised (``公斤`` -> ``kg``).

Guarantees
==========

:func:`read_workbook` either returns a :class:`Workbook` in which every row of every sheet is fully
valid, typed (``str``, ``Decimal``, ``date``, ``bool``, ``int`` or ``None``) and has its defaults
applied, or raises :class:`WorkbookError` listing *every* problem found in the file, each as
``sheet:row:column: reason``.  Nothing partially valid is ever returned, and no other exception
escapes for bad input: a missing path, an unreadable file or something that is not a workbook is
reported as a :class:`WorkbookError` too (row 0; row 0 always means "the whole file").

Reading is bounded in time and memory by :class:`~cooperatives.limits.ReadLimits` (the ``limits``
argument): a file past a limit — a zip that unpacks to too much, a row numbered past ``max_rows``, too
many sheets or CSV files — is a problem like any other, found before the data it concerns is
decompressed or parsed; a sheet's XML is streamed, each row forgotten once checked.

References between sheets (a member code used in ``deliveries`` but not listed in ``members``) are
*not* checked here; the loader checks them against the database and the file, and reports them in
the same format with :func:`problem`.

:attr:`Workbook.digest` is a SHA-256 over the canonical typed values (sheets by canonical name, rows
in file order, columns in specification order, defaults applied), so the same content gives the same
digest whether it comes as xlsx or CSV and whatever language the headers are in.
"""

from __future__ import annotations

import calendar
import csv
import functools
import hashlib
import os
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from openpyxl.cell.text import Text
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.worksheet._reader import CELL_TAG, ROW_TAG, WorkSheetParser
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

from cooperatives.limits import DEFAULT_LIMITS, MIB, ReadLimits
from ledger.clock import china_today
from ledger.errors import Problem  # the one shape of a refusal: sheet, row, column, reason
from ledger.i18n import N_, Message, msg
from ledger.i18n import label as word
from ledger.money import D, quantize

__all__ = [
    "BOOL",
    "CODE",
    "DATE",
    "INT",
    "MONEY",
    "SHEETS",
    "TEXT",
    "Column",
    "ColumnType",
    "Derived",
    "Problem",
    "ReadLimits",
    "Row",
    "SheetSpec",
    "Workbook",
    "WorkbookError",
    "decimal",
    "digest",
    "enum",
    "money",
    "problem",
    "read_workbook",
    "sheet_kind",
]

# --------------------------------------------------------------------------- results and problems


@dataclass(frozen=True, slots=True)
class Row:
    """One validated data row.

    ``values`` maps every column of the sheet's specification to its typed value, defaults applied.
    ``columns`` maps every column to its header as written in the file (the canonical name when the
    column is absent); it is shared by all rows of a sheet and must not be modified.
    """

    sheet: str
    sheet_label: str
    row: int
    values: dict[str, Any]
    columns: dict[str, str]

    def problem(self, column: str, reason: str) -> Problem:
        """A problem about ``column`` of this row, located as the user wrote it."""
        return problem(self, column, reason)


def problem(row: Row, column: str, reason: str) -> Problem:
    """Build a :class:`Problem` for ``column`` (canonical name) of a validated ``row``.

    For the loader, e.g. ``problem(row, "member", "unknown member 'M9'")`` gives
    ``交售:5:成员: unknown member 'M9'`` when the file used Chinese names.
    """
    return Problem(row.sheet_label, row.row, row.columns.get(column, column), reason)


@dataclass
class Workbook:
    """A fully valid workbook: canonical sheet kind -> rows (only the kinds present in the file)."""

    sheets: dict[str, list[Row]]
    source: str
    digest: str
    #: rows refused for a problem in a cell, with the values of their cells that did read (the others left out), so
    #: the loader can still name what else is wrong with the row — every problem of a row at once; never written
    rejected: dict[str, list[Row]] = field(default_factory=dict)


class WorkbookError(Exception):
    """The workbook cannot be imported; :attr:`problems` lists every problem found."""

    SHOWN = 50

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems[: self.SHOWN]]
        if len(self.problems) > self.SHOWN:
            lines.append(f"... and {len(self.problems) - self.SHOWN} more problems")         # (a log line)
        return "\n".join(lines)


def _not_a_workbook(source: str, why: str) -> WorkbookError:
    return WorkbookError([Problem(source, 0, "", msg(N_("not a workbook: %(why)s"), why=why, code="not_a_workbook"))])


# --------------------------------------------------------------------------- column types


class _Invalid(Exception):
    """A cell value cannot be converted; ``args[0]`` is the reason."""


_BLANK: Any = object()  # what a converter returns for an empty cell
_MAX = Decimal(10) ** 12  # every number must be smaller than this in absolute value (a trillion: the fen of
#                          ~90,000 such amounts still fit a 64-bit balance, on SQLite too)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_GROUPED_NUMBER = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_PLACES = {0: N_("zero"), 1: N_("one"), 2: N_("two"), 3: N_("three"), 4: N_("four")}


def _show(raw: Any) -> str:
    """A cell value quoted for a message, shortened if long."""
    text = raw.strip() if isinstance(raw, str) else repr(raw) if isinstance(raw, float) else str(raw)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _cell_text(raw: Any) -> str:
    """Text of a non-string (xlsx) cell for a text column."""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, float):
        if raw != raw or abs(raw) >= 1e15:
            raise _Invalid(msg(N_("number cannot be stored exactly in a numeric cell, format the cell as text: "
                                  "%(value)s"), value=_show(raw), code="inexact_number"))
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


class ColumnType:
    """How a column's cells are converted: :meth:`parse` turns a non-``None`` cell into a value.

    ``parse`` returns the typed value, the private blank marker for an empty cell, or raises
    ``_Invalid(reason)``.  It must be a pure function of the cell: results are cached per column.
    """

    name = "str"

    def parse(self, raw: Any) -> Any:
        if raw.__class__ is str:
            text = raw.strip()
            return text if text else _BLANK
        return _cell_text(raw)

    def __repr__(self) -> str:
        return self.name


class _Code(ColumnType):
    name = "code"

    def parse(self, raw: Any) -> Any:
        from cooperatives.codes import code_problem, normalize_code  # one spelling per code, no look-alikes

        text = super().parse(raw)
        if text is not _BLANK and len(text.split()) != 1:
            raise _Invalid(msg(N_("must not contain spaces: %(value)s"), value=_show(text), code="code_spaces"))
        if text is not _BLANK and (problem := code_problem(text)) is not None:
            raise _Invalid(problem)
        return text if text is _BLANK else normalize_code(text)


#: full-width ASCII forms (０-９, －, ／, ．, ，, ：, full-width space) as their ASCII selves: a cell typed with a Chinese
#: input method in full-width mode reads as the same number or date
_HALF_WIDTH = {**{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}, 0x3000: 0x20}
#: Excel's serial day numbers of 1990-01-01 and 2099-12-31: a date cell whose format was lost (or whose value was
#: typed as its number) reads as such a number; outside this span a number is not taken for a date
_SERIAL_SPAN = (32874, 73050)
_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_FORMS = (
    re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?:[ T]0{1,2}:00(?::00(?:\.0+)?)?)?"),
    re.compile(r"([0-9]{4}) *年 *([0-9]{1,2}) *月 *([0-9]{1,2}) *[日号]?"),
)


def half_width(text: str) -> str:
    """``text`` with full-width digits, signs and punctuation as ASCII (``２０２６－０７－０６`` → ``2026-07-06``)."""
    return text.translate(_HALF_WIDTH) if not text.isascii() else text


def _serial_date(number: int | float | Decimal) -> date | None:
    """The date of an Excel serial day number (a whole number in :data:`_SERIAL_SPAN`), else None."""
    if number != int(number) or not _SERIAL_SPAN[0] <= number <= _SERIAL_SPAN[1]:
        return None
    return _EXCEL_EPOCH + timedelta(days=int(number))


def parse_date(raw: Any) -> date | None:
    """The one reading of a date everywhere the workbook reads one: an Excel date (or date-time at midnight) cell,
    an Excel serial day number (a date cell whose format was lost, or its number typed as text), or text written
    ``2026-07-06``, ``2026/7/6``, ``2026.7.6``, ``2026年7月6日`` — in full-width digits too — with an optional
    ``00:00:00``. None for an empty cell; raises ``_Invalid`` for anything else (a day that does not exist)."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if raw.__class__ in (int, float) and not isinstance(raw, bool):
        found = _serial_date(raw) if raw == raw and abs(raw) < 1e9 else None
        if found is None:
            raise _Invalid(msg(N_("not a date (expected YYYY-MM-DD): %(value)s"), value=_show(raw), code="not_a_date"))
        return found
    text = half_width(str(raw)).strip()
    if not text:
        return None
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                break
    else:
        if len(text) == 5 and text.isascii() and text.isdigit() and (found := _serial_date(int(text))) is not None:
            return found
    raise _Invalid(msg(N_("not a date (expected YYYY-MM-DD): %(value)s"), value=_show(raw), code="not_a_date"))


class _Date(ColumnType):
    name = "date"

    def parse(self, raw: Any) -> Any:
        found = parse_date(raw)
        return _BLANK if found is None else found


def _text_decimal(text: str) -> Decimal:
    """Strict decimal notation: digits, optional sign, point and thousands separators."""
    if not (_PLAIN_NUMBER.fullmatch(text) or _GROUPED_NUMBER.fullmatch(text)):
        raise _Invalid(msg(N_("not a number: %(value)s"), value=_show(text), code="not_a_number"))
    return D(text)


def _to_decimal(raw: Any) -> Any:
    """A Decimal (or the blank marker) from a text, int, float or Decimal cell."""
    cls = raw.__class__
    if cls is str:
        text = half_width(raw).strip()
        return _text_decimal(text) if text else _BLANK
    if cls is int:
        return Decimal(raw)
    if cls is float and raw - raw == 0:  # finite
        return D(repr(raw))
    if cls is Decimal and raw.is_finite():
        return raw
    raise _Invalid(msg(N_("not a number: %(value)s"), value=_show(raw), code="not_a_number"))


class _Decimal(ColumnType):
    """A decimal with at most ``places`` decimals that is positive (or, if not, non-negative)."""

    def __init__(self, places: int, positive: bool = True, name: str = ""):
        self.places = places
        self.positive = positive
        self.step = Decimal(1).scaleb(-places)
        self.zero = Decimal(0).quantize(self.step)
        self.name = name or f"decimal({places})"

    def parse(self, raw: Any) -> Any:
        number = _to_decimal(raw)
        if number is _BLANK:
            return number
        if self.positive and number <= 0:
            raise _Invalid(msg(N_("must be positive"), code="not_positive"))
        if number < 0:
            raise _Invalid(msg(N_("must not be negative"), code="negative"))
        if number >= _MAX:
            raise _Invalid(msg(N_("number is too large: %(value)s"), value=_show(raw), code="too_large"))
        rounded = number.quantize(self.step)
        if rounded != number:
            raise _Invalid(msg(N_("more than %(places)s decimal places: %(value)s"), places=word(_PLACES[self.places]),
                               value=_show(raw), code="decimal_places"))
        return rounded if rounded else self.zero  # never a negative zero


class _Int(ColumnType):
    """A positive whole number."""

    name = "int"

    def parse(self, raw: Any) -> Any:
        cls = raw.__class__
        if cls is str:
            text = half_width(raw).strip()
            if not text:
                return _BLANK
            digits = text[1:] if text[0] in "+-" else text
            if not (digits.isascii() and digits.isdigit() and len(digits) <= 15):
                raise _Invalid(msg(N_("not a whole number: %(value)s"), value=_show(text), code="not_whole"))
            number = int(text)
        elif cls is int:
            number = raw
        elif cls is float and raw.is_integer() and abs(raw) < 1e15:
            number = int(raw)
        else:
            raise _Invalid(msg(N_("not a whole number: %(value)s"), value=_show(raw), code="not_whole"))
        if number <= 0:
            raise _Invalid(msg(N_("must be positive"), code="not_positive"))
        return number


class _Enum(ColumnType):
    """One of ``values``; English any case, or a Chinese (or other) alias."""

    def __init__(
        self, values: Sequence[str], aliases: dict[str, str] | None = None, name: str = "enum", closed: bool = True
    ):
        self.closed = closed  # an open enumeration normalises known values and keeps any other text
        self.values = tuple(values)
        self.table = {value.lower(): value for value in self.values}
        self.table.update({alias.lower(): value for alias, value in (aliases or {}).items()})
        self.name = name
        self.expected = ", ".join(self.values)

    def parse(self, raw: Any) -> Any:
        text = raw.strip() if raw.__class__ is str else _cell_text(raw)
        if not text:
            return _BLANK
        value = self.table.get(text.lower())
        if value is None:
            if not self.closed:
                return text
            raise _Invalid(msg(N_("unknown value %(value)s (expected %(expected)s)"), value=_show(text),
                               expected=self.expected, code="unknown_value"))
        return value


class _Bool(_Enum):
    def __init__(self) -> None:
        words = {"yes": True, "y": True, "true": True, "1": True, "是": True,
                 "no": False, "n": False, "false": False, "0": False, "否": False}  # fmt: skip
        super().__init__(("yes", "no"), name="bool")
        self.table = dict(words)

    def parse(self, raw: Any) -> Any:
        if raw.__class__ is bool:
            return raw
        if raw.__class__ in (int, float) and raw in (0, 1):
            return raw == 1
        return super().parse(raw)


TEXT = ColumnType()
CODE = _Code()
DATE = _Date()
INT = _Int()
BOOL = _Bool()
MONEY = _Decimal(2, positive=True, name="money")


def money(positive: bool = True) -> ColumnType:
    """Yuan with at most two decimals; positive, or just non-negative."""
    return MONEY if positive else _Decimal(2, positive=False, name="money")


def decimal(places: int, positive: bool = True) -> ColumnType:
    """A decimal with at most ``places`` decimals; positive, or just non-negative."""
    return _Decimal(places, positive)


def enum(values: Sequence[str], aliases: dict[str, str] | None = None) -> ColumnType:
    """One of ``values`` (any case) or one of the ``aliases`` (alias -> value)."""
    return _Enum(values, aliases)


# --------------------------------------------------------------------------- sheet specifications


@dataclass(frozen=True)
class Derived:
    """A default computed from the other values of a row once the row is otherwise valid."""

    compute: Callable[[dict[str, Any]], Any]
    description: str


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    default: Any = None  # a constant, or a Derived
    aliases: tuple[str, ...] = ()


# A row check gets the values parsed so far (invalid cells are absent) and returns
# (column, reason) when something is wrong, else None.
RowCheck = Callable[[dict[str, Any]], "tuple[str, str] | None"]

_FULL_WIDTH = str.maketrans({"（": "(", "）": ")"})


def _key(text: str) -> str:
    """Lookup key for a sheet or column name: no whitespace, ASCII parentheses, lower case."""
    return "".join(text.translate(_FULL_WIDTH).split()).lower()


def _lookup(table: dict[str, str], text: str) -> str | None:
    """Resolve a name, also in the forms ``name(alias)`` and ``alias(name)``."""
    key = _key(text)
    found = table.get(key)
    if found is not None or not key.endswith(")"):
        return found
    for at, char in enumerate(key):
        if char == "(":
            outer, inner = table.get(key[:at]), table.get(key[at + 1 : -1])
            if outer and inner in (None, outer):
                return outer
            if inner and outer is None:
                return inner
    return None


@dataclass(frozen=True)
class SheetSpec:
    name: str
    aliases: tuple[str, ...]
    columns: tuple[Column, ...]
    unique: tuple[tuple[str, str], ...] = ()  # (column, what it is called in the message)
    checks: tuple[RowCheck, ...] = ()
    exactly_one_row: bool = False
    _headers: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        headers: dict[str, str] = {}
        for column in self.columns:
            for name in (column.name, *column.aliases):
                headers[_key(name)] = column.name
        object.__setattr__(self, "_headers", headers)

    def column(self, name: str) -> Column:
        """The column called ``name`` (canonical)."""
        return next(column for column in self.columns if column.name == name)

    def column_for(self, header: str) -> str | None:
        """The canonical column a header names, or None for an unknown column."""
        return _lookup(self._headers, header)


_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("编码", "代码"), "name": ("名称",), "kind": ("类型",), "township": ("乡镇",), "village": ("村",),
    "credit_code": ("统一社会信用代码",), "head_name": ("户主",), "phone": ("电话",), "id_number": ("身份证号",),
    "bank_account": ("银行账号",), "monitoring": ("监测类型",), "poverty_exited": ("脱贫户",),
    "member": ("成员",), "member_no": ("成员编号",), "joined_on": ("入社日期",), "left_on": ("退社日期",),
    "farmer": ("农民",), "date": ("日期",), "amount": ("金额",), "form": ("出资方式",), "note": ("备注",),
    "contract_no": ("合同号",), "area_mu": ("面积(亩)", "面积"), "shares": ("股数",),
    "base_rent_per_mu": ("保底租金(元/亩)", "保底租金"), "start_on": ("起始日期",), "end_on": ("终止日期",),
    "worker": ("劳动者",), "days": ("天数",), "rate": ("日工资",), "task": ("工作内容",), "product": ("产品",),
    "grade": ("等级",), "quantity": ("数量",), "unit": ("单位",), "unit_price": ("单价",), "paid": ("已付",),
    "item": ("品名",), "on_credit": ("赊欠",), "buyer": ("购买方",), "invoice_no": ("发票号",),
    "category": ("类别",), "payee": ("收款方",), "source": ("来源",), "quantify": ("量化",),
    "poverty_asset": ("扶贫资产",), "method": ("方式",), "reference": ("凭据号",),
    "books_start": ("建账日期",), "paid_by": ("付款方式", "收款方式", "结算方式"), "account": ("科目", "会计科目", "科目编码"), "debit": ("借方", "借方余额"),
    "credit": ("贷方", "贷方余额"), "project": ("项目", "项目名称"), "acquired_on": ("购置日期", "取得日期"),
    "cost": ("原值", "原价"), "life_years": ("使用年限", "折旧年限"), "salvage_pct": ("残值率(%)", "残值率"),
    "under_construction": ("在建", "在建工程"), "in_use_on": ("交付使用日期", "启用日期"),
    "from_member": ("转出成员", "转出户", "原持有成员", "被继承成员"),
}  # fmt: skip


def _col(
    name: str, type_: ColumnType, required: bool = False, default: Any = None, also: tuple[str, ...] = ()
) -> Column:
    return Column(name, type_, required, default, _COLUMN_ALIASES.get(name, ()) + also)


def _not_before(later: str, earlier: str) -> RowCheck:
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        end, start = values.get(later), values.get(earlier)
        if end is not None and start is not None and end < start:
            return later, msg(N_("%(later)s is before %(earlier)s"), later=later, earlier=earlier, code="before")
        return None

    return check


def _not_same(one: str, other: str) -> RowCheck:
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        if values.get(one) is not None and values.get(one) == values.get(other):
            return one, msg(N_("money is moved from one account to another, not to the same one"), code="same_account")
        return None

    return check


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_digit(first17: str) -> str:
    """The check digit of a resident ID number (GB 11643-1999: ISO 7064 MOD 11-2) from its first 17 digits."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _resident_id(name: str) -> RowCheck:
    """A resident ID number (居民身份证号码) is 18 characters whose last is its check digit (or a first-generation
    number of 15 digits); a typing mistake fails the check digit. The message never repeats the number."""
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        value = values.get(name)
        if value is None:
            return None
        value = value.upper()
        if len(value) == 15 and value.isascii() and value.isdigit():
            return None
        if not (len(value) == 18 and value[:17].isascii() and value[:17].isdigit()
                and (value[17].isdigit() or value[17] == "X")):
            return name, msg(N_("A resident ID number has 18 characters: 17 digits and a digit or X."),
                             code="id_number_form")
        if id_check_digit(value[:17]) != value[17]:
            return name, msg(N_("This is not a valid resident ID number: its last character (the check digit) does "
                                "not match the other 17 (GB 11643). Check it against the ID card."),
                             code="id_number_check_digit")
        return None

    return check


def _year_end(name: str) -> RowCheck:
    """A stock count (期末盘点) is dated on a year's last day."""
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        on = values.get(name)
        if on is not None and (on.month, on.day) != (12, 31):
            return name, msg(N_("A stock count is dated 31 December, the year's last day, not %(date)s."), date=on,
                             code="stock_not_year_end")
        return None

    return check


#: the most people a household (户) can plausibly have; more is a typing mistake
MAX_PERSONS = 30


def _first_of_year(name: str) -> RowCheck:
    """A books start (建账日期) is 1 January: every year's opening figures are then the books' opening balances."""
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        on = values.get(name)
        if on is not None and (on.month, on.day) != (1, 1):
            return name, msg(N_("The books start on 1 January of a year, not %(date)s."), date=on,
                             code="books_start_not_january")
        return None

    return check


def _at_most(name: str, limit: int) -> RowCheck:
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        value = values.get(name)
        if value is not None and value > limit:
            return name, msg(N_("at most %(limit)s"), limit=limit, code="at_most")
        return None

    return check


def _between(name: str, low: int, high: int) -> RowCheck:
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        value = values.get(name)
        if value is not None and not low <= value <= high:
            return name, msg(N_("between %(low)s and %(high)s"), low=low, high=high, code="out_of_range")
        return None

    return check


def _not_in_kind_and_project(values: dict[str, Any]) -> tuple[str, str] | None:
    """An asset put in as capital in kind was not paid for by a subsidy project, nor is it still being built (the
    capital record booked it where it is)."""
    if values.get("paid_by") == "in_kind" and values.get("project"):
        return "project", msg(N_("An asset put in as capital in kind was not paid for by a subsidy project."),
                              code="in_kind_project")
    if values.get("paid_by") == "in_kind" and values.get("under_construction"):
        return "under_construction", msg(N_("An asset put in as capital in kind is in use, not under construction."),
                                         code="in_kind_construction")
    return None


def _share_move(values: dict[str, Any]) -> tuple[str, str] | None:
    """A row of the share register that moves shares (inherited, transferred) names the member they come from, another
    member; a row quantified to the member names none."""
    kind, source = values.get("kind"), values.get("from_member")
    if kind in ("inherited", "transferred") and source is None:
        return "from_member", msg(N_("Shares inherited or transferred come from another member: name them "
                                     "(from_member)."), code="share_source_missing")
    if kind in ("member", "reform") and source is not None:
        return "from_member", msg(N_("Only shares inherited or transferred come from another member: set the kind "
                                     "to inherited or transferred, or leave from_member blank."),
                                  code="share_source_unexpected")
    if source is not None and source == values.get("member"):
        return "from_member", msg(N_("Shares move from one member to another, not to the same one."),
                                  code="share_same_member")
    return None


CONFIRM_HINT = N_("if it is right, record it with confirm (确认) set to yes")


def _unconfirmed(values: dict[str, Any]) -> bool:
    """A plausibility warning stops a row only while it is not confirmed (the row's ``confirm``, 确认 = 是)."""
    return not values.get("confirm")


def luhn_digit(body: str) -> str:
    """The Luhn (ISO/IEC 7812) check digit of a card number's digits but the last."""
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d) * (1 if i % 2 else 2)
        total += n - 9 if n > 9 else n
    return str(-total % 10)


def luhn_ok(number: str) -> bool:
    """Whether a card number's last digit is its Luhn check digit."""
    return luhn_digit(number[:-1]) == number[-1]


def valid_account(number: str | None, *, card: bool = True) -> bool:
    """A bank account a transfer can go to: digits only (spaces allowed between groups), 12 to 30 of them; a card
    number (16 to 19 digits) must pass its Luhn check digit. Passbook and 对公 numbers of other lengths carry no
    such check and are taken as they are; ``card=False`` (a member entity's 对公 account) skips the check digit."""
    if not number:
        return False
    digits = "".join(number.split())
    if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 30):
        return False
    return not card or not 16 <= len(digits) <= 19 or luhn_ok(digits)


def _bank_card(name: str) -> RowCheck:
    """A warning: a bank card number (16–19 digits) that fails its Luhn check digit is most often mistyped; some
    passbook and old account numbers have none, so the accountant may confirm it."""
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        value = values.get(name)
        if value is None or not _unconfirmed(values):
            return None
        digits = value.replace(" ", "")
        if digits.isascii() and digits.isdigit() and 16 <= len(digits) <= 19 and not luhn_ok(digits):
            return name, msg(N_("This bank card number fails its check digit (Luhn): it is most likely mistyped; "
                                "%(hint)s."), hint=word(CONFIRM_HINT), code="bank_card_check")
        return None

    return check


def _amount_is_quantity_times_price(values: dict[str, Any]) -> tuple[str, str] | None:
    """A warning: an amount typed beside a quantity and unit price that disagrees with their product."""
    amount, quantity, price = values.get("amount"), values.get("quantity"), values.get("unit_price")
    if amount is None or quantity is None or price is None or not _unconfirmed(values):
        return None
    product = quantity * price
    if product < _MAX and quantize(product) != amount:
        return "amount", msg(N_("%(amount)s is not quantity × unit price (%(computed)s); %(hint)s."), amount=amount,
                             computed=quantize(product), hint=word(CONFIRM_HINT), code="amount_not_quantity_price")
    return None


def _days_within_month(values: dict[str, Any]) -> tuple[str, str] | None:
    """A warning: more labour days in one record than its month has (one person cannot work them)."""
    days, on = values.get("days"), values.get("date")
    if days is None or on is None or not _unconfirmed(values):
        return None
    month_days = calendar.monthrange(on.year, on.month)[1]
    if days > month_days:
        return "days", msg(N_("%(days)s days is more than %(month)s has (%(month_days)s); %(hint)s."), days=days,
                           month=f"{on.year}-{on.month:02d}", month_days=month_days, hint=word(CONFIRM_HINT),
                           code="days_beyond_month")
    return None


@functools.lru_cache(maxsize=2)
def _far_future_on(day: int) -> date:
    return china_today() + timedelta(days=366)


def _account_only_in_kind(values: dict[str, Any]) -> tuple[str, str] | None:
    """Capital names an asset account only when it was put in kind (cash goes to the bank, land to 161)."""
    if values.get("account") and values.get("form") not in ("in_kind", "poverty_asset"):
        return "account", msg(N_("Only capital put in kind names the account of what was put in."),
                              code="account_not_in_kind")
    return None


def _not_far_future(name: str) -> RowCheck:
    """A record dated more than a year after today has its year mistyped."""
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        on = values.get(name)
        if on is not None and on > _far_future_on(int(time.time() // 86400)):     # (today's limit, once a day)
            return name, msg(N_("%(date)s is more than a year from today: check the year."), date=on,
                             code="date_far_future")
        return None

    return check


def _product_below_max(first: str, second: str, what: Message) -> RowCheck:
    """``first × second`` (an amount the operation computes, named by ``what``) must stay below the largest
    number."""
    def check(values: dict[str, Any]) -> tuple[str, str] | None:
        a, b = values.get(first), values.get(second)
        if a is not None and b is not None and a * b >= _MAX:
            return second, msg(N_("%(what)s is too large"), what=what, code="too_large")
        return None

    return check


def _delivery_amount(values: dict[str, Any]) -> Decimal:
    product = values["quantity"] * values["unit_price"]
    amount = quantize(product) if product < _MAX else _MAX
    if amount >= _MAX:
        raise _Invalid(msg(N_("quantity × unit_price is too large"), code="too_large"))
    return amount


def _project_of(values: dict[str, Any]) -> str:
    """A subsidy's project (项目名称), unless named: its source."""
    return values["source"]


def _shares_from_area(values: dict[str, Any]) -> Decimal:
    return values["area_mu"].quantize(Decimal("0.0001"))


ENTITY_KIND = enum(
    ("farmer_coop", "land_coop", "collective", "cluster_project"),
    {"农民专业合作社": "farmer_coop", "土地股份合作社": "land_coop", "村集体经济组织": "collective",
     "集体经济组织": "collective", "联合体项目": "cluster_project", "产业项目": "cluster_project"},
)  # fmt: skip
MONITORING = enum(
    ("none", "unstable", "marginal", "hardship"),
    {"无": "none", "脱贫不稳定户": "unstable", "脱贫不稳定": "unstable", "边缘易致贫户": "marginal",
     "边缘易致贫": "marginal", "突发严重困难户": "hardship", "突发严重困难": "hardship"},
)  # fmt: skip
CAPITAL_FORM = enum(
    ("cash", "land", "in_kind", "poverty_asset"),
    {"现金": "cash", "土地": "land", "实物": "in_kind", "扶贫资产": "poverty_asset"},
)
_UNITS = {"公斤": "kg", "千克": "kg", "斤": "jin"}
UNIT = enum(("kg", "jin"), _UNITS)
SALES_UNIT = _Enum(("kg", "jin"), _UNITS, name="unit", closed=False)  # sales may be in any unit (箱, 吨, ...)
EXPENSE_CATEGORY = enum(
    ("operating", "management", "finance", "tax", "other", "public"),
    {"经营": "operating", "管理": "management", "财务": "finance", "税金": "tax", "其他": "other",
     "公益": "public", "公益支出": "public", "利息": "finance",
     "经营费用": "operating", "管理费用": "management", "财务费用": "finance"},
)  # fmt: skip
SUBSIDY_KIND = enum(("fiscal", "donation"), {"财政": "fiscal", "捐赠": "donation"})
#: how a row of the share register came to the member (cooperatives.models.SHARE_KINDS)
SHARE_KIND = enum(
    ("member", "reform", "inherited", "transferred"),
    {"成员份额": "member", "成员股": "member", "改革量化": "reform", "2020年改革量化": "reform", "量化": "reform",
     "继承": "inherited", "转让": "transferred", "内部转让": "transferred"},
)  # fmt: skip
PAYMENT_METHOD = enum(
    ("bank", "cash", "mobile"),
    {"银行": "bank", "银行转账": "bank", "现金": "cash", "移动支付": "mobile", "微信": "mobile", "支付宝": "mobile"},
)
_MONEY_ALIASES = {"现金": "cash", "库存现金": "cash", "银行": "bank", "银行存款": "bank", "银行转账": "bank",
                  "移动支付": "mobile", "微信": "mobile", "支付宝": "mobile", "其他货币资金": "mobile"}
#: where money is paid from or into: 库存现金 101, 银行存款 102, 其他货币资金 109 (a delivery's, an expense's, a
#: transfer's sides)
MONEY_ACCOUNT = enum(("cash", "bank", "mobile"), _MONEY_ALIASES)
#: a sale's: those, or left owed (赊销: 113 应收款, or the member's 114)
SALE_PAID_BY = enum(("bank", "cash", "mobile", "credit"), {**_MONEY_ALIASES, "赊销": "credit", "赊欠": "credit",
                                                          "应收": "credit", "应收款": "credit"})
#: what paid for a fixed asset: money, or a member's capital put in kind (实物出资)
ASSET_PAID_BY = enum(("bank", "cash", "mobile", "in_kind"), {**_MONEY_ALIASES, "实物": "in_kind", "实物出资": "in_kind"})
#: what a payment to a member settles: their current account (成员往来), or the wages owed (应付劳务费)
PAYMENT_FOR = enum(("account", "labor"), {"成员往来": "account", "往来": "account", "劳务费": "labor", "工资": "labor",
                                          "应付劳务费": "labor", "劳务": "labor"})

_QUANTITY = decimal(3)
#: 确认: the accountant confirms a plausibility warning of the row (INTERFACES §3 extension; issue 13 §7)
_CONFIRM = _col("confirm", BOOL, default=False, also=("确认", "确认无误"))
#: columns a row holds only when its sheet has them (absent, ``values.get`` says None: not confirmed)
_ONLY_WHEN_PRESENT = frozenset({"confirm"})
_ZERO_MONEY = Decimal("0.00")

_SPECS = (
    SheetSpec("entity", ("主体",), (
        _col("code", CODE, True), _col("name", TEXT, True), _col("kind", ENTITY_KIND, True),
        _col("township", TEXT, True), _col("village", TEXT), _col("credit_code", TEXT),
        _col("books_start", DATE),
    ), exactly_one_row=True, checks=(_first_of_year("books_start"),)),
    SheetSpec("households", ("农户",), (
        _col("code", CODE, True, also=("户号",)), _col("head_name", TEXT, True), _col("village", TEXT, True),
        _col("phone", TEXT), _col("id_number", TEXT), _col("bank_account", TEXT),
        _col("monitoring", MONITORING, default="none"), _col("poverty_exited", BOOL, default=False),
        # people in the household (家庭人口), for per-capita benefit figures; an extension of INTERFACES §3
        _col("persons", INT, also=("家庭人口", "人口")), _CONFIRM,
    ), unique=(("code", N_("household code")),), checks=(_at_most("persons", MAX_PERSONS), _resident_id("id_number"),
                                                         _bank_card("bank_account"))),
    SheetSpec("members", ("成员",), (
        _col("member", CODE, True), _col("member_no", INT, True), _col("joined_on", DATE, True),
        _col("left_on", DATE), _col("farmer", BOOL, default=True),
        # consent on record to net debts against land income (土地承包法 Art. 39); an extension of INTERFACES §3
        _col("land_consent", BOOL, default=False, also=("土地收益扣款同意", "同意从土地收益扣款")),
        # the household's people (家庭人口), filling its household record; an extension of INTERFACES §3
        _col("persons", INT, also=("家庭人口", "人口")),
    ), unique=(("member", N_("member")), ("member_no", N_("member number"))),
        checks=(_not_before("left_on", "joined_on"), _at_most("persons", MAX_PERSONS))),
    SheetSpec("capital", ("股金",), (
        _col("date", DATE, True), _col("member", CODE, True), _col("amount", MONEY, True),
        _col("form", CAPITAL_FORM, default="cash"), _col("note", TEXT),
        # put in kind: the account of what was put in (an extension of INTERFACES §3; default 151 固定资产)
        _col("account", TEXT, also=("资产科目",)), _CONFIRM,
    ), checks=(_not_far_future("date"), _account_only_in_kind)),
    SheetSpec("land", ("土地",), (
        _col("member", CODE, True), _col("contract_no", TEXT, True), _col("area_mu", decimal(2), True),
        _col("shares", decimal(4), default=Derived(_shares_from_area, "area_mu")),
        _col("base_rent_per_mu", decimal(2, positive=False), default=_ZERO_MONEY),
        _col("start_on", DATE, True), _col("end_on", DATE),
    ), unique=(("contract_no", N_("contract number")),), checks=(
        _not_before("end_on", "start_on"),
        _product_below_max("area_mu", "base_rent_per_mu", word(N_("the yearly base rent (area_mu × base_rent_per_mu)"))))),
    SheetSpec("labor", ("用工",), (
        _col("date", DATE, True), _col("member", CODE, True), _col("worker", TEXT),
        _col("days", decimal(2), True), _col("rate", decimal(2, positive=False), True), _col("task", TEXT), _CONFIRM,
    ), checks=(_product_below_max("days", "rate", word(N_("the wage (days × rate)"))), _days_within_month,
               _not_far_future("date"))),
    SheetSpec("deliveries", ("交售",), (
        _col("date", DATE, True), _col("member", CODE, True), _col("product", TEXT, True), _col("grade", TEXT),
        _col("quantity", _QUANTITY, True), _col("unit", UNIT, True),
        _col("unit_price", decimal(4, positive=False), True),
        _col("amount", money(positive=False), default=Derived(_delivery_amount, "quantity × unit_price")),
        _col("paid", BOOL, default=True), _col("paid_by", MONEY_ACCOUNT, default="cash"), _CONFIRM,
    ), checks=(_amount_is_quantity_times_price, _not_far_future("date"))),
    SheetSpec("inputs", ("农资",), (
        _col("date", DATE, True), _col("member", CODE, True), _col("item", TEXT, True),
        _col("amount", MONEY, True), _col("on_credit", BOOL, default=True), _CONFIRM,
    ), checks=(_not_far_future("date"),)),
    SheetSpec("sales", ("销售",), (
        _col("date", DATE, True), _col("buyer", TEXT, True), _col("product", TEXT, True),
        _col("quantity", _QUANTITY), _col("unit", SALES_UNIT), _col("amount", MONEY, True),
        _col("invoice_no", TEXT), _col("member", CODE), _col("paid_by", SALE_PAID_BY, default="bank"), _CONFIRM,
    ), checks=(_not_far_future("date"),)),
    SheetSpec("expenses", ("费用",), (
        _col("date", DATE, True), _col("category", EXPENSE_CATEGORY, True), _col("amount", MONEY, True),
        _col("payee", TEXT), _col("note", TEXT), _col("paid_by", MONEY_ACCOUNT, default="bank"),
        _col("project", TEXT),
    ), checks=(_not_far_future("date"),)),
    SheetSpec("subsidies", ("补助",), (
        _col("date", DATE, True), _col("source", TEXT, True), _col("kind", SUBSIDY_KIND, True),
        _col("amount", MONEY, True), _col("quantify", BOOL, default=True), _col("poverty_asset", BOOL, default=False),
        _col("project", TEXT, default=Derived(_project_of, "source")),
    ), checks=(_not_far_future("date"),)),
    # 固定资产: bought, built (在建工程 until in_use_on) or put in as capital in kind; depreciated by month
    SheetSpec("assets", ("固定资产",), (
        _col("code", CODE, True, also=("资产编号",)), _col("name", TEXT, True, also=("资产名称",)),
        _col("acquired_on", DATE, True), _col("cost", MONEY, True), _col("life_years", INT, True),
        _col("salvage_pct", decimal(2, positive=False), default=Decimal("5.00")),
        _col("paid_by", ASSET_PAID_BY, default="bank"), _col("project", TEXT),
        _col("poverty_asset", BOOL, default=False), _col("under_construction", BOOL, default=False),
        _col("in_use_on", DATE),
    ), unique=(("code", N_("asset code")),),
        checks=(_not_before("in_use_on", "acquired_on"), _at_most("salvage_pct", 100), _between("life_years", 1, 100),
                _not_in_kind_and_project, _not_far_future("acquired_on"), _not_far_future("in_use_on"))),
    SheetSpec("advances", ("借支",), (
        _col("date", DATE, True), _col("member", CODE, True), _col("amount", MONEY, True), _col("note", TEXT),
        _CONFIRM,
    ), checks=(_not_far_future("date"),)),
    SheetSpec("payments", ("付款",), (
        _col("date", DATE, True), _col("member", CODE, True), _col("amount", MONEY, True),
        _col("method", PAYMENT_METHOD, default="bank"), _col("reference", TEXT),
        # INTERFACES §3 names this column ``for`` (a Python keyword): the header ``for`` or 用途 is read as it
        _col("paid_for", PAYMENT_FOR, default="account", also=("for", "用途")), _CONFIRM,
    ), checks=(_not_far_future("date"),)),
    # 凭证: any balanced entry on the chart, a voucher per ``voucher`` key (cooperatives.operations.post_vouchers);
    # ``attachments`` (附件张数) is an extension of INTERFACES §3
    SheetSpec("journal", ("凭证", "记账凭证"), (
        _col("voucher", TEXT, True, also=("凭证号", "凭证")), _col("date", DATE, True),
        _col("memo", TEXT, True, also=("摘要",)), _col("account", TEXT, True), _col("member", CODE),
        _col("debit", MONEY), _col("credit", MONEY), _col("attachments", INT, also=("附件张数", "附件")),
    ), checks=(_at_most("attachments", 999), _not_far_future("date"))),
    # 期末盘点: unsold produce at a year's end, at cost (cooperatives.operations: moved to 121 and back)
    SheetSpec("stock", ("期末盘点", "盘点"), (
        _col("date", DATE, True), _col("product", TEXT, True), _col("quantity", _QUANTITY, True),
        _col("unit", SALES_UNIT, True), _col("value", MONEY, True, also=("金额", "成本")),
    ), checks=(_year_end("date"), _not_far_future("date"))),
    # 收款: money received against what sales on credit left owed (or a cluster project's share, paid)
    SheetSpec("receipts", ("收款",), (
        _col("date", DATE, True), _col("buyer", TEXT, True, also=("付款方",)), _col("amount", MONEY, True),
        _col("method", PAYMENT_METHOD, default="bank"),
    ), checks=(_not_far_future("date"),)),
    # 提现存现: money moved between the entity's own accounts (INTERFACES names the columns ``from`` and ``to``,
    # Python keywords: the headers ``from``/``to`` or 转出/转入 are read as these)
    SheetSpec("transfers", ("提现存现", "转账"), (
        _col("date", DATE, True), _col("from_account", MONEY_ACCOUNT, True, also=("from", "转出", "从")),
        _col("to_account", MONEY_ACCOUNT, True, also=("to", "转入", "到")), _col("amount", MONEY, True),
        _col("note", TEXT),
    ), checks=(_not_same("to_account", "from_account"), _not_far_future("date"))),
    SheetSpec("income", ("投资收益",), (
        _col("date", DATE, True), _col("source", TEXT, True), _col("amount", MONEY, True),
    ), checks=(_not_far_future("date"),)),
    # 份额登记簿: a collective's quantified shares, a register, not money (INTERFACES §3, §3.1); ``date`` and
    # ``from_member`` are an extension of INTERFACES §3 (the register's history)
    SheetSpec("shares", ("份额", "份额登记簿", "份额登记"), (
        _col("member", CODE, True, also=("户号", "持有成员")), _col("shares", decimal(4), True, also=("份额数", "份额")),
        _col("kind", SHARE_KIND, default="member", also=("类别", "份额类别", "取得方式")), _col("note", TEXT),
        _col("date", DATE, also=("登记日期", "取得日期")), _col("from_member", CODE),
    ), checks=(_share_move, _not_far_future("date"))),
    # 期初余额: the balances at the books' start, by account and by member (cooperatives.operations.post_opening)
    SheetSpec("opening", ("期初余额",), (
        _col("account", TEXT, True), _col("member", CODE), _col("debit", MONEY), _col("credit", MONEY),
        _col("note", TEXT),
    )),
)  # fmt: skip

SHEETS: dict[str, SheetSpec] = {spec.name: spec for spec in _SPECS}
#: sheets of notes for people (the import template's 说明), never read as data
NOTES_SHEET = "说明"
_NOTES_SHEETS = frozenset({"说明", "填写说明", "notes", "readme"})
_SHEET_NAMES = {_key(name): spec.name for spec in _SPECS for name in (spec.name, *spec.aliases)}


def sheet_kind(name: str) -> str | None:
    """The canonical kind a sheet (or CSV file stem) name stands for, or None."""
    return _lookup(_SHEET_NAMES, name)


# --------------------------------------------------------------------------- reading one sheet

_NOT_CACHED: Any = object()
#: refused rows kept per sheet (Workbook.rejected) for the loader's further checks of them
_REJECTED_KEPT = 10_000
_CACHE_LIMIT = 50_000  # distinct cell texts remembered per column
#: stands, past the header's last column, for the filled cells of a row beyond it: the row is not blank (and
#: is checked, as when the whole row was read) but no column reads it
_BEYOND: Any = object()
#: the longest text each column's database field holds (a longer value is a row problem, never a database error)
_TEXT_LIMITS = {
    "code": 40, "name": 200, "township": 100, "village": 100, "credit_code": 40, "head_name": 100, "phone": 30,
    "id_number": 30, "bank_account": 40, "member": 40, "contract_no": 60, "worker": 100, "task": 200,
    "product": 100, "grade": 40, "item": 100, "buyer": 200, "invoice_no": 60, "payee": 200, "source": 200,
    "reference": 100, "unit": 5, "voucher": 60, "memo": 200, "account": 100, "project": 200,
    "from_member": 40,
}  # fmt: skip


def _limited(parse: Callable[[Any], Any], limit: int | None) -> Callable[[Any], Any]:
    """``parse``, refusing text longer than ``limit`` or holding a NUL (no database stores one in text)."""
    def parse_within(raw: Any) -> Any:
        value = parse(raw)
        if value.__class__ is str:
            if limit is not None and len(value) > limit:
                raise _Invalid(msg(N_("too long: at most %(limit)s characters"), limit=limit, code="too_long"))
            if "\x00" in value:
                raise _Invalid(msg(N_("must not contain a NUL character"), code="nul"))
        return value

    return parse_within


def _is_blank(cells: Sequence[Any]) -> bool:
    for cell in cells:
        if cell is not None and cell != "":
            if cell.__class__ is str and not cell.strip():
                continue
            return False
    return True


def _initial(column: Column) -> Any:
    """The value of a blank cell before derived defaults are computed."""
    return None if isinstance(column.default, Derived) else column.default


@dataclass
class _Field:
    """A column present in the file, ready for the row loop."""

    index: int
    name: str
    header: str
    parse: Callable[[Any], Any]
    required: bool
    default: Any
    cache: dict[Any, Any]


class _SheetReader:
    """Validates the rows of one sheet, appending problems to a shared list."""

    def __init__(self, spec: SheetSpec, label: str, problems: list[Problem]):
        self.spec, self.label, self.problems = spec, label, problems
        self.fields: list[_Field] = []
        self.columns = {column.name: column.name for column in spec.columns}
        self.derived = [(c.name, c.default.compute) for c in spec.columns if isinstance(c.default, Derived)]
        self.seen: dict[str, dict[Any, int]] = {name: {} for name, _ in spec.unique}
        # spec order, defaults filled in; ``confirm`` only when the sheet has it (a key less per row of a large sheet)
        self.template = {c.name: _initial(c) for c in spec.columns if c.name not in _ONLY_WHEN_PRESENT}
        self.count = 0
        self.incomplete = False  # a required column is missing: rows are checked but never complete
        self.rejected: list[Row] = []  # rows with a problem: the values that did read (Workbook.rejected)

    def read(self, rows: Iterator[tuple[int, Sequence[Any]]]) -> list[Row]:
        """Validate ``rows``, (row number, cells) pairs in file order, the header (row 1) first.

        Rows come numbered because a spreadsheet's rows are (rows left out are blank), and problems
        name the number the user sees.
        """
        first = next(rows, None)
        if first is not None:
            self._plan(first[1])
        out: list[Row] = []
        for number, cells in rows:
            if not _is_blank(cells):
                self.count += 1
                row = self._row(cells, number)
                if row is not None:
                    out.append(row)
        self._check_count()
        return out

    def _report(self, row: int, column: str, reason: str) -> None:
        self.problems.append(Problem(self.label, row, column, reason))

    def _plan(self, header: Sequence[Any]) -> None:
        """Map the header cells to columns; report duplicates and missing required columns."""
        for index, cell in enumerate(header):
            text = "" if cell is None else str(cell).strip()
            name = self.spec.column_for(text) if text else None
            if name is None:
                continue
            if any(f.name == name for f in self.fields):
                self._report(1, text, msg(N_("duplicate column %(name)s (also %(other)s)"), name=repr(name),
                                          other=repr(self.columns[name]), code="duplicate_column"))
                continue
            self._add_field(index, self.spec.column(name), text)
        present = {f.name for f in self.fields}
        for column in self.spec.columns:
            if column.required and column.name not in present:
                self._report(1, column.name, msg(N_("missing required column"), code="missing_column"))
                self.incomplete = True

    def _add_field(self, index: int, column: Column, header: str) -> None:
        self.columns[column.name] = header
        if column.name in _ONLY_WHEN_PRESENT:
            self.template[column.name] = _initial(column)
        parse, cache = column.type.parse, {None: _BLANK}
        if column.type.name in ("str", "code", "unit") or column.name in _TEXT_LIMITS:
            parse = _limited(parse, _TEXT_LIMITS.get(column.name))
        self.fields.append(_Field(index, column.name, header, parse, column.required, _initial(column), cache))

    def _row(self, cells: Sequence[Any], number: int) -> Row | None:
        values = self.template.copy()
        bad: set[str] = set()
        valid = self._convert(cells, number, values, bad)
        for check in self.spec.checks:
            found = check(values)
            if found:
                valid = False
                bad.add(found[0])
                self._report(number, self.columns[found[0]], found[1])
        valid = self._check_unique(values, number) and valid
        if not valid or self.incomplete:
            if not valid and not self.incomplete and len(self.rejected) < _REJECTED_KEPT:
                self.rejected.append(Row(self.spec.name, self.label, number,
                                         {k: v for k, v in values.items() if k not in bad}, self.columns))
            return None
        for name, compute in self.derived:
            if values[name] is None:
                try:
                    values[name] = compute(values)
                except _Invalid as exc:
                    self._report(number, self.columns[name], exc.args[0])
                    return None
        return Row(self.spec.name, self.label, number, values, self.columns)

    def _convert(self, cells: Sequence[Any], number: int, values: dict[str, Any], bad: set[str]) -> bool:
        """Convert the row's cells into ``values``; the columns with a problem are added to ``bad``."""
        valid = True
        size = len(cells)
        for f in self.fields:
            raw = cells[f.index] if f.index < size else None
            value = f.cache.get(raw, _NOT_CACHED)
            if value is _NOT_CACHED:
                try:
                    value = f.parse(raw)
                except _Invalid as exc:
                    self._report(number, f.header, exc.args[0])
                    valid = False
                    bad.add(f.name)
                    continue
                if raw.__class__ is str and len(f.cache) < _CACHE_LIMIT:
                    f.cache[raw] = value
            if value is _BLANK:
                if f.required:
                    self._report(number, f.header, msg(N_("required value is missing"), code="missing_value"))
                    valid = False
                    bad.add(f.name)
                    continue
                value = f.default
            values[f.name] = value
        return valid

    def _check_unique(self, values: dict[str, Any], number: int) -> bool:
        valid = True
        for name, label in self.spec.unique:
            value = values.get(name)
            if value is None:
                continue
            first = self.seen[name].setdefault(value, number)
            if first != number:
                self._report(number, self.columns[name], msg(N_("duplicate %(what)s '%(value)s' (first at row %(first)s)"),
                                                             what=word(label), value=value, first=first, code="duplicate"))
                valid = False
        return valid

    def _check_count(self) -> None:
        if self.spec.exactly_one_row and self.count != 1:
            self._report(1, "", msg(N_("%(sheet)s sheet must have exactly one row (found %(count)s)"),
                                    sheet=self.spec.name, count=self.count, code="one_row"))


# --------------------------------------------------------------------------- containers


class _ReadError(Exception):
    """The file underneath a sheet failed, or broke a limit, while being read; ``args[0]`` is the reason
    and ``row`` the row it is about (0: the whole sheet, or the whole file before any sheet is read)."""

    def __init__(self, reason: str, row: int = 0):
        super().__init__(reason)
        self.row = row


def _entities_refused() -> str:
    return msg(N_("XML entity declarations are refused (Excel and WPS never write them)"))


def _past_last_row(number: int, limits: ReadLimits) -> _ReadError:
    reason = msg(N_("row %(row)s is past the limit of %(limit)s rows per sheet"), row=number, limit=limits.max_rows)
    return _ReadError(reason, number)


def _guarded(rows: Iterable[tuple[int, Sequence[Any]]], what: str) -> Iterator[tuple[int, Sequence[Any]]]:
    """Yield ``rows``, turning any failure of the underlying reader into :class:`_ReadError`."""
    iterator = iter(rows)
    while True:
        try:
            row = next(iterator)
        except StopIteration:
            return
        except _ReadError:
            raise
        except UnicodeDecodeError:
            raise _ReadError(msg(N_("cannot read %(what)s: not UTF-8 text (save it as “CSV UTF-8”)"), what=word(what),
                                 code="not_utf8")) from None
        except DefusedXmlException:  # a "billion laughs" sheet: refused before any entity is expanded
            raise _ReadError(_entities_refused()) from None
        except Exception as exc:  # openpyxl, XML, zip and csv raise many kinds of errors on damaged files
            raise _ReadError(msg(N_("cannot read %(what)s: %(error)s"), what=word(what), error=str(exc),
                                 code="unreadable")) from None
        yield row


def _header_width(cells: Sequence[Any]) -> int:
    """How many columns the header spans: up to its last filled cell."""
    for index in range(len(cells) - 1, -1, -1):
        if not _is_blank((cells[index],)):
            return index + 1
    return 0


def _clip(cells: list[Any], width: int) -> list[Any]:
    """``cells`` cut to the header's ``width``, with :data:`_BEYOND` after them if a cut cell was filled."""
    if len(cells) <= width:
        return cells
    return cells[:width] + [_BEYOND] if not _is_blank(cells[width:]) else cells[:width]


class _CsvLines:
    """The lines of a CSV file for ``csv.reader``, refusing a record longer than ``limit`` characters
    before the csv module builds it (a 60 MiB line of commas would be a list of 60 million fields).

    The reader of the records sets ``used = 0`` and ``number`` (of the next record) after each one.
    """

    def __init__(self, handle: IO[str], limit: int):
        self.handle, self.limit, self.used, self.number = handle, limit, 0, 1

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = self.handle.readline(self.limit + 1 - self.used)  # never more than the record may still take
        if not line:
            raise StopIteration
        self.used += len(line)
        if self.used > self.limit:
            reason = msg(N_("the row is longer than %(limit)s characters"), limit=self.limit)
            raise _ReadError(reason, self.number)
        return line


def _csv_rows(path: Path, limits: ReadLimits) -> Iterator[tuple[int, Sequence[Any]]]:
    """(row number, cells) of a CSV file: the header (row 1, at most ``max_columns`` cells), then the data
    rows cut to the header's width; refused at the first row past ``max_rows``."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = _CsvLines(handle, limits.max_csv_row_chars)
        width = limits.max_columns
        for number, cells in enumerate(csv.reader(lines), 1):
            if number > limits.max_rows:
                raise _past_last_row(number, limits)
            if number == 1:
                cells = cells[:width]
                width = _header_width(cells)
            yield number, _clip(cells, width)
            lines.used, lines.number = 0, number + 1


def _csv_files(folder: Path, source: str, limits: ReadLimits) -> list[Path]:
    """The folder's ``.csv`` files by name; refused when there are none, or more than ``max_csv_files``."""
    files: list[Path] = []
    try:
        for path in folder.iterdir():
            if path.suffix.lower() == ".csv" and path.is_file():
                files.append(path)
                if len(files) > limits.max_csv_files:
                    reason = msg(N_("the folder has more than %(limit)s CSV files"), limit=limits.max_csv_files)
                    raise WorkbookError([Problem(source, 0, "", reason)])
    except OSError as exc:
        raise _not_a_workbook(source, msg(N_("cannot list the folder (%(error)s)"), error=str(exc.strerror or exc))) \
            from None
    if not files:
        raise _not_a_workbook(source, msg(N_("the folder has no .csv files")))
    return sorted(files)


def _csv_sheets(
    folder: Path, source: str, limits: ReadLimits
) -> Iterator[tuple[str, Iterator[tuple[int, Sequence[Any]]]]]:
    for path in _csv_files(folder, source, limits):
        yield path.stem, _guarded(_csv_rows(path, limits), N_("file"))


# --------------------------------------------------------------------------- xlsx within limits

#: the compressions Excel writes; zipfile decompresses bzip2 and lzma a whole chunk at a time, unbounded
_BOUNDED_COMPRESSIONS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_CHUNK = 64 * 1024  # bytes decompressed at a time (zipfile's read() of a whole part does it in one call)
_DIRECTORY_ENTRY = 1024  # bytes of zip central directory allowed per member (a real entry takes under 200)
#: XML elements inside one cell or shared text (rich-text runs and their formatting take about ten each)
_MAX_PARTS = 10_000
_SI_TAG, _T_TAG = f"{{{SHEET_MAIN_NS}}}si", f"{{{SHEET_MAIN_NS}}}t"


def _too_many_members(limits: ReadLimits) -> _ReadError:
    return _ReadError(msg(N_("the workbook holds more than %(limit)s files"), limit=limits.max_members))


def _check_directory_size(handle: IO[bytes], limits: ReadLimits) -> None:
    """Refuse a zip whose central directory is too large before zipfile reads it: zipfile builds an object
    for every entry (800,000 empty entries fit in a 64 MiB upload and take 830 MiB and 8 s).

    zipfile's own reader of the end-of-directory record is private but has not changed since Python 2; it
    knows zip64, comments and data before the zip.
    """
    end = zipfile._EndRecData(handle)
    if end is None:
        return  # not a zip: zipfile says so next
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > limits.max_members or size > limits.max_members * _DIRECTORY_ENTRY:
        raise _too_many_members(limits)


def _check_members(infos: list[zipfile.ZipInfo], limits: ReadLimits) -> None:
    """Refuse, from the central directory alone, a zip with too many members, one that unpacks to more than
    ``max_unzipped_mib`` (zipfile never produces more than the sizes it declares), or a compression whose
    output zipfile cannot bound."""
    if len(infos) > limits.max_members:
        raise _too_many_members(limits)
    for info in infos:
        if info.compress_type not in _BOUNDED_COMPRESSIONS:
            raise _ReadError(msg(N_("part %(part)s of the workbook uses a compression that Excel does not use; "
                                    "save the workbook again in Excel or WPS"), part=info.filename))
    if sum(info.file_size for info in infos) > limits.max_unzipped_mib * MIB:
        raise _ReadError(msg(N_("the workbook unpacks to more than %(limit)s MiB"), limit=limits.max_unzipped_mib))


class _BoundedZip(zipfile.ZipFile):
    """The zip of an .xlsx, whose parts are decompressed a chunk at a time and within the limits.

    zipfile cuts a part at its declared size, but ``read()`` of a whole part first decompresses all of it
    in one call: a part declaring 1 KiB that really holds 512 MiB takes 1 GiB before being cut. Every part
    opened here is read in chunks of :data:`_CHUNK`, so a lying part costs no more than it declares.
    openpyxl parses the parts it opens whole into a tree, so those must be within ``max_part_mib``; the
    sheets and shared strings, which this module streams, are opened with :meth:`stream`.
    """

    def __init__(self, handle: IO[bytes], limits: ReadLimits):
        super().__init__(handle)
        self.limits = limits

    def open(self, name: Any, mode: str = "r", pwd: bytes | None = None, *, force_zip64: bool = False) -> IO[bytes]:
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        if info.file_size > self.limits.max_part_mib * MIB:
            raise _ReadError(msg(N_("part %(part)s of the workbook unpacks to more than %(limit)s MiB"),
                                 part=info.filename, limit=self.limits.max_part_mib))
        return self._chunked(super().open(info, mode, pwd, force_zip64=force_zip64))

    def stream(self, name: str) -> IO[bytes]:
        """A part this module parses as a stream (its size is bounded by ``max_unzipped_mib``)."""
        return self._chunked(super().open(name))

    @staticmethod
    def _chunked(part: Any) -> IO[bytes]:
        part.MAX_N = _CHUNK  # what ZipExtFile.read() without a size asks the decompressor for at a time
        return part


def _stream(source: IO[bytes], part: str, kept: int) -> Iterator[tuple[str, Any, int]]:
    """``(event, element, depth)`` for the starts of the elements of ``source`` above depth ``kept`` (the
    root is at depth 1) and the ends of those down to it, parsed with entity declarations refused
    (defusedxml).

    Each element at depth ``kept`` or less is dropped from the tree once its end has been handled, so
    memory stays flat however long the part is (openpyxl's parsers keep every row they have seen); the
    elements below one at depth ``kept`` (a cell's value, a text's runs) stay until it ends, and there
    may be at most :data:`_MAX_PARTS` of them, which also bounds the nesting.
    """
    path: list[Any] = []  # the open elements, root first
    parts = 0
    for event, element in iterparse(source, events=("start", "end")):
        if event == "start":
            path.append(element)
            depth = len(path)
            if depth < kept:
                yield event, element, depth
            elif depth > kept:
                parts += 1
                if parts > _MAX_PARTS:
                    raise _ReadError(msg(N_("%(part)s is too complex to read: more than %(limit)s XML elements "
                                            "in one cell or text"), part=part, limit=_MAX_PARTS))
            continue
        depth = len(path)
        path.pop()
        if depth <= kept:
            yield event, element, depth
            parts = 0
            if path:
                del path[-1][:]  # the parent's only child: its earlier ones were dropped when they ended


def _shared_strings(archive: _BoundedZip, package: Any, limits: ReadLimits) -> list[str]:
    """The workbook's shared strings, streamed within ``max_shared_strings_mib``.

    openpyxl's reader keeps every ``<si>`` element it has parsed (16 MiB of ``<si/>`` take 400 MiB); here
    each is dropped once read, and repeated texts share one string. Texts as openpyxl reads them.
    """
    found = package.find(SHARED_STRINGS)
    if found is None:
        return []
    part = found.PartName[1:]
    if archive.getinfo(part).file_size > limits.max_shared_strings_mib * MIB:
        raise _ReadError(msg(N_("the workbook's table of texts (%(part)s) unpacks to more than %(limit)s MiB"),
                             part=part, limit=limits.max_shared_strings_mib))
    strings: list[str] = []
    known: dict[str, str] = {}
    with archive.stream(part) as source:
        for event, element, depth in _stream(source, part, 2):
            if event == "end" and depth == 2 and element.tag == _SI_TAG:
                text = _shared_text(element)
                strings.append(known.setdefault(text, text) if len(known) < _CACHE_LIMIT else known.get(text, text))
    return strings


def _shared_text(item: Any) -> str:
    """The text of a shared-string item as openpyxl reads it; a plain ``<si><t>…</t></si>``, by far the most
    common, directly (openpyxl's Text.from_tree takes 20 µs an item)."""
    if len(item) == 1 and item[0].tag == _T_TAG and len(item[0]) == 0:
        text = item[0].text or ""
    else:
        text = Text.from_tree(item).content
    return text.replace("x005F_", "")


@dataclass
class _Xlsx:
    """An open .xlsx: its worksheets as (title, part) in order, and what decoding their cells needs."""

    handle: IO[bytes]
    archive: _BoundedZip
    sheets: list[tuple[str, str]]
    strings: list[str]
    epoch: Any
    date_formats: Any
    timedelta_formats: Any

    def close(self) -> None:
        self.archive.close()
        self.handle.close()


def _load_xlsx(handle: IO[bytes], limits: ReadLimits) -> _Xlsx:
    """Check the zip's directory, then read what the sheets need with openpyxl's own readers: the content
    types, the workbook, the styles (for dates) and the shared strings. Not ``load_workbook``: even
    read-only, it parses a sheet without a stored size from end to end to size it."""
    _check_directory_size(handle, limits)
    archive = _BoundedZip(handle, limits)
    _check_members(archive.infolist(), limits)
    reader = ExcelReader(handle, read_only=True, data_only=True, keep_links=False)
    reader.archive.close()
    reader.archive = archive  # every part openpyxl reads goes through the bounded zip
    reader.read_manifest()
    reader.read_workbook()
    if len(reader.parser.sheets) > limits.max_sheets:
        raise _ReadError(msg(N_("the workbook has more than %(limit)s sheets"), limit=limits.max_sheets))
    apply_stylesheet(archive, reader.wb)
    sheets = [(sheet.name, rel.target) for sheet, rel in reader.parser.find_sheets()
              if rel.target in reader.valid_files and "chartsheet" not in rel.Type]  # as load_workbook
    strings = _shared_strings(archive, reader.package, limits)
    book = reader.wb
    return _Xlsx(handle, archive, sheets, strings, book.epoch, book._date_formats, book._timedelta_formats)


def _open_xlsx(path: Path, source: str, limits: ReadLimits) -> _Xlsx:
    """Open an xlsx file within ``limits``; a limit broken is one problem about the whole file (row 0)."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise _not_a_workbook(source, msg(N_("cannot open the file (%(error)s)"), error=str(exc.strerror or exc))) \
            from None
    try:
        return _load_xlsx(handle, limits)
    except _ReadError as exc:
        handle.close()
        raise WorkbookError([Problem(source, 0, "", exc.args[0])]) from None
    except DefusedXmlException:
        handle.close()
        raise WorkbookError([Problem(source, 0, "", _entities_refused())]) from None
    except Exception as exc:  # zipfile, XML and openpyxl errors alike mean "not an xlsx file"
        handle.close()
        raise _not_a_workbook(source, msg(N_("not an .xlsx file (%(error)s)"), error=f"{type(exc).__name__}: {exc}")) \
            from None


def _row_number(text: str | None, previous: int, limits: ReadLimits) -> int:
    """A row element's number as openpyxl reads it: its ``r`` (``"7"``, or ``"7.0"`` as some writers put it),
    else one more than the row before. Read exactly (never as a float), and refused past ``limits.max_rows``
    before it becomes an ``int`` (``r="1e999999999"`` would be a number of a billion digits)."""
    if text is None:
        return previous + 1
    try:
        number = Decimal(text.strip())
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise _ReadError(msg(N_("a row is numbered %(number)s: not a whole number"), number=text[:40],
                             code="bad_row_number"), previous + 1)
    if number > limits.max_rows:
        if number.adjusted() > 18:          # beyond any row number worth printing
            raise _ReadError(msg(N_("a row is numbered %(number)s: past the limit of %(limit)s rows per sheet"),
                                 number=text[:40], limit=limits.max_rows), previous + 1)
        raise _past_last_row(int(number), limits)
    return int(number)


def _row_cells(values: dict[int, Any], width: int, beyond: bool) -> list[Any]:
    """A row's cells as a list (``values`` maps column numbers from 1), :data:`_BEYOND` after ``width``."""
    cells = [None] * (width if beyond else max(values, default=0))
    for column, value in values.items():
        cells[column - 1] = value
    if beyond:
        cells.append(_BEYOND)
    return cells


class _SheetParser(WorkSheetParser):
    """openpyxl's worksheet parser — its decoding of cells (shared strings, dates, numbers, booleans) —
    driven row by row within the limits rather than through ``iter_rows``, which fills in every missing
    row and pads every row to the widest cell (one row numbered 2,000,000,000,000 would take days)."""

    def __init__(self, source: IO[bytes], book: _Xlsx, part: str, limits: ReadLimits):
        super().__init__(source, book.strings, data_only=True, epoch=book.epoch,  # as ReadOnlyWorksheet does
                         date_formats=book.date_formats, timedelta_formats=book.timedelta_formats)
        self.part, self.limits = part, limits

    def numbered_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cells) of each row in order, the header (row 1, blank if absent) first; data rows
        hold the columns up to the header's width (see :func:`_clip`)."""
        width, number, previous = self.limits.max_columns, 0, 0
        values: dict[int, Any] = {}
        beyond = False
        for event, element, depth in _stream(self.source, self.part, 4):
            if depth == 3 and element.tag == ROW_TAG:
                if event == "start":
                    number = self._start_row(element.get("r"), previous)
                    if previous == 0 and number > 1:
                        yield 1, []  # no header row
                        width = 0
                    values, beyond = {}, False
                    continue
                cells = _row_cells(values, width, beyond)
                if number == 1:
                    width = _header_width(cells)
                yield number, cells
                previous, number = number, 0
            elif depth == 4 and number and element.tag == CELL_TAG:  # (its end: starts at 4 are not given)
                beyond = self._cell(element, values, width, beyond, number == 1)

    def _start_row(self, text: str | None, previous: int) -> int:
        """The number of the row starting; refused past ``max_rows`` — before any row is filled in — or
        when not after the previous one (openpyxl drops such a row silently)."""
        number = _row_number(text, previous, self.limits)
        if number <= previous:
            raise _ReadError(msg(N_("row %(row)s comes after row %(previous)s: the rows are out of order; "
                                    "save the workbook again in Excel or WPS"), row=number, previous=previous),
                             number)
        self.row_counter, self.col_counter = number, 0
        return number

    def _cell(self, element: Any, values: dict[int, Any], width: int, beyond: bool, header: bool) -> bool:
        """Put a cell's value in ``values`` if it is within ``width``; return whether the row has a filled
        cell past it (never for the header). A cell past the width is decoded only while that is not yet
        known, and an empty one (no value: it only carries a format) never."""
        if len(element) == 0:
            self._column(element.get("r"))
            return beyond
        if beyond or header:  # nothing past the width matters: look at the reference only
            column = self._column(element.get("r"))
            if column > width:
                return beyond
            self.col_counter = column - 1  # parse_cell counts the column again when the cell has no reference
        cell = self.parse_cell(element)
        if cell["column"] <= width:
            values[cell["column"]] = cell["value"]
            return beyond
        return not _is_blank((cell["value"],))

    def _column(self, ref: str | None) -> int:
        """The column of a cell from its reference, else the one after the previous cell (as openpyxl)."""
        self.col_counter = self.col_counter + 1 if ref is None else coordinate_to_tuple(ref)[1]
        return self.col_counter


def _xlsx_rows(book: _Xlsx, part: str, limits: ReadLimits) -> Iterator[tuple[int, list[Any]]]:
    with book.archive.stream(part) as source:
        yield from _SheetParser(source, book, part, limits).numbered_rows()


def _xlsx_sheets(book: _Xlsx, limits: ReadLimits) -> Iterator[tuple[str, Iterator[tuple[int, Sequence[Any]]]]]:
    for title, part in book.sheets:
        yield title, _guarded(_xlsx_rows(book, part, limits), N_("sheet"))


# --------------------------------------------------------------------------- the workbook


def _read_sheets(
    sources: Iterable[tuple[str, Iterator[tuple[int, Sequence[Any]]]]], problems: list[Problem],
    rejected: dict[str, list[Row]] | None = None,
) -> dict[str, list[Row]]:
    sheets: dict[str, list[Row]] = {}
    labels: dict[str, str] = {}
    for label, rows in sources:
        kind = sheet_kind(label)
        try:
            if kind is None and _key(label) in _NOTES_SHEETS:
                continue  # the template's column notes (说明), read by people only
            if kind is None:
                if not all(_is_blank(cells) for _, cells in rows):
                    problems.append(Problem(label, 1, "", msg(N_("unknown sheet (expected one of %(sheets)s)"),
                                                              sheets=", ".join(SHEETS), code="unknown_sheet")))
            elif kind in labels:
                problems.append(Problem(label, 1, "", msg(N_("duplicate sheet: %(other)s is also %(kind)s"),
                                                          other=repr(labels[kind]), kind=repr(kind), code="duplicate_sheet")))
            else:
                labels[kind] = label
                reader = _SheetReader(SHEETS[kind], label, problems)
                sheets[kind] = reader.read(rows)
                if rejected is not None and reader.rejected:
                    rejected[kind] = reader.rejected
        except _ReadError as exc:
            problems.append(Problem(label, exc.row, "", exc.args[0]))
    return sheets


def _read_container(path: Path, source: str, problems: list[Problem], limits: ReadLimits,
                    rejected: dict[str, list[Row]] | None = None) -> dict[str, list[Row]]:
    if path.is_dir():
        return _read_sheets(_csv_sheets(path, source, limits), problems, rejected)
    if not path.exists():
        raise _not_a_workbook(source, msg(N_("no such file or folder")))
    if not path.is_file():
        raise _not_a_workbook(source, msg(N_("not a file or folder")))
    book = _open_xlsx(path, source, limits)
    try:
        return _read_sheets(_xlsx_sheets(book, limits), problems, rejected)
    finally:
        book.close()


def read_workbook(path: str | os.PathLike[str], limits: ReadLimits = DEFAULT_LIMITS) -> Workbook:
    """Read and validate the workbook at ``path`` (an .xlsx file or a folder of CSV files).

    Returns a fully valid :class:`Workbook`, or raises :class:`WorkbookError` with every problem. Reading
    stays within ``limits`` (see :class:`ReadLimits`): a file beyond them is a problem, never a hang.
    """
    source = os.fsdecode(path)
    problems: list[Problem] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it ignores
        sheets = _read_container(Path(source), source, problems, limits)
    if problems:
        raise WorkbookError(problems)
    return Workbook(sheets, source, digest(sheets))


def read_workbook_partial(
    path: str | os.PathLike[str], limits: ReadLimits = DEFAULT_LIMITS
) -> tuple[Workbook, list[Problem]]:
    """Like :func:`read_workbook`, but return the valid rows *and* the problems, so the loader can
    check the valid rows against the database and report every problem of the workbook at once.

    A sheet with a problem in its header (a missing required column, a duplicate column) is left
    out entirely: its rows cannot be trusted; so is a sheet that could not be read to its end (a limit).
    Raises WorkbookError only when ``path`` is not a workbook, or breaks a limit as a whole.
    """
    source = os.fsdecode(path)
    problems: list[Problem] = []
    rejected: dict[str, list[Row]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheets = _read_container(Path(source), source, problems, limits, rejected)
    broken = {p.sheet for p in problems if p.row <= 1}
    sheets = {kind: rows for kind, rows in sheets.items() if not rows or rows[0].sheet_label not in broken}
    rejected = {kind: rows for kind, rows in rejected.items() if rows[0].sheet_label not in broken}
    return Workbook(sheets, source, digest(sheets), rejected), problems


# --------------------------------------------------------------------------- digest

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _canonical(value: Any) -> str:
    """The canonical text of a typed value; Decimals are already quantized to their column."""
    if value.__class__ is str:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_ESCAPES)
        return value
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value.__class__ is date:
        return value.isoformat()
    return str(value)


#: optional columns added after workbooks were already imported: left out of the digest when empty, so a
#: workbook imported before they existed keeps its digest (and is still refused a second time)
_LATE_COLUMNS = frozenset({"persons", "confirm", "project", "account"})


def _late_and_empty(name: str, values: dict[str, Any]) -> bool:
    """A late column holding what a workbook without it gives: nothing, no, or (a subsidy's project) its source."""
    value = values.get(name)
    return value is None or value is False or (name == "project" and value == values.get("source"))


def digest(sheets: dict[str, list[Row]]) -> str:
    """SHA-256 hex of the canonical content: kinds sorted, rows in order, spec column order."""
    hasher = hashlib.sha256(b"coopledger-workbook-1\n")
    for kind in sorted(sheets):
        names = [column.name for column in SHEETS[kind].columns]
        hasher.update(f"[{kind}]\t{len(sheets[kind])}\n".encode())
        for row in sheets[kind]:
            values = row.values
            hasher.update(("\t".join([_canonical(values[name]) for name in names
                                      if name not in _LATE_COLUMNS or not _late_and_empty(name, values)])
                           + "\n").encode())
    return hasher.hexdigest()

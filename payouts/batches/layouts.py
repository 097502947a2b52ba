"""The files of a bank payout batch (代发文件) and the bank's return file (no database, no Flask).

:func:`batch_file` writes the households paid in one batch in a bank's layout (:data:`LAYOUTS`, described
column by column in ``docs/BANK_LAYOUTS.md``), as ``.xlsx`` or ``.csv``:

* amounts (金额) always have exactly two decimals: in xlsx a number cell holding the Decimal, formatted
  ``0.00``; in csv the text ``1234.50``;
* the account number (账号) is always text: a 19-digit card number in a number cell loses its last digits;
* a summary (合计: the count and the total) where the layout puts it;
* in xlsx, the households owed but left out of the batch go on a second sheet, 未列入, with the reason; a csv
  holds the one table a bank's import reads, so the caller shows them instead.

:func:`read_returns` reads the bank's return file (代发结果): ``.xlsx`` or ``.csv`` (UTF-8, with or without
a byte-order mark, or GB18030 as Chinese bank systems export), columns found by their header — Chinese or
English, in any order, on whichever row it is (title rows above it are skipped). It returns every row, typed, or
raises :class:`ReturnFileError` with every problem of the file at once, each located (sheet, row, column);
reading is bounded like the import workbook's (:class:`~cooperatives.limits.ReadLimits`): at most
:data:`MAX_BYTES` and :data:`MAX_ROWS` rows, and a hostile file is a problem, never a traceback.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from defusedxml import DefusedXmlException
from openpyxl import Workbook
from openpyxl.cell.cell import Cell as XlsxCell
from openpyxl.worksheet._reader import CELL_TAG, ROW_TAG

from cooperatives.limits import MIB, ReadLimits
from cooperatives.workbook import (
    _BLANK,
    INT,
    MONEY,
    WorkbookError,
    _cell_text,
    _CsvLines,
    _entities_refused,
    _guarded,
    _Invalid,
    _is_blank,
    _key,
    _load_xlsx,
    _lookup,
    _past_last_row,
    _ReadError,
    _row_cells,
    _SheetParser,
    _show,
    _stream,
    half_width,
)
from ledger.cells import csv_field, save_workbook
from ledger.errors import Problem
from ledger.i18n import N_, msg

__all__ = [
    "LAYOUTS",
    "LAYOUT_LABELS",
    "ApartLine",
    "Layout",
    "OutLine",
    "ReturnFileError",
    "ReturnRow",
    "batch_file",
    "read_returns",
]

CENT = Decimal("0.01")
#: the largest return file read (bytes), and the most rows (a cooperative pays a few hundred households)
MAX_BYTES = 20 * MIB
MAX_ROWS = 200_000
_LIMITS = ReadLimits(max_rows=MAX_ROWS, max_columns=64, max_sheets=20)
_REASON_CHARS = 500   # the longest failure reason kept (a bank's is a short sentence)
_ACCOUNT_DIGITS = 40  # the longest account number (bank cards have 16-19 digits, passbooks fewer)


# --------------------------------------------------------------------------- lines of a batch


@dataclass(frozen=True)
class OutLine:
    """One household paid in the batch."""

    seq: int              # 序号, 1..n
    name: str             # 户名 (payee name, full)
    account: str          # 账号 (full number, digits)
    amount: Decimal       # yuan, exactly 2 places
    memo: str             # 附言/用途, e.g. "2025年收益分配"


@dataclass(frozen=True)
class ApartLine:
    """A household owed but not in the batch, with the reason (already in the reader's words)."""

    member: str           # member code
    name: str
    amount: Decimal
    reason: str


# --------------------------------------------------------------------------- layouts

Cell = str | int | Decimal | None
Rows = list[list[Cell]]


@dataclass(frozen=True)
class Layout:
    """A bank's batch file: the rows above the column headers, the headers, a data row, and the rows after."""

    key: str
    label: str                      # N_()-marked, translated where it is shown
    sheet: str                      # the first sheet's name in xlsx
    columns: tuple[str, ...]        # the column headers, Chinese as the bank's template writes them
    account_column: int             # where the account number is (0-based): a text column
    amount_column: int
    row: Callable[[OutLine], list[Cell]]
    above: Callable[[list[OutLine], Decimal, str, str, str], Rows]   # (lines, total, title, payer, fmt)
    below: Callable[[list[OutLine], Decimal], Rows]


def _generic_row(line: OutLine) -> list[Cell]:
    return [line.seq, line.name, line.account, line.amount, line.memo]


def _generic_above(lines: list[OutLine], total: Decimal, title: str, payer: str, fmt: str) -> Rows:
    # a title row in the spreadsheet (people read it: the counter or the bank's import tool takes a header row
    # anywhere); none in csv, whose first line is the header
    return [[title]] if fmt == "xlsx" and title else []


def _generic_below(lines: list[OutLine], total: Decimal) -> Rows:
    return [["合计", f"{len(lines)}笔", None, total, None]]


def _rcb_row(line: OutLine) -> list[Cell]:
    return [line.seq, line.account, line.name, line.amount, line.memo]


def _rcb_above(lines: list[OutLine], total: Decimal, title: str, payer: str, fmt: str) -> Rows:
    # the template's header rows: the paying unit, then 总笔数/总金额 the bank checks the details against
    return [["付款单位", payer], ["总笔数", len(lines), "总金额", total]]


def _nothing_below(lines: list[OutLine], total: Decimal) -> Rows:
    return []


LAYOUTS: dict[str, Layout] = {
    "generic": Layout(
        "generic", N_("Generic (序号, 户名, 账号, 金额, 附言)"), "代发明细",
        ("序号", "户名", "账号", "金额", "附言"), 2, 3, _generic_row, _generic_above, _generic_below),
    "rcb": Layout(
        "rcb", N_("Rural commercial bank / rural credit cooperative (总笔数, 总金额; 序号, 收款账号, 收款户名, 金额, 摘要)"),
        "代发明细", ("序号", "收款账号", "收款户名", "金额", "摘要"), 1, 3, _rcb_row, _rcb_above, _nothing_below),
}
LAYOUT_LABELS: dict[str, str] = {key: layout.label for key, layout in LAYOUTS.items()}

_APART_SHEET = "未列入"
_APART_COLUMNS = ("户号", "户名", "应付金额", "原因")
FORMATS = ("xlsx", "csv")


def _cents(amount: Decimal) -> Decimal:
    """``amount`` with exactly two decimals; a programming error when it is not a whole number of fen."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"an amount is a finite Decimal, not {amount!r}")
    exact = amount.quantize(CENT)
    if exact != amount:
        raise ValueError(f"an amount is a whole number of fen, not {amount}")
    return exact


def batch_file(layout: str, fmt: str, lines: list[OutLine], apart: list[ApartLine], *, title: str,
               payer: str) -> bytes:
    """The batch file of ``lines`` in ``layout`` (a key of :data:`LAYOUTS`) as ``fmt`` ("xlsx" or "csv");
    ``apart`` goes on a second sheet (未列入) in xlsx and is left out of csv."""
    spec = LAYOUTS.get(layout)
    if spec is None:
        raise ValueError(f"unknown batch layout {layout!r} (expected one of {', '.join(LAYOUTS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown batch file format {fmt!r} (expected xlsx or csv)")
    lines = [OutLine(line.seq, line.name, line.account, _cents(line.amount), line.memo) for line in lines]
    total = sum((line.amount for line in lines), Decimal("0.00"))
    above = spec.above(lines, total, title, payer, fmt)
    body = [spec.row(line) for line in lines]
    below = spec.below(lines, total)
    if fmt == "csv":
        return _csv_bytes([*above, list(spec.columns), *body, *below])
    return _xlsx_bytes(spec, above, body, below, apart)


def _csv_text(value: Cell) -> str:
    if isinstance(value, Decimal):
        return csv_field(value, format(value, "f"))
    return csv_field(value)


def _csv_bytes(rows: Rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
    return out.getvalue().encode("utf-8-sig")  # with a byte-order mark: Excel and WPS then read UTF-8


def _put(sheet: Any, row: list[Cell], *, text_columns: Sequence[int] = ()) -> None:
    """Append ``row``: a Decimal as a number formatted ``0.00``, text as text (``@`` in ``text_columns``). The cells
    are made before they are appended (looking a row up after appending it scans the whole sheet: quadratic)."""
    cells = []
    for index, value in enumerate(row):
        cell = XlsxCell(sheet, value=value)
        if isinstance(value, Decimal):
            cell.number_format = "0.00"
        elif index in text_columns and isinstance(value, str):
            cell.number_format = "@"
        cells.append(cell)
    sheet.append(cells)


def _xlsx_bytes(spec: Layout, above: Rows, body: Rows, below: Rows, apart: list[ApartLine]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = spec.sheet
    for row in above:
        _put(sheet, row)
    _put(sheet, list(spec.columns))
    for row in body:
        _put(sheet, row, text_columns=(spec.account_column,))
    for row in below:
        _put(sheet, row)
    for index, letter in enumerate("ABCDE"[: len(spec.columns)]):
        wide = index in (spec.account_column, len(spec.columns) - 1)
        sheet.column_dimensions[letter].width = 6 if index == 0 else 24 if wide else 14
    if apart:
        other = book.create_sheet(_APART_SHEET)
        _put(other, list(_APART_COLUMNS))
        for line in apart:
            _put(other, [line.member, line.name, _cents(line.amount), line.reason])
        for letter, width in zip("ABCD", (12, 14, 14, 48), strict=True):
            other.column_dimensions[letter].width = width
    return save_workbook(book)


# --------------------------------------------------------------------------- the bank's return file


@dataclass(frozen=True)
class ReturnRow:
    """One row of the bank's return file."""

    row: int                 # the row number in the file (1-based as a spreadsheet shows it)
    seq: int | None          # 序号 when the file has that column
    account: str             # digits only (spaces removed)
    amount: Decimal
    ok: bool                 # 状态: 成功 → True, 失败 → False
    reason: str | None       # 失败原因 (None for successes that give none)


class ReturnFileError(WorkbookError, ValueError):
    """The return file cannot be read; :attr:`problems` lists every problem, each located (row 0: the whole
    file) — the import workbook's error, with its listing of the problems."""


#: the columns of a return file: canonical name → (its Chinese name, in messages; the headers read as it)
_RETURN_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "seq": ("序号", ("序号", "编号", "seq", "no", "no.", "#", "sequence", "serial")),
    "name": ("户名", ("户名", "收款人户名", "收款户名", "姓名", "收款人姓名", "收款人名称", "收款人", "账户名称", "name",
                    "payee", "account name", "payee name")),
    "account": ("账号", ("账号", "收款账号", "卡号", "收款人账号", "收款卡号", "银行卡号", "收款人卡号", "账户", "收款账户",
                       "收款人账户", "account", "account no", "account no.", "account number", "card no", "card number")),
    "amount": ("金额", ("金额", "交易金额", "代发金额", "实发金额", "发放金额", "付款金额", "amount")),
    "status": ("状态", ("状态", "处理状态", "交易状态", "结果", "处理结果", "交易结果", "代发结果", "status", "result")),
    "reason": ("失败原因", ("失败原因", "原因", "错误信息", "失败信息", "错误原因", "备注", "reason", "error", "message",
                        "remark", "failure reason")),
}
_REQUIRED = ("account", "amount", "status")
_HEADERS = {_key(header): name for name, (_, headers) in _RETURN_COLUMNS.items() for header in headers}
#: among the headers of one column, the earlier wins over the later (失败原因 over a 备注 column beside it)
_PRIORITY = {_key(header): at for _, (_, headers) in _RETURN_COLUMNS.items() for at, header in enumerate(headers)}

_SUCCESS = ("成功", "处理成功", "交易成功", "代发成功", "已成功", "入账成功", "success", "succeeded", "successful", "s")
_FAILURE = ("失败", "处理失败", "交易失败", "代发失败", "已失败", "入账失败", "failed", "failure", "fail", "f")
_STATUS = {**{_key(word): True for word in _SUCCESS}, **{_key(word): False for word in _FAILURE}}
#: a row whose first cells start with these is the file's summary (合计), not a payment
_SUMMARY = ("合计", "总计", "小计", "总笔数", "总金额", "成功笔数", "失败笔数", "成功金额", "失败金额", "total")
_CURRENCY = str.maketrans("", "", "¥￥元")


def _whole_file(source: str, reason: str) -> ReturnFileError:
    return ReturnFileError([Problem(source, 0, "", reason)])


def _not_a_spreadsheet(source: str, why: str) -> ReturnFileError:
    return _whole_file(source, msg(N_("not a workbook: %(why)s"), why=why, code="not_a_workbook"))


def read_returns(data: bytes, filename: str) -> list[ReturnRow]:
    """The rows of the bank's return file ``data`` (named ``filename``: ``.xlsx`` or ``.csv``), or
    :class:`ReturnFileError` with every problem of the file."""
    source = (filename or "").replace("\\", "/").rsplit("/", 1)[-1] or "?"
    suffix = source.rsplit(".", 1)[-1].lower() if "." in source else ""
    if suffix not in ("xlsx", "csv"):
        raise _whole_file(source, msg(N_("a bank's return file is an .xlsx or a .csv file; save it as .xlsx (Excel "
                                         "workbook) and upload it again"), code="return_file_kind"))
    if len(data) > MAX_BYTES:
        raise _whole_file(source, msg(N_("The file is too large to upload."), code="file_too_large"))
    if not data:
        raise _whole_file(source, msg(N_("the file is empty"), code="empty_file"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it ignores
        if suffix == "csv":
            text = _decode(data, source)
            if "\x00" in text:
                raise _whole_file(source, msg(N_("must not contain a NUL character"), code="nul"))
            return _read_table(source, _guarded(_csv_rows(text), N_("file")))
        return _read_xlsx(data, source)


def _decode(data: bytes, source: str) -> str:
    """The text of a csv file: UTF-8 (a byte-order mark allowed), else GB18030 (GBK's superset)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _whole_file(source, msg(N_("cannot read %(what)s: not UTF-8 text (save it as “CSV UTF-8”)"),
                                         what=msg(N_("file")), code="not_utf8"))


def _csv_rows(text: str) -> Iterator[tuple[int, list[Any]]]:
    lines = _CsvLines(io.StringIO(text, newline=""), _LIMITS.max_csv_row_chars)
    for number, cells in enumerate(csv.reader(lines), 1):
        if number > _LIMITS.max_rows:
            raise _past_last_row(number, _LIMITS)
        yield number, cells[: _LIMITS.max_columns]
        lines.used, lines.number = 0, number + 1


class _ReturnSheetParser(_SheetParser):
    """The workbook reader's bounded sheet parser, but with every row as wide as :data:`_LIMITS` allows: the
    header of a return file need not be row 1 (a bank's title rows are narrower than its table)."""

    def numbered_rows(self) -> Iterator[tuple[int, list[Any]]]:
        width, number, previous = self.limits.max_columns, 0, 0
        values: dict[int, Any] = {}
        beyond = False
        for event, element, depth in _stream(self.source, self.part, 4):
            if depth == 3 and element.tag == ROW_TAG:
                if event == "start":
                    number = self._start_row(element.get("r"), previous)
                    values, beyond = {}, False
                    continue
                yield number, _row_cells(values, width, False)
                previous, number = number, 0
            elif depth == 4 and number and element.tag == CELL_TAG:
                beyond = self._cell(element, values, width, beyond, False)


def _read_xlsx(data: bytes, source: str) -> list[ReturnRow]:
    """The first sheet of an xlsx return file, read within :data:`_LIMITS`."""
    try:
        book = _load_xlsx(io.BytesIO(data), _LIMITS)
    except _ReadError as exc:
        raise _whole_file(source, exc.args[0]) from None
    except DefusedXmlException:
        raise _whole_file(source, _entities_refused()) from None
    except Exception as exc:  # zipfile, XML and openpyxl errors alike mean "not an xlsx file"
        raise _not_a_spreadsheet(source, msg(N_("not an .xlsx file (%(error)s)"),
                                             error=f"{type(exc).__name__}: {exc}"[:200])) from None
    try:
        if not book.sheets:
            raise _not_a_spreadsheet(source, msg(N_("not an .xlsx file (%(error)s)"), error="no worksheet"))
        title, part = book.sheets[0]

        def rows() -> Iterator[tuple[int, list[Any]]]:
            with book.archive.stream(part) as stream:
                yield from _ReturnSheetParser(stream, book, part, _LIMITS).numbered_rows()

        return _read_table(title, _guarded(rows(), N_("sheet")))
    finally:
        book.close()


@dataclass
class _Column:
    name: str
    index: int
    header: str       # as the file writes it


def _header_of(cells: Sequence[Any]) -> tuple[dict[str, _Column], list[tuple[str, str, str]]]:
    """The known columns of a candidate header row, and its duplicates as (name, header, other header)."""
    found: dict[str, _Column] = {}
    duplicates: list[tuple[str, str, str]] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, str) or not cell.strip():
            continue
        header = cell.strip()
        name = _lookup(_HEADERS, header)
        if name is None:
            continue
        other = found.get(name)
        if other is None:
            found[name] = _Column(name, index, header)
        elif name == "reason" or name == "name":   # a second reason (备注 beside 失败原因): the likelier one
            if _PRIORITY.get(_key(header), 99) < _PRIORITY.get(_key(other.header), 99):
                found[name] = _Column(name, index, header)
        else:
            duplicates.append((name, header, other.header))
    return found, duplicates


def _is_summary(cells: Sequence[Any]) -> bool:
    for cell in cells[:3]:
        if isinstance(cell, str) and cell.strip():
            return _key(half_width(cell)).startswith(_SUMMARY)
    return False


def _read_table(sheet: str, rows: Iterator[tuple[int, Sequence[Any]]]) -> list[ReturnRow]:
    problems: list[Problem] = []
    out: list[ReturnRow] = []
    columns: dict[str, _Column] | None = None
    best: tuple[int, int, dict[str, _Column]] = (0, 1, {})   # (known columns, row, columns) of the likeliest header
    try:
        for number, cells in rows:
            if columns is None:
                found, duplicates = _header_of(cells)
                if all(name in found for name in _REQUIRED):
                    columns = found
                    for name, header, other in duplicates:
                        problems.append(Problem(sheet, number, header, msg(
                            N_("duplicate column %(name)s (also %(other)s)"), name=repr(_RETURN_COLUMNS[name][0]),
                            other=repr(other), code="duplicate_column")))
                elif len(found) > best[0]:
                    best = (len(found), number, found)
                continue
            if _is_blank(cells) or _is_summary(cells):
                continue
            row = _return_row(sheet, number, cells, columns, problems)
            if row is not None:
                out.append(row)
    except _ReadError as exc:
        problems.append(Problem(sheet, exc.row, "", exc.args[0]))
        raise ReturnFileError(problems) from None
    if columns is None:
        _, row, found = best
        for name in _REQUIRED:
            if name not in found:
                problems.append(Problem(sheet, row, _RETURN_COLUMNS[name][0],
                                        msg(N_("missing required column"), code="missing_column")))
    elif not out and not problems:
        problems.append(Problem(sheet, 0, "", msg(N_("the bank's return file has no payment rows"),
                                                  code="return_file_no_rows")))
    if problems:
        raise ReturnFileError(problems)
    return out


def _return_row(sheet: str, number: int, cells: Sequence[Any], columns: dict[str, _Column],
                problems: list[Problem]) -> ReturnRow | None:
    values: dict[str, Any] = {}
    valid = True
    for name, parse in _PARSERS.items():
        column = columns.get(name)
        if column is None:
            values[name] = None
            continue
        raw = cells[column.index] if column.index < len(cells) else None
        try:
            values[name] = parse(raw)
        except _Invalid as exc:
            problems.append(Problem(sheet, number, column.header, exc.args[0]))
            valid = False
    if not valid:
        return None
    return ReturnRow(number, values["seq"], values["account"], values["amount"], values["status"], values["reason"])


def _missing() -> _Invalid:
    return _Invalid(msg(N_("required value is missing"), code="missing_value"))


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _parse_seq(raw: Any) -> int | None:
    if _blank(raw):
        return None
    return INT.parse(raw)


def _parse_account(raw: Any) -> str:
    """Digits only: text (spaces and full-width digits allowed) or a whole-number cell; a number cell of 16 digits
    or more has lost its last digits (a float keeps 15 to 17)."""
    if _blank(raw):
        raise _missing()
    if isinstance(raw, bool):
        raise _Invalid(msg(N_("not an account number: %(value)s"), value=_show(raw), code="not_an_account"))
    if isinstance(raw, float) and raw.is_integer() and abs(raw) >= 1e15:
        raise _Invalid(msg(N_("number cannot be stored exactly in a numeric cell, format the cell as text: "
                              "%(value)s"), value=_show(raw), code="inexact_number"))
    text = raw if isinstance(raw, str) else _cell_text(raw)
    digits = "".join(half_width(text).split()).replace("-", "")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= _ACCOUNT_DIGITS):
        raise _Invalid(msg(N_("not an account number: %(value)s"), value=_show(raw), code="not_an_account"))
    return digits


def _parse_amount(raw: Any) -> Decimal:
    """Yuan, positive, at most two decimals: the import workbook's money (a float cell at its shortest repr, so
    one that is not a whole number of fen has too many decimals); ``¥`` and ``元`` around the number are allowed."""
    if isinstance(raw, str):
        raw = raw.translate(_CURRENCY)
    if isinstance(raw, bool):
        raise _Invalid(msg(N_("not a number: %(value)s"), value=_show(raw), code="not_a_number"))
    value = MONEY.parse(raw) if raw is not None else _BLANK
    if value is _BLANK:
        raise _missing()
    return value


def _parse_status(raw: Any) -> bool:
    if _blank(raw):
        raise _missing()
    text = raw if isinstance(raw, str) else _cell_text(raw)
    found = _STATUS.get(_key(half_width(text)))
    if found is None:
        raise _Invalid(msg(N_("unknown value %(value)s (expected %(expected)s)"), value=_show(text),
                           expected="成功, 失败", code="unknown_value"))
    return found


def _parse_reason(raw: Any) -> str | None:
    if _blank(raw):
        return None
    text = (raw if isinstance(raw, str) else _cell_text(raw)).strip()
    if len(text) > _REASON_CHARS:
        raise _Invalid(msg(N_("too long: at most %(limit)s characters"), limit=_REASON_CHARS, code="too_long"))
    return text


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "seq": _parse_seq, "account": _parse_account, "amount": _parse_amount, "status": _parse_status,
    "reason": _parse_reason,
}

"""One exporter for every oversight table: XLSX (openpyxl, in the style of the statutory reports' workbooks)
and CSV (UTF-8 with a byte-order mark, so Excel opens Chinese headers correctly). Headers are the
columns' labels translated by the ``gettext`` given (Chinese by default); money is written exactly from
the Decimals, with the same rows and the same totals as the page. Every cell goes out through
:mod:`ledger.cells`: text is never a formula (XLSX text cells; a leading ``'`` in CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal

from ledger.cells import csv_field, save_workbook
from ledger.money import fmt
from payouts.oversight.tables import Table
from payouts.reports.statutory import MONEY_FORMAT, QUANTITY_FORMAT

FORMATS = {"money": MONEY_FORMAT, "quantity": QUANTITY_FORMAT, "int": "0", "percent": '0.00"%"',
           "date": "yyyy-mm-dd"}
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"


def _cell_text(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money" and isinstance(value, Decimal):
        return fmt(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def to_csv(table: Table, *, gettext: Callable[[str], str], total_label: str = "合计") -> bytes:
    """Header row, one row per table row, then the totals row (when the table has totals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_field(gettext(c.label)) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(row.get(c.key), c.kind) for c in table.columns])
    if table.totals is not None:
        writer.writerow(_totals_line(table, csv_field(total_label), _csv_cell))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cell(value, kind: str) -> str:
    return csv_field(value, _cell_text(value, kind))


def _totals_line(table: Table, label: str, show) -> list:
    line = [show(table.totals.get(c.key), c.kind) if c.key in table.totals else "" for c in table.columns]
    if not line[0]:
        line[0] = label
    return line


def to_xlsx(table: Table, *, title: str, subtitle: str = "", gettext: Callable[[str], str],
            total_label: str = "合计") -> bytes:
    """A one-sheet workbook: the title, a subtitle line (township, year, unit), bold Chinese headers, the
    rows (numbers as numbers), a bold totals row."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    width = max(len(table.columns), 1)
    ws.cell(1, 1, title).font = Font(bold=True, size=14)
    if width > 1:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    ws.cell(2, 1, subtitle)
    for col, column in enumerate(table.columns, 1):
        cell = ws.cell(3, col, gettext(column.label))
        cell.font, cell.alignment = Font(bold=True), Alignment(horizontal="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = 14 if column.kind != "text" else 22
    row_no = 4
    for row in table.rows:
        for col, column in enumerate(table.columns, 1):
            _write(ws.cell(row_no, col), row.get(column.key), column.kind)
        row_no += 1
    if table.totals is not None:
        for col, column in enumerate(table.columns, 1):
            cell = ws.cell(row_no, col)
            if column.key in table.totals:
                _write(cell, table.totals[column.key], column.kind)
            elif col == 1:
                cell.value = total_label
            cell.font = Font(bold=True)
    ws.freeze_panes = "A4"
    return save_workbook(wb)


def _write(cell, value, kind: str) -> None:
    if value is None:
        return
    if kind in FORMATS and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        cell.value = value
        cell.number_format = FORMATS[kind]
    elif kind == "date" and hasattr(value, "isoformat"):
        cell.value = value
        cell.number_format = FORMATS["date"]
    else:
        cell.value = _cell_text(value, kind)

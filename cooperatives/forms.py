"""One validation for every door: web forms and API bodies are checked by the same column rules as
the import workbook (``cooperatives.workbook.SHEETS``), so a value refused in Excel is refused on the
web and in the API, with the same reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cooperatives.workbook import SHEETS, Problem, _SheetReader
from ledger.i18n import N_, msg


def parse_form(kind: str, data: Mapping[str, Any]) -> tuple[dict | None, list[Problem]]:
    """Validate one record given as ``column -> raw value``. Returns (typed values, []) or (None, problems).

    Problems carry the canonical column name in ``column`` (row 2, sheet ``kind``).
    """
    spec = SHEETS[kind]
    names = [c.name for c in spec.columns]
    cells = []
    for name in names:
        value = data.get(name)
        if isinstance(value, list):          # a MultiDict seen as a dict of lists
            value = value[0] if value else None
        cells.append("" if value is None else value)
    problems: list[Problem] = []
    rows = _SheetReader(spec, kind, problems).read(iter([(1, names), (2, cells)]))
    if not rows and not problems:        # an empty form is a blank row to the reader: name what is missing
        problems = [Problem(kind, 2, c.name, msg(N_("required value is missing"), code="missing_value"))
                    for c in spec.columns if c.required]
    if problems or not rows:
        return None, problems
    return dict(rows[0].values), []

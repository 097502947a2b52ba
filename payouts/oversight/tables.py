"""The one shape every oversight table has, so a page, its XLSX and its CSV export show the same rows and
the same totals. Labels are message ids (``N_``), translated where they are shown (Chinese headers by
default); money is ``Decimal`` yuan, never float."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: kinds of column: how a value is shown and exported
KINDS = ("text", "int", "money", "quantity", "percent", "date")


@dataclass(frozen=True)
class Column:
    key: str
    #: message id, e.g. N_("Village"); translated on pages and in export headers
    label: str
    kind: str = "text"
    #: money/int/quantity columns are summed into the totals row when True
    total: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class Table:
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: the totals row (same keys as a row), or None when the table has no totals
    totals: dict[str, Any] | None = None
    #: message id: the totals row's label when it is not simply "Total" (e.g. what it leaves out)
    total_label: str | None = None

    def with_totals(self) -> Table:
        """Fill ``totals`` with the exact sum of every column marked ``total``."""
        totals: dict[str, Any] = {}
        for column in self.columns:
            if column.total:
                totals[column.key] = sum((row.get(column.key) or 0 for row in self.rows), start=0)
        self.totals = totals
        return self

"""How much of an uploaded workbook ``cooperatives.workbook`` will read (no openpyxl, no database).

Every limit is checked before the data it guards is decompressed or parsed, so a small hostile file
(a "zip bomb", a row numbered in the trillions, a cell at column XFD) is refused at once, or costs
nothing, instead of taking the server's memory and time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "MIB", "ReadLimits"]

MIB = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on reading one uploaded workbook; the defaults fit any real cooperative workbook.

    * ``max_rows`` (1,048,576, Excel's own limit): rows per sheet, the header included. A row
      *numbered* beyond it is refused the moment its start tag is seen: the rows before it are never
      filled in, so a one-row file claiming row 2,000,000,000,000 costs nothing.
    * ``max_columns`` (256, the old Excel limit; an import sheet has about ten): columns of the
      header read. Data rows keep only the columns up to the header's last filled cell; a cell
      further right (even at XFD, column 16,384) is looked at once, to know whether the row is
      blank, and never padded to.
    * ``max_unzipped_mib`` (256): total uncompressed size of the parts of an ``.xlsx``, as declared in
      the zip's central directory and checked before anything is decompressed. Python's zipfile never
      hands out more than a part's declared size, and parts are decompressed a chunk at a time, so a
      part that lies about its size costs no more than it declares: this bounds all later work
      (reading time grows with it; lower it for a tighter bound on time).
    * ``max_shared_strings_mib`` (64): declared size of the shared-strings part
      (``xl/sharedStrings.xml``), which is held in memory as a list of strings.
    * ``max_part_mib`` (4): declared size of every other part, which openpyxl parses whole into a tree
      (content types, workbook, relationships, styles: a real one takes well under 1 MiB; nested XML takes
      about 40 times its size in memory); worksheets and shared strings are streamed.
    * ``max_members`` (2,000): files inside the ``.xlsx`` zip (a workbook has a few dozen).
    * ``max_sheets`` (50): sheets in the workbook (there are 14 kinds).
    * ``max_csv_files`` (50): ``.csv`` files in a folder upload.
    * ``max_csv_row_chars`` (1,048,576): characters in one CSV record, checked before the csv module
      builds the record (it cannot drop the columns beyond the header any earlier).
    """

    max_rows: int = 1_048_576
    max_columns: int = 256
    max_unzipped_mib: int = 256
    max_shared_strings_mib: int = 64
    max_part_mib: int = 4
    max_members: int = 2_000
    max_sheets: int = 50
    max_csv_files: int = 50
    max_csv_row_chars: int = 1_048_576

    def __post_init__(self) -> None:
        """Refuse a limit that is not a positive whole number (a typo in a setting must not disable it)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value.__class__ is not int or value <= 0:
                raise ValueError(f"ReadLimits.{f.name} must be a positive whole number, not {value!r}")


#: the limits a reader uses unless told otherwise
DEFAULT_LIMITS = ReadLimits()

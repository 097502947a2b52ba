"""Reading a hostile upload stays bounded (cooperatives.workbook within cooperatives.limits.ReadLimits).

Pure: no database. What is measured is bytes — decompressed, or allocated (tracemalloc) — never time.
"""

from __future__ import annotations

import collections
import io
import struct
import tracemalloc
import zipfile
import zlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.reader.strings import read_string_table

from cooperatives.limits import DEFAULT_LIMITS, MIB, ReadLimits
from cooperatives.workbook import (
    _BEYOND,
    Problem,
    WorkbookError,
    _open_xlsx,
    _xlsx_rows,
    read_workbook,
    read_workbook_partial,
)
from ledger.i18n import Message

MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHEET = "xl/worksheets/sheet1.xml"
INCOME = [["date", "source", "amount"], ["2025-01-01", "bank", "1.5"], ["2025-01-02", "post", "2"]]

# ---------------------------------------------------------------- building files


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def write_csv(folder: Path, sheets: dict[str, list[list]]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, rows in sheets.items():
        (folder / f"{name}.csv").write_text("".join(",".join(map(str, row)) + "\n" for row in rows))
    return folder


def parts_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_parts(path: Path, parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    level = 9 if compression == zipfile.ZIP_DEFLATED else None
    with zipfile.ZipFile(path, "w", compression, compresslevel=level) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def cell(ref: str, value: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'.encode()


def income_rows(*extra: bytes) -> bytes:
    """The rows of INCOME as sheet XML (inline strings), then ``extra`` rows."""
    rows = [b'<row r="%d">' % n + b"".join(cell(f"{col}{n}", v) for col, v in zip("ABC", values, strict=True))
            + b"</row>" for n, values in enumerate(INCOME, 1)]
    return b"".join(rows) + b"".join(extra)


def sheet_xml(rows: bytes, prolog: bytes = b"") -> bytes:
    return (b'<?xml version="1.0"?>' + prolog + b"<worksheet " + MAIN + b"><sheetData>" + rows
            + b"</sheetData></worksheet>")


def with_sheet(tmp_path: Path, xml: bytes, name: str = "book.xlsx") -> Path:
    """A workbook with one sheet, ``income``, whose XML is ``xml``."""
    parts = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": [["x"]]}))
    parts[SHEET] = xml
    return write_parts(tmp_path / name, parts)


SST_TYPE = (b'<Override PartName="/xl/sharedStrings.xml" '
            b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" />')


def with_shared_strings(tmp_path: Path, strings: bytes, rows: bytes, name: str = "shared.xlsx") -> Path:
    """A workbook with one sheet, ``income``, of ``rows`` and the shared strings ``strings`` (the ``<si>``
    items), as Excel writes them (openpyxl writes inline strings)."""
    parts = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": [["x"]]}))
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", SST_TYPE + b"</Types>")
    parts["xl/sharedStrings.xml"] = b'<?xml version="1.0"?><sst ' + MAIN + b">" + strings + b"</sst>"
    parts[SHEET] = sheet_xml(rows)
    return write_parts(tmp_path / name, parts)


def shared(ref: str, index: int) -> bytes:
    return f'<c r="{ref}" t="s"><v>{index}</v></c>'.encode()


def streamed_part(path: Path, name: str, chunk: bytes, count: int, rest: dict[str, bytes]) -> Path:
    """A zip with ``rest`` and the part ``name`` holding ``chunk`` ``count`` times, compressed as it is
    written (a zip bomb of any size, built without holding it in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for part, data in rest.items():
            if part != name:
                zf.writestr(part, data)
        with zf.open(name, "w") as out:
            for _ in range(count):
                out.write(chunk)
    return path


def declare(path: Path, name: str, size: int, crc_of: bytes | None = None) -> Path:
    """Make the zip's central directory declare ``size`` bytes for ``name`` (and, given, the CRC of
    ``crc_of``): a zip that lies about a part."""
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + length] == name.encode():
            struct.pack_into("<I", raw, at + 24, size)
            if crc_of is not None:
                struct.pack_into("<I", raw, at + 16, zlib.crc32(crc_of))
            path.write_bytes(bytes(raw))
            return path
        at = raw.find(b"PK\x01\x02", at + 46)
    raise AssertionError(f"{name} not in {path}")


# ---------------------------------------------------------------- measuring


@pytest.fixture
def unzipped(monkeypatch) -> collections.Counter:
    """Bytes decompressed per zip member while the test runs."""
    counts: collections.Counter = collections.Counter()
    read1 = zipfile.ZipExtFile._read1

    def counting(self, n):
        data = read1(self, n)
        counts[self.name] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "_read1", counting)
    return counts


def peak_bytes(action) -> int:
    """The most memory ``action()`` had allocated at once (tracemalloc), in bytes."""
    tracemalloc.start()
    try:
        action()
    except WorkbookError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def problems_of(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> list[Problem]:
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, limits)
    return caught.value.problems


def whole_file(path: Path, reason: str) -> list[Problem]:
    return [Problem(str(path), 0, "", reason)]


# ---------------------------------------------------------------- the limits themselves


def test_limits_have_excel_defaults_and_refuse_nonsense():
    assert DEFAULT_LIMITS == ReadLimits()
    assert (DEFAULT_LIMITS.max_rows, DEFAULT_LIMITS.max_unzipped_mib, DEFAULT_LIMITS.max_shared_strings_mib) == (
        1_048_576, 256, 64)
    for bad in (0, -1, 1.5, "10", True):
        with pytest.raises(ValueError, match="max_rows"):
            ReadLimits(max_rows=bad)


def test_settings_build_the_limits():
    from payouts.settings import Settings

    settings = Settings.from_env({"COOP_SECRET_KEY": "k", "COOP_IMPORT_MAX_ROWS": "500",
                                  "COOP_IMPORT_MAX_UNZIPPED_MB": "32"})
    assert settings.read_limits() == ReadLimits(max_rows=500, max_unzipped_mib=32)
    assert Settings.from_env({"COOP_SECRET_KEY": "k"}).read_limits() == DEFAULT_LIMITS


# ---------------------------------------------------------------- (a) zip bombs


def test_zip_bomb_is_refused_from_the_directory_without_decompressing(tmp_path, unzipped):
    model = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": INCOME}))
    bomb = streamed_part(tmp_path / "bomb.xlsx", SHEET, b"<row/>" * 50_000, 8, model)  # 2.3 MiB unzipped
    assert bomb.stat().st_size < 64 * 1024
    limits = ReadLimits(max_unzipped_mib=2)
    reason = "the workbook unpacks to more than 2 MiB"
    unzipped.clear()  # count the reader's decompression only
    assert problems_of(bomb, limits) == whole_file(bomb, reason)
    assert sum(unzipped.values()) == 0  # refused from the central directory alone
    with pytest.raises(WorkbookError) as caught:
        read_workbook_partial(bomb, limits)
    [found] = caught.value.problems
    assert isinstance(found.reason, Message)  # translatable
    assert (found.reason.template, found.reason.params) == ("the workbook unpacks to more than %(limit)s MiB",
                                                            {"limit": 2})


def test_zip_bomb_past_the_default_limit_costs_nothing(tmp_path, unzipped):
    model = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": INCOME}))
    bomb = streamed_part(tmp_path / "bomb.xlsx", SHEET, b"<row/>" * (MIB // 6), 257, model)  # 257 MiB unzipped
    assert bomb.stat().st_size < 400 * 1024
    unzipped.clear()
    peak = peak_bytes(lambda: read_workbook(bomb))
    assert problems_of(bomb) == whole_file(bomb, "the workbook unpacks to more than 256 MiB")
    assert sum(unzipped.values()) == 0
    assert peak < 2 * MIB


def test_shared_strings_bomb_is_refused_before_it_is_read(tmp_path, unzipped):
    path = with_shared_strings(tmp_path, b"<si><t>a</t></si>" * 200_000, income_rows())  # 3.4 MiB
    unzipped.clear()
    reason = "the workbook's table of texts (xl/sharedStrings.xml) unpacks to more than 3 MiB"
    assert problems_of(path, ReadLimits(max_shared_strings_mib=3)) == whole_file(path, reason)
    assert unzipped["xl/sharedStrings.xml"] == 0 and sum(unzipped.values()) < 64 * 1024


def test_a_part_parsed_whole_is_refused_before_it_is_read(tmp_path, unzipped):
    parts = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": INCOME}))
    parts["xl/styles.xml"] = parts["xl/styles.xml"].replace(b"</styleSheet>", b"<x/>" * 300_000 + b"</styleSheet>")
    path = write_parts(tmp_path / "book.xlsx", parts)
    unzipped.clear()
    reason = "part xl/styles.xml of the workbook unpacks to more than 1 MiB"
    assert problems_of(path, ReadLimits(max_part_mib=1)) == whole_file(path, reason)
    assert unzipped["xl/styles.xml"] == 0
    assert read_workbook(path).sheets["income"][0].values["source"] == "bank"  # within the default 4 MiB


def test_too_many_members_and_a_foreign_compression_are_refused(tmp_path, unzipped):
    parts = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": INCOME}))
    unzipped.clear()
    crowded = write_parts(tmp_path / "crowded.xlsx", {**parts, **{f"junk/{n}": b"" for n in range(20)}})
    assert problems_of(crowded, ReadLimits(max_members=20)) == whole_file(
        crowded, "the workbook holds more than 20 files")
    bzipped = write_parts(tmp_path / "bzip2.xlsx", parts, zipfile.ZIP_BZIP2)
    [found] = problems_of(bzipped)
    assert found.row == 0 and "uses a compression that Excel does not use" in found.reason
    assert sum(unzipped.values()) == 0


def test_a_huge_directory_is_refused_before_zipfile_reads_it(tmp_path, monkeypatch):
    parts = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": INCOME}))
    path = write_parts(tmp_path / "many.xlsx", {**parts, **{f"{n:x}": b"" for n in range(3_000)}})
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", lambda self: pytest.fail("the directory was read"))
    assert problems_of(path) == whole_file(path, "the workbook holds more than 2000 files")


# ---------------------------------------------------------------- (b) a zip that lies


@pytest.mark.parametrize("crc", ["of the whole part", "of what is declared"])
def test_a_sheet_larger_than_declared_is_a_problem(tmp_path, crc):
    xml = sheet_xml(income_rows())
    path = with_sheet(tmp_path, xml)
    declare(path, SHEET, len(xml) // 2, crc_of=xml[: len(xml) // 2] if crc == "of what is declared" else None)
    [found] = problems_of(path)
    assert (found.sheet, found.row, found.column) == ("income", 0, "")
    assert found.reason.startswith("cannot read sheet: ")


def test_a_lying_part_costs_no_more_than_it_declares(tmp_path):
    parts = parts_of(write_xlsx(tmp_path / "model.xlsx", {"income": INCOME}))
    content_types = parts.pop("[Content_Types].xml")
    path = streamed_part(tmp_path / "liar.xlsx", "[Content_Types].xml", b" " * MIB, 64, parts)  # really 64 MiB
    declare(path, "[Content_Types].xml", len(content_types))  # ... declares 1 KiB
    peak = peak_bytes(lambda: read_workbook(path))
    [found] = problems_of(path)
    assert found.row == 0 and found.reason.startswith("not a workbook: ")
    assert peak < 4 * MIB  # zipfile's read() of the whole part would first decompress all 64 MiB


def test_a_workbook_part_larger_than_declared_is_not_a_workbook(tmp_path):
    path = write_xlsx(tmp_path / "book.xlsx", {"income": INCOME})
    declare(path, "xl/workbook.xml", 100)
    [found] = problems_of(path)
    assert found.row == 0 and found.reason.startswith("not a workbook: ")


# ---------------------------------------------------------------- (c) rows numbered far away


def test_a_row_numbered_two_trillion_is_refused_at_once(tmp_path):
    far = b'<row r="2000000000000">' + cell("A2000000000000", "x") + b"</row>"
    path = with_sheet(tmp_path, sheet_xml(income_rows(far)))
    peak = peak_bytes(lambda: read_workbook(path))
    assert problems_of(path) == [
        Problem("income", 2_000_000_000_000, "", "row 2000000000000 is past the limit of 1048576 rows per sheet")]
    assert peak < 4 * MIB
    assert str(problems_of(path)[0]) == (
        "income:2000000000000:: row 2000000000000 is past the limit of 1048576 rows per sheet")


@pytest.mark.parametrize("r, reason", [
    ("1.5", "a row is numbered 1.5: not a whole number"),
    ("x", "a row is numbered x: not a whole number"),
    ("NaN", "a row is numbered NaN: not a whole number"),
    ("Infinity", "a row is numbered Infinity: not a whole number"),
    ("1e999999999", "a row is numbered 1e999999999: past the limit of 1048576 rows per sheet"),
    ("4e12", "row 4000000000000 is past the limit of 1048576 rows per sheet"),
])
def test_a_row_number_is_read_exactly_and_refused_with_its_reason(tmp_path, r, reason):
    """Row numbers are read as decimals, never floats: a fraction, a word or a number of a billion digits
    is refused with what is wrong (and no int of a billion digits is ever built)."""
    odd = f'<row r="{r}">'.encode() + cell("A4", "x") + b"</row>"
    [found] = problems_of(with_sheet(tmp_path, sheet_xml(income_rows(odd))))
    assert (found.sheet, found.reason) == ("income", reason)


def test_a_row_numbered_as_a_whole_decimal_is_read(tmp_path):
    four = b'<row r="4.0">' + b"".join(cell(f"{c}4", v) for c, v in zip("ABC", ["2025-01-05", "x", "4"],
                                                                          strict=True)) + b"</row>"
    rows = read_workbook(with_sheet(tmp_path, sheet_xml(income_rows(four)))).sheets["income"]
    assert len(rows) == len(INCOME) and rows[-1].row == 4


def test_rows_past_a_small_limit_are_refused_in_xlsx_and_csv(tmp_path):
    rows = [*INCOME, ["2025-01-03", "a", "3"], ["2025-01-04", "b", "4"]]
    limits = ReadLimits(max_rows=4)
    reason = "row 5 is past the limit of 4 rows per sheet"
    for path in (write_xlsx(tmp_path / "book.xlsx", {"income": rows}), write_csv(tmp_path / "csv", {"income": rows})):
        assert problems_of(path, limits) == [Problem("income", 5, "", reason)]
        book, problems = read_workbook_partial(path, limits)
        assert "income" not in book.sheets and problems == [Problem("income", 5, "", reason)]
        assert len(read_workbook(path, ReadLimits(max_rows=5)).sheets["income"]) == 4


def test_rows_out_of_order_are_a_problem(tmp_path):
    again = b'<row r="2">' + cell("A2", "2025-01-05") + b"</row>"
    [found] = problems_of(with_sheet(tmp_path, sheet_xml(income_rows(again))))
    assert (found.sheet, found.row) == ("income", 2) and found.reason.startswith("row 2 comes after row 3")


def test_missing_rows_keep_their_numbers(tmp_path):
    later = b'<row r="40">' + b"".join(cell(f"{c}40", v) for c, v in zip("ABC", ["2025-02-01", "x", "oops"],
                                                                             strict=True)) + b"</row>"
    assert problems_of(with_sheet(tmp_path, sheet_xml(income_rows(later)))) == [
        Problem("income", 40, "amount", "not a number: 'oops'")]
    no_header = b'<row r="3">' + cell("A3", "x") + b"</row>"
    found = problems_of(with_sheet(tmp_path, sheet_xml(no_header), "headless.xlsx"))
    assert {(p.row, p.column) for p in found} == {(1, "date"), (1, "source"), (1, "amount")}


# ---------------------------------------------------------------- (d) a cell at column XFD


def test_a_cell_at_xfd_is_ignored_and_never_padded_to(tmp_path):
    far = (b'<row r="4">' + cell("A4", "2025-01-03") + cell("B4", "x") + cell("C4", "3") + cell("XFD4", "far")
           + b"</row>")
    alone = b'<row r="5">' + cell("XFD5", "far") + b"</row>"
    path = with_sheet(tmp_path, sheet_xml(income_rows(far)))
    book = read_workbook(path)
    assert [r.values["amount"] for r in book.sheets["income"]] == [Decimal("1.50"), Decimal("2.00"), Decimal("3.00")]
    xlsx = _open_xlsx(path, str(path), DEFAULT_LIMITS)
    try:
        rows = list(_xlsx_rows(xlsx, SHEET, DEFAULT_LIMITS))
    finally:
        xlsx.close()
    assert [len(cells) for _, cells in rows] == [3, 3, 3, 4]  # the header's width, and a mark past it
    assert rows[0] == (1, ["date", "source", "amount"])
    # a row filled only beyond the header is not blank: it is checked, as when the whole row was read
    found = problems_of(with_sheet(tmp_path, sheet_xml(income_rows(alone)), "alone.xlsx"))
    assert {(p.row, p.reason) for p in found} == {(5, "required value is missing")}


def test_a_header_cell_at_xfd_is_not_read(tmp_path):
    header = b'<row r="1">' + b"".join(cell(f"{c}1", v) for c, v in zip("ABC", INCOME[0], strict=True))
    rows = income_rows().replace(header, header + cell("XFD1", "note"))
    assert rows.count(b"XFD1") == 1
    book = read_workbook(with_sheet(tmp_path, sheet_xml(rows)))
    assert len(book.sheets["income"]) == 2


def test_csv_columns_past_the_header_are_cut(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "income.csv").write_text("date,source,amount\n2025-01-01,bank,1" + "," * 5000 + "x\n,,," + "," * 9 + "\n")
    book = read_workbook(folder)
    assert [r.row for r in book.sheets["income"]] == [2]


# ---------------------------------------------------------------- (e) billion laughs

LAUGHS = (b'<!DOCTYPE worksheet [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                     for n in range(1, 10))
          + b"]>")
REFUSED = "XML entity declarations are refused (Excel and WPS never write them)"


def test_billion_laughs_in_a_sheet_is_a_problem(tmp_path):
    laughing = b'<row r="4">' + cell("A4", "2025-01-03") + cell("B4", "&lol9;") + cell("C4", "1") + b"</row>"
    path = with_sheet(tmp_path, sheet_xml(income_rows(laughing), LAUGHS))
    peak = peak_bytes(lambda: read_workbook(path))
    assert problems_of(path) == [Problem("income", 0, "", REFUSED)]
    assert peak < 4 * MIB


def test_billion_laughs_in_the_shared_strings_or_the_workbook_is_refused(tmp_path):
    parts = parts_of(with_shared_strings(tmp_path, b"<si><t>&lol9;</t></si>", shared("A1", 0)))
    for part in ("xl/sharedStrings.xml", "xl/workbook.xml"):
        xml = parts[part]
        at = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0  # the DTD goes after any XML declaration
        path = write_parts(tmp_path / "laughs.xlsx", {**parts, part: xml[:at] + LAUGHS + xml[at:]})
        assert problems_of(path) == whole_file(path, REFUSED), part


# ---------------------------------------------------------------- (f) counts


def test_too_many_sheets_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "book.xlsx", {"income": INCOME, "Sheet1": [], "Sheet2": []})
    assert problems_of(path, ReadLimits(max_sheets=2)) == whole_file(path, "the workbook has more than 2 sheets")
    assert len(read_workbook(path, ReadLimits(max_sheets=3)).sheets["income"]) == 2


def test_too_many_csv_files_are_refused(tmp_path):
    folder = write_csv(tmp_path / "csv", {"income": INCOME, "expenses": [["date", "category", "amount"]],
                                          "notes": []})
    assert problems_of(folder, ReadLimits(max_csv_files=2)) == whole_file(
        folder, "the folder has more than 2 CSV files")
    assert len(read_workbook(folder, ReadLimits(max_csv_files=3)).sheets["income"]) == 2


def test_long_csv_records_and_fields_are_problems(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "income.csv").write_text("date,source,amount\n2025-01-01,bank,1\n2025-01-02," + "y" * 300 + ",2\n")
    assert problems_of(folder, ReadLimits(max_csv_row_chars=200)) == [
        Problem("income", 3, "", "the row is longer than 200 characters")]
    quoted = '2025-01-02,"' + "z\n" * 150 + '",2\n'  # a record spanning many short lines
    (folder / "income.csv").write_text("date,source,amount\n" + quoted)
    assert problems_of(folder, ReadLimits(max_csv_row_chars=200)) == [
        Problem("income", 2, "", "the row is longer than 200 characters")]
    (folder / "income.csv").write_text("date,source,amount\n2025-01-01," + "w" * 200_000 + ",1\n")
    [found] = problems_of(folder)  # the csv module's own field size limit
    assert (found.row, found.reason) == (0, "cannot read file: field larger than field limit (131072)")


def test_too_complex_a_cell_is_a_problem(tmp_path):
    runs = b'<row r="4"><c r="A4" t="inlineStr"><is>' + b"<r><t>x</t></r>" * 6_000 + b"</is></c></row>"
    [found] = problems_of(with_sheet(tmp_path, sheet_xml(income_rows(runs))))
    assert (found.sheet, found.row) == ("income", 0) and "more than 10000 XML elements" in found.reason


# ---------------------------------------------------------------- (g) normal workbooks read as before


def test_types_dates_and_shared_strings_read_as_before(tmp_path):
    rows = [["date", "source", "amount"], [datetime(2025, 1, 1), "bank", 12.3], [date(2025, 1, 2), "bank", 7],
            [None, None, None], ["2025-01-03", 2024, "1,000.50"]]
    xlsx = read_workbook(write_xlsx(tmp_path / "book.xlsx", {"income": rows}))
    assert [(r.row, r.values["date"], r.values["source"], r.values["amount"]) for r in xlsx.sheets["income"]] == [
        (2, date(2025, 1, 1), "bank", Decimal("12.30")), (3, date(2025, 1, 2), "bank", Decimal("7.00")),
        (5, date(2025, 1, 3), "2024", Decimal("1000.50"))]
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "income.csv").write_text('date,source,amount\n2025-01-01,bank,12.3\n2025-01-02,bank,7\n,,\n'
                                       '2025-01-03,2024,"1,000.50"\n')
    assert read_workbook(folder).digest == xlsx.digest


def test_shared_strings_are_read_as_excel_writes_them(tmp_path):
    strings = (b"<si><t>date</t></si><si><t>source</t></si><si><t>amount</t></si>"
               b"<si><r><t>ba</t></r><r><rPr><b/></rPr><t>nk</t></r></si><si><t>2025-01-01</t></si>"
               b'<si><t xml:space="preserve"> x005F_x </t></si><si><t/></si><si/>')
    header = b'<row r="1">' + shared("A1", 0) + shared("B1", 1) + shared("C1", 2) + b"</row>"
    rows = [b'<row r="%d">' % n + shared(f"A{n}", 4) + shared(f"B{n}", 3) + f'<c r="C{n}"><v>{n}</v></c>'.encode()
            + b"</row>" for n in range(2, 6)]
    path = with_shared_strings(tmp_path, strings, header + b"".join(rows))
    book = read_workbook(path)
    assert [(r.row, r.values["source"], r.values["amount"]) for r in book.sheets["income"]] == [
        (n, "bank", Decimal(n).quantize(Decimal("0.01"))) for n in range(2, 6)]
    assert book.sheets["income"][0].columns["amount"] == "amount"
    xlsx = _open_xlsx(path, str(path), DEFAULT_LIMITS)
    xlsx.close()
    assert xlsx.strings == read_string_table(io.BytesIO(parts_of(path)["xl/sharedStrings.xml"]))  # as openpyxl
    assert xlsx.strings[3:] == ["bank", "2025-01-01", " x ", "", ""]


def test_cells_are_those_openpyxl_reads(tmp_path):
    """Every cell openpyxl's own read-only reader gives, the bounded reader gives too (by position)."""
    rows = [["date", "source", "amount", "paid", "when"],
            ["2025-01-01", "bank", 12.3, True, datetime(2025, 1, 1, 8, 30)],
            [None, None, None, None, None],
            [date(2025, 1, 2), "", -7, False, 0.1 + 0.2],
            ["x", None, 10**14, None, "=SUM(C2:C4)"]]
    paths = [write_xlsx(tmp_path / "book.xlsx", {"income": rows}),
             with_shared_strings(tmp_path, b"<si><t>date</t></si><si><t>a b</t></si>",
                                 b'<row r="1">' + shared("A1", 0) + b'</row><row r="3"><c r="A3"><v>4</v></c>'
                                 + shared("B3", 1) + b"</row>")]
    for path in paths:
        expected = openpyxl.load_workbook(path, read_only=True, data_only=True)
        sheet = expected.worksheets[0]
        sheet.reset_dimensions()
        theirs = [tuple(v for v in row) for row in sheet.iter_rows(values_only=True)]
        expected.close()
        xlsx = _open_xlsx(path, str(path), DEFAULT_LIMITS)
        try:
            ours = list(_xlsx_rows(xlsx, SHEET, DEFAULT_LIMITS))
        finally:
            xlsx.close()
        numbered = dict(ours)
        assert set(numbered) <= set(range(1, len(theirs) + 1))
        for number, row in enumerate(theirs, 1):  # openpyxl fills in the rows left out, with blank cells
            cells = numbered.get(number, [])
            beyond = bool(cells) and cells[-1] is _BEYOND  # filled cells past the header: marked, not kept
            cells = cells[:-1] if beyond else cells
            assert tuple(cells) == row[: len(cells)]
            assert any(v not in (None, "") for v in row[len(cells):]) is beyond
        assert any(len(cells) > 1 for cells in numbered.values())


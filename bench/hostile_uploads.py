"""Benchmark: reading hostile uploads with the default ReadLimits — time and peak memory of each.

    .venv/bin/python bench/hostile_uploads.py [--worst] [CASE ...]

Builds, in a temporary folder, the uploads found on the live demo — a zip bomb (a sheet that unzips to
1 GiB; before: 797 KiB drove the server to 7.9 GiB and 186 s) and a 1.6 KB workbook with one row
numbered 2,000,000,000,000 (before: ~100 hours) — and a part that lies about its size. ``--worst`` adds
the most expensive files the default limits still let through (each just under a limit), to show
what the limits bound, and a normal 100,000-row sheet to compare with. Each file is read by
``read_workbook`` in a child process of its own, which reports its wall and CPU time, its peak RSS
(VmHWM) and the peak it had before reading (imports done); growth is the difference.
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cooperatives.limits import DEFAULT_LIMITS, MIB  # noqa: E402

LIMITS = DEFAULT_LIMITS
MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SHEET = "xl/worksheets/sheet1.xml"


def _model_parts(folder: Path) -> dict[str, bytes]:
    """The parts of a small valid workbook (an ``income`` sheet), as openpyxl writes them."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "income"
    for row in (["date", "source", "amount"], ["2025-01-01", "bank", "1.5"]):
        sheet.append(row)
    book.save(folder / "model.xlsx")
    with zipfile.ZipFile(folder / "model.xlsx") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _with_part(path: Path, parts: dict[str, bytes], name: str, pieces: Callable[[], object]) -> Path:
    """A zip of ``parts`` where ``name`` is written from ``pieces()`` (byte strings), compressed as written."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for part, data in parts.items():
            if part != name:
                archive.writestr(part, data)
        with archive.open(name, "w") as out:
            for piece in pieces():
                out.write(piece)
    return path


def _repeat(head: bytes, body: bytes, total: int, tail: bytes):
    """``head``, then ``body`` repeated to about ``total`` bytes in 1 MiB pieces, then ``tail``."""
    def pieces():
        yield head
        piece = body * max(1, MIB // len(body))
        for _ in range(max(1, (total - len(head) - len(tail)) // len(piece))):
            yield piece
        yield tail
    return pieces


def _sheet(rows: bytes) -> bytes:
    return b"<worksheet " + MAIN + b"><sheetData>" + rows + b"</sheetData></worksheet>"


def _cell(ref: str, text: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


HEADER = b'<row r="1">' + _cell("A1", "date") + _cell("B1", "source") + _cell("C1", "amount") + b"</row>"
OPEN = b"<worksheet " + MAIN + b"><sheetData>" + HEADER
CLOSE = b"</sheetData></worksheet>"


def zip_bomb(folder: Path, parts: dict[str, bytes]) -> Path:
    row = b'<row><c t="inlineStr"><is><t>bomb</t></is></c></row>'
    return _with_part(folder / "zip-bomb.xlsx", parts, SHEET, _repeat(OPEN, row, 1024 * MIB, CLOSE))


def far_row(folder: Path, parts: dict[str, bytes]) -> Path:
    far = b'<row r="2000000000000">' + _cell("A2000000000000", "far") + b"</row>"
    data = (b'<row r="2">' + _cell("A2", "2025-01-01") + _cell("B2", "bank") + b'<c r="C2"><v>1.5</v></c></row>')
    small = {name: data for name, data in parts.items() if name.startswith(("xl/", "[", "_rels"))}
    small.pop("xl/theme/theme1.xml", None)  # not needed: the smallest file that opens
    small[SHEET] = _sheet(HEADER + data + far)
    path = folder / "row-2e12.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in small.items():
            archive.writestr(name, data)
    return path


def _declare(path: Path, name: str, size: int, crc: int) -> None:
    """Make the zip's central directory declare ``size`` bytes (and ``crc``) for the part ``name``."""
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while struct.unpack_from("<H", raw, at + 28)[0] != len(name) or raw[at + 46: at + 46 + len(name)] != name.encode():
        at = raw.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", raw, at + 16, crc)
    struct.pack_into("<I", raw, at + 24, size)
    path.write_bytes(bytes(raw))


def lying_part(folder: Path, parts: dict[str, bytes]) -> Path:
    """[Content_Types].xml declaring 1 KiB while holding 1 GiB (zipfile's read() of a whole part would
    decompress all of it before cutting it to the declared size)."""
    size = len(parts["[Content_Types].xml"])
    path = _with_part(folder / "lying-part.xlsx", parts, "[Content_Types].xml", _repeat(b"", b" ", 1024 * MIB, b""))
    _declare(path, "[Content_Types].xml", size, zlib.crc32(b" " * size))
    return path


def dense_cells(folder: Path, parts: dict[str, bytes]) -> Path:
    """Just under ``max_unzipped_mib`` of filled cells in one row, in the header's columns: the costliest."""
    cell = b'<c r="B2"><v>1</v></c>'
    return _with_part(folder / "dense-cells.xlsx", parts, SHEET,
                      _repeat(OPEN + b'<row r="2">', cell, (LIMITS.max_unzipped_mib - 6) * MIB, b"</row>" + CLOSE))


def dense_junk(folder: Path, parts: dict[str, bytes]) -> Path:
    """Just under ``max_unzipped_mib`` of empty elements that are not rows: only the XML parser's cost."""
    return _with_part(folder / "dense-junk.xlsx", parts, SHEET,
                      _repeat(OPEN, b"<x/>", (LIMITS.max_unzipped_mib - 6) * MIB, CLOSE))


def _with_shared_strings(parts: dict[str, bytes]) -> dict[str, bytes]:
    """``parts`` declaring a shared-strings part (openpyxl writes inline strings; Excel shared ones)."""
    kind = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    override = b'<Override PartName="/xl/sharedStrings.xml" ContentType="' + kind + b'" />'
    return {**parts, "[Content_Types].xml": parts["[Content_Types].xml"].replace(b"</Types>", override + b"</Types>")}


def normal_rows(folder: Path, parts: dict[str, bytes]) -> Path:
    """For comparison: a valid sheet of 100,000 income rows as Excel writes it (shared strings, numbers)."""
    def row(n: int) -> bytes:
        return (b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d" t="s"><v>3</v></c>'
                b'<c r="C%d"><v>%d.5</v></c></row>' % (n, n, 4 + n % 28, n, n, 1 + n % 997))
    strings = b"".join(b"<si><t>%s</t></si>" % t for t in (b"date", b"source", b"amount", b"bank")) + b"".join(
        b"<si><t>2025-02-%02d</t></si>" % day for day in range(1, 29))
    parts = _with_shared_strings(parts)
    parts["xl/sharedStrings.xml"] = b"<sst " + MAIN + b">" + strings + b"</sst>"
    header = b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>'
    return _with_part(folder / "normal-100k.xlsx", parts, SHEET, lambda: [
        b"<worksheet " + MAIN + b"><sheetData>" + header, b"".join(row(n) for n in range(2, 100_002)), CLOSE])


def shared_strings(folder: Path, parts: dict[str, bytes]) -> Path:
    """Just under ``max_shared_strings_mib`` of distinct shared strings (they are held in memory)."""
    parts = _with_shared_strings(parts)

    def pieces():
        yield b"<sst " + MAIN + b">"
        size, n = 0, 0
        while size < (LIMITS.max_shared_strings_mib - 1) * MIB:
            piece = b"".join(b"<si><t>%x</t></si>" % i for i in range(n, n + 50_000))
            n += 50_000
            size += len(piece)
            yield piece
        yield b"</sst>"
    return _with_part(folder / "shared-strings.xlsx", parts, "xl/sharedStrings.xml", pieces)


def deep_styles(folder: Path, parts: dict[str, bytes]) -> Path:
    """Just under ``max_part_mib`` of nested elements in styles.xml, which openpyxl parses whole into a tree."""
    depth = (LIMITS.max_part_mib * MIB - 200) // 7

    def pieces():
        yield b"<styleSheet " + MAIN + b">" + b"<a>" * depth
        yield b"</a>" * depth + b"</styleSheet>"
    return _with_part(folder / "deep-styles.xlsx", parts, "xl/styles.xml", pieces)


CASES = {"zip-bomb": zip_bomb, "row-2e12": far_row, "lying-part": lying_part}
WORST = {"normal-100k": normal_rows, "dense-cells": dense_cells, "dense-junk": dense_junk,
         "shared-strings": shared_strings,
         "deep-styles": deep_styles}


def _peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM, not ru_maxrss: on Linux ru_maxrss keeps, across exec, the peak of the
    parent that forked it (the benchmark, which held the files it built)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: str) -> None:
    """Read ``path`` with the default limits; print seconds, peak RSS and the outcome as JSON."""
    from cooperatives.workbook import WorkbookError, read_workbook

    before = _peak_rss_kib()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        book = read_workbook(path)
        outcome = f"read: {sum(len(rows) for rows in book.sheets.values())} rows"
    except WorkbookError as exc:
        outcome = f"{len(exc.problems)} problem(s): {str(exc.problems[0]).replace(path, '<file>')}"
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _peak_rss_kib()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_before_mib": before / 1024, "peak_rss_mib": peak / 1024,
                      "outcome": outcome}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worst", action="store_true", help="also the costliest files within the limits")
    parser.add_argument("cases", nargs="*", choices=[[], *CASES, *WORST], help="only these files")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    cases = {**CASES, **(WORST if args.worst or args.cases else {})}
    cases = {name: build for name, build in cases.items() if not args.cases or name in args.cases}
    print(f"{'file':<15} {'on disk':>10} {'unzipped':>10} {'time':>9} {'CPU':>9} {'peak RSS':>9} {'growth':>8}  "
          "outcome")
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        folder = Path(tmp)
        parts = _model_parts(folder)
        for name, build in cases.items():
            path = build(folder, parts)
            with zipfile.ZipFile(path) as archive:
                declared = sum(info.file_size for info in archive.infolist())
            result = json.loads(subprocess.run([sys.executable, __file__, "--child", str(path)], check=True,
                                               capture_output=True, text=True, cwd=ROOT).stdout)
            growth = result["peak_rss_mib"] - result["rss_before_mib"]
            print(f"{name:<15} {_size(path.stat().st_size):>10} {_size(declared):>10} "
                  f"{_time(result['seconds']):>9} {_time(result['cpu']):>9} "
                  f"{result['peak_rss_mib']:>6.0f} MiB {growth:>4.0f} MiB  {result['outcome'][:110]}", flush=True)
            path.unlink()


def _time(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


if __name__ == "__main__":
    main()

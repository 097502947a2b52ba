"""A year's 会计档案 (accounting archive) of one entity as a ZIP: the statements and their 附注, the books (科目余额表,
every 日记账, 总账, 明细账), every 记账凭证, the 成员账户, the 财务公开 published for the year, the whole book as
Beancount, and ``manifest.json`` with the SHA-256 and size of every file (also as ``SHA256SUMS``, which
``sha256sum -c`` checks) and the book's hash-chain head at the time.

The documents are laid out here, in one process that reads the database (:mod:`payouts.reports.printing`); their
HTML is then printed to PDF by a pool of processes (:func:`payouts.statements.render.html_to_pdf` touches no
database), each finished file reported to ``progress``. The ZIP is written beside its final name and moved there
when complete: a reader sees a whole archive or none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from ledger.beancount import export_beancount
from ledger.books import VOUCHERS_PER_PRINT, account_ledger, balance_table, money_journal, period
from payouts.reports import printing, statutory
from payouts.reports.disclosure.document import archive_parts as disclosure_parts
from payouts.statements.render import html_to_pdf, render_document

#: vouchers per PDF file of the archive (each file is printed by one process)
VOUCHERS_PER_FILE = 100
#: members' accounts per PDF file (each file is printed by one process; an account is a page or more)
MEMBERS_PER_FILE = 20
#: the manifest's layout (raised when a key changes meaning)
FORMAT = 1


@dataclass
class Part:
    """One file of the archive: ``html`` to print, or ``data`` as it is."""

    path: str
    title: str
    html: str | None = None
    data: bytes | None = None


def parts(session: Session, entity, year: int, *, public_url: str | None = None) -> list[Part]:
    """Every file of ``entity``'s ``year`` archive, laid out (HTML for the PDFs): reads the database, prints nothing.
    ``public_url``: the site's address, for the disclosures' QR codes."""
    book = entity.book.holding(year)
    names = printing.party_names(session, book)
    who = {"code": entity.code, "name": entity.name}
    printed = printing.printed_at()
    reports = printing.statements(session, entity, year)
    out = [Part("statements/statements.pdf", "财务报表及附注",
                html=render_document("report.html", reports=reports, entity=who, year=year))]
    for report in reports:
        out.append(Part(f"statements/{report.name}.xlsx", f"{report.title}（Excel）", data=statutory.to_xlsx(report)))
        out.append(Part(f"statements/{report.name}.json", f"{report.title}（JSON）",
                        data=json.dumps(statutory.to_dict(report), ensure_ascii=False, indent=1).encode()))
    table = balance_table(session, book, *period(year))
    out.append(Part("books/balances.pdf", "科目余额表", html=render_document(
        "balance_table.html", table=table, totals=table.totals(), entity=who, members=names, printed=printed)))
    for quarter in range(1, 5):
        table = balance_table(session, book, *period(year, quarter=quarter))
        out.append(Part(f"books/balances-q{quarter}.pdf", f"科目余额表（第{quarter}季度）", html=render_document(
            "balance_table.html", table=table, totals=table.totals(), entity=who, members=names, printed=printed)))
    for code, name in printing.money_accounts(session, entity, year):
        journal = money_journal(session, book, code, *period(year))
        out.append(Part(f"books/journal-{code}.pdf", f"{name}日记账", html=render_document(
            "money_journal.html", journal=journal, entity=who, printed=printed)))
    codes = printing.ledger_accounts(session, entity, year)
    for general, path, title in ((True, "books/general-ledger.pdf", "总账"), (False, "books/ledger.pdf", "明细账")):
        ledgers = [account_ledger(session, book, code, year, lines=not general) for code in codes]
        out.append(Part(path, title, html=render_document("account_ledger.html", ledgers=ledgers, general=general,
                                                          year=year, entity=who, members=names, printed=printed)))
    out += _vouchers(session, entity, year, who)
    accounts = statutory.build(session, entity, year, "member-accounts")
    if accounts is not None:
        for i in range(0, len(accounts.members), MEMBERS_PER_FILE):
            chunk = accounts.members[i:i + MEMBERS_PER_FILE]
            first, last = chunk[0].member_no, chunk[-1].member_no
            out.append(Part(f"members/member-accounts-{first:04d}-{last:04d}.pdf", f"成员账户 {first}–{last} 号成员",
                            html=render_document("member_accounts.html", report=accounts, members=chunk)))
        out.append(Part("members/member-accounts.xlsx", "成员账户（Excel）", data=statutory.to_xlsx(accounts)))
    out += _disclosures(session, entity, year, public_url)
    out.append(Part(f"books/{book.code}.beancount", "全部账簿（Beancount）",
                    data="\n".join(export_beancount(session, book)).encode() + b"\n"))
    return out


def _vouchers(session: Session, entity, year: int, who: dict) -> list[Part]:
    """Every voucher of ``year`` in the book that holds it, in files of :data:`VOUCHERS_PER_FILE`; in the first
    year of a book that continues another (a collective carried over), that book's opening voucher too, apart: it is
    numbered in the year before, whose archive holds the old book's vouchers only."""
    book = entity.book.holding(year)
    out = _voucher_files(session, entity, year, book, who, "vouchers/vouchers")
    if book.previous_book_id is not None and book.books_start is not None and book.books_start.year == year:
        out += _voucher_files(session, entity, year - 1, book, who, "vouchers/opening")
    return out


def _voucher_files(session: Session, entity, year: int, book, who: dict, prefix: str) -> list[Part]:
    found = printing.voucher_range(session, entity, year, book=book)
    if found is None:
        return []
    first, last = found
    out = []
    step = min(VOUCHERS_PER_FILE, VOUCHERS_PER_PRINT)
    number = first
    while number <= last:
        pages = printing.voucher_pages(session, entity, year, number, min(number + step - 1, last), book=book)
        if not pages:           # a gap in the numbering as wide as a file
            number += step
            continue
        end = pages[-1]["number"]
        out.append(Part(f"{prefix}-{year}-{number:04d}-{end:04d}.pdf", f"记账凭证 {year}年 {number}–{end} 号",
                        html=render_document("voucher.html", vouchers=pages, entity=who)))
        number = end + 1
    return out


def _disclosures(session: Session, entity, year: int, public_url: str | None) -> list[Part]:
    """The 财务公开 published for ``year``, each publication as it was published (superseded ones too)."""
    return [Part(path, title, html=html, data=data)
            for path, title, html, data in disclosure_parts(session, entity, year, public_url=public_url)]


def write(items: list[Part], out: str | Path, *, entity, year: int, workers: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> dict:
    """Print ``items`` and write them with the manifest to the ZIP ``out``; returns the manifest."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    total, done = len(items), 0
    workers = max(1, workers or os.cpu_count() or 1)
    printable = [p for p in items if p.data is None]
    if progress:
        progress(0, total)
    files = []
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(part: Part, data: bytes) -> None:
            nonlocal done
            archive.writestr(part.path, data)
            files.append({"path": part.path, "title": part.title, "bytes": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()})
            done += 1
            if progress:
                progress(done, total)

        for part in items:
            if part.data is not None:
                add(part, part.data)
        if workers == 1 or len(printable) < 2:
            for part in printable:
                add(part, html_to_pdf(part.html))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(printable))) as pool:
                # the biggest first, so no process is left with a long file at the end
                ordered = sorted(printable, key=lambda p: -len(p.html))
                for part, pdf in zip(ordered, pool.map(html_to_pdf, [p.html for p in ordered]), strict=True):
                    add(part, pdf)
        files.sort(key=lambda f: f["path"])
        manifest = {"format": FORMAT, "entity": entity.code, "name": entity.name, "year": year,
                    "chart": statutory.chart_in(entity, year), "book": entity.book.holding(year).code,
                    "head_hash": entity.book.holding(year).head_hash,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "files": files}
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        archive.writestr("SHA256SUMS", "".join(f"{f['sha256']}  {f['path']}\n" for f in files))
    os.replace(tmp, out)
    return manifest


def build(session: Session, entity, year: int, out: str | Path, *, workers: int | None = None,
          progress: Callable[[int, int], None] | None = None, public_url: str | None = None) -> dict:
    """``entity``'s ``year`` archive written to ``out`` (:func:`parts`, then :func:`write`)."""
    return write(parts(session, entity, year, public_url=public_url), out, entity=entity, year=year, workers=workers,
                 progress=progress)

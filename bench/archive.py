"""How long a year's archive (会计档案, issue 15 §8) takes for the largest demo entity, and how big it is.

    .venv/bin/python bench/archive.py [DATABASE_URL] [--entity JGP-TEA] [--year 2025]

Builds the demo world into an empty database (default: a fresh SQLite file under /tmp), then, in this warm
process, times ``payouts.reports.archive.build`` — what ``coopledger archive`` runs — with 1 and 2 processes
printing: *lay out* (reading the books and rendering every document's HTML, one process) and *print* (WeasyPrint,
the pool), then the ZIP's size, its files and its PDF pages (read back with ``pdfinfo``). The results and the
command are in bench/README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import cooperatives.models  # noqa: E402,F401
import payouts.models  # noqa: E402,F401
from cooperatives.models import Entity  # noqa: E402
from ledger.db import Base, make_engine  # noqa: E402
from payouts.admin.demo import load_demo_world  # noqa: E402
from payouts.app import create_app  # noqa: E402
from payouts.reports import archive  # noqa: E402
from payouts.settings import Settings  # noqa: E402


def pages(data: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default=f"sqlite:///{tempfile.mkdtemp()}/bench-archive.db")
    parser.add_argument("--entity", default="JGP-TEA")
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    create_app(Settings(database_url="sqlite://", secret_key="bench", testing=True, cookie_secure=False))
    engine = make_engine(args.url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    out = Path(tempfile.mkdtemp()) / "archive.zip"
    with Session(engine) as session:
        load_demo_world(session)
        session.commit()
        entity = session.scalar(select(Entity).where(Entity.code == args.entity))
        archive.parts(session, entity, args.year)               # warm: templates compiled, queries cached
        for workers in (1, 2):
            start = time.perf_counter()
            items = archive.parts(session, entity, args.year)
            laid = time.perf_counter() - start
            archive.write(items, out, entity=entity, year=args.year, workers=workers)
            total = time.perf_counter() - start
            print(f"{args.entity} {args.year}, {workers} process(es): lay out {laid:.1f} s, print and zip "
                  f"{total - laid:.1f} s, total {total:.1f} s")
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        pdfs = {name: z.read(name) for name in names if name.endswith(".pdf")}
    print(f"archive: {out.stat().st_size / 1e6:.2f} MB, {len(names)} files ({len(pdfs)} PDFs, "
          f"{sum(pages(d) for d in pdfs.values())} pages)")
    for name, data in sorted(pdfs.items(), key=lambda item: -len(item[1]))[:5]:
        print(f"  {name}: {len(data) / 1e3:.0f} KB, {pages(data)} pages")


if __name__ == "__main__":
    main()

"""Benchmark: importing N delivery rows through `coopledger import`'s code path vs a bare executemany.

    .venv/bin/python bench/import_deliveries.py [--rows 100000] [--runs 3] [--pg postgresql+psycopg://…]

For each database it builds a fresh schema (Alembic upgrade head), then times:
  * import  — read_workbook_partial + all checks + bulk write + commit (exactly what the CLI runs);
  * bare    — SQLAlchemy Core executemany of the same rows (already typed) into a bare table with the
              same columns and no constraints, triggers or ledger: the floor for writing those rows.
Prints the median of --runs and the ratio. Deterministic data (seeded).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Boolean, Column, Date, MetaData, Numeric, String, Table, insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from cooperatives import privacy  # noqa: E402
from cooperatives.access import CONSOLE  # noqa: E402
from cooperatives.importer import import_path  # noqa: E402
from cooperatives.workbook import read_workbook  # noqa: E402
from ledger.db import make_engine, writer  # noqa: E402
from payouts.admin.migrate import upgrade  # noqa: E402

HOUSEHOLDS = 1000


def generate(folder: Path, rows: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "entity.csv").write_text("code,name,kind,township\nBENCH,基准合作社,farmer_coop,基准乡\n", encoding="utf-8")
    with open(folder / "households.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "head_name", "village"])
        w.writerows([f"B{i:05d}", f"户主{i}", f"村{i % 9}"] for i in range(HOUSEHOLDS))
    with open(folder / "members.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["member", "member_no", "joined_on"])
        w.writerows([f"B{i:05d}", i + 1, "2020-01-01"] for i in range(HOUSEHOLDS))
    start = dt.date(2025, 1, 1).toordinal()
    with open(folder / "deliveries.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "member", "product", "grade", "quantity", "unit", "unit_price", "paid"])
        for _ in range(rows):
            w.writerow([dt.date.fromordinal(start + rng.randrange(365)).isoformat(), f"B{rng.randrange(HOUSEHOLDS):05d}",
                        rng.choice(("藤茶鲜叶", "葡萄")), rng.choice(("一级", "二级")), rng.randint(10, 300),
                        rng.choice(("kg", "jin")), f"{rng.randint(300, 900) / 100:.2f}", "no" if rng.random() < 0.1 else "yes"])
    return folder


def fresh(base_url: str):
    """A migrated empty database: a new SQLite file, or a new PostgreSQL schema. Returns (engine, cleanup)."""
    if base_url.startswith("sqlite"):
        path = Path(tempfile.mkdtemp()) / "bench.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        return engine, lambda: path.unlink()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base_url)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(f"{base_url}?options={quote(f'-csearch_path={schema}')}")
    upgrade(engine)

    def cleanup():
        engine.dispose()
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    return engine, cleanup


def time_import(base_url: str, folder: Path) -> float:
    engine, cleanup = fresh(base_url)
    try:
        with Session(writer(engine)) as session:
            t0 = time.perf_counter()
            import_path(session, folder, actor=CONSOLE)
            session.commit()
            return time.perf_counter() - t0
    finally:
        engine.dispose()
        cleanup()


def time_bare(base_url: str, folder: Path) -> float:
    rows = [r.values for r in read_workbook(folder).sheets["deliveries"]]
    engine, cleanup = fresh(base_url)
    table = Table("bare_deliveries", MetaData(), Column("date", Date), Column("member", String(40)),
                  Column("product", String(100)), Column("grade", String(40)), Column("quantity", Numeric(15, 3)),
                  Column("unit", String(5)), Column("unit_price", Numeric(15, 4)), Column("amount", Numeric(15, 2)),
                  Column("paid", Boolean))
    try:
        table.create(engine)
        payload = [{k: r[k] for k in ("date", "member", "product", "grade", "quantity", "unit", "unit_price",
                                      "amount", "paid")} for r in rows]
        with engine.begin() as conn:
            t0 = time.perf_counter()
            conn.execute(insert(table), payload)
        return time.perf_counter() - t0
    finally:
        engine.dispose()
        cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    privacy.configure(["y-_aJ2dYi3Z6AGvXIqT7D6w3mrb2sFdaGJvUJLqRFMQ="], b"bench")
    folder = generate(Path(tempfile.mkdtemp()) / "workbook", args.rows)
    targets = {"sqlite": "sqlite://", "postgresql": args.pg}
    for name, url in targets.items():
        if args.only and name != args.only:
            continue
        imports = [time_import(url, folder) for _ in range(args.runs)]
        bares = [time_bare(url, folder) for _ in range(args.runs)]
        imp, bare = statistics.median(imports), statistics.median(bares)
        print(f"{name:<10} rows={args.rows} import={imp:.2f}s bare_executemany={bare:.2f}s ratio={imp / bare:.2f} "
              f"(runs: import {[round(x, 2) for x in imports]}, bare {[round(x, 2) for x in bares]})", flush=True)


if __name__ == "__main__":
    main()

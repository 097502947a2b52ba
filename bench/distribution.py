"""Benchmark: a distribution run for 10,000 households and 1,000,000 deliveries.

    .venv/bin/python bench/distribution.py [--households 10000] [--deliveries 1000000] [--only sqlite|postgresql]

Builds the entity through the real import (a generated CSV workbook: households, members, capital,
land contracts, deliveries, sales), then times `create_run` — gathering every member's bases from the
books with SQL aggregates, the pure computation, storing the run — in a fresh process, and reports
its wall time and that process's peak memory (VmHWM). Deterministic data (seeded).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

POLICY = {"reserve_pct": "10", "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                                         {"name": "residual", "pct": "40", "basis": "capital"}]}


def generate(folder: Path, households: int, deliveries: int, seed: int = 11) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def write(name, header, rows):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)

    (folder / "entity.csv").write_text("code,name,kind,township\nBIG,县级大型合作社,farmer_coop,基准乡\n", encoding="utf-8")
    codes = [f"K{i:05d}" for i in range(households)]
    write("households", ["code", "head_name", "village"], ([c, f"户主{c}", f"村{i % 40}"] for i, c in enumerate(codes)))
    write("members", ["member", "member_no", "joined_on"], ([c, i + 1, "2019-01-01"] for i, c in enumerate(codes)))
    write("capital", ["date", "member", "amount"], (["2025-01-05", c, f"{rng.randint(1, 50) * 100}"] for c in codes))
    write("land", ["member", "contract_no", "area_mu", "base_rent_per_mu", "start_on"],
          ([c, f"T{c}", f"{rng.randint(5, 60) / 10}", "500", "2025-01-01"] for c in codes[: households // 2]))
    start = dt.date(2025, 1, 1).toordinal()
    write("deliveries", ["date", "member", "product", "quantity", "unit", "unit_price", "paid"],
          ([dt.date.fromordinal(start + rng.randrange(365)).isoformat(), codes[rng.randrange(households)],
            rng.choice(("藤茶鲜叶", "葡萄", "猕猴桃")), rng.randint(10, 300), rng.choice(("kg", "jin")),
            f"{rng.randint(200, 900) / 100:.2f}", "no" if rng.random() < 0.05 else "yes"] for _ in range(deliveries)))
    write("sales", ["date", "buyer", "product", "amount"],
          ([dt.date.fromordinal(start + rng.randrange(365)).isoformat(), "收购商", "加工品", f"{rng.randint(1, 9) * 100000}"]
           for _ in range(deliveries // 1000)))
    return folder


MEASURE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from sqlalchemy import select
from sqlalchemy.orm import Session
from cooperatives.access import CONSOLE
from cooperatives import privacy
from cooperatives.models import Entity
from ledger.db import make_engine, writer
from payouts.runs.operations import create_run, save_policy
from payouts.runs.policy import parse_policy
privacy.configure(["y-_aJ2dYi3Z6AGvXIqT7D6w3mrb2sFdaGJvUJLqRFMQ="], b"bench")
def peak_mib():
    # VmHWM is this process's own high-water mark; ru_maxrss would include the parent's size at fork
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
engine = make_engine({url!r})
with Session(writer(engine)) as session:
    entity = session.scalar(select(Entity).where(Entity.code == "BIG"))
    version = save_policy(session, entity, parse_policy({policy!r}), actor=CONSOLE)
    session.commit()
    t0 = time.perf_counter()
    run = create_run(session, entity, 2025, policy_version=version, actor=CONSOLE)
    session.commit()
    elapsed = time.perf_counter() - t0
    print(json.dumps({{"seconds": elapsed, "members": len(run.result["members"]),
                      "peak_mib": peak_mib(),
                      "checks_ok": all(c["ok"] for c in run.result["checks"])}}))
"""


def main() -> None:
    import import_deliveries as imp_bench
    from sqlalchemy.orm import Session

    from cooperatives import privacy
    from cooperatives.access import CONSOLE
    from cooperatives.importer import import_path
    from ledger.db import writer

    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    privacy.configure(["y-_aJ2dYi3Z6AGvXIqT7D6w3mrb2sFdaGJvUJLqRFMQ="], b"bench")
    folder = generate(Path(tempfile.mkdtemp()) / "county", args.households, args.deliveries)
    for name, base in (("sqlite", "sqlite://"), ("postgresql", args.pg)):
        if args.only and name != args.only:
            continue
        engine, cleanup = imp_bench.fresh(base)
        try:
            t0 = time.perf_counter()
            with Session(writer(engine)) as session:
                import_path(session, folder, actor=CONSOLE)
                session.commit()
            loaded = time.perf_counter() - t0
            url = engine.url.render_as_string(hide_password=False)
            results = []
            for _ in range(args.runs):
                out = subprocess.run([sys.executable, "-c", MEASURE.format(root=str(ROOT), url=url, policy=POLICY)],
                                     capture_output=True, text=True, check=True)
                results.append(json.loads(out.stdout))
            seconds = sorted(r["seconds"] for r in results)[len(results) // 2]
            peak = max(r["peak_mib"] for r in results)
            print(f"{name:<10} households={args.households} deliveries={args.deliveries} (import {loaded:.1f}s) "
                  f"distribution={seconds:.2f}s peak={peak:.0f}MiB members={results[0]['members']} "
                  f"checks_ok={results[0]['checks_ok']} runs={[round(r['seconds'], 2) for r in results]}", flush=True)
        finally:
            engine.dispose()
            cleanup()


if __name__ == "__main__":
    main()

"""Benchmark: a bank batch (代发) of 10,000 households — the export, and the bank's return file read back.

    .venv/bin/python bench/bank_batches.py [--households 10000] [--failures 50] [--only sqlite|postgresql]
                                           [--pg URL] [--profile]

Builds one cooperative through the real import (a generated CSV workbook: households with a valid bank card each,
members, capital, one delivery each, sales) and its 2025 run through the operations (create, approve, post,
publish), so every household is owed. Then, each in a fresh process (so that neither the world's build nor the
other measurement counts in its memory):

* *export*: ``create_batch`` (the plan, 10,000 batch lines) and ``batch_file`` as xlsx and as csv (every account
  decrypted, the file written, the reveal logged), committed;
* *results*: ``read_results`` of a return file of every line (xlsx, 序号/户名/账号/金额/状态/失败原因; all 成功 but
  ``--failures`` 失败), committed: every row checked against the batch, each success posted (one entry, one
  receipt, the member's paid amount), each failure kept with the bank's reason.

Wall time of each step; peak memory as the process's high-water mark (VmHWM, whole process: interpreter, imports
and all) and as the growth over its resident size before the step. ``--profile`` runs the results step under
cProfile and prints where its time goes. Deterministic data (seeded).
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

KEYS = (["y-_aJ2dYi3Z6AGvXIqT7D6w3mrb2sFdaGJvUJLqRFMQ="], b"bench")
POLICY = {"reserve_pct": "10", "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                                         {"name": "residual", "pct": "40", "basis": "capital"}]}


def card(n: int) -> str:
    from cooperatives.workbook import luhn_digit

    body = f"621799{n:012d}"
    return body + luhn_digit(body)


def generate(folder: Path, households: int, seed: int = 17) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def write(name, header, rows):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)

    (folder / "entity.csv").write_text("code,name,kind,township\nPAY,代发基准合作社,farmer_coop,基准乡\n", encoding="utf-8")
    codes = [f"P{i:05d}" for i in range(households)]
    write("households", ["code", "head_name", "village", "phone", "bank_account"],
          ([c, f"户主{c}", f"村{i % 40}", f"139{i:08d}", card(i + 1)] for i, c in enumerate(codes)))
    write("members", ["member", "member_no", "joined_on"], ([c, i + 1, "2019-01-01"] for i, c in enumerate(codes)))
    write("capital", ["date", "member", "amount"], (["2025-01-05", c, f"{rng.randint(1, 50) * 100}"] for c in codes))
    start = dt.date(2025, 1, 1).toordinal()
    write("deliveries", ["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
          ([dt.date.fromordinal(start + rng.randrange(365)).isoformat(), c, "藤茶鲜叶", rng.randint(10, 300), "kg",
            f"{rng.randint(200, 900) / 100:.2f}", "bank"] for c in codes))
    write("sales", ["date", "buyer", "product", "amount"], [["2025-10-01", "收购商", "干茶", f"{households * 900}"]])
    return folder


def build(engine, folder: Path) -> int:
    """Import the world and publish its 2025 run; returns the run's id."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cooperatives.access import CONSOLE
    from cooperatives.importer import import_path
    from cooperatives.models import Entity
    from ledger.db import writer
    from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
    from payouts.runs.policy import parse_policy

    with Session(writer(engine)) as session:
        import_path(session, folder, actor=CONSOLE)
        entity = session.scalar(select(Entity).where(Entity.code == "PAY"))
        version = save_policy(session, entity, parse_policy(POLICY), actor=CONSOLE)
        run = create_run(session, entity, 2025, policy_version=version, actor=CONSOLE)
        members = len(run.result["members"])
        approve_run(session, run, meeting_date=dt.date(2026, 3, 1), attended=members, votes_for=members, actor=CONSOLE)
        post_run(session, run, actor=CONSOLE)
        publish_run(session, run, today=dt.date(2026, 3, 5), actor=CONSOLE)
        session.commit()
        return run.id


MEASURE = r"""
import cProfile, io, json, pstats, sys, time
sys.path.insert(0, {root!r})
from sqlalchemy.orm import Session
from cooperatives import privacy
from cooperatives.access import CONSOLE
from ledger.db import make_engine, writer
import cooperatives.models, payouts.models
from payouts.models import PayoutBatch, PayoutRun
from payouts.batches.operations import batch_file, create_batch, mark_sent, read_results
privacy.configure({keys!r}, {index!r})

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

engine = make_engine({url!r})
out = {{}}
with Session(writer(engine)) as session:
    if {step!r} == "export":
        run = session.get(PayoutRun, {run_id})
        rss = status("VmRSS:")
        t0 = time.perf_counter()
        batch = create_batch(session, run, actor=CONSOLE)
        t1 = time.perf_counter()
        xlsx = batch_file(session, batch, fmt="xlsx", reason="bench", actor=CONSOLE)
        t2 = time.perf_counter()
        data = batch_file(session, batch, fmt="csv", reason="bench", actor=CONSOLE)
        t3 = time.perf_counter()
        session.commit()
        t4 = time.perf_counter()
        mark_sent(session, batch, actor=CONSOLE)
        session.commit()
        open({path!r}, "wb").write(xlsx)
        out = {{"create_batch": t1 - t0, "batch_file_xlsx": t2 - t1, "batch_file_csv": t3 - t2, "commit": t4 - t3,
               "total": t4 - t0, "count": batch.count, "xlsx_bytes": len(xlsx), "csv_bytes": len(data),
               "batch_id": batch.id}}
    else:
        batch = session.get(PayoutBatch, {batch_id})
        data = open({path!r}, "rb").read()
        rss = status("VmRSS:")
        profile = cProfile.Profile() if {profile!r} else None
        t0 = time.perf_counter()
        if profile:
            profile.enable()
        res = read_results(session, batch, data, "回盘.xlsx", actor=CONSOLE)
        session.commit()
        if profile:
            profile.disable()
        out = {{"total": time.perf_counter() - t0, "paid": res.paid, "failed": res.failed,
               "paid_total": str(res.paid_total)}}
        if profile:
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(35)
            out["profile"] = text.getvalue()
out["peak_mib"] = status("VmHWM:")
out["growth_mib"] = out["peak_mib"] - rss
print(json.dumps(out))
"""


def measure(step: str, url: str, path: Path, *, run_id: int = 0, batch_id: int = 0, profile: bool = False) -> dict:
    code = MEASURE.format(root=str(ROOT), keys=KEYS[0], index=KEYS[1], url=url, step=step, run_id=run_id,
                          batch_id=batch_id, path=str(path), profile=profile)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def return_file(batch_xlsx: Path, out: Path, failures: int) -> None:
    """The bank's return file of the batch file ``batch_xlsx``: every line, 成功 but ``failures`` 失败."""
    import openpyxl

    rows = list(openpyxl.load_workbook(batch_xlsx, read_only=True).worksheets[0].iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    body = [r for r in rows[header + 1:] if isinstance(r[0], int)]
    failed = set(random.Random(5).sample(range(len(body)), failures))
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("代发结果")
    sheet.append(["序号", "户名", "账号", "金额", "状态", "失败原因"])
    for n, r in enumerate(body):
        sheet.append([r[0], r[1], r[2], r[3], "失败" if n in failed else "成功", "户名与账号不符" if n in failed else None])
    book.save(out)


def main() -> None:
    import import_deliveries as imp_bench

    from cooperatives import privacy

    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--failures", type=int, default=50)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--profile", action="store_true", help="profile read_results (cProfile)")
    args = parser.parse_args()
    privacy.configure(*KEYS)
    work = Path(tempfile.mkdtemp())
    folder = generate(work / "world", args.households)
    for name, base in (("sqlite", "sqlite://"), ("postgresql", args.pg)):
        if args.only and name != args.only:
            continue
        engine, cleanup = imp_bench.fresh(base)
        try:
            t0 = time.perf_counter()
            run_id = build(engine, folder)
            built = time.perf_counter() - t0
            url = engine.url.render_as_string(hide_password=False)
            batch_xlsx, back = work / f"{name}-batch.xlsx", work / f"{name}-back.xlsx"
            export = measure("export", url, batch_xlsx, run_id=run_id)
            return_file(batch_xlsx, back, args.failures)
            results = measure("results", url, back, batch_id=export["batch_id"], profile=args.profile)
            print(f"{name:<10} households={args.households} (world built in {built:.1f}s)\n"
                  f"  export: create_batch {export['create_batch']:.2f}s + batch_file xlsx "
                  f"{export['batch_file_xlsx']:.2f}s + csv {export['batch_file_csv']:.2f}s + commit "
                  f"{export['commit']:.2f}s = {export['total']:.2f}s; peak {export['peak_mib']:.0f} MiB "
                  f"(+{export['growth_mib']:.0f}); {export['count']} lines, xlsx {export['xlsx_bytes'] / 1024:.0f} KiB, "
                  f"csv {export['csv_bytes'] / 1024:.0f} KiB\n"
                  f"  results: read_results + commit {results['total']:.2f}s; peak {results['peak_mib']:.0f} MiB "
                  f"(+{results['growth_mib']:.0f}); paid {results['paid']} ({results['paid_total']}), "
                  f"failed {results['failed']}", flush=True)
            if args.profile:
                print(results["profile"])
        finally:
            engine.dispose()
            cleanup()


if __name__ == "__main__":
    main()

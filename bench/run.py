"""County-scale benchmark (issue 7): coopledger beside hledger, ledger-cli, Beancount and the bare database.

    .venv/bin/python bench/run.py [--households 10000] [--deliveries 1000000] [--transactions 1000000]
                                  [--runs 3] [--peer-runs 3] [--only SECTION[,SECTION]] [--work DIR]
                                  [--pg postgresql+psycopg://postgres@127.0.0.1:5432] [--pg-prefix bench_6]
                                  [--port 5106] [--duration 30] [--statements 200]
    .venv/bin/python bench/run.py --report        # rewrite bench/results.md from bench/results.json

Sections (``--only`` re-runs some of them; the others keep their figures in results.json):

``import``         every workbook of the county through ``coopledger import`` (one process per workbook, as an
                   accountant runs it) on SQLite and PostgreSQL, vs a bare load of the same CSV files into bare
                   tables (``executemany`` on SQLite, ``COPY`` on PostgreSQL). The last run's database is kept
                   as the county for the sections below.
``trial-balance``  the 1M-transaction ledger (bench/generate.py) loaded into coopledger through the bulk path
                   (``ledger.operations.post_entries``), then ``coopledger trial-balance`` vs ``ledger bal
                   --flat``, ``hledger bal``, Beancount (load = what ``bean-check`` does, cold, then a balance
                   per account) and a bare ``GROUP BY`` (sqlite3 / psql) over the same postings.
``distribution``   ``create_run`` for the largest entity (10,000 households) in a fresh process.
``statements``     statements rendered per second (``render_locally``, 1 and 2 workers) vs a bare WeasyPrint
                   loop over the same HTML.
``web``            gunicorn (2 sync workers) serving the statement page and the auditor overview, 16
                   connections for ``--duration`` s from wrk on 127.0.0.1, vs a minimal Flask page (50 rows
                   from SQLite, Jinja) on the same server settings.

Every timing is the median of ``--runs`` (``--peer-runs`` for the peers) and every process's peak memory is
its maximum resident set (GNU time's ``%M``). Missing tools (wrk, hledger, ledger, GNU time) are installed
with apt-get when running as root. Results: bench/results.json and bench/results.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PY = sys.executable
COOPLEDGER = str(Path(sys.executable).parent / "coopledger")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
RESULTS_JSON = BENCH / "results.json"
RESULTS_MD = BENCH / "results.md"
SECTIONS = ("import", "trial-balance", "distribution", "statements", "web")
DATA_KEY = "y-_aJ2dYi3Z6AGvXIqT7D6w3mrb2sFdaGJvUJLqRFMQ="
SECRET = "bench-secret"
UNION = "CTY-UNION"
TB_ENTITY = "TB-1M"
POLICY = {"reserve_pct": "10", "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                                         {"name": "residual", "pct": "40", "basis": "capital"}]}
AUDITOR = ("bench-audit", "bench-audit-2025")
APT_TOOLS = {"wrk": "wrk", "hledger": "hledger", "ledger": "ledger", "/usr/bin/time": "time"}


# ------------------------------------------------------------------------------------------------ helpers


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def ensure_tools() -> None:
    missing = [pkg for tool, pkg in APT_TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"bench/run.py needs these Debian packages: {' '.join(missing)} (apt-get install {' '.join(missing)})")
    log(f"installing {' '.join(missing)}")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def measure(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None, stdin=None) -> dict:
    """Run ``cmd``; its wall time (s), peak resident memory (MiB, GNU time %M) and stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], env=env, cwd=cwd,
                              capture_output=True, text=True, stdin=stdin)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        kib = int(tf.read().strip().splitlines()[-1])
    return {"seconds": seconds, "peak_mib": kib / 1024, "stdout": proc.stdout}


def summary(samples: list[dict]) -> dict:
    return {"median_s": statistics.median(s["seconds"] for s in samples),
            "runs_s": [round(s["seconds"], 3) for s in samples],
            "peak_mib": max(s["peak_mib"] for s in samples)}


def coop_env(url: str) -> dict:
    return {**os.environ, "DATABASE_URL": url, "COOP_SECRET_KEY": SECRET, "COOP_DATA_KEYS": DATA_KEY,
            "COOP_COOKIE_SECURE": "0", "PYTHONPATH": str(ROOT)}


class Databases:
    """The databases the benchmark creates: SQLite files under the work folder, PostgreSQL databases
    named ``<prefix>_<name>`` (dropped and created anew)."""

    def __init__(self, work: Path, pg: str | None, prefix: str):
        self.work, self.pg, self.prefix = work, pg.rstrip("/") if pg else None, prefix

    def kinds(self) -> list[str]:
        return ["sqlite", "postgresql"] if self.pg else ["sqlite"]

    def url(self, kind: str, name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{self.work / 'db' / (name + '.db')}"
        return f"{self.pg}/{self.prefix}_{name}"

    def fresh(self, kind: str, name: str) -> str:
        url = self.url(kind, name)
        if kind == "sqlite":
            path = self.work / "db" / (name + ".db")
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return url
        import psycopg

        with psycopg.connect(self.libpq(f"{self.pg}/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.prefix}_{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.prefix}_{name}"')
        return url

    @staticmethod
    def libpq(url: str) -> str:
        return url.replace("postgresql+psycopg://", "postgresql://")


def median_of(values: list[float]) -> float:
    return statistics.median(values)


# ------------------------------------------------------------------------------------------------ import


def workbook_folders(data: Path) -> list[Path]:
    folders = sorted((data / "workbooks").iterdir())
    return sorted(folders, key=lambda p: p.name != UNION)        # the union first: it registers every household


def section_import(args, dbs: Databases, data: Path) -> dict:
    out: dict = {"workbooks": [p.name for p in workbook_folders(data)]}
    rows = sum(1 for p in workbook_folders(data) for f in p.glob("*.csv") for _ in open(f, encoding="utf-8")) \
        - sum(1 for p in workbook_folders(data) for _ in p.glob("*.csv"))
    out["rows"] = rows
    for kind in dbs.kinds():
        imports, bares = [], []
        for run in range(args.import_runs or args.runs):
            url = dbs.fresh(kind, "county")
            subprocess.run([COOPLEDGER, "init"], env=coop_env(url), cwd=args.work, check=True, capture_output=True)
            parts = [measure([COOPLEDGER, "import", str(folder)], env=coop_env(url), cwd=args.work)
                     for folder in workbook_folders(data)]
            imports.append({"seconds": sum(p["seconds"] for p in parts), "peak_mib": max(p["peak_mib"] for p in parts)})
            log(f"import {kind} run {run + 1}: {imports[-1]['seconds']:.1f}s peak {imports[-1]['peak_mib']:.0f} MiB")
            bare_url = dbs.fresh(kind, "bare")
            bares.append(measure([PY, __file__, "_bare-load", bare_url, str(data / "workbooks")]))
            log(f"bare load {kind} run {run + 1}: {bares[-1]['seconds']:.1f}s")
        imp, bare = summary(imports), summary(bares)
        out[kind] = {"import": imp, "bare": bare, "ratio": imp["median_s"] / bare["median_s"]}
    return out


BARE_TYPES = {"date": "DATE", "joined_on": "DATE", "start_on": "DATE", "member_no": "INTEGER",
              "quantity": "NUMERIC(15,3)", "unit_price": "NUMERIC(15,4)", "amount": "NUMERIC(15,2)",
              "area_mu": "NUMERIC(15,4)", "base_rent_per_mu": "NUMERIC(15,2)"}


def bare_load(url: str, folder: str) -> None:
    """Load every CSV of every workbook into bare tables (same columns, no constraints, indexes or ledger)."""
    files = sorted(Path(folder).glob("*/*.csv"))
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        for n, path in enumerate(files):
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = next(reader)
                cols = ", ".join(f"{c} {BARE_TYPES.get(c, 'TEXT')}" for c in header)
                conn.execute(f"CREATE TABLE bare_{n} ({cols})")
                conn.executemany(f"INSERT INTO bare_{n} VALUES ({', '.join('?' * len(header))})", reader)
        conn.commit()
        conn.close()
        return
    import psycopg

    with psycopg.connect(Databases.libpq(url)) as conn, conn.cursor() as cur:
        for n, path in enumerate(files):
            with open(path, "rb") as fh:
                header = fh.readline().decode().strip().split(",")
                cols = ", ".join(f"{c} {BARE_TYPES.get(c, 'TEXT')}" for c in header)
                cur.execute(f"CREATE TABLE bare_{n} ({cols})")
                with cur.copy(f"COPY bare_{n} FROM STDIN (FORMAT csv)") as copy:
                    while block := fh.read(1 << 20):
                        copy.write(block)


# ------------------------------------------------------------------------------------------ trial balance


def load_tb(url: str, path: str) -> None:
    """Post the contest's transactions into coopledger (entity TB-1M) through the bulk path, in chunks."""
    import datetime as dt_

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cooperatives import privacy
    from cooperatives.access import CONSOLE
    from cooperatives.models import Entity
    from cooperatives.operations import create_entity
    from ledger.db import make_engine, writer
    from ledger.entries import EntryDraft, PostingDraft
    from ledger.operations import post_entries

    privacy.configure([DATA_KEY], b"bench")
    engine = make_engine(url)
    with Session(writer(engine)) as session:
        entity = session.scalar(select(Entity).where(Entity.code == TB_ENTITY)) or create_entity(
            session, code=TB_ENTITY, name="百万笔交易试算平衡基准", kind="farmer_coop", township="基准乡",
            first_year=2025, actor=CONSOLE)
        session.commit()
        book = entity.book
        drafts: list[EntryDraft] = []
        legs: list[PostingDraft] = []
        current, day = None, None
        dates: dict[str, dt_.date] = {}
        with open(path, encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                txn, on, code, fen = line.rstrip("\n").split(",")
                if txn != current:
                    if legs:
                        drafts.append(EntryDraft(date=day, postings=tuple(legs), memo=f"t{current}"))
                        if len(drafts) == 20_000:
                            post_entries(session, book, drafts)
                            session.commit()
                            drafts = []
                    current, legs = txn, []
                    day = dates.get(on) or dates.setdefault(on, dt_.date.fromisoformat(on))
                legs.append(PostingDraft(code, Decimal(int(fen)).scaleb(-2)))
        if legs:
            drafts.append(EntryDraft(date=day, postings=tuple(legs), memo=f"t{current}"))
        if drafts:
            post_entries(session, book, drafts)
        session.commit()


def copy_ledger(sqlite_url: str, pg_url: str) -> None:
    """Copy every row of the SQLite database (migrated, with TB-1M posted through ``post_entries``) into the
    migrated PostgreSQL database with ``COPY``, triggers and deferred checks off for the copy
    (``session_replication_role = replica``): the rows were checked by the same rules when SQLite took them,
    and posting 2.7M postings through PostgreSQL's per-row triggers costs the benchmark ~20 minutes for
    the same result. Sequences are moved past the copied ids."""
    import sqlite3

    import psycopg
    from sqlalchemy import Integer

    import cooperatives.models  # noqa: F401  (every table in the metadata)
    import payouts.models  # noqa: F401
    from ledger.db import Base

    src = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    with psycopg.connect(Databases.libpq(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        for table in Base.metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            names = [c.name for c in table.columns]
            rows = src.execute(f"SELECT {', '.join(names)} FROM {table.name}")
            bools = [i for i, c in enumerate(table.columns) if _is_bool(c)]
            with cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    if bools:
                        row = list(row)
                        for i in bools:
                            row[i] = None if row[i] is None else bool(row[i])
                    copy.write_row(row)
            pk = list(table.primary_key.columns)
            if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].name == "id":
                cur.execute(f"SELECT pg_get_serial_sequence('{table.name}', 'id')")
                seq = cur.fetchone()[0]
                if seq:
                    cur.execute(f"SELECT setval('{seq}', coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)")
        cur.execute("SELECT setval('ledger_entries_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM ledger_entries), false)")
        cur.execute("SET session_replication_role = DEFAULT")
    with psycopg.connect(Databases.libpq(pg_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _is_bool(column) -> bool:
    try:
        return column.type.python_type is bool
    except NotImplementedError:
        return False


def load_bare_tb(url: str, path: str) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("CREATE TABLE bare_postings (txn INTEGER, date TEXT, account TEXT, amount_fen INTEGER)")
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            next(reader)
            conn.executemany("INSERT INTO bare_postings VALUES (?, ?, ?, ?)", reader)
        conn.commit()
        conn.close()
        return
    import psycopg

    with psycopg.connect(Databases.libpq(url)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE bare_postings (txn INTEGER, date DATE, account TEXT, amount_fen BIGINT)")
        with open(path, "rb") as fh, cur.copy("COPY bare_postings FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while block := fh.read(1 << 20):
                copy.write(block)
        cur.execute("ANALYZE bare_postings")


BARE_TB_SQL = "SELECT account, sum(amount_fen) FROM bare_postings GROUP BY account ORDER BY account"
BEAN_BALANCES = """
import sys
from collections import defaultdict
from beancount import loader
from beancount.core import data
loader.initialize(use_cache=False)           # cold: what bean-check does on a fresh file
entries, errors, options = loader.load_file(sys.argv[1])
assert not errors, errors[:3]
totals = defaultdict(int)
for entry in entries:
    if isinstance(entry, data.Transaction):
        for posting in entry.postings:
            totals[posting.account] += posting.units.number
for account in sorted(totals):
    print(account, totals[account])
"""


def bare_tb_cmd(url: str) -> list[str]:
    if url.startswith("sqlite"):
        return [PY, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                f"[print(*r) for r in c.execute({BARE_TB_SQL!r})]", url.removeprefix("sqlite:///")]
    return ["psql", "-X", "-A", "-t", "-c", BARE_TB_SQL, Databases.libpq(url)]


def section_trial_balance(args, dbs: Databases, data: Path) -> dict:
    tb_csv = data / "ledger" / "tb.csv"
    manifest = json.loads((data / "manifest.json").read_text())
    out: dict = {"transactions": manifest["ledger"]["transactions"], "postings": manifest["ledger"]["postings"]}
    expected = None
    for kind in dbs.kinds():
        url = dbs.url(kind, "tb")
        marker = args.work / "db" / f"tb-{kind}-{data.name}.loaded"
        if marker.exists() and not args.reload:           # loading 1M entries takes minutes: reuse it
            load = json.loads(marker.read_text())
        else:
            url = dbs.fresh(kind, "tb")
            subprocess.run([COOPLEDGER, "init"], env=coop_env(url), cwd=args.work, check=True, capture_output=True)
            if kind == "sqlite":
                load = measure([PY, __file__, "_load-tb", url, str(tb_csv)])
            else:      # the very rows post_entries wrote on SQLite, copied (see copy_ledger)
                load = measure([PY, __file__, "_copy-tb", dbs.url("sqlite", "tb"), url])
                load["copied_from_sqlite"] = True
            load.pop("stdout", None)
            marker.write_text(json.dumps(load))
        log(f"trial balance {kind}: loaded the ledger in {load['seconds']:.1f}s")
        bare_url = dbs.fresh(kind, "tbbare")
        bare_load_time = measure([PY, __file__, "_load-bare-tb", bare_url, str(tb_csv)])
        if kind == "postgresql":
            subprocess.run(["psql", "-X", "-q", "-c", "VACUUM ANALYZE", Databases.libpq(url)], check=True)
        bare_cmd = bare_tb_cmd(bare_url)
        bare_out = subprocess.run(bare_cmd, capture_output=True, text=True, check=True).stdout
        expected = {parts[0]: int(parts[1]) for parts in (line.replace("|", " ").split()
                                                          for line in bare_out.splitlines()) if parts}
        tb = json.loads(subprocess.run([COOPLEDGER, "trial-balance", "--entity", TB_ENTITY, "--json"],
                                       env=coop_env(url), cwd=args.work, capture_output=True, text=True,
                                       check=True).stdout)
        ours = {a["code"]: int(Decimal(a["closing"]).scaleb(2)) for a in tb["accounts"]}
        coop = [measure([COOPLEDGER, "trial-balance", "--entity", TB_ENTITY], env=coop_env(url), cwd=args.work)
                for _ in range(args.runs)]
        bare = [measure(bare_cmd) for _ in range(args.runs)]
        query = json.loads(subprocess.run([PY, __file__, "_tb-query", url], capture_output=True, text=True,
                                          check=True).stdout)
        out[kind] = {"load_s": load["seconds"], "load_peak_mib": load["peak_mib"],
                     "load_copied_from_sqlite": load.get("copied_from_sqlite", False),
                     "bare_load_s": bare_load_time["seconds"],
                     "coopledger": summary(coop), "bare": summary(bare), "query_only_s": query,
                     "same_balances_as_bare": ours == expected}
        out[kind]["ratio_vs_bare"] = out[kind]["coopledger"]["median_s"] / out[kind]["bare"]["median_s"]
        log(f"trial balance {kind}: coopledger {out[kind]['coopledger']['median_s']:.2f}s "
            f"bare {out[kind]['bare']['median_s']:.2f}s same={ours == expected}")
    journal, beancount = data / "ledger" / "tb.journal", data / "ledger" / "tb.beancount"
    peers = {"ledger": ["ledger", "-f", str(journal), "bal", "--flat"],
             "hledger": ["hledger", "-f", str(journal), "bal"],
             "beancount": [PY, "-c", BEAN_BALANCES, str(beancount)]}
    for name, cmd in peers.items():
        if name in args.skip_peers:
            out[name] = {"skipped": True}
            continue
        samples = []
        for run in range(args.peer_runs if name == "ledger" else args.slow_peer_runs or args.peer_runs):
            samples.append(measure(cmd))
            log(f"trial balance {name} run {run + 1}: {samples[-1]['seconds']:.1f}s "
                f"peak {samples[-1]['peak_mib']:.0f} MiB")
        out[name] = summary(samples)
    peers_done = [out[n]["median_s"] for n in peers if "median_s" in out.get(n, {})]
    if peers_done:
        fastest = min(peers_done)
        out["fastest_peer_s"] = fastest
        for kind in dbs.kinds():
            out[kind]["speedup_vs_fastest_peer"] = fastest / out[kind]["coopledger"]["median_s"]
    return out


def tb_query(url: str) -> float:
    """The trial-balance query alone (warm, in-process): median of 3."""
    from sqlalchemy.orm import Session

    from ledger.db import make_engine
    from ledger.queries import get_book, trial_balance

    engine = make_engine(url)
    times = []
    with Session(engine) as session:
        book = get_book(session, TB_ENTITY)
        for _ in range(3):
            t0 = time.perf_counter()
            trial_balance(session, book)
            times.append(time.perf_counter() - t0)
            session.rollback()
    return statistics.median(times)


# ------------------------------------------------------------------------------------------- distribution

MEASURE_RUN = r"""
import json, sys, time
from sqlalchemy import select
from sqlalchemy.orm import Session
from cooperatives.access import CONSOLE
from cooperatives import privacy
from cooperatives.models import Entity
from ledger.db import make_engine, writer
from payouts.runs.operations import create_run, current_policy_version
privacy.configure([{key!r}], b"bench")
def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
engine = make_engine({url!r})
with Session(writer(engine)) as session:
    entity = session.scalar(select(Entity).where(Entity.code == {entity!r}))
    version = current_policy_version(session, entity)
    t0 = time.perf_counter()
    run = create_run(session, entity, 2025, policy_version=version, actor=CONSOLE)
    session.commit()
    print(json.dumps({{"seconds": time.perf_counter() - t0, "peak_mib": peak_mib(), "run": run.id,
                      "members": len(run.result["members"]),
                      "checks_ok": all(c["ok"] for c in run.result["checks"])}}))
"""


def section_distribution(args, dbs: Databases, data: Path) -> dict:
    out: dict = {"entity": UNION}
    for kind in dbs.kinds():
        url = dbs.url(kind, "county")
        subprocess.run([PY, __file__, "_policy", url], check=True, capture_output=True)
        samples = []
        for _ in range(args.runs):
            proc = subprocess.run([PY, "-c", MEASURE_RUN.format(key=DATA_KEY, url=url, entity=UNION)],
                                  capture_output=True, text=True, check=True, cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            samples.append(json.loads(proc.stdout))
        out[kind] = {**summary(samples), "members": samples[0]["members"],
                     "checks_ok": samples[0]["checks_ok"], "run": samples[-1]["run"]}
        log(f"distribution {kind}: {out[kind]['median_s']:.2f}s peak {out[kind]['peak_mib']:.0f} MiB")
    return out


def save_bench_policy(url: str) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cooperatives.access import CONSOLE
    from cooperatives.models import Entity
    from ledger.db import make_engine, writer
    from payouts.runs.operations import current_policy_version, save_policy
    from payouts.runs.policy import parse_policy

    with Session(writer(make_engine(url))) as session:
        entity = session.scalar(select(Entity).where(Entity.code == UNION))
        if current_policy_version(session, entity) is None:
            save_policy(session, entity, parse_policy(POLICY), actor=CONSOLE)
            session.commit()


def publish_for_web(url: str) -> dict:
    """Approve, post and publish the union's latest draft run (its statements are then on the web), and
    register an auditor of the county's township. Idempotent: reuses a published run."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cooperatives import privacy
    from cooperatives.access import CONSOLE
    from cooperatives.models import Entity, User
    from cooperatives.users import create_user
    from ledger.db import make_engine, writer
    from payouts.models import PayoutRun, StatementSnapshot
    from payouts.runs.operations import approve_run, post_run, publish_run

    privacy.configure([DATA_KEY], b"bench")
    with Session(writer(make_engine(url))) as session:
        entity = session.scalar(select(Entity).where(Entity.code == UNION))
        run = session.scalar(select(PayoutRun).where(PayoutRun.entity_id == entity.id,
                                                     PayoutRun.status == "published"))
        if run is None:
            run = session.scalar(select(PayoutRun).where(PayoutRun.entity_id == entity.id,
                                                         PayoutRun.status == "draft").order_by(PayoutRun.id.desc()))
            members = len(run.result["members"])
            approve_run(session, run, meeting_date=dt.date(2026, 3, 15), attended=members, votes_for=members, actor=CONSOLE)
            post_run(session, run, actor=CONSOLE)
            publish_run(session, run, notice_days=3650, today=dt.date.today(), actor=CONSOLE)
        if session.scalar(select(User).where(User.username == AUDITOR[0])) is None:
            create_user(session, username=AUDITOR[0], password=AUDITOR[1], role="auditor",
                        township_id=entity.township_id, actor=CONSOLE)
        session.commit()
        snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id)
                              .order_by(StatementSnapshot.id).limit(1))
        return {"run": run.id, "code": snap.code, "household_id": snap.household_id}


# --------------------------------------------------------------------------------------------- statements


def statements_rates(url: str, count: int, runs: int) -> dict:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ledger.db import make_engine
    from payouts.models import StatementSnapshot
    from payouts.statements.batch import render_locally
    from payouts.statements.render import html_to_pdf, render_statement_html

    with Session(make_engine(url)) as session:
        items = [s.content for s in session.scalars(select(StatementSnapshot).order_by(StatementSnapshot.id)
                                                    .limit(count))]
    base = "http://127.0.0.1:5000"
    htmls = [render_statement_html(s, locale="zh_Hans_CN", verify_url=f"{base}/verify/{s['code']}") for s in items]
    html_to_pdf(htmls[0])                                        # warm the bare process (fonts)
    out: dict = {"statements": len(items), "bare": [], "workers_1": [], "workers_2": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        sizes = [len(html_to_pdf(h)) for h in htmls]
        out["bare"].append(len(htmls) / (time.perf_counter() - t0))
        out["mean_pdf_kib"] = sum(sizes) / len(sizes) / 1024
        for workers in (1, 2):
            folder = tempfile.mkdtemp()
            t0 = time.perf_counter()
            names = render_locally(items, folder, workers=workers, locale="zh_Hans_CN", base_url=base)
            out[f"workers_{workers}"].append(len(names) / (time.perf_counter() - t0))
            shutil.rmtree(folder)
    return out


def section_statements(args, dbs: Databases, data: Path) -> dict:
    url = dbs.url("sqlite", "county")
    subprocess.run([PY, __file__, "_publish", url], check=True, capture_output=True)
    proc = subprocess.run([PY, __file__, "_statements", url, str(args.statements), str(args.runs)],
                          capture_output=True, text=True, check=True)
    raw = json.loads(proc.stdout)
    bare = statistics.median(raw["bare"])
    out = {"statements": raw["statements"], "mean_pdf_kib": raw["mean_pdf_kib"],
           "bare_per_s": bare, "bare_runs": [round(x, 2) for x in raw["bare"]]}
    for workers in (1, 2):
        rate = statistics.median(raw[f"workers_{workers}"])
        out[f"workers_{workers}_per_s"] = rate
        out[f"workers_{workers}_runs"] = [round(x, 2) for x in raw[f"workers_{workers}"]]
        out[f"workers_{workers}_vs_bare"] = rate / bare
    log(f"statements: bare {bare:.2f}/s, 1 worker {out['workers_1_vs_bare']:.2f}x, "
        f"2 workers {out['workers_2_vs_bare']:.2f}x")
    return out


# ---------------------------------------------------------------------------------------------------- web

WRK_LUA = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "errors": %d, "status_errors": %d, "duration_us": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d}\\n', summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
"""


def minimal_app():
    """The comparison page: 50 rows from SQLite (SQLAlchemy) into a Jinja table, nothing else."""
    from flask import Flask
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

    rows_table = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(40)),
                       Column("village", String(40)), Column("amount", Integer))
    path = Path(tempfile.gettempdir()) / f"bench-minimal-{os.getuid()}.db"
    engine = create_engine(f"sqlite:///{path}")
    rows_table.metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.scalar(select(rows_table.c.id).limit(1)) is None:
            conn.execute(insert(rows_table), [{"name": f"户主{i}", "village": f"第{i % 9:03d}村", "amount": i * 1234}
                                              for i in range(50)])
    page = ("<!doctype html><html lang=zh><meta charset=utf-8><title>户</title><table>{% for r in rows %}"
            "<tr class=row><td class=num>{{ r.id }}</td><td class=name>{{ r.name }}</td>"
            "<td class=village>{{ r.village }}</td><td class=amount>¥{{ '%.2f' % (r.amount / 100) }}</td>"
            "<td class=state>已发放</td><td><a href='/h/{{ r.id }}'>详情</a></td></tr>{% endfor %}</table>")
    app = Flask("minimal")
    template = app.jinja_env.from_string(page)          # compiled once, as Flask does for template files

    @app.get("/rows")
    def rows():
        with engine.connect() as conn:
            return template.render(rows=conn.execute(select(rows_table).order_by(rows_table.c.id)).all())

    return app


def wait_up(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def serve(cmd: list[str], env: dict, probe: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_up(probe)
    except RuntimeError:
        proc.terminate()
        raise
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(url: str, *, duration: int, cookie: str | None, lua: Path) -> dict:
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--timeout", "10s", "-s", str(lua), url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"rps": stats["requests"] / (stats["duration_us"] / 1e6), "p50_ms": stats["p50_us"] / 1000,
            "p95_ms": stats["p95_us"] / 1000, "p99_ms": stats["p99_us"] / 1000,
            "errors": stats["errors"] + stats["status_errors"], "requests": stats["requests"]}


def login_cookie(base: str, username: str, password: str) -> str:
    """Sign in through the real login form; the session cookie as a Cookie header value."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token.group(1)})
    opener.open(urllib.request.Request(f"{base}/login", data=data.encode(), headers={"Referer": f"{base}/login"}))
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def web_targets(url: str) -> dict:
    """What the load test requests: a published statement (with a phone + PIN session cookie) and the
    auditor overview's path, if the oversight pages exist in this build."""
    os.environ.update({k: v for k, v in coop_env(url).items() if k.startswith("COOP_") or k == "DATABASE_URL"})
    from payouts.app import create_app

    info = publish_for_web(url)
    app = create_app()
    cookie = app.session_interface.get_signing_serializer(app).dumps(
        {"pin_household": [info["household_id"], int(time.time())]})
    overview = None
    for rule_ in app.url_map.iter_rules():
        if rule_.endpoint.startswith("oversight.") and "GET" in rule_.methods and not rule_.arguments:
            if overview is None or len(rule_.rule) < len(overview):
                overview = rule_.rule
    return {"statement": f"/s/{info['code']}", "statement_cookie": f"session={cookie}", "overview": overview}


def section_web(args, dbs: Databases, data: Path) -> dict:
    url = dbs.url("sqlite", "county")
    targets = json.loads(subprocess.run([PY, __file__, "_web-targets", url], capture_output=True, text=True,
                                        check=True, env=coop_env(url)).stdout)
    lua = args.work / "report.lua"
    lua.write_text(WRK_LUA)
    base, minimal_base = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"
    server_args = ["-w", "2", "-k", "sync", "--no-control-socket", "--preload", "--log-level", "warning"]
    out: dict = {"server": "gunicorn 2 sync workers, --preload", "clients": "wrk -t2 -c16", "duration_s": args.duration,
                 "runs": args.runs, "database": "SQLite (the county)"}
    minimal = serve([GUNICORN, *server_args, "-b", minimal_base.removeprefix("http://"), "--pythonpath",
                     str(BENCH), "run:minimal_app()"], os.environ.copy(), f"{minimal_base}/rows")
    coop = serve([GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), *server_args, "-b", base.removeprefix("http://"),
                  "payouts.wsgi:app"], coop_env(url), f"{base}/verify")
    try:
        pages = {"minimal": (f"{minimal_base}/rows", None), "statement": (base + targets["statement"],
                                                                         targets["statement_cookie"])}
        if targets["overview"]:
            pages["overview"] = (base + targets["overview"], login_cookie(base, *AUDITOR))
        else:
            out["overview"] = {"skipped": "not available: the auditor overview (blueprint 'oversight') is not "
                                          "registered in this build"}
        for name, (target, cookie) in pages.items():
            check = _fetch_status(target, cookie)
            if check != 200:
                raise RuntimeError(f"{target} answered {check}")
            wrk(target, duration=3, cookie=cookie, lua=lua)                 # warm-up
            samples = [wrk(target, duration=args.duration, cookie=cookie, lua=lua) for _ in range(args.runs)]
            out[name] = {k: statistics.median(s[k] for s in samples) for k in ("rps", "p50_ms", "p95_ms", "p99_ms")}
            out[name]["errors"] = sum(s["errors"] for s in samples)
            out[name]["runs_rps"] = [round(s["rps"]) for s in samples]
            out[name]["bytes"] = _fetch_size(target, cookie)
            log(f"web {name}: {out[name]['rps']:.0f} req/s p95 {out[name]['p95_ms']:.1f} ms")
        for name in ("statement", "overview"):
            if "rps" in out.get(name, {}):
                out[name]["vs_minimal"] = out[name]["rps"] / out["minimal"]["rps"]
    finally:
        stop(coop)
        stop(minimal)
    return out


def _fetch(target: str, cookie: str | None):
    import urllib.request

    request = urllib.request.Request(target, headers={"Cookie": cookie} if cookie else {})
    return urllib.request.urlopen(request, timeout=10)


def _fetch_status(target: str, cookie: str | None) -> int:
    import urllib.error

    try:
        with _fetch(target, cookie) as response:
            return response.status if response.url == target else 302
    except urllib.error.HTTPError as exc:
        return exc.code


def _fetch_size(target: str, cookie: str | None) -> int:
    with _fetch(target, cookie) as response:
        return len(response.read())


# ------------------------------------------------------------------------------------------------ report


def fmt_s(value: float | None) -> str:
    return "—" if value is None else (f"{value:.2f} s" if value < 100 else f"{value:.0f} s")


def write_markdown(results: dict) -> str:
    meta = results.get("meta", {})
    lines = [f"# County benchmark results ({meta.get('date', '?')})", "",
             f"`{meta.get('command', '')}` — {meta.get('machine', '')}. Medians of {meta.get('runs', '?')} runs "
             f"(ledger-cli: {meta.get('peer_runs', '?')}, hledger and Beancount: "
             f"{meta.get('slow_peer_runs') or meta.get('peer_runs', '?')}); peak memory is the largest resident set of any run. "
             f"{meta.get('note', '')}", ""]
    for other in meta.get("also", []):
        lines += [f"Some sections below come from another run (see results.json): `{other}`", ""]
    imp = results.get("import")
    if imp:
        lines += [f"## Import: {imp['rows']:,} workbook rows ({', '.join(imp['workbooks'])}), "
                  f"{meta.get('import_runs', meta.get('runs', '?'))} run(s)", "",
                  "| database | coopledger import | peak | bare load | ratio (target ≤ 3×) | peak < 1 GiB |",
                  "|---|---|---|---|---|---|"]
        for kind in ("sqlite", "postgresql"):
            if kind in imp:
                r = imp[kind]
                lines.append(f"| {kind} | {fmt_s(r['import']['median_s'])} {r['import']['runs_s']} | "
                             f"{r['import']['peak_mib']:.0f} MiB | {fmt_s(r['bare']['median_s'])} | "
                             f"**{r['ratio']:.2f}×** | {'yes' if r['import']['peak_mib'] < 1024 else 'NO'} |")
        lines.append("")
    tb = results.get("trial-balance")
    if tb:
        lines += [f"## Trial balance: {tb['transactions']:,} transactions, {tb['postings']:,} postings", "",
                  "| tool | time | peak | vs coopledger (SQLite) |", "|---|---|---|---|"]
        base = tb.get("sqlite", {}).get("coopledger", {}).get("median_s")
        for kind in ("sqlite", "postgresql"):
            if kind in tb:
                r = tb[kind]
                lines.append(f"| coopledger trial-balance ({kind}; query alone {r['query_only_s']:.2f} s; "
                             f"same balances as bare: {'yes' if r['same_balances_as_bare'] else 'NO'}) | "
                             f"{fmt_s(r['coopledger']['median_s'])} | {r['coopledger']['peak_mib']:.0f} MiB | "
                             f"{r['coopledger']['median_s'] / base:.2f}× |")
                lines.append(f"| bare GROUP BY ({kind}) | {fmt_s(r['bare']['median_s'])} | "
                             f"{r['bare']['peak_mib']:.0f} MiB | {r['bare']['median_s'] / base:.2f}× |")
        for name, label in (("ledger", "ledger-cli `bal --flat`"), ("hledger", "hledger `bal`"),
                            ("beancount", "Beancount load (cold, = bean-check) + balances")):
            r = tb.get(name, {})
            if "median_s" in r:
                lines.append(f"| {label} | {fmt_s(r['median_s'])} | {r['peak_mib']:.0f} MiB | "
                             f"{r['median_s'] / base:.1f}× |")
            elif r.get("skipped"):
                lines.append(f"| {label} | skipped | | |")
        lines.append("")
        for kind in ("sqlite", "postgresql"):
            if kind in tb:
                r = tb[kind]
                speed = r.get("speedup_vs_fastest_peer")
                lines.append(f"- {kind}: **{speed:.1f}×** faster than the fastest peer (target ≥ 10×); "
                             if speed else f"- {kind}: ")
                lines[-1] += (f"**{r['ratio_vs_bare']:.2f}×** the bare GROUP BY (target ≤ 3×); ledger loaded "
                              f"through the bulk path in {fmt_s(r['load_s'])} ({r['load_peak_mib']:.0f} MiB).")
        lines.append("")
    dist = results.get("distribution")
    if dist:
        lines += [f"## Distribution run, {dist['entity']}", "",
                  "| database | households | time (target < 10 s) | peak (target < 1 GiB) | checks |",
                  "|---|---|---|---|---|"]
        for kind in ("sqlite", "postgresql"):
            if kind in dist:
                r = dist[kind]
                lines.append(f"| {kind} | {r['members']:,} | **{fmt_s(r['median_s'])}** {r['runs_s']} | "
                             f"**{r['peak_mib']:.0f} MiB** | {'pass' if r['checks_ok'] else 'FAIL'} |")
        lines.append("")
    st = results.get("statements")
    if st:
        lines += [f"## Statements: {st['statements']} real statements of the union's run "
                  f"(mean PDF {st['mean_pdf_kib']:.0f} KiB)", "",
                  "| | statements/s | vs bare | target |", "|---|---|---|---|",
                  f"| bare WeasyPrint loop | {st['bare_per_s']:.2f} | 1.00× | |",
                  f"| coopledger, 1 worker | {st['workers_1_per_s']:.2f} | **{st['workers_1_vs_bare']:.2f}×** | ≥ 0.9× |",
                  f"| coopledger, 2 workers | {st['workers_2_per_s']:.2f} | **{st['workers_2_vs_bare']:.2f}×** | ≥ 1.8× |",
                  ""]
    web = results.get("web")
    if web:
        lines += [f"## Pages under load: {web['server']}, {web['clients']}, {web['duration_s']} s × {web['runs']}, "
                  f"{web['database']}", "",
                  "| page | requests/s | p50 | p95 (target < 50 ms) | p99 | vs minimal (target ≥ 0.5×) | size | errors |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, label in (("minimal", "minimal Flask page (50 rows, SQLite)"), ("statement", "statement `/s/<code>`"),
                            ("overview", "auditor overview")):
            r = web.get(name, {})
            if "rps" in r:
                ratio = f"**{r['vs_minimal']:.2f}×**" if "vs_minimal" in r else "1.00×"
                lines.append(f"| {label} | {r['rps']:.0f} | {r['p50_ms']:.1f} ms | **{r['p95_ms']:.1f} ms** | "
                             f"{r['p99_ms']:.1f} ms | {ratio} | {r['bytes'] / 1024:.1f} KiB | {r['errors']} |")
            elif r.get("skipped"):
                lines.append(f"| {label} | {r['skipped']} | | | | | | |")
        lines.append("")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- main

HELPERS = {
    "_bare-load": lambda a: bare_load(a[0], a[1]),
    "_load-tb": lambda a: load_tb(a[0], a[1]),
    "_load-bare-tb": lambda a: load_bare_tb(a[0], a[1]),
    "_copy-tb": lambda a: copy_ledger(a[0], a[1]),
    "_tb-query": lambda a: print(json.dumps(tb_query(a[0]))),
    "_policy": lambda a: save_bench_policy(a[0]),
    "_publish": lambda a: print(json.dumps(publish_for_web(a[0]))),
    "_statements": lambda a: print(json.dumps(statements_rates(a[0], int(a[1]), int(a[2])))),
    "_web-targets": lambda a: print(json.dumps(web_targets(a[0]))),
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in HELPERS:           # a step run in its own process
        sys.path.insert(0, str(ROOT))
        HELPERS[sys.argv[1]](sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer-runs", type=int, default=3)
    parser.add_argument("--import-runs", type=int, default=0, help="runs of the import section (default --runs)")
    parser.add_argument("--results", type=Path, default=RESULTS_JSON,
                        help="the JSON to write (results.md is written beside it); sections already in it are kept")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="with --report: fold these results files (e.g. of a section run apart) into --results")
    parser.add_argument("--slow-peer-runs", type=int, default=0,
                        help="runs of hledger and Beancount (minutes each at 1M transactions; default --peer-runs)")
    parser.add_argument("--skip-peers", default="", help="comma-separated: ledger,hledger,beancount")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated of {', '.join(SECTIONS)}")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "coopledger-bench")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database ('' to skip PostgreSQL)")
    parser.add_argument("--pg-prefix", default="bench")
    parser.add_argument("--port", type=int, default=5106)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--statements", type=int, default=200)
    parser.add_argument("--note", default="", help="a sentence for the report (e.g. that the machine was shared)")
    parser.add_argument("--report", action="store_true", help="only rewrite results.md from results.json")
    parser.add_argument("--reload", action="store_true", help="load the trial-balance ledger again even if the "
                                                                "work folder has it")
    args = parser.parse_args()
    results_md = args.results.with_suffix(".md")
    if args.report:
        results = json.loads(args.results.read_text())
        for extra in args.merge:
            other = json.loads(extra.read_text())
            results.update({k: v for k, v in other.items() if k != "meta"})
            results["meta"].setdefault("also", []).append(other["meta"]["command"])
        args.results.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        results_md.write_text(write_markdown(results) + "\n", encoding="utf-8")
        return
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    args.skip_peers = {s for s in args.skip_peers.split(",") if s}
    ensure_tools()
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / f"county-{args.households}-{args.deliveries}-{args.transactions}"
    if not (data / "manifest.json").exists():
        log(f"generating {data}")
        subprocess.run([PY, str(BENCH / "generate.py"), "--out", str(data), "--households", str(args.households),
                        "--deliveries", str(args.deliveries), "--transactions", str(args.transactions)],
                       check=True, stdout=subprocess.DEVNULL)
    dbs = Databases(args.work, args.pg or None, args.pg_prefix)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    same_size = results.get("meta", {}).get("size") == [args.households, args.deliveries, args.transactions]
    if not same_size:
        results = {}
    results["meta"] = {
        "date": dt.date.today().isoformat(), "size": [args.households, args.deliveries, args.transactions],
        "command": "bench/run.py " + " ".join(sys.argv[1:]), "runs": args.runs, "import_runs": args.import_runs or args.runs, "peer_runs": args.peer_runs,
        "slow_peer_runs": args.slow_peer_runs or args.peer_runs,
        "machine": f"{os.cpu_count()} cores, {_mem_gib():.0f} GiB, Python {platform.python_version()}, "
                   f"SQLite {_sqlite_version()}, {_pg_version(dbs)}",
        "note": args.note}
    sections = {"import": section_import, "trial-balance": section_trial_balance,
                "distribution": section_distribution, "statements": section_statements, "web": section_web}
    for name in SECTIONS:
        if name not in only:
            continue
        log(f"section {name}")
        t0 = time.perf_counter()
        results[name] = sections[name](args, dbs, data)
        results[name]["section_wall_s"] = time.perf_counter() - t0
        args.results.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        results_md.write_text(write_markdown(results) + "\n", encoding="utf-8")
    print(results_md.read_text())


def _mem_gib() -> float:
    with open("/proc/meminfo") as fh:
        return int(fh.readline().split()[1]) / 1024 / 1024


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _pg_version(dbs: Databases) -> str:
    if not dbs.pg:
        return "no PostgreSQL"
    try:
        out = subprocess.run(["psql", "-X", "-A", "-t", "-c", "SHOW server_version",
                              Databases.libpq(f"{dbs.pg}/postgres")], capture_output=True, text=True, check=True)
        return f"PostgreSQL {out.stdout.strip().split()[0]}"
    except (OSError, subprocess.CalledProcessError):
        return "PostgreSQL ?"


if __name__ == "__main__":
    main()

"""Crash trials: SIGKILL ``coopledger import`` and ``coopledger run post`` at random moments and check
that every trial leaves all or nothing, that ``verify`` stays clean, and that a retry happens once.

    .venv/bin/python bench/soak.py [--db URL] [--import-trials 100] [--post-trials 100]
                                   [--households 300] [--deliveries 3000] [--seed 1]

Each trial runs the real command in a subprocess (``coopledger`` with ``DATABASE_URL``) on a fresh
entity, kills it with SIGKILL after a random delay, waits until the database has let go of the dead
client (PostgreSQL: its backend is gone), then compares the entity's state — row counts of
households, members, every record kind, imports, journal entries, the book's entry count and head,
the run's status, entries and statements — with the state before (``nothing``) and with the state a
complete, uninterrupted run leaves (``all``; measured once on a calibration entity). Anything else
is a *partial* outcome and fails. Then ``verify`` on the book; then the retry: after ``nothing`` the
same import/post done again completes once, after ``all`` it is refused/does nothing.

Delays are uniform between the command's start-up time (measured: a command that connects and
stops) and 1.05 × a complete run, so kills land in reading, checking, writing and committing.

Without ``--db`` a temporary SQLite file is used. With a PostgreSQL URL the trials run in a fresh
schema of that database (``search_path``), dropped afterwards. The tests run this with a few trials
per kind (tests/reliability/test_crash_trials.py); ``make soak`` runs 100 of each on both databases.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import payouts.models  # noqa: E402,F401  (registers tables)
from cooperatives import models as cm  # noqa: E402
from cooperatives.access import CONSOLE  # noqa: E402
from ledger.db import make_engine, writer  # noqa: E402
from ledger.models import Book, JournalEntry  # noqa: E402
from ledger.verify import verify_books  # noqa: E402
from payouts.models import PayoutRun, StatementSnapshot  # noqa: E402

COOPLEDGER = str(Path(sys.executable).parent / "coopledger")
POLICY = {"reserve_pct": "10", "deduct": ["inputs"],
          "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                    {"name": "residual", "pct": "40", "basis": "capital"}]}
RECORD_MODELS = (cm.CapitalContribution, cm.Delivery, cm.Sale, cm.Expense)


# ------------------------------------------------------------------------------------------ workbooks


def write_workbook(folder: Path, code: str, households: int, deliveries: int, seed: int) -> Path:
    """A CSV workbook for entity ``code``: households, members, capital, deliveries, a sale, an expense."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def sheet(name, header, rows):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(header)
            out.writerows(rows)

    codes = [f"{code}-H{i:04d}" for i in range(1, households + 1)]
    sheet("entity", ["code", "name", "kind", "township"], [[code, f"{code}压测合作社", "farmer_coop", "压测乡"]])
    sheet("households", ["code", "head_name", "village"], [[c, f"户主{i}", f"村{i % 5}"] for i, c in enumerate(codes)])
    sheet("members", ["member", "member_no", "joined_on"], [[c, i, "2020-01-01"] for i, c in enumerate(codes, 1)])
    sheet("capital", ["date", "member", "amount"], [["2025-01-02", c, f"{rng.randint(1, 50) * 100}"] for c in codes])
    rows, total = [], 0
    for _ in range(deliveries):
        kg, price = rng.randint(10, 400), rng.choice(("4.20", "5.00", "5.60", "6.10"))
        rows.append([f"2025-{rng.randint(4, 10):02d}-{rng.randint(1, 28):02d}", rng.choice(codes), "藤茶鲜叶", kg,
                     "kg", price, rng.choice(("yes", "yes", "no")), "bank"])
        total += kg * 7
    sheet("deliveries", ["date", "member", "product", "quantity", "unit", "unit_price", "paid", "paid_by"], rows)
    sheet("sales", ["date", "buyer", "product", "amount"], [["2025-11-30", "茶企", "干茶", f"{total}"]])
    sheet("expenses", ["date", "category", "amount"], [["2025-12-01", "management", "3000"]])
    return folder


# ---------------------------------------------------------------------------------------------- state


def entity_state(conn, code: str) -> dict:
    """Everything an import of entity ``code`` writes, counted (all zero before it)."""
    row = conn.execute(select(cm.Entity.id, cm.Entity.book_id).where(cm.Entity.code == code)).first()
    if row is None:
        return {"entity": 0}
    eid, book_id = row
    state = {"entity": 1,
             "households": conn.scalar(select(func.count()).select_from(cm.Household)
                                       .where(cm.Household.code.like(f"{code}-%"))),
             "members": conn.scalar(select(func.count()).select_from(cm.Member).where(cm.Member.entity_id == eid)),
             "imports": conn.scalar(select(func.count()).select_from(cm.Import).where(cm.Import.entity_id == eid)),
             "entries": conn.scalar(select(func.count()).select_from(JournalEntry)
                                    .where(JournalEntry.book_id == book_id)),
             "book": tuple(conn.execute(select(Book.entry_count, Book.head_hash).where(Book.id == book_id)).one())}
    for model in RECORD_MODELS:
        state[model.__tablename__] = conn.scalar(select(func.count()).select_from(model)
                                                 .where(model.entity_id == eid))
    return state


def run_state(conn, run_id: int) -> dict:
    """Everything posting run ``run_id`` writes (its entries, the year's closing, statements, status)."""
    run = conn.execute(select(PayoutRun.status, PayoutRun.entity_id, PayoutRun.posted_at)
                       .where(PayoutRun.id == run_id)).one()
    book_id = conn.scalar(select(cm.Entity.book_id).where(cm.Entity.id == run.entity_id))
    return {"status": run.status, "posted_at": run.posted_at is not None,
            "entries": conn.scalar(select(func.count()).select_from(JournalEntry)
                                   .where(JournalEntry.book_id == book_id)),
            "run_entries": conn.scalar(select(func.count()).select_from(JournalEntry).where(
                JournalEntry.book_id == book_id, JournalEntry.source.like(f"run:{run_id}:%"))),
            "statements": conn.scalar(select(func.count()).select_from(StatementSnapshot)
                                      .where(StatementSnapshot.run_id == run_id)),
            "book": tuple(conn.execute(select(Book.entry_count, Book.head_hash).where(Book.id == book_id)).one())}


def without_book_head(state: dict) -> dict:
    """A complete state compared across entities: the head hash differs per entity, its count not."""
    return {k: (v[0] if k == "book" else v) for k, v in state.items()}


# --------------------------------------------------------------------------------------------- trials


@dataclass
class Summary:
    kind: str
    trials: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    full_run: float = 0.0
    startup: float = 0.0
    delays: list[float] = field(default_factory=list)
    killed: int = 0                       #: trials whose process was still running when killed
    #: per outcome, the kills that landed while the child had its write transaction open
    in_transaction: Counter = field(default_factory=Counter)
    complete: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "trials": self.trials, "outcomes": dict(self.outcomes), "killed": self.killed,
                "killed_in_transaction": dict(self.in_transaction),
                "failures": self.failures, "seconds": round(self.seconds, 1), "full_run_s": round(self.full_run, 2),
                "startup_s": round(self.startup, 2),
                "delay_s": [round(min(self.delays), 2), round(max(self.delays), 2)] if self.delays else []}


class Harness:
    def __init__(self, url: str, workdir: Path, *, households: int, deliveries: int, seed: int,
                 log=print) -> None:
        self.url, self.workdir, self.log = url, Path(workdir), log
        self.households, self.deliveries = households, deliveries
        self.rng, self.seed = random.Random(seed), seed
        self.engine = make_engine(url)
        self.env = {**os.environ, "DATABASE_URL": url, "COOP_SECRET_KEY": "soak"}
        self.env.pop("COOPLEDGER_TEST_PAUSE_IN_POST", None)
        self.last_in_transaction = False

    def close(self) -> None:
        self.engine.dispose()

    # -- processes
    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([COOPLEDGER, *args], env=self.env, capture_output=True, text=True, timeout=600,
                              cwd=self.workdir)
        if check and done.returncode != 0:
            raise RuntimeError(f"coopledger {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        return done

    def init(self) -> None:
        self.command("init")

    def kill_after(self, args: list[str], delay: float) -> tuple[int, str]:
        """Start ``coopledger args``; SIGKILL it after ``delay`` s unless it ended; wait until the
        database has let go of it. Returns (exit code, application name)."""
        name = f"soak-{uuid.uuid4().hex[:12]}"
        proc = subprocess.Popen([COOPLEDGER, *args], env={**self.env, "PGAPPNAME": name}, cwd=self.workdir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.last_in_transaction = False
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            self.last_in_transaction = self.in_transaction(name)
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        self.wait_released(name)
        return proc.returncode, name

    def in_transaction(self, name: str) -> bool:
        """Whether the child has a write transaction open right now (read just before the kill):
        PostgreSQL — one of its backends is in a transaction; SQLite — the write lock is taken."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                return bool(conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n AND xact_start IS NOT NULL "
                    "AND state IN ('active', 'idle in transaction')"), {"n": name}))
        import sqlite3

        probe = sqlite3.connect(self.engine.url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:        # database is locked: the child holds the write lock
            return True
        finally:
            probe.close()

    def wait_released(self, name: str, timeout: float = 60.0) -> None:
        """PostgreSQL: wait until the dead client's backend has gone (its transaction ended one way or
        the other). SQLite: nothing to wait for — the next connection ignores an unfinished WAL tail."""
        if self.engine.dialect.name != "postgresql":
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                if not conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                                   {"n": name}):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the backend of {name} is still there after {timeout} s")

    def timed(self, *args: str, check: bool = True) -> float:
        start = time.monotonic()
        self.command(*args, check=check)
        return time.monotonic() - start

    def startup_time(self) -> float:
        """How long a command takes to start, connect and stop (the earliest a kill can matter)."""
        return min(self.timed("trial-balance", "--entity", "NO-SUCH", check=False) for _ in range(2))

    def verify(self, book_code: str | None = None) -> list[str]:
        with Session(self.engine) as session:
            books = None
            if book_code is not None:
                books = list(session.scalars(select(Book).where(Book.code == book_code)))
            return [str(d) for d in verify_books(session, books)]

    def new_workbook(self, code: str) -> Path:
        # the same rows for every entity (only the codes differ), so every complete import has the same counts
        return write_workbook(self.workdir / code, code, self.households, self.deliveries, seed=self.seed)

    # -- imports
    def calibrate_import(self) -> Summary:
        summary = Summary("import")
        started = time.monotonic()
        summary.full_run = min(self.timed("import", str(self.new_workbook(name))) for name in ("CAL-I", "CAL-J"))
        with self.engine.connect() as conn:
            summary.complete = without_book_head(entity_state(conn, "CAL-I"))
        summary.startup = self.startup_time()
        summary.seconds += time.monotonic() - started
        return summary

    def import_trial(self, summary: Summary) -> str:
        """One import killed at a random moment; returns the outcome (failures go into ``summary``)."""
        started, trial = time.monotonic(), summary.trials
        code = f"KI{trial:03d}"
        folder = self.new_workbook(code)
        delay = self.rng.uniform(summary.startup * 0.9, summary.full_run * 1.05)
        summary.delays.append(delay)
        failures = []
        with self.engine.connect() as conn:
            before = entity_state(conn, code)
        returncode, _ = self.kill_after(["import", str(folder)], delay)
        with self.engine.connect() as conn:
            after = entity_state(conn, code)
        if after == before:
            outcome = "nothing"
        elif without_book_head(after) == summary.complete:
            outcome = "all"
        else:
            outcome = "PARTIAL"
            failures.append(f"import trial {trial}: partial state {after} (delay {delay:.2f} s)")
        problems = self.verify(code) if after.get("entity") else []
        failures.extend(f"import trial {trial}: verify: {p}" for p in problems)
        # retry (the same code path as the command, in this process): it completes exactly once
        refused = self.retry_import(folder)
        with self.engine.connect() as conn:
            again = entity_state(conn, code)
        if without_book_head(again) != summary.complete:
            failures.append(f"import trial {trial}: after the retry {again}")
        if (outcome == "all") != refused:
            failures.append(f"import trial {trial}: retry after {outcome} was {'refused' if refused else 'imported'}")
        return self._record(summary, outcome, failures, delay, returncode, started)

    def _record(self, summary: Summary, outcome: str, failures: list[str], delay: float, returncode: int,
                started: float) -> str:
        summary.outcomes[outcome] += 1
        summary.failures.extend(failures)
        summary.trials += 1
        summary.killed += returncode == -signal.SIGKILL
        summary.in_transaction[outcome] += self.last_in_transaction
        summary.seconds += time.monotonic() - started
        self.log(f"{summary.kind} trial {summary.trials}: killed after {delay:.2f} s"
                 f"{' inside its transaction' if self.last_in_transaction else ''} -> {outcome} (exit {returncode})" + "".join(f"\n  FAILURE {f}" for f in failures))
        return outcome

    def import_trials(self, trials: int) -> Summary:
        summary = self.calibrate_import()
        for _ in range(trials):
            self.import_trial(summary)
        return summary

    def retry_import(self, folder: Path) -> bool:
        """Import ``folder`` again as ``coopledger import`` does; True if it was refused as a repeat."""
        from cooperatives.importer import ImportRefused, import_path

        with Session(writer(self.engine)) as session:
            try:
                import_path(session, folder, actor=CONSOLE)
            except ImportRefused:
                return True
            session.commit()
            return False

    def retry_post(self, run_id: int) -> bool:
        """Post the run again as ``coopledger run post`` does; True if it posted (False: already posted)."""
        from payouts.runs.operations import post_run

        with Session(writer(self.engine)) as session:
            posted = post_run(session, session.get(PayoutRun, run_id), actor=CONSOLE)
            session.commit()
            return posted

    # -- run posting
    def approved_run(self, code: str) -> int:
        """Import a workbook for ``code`` and draft and approve its 2025 run, in this process."""
        from cooperatives.importer import import_path
        from payouts.runs.operations import approve_run, create_run, save_policy
        from payouts.runs.policy import parse_policy

        folder = self.new_workbook(code)
        with Session(writer(self.engine), expire_on_commit=False) as session:
            import_path(session, folder, actor=CONSOLE)
            entity = session.scalar(select(cm.Entity).where(cm.Entity.code == code))
            version = save_policy(session, entity, parse_policy(POLICY), actor=CONSOLE)
            run = create_run(session, entity, 2025, policy_version=version, actor=CONSOLE)
            members = len(run.result["members"])
            approve_run(session, run, meeting_date=dt.date(2026, 3, 15), attended=members, votes_for=members, actor=CONSOLE)
            session.commit()
            return run.id

    def calibrate_post(self) -> Summary:
        summary = Summary("run post")
        started = time.monotonic()
        calibration, second = self.approved_run("CAL-P"), self.approved_run("CAL-Q")
        summary.full_run = min(self.timed("run", "post", str(run)) for run in (second, calibration))
        with self.engine.connect() as conn:
            summary.complete = without_book_head(run_state(conn, calibration))
        summary.startup = self.startup_time()
        summary.seconds += time.monotonic() - started
        return summary

    def post_trial(self, summary: Summary) -> str:
        """One run post killed at a random moment; returns the outcome (failures go into ``summary``)."""
        started, trial = time.monotonic(), summary.trials
        code = f"KP{trial:03d}"
        run_id = self.approved_run(code)
        delay = self.rng.uniform(summary.startup * 0.9, summary.full_run * 1.05)
        summary.delays.append(delay)
        failures = []
        with self.engine.connect() as conn:
            before = run_state(conn, run_id)
        returncode, _ = self.kill_after(["run", "post", str(run_id)], delay)
        with self.engine.connect() as conn:
            after = run_state(conn, run_id)
        if after == before:
            outcome = "nothing"
        elif without_book_head(after) == summary.complete:
            outcome = "all"
        else:
            outcome = "PARTIAL"
            failures.append(f"post trial {trial}: partial state {after} (delay {delay:.2f} s)")
        failures.extend(f"post trial {trial}: verify: {p}" for p in self.verify(code))
        posted_again = self.retry_post(run_id)
        with self.engine.connect() as conn:
            again = run_state(conn, run_id)
        if without_book_head(again) != summary.complete:
            failures.append(f"post trial {trial}: after the retry {again}")
        if (outcome == "all") == posted_again:
            failures.append(f"post trial {trial}: the retry after {outcome} "
                            f"{'posted' if posted_again else 'did nothing'}")
        return self._record(summary, outcome, failures, delay, returncode, started)

    def post_trials(self, trials: int) -> Summary:
        summary = self.calibrate_post()
        for _ in range(trials):
            self.post_trial(summary)
        return summary

    def final_checks(self) -> list[str]:
        """``coopledger verify`` over every book, and SQLite's own integrity check."""
        problems = []
        done = self.command("verify", check=False)
        if done.returncode != 0:
            problems.append(f"coopledger verify: exit {done.returncode}: {done.stdout[-1000:]}{done.stderr[-1000:]}")
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                check = conn.exec_driver_sql("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                problems.append(f"PRAGMA integrity_check: {check[:5]}")
        return problems


# ------------------------------------------------------------------------------------------------ main


def _scratch_schema(url: str) -> tuple[str, str]:
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}", schema


def _drop_schema(url: str, schema: str) -> None:
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--import-trials", type=int, default=100)
    parser.add_argument("--post-trials", type=int, default=100)
    parser.add_argument("--households", type=int, default=300)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", dest="json_out", help="also write the summary as JSON to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coop-soak-") as tmp:
        url, schema = args.db or f"sqlite:///{tmp}/soak.db", None
        if url.startswith("postgresql"):
            url, schema = _scratch_schema(args.db)
        harness = Harness(url, Path(tmp), households=args.households, deliveries=args.deliveries, seed=args.seed)
        dialect = harness.engine.dialect.name
        summaries: list[Summary] = []
        final: list[str] | None = None

        def report() -> dict:
            result = {"database": dialect, "households": args.households, "deliveries": args.deliveries,
                      "seed": args.seed, "summaries": [s.as_dict() for s in summaries], "final_checks": final}
            if args.json_out:           # written after every trial, so an interrupted soak still has figures
                Path(args.json_out).write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
            return result

        try:
            harness.init()
            summaries = [harness.calibrate_import(), harness.calibrate_post()]
            for n in range(max(args.import_trials, args.post_trials)):      # interleaved: both kinds progress
                if n < args.import_trials:
                    harness.import_trial(summaries[0])
                    report()
                if n < args.post_trials:
                    harness.post_trial(summaries[1])
                    report()
            final = harness.final_checks()
        finally:
            harness.close()
            if schema:
                _drop_schema(args.db, schema)
    result = report()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    failed = final or any(s.failures for s in summaries)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

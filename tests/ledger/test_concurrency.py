"""Concurrent writers: nothing lost, nothing doubled, vouchers gapless, books exact — and readers never
see a broken invariant.

PostgreSQL: 16 writer processes × 500 postings into one book on a hot set of accounts and member
sub-ledgers, while 4 reader processes take REPEATABLE READ snapshots and check each one (trial
balance sums to zero; every 10th read of one reader, the snapshot's whole hash chain and vouchers).
SQLite (WAL, ``BEGIN IMMEDIATE``, busy timeout): 4 writers × 100, 2 readers (× 250 in ``make soak``).

Counts can be raised for a soak run: ``COOP_CONC_WRITERS``, ``COOP_CONC_ENTRIES`` (``make soak``).
Runs in a database of its own (committed data, real processes), dropped afterwards.
"""

import datetime as dt
import multiprocessing
import os
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ledger.db import Base, make_engine, writer
from ledger.entries import EntryDraft, PostingDraft
from ledger.models import Book, JournalEntry
from ledger.operations import create_book, ensure_parties, post_entry
from ledger.queries import trial_balance
from ledger.verify import verify_book

#: (writers, entries each, readers) per database
SIZES = {"postgresql": (16, 500, 4), "sqlite": (4, 100, 2)}
#: the hot set: every entry debits one of these and credits one member of 114
HOT_DEBITS = ("521", "522", "523", "524", "529", "102", "101", "113", "121", "161")
MEMBERS = 10


def sizes(dialect: str) -> tuple[int, int, int]:
    writers, entries, readers = SIZES[dialect]
    return (int(os.environ.get("COOP_CONC_WRITERS", writers)), int(os.environ.get("COOP_CONC_ENTRIES", entries)),
            readers)


def amount_of(worker: int, n: int) -> Decimal:
    return Decimal(worker * 1000 + n + 1).scaleb(-2)


def _post_many(url: str, worker: int, count: int) -> None:
    engine = make_engine(url)
    with Session(writer(engine)) as session:
        book = session.scalar(select(Book).where(Book.code == "CONC"))
        for n in range(count):
            amount = amount_of(worker, n)
            post_entry(session, book, EntryDraft(
                date=dt.date(2025, 1 + n % 12, 1 + worker % 28), memo=f"w{worker} n{n}", source=f"w{worker}:{n}",
                postings=(PostingDraft(HOT_DEBITS[(worker + n) % len(HOT_DEBITS)], amount),
                          PostingDraft("114", -amount, f"M{(worker * 7 + n) % MEMBERS}"))))
            session.commit()
    engine.dispose()


def _read_snapshots(url: str, reader: int, stop, results) -> None:
    """Until ``stop``: read the books in one snapshot each and report every broken invariant seen.
    Reader 0 also recomputes the snapshot's whole hash chain and voucher sequence every 10th read."""
    import time

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    reads, problems = 0, []
    while not stop.is_set() or reads == 0:
        with Session(engine) as session:              # one transaction = one snapshot
            book = session.scalar(select(Book).where(Book.code == "CONC"))
            rows = trial_balance(session, book, 2025)
            debit = sum((r.debit for r in rows), Decimal(0))
            credit = sum((r.credit for r in rows), Decimal(0))
            if debit != credit or sum((r.closing for r in rows), Decimal(0)) != 0:
                problems.append(f"read {reads}: debits {debit} != credits {credit}")
            if reader == 0 and reads % 10 == 5:
                problems.extend(f"read {reads}: {d}" for d in verify_book(session, book))
            session.rollback()
        reads += 1
        time.sleep(0.2)                  # readers sample; they must not starve the writers of CPU
    results.put((reads, problems))
    engine.dispose()


@pytest.fixture
def engine(isolated_db):
    engine = make_engine(isolated_db)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()             # no pooled connection left for the garbage collector to complain about


@pytest.mark.slow
def test_concurrent_writers_lose_and_double_nothing_and_readers_see_exact_books(isolated_db, engine):
    url = isolated_db
    writers, entries, readers = sizes(engine.dialect.name)
    with Session(engine) as session:
        book = create_book(session, code="CONC", name="并发测试", chart="fpc2021")
        ensure_parties(session, book, {f"M{m}": f"成员{m}" for m in range(MEMBERS)})
        session.commit()
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    watchers = [ctx.Process(target=_read_snapshots, args=(url, r, stop, results)) for r in range(readers)]
    workers = [ctx.Process(target=_post_many, args=(url, w, entries)) for w in range(writers)]
    for p in watchers + workers:
        p.start()
    for p in workers:
        p.join(timeout=900)
    stop.set()
    seen = [results.get(timeout=300) for _ in watchers]
    for p in watchers:
        p.join(timeout=60)
    assert [p.exitcode for p in workers] == [0] * writers
    assert [p.exitcode for p in watchers] == [0] * readers
    assert all(reads > 0 for reads, _ in seen)
    assert [problem for _, problems in seen for problem in problems] == []

    total = writers * entries
    with Session(engine) as session:
        book = session.scalar(select(Book).where(Book.code == "CONC"))
        assert session.scalar(select(func.count(JournalEntry.id))) == total                       # 0 lost
        assert session.scalar(select(func.count(func.distinct(JournalEntry.source)))) == total    # 0 doubled
        vouchers = session.scalars(select(JournalEntry.voucher_no).order_by(JournalEntry.voucher_no)).all()
        assert vouchers == list(range(1, total + 1))                                              # gapless
        rows = {r.code: r for r in trial_balance(session, book, 2025)}
        expected = sum(amount_of(w, n) for w in range(writers) for n in range(entries))
        assert sum((rows[c].debit for c in HOT_DEBITS if c in rows), Decimal(0)) == expected
        assert rows["114"].credit == expected
        assert sum(r.closing for r in rows.values()) == 0
        per_member = dict(session.execute(text(
            "SELECT p.code, -sum(x.amount) FROM ledger_postings x JOIN ledger_parties p ON p.id = x.party_id "
            "GROUP BY p.code")).all())
        want: dict[str, int] = {}
        for w in range(writers):
            for n in range(entries):
                code = f"M{(w * 7 + n) % MEMBERS}"
                want[code] = want.get(code, 0) + int(amount_of(w, n).scaleb(2))
        assert {k: int(v) for k, v in per_member.items()} == want                 # every fen on its member
        assert verify_book(session, book) == []

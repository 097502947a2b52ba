"""Concurrent writers on PostgreSQL: nothing lost, nothing doubled, vouchers gapless, books exact.

Runs in a schema of its own (committed data, real processes), dropped afterwards.
"""

import datetime as dt
import multiprocessing
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.db import Base, make_engine, writer
from ledger.entries import EntryDraft, PostingDraft
from ledger.models import Book, JournalEntry
from ledger.operations import create_book, ensure_parties, post_entry
from ledger.queries import trial_balance
from ledger.verify import verify_book

pytestmark = pytest.mark.postgres_only

WRITERS, ENTRIES = 8, 500


def _post_many(url: str, worker: int, count: int) -> None:
    engine = make_engine(url)
    with Session(writer(engine)) as session:
        book = session.scalar(select(Book).where(Book.code == "CONC"))
        for n in range(count):
            amount = Decimal(worker * 1000 + n + 1).scaleb(-2)
            post_entry(session, book, EntryDraft(
                date=dt.date(2025, 1 + n % 12, 1 + worker), memo=f"w{worker} n{n}", source=f"w{worker}:{n}",
                postings=(PostingDraft("521", amount), PostingDraft("114", -amount, f"M{worker}"))))
            session.commit()
    engine.dispose()


@pytest.fixture
def engine(isolated_db):
    engine = make_engine(isolated_db)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()             # no pooled connection left for the garbage collector to complain about


def test_eight_processes_posting_at_once_lose_and_double_nothing(isolated_db, engine):
    url = isolated_db
    with Session(engine) as session:
        book = create_book(session, code="CONC", name="并发测试", chart="fpc2021")
        ensure_parties(session, book, {f"M{w}": f"成员{w}" for w in range(WRITERS)})
        session.commit()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_post_many, args=(url, w, ENTRIES)) for w in range(WRITERS)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=600)
    assert [p.exitcode for p in workers] == [0] * WRITERS

    with Session(engine) as session:
        book = session.scalar(select(Book).where(Book.code == "CONC"))
        assert session.scalar(select(func.count(JournalEntry.id))) == WRITERS * ENTRIES
        vouchers = session.scalars(select(JournalEntry.voucher_no).order_by(JournalEntry.voucher_no)).all()
        assert vouchers == list(range(1, WRITERS * ENTRIES + 1))
        assert session.scalar(select(func.count(func.distinct(JournalEntry.source)))) == WRITERS * ENTRIES
        rows = {r.code: r for r in trial_balance(session, book, 2025)}
        expected = sum(Decimal(w * 1000 + n + 1).scaleb(-2) for w in range(WRITERS) for n in range(ENTRIES))
        assert rows["521"].debit == expected and rows["114"].credit == expected
        assert sum(r.closing for r in rows.values()) == 0
        assert verify_book(session, book) == []

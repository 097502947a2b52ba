"""Two processes reading the same bank return file at once post each payment once (issue 17).

Real processes (spawned), committed data, a database of its own (``isolated_db``: a file on SQLite, a schema on
PostgreSQL). Each process configures the same privacy keys as the parent, opens its own engine and session, waits
for the other at a barrier, reads the results of the same batch and commits. Afterwards: one receipt and one entry
per success, each line paid once, 221/222 exactly what is still owed; one process read the file, the other was told
it was already read (or refused with ``batch_results_in``).
"""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_batches import (
    PAID_ON,
    assert_books_say_what_is_owed,
    body_of,
    build_world,
    owed_by_member,
    return_file,
)

from cooperatives import privacy
from cooperatives.access import CONSOLE
from ledger.db import Base, make_engine, money_sum, writer
from ledger.models import JournalEntry
from payouts.batches.operations import BatchError, batch_file, create_batch, mark_sent, read_results
from payouts.models import PayoutBatch, PayoutBatchLine, PayoutMember, Receipt
from payouts.settings import Settings

#: the keys of the ``app`` fixture (tests/conftest.py): the parent's keys stay what the other tests configured
KEYS = Settings(database_url="sqlite://", secret_key="test")


def _configure() -> None:
    privacy.configure(list(KEYS.data_keys), KEYS.index_key.encode())


def _read(url: str, batch_id: int, data: bytes, barrier, results) -> None:
    _configure()
    engine = make_engine(url)
    try:
        with Session(writer(engine)) as session:
            barrier.wait(timeout=120)
            batch = session.get(PayoutBatch, batch_id)
            try:
                res = read_results(session, batch, data, "回盘.xlsx", on=PAID_ON, actor=CONSOLE)
                session.commit()
                results.put(("read", res.already, res.paid, str(res.paid_total)))
            except BatchError as exc:
                session.rollback()
                results.put(("refused", [p.code for p in exc.problems]))
    except Exception as exc:  # noqa: BLE001  (reported to the parent, which fails the test with it)
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()


def test_two_processes_reading_one_return_file_post_each_payment_once(isolated_db, tmp_path):
    url = isolated_db
    _configure()
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
        with Session(writer(engine)) as session:
            run = build_world(session, tmp_path / "world")
            batch = create_batch(session, run, actor=CONSOLE)
            body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
            mark_sent(session, batch, actor=CONSOLE)
            session.commit()
            batch_id, run_id = batch.id, run.id
        failed = {body[1][0]: "户名与账号不符"}
        data = return_file(body, failed=failed)
        paid_total = sum((Decimal(str(r[3])) for r in body if r[0] not in failed), Decimal(0))

        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(2), ctx.Queue()
        readers = [ctx.Process(target=_read, args=(url, batch_id, data, barrier, results)) for _ in range(2)]
        for p in readers:
            p.start()
        seen = [results.get(timeout=300) for _ in readers]
        for p in readers:
            p.join(timeout=60)
        assert [p.exitcode for p in readers] == [0, 0]
        assert not [s for s in seen if s[0] == "error"], seen
        read = [s for s in seen if s[0] == "read" and not s[1]]
        assert read == [("read", False, len(body) - 1, str(paid_total))], seen
        other = next(s for s in seen if s not in read)
        assert other in (("read", True, len(body) - 1, str(paid_total)), ("refused", ["batch_results_in"])), seen

        with Session(engine) as session:
            batch = session.get(PayoutBatch, batch_id)
            run = batch.run
            lines = session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch_id,
                                                                  PayoutBatchLine.seq.is_not(None))).all()
            paid = [ln for ln in lines if ln.status == "paid"]
            assert (batch.status, batch.paid_count, batch.failed_count) == ("results_in", len(body) - 1, 1)
            assert len(paid) == len(body) - 1 and [ln.seq for ln in lines if ln.status == "failed"] == list(failed)
            receipts = session.execute(select(Receipt.batch_line_id, func.count(Receipt.id)).where(
                Receipt.batch_line_id.in_([ln.id for ln in lines])).group_by(Receipt.batch_line_id)).all()
            assert sorted(receipts) == sorted((ln.id, 1) for ln in paid)                  # each line paid once
            assert session.scalar(select(func.count(JournalEntry.id)).where(
                JournalEntry.source.like(f"batch:{batch_id}:%"))) == len(paid)
            assert session.scalar(select(money_sum(PayoutMember.__table__.c.paid)).where(PayoutMember.run_id == run_id)) == (
                paid_total + owed_paid_by_hand(session, run_id))
            assert sum(owed_by_member(session, run).values(), Decimal(0)) == sum(
                (ln.amount for ln in lines if ln.status == "failed"), Decimal(0)) + sum(
                session.scalars(select(PayoutBatchLine.amount).where(PayoutBatchLine.batch_id == batch_id,
                                                                     PayoutBatchLine.seq.is_(None))), Decimal(0))
            assert_books_say_what_is_owed(session, run)
    finally:
        engine.dispose()


def owed_paid_by_hand(session, run_id: int) -> Decimal:
    """What the world paid by hand before the batch."""
    return session.scalar(select(money_sum(Receipt.__table__.c.amount)).where(
        Receipt.run_id == run_id, Receipt.batch_line_id.is_(None)))

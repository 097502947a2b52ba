"""Integrity checks from the township pages: ``verify`` (:mod:`ledger.verify`) over each entity's book,
recorded with who ran it, when, how long it took and what it found."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from cooperatives.access import Principal, audits, operation
from cooperatives.models import Entity, User
from cooperatives.operations import audit
from ledger.clock import china_minute
from ledger.i18n import N_
from ledger.verify import verify_book
from payouts.models import IntegrityCheck
from payouts.oversight.tables import Column, Table

#: checks listed per page of history
HISTORY = 200

COLUMNS = (
    Column("checked_at", N_("Checked at")),
    Column("entity_code", N_("Code")),
    Column("entity_name", N_("Entity")),
    Column("result", N_("Result")),
    Column("entries", N_("Entries verified"), "int"),
    Column("duration_ms", N_("Duration (ms)"), "int"),
    Column("checked_by", N_("Checked by")),
    Column("problems", N_("Problems")),
)


@operation(audits())
def check_integrity(session: Session, entity: Entity, *, actor: Principal) -> IntegrityCheck:
    """Verify ``entity``'s book, and the books it continues (a collective's 2004 book carried over), and record the
    outcome (flushes; the caller commits). Never raises for a bad book: the differences are the result."""
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    books, book = [], entity.book
    while book is not None:
        books.append(book)
        book = book.previous
    differences = [d for book in books for d in verify_book(session, book)]
    elapsed = int((time.perf_counter() - clock) * 1000)
    check = IntegrityCheck(entity_id=entity.id, actor_id=actor.user_id, checked_at=started, duration_ms=elapsed,
                           ok=not differences, entries=sum(book.entry_count for book in books),
                           problems="\n".join(str(d) for d in differences) or None)
    session.add(check)
    audit(session, actor_id=actor.user_id, action="integrity_check", target=f"entity:{entity.code}",
          entity_id=entity.id, detail=None if not differences else str(len(differences)))
    session.flush()
    return check


def latest_checks(session: Session, entity_ids: list[int]) -> dict[int, IntegrityCheck]:
    """The latest check of each entity (one statement)."""
    if not entity_ids:
        return {}
    newest = (select(func.max(IntegrityCheck.id)).where(IntegrityCheck.entity_id.in_(entity_ids))
              .group_by(IntegrityCheck.entity_id))
    return {c.entity_id: c for c in session.scalars(select(IntegrityCheck).where(IntegrityCheck.id.in_(newest)))}


def history_table(session: Session, township_id: int, *, ok_label: str, problems_label: str,
                  entity_id: int | None = None) -> Table:
    """The township's checks, newest first (at most :data:`HISTORY`)."""
    stmt = (select(IntegrityCheck, User.display_name)
            .options(joinedload(IntegrityCheck.entity))
            .join(Entity, Entity.id == IntegrityCheck.entity_id)
            .outerjoin(User, User.id == IntegrityCheck.actor_id)
            .where(Entity.township_id == township_id)
            .order_by(IntegrityCheck.id.desc()).limit(HISTORY))
    if entity_id is not None:
        stmt = stmt.where(IntegrityCheck.entity_id == entity_id)
    rows = []
    for check, who in session.execute(stmt):
        rows.append({"checked_at": stamp(check.checked_at), "entity_code": check.entity.code,
                     "entity_name": check.entity.name, "result": ok_label if check.ok else problems_label,
                     "entries": check.entries, "duration_ms": check.duration_ms, "checked_by": who or "",
                     "problems": check.problems or "", "_ok": check.ok})
    return Table(COLUMNS, rows)




def stamp(moment: dt.datetime | None) -> str:
    """A stored time (UTC; SQLite gives it back without its zone) as China's time, ``YYYY-MM-DD HH:MM``."""
    return "" if moment is None else china_minute(moment)

"""Phone + PIN visits, kept on the server so that they can be ended (no Flask).

A visit starts when a household enters its phone number and PIN: the browser's signed session gets a
random id, the table ``payout_pin_visits`` its SHA-256 (a database dump holds no usable id). Every
household page looks the visit up (:func:`household_of_visit`), so it ends for every copy of the cookie
when the household leaves (``/s/leave``), when the household is given a new PIN (:func:`end_visits`, called
by ``set_pin``), or after :data:`PIN_VISIT_SECONDS`. Each function flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from payouts.models import PinVisit

#: a phone + PIN visit lasts this long (a shared phone does not stay open on a household's pages for days)
PIN_VISIT_SECONDS = 8 * 3600
#: longest visit id accepted from a session (ours are 43 characters)
VISIT_ID_MAX = 100


def _digest(visit_id: str) -> str:
    return hashlib.sha256(visit_id.encode()).hexdigest()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)   # SQLite: naive UTC


def start_visit(session: Session, household_id: int, *, now: dt.datetime) -> str:
    """Start a visit of the household; returns the id for the browser's session. The household's visits
    that ended or ran out are deleted (the table holds live visits and a few just ended)."""
    session.execute(delete(PinVisit).where(
        PinVisit.household_id == household_id,
        or_(PinVisit.ended_at.is_not(None), PinVisit.started_at < now - dt.timedelta(seconds=PIN_VISIT_SECONDS))))
    visit_id = secrets.token_urlsafe(32)
    session.add(PinVisit(secret_hash=_digest(visit_id), household_id=household_id, started_at=now))
    session.flush()
    return visit_id


def household_of_visit(session: Session, visit_id: object, *, now: dt.datetime,
                       max_seconds: int = PIN_VISIT_SECONDS) -> int | None:
    """The household of a live visit (not ended, started at most ``max_seconds`` ago), else None."""
    if not isinstance(visit_id, str) or not 0 < len(visit_id) <= VISIT_ID_MAX:
        return None
    row = session.execute(select(PinVisit.household_id, PinVisit.started_at)
                          .where(PinVisit.secret_hash == _digest(visit_id), PinVisit.ended_at.is_(None))).first()
    if row is None:
        return None
    age = (now - _utc(row.started_at)).total_seconds()
    return row.household_id if 0 <= age < max_seconds else None


def end_visit(session: Session, visit_id: object, *, now: dt.datetime) -> None:
    """End one visit (leaving on a shared phone): every copy of its cookie stops working."""
    if isinstance(visit_id, str) and 0 < len(visit_id) <= VISIT_ID_MAX:
        session.execute(update(PinVisit).where(PinVisit.secret_hash == _digest(visit_id), PinVisit.ended_at.is_(None))
                        .values(ended_at=now).execution_options(synchronize_session=False))
        session.flush()


def end_visits(session: Session, household_id: int, *, now: dt.datetime | None = None) -> int:
    """End every visit of the household (it was given a new PIN); returns how many were live."""
    result = session.execute(update(PinVisit).where(PinVisit.household_id == household_id, PinVisit.ended_at.is_(None))
                             .values(ended_at=now or dt.datetime.now(dt.UTC))
                             .execution_options(synchronize_session=False))
    session.flush()
    return result.rowcount or 0

"""Reading the 财务公开: an entity's publications, a publication's standing (superseded or not; its figures against
the books as they stand now), the months each entity was active, and the quarters it has not published.

A quarter is **due** once it has ended and :data:`GRACE_DAYS` more days have passed (the local practice "每季首月15日为
财务公开日": the disclosure of a quarter goes up by the 15th day after it; domain.md §4.4). It is **covered** by a
publication of the quarter, or by publications of each of its months that had activity (an entity that discloses
monthly, 财务往来较多的每月公开一次). Activity is any entry but the opening balances and the year-end closing. The
township's rule ``missing_disclosure`` (``payouts.oversight.anomalies``) lists the quarters due and not covered.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import extract, func, or_, select
from sqlalchemy.orm import Session, aliased, defer

from cooperatives.models import Entity
from ledger.clock import china_date
from ledger.models import Book, JournalEntry
from payouts.models import DisclosurePublication
from payouts.reports.disclosure.build import NOT_ACTIVITY, Period, build_disclosure, digest_of_data, to_data

#: days after a quarter's end by which its disclosure is due (the 15th of the quarter's following month)
GRACE_DAYS = 15
#: where the board stands: the 公开日期 printed is the date in China


def due_on(quarter: Period) -> dt.date:
    """The last day to publish ``quarter`` on time."""
    return quarter.end + dt.timedelta(days=GRACE_DAYS)


def published_on(publication: DisclosurePublication) -> dt.date:
    """The 公开日期 in China (where the board stands)."""
    return china_date(publication.published_at)


# ------------------------------------------------------------------------------------------- publications


def publications(session: Session, entity_id: int, *, year: int | None = None) -> list[DisclosurePublication]:
    """Every publication of the entity (of ``year``), by period and then oldest first. One query."""
    stmt = select(DisclosurePublication).options(defer(DisclosurePublication.data)).where(
        DisclosurePublication.entity_id == entity_id)
    if year is not None:
        stmt = stmt.where(DisclosurePublication.period.like(f"{year}-%"))
    return list(session.scalars(stmt.order_by(DisclosurePublication.period, DisclosurePublication.id)))


def current_publication(session: Session, entity_id: int, period: Period) -> DisclosurePublication | None:
    """The period's newest publication (the one in force), or None."""
    return session.scalar(select(DisclosurePublication).where(
        DisclosurePublication.entity_id == entity_id, DisclosurePublication.period == period.key)
        .order_by(DisclosurePublication.id.desc()).limit(1))


def publication_by_code(session: Session, code: str) -> DisclosurePublication | None:
    return session.scalar(select(DisclosurePublication).where(DisclosurePublication.code == code))


@dataclass(frozen=True)
class Standing:
    """What the public page says of a publication: whether a later one replaced it, and whether the books
    still give the figures it published."""

    superseded_by: DisclosurePublication | None
    matches_books: bool
    #: the earlier publications of the period this one corrects, newest first
    earlier: tuple[DisclosurePublication, ...] = ()


def standing(session: Session, publication: DisclosurePublication) -> Standing:
    """Read the books again (:func:`build.build_disclosure`) and compare the figures' hash with the published one;
    find the publications of the same period before and after it."""
    others = [p for p in publications(session, publication.entity_id, year=int(publication.period[:4]))
              if p.period == publication.period and p.id != publication.id]
    later = [p for p in others if p.id > publication.id]
    now = build_disclosure(session, publication.entity, Period.parse(publication.period))
    return Standing(later[-1] if later else None, digest_of_data(to_data(now)) == publication.digest,
                    tuple(reversed([p for p in others if p.id < publication.id])))


# ------------------------------------------------------------------------------------------------ activity


def activity(session: Session, entity_books: dict[int, int], *, year: int | None = None
             ) -> dict[tuple[int, int, int], int]:
    """``(entity id, year, month) -> entries`` for the entities of ``entity_books`` (``entity id -> book id``), in
    their books and the books those continue; the opening balances and the year-end closing not counted. One
    query."""
    if not entity_books:
        return {}
    by_book = {book_id: entity_id for entity_id, book_id in entity_books.items()}
    successor = aliased(Book)
    own = func.coalesce(successor.id, JournalEntry.book_id)
    month = extract("month", JournalEntry.date)
    stmt = (select(own, JournalEntry.year, month, func.count(JournalEntry.id))
            .select_from(JournalEntry).outerjoin(successor, successor.previous_book_id == JournalEntry.book_id)
            .where(or_(JournalEntry.book_id.in_(list(by_book)), successor.id.in_(list(by_book))),
                   JournalEntry.kind.not_in(NOT_ACTIVITY))
            .group_by(own, JournalEntry.year, month))
    if year is not None:
        stmt = stmt.where(JournalEntry.year == year)
    return {(by_book[book_id], entry_year, int(entry_month)): count
            for book_id, entry_year, entry_month, count in session.execute(stmt) if book_id in by_book}


@dataclass(frozen=True)
class Missing:
    """A quarter an entity had activity in, due and not covered by its publications."""

    entity_id: int
    quarter: Period
    entries: int
    due: dt.date
    #: months of the quarter that were published one by one (the others were not)
    months_published: tuple[int, ...] = ()


def published_keys(session: Session, entity_ids: Iterable[int], *, today: dt.date
                   ) -> dict[int, set[str]]:
    """``entity id -> periods published`` on or before ``today`` (dates where the server is, the clock ``today``
    comes from). One query."""
    ids = list(entity_ids)
    if not ids:
        return {}
    out: dict[int, set[str]] = defaultdict(set)
    for entity_id, key, moment in session.execute(
            select(DisclosurePublication.entity_id, DisclosurePublication.period, DisclosurePublication.published_at)
            .where(DisclosurePublication.entity_id.in_(ids))):
        if (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone().date() <= today:
            out[entity_id].add(key)
    return out


def missing_quarters(active: dict[tuple[int, int, int], int], published: dict[int, set[str]], *, today: dt.date,
                     year: int | None = None) -> list[Missing]:
    """Pure: the quarters with activity, due before ``today`` (:func:`due_on`), that no publication covers, by entity
    and quarter."""
    quarters: dict[tuple[int, Period], dict[int, int]] = defaultdict(dict)
    for (entity_id, entry_year, month), count in active.items():
        if year in (None, entry_year):
            quarters[(entity_id, Period.quarter_of(dt.date(entry_year, month, 1)))][month] = count
    found = []
    for (entity_id, quarter), months in sorted(quarters.items(), key=lambda kv: (kv[0][0], kv[0][1].sort_key)):
        keys = published.get(entity_id, set())
        monthly = tuple(m for m in quarter.months if Period(quarter.year, month=m).key in keys)
        covered = quarter.key in keys or all(m in monthly for m in months)
        if due_on(quarter) < today and not covered:
            found.append(Missing(entity_id, quarter, sum(months.values()), due_on(quarter), monthly))
    return found


def entity_missing(session: Session, entity: Entity, *, today: dt.date, year: int | None = None) -> list[Missing]:
    """The quarters ``entity`` has not published (for its own page). Two queries."""
    return missing_quarters(activity(session, {entity.id: entity.book_id}, year=year),
                            published_keys(session, [entity.id], today=today), today=today, year=year)

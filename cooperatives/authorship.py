"""Who wrote into each book: a check ``coopledger verify`` runs beside the hash chains (no Flask here).

A book is written by the console, the admin, or the accountant of its own entity — and, for a member entity
of a cluster project, by the project's accountant along a link: its share of the project's run (an
investment-income record from ``run:<id>``) and the reversal of that share. An entry written by any other
accountant was written past the access rules (as issue 12 found a project's accountant writing into another
township's book): its hash chain is intact, so only this check names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.models import Entity, EntityLink, InvestmentIncome, User
from ledger.models import JournalEntry

_REVERSAL = re.compile(r"^run:\d+:reverses:(\d+)$")


@dataclass(frozen=True)
class AuthorshipDifference:
    book: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.book}: {self.where}: {self.what}"


def verify_authorship(session: Session, entity_code: str | None = None) -> list[AuthorshipDifference]:
    """Every entry of a book (of ``entity_code``'s, or of every entity) written by an accountant of another
    entity, except a project's share booked, or reversed, along a link."""
    stmt = (select(JournalEntry, Entity.id, Entity.code, User.username, User.entity_id)
            .join(Entity, Entity.book_id == JournalEntry.book_id).join(User, User.id == JournalEntry.actor_id)
            .where(User.role == "accountant", User.entity_id != Entity.id).order_by(JournalEntry.id))
    if entity_code is not None:
        stmt = stmt.where(Entity.code == entity_code)
    rows = session.execute(stmt).all()
    if not rows:
        return []
    links = set(session.execute(select(EntityLink.project_id, EntityLink.member_entity_id)).tuples())
    shares = set(session.scalars(select(InvestmentIncome.entry_id).where(
        InvestmentIncome.entry_id.in_([r[0].id for r in rows] + _reversed_ids(rows)),
        InvestmentIncome.source_ref.like("run:%"))))
    out = []
    for entry, entity_id, code, username, actor_entity in rows:
        reversed_ = _REVERSAL.match(entry.source or "")
        share = entry.id in shares or (reversed_ is not None and int(reversed_.group(1)) in shares)
        if share and (actor_entity, entity_id) in links:
            continue
        out.append(AuthorshipDifference(code, f"entry {entry.voucher} (id {entry.id})",
                                        f"written by {username}, the accountant of another entity, not along a "
                                        f"cluster project's link"))
    return out


def _reversed_ids(rows) -> list[int]:
    return [int(m.group(1)) for r in rows if (m := _REVERSAL.match(r[0].source or ""))]

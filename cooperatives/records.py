"""Reading the source records of an entity as lists (the ``coopledger records`` command; one query a list)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.kinds import KINDS, VOIDABLE
from cooperatives.models import Entity, Member
from ledger.db import utc
from ledger.models import JournalEntry
from ledger.money import fmt


def list_records(session: Session, entity: Entity, kind: str, *, year: int | None = None,
                 member: str | None = None, record_id: int | None = None) -> list[dict]:
    """The records of ``kind`` in ``entity`` (oldest first): id, date, member, amount, voucher (the one it
    was posted in, shared with a day's other records when imported) and whether voided — when, by whom
    (user id) and why. Amounts are strings with two decimals. A row of the share register has no amount nor
    voucher: its shares, kind and the member they came from instead."""
    model = VOIDABLE[kind]
    date_column = KINDS[kind].date_column if kind in KINDS else "date"
    on = getattr(model, date_column)
    stmt = select(model, JournalEntry.year, JournalEntry.voucher_no).outerjoin(JournalEntry, JournalEntry.id == model.entry_id).where(model.entity_id == entity.id)
    has_member = hasattr(model, "member_id")
    if has_member:
        stmt = stmt.add_columns(Member.code).outerjoin(Member, Member.id == model.member_id)
        if member is not None:
            stmt = stmt.where(Member.code == member)
    elif member is not None:
        return []
    if year is not None:
        stmt = stmt.where(on >= dt.date(year, 1, 1), on <= dt.date(year, 12, 31))
    if record_id is not None:
        stmt = stmt.where(model.id == record_id)
    out = []
    for row in session.execute(stmt.order_by(on, model.id)):
        record = row[0]
        voucher = f"{row[1]}-{row[2]:04d}" if row[2] is not None else None       # as JournalEntry.voucher
        amount = getattr(record, "amount", None)
        out.append({"id": record.id, "date": getattr(record, date_column).isoformat(),
                    "member": row[3] if has_member else None,
                    "amount": fmt(amount) if amount is not None else None, "voucher": voucher,
                    "voided_at": utc(record.voided_at).isoformat() if record.voided_at else None,
                    "voided_by": record.voided_by, "void_reason": record.void_reason})
        if kind == "shares":            # a row of the share register: no amount, no voucher; its shares and history
            out[-1].update(shares=format(record.shares.normalize(), "f"), share_kind=record.share_kind,
                           from_member=record.from_member.code if record.from_member is not None else None)
    return out

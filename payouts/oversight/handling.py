"""Marking a township finding handled (处理): who, when and what was done, kept for good.

A finding (:class:`payouts.oversight.anomalies.Finding`) is recomputed from the books on every page view, so
what is kept is a note filed under the finding's stable key (rule, entity, year and the records it is about).
The township's auditor of the entity's township and the entity's accountant may write one
(:func:`mark_handled`, one rule: :data:`HANDLES`); both see the notes with the finding. Notes are append-only
(``payouts.oversight.ddl``): a later note on the same finding is added after the earlier ones, and the finding
shows the latest. A finding whose records change gets another key and shows up again as not handled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.access import Principal, Rule, operation
from cooperatives.models import Entity, User
from cooperatives.operations import audit
from ledger.clock import china_minute
from ledger.i18n import N_, Message, msg
from payouts.models import FindingNote
from payouts.oversight.anomalies import RULES

NOTE_MAX = 2000
KEY_MAX = 300
#: the audit log's action for a note, and its label (for the audit log's page)
ACTION = "finding_handled"
ACTION_LABEL = N_("Marked a finding handled")


def _handles(session, actor: Principal, entity) -> bool:
    if entity is None:
        return False
    if actor.role == "auditor":
        return actor.township_id == entity.township_id
    return actor.role == "accountant" and actor.entity_id == entity.id


#: the township's auditor of the entity's township, the entity's accountant (and the admin, and the console)
HANDLES = Rule("handles_findings", _handles, lambda session, entity, *args, **kwargs: entity)


class NoteRefused(ValueError):
    """The note cannot be kept as given; ``message`` says why (translatable)."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message)


def key_problem(entity: Entity, key: str) -> Message | None:
    """Why ``key`` cannot be the key of a finding of ``entity`` (None when it can)."""
    parts = key.split(":", 3)
    if (len(key) > KEY_MAX or len(parts) < 4 or parts[0] not in RULES or parts[1] != entity.code
            or not (parts[2] == "-" or (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) == 4))):
        return msg(N_("This finding is not one of this entity's."), code="finding_key")
    return None


@operation(HANDLES)
def mark_handled(session: Session, entity: Entity, *, key: str, note: str, actor: Principal) -> FindingNote:
    """Keep a note that the finding ``key`` of ``entity`` was handled, and what was done (flushes; the caller
    commits); logged in the audit log. Raises :class:`NoteRefused` for an empty or too long note or a key that is
    not one of the entity's findings."""
    key, note = (key or "").strip(), (note or "").strip()
    problem = key_problem(entity, key)
    if problem is not None:
        raise NoteRefused(problem)
    if not note:
        raise NoteRefused(msg(N_("Say what was done about the finding."), code="note_required"))
    if len(note) > NOTE_MAX:
        raise NoteRefused(msg(N_("At most %(n)s characters."), code="note_too_long", n=NOTE_MAX))
    rule, _code, year, _record = key.split(":", 3)
    row = FindingNote(entity_id=entity.id, finding_key=key, rule=rule, year=None if year == "-" else int(year),
                      note=note, actor_id=actor.user_id)
    session.add(row)
    audit(session, actor_id=actor.user_id, action=ACTION, target=f"finding:{key}"[:200], entity_id=entity.id,
          detail=note[:300])
    session.flush()
    return row


@dataclass(frozen=True)
class Handling:
    """A note as shown: what was done, who (name and role), when (China time)."""

    note: str
    who: str
    role: str
    at: str


def handlings(session: Session, entity_ids: list[int]) -> dict[tuple[int, str], list[Handling]]:
    """``(entity id, finding key) -> its notes, newest first`` (one statement)."""
    if not entity_ids:
        return {}
    rows = session.execute(
        select(FindingNote.entity_id, FindingNote.finding_key, FindingNote.note, FindingNote.created_at,
               User.display_name, User.username, User.role)
        .outerjoin(User, User.id == FindingNote.actor_id)
        .where(FindingNote.entity_id.in_(entity_ids)).order_by(FindingNote.id.desc()))
    out: dict[tuple[int, str], list[Handling]] = {}
    for entity_id, key, note, at, name, username, role in rows:
        out.setdefault((entity_id, key), []).append(Handling(note, name or username or "", role or "", china(at)))
    return out


def china(moment: dt.datetime | None) -> str:
    """A stored moment (UTC; naive on SQLite) as China's time, to the minute."""
    return "" if moment is None else china_minute(moment)

"""The audit log as a tamper-evident hash chain: the one writer (:func:`audit`) and the verifier
(:func:`verify_audit`). No Flask.

Each entity has its own chain (``entity:<id>``); rows of no entity (sign-ins of the admin, households,
key rotation) go on the ``global`` chain. Row *n* of a chain has ``seq`` *n* and

    hash = SHA-256("coopledger-audit-v1" \\n prev_hash \\n canonical JSON of the event)

where ``prev_hash`` is row *n-1*'s hash ("" for the first) and the event is ``chain, seq, at, actor_id,
action, target, entity_id, detail`` (keys sorted, no spaces, UTF-8, ``at`` in UTC to the microsecond as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``). Any changed field, removed, inserted or reordered row breaks the chain
at that row; cutting rows off the end shows against the chain's head (``coop_audit_heads``); cutting head
and tail together shows only against a copy of the head kept outside the database (``anchors``).

Writers take the chain's head row lock first (``UPDATE … RETURNING``: a row lock on PostgreSQL, the
write lock on SQLite), like posting takes the book's, so one transaction at a time extends a chain and it
never forks; the database refuses any row that does not extend the head, and moves the head itself
(``cooperatives.ddl``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cooperatives.models import AuditHead, AuditLog, Entity
from ledger.i18n import N_, Message, msg

GLOBAL_CHAIN = "global"
HASH_DOMAIN = "coopledger-audit-v1"


def chain_for(entity_id: int | None) -> str:
    """The chain an event of ``entity_id`` belongs to."""
    return GLOBAL_CHAIN if entity_id is None else f"entity:{entity_id}"


def canonical_at(moment: dt.datetime) -> str:
    """``moment`` in UTC to the microsecond. SQLite gives stored times back without their zone; they were
    written in UTC, so a naive time is read as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_event(*, chain: str, seq: int, at: dt.datetime, actor_id: int | None, action: str, target: str,
                    entity_id: int | None, detail: str | None) -> str:
    """The text a row's hash covers: every field that makes the event what it is, in a fixed form."""
    return json.dumps({
        "chain": chain, "seq": seq, "at": canonical_at(at), "actor_id": actor_id, "action": action,
        "target": target, "entity_id": entity_id, "detail": detail,
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def hash_event(prev_hash: str, event: str) -> str:
    """The chain link: SHA-256 over the domain tag, the previous row's hash and this row's event."""
    return hashlib.sha256(f"{HASH_DOMAIN}\n{prev_hash}\n{event}".encode()).hexdigest()


def row_hash(row) -> str:
    """The hash ``row`` (an AuditLog or a result row with its columns) should carry."""
    return hash_event(row.prev_hash, canonical_event(
        chain=row.chain, seq=row.seq, at=row.at, actor_id=row.actor_id, action=row.action, target=row.target,
        entity_id=row.entity_id, detail=row.detail))


# ------------------------------------------------------------------------------------------------ writing


def audit(session: Session, *, actor_id: int | None, action: str, target: str, entity_id: int | None = None,
          detail: str | None = None) -> AuditLog:
    """Append one event to its chain (flushes, never commits; it is kept or lost with the caller's
    transaction). Holds the chain's lock until that transaction ends."""
    chain = chain_for(entity_id)
    seq, prev_hash = _lock_head(session, chain)
    at = dt.datetime.now(dt.UTC)
    row = AuditLog(chain=chain, seq=seq + 1, at=at, actor_id=actor_id, action=action, target=target,
                   entity_id=entity_id, detail=detail, prev_hash=prev_hash)
    row.hash = row_hash(row)
    session.add(row)
    session.flush()
    loaded = session.identity_map.get(session.identity_key(AuditHead, chain))
    if loaded is not None:      # the database moved the head onto this row (cooperatives.ddl): reload it
        session.expire(loaded)
    return row


def _lock_head(session: Session, chain: str) -> tuple[int, str]:
    """Lock ``chain``'s head (creating it, empty, on first use) and return its ``(seq, hash)``.

    The head is created with ``INSERT … ON CONFLICT DO NOTHING``: two first writers racing both
    succeed (on PostgreSQL the second waits for the first's commit, then does nothing), then both
    take the lock in turn."""
    lock = (update(AuditHead).where(AuditHead.chain == chain).values(seq=AuditHead.seq)
            .returning(AuditHead.seq, AuditHead.hash).execution_options(synchronize_session=False))
    head = session.execute(lock).one_or_none()
    if head is None:
        dialect = session.get_bind().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(AuditHead)
        session.execute(insert.values(chain=chain, seq=0, hash="").on_conflict_do_nothing())
        head = session.execute(lock).one()
    return head.seq, head.hash


# ---------------------------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class AuditDifference:
    """Where a chain stops verifying: a row (``row_id``, ``seq`` as stored) or the chain's head (both None)."""

    chain: str
    row_id: int | None
    seq: int | None
    what: Message

    def message(self) -> Message:
        if self.row_id is None:
            return msg(N_("audit chain %(chain)s, head: %(what)s"), chain=self.chain, what=self.what)
        return msg(N_("audit chain %(chain)s, row %(id)s (seq %(seq)s): %(what)s"), chain=self.chain,
                   id=self.row_id, seq=self.seq, what=self.what)

    def __str__(self) -> str:
        return str(self.message())


@dataclass
class _ChainState:
    seq: int = 0
    hash: str = ""
    rows: int = 0


def verify_audit(session: Session, chains: Iterable[str] | None = None, *,
                 anchors: Mapping[str, tuple[int, str]] | None = None) -> list[AuditDifference]:
    """Recompute every chain (or only ``chains``) and name each place it does not verify.

    Rows are read in id order — ids are drawn under the chain's lock, so that is the order they were
    written — and each must carry the next ``seq``, the previous row's hash as ``prev_hash``, a hash
    that matches its content, and the chain of its entity. Each chain's head must be its last row.
    ``anchors`` (chain -> (seq, hash) kept outside the database, e.g. from :func:`chain_heads` on an
    earlier day) catches head and tail cut back together. Differences come in row id order, heads last,
    so the first one names the first bad row."""
    wanted = None if chains is None else set(chains)
    diffs: list[AuditDifference] = []
    states: dict[str, _ChainState] = {}
    anchors = dict(anchors or {})
    for row in _rows(session, wanted):
        state = states.setdefault(row.chain, _ChainState())
        diffs.extend(_check_row(row, state))
        anchor = anchors.get(row.chain)
        if anchor is not None and row.seq == anchor[0] and row.hash != anchor[1]:
            diffs.append(AuditDifference(row.chain, row.id, row.seq, msg(N_(
                "differs from the head anchored outside the database: the chain was rewritten up to here"))))
        state.seq, state.hash, state.rows = row.seq, row.hash, state.rows + 1
    diffs.extend(_check_heads(session, wanted, states, anchors))
    return diffs


def _rows(session: Session, wanted: set[str] | None):
    t = AuditLog.__table__
    stmt = select(t.c.id, t.c.chain, t.c.seq, t.c.at, t.c.actor_id, t.c.action, t.c.target, t.c.entity_id,
                  t.c.detail, t.c.prev_hash, t.c.hash).order_by(t.c.id)
    if wanted is not None:
        stmt = stmt.where(t.c.chain.in_(sorted(wanted)))
    return session.execute(stmt.execution_options(yield_per=5000))


def _check_row(row, state: _ChainState) -> list[AuditDifference]:
    def note(what: Message) -> AuditDifference:
        return AuditDifference(row.chain, row.id, row.seq, what)

    out = []
    if row.seq != state.seq + 1:
        out.append(note(msg(N_("out of sequence: seq %(expected)s was expected here (a row was removed, inserted "
                               "or moved)"), expected=state.seq + 1)))
    if row.prev_hash != state.hash:
        out.append(note(msg(N_("does not follow the previous row of its chain (a row was removed, inserted or "
                               "moved)"))))
    if row_hash(row) != row.hash:
        out.append(note(msg(N_("its content no longer matches its hash: a field was changed after it was "
                               "written"))))
    if row.chain != chain_for(row.entity_id):
        out.append(note(msg(N_("filed in chain %(chain)s but its entity's chain is %(expected)s"),
                            chain=row.chain, expected=chain_for(row.entity_id))))
    return out


def _check_heads(session: Session, wanted: set[str] | None, states: dict[str, _ChainState],
                 anchors: dict[str, tuple[int, str]]) -> list[AuditDifference]:
    heads = chain_heads(session, wanted)
    out = []
    anchored = {chain for chain in anchors if wanted is None or chain in wanted}
    for chain in sorted(set(heads) | set(states) | anchored):
        state = states.get(chain, _ChainState())
        head = heads.get(chain)
        if head is None and state.rows:
            out.append(AuditDifference(chain, None, None, msg(N_("the chain has no head"))))
        elif head is not None and head != (state.seq, state.hash):
            out.append(AuditDifference(chain, None, None, msg(N_(
                "records seq %(head)s but the chain ends at seq %(last)s (rows were removed from or added to its "
                "end)"), head=head[0], last=state.seq)))
        anchor = anchors.get(chain)
        if anchor is not None and anchor[0] > state.seq:
            out.append(AuditDifference(chain, None, None, msg(N_(
                "the head anchored outside the database (seq %(seq)s) is no longer in the chain, which ends at "
                "seq %(last)s: rows were cut off its end"), seq=anchor[0], last=state.seq)))
    return out


def chain_heads(session: Session, chains: Iterable[str] | None = None) -> dict[str, tuple[int, str]]:
    """``chain -> (seq, hash)`` of each head: what to anchor outside the database (print, store off the host)."""
    stmt = select(AuditHead.chain, AuditHead.seq, AuditHead.hash)
    if chains is not None:
        stmt = stmt.where(AuditHead.chain.in_(sorted(chains)))
    return {chain: (seq, hash_) for chain, seq, hash_ in session.execute(stmt)}


def verify_for_command(session: Session, entity_code: str | None) -> list[AuditDifference]:
    """What ``coopledger verify [--entity X]`` checks of the audit log: X's chain, or every chain."""
    if entity_code is None:
        return verify_audit(session)
    entity_id = session.scalar(select(Entity.id).where(Entity.code == entity_code))
    return verify_audit(session, [chain_for(entity_id)]) if entity_id is not None else []

"""The audit log as a tamper-evident, append-only hash chain (docs/SECURITY.md §4, §9; reliability.md H2–H5).

* every writer goes through ``cooperatives.audit.audit``: one linear chain per entity, ``global`` for the rest;
* ``verify_audit`` names the exact first bad row for a changed field (1,000 rows of a 10,000-row log, one at a
  time), a deleted, an inserted and two swapped rows; a cut tail shows against the head, head and tail cut
  together only against an anchor kept outside the database;
* the database refuses UPDATE and DELETE of the log, of its heads (but the head's own advance), of audit
  opinions and of integrity checks;
* 8 writers at once still make one linear chain per entity;
* ``coopledger verify`` reports the audit log's differences and exits 1.

Tampering needs the triggers out of the way, as an attacker who may drop them would: those tests run on a
database of their own (built once per module), each change rolled back after it is verified.
"""

from __future__ import annotations

import datetime as dt
import html
import random
import re
import threading
import uuid
from collections import defaultdict
from decimal import Decimal
from urllib.parse import quote

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cooperatives import operations
from cooperatives.access import CONSOLE, Principal
from cooperatives.audit import (
    GLOBAL_CHAIN,
    audit,
    canonical_at,
    canonical_event,
    chain_for,
    chain_heads,
    hash_event,
    verify_audit,
)
from cooperatives.models import AuditHead, AuditLog, Entity, Member, Township, User
from ledger.db import Base, make_engine, writer
from ledger.operations import create_book

LOG = AuditLog.__table__
HEADS = AuditHead.__table__
#: the H2 fixture: rows, chains (entities plus the global chain) and rows mutated one at a time
ROWS, ENTITIES, MUTATIONS = 10_000, 40, 1_000
FIELDS = ("at", "actor_id", "action", "target", "entity_id", "detail", "chain", "seq", "prev_hash", "hash")


def chains_of(session) -> dict[str, list]:
    """chain -> its rows in id order."""
    out = defaultdict(list)
    for row in session.execute(select(LOG).order_by(LOG.c.id)):
        out[row.chain].append(row)
    return out


def assert_linear(session) -> dict[str, list]:
    """Every chain numbered 1..n in id order, each row linked to the one before, the head on the last."""
    chains = chains_of(session)
    heads = chain_heads(session)
    for chain, rows in chains.items():
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1)), chain
        assert [r.prev_hash for r in rows] == ["", *(r.hash for r in rows[:-1])], chain
        assert all(r.chain == chain_for(r.entity_id) for r in rows), chain
        assert heads[chain] == (rows[-1].seq, rows[-1].hash), chain
    return chains


# ------------------------------------------------------------------------------------ the real writers


def _csrf(client, path: str) -> str:
    page = client.get(path).data.decode()
    found = re.search(r'name="csrf_token"[^>]*\bvalue="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page)
    return html.unescape(found.group(1) or found.group(2))


def test_every_writer_extends_the_chain_of_its_entity(app, session):
    from cooperatives import privacy
    from cooperatives.users import change_password, create_user
    from payouts.oversight.integrity import check_integrity
    from payouts.oversight.opinions import record_opinion

    a = operations.create_entity(session, code="AC-A", name="甲合作社", kind="farmer_coop", township="甲乡",
                                 village="茶园村", first_year=2025, actor=CONSOLE)
    b = operations.create_entity(session, code="AC-B", name="乙合作社", kind="farmer_coop", township="甲乡",
                                 first_year=2025, actor=CONSOLE)
    for n, entity in enumerate((a, b, a), 1):
        household = operations.register_household(session, entity, code=f"AC-H{n}", head_name=f"户主{n}",
                                                   village="茶园村", id_number=f"43082119800101{n:03d}7",
                                                   bank_account=f"6217{n:012d}", actor=CONSOLE)
        operations.register_member(session, entity, code=household.code, member_no=n, joined_on=dt.date(2025, 1, 1),
                                   actor=CONSOLE)
    operations.record(session, a, "capital", {"date": dt.date(2025, 1, 10), "member": "AC-H1",
                                              "amount": Decimal("3000.00"), "form": "cash"}, actor=CONSOLE)
    auditor = create_user(session, username="ac-aud", password="a long enough passphrase", role="auditor",
                          township_id=a.township_id, actor=CONSOLE)
    accountant = create_user(session, username="ac-acc", password="a long enough passphrase", role="accountant",
                             entity_id=a.id, actor=CONSOLE)
    member = session.scalar(select(Member).where(Member.code == "AC-H1"))
    privacy.reveal(session, a, member, actor=Principal.of_user(accountant), reason="bank transfer")
    change_password(session, accountant, "another long passphrase", actor=Principal.of_user(accountant))
    as_auditor = Principal.of_user(auditor)
    record_opinion(session, a, year=2025, verdict="no_issue", text=None, actor=as_auditor)
    check_integrity(session, b, actor=as_auditor)
    privacy.rotate_keys(session, actor=CONSOLE)
    returned = operations.audit(session, actor_id=None, action="note", target="test", entity_id=b.id)
    session.commit()
    client = app.test_client()         # a sign-in through the form writes its own event
    response = client.post("/login", data={"username": "ac-aud", "password": "a long enough passphrase",
                                           "csrf_token": _csrf(client, "/login")})
    assert response.status_code == 302

    assert isinstance(returned, AuditLog) and returned.chain == f"entity:{b.id}"
    assert verify_audit(session) == []
    chains = assert_linear(session)
    actions = {chain: [r.action for r in rows] for chain, rows in chains.items()}
    # entity, household and member registrations, records, reveals, opinions: the entity's chain (a household is
    # registered by an entity, which owns it); key rotation and an auditor's sign-in: the global chain
    assert actions[f"entity:{a.id}"] == ["create"] * 5 + ["record", "create-user", "reveal", "password", "audit_opinion"]
    assert actions[f"entity:{b.id}"] == ["create", "create", "create", "integrity_check", "note"]
    assert actions[GLOBAL_CHAIN] == ["create-user", "rotate-keys", "login"]      # the auditor's user: no entity


def test_the_time_is_stored_and_read_back_to_the_microsecond(session):
    rows = [audit(session, actor_id=7, action="t", target=f"time:{n}") for n in range(5)]
    written = {row.id: row.at for row in rows}
    session.commit()
    session.expire_all()
    stored = dict(session.execute(select(LOG.c.id, LOG.c.at).where(LOG.c.id.in_(written))).tuples().all())
    for row_id, moment in written.items():
        assert moment.tzinfo is dt.UTC
        back = stored[row_id] if stored[row_id].tzinfo else stored[row_id].replace(tzinfo=dt.UTC)
        assert back == moment                                # the same instant, microseconds included
        assert canonical_at(stored[row_id]) == canonical_at(moment)
    assert verify_audit(session, {GLOBAL_CHAIN}) == []


def test_the_hash_is_the_documented_one(session):
    row = audit(session, actor_id=None, action="create", target="household:H1", detail="细节")
    event = (f'{{"action":"create","actor_id":null,"at":"{canonical_at(row.at)}","chain":"global","detail":"细节",'
             f'"entity_id":null,"seq":{row.seq},"target":"household:H1"}}')
    assert canonical_event(chain=row.chain, seq=row.seq, at=row.at, actor_id=None, action="create",
                           target="household:H1", entity_id=None, detail="细节") == event
    import hashlib

    assert row.hash == hashlib.sha256(f"coopledger-audit-v1\n{row.prev_hash}\n{event}".encode()).hexdigest()


# ------------------------------------------------------------------------------------ the database refuses


def refused(session, sql: str, **params) -> bool:
    """Whether the database refuses ``sql`` (run in a savepoint, so the test's transaction goes on)."""
    try:
        with session.begin_nested():
            session.execute(text(sql), params)
    except DBAPIError:
        return True
    return False


def bare_entity(session, code: str) -> Entity:
    """An entity with its book, written directly (these tests are about the audit tables, not registration)."""
    township = Township(name=f"{code} 乡")
    session.add(township)
    session.flush()
    book = create_book(session, code=code, name=code, chart="fpc2021", books_start=dt.date(2025, 1, 1))
    entity = Entity(code=code, name=code, kind="farmer_coop", township_id=township.id, book_id=book.id)
    session.add(entity)
    session.flush()
    return entity


def test_the_database_refuses_to_change_or_delete_the_log_its_heads_opinions_and_checks(session):
    from payouts.models import AuditOpinion, IntegrityCheck

    entity = bare_entity(session, "RF-A")
    auditor = User(username="rf-aud", display_name="审计员", password_hash="-", role="auditor",
                   township_id=entity.township_id)
    session.add(auditor)
    session.flush()
    opinion = AuditOpinion(entity_id=entity.id, year=2025, verdict="issues", text="账实不符", auditor_id=auditor.id)
    check = IntegrityCheck(entity_id=entity.id, actor_id=auditor.id, checked_at=dt.datetime.now(dt.UTC),
                           duration_ms=3, ok=True, entries=0)
    session.add_all([opinion, check])
    for n in range(4):
        audit(session, actor_id=auditor.id, action="x", target=f"y{n}", entity_id=entity.id)
    session.flush()
    chain = f"entity:{entity.id}"
    row = session.scalars(select(AuditLog).where(AuditLog.chain == chain).order_by(AuditLog.id)).first()
    head_before = chain_heads(session)[chain]
    rows_before = session.execute(select(LOG).order_by(LOG.c.id)).all()

    attempts = [
        ("UPDATE coop_audit_log SET detail = 'changed' WHERE id = :id", {"id": row.id}),
        ("UPDATE coop_audit_log SET at = at", {}),
        ("DELETE FROM coop_audit_log WHERE id = :id", {"id": row.id}),
        ("DELETE FROM coop_audit_log", {}),
        ("UPDATE coop_audit_heads SET seq = seq - 1 WHERE chain = :c", {"c": chain}),
        ("UPDATE coop_audit_heads SET hash = :h WHERE chain = :c", {"c": chain, "h": row.hash}),
        ("UPDATE coop_audit_heads SET seq = seq + 1, hash = 'f' WHERE chain = :c", {"c": chain}),
        ("DELETE FROM coop_audit_heads WHERE chain = :c", {"c": chain}),
        ("INSERT INTO coop_audit_heads (chain, seq, hash) VALUES ('entity:999999', 5, 'f')", {}),
        # a row that does not extend its chain at the head: behind it, ahead of it, or with another prev_hash
        ("INSERT INTO coop_audit_log (at, action, target, chain, seq, prev_hash, hash) "
         "VALUES (CURRENT_TIMESTAMP, 'x', 'y', :c, 1, '', 'f')", {"c": chain}),
        ("INSERT INTO coop_audit_log (at, action, target, chain, seq, prev_hash, hash) "
         "VALUES (CURRENT_TIMESTAMP, 'x', 'y', :c, :s, :p, 'f')", {"c": chain, "s": head_before[0] + 2,
                                                                  "p": head_before[1]}),
        ("INSERT INTO coop_audit_log (at, action, target, chain, seq, prev_hash, hash) "
         "VALUES (CURRENT_TIMESTAMP, 'x', 'y', :c, :s, 'f', 'f')", {"c": chain, "s": head_before[0] + 1}),
        ("UPDATE oversight_audit_opinions SET verdict = 'no_issue' WHERE id = :id", {"id": opinion.id}),
        ("DELETE FROM oversight_audit_opinions WHERE id = :id", {"id": opinion.id}),
        ("UPDATE oversight_integrity_checks SET ok = NOT ok WHERE id = :id", {"id": check.id}),
        ("DELETE FROM oversight_integrity_checks WHERE id = :id", {"id": check.id}),
    ]
    if session.get_bind().dialect.name == "sqlite":   # REPLACE deletes the old row without a DELETE trigger
        attempts += [
            ("INSERT OR REPLACE INTO coop_audit_log (id, at, action, target, chain, seq, prev_hash, hash) "
             "VALUES (:id, CURRENT_TIMESTAMP, 'x', 'y', :c, 1, '', 'f')", {"id": row.id, "c": chain}),
            ("INSERT OR REPLACE INTO oversight_audit_opinions (id, entity_id, year, verdict, auditor_id) "
             "VALUES (:id, :e, 2025, 'no_issue', :a)", {"id": opinion.id, "e": entity.id, "a": auditor.id}),
            ("INSERT OR REPLACE INTO oversight_integrity_checks (id, entity_id, checked_at, duration_ms, ok, entries) "
             "VALUES (:id, :e, CURRENT_TIMESTAMP, 0, 1, 0)", {"id": check.id, "e": entity.id}),
        ]
    else:
        attempts += [(f"TRUNCATE {table} CASCADE", {}) for table in (
            "coop_audit_log", "coop_audit_heads", "oversight_audit_opinions", "oversight_integrity_checks")]
    outcomes = [refused(session, sql, **params) for sql, params in attempts]
    print(f"\n{sum(outcomes)} of {len(attempts)} mutations refused by the database")
    assert outcomes == [True] * len(attempts)
    if session.get_bind().dialect.name == "sqlite":    # a replaced head is ignored, not changed
        session.execute(text("INSERT OR REPLACE INTO coop_audit_heads (chain, seq, hash) VALUES (:c, 0, '')"),
                        {"c": chain})
    session.expire_all()
    assert session.execute(select(LOG).order_by(LOG.c.id)).all() == rows_before
    assert chain_heads(session)[chain] == head_before
    assert session.get(AuditOpinion, opinion.id).verdict == "issues"
    assert session.get(IntegrityCheck, check.id) is not None
    assert verify_audit(session) == []


# ------------------------------------------------------------------------------------ tampering (H2, H3)


@pytest.fixture(scope="module")
def tampered_db(request, tmp_path_factory):
    """A database of its own holding a 10,000-row log written by ``audit`` over 40 entities and the global
    chain — with the audit triggers dropped (disabled), as an attacker who may do so would have them.
    Yields the engine; each test changes rows in a transaction it rolls back."""
    db_url = request.config.getoption("--db-url")
    schema = None
    if db_url.startswith("postgresql"):
        schema = f"iso_{uuid.uuid4().hex[:10]}"
        admin = make_engine(db_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{db_url}?options={quote(f'-csearch_path={schema}')}"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'tampered.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    rng = random.Random(20261206)
    with Session(writer(engine)) as session:
        for n in range(ROWS):
            audit(session, actor_id=rng.choice([None, 1, 2, 3]), action=rng.choice(["create", "record", "reveal"]),
                  target=f"record:{n}", entity_id=rng.choice([None, *range(1, ENTITIES + 1)]),
                  detail=rng.choice([None, "", "身份证号,银行卡号: 发放收益", f"{n} rows"]))
            if n % 1000 == 999:
                session.commit()
                session.expunge_all()
        session.commit()
        assert verify_audit(session) == []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("coop_audit_log", "coop_audit_heads"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for (name,) in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                             "AND tbl_name IN ('coop_audit_log', 'coop_audit_heads')")).all():
                conn.execute(text(f"DROP TRIGGER {name}"))
    yield engine
    engine.dispose()
    if schema:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


class Attempt:
    """One tampering, rolled back after it is verified: ``with Attempt(engine) as (conn, session): …``."""

    def __init__(self, engine):
        self.engine = engine

    def __enter__(self):
        self.conn = self.engine.connect()
        self.tx = self.conn.begin()
        self.session = Session(bind=self.conn)
        return self.conn, self.session

    def __exit__(self, *exc):
        self.session.close()
        self.tx.rollback()
        self.conn.close()


def _changed(field: str, row, rng: random.Random):
    """A different value for ``field`` of ``row``, as small a change as the field allows."""
    value = getattr(row, field)
    if field == "at":
        return value + dt.timedelta(microseconds=1)
    if field in ("actor_id", "entity_id"):
        return 1 if value is None else value + 1
    if field in ("action", "target"):
        return value[:-1] + ("X" if value[-1] != "X" else "Y")
    if field == "detail":
        return (value or "") + "。"
    if field == "seq":
        return value + 1_000_000
    if field == "chain":
        return "entity:999999"
    if not value:                                             # the first row's prev_hash
        return "0" * 64
    at = rng.randrange(len(value))                            # prev_hash / hash: one hex digit
    return value[:at] + ("0" if value[at] != "0" else "1") + value[at + 1:]


def test_one_changed_field_in_each_of_1000_rows_is_found_at_that_row(tampered_db):
    rng = random.Random(42)
    with tampered_db.connect() as conn:
        rows = conn.execute(select(LOG).order_by(LOG.c.id)).all()
    assert len(rows) == ROWS
    detected, exact = 0, 0
    for n, row in enumerate(rng.sample(rows, MUTATIONS)):
        field = FIELDS[n % len(FIELDS)]
        value = _changed(field, row, rng)
        with Attempt(tampered_db) as (conn, session):
            if field == "chain":        # the attacker makes a head for the chain the row is moved to
                conn.execute(insert(HEADS).values(chain=value, seq=0, hash=""))
            conn.execute(update(LOG).where(LOG.c.id == row.id).values({field: value}))
            chains = {row.chain, value} if field == "chain" else {row.chain}
            diffs = verify_audit(session, chains)
            if n < 20:                  # the whole log says the same as the chains touched
                assert verify_audit(session)[:1] == diffs[:1]
        detected += bool(diffs)
        exact += bool(diffs) and diffs[0].row_id == row.id
        assert diffs and diffs[0].row_id == row.id, (field, row.id, diffs[:2])
        assert diffs[0].seq == (value if field == "seq" else row.seq)
    print(f"\n{MUTATIONS} mutated rows (one field each, one at a time, of {ROWS}): {detected} detected, "
          f"{exact} at the exact row")


def _pick(conn, rng, *, least: int = 4):
    """A random chain of at least ``least`` rows: (its rows in id order)."""
    chains = defaultdict(list)
    for row in conn.execute(select(LOG).order_by(LOG.c.id)):
        chains[row.chain].append(row)
    name = rng.choice(sorted(c for c, rows in chains.items() if len(rows) >= least))
    return chains[name]


def test_a_deleted_row_is_found_at_the_row_after_it(tampered_db):
    rng = random.Random(1)
    for where in ("first", "middle"):
        with Attempt(tampered_db) as (conn, session):
            rows = _pick(conn, rng)
            i = 0 if where == "first" else rng.randrange(1, len(rows) - 1)
            conn.execute(LOG.delete().where(LOG.c.id == rows[i].id))
            diffs = verify_audit(session)
        assert (diffs[0].row_id, diffs[0].chain, diffs[0].seq) == (rows[i + 1].id, rows[i].chain, rows[i].seq + 1)
        assert "out of sequence" in str(diffs[0])


def test_an_inserted_row_is_found_where_it_breaks_the_chain(tampered_db):
    """The strongest insertion short of rewriting every later row: the forged row links correctly to the row
    before it (hash recomputed), and the rows after it are renumbered so seq stays 1..n. It is itself
    consistent, so the chain breaks at the row it was slipped in front of — the first difference — and the
    forged row is named again where it stands (it was written last)."""
    rng = random.Random(2)
    with Attempt(tampered_db) as (conn, session):
        rows = _pick(conn, rng)
        i = rng.randrange(1, len(rows) - 1)          # slipped in after rows[i]
        chain, seq = rows[i].chain, rows[i].seq
        later = [r.id for r in rows[i + 1:]]
        conn.execute(update(LOG).where(LOG.c.id.in_(later)).values(seq=-(LOG.c.seq + 1)))
        conn.execute(update(LOG).where(LOG.c.id.in_(later)).values(seq=-LOG.c.seq))
        at = rows[i].at if rows[i].at.tzinfo else rows[i].at.replace(tzinfo=dt.UTC)
        forged = {"chain": chain, "seq": seq + 1, "at": at, "actor_id": 1, "action": "reveal",
                  "target": "household:X", "entity_id": rows[i].entity_id, "detail": "身份证号: 补录"}
        digest = hash_event(rows[i].hash, canonical_event(**forged))
        forged_id = conn.execute(insert(LOG).values(**forged, prev_hash=rows[i].hash, hash=digest)
                                 .returning(LOG.c.id)).scalar_one()
        diffs = verify_audit(session)
    assert (diffs[0].row_id, diffs[0].chain, diffs[0].seq) == (rows[i + 1].id, chain, seq + 2)
    assert forged_id in {d.row_id for d in diffs}


def test_two_swapped_rows_are_found_at_the_first_of_them(tampered_db):
    rng = random.Random(3)
    fields = ("at", "actor_id", "action", "target", "entity_id", "detail", "seq", "prev_hash", "hash")
    for how in ("contents", "places"):
        with Attempt(tampered_db) as (conn, session):
            rows = _pick(conn, rng)
            first, second = sorted(rng.sample(range(len(rows)), 2))
            x, y = rows[first], rows[second]
            swapped = fields if how == "contents" else ("seq",)    # places: each keeps its content, not its seq
            conn.execute(update(LOG).where(LOG.c.id == x.id).values(seq=-1))
            conn.execute(update(LOG).where(LOG.c.id == y.id).values({f: getattr(x, f) for f in swapped}))
            conn.execute(update(LOG).where(LOG.c.id == x.id).values({f: getattr(y, f) for f in swapped}))
            diffs = verify_audit(session)
        assert (diffs[0].row_id, diffs[0].chain, diffs[0].seq) == (x.id, x.chain, y.seq), how


def test_a_cut_tail_shows_against_the_head_and_a_cut_head_and_tail_only_against_an_anchor(tampered_db):
    rng = random.Random(4)
    with tampered_db.connect() as conn:
        anchors = chain_heads(Session(bind=conn))     # kept outside the database (printed, stored off the host)
    with Attempt(tampered_db) as (conn, session):
        rows = _pick(conn, rng)
        conn.execute(LOG.delete().where(LOG.c.id.in_([r.id for r in rows[-3:]])))
        diffs = verify_audit(session)
        assert [(d.chain, d.row_id) for d in diffs] == [(rows[0].chain, None)]
        assert f"records seq {rows[-1].seq} but the chain ends at seq {rows[-4].seq}" in str(diffs[0])
        # head moved back as well: nothing in the database contradicts it any more
        conn.execute(update(HEADS).where(HEADS.c.chain == rows[0].chain).values(seq=rows[-4].seq, hash=rows[-4].hash))
        assert verify_audit(session) == []
        anchored = verify_audit(session, anchors=anchors)
        assert [(d.chain, d.row_id) for d in anchored] == [(rows[0].chain, None)]
        assert "rows were cut off its end" in str(anchored[0])


def test_a_head_not_on_the_last_row_and_a_rewritten_chain(tampered_db):
    """A head that is not the last row is named; a chain rewritten from a changed row up to a recomputed head
    verifies again — only the anchor finds it, at the anchored row."""
    rng = random.Random(5)
    with tampered_db.connect() as conn:
        anchors = chain_heads(Session(bind=conn))
    with Attempt(tampered_db) as (conn, session):
        rows = _pick(conn, rng)
        chain = rows[0].chain
        conn.execute(update(HEADS).where(HEADS.c.chain == chain).values(seq=rows[-2].seq, hash=rows[-2].hash))
        assert [(d.chain, d.row_id) for d in verify_audit(session)] == [(chain, None)]
    with Attempt(tampered_db) as (conn, session):
        rows = _pick(conn, rng)
        chain = rows[0].chain
        i = rng.randrange(len(rows))
        prev = rows[i - 1].hash if i else ""
        for n, row in enumerate(rows[i:]):
            event = {f: getattr(row, f) for f in ("chain", "seq", "at", "actor_id", "action", "target", "entity_id")}
            event["detail"] = "rewritten" if n == 0 else row.detail
            digest = hash_event(prev, canonical_event(**event))
            conn.execute(update(LOG).where(LOG.c.id == row.id).values(detail=event["detail"], prev_hash=prev,
                                                                        hash=digest))
            prev = digest
        conn.execute(update(HEADS).where(HEADS.c.chain == chain).values(hash=prev))
        assert verify_audit(session) == []
        anchored = verify_audit(session, anchors=anchors)
    assert [(d.chain, d.row_id) for d in anchored] == [(chain, rows[-1].id)]


# ------------------------------------------------------------------------------------ concurrency (H4)

WRITERS, TRANSACTIONS = 8, 25


def test_eight_writers_at_once_make_one_linear_chain_per_entity(isolated_db):
    """8 threads, each with its own session, start together (a barrier) on chains that do not exist yet and
    write 25 transactions of two events each: one on entity 1 or 2, one on the global chain."""
    engine = make_engine(isolated_db)
    Base.metadata.create_all(engine)
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            with Session(writer(engine)) as session:
                for t in range(TRANSACTIONS):
                    audit(session, actor_id=n, action="record", target=f"w{n}:{t}", entity_id=1 + n % 2)
                    audit(session, actor_id=n, action="login", target=f"w{n}:{t}")
                    session.commit()
        except BaseException as exc:      # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as session:
        chains = assert_linear(session)
        assert {c: len(rows) for c, rows in chains.items()} == {
            "entity:1": WRITERS // 2 * TRANSACTIONS, "entity:2": WRITERS // 2 * TRANSACTIONS,
            GLOBAL_CHAIN: WRITERS * TRANSACTIONS}
        assert session.scalar(select(func.count()).select_from(LOG)) == 2 * WRITERS * TRANSACTIONS
        assert verify_audit(session) == []
    print(f"\n{WRITERS} writers, {2 * WRITERS * TRANSACTIONS} events: 3 linear chains, 0 forks, verify clean")
    engine.dispose()


# ------------------------------------------------------------------------------------ coopledger verify


def test_coopledger_verify_names_the_first_bad_row_of_the_audit_log(isolated_db):
    from payouts.app import create_app
    from payouts.settings import Settings

    app = create_app(Settings(database_url=isolated_db, secret_key="test", testing=True, cookie_secure=False),
                     web=False)
    engine = app.extensions["ledger.sessionmaker"]["engine"]
    Base.metadata.create_all(engine)
    with Session(writer(engine)) as session:
        a, b = bare_entity(session, "CV-A"), bare_entity(session, "CV-B")
        for n in range(3):
            audit(session, actor_id=n, action="record", target=f"r{n}", entity_id=a.id)
        audit(session, actor_id=None, action="create", target="entity:CV-B", entity_id=b.id)
        session.commit()
        a_id = a.id
    runner = app.test_cli_runner()
    assert runner.invoke(args=["verify"]).exit_code == 0
    with engine.begin() as conn:                 # an attacker who may drop triggers changes one event
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE coop_audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER coop_audit_log_no_update"))
        bad = conn.execute(select(LOG.c.id).where(LOG.c.chain == chain_for(a_id)).order_by(LOG.c.id)
                           .offset(2)).scalars().first()      # seq 3
        conn.execute(update(LOG).where(LOG.c.id == bad).values(detail="changed"))
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("DIFFERENCE")]
    assert lines == [f"DIFFERENCE audit chain entity:{a_id}, row {bad} (seq 3): its content no longer matches "
                     "its hash: a field was changed after it was written"]
    assert runner.invoke(args=["verify", "--entity", "CV-A"]).exit_code == 1
    assert runner.invoke(args=["verify", "--entity", "CV-B"]).exit_code == 0     # B's chain only
    engine.dispose()

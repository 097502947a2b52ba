"""audit chain: the audit log as one hash chain per entity; the log, its chain heads, audit opinions and
integrity checks append-only in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:00:00

Adds ``chain``, ``seq``, ``prev_hash`` and ``hash`` to ``coop_audit_log`` (unique per chain and seq), the
table of chain heads, and back-fills the chains of the rows already there in id order — the order they
were written — with the hash of ``cooperatives.audit`` as it is at this revision (copied below, as the
triggers are: a migration never runs the app's code). Then the triggers of ``cooperatives.ddl`` and
``payouts.ddl``. The downgrade drops the triggers, the heads and the four columns; the rows stay.

A later migration that rebuilds one of these tables on SQLite (batch mode: a new table, the rows copied,
the old one dropped) drops its triggers with it, and must make them again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# The guarantees of cooperatives/ddl.py and payouts/ddl.py, copied as they were at this revision.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER coop_audit_log_no_update BEFORE UPDATE ON coop_audit_log
BEGIN SELECT RAISE(ABORT, 'audit: an audit log row cannot be changed; the log is append-only'); END""",
    """CREATE TRIGGER coop_audit_log_no_delete BEFORE DELETE ON coop_audit_log
BEGIN SELECT RAISE(ABORT, 'audit: an audit log row cannot be deleted; the log is append-only'); END""",
    """CREATE TRIGGER coop_audit_log_append BEFORE INSERT ON coop_audit_log
WHEN NOT EXISTS (SELECT 1 FROM coop_audit_heads WHERE chain = NEW.chain AND seq + 1 = NEW.seq
                 AND hash = NEW.prev_hash)
  OR EXISTS (SELECT 1 FROM coop_audit_log WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit: a row must extend its chain at the head (next seq, head hash as prev_hash)'); END""",
    """CREATE TRIGGER coop_audit_log_advance AFTER INSERT ON coop_audit_log
BEGIN UPDATE coop_audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain; END""",
    """CREATE TRIGGER coop_audit_heads_start BEFORE INSERT ON coop_audit_heads
WHEN NEW.seq <> 0 OR NEW.hash <> ''
BEGIN SELECT RAISE(ABORT, 'audit: a chain head starts at seq 0 with no hash'); END""",
    """CREATE TRIGGER coop_audit_heads_no_replace BEFORE INSERT ON coop_audit_heads
WHEN EXISTS (SELECT 1 FROM coop_audit_heads WHERE chain = NEW.chain)
BEGIN SELECT RAISE(IGNORE); END""",
    """CREATE TRIGGER coop_audit_heads_advance BEFORE UPDATE ON coop_audit_heads
WHEN NOT (NEW.chain = OLD.chain AND (
        (NEW.seq = OLD.seq AND NEW.hash = OLD.hash)
     OR (NEW.seq = OLD.seq + 1 AND EXISTS (SELECT 1 FROM coop_audit_log WHERE chain = NEW.chain
                                           AND seq = NEW.seq AND hash = NEW.hash AND prev_hash = OLD.hash))))
BEGIN SELECT RAISE(ABORT, 'audit: a chain head only moves forward onto the row just written'); END""",
    """CREATE TRIGGER coop_audit_heads_no_delete BEFORE DELETE ON coop_audit_heads
BEGIN SELECT RAISE(ABORT, 'audit: a chain head cannot be deleted'); END""",
    """CREATE TRIGGER oversight_audit_opinions_no_update BEFORE UPDATE ON oversight_audit_opinions
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_audit_opinions is append-only; record a new row instead'); END""",
    """CREATE TRIGGER oversight_audit_opinions_no_delete BEFORE DELETE ON oversight_audit_opinions
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_audit_opinions is append-only; rows cannot be deleted'); END""",
    """CREATE TRIGGER oversight_audit_opinions_no_replace BEFORE INSERT ON oversight_audit_opinions
WHEN EXISTS (SELECT 1 FROM oversight_audit_opinions WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_audit_opinions is append-only; a row cannot be replaced'); END""",
    """CREATE TRIGGER oversight_integrity_checks_no_update BEFORE UPDATE ON oversight_integrity_checks
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_integrity_checks is append-only; record a new row instead'); END""",
    """CREATE TRIGGER oversight_integrity_checks_no_delete BEFORE DELETE ON oversight_integrity_checks
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_integrity_checks is append-only; rows cannot be deleted'); END""",
    """CREATE TRIGGER oversight_integrity_checks_no_replace BEFORE INSERT ON oversight_integrity_checks
WHEN EXISTS (SELECT 1 FROM oversight_integrity_checks WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_integrity_checks is append-only; a row cannot be replaced'); END""",
]

POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION coop_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit: % on % is refused; the audit trail is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$""",
    """CREATE TRIGGER coop_audit_log_immutable BEFORE UPDATE OR DELETE ON coop_audit_log
FOR EACH ROW EXECUTE FUNCTION coop_audit_refuse()""",
    """CREATE TRIGGER coop_audit_log_no_truncate BEFORE TRUNCATE ON coop_audit_log
FOR EACH STATEMENT EXECUTE FUNCTION coop_audit_refuse()""",
    """CREATE FUNCTION coop_audit_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM coop_audit_heads WHERE chain = NEW.chain AND seq + 1 = NEW.seq
                 AND hash = NEW.prev_hash) THEN
    RAISE EXCEPTION 'audit: row seq % must extend chain % at its head (next seq, head hash as prev_hash)',
      NEW.seq, NEW.chain USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER coop_audit_log_append BEFORE INSERT ON coop_audit_log
FOR EACH ROW EXECUTE FUNCTION coop_audit_append()""",
    """CREATE FUNCTION coop_audit_advance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE coop_audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER coop_audit_log_advance AFTER INSERT ON coop_audit_log
FOR EACH ROW EXECUTE FUNCTION coop_audit_advance()""",
    """CREATE FUNCTION coop_audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.seq = 0 AND NEW.hash = '' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.chain = OLD.chain THEN
    IF NEW.seq = OLD.seq AND NEW.hash = OLD.hash THEN
      RETURN NEW;
    END IF;
    IF NEW.seq = OLD.seq + 1 AND EXISTS (SELECT 1 FROM coop_audit_log WHERE chain = NEW.chain AND seq = NEW.seq
                                         AND hash = NEW.hash AND prev_hash = OLD.hash) THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit: % of a chain head is refused; a head starts empty and only moves forward onto the row just written',
    TG_OP USING ERRCODE = 'integrity_constraint_violation';
END $$""",
    """CREATE TRIGGER coop_audit_heads_guard BEFORE INSERT OR UPDATE OR DELETE ON coop_audit_heads
FOR EACH ROW EXECUTE FUNCTION coop_audit_head_guard()""",
    """CREATE TRIGGER coop_audit_heads_no_truncate BEFORE TRUNCATE ON coop_audit_heads
FOR EACH STATEMENT EXECUTE FUNCTION coop_audit_refuse()""",
    """CREATE OR REPLACE FUNCTION oversight_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'oversight: % on % is refused; the table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$""",
    """CREATE TRIGGER oversight_audit_opinions_immutable BEFORE UPDATE OR DELETE ON oversight_audit_opinions
FOR EACH ROW EXECUTE FUNCTION oversight_refuse_change()""",
    """CREATE TRIGGER oversight_audit_opinions_no_truncate BEFORE TRUNCATE ON oversight_audit_opinions
FOR EACH STATEMENT EXECUTE FUNCTION oversight_refuse_change()""",
    """CREATE TRIGGER oversight_integrity_checks_immutable BEFORE UPDATE OR DELETE ON oversight_integrity_checks
FOR EACH ROW EXECUTE FUNCTION oversight_refuse_change()""",
    """CREATE TRIGGER oversight_integrity_checks_no_truncate BEFORE TRUNCATE ON oversight_integrity_checks
FOR EACH STATEMENT EXECUTE FUNCTION oversight_refuse_change()""",
]


# ---------------------------------------------------------------------- the hash, as cooperatives.audit has it

HASH_DOMAIN = "coopledger-audit-v1"
BATCH = 5000

LOG = sa.table(
    'coop_audit_log',
    sa.column('id', sa.BigInteger()), sa.column('at', sa.DateTime(timezone=True)),
    sa.column('actor_id', sa.Integer()), sa.column('action', sa.String()), sa.column('target', sa.String()),
    sa.column('entity_id', sa.Integer()), sa.column('detail', sa.Text()), sa.column('chain', sa.String()),
    sa.column('seq', sa.Integer()), sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()),
)
HEADS = sa.table('coop_audit_heads', sa.column('chain', sa.String()), sa.column('seq', sa.Integer()),
                 sa.column('hash', sa.String()))


def _chain_for(entity_id):
    return "global" if entity_id is None else f"entity:{entity_id}"


def _canonical_at(moment: dt.datetime) -> str:
    if moment.tzinfo is None:           # SQLite gives stored times back without their zone: they are UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(prev_hash: str, row, chain: str, seq: int) -> str:
    event = json.dumps({
        "chain": chain, "seq": seq, "at": _canonical_at(row.at), "actor_id": row.actor_id, "action": row.action,
        "target": row.target, "entity_id": row.entity_id, "detail": row.detail,
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{HASH_DOMAIN}\n{prev_hash}\n{event}".encode()).hexdigest()


def _backfill(connection) -> None:
    """Chain the rows already there, in id order, a batch at a time; then write each chain's head."""
    heads: dict[str, tuple[int, str]] = {}
    update = (sa.update(LOG).where(LOG.c.id == sa.bindparam('_id'))
              .values(chain=sa.bindparam('_chain'), seq=sa.bindparam('_seq'), prev_hash=sa.bindparam('_prev'),
                      hash=sa.bindparam('_hash')))
    last_id = None
    while True:
        query = sa.select(LOG.c.id, LOG.c.at, LOG.c.actor_id, LOG.c.action, LOG.c.target, LOG.c.entity_id,
                          LOG.c.detail).order_by(LOG.c.id).limit(BATCH)
        if last_id is not None:
            query = query.where(LOG.c.id > last_id)
        rows = connection.execute(query).all()
        if not rows:
            break
        params = []
        for row in rows:
            chain = _chain_for(row.entity_id)
            seq, prev = heads.get(chain, (0, ""))
            digest = _hash(prev, row, chain, seq + 1)
            heads[chain] = (seq + 1, digest)
            params.append({"_id": row.id, "_chain": chain, "_seq": seq + 1, "_prev": prev, "_hash": digest})
        connection.execute(update, params)
        last_id = rows[-1].id
    if heads:
        connection.execute(sa.insert(HEADS), [{"chain": c, "seq": s, "hash": h} for c, (s, h) in sorted(heads.items())])


# ------------------------------------------------------------------------------------------------ upgrade


def _triggers(dialect: str) -> list[str]:
    return POSTGRESQL_TRIGGERS if dialect == 'postgresql' else SQLITE_TRIGGERS


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table('coop_audit_heads',
    sa.Column('chain', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_coop_audit_heads'))
    )
    with op.batch_alter_table('coop_audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _backfill(connection)
    with op.batch_alter_table('coop_audit_log', schema=None) as batch_op:
        for name, length in (('chain', 40), ('prev_hash', 64), ('hash', 64)):
            batch_op.alter_column(name, existing_type=sa.String(length=length), nullable=False)
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_coop_audit_log_chain_seq'), ['chain', 'seq'])
        batch_op.create_foreign_key(batch_op.f('fk_coop_audit_log_chain_coop_audit_heads'), 'coop_audit_heads',
                                    ['chain'], ['chain'])
    for statement in _triggers(connection.dialect.name):      # last: the back-fill wrote heads and rows freely
        op.execute(statement)


def downgrade() -> None:
    connection = op.get_bind()
    statements = _triggers(connection.dialect.name)
    for name, table in re.findall(r"CREATE TRIGGER (\w+) .*? ON (\w+)", "\n".join(statements)):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if connection.dialect.name == 'postgresql'
                   else f"DROP TRIGGER IF EXISTS {name}")
    for name in dict.fromkeys(re.findall(r"CREATE (?:OR REPLACE )?FUNCTION (\w+)\(\)", "\n".join(statements))):
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    with op.batch_alter_table('coop_audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_coop_audit_log_chain_coop_audit_heads'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_coop_audit_log_chain_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
        batch_op.drop_column('chain')
    op.drop_table('coop_audit_heads')

"""The audit log's guarantees, written in each database's own language (as ``ledger.ddl`` does for the books).

Whatever writes to the database — the app, a script, someone at a SQL prompt with the app's credentials —
these triggers hold:

* an audit row is never updated or deleted (nor, on PostgreSQL, truncated; nor, on SQLite, replaced by
  ``INSERT OR REPLACE``, which would delete the old row without firing a DELETE trigger);
* a row is only accepted at the head of its chain: the next sequence number, and the head's hash as its
  ``prev_hash`` — so a chain can never fork, and no row can be slipped in behind the head;
* the chain head (``coop_audit_heads``) is moved by the database itself, onto the row just inserted; the
  only other change it takes is the no-op update writers use to lock it. It is never deleted, and a new
  head starts empty.

What they cannot stop: whoever may drop or disable triggers (the tables' owner, a superuser, anyone with
the SQLite file) can rewrite history, and can recompute every later hash and the head so that the chain
verifies again. That is why the heads must also be anchored outside the database (printed, stored off the
host) and compared by ``verify_audit(..., anchors=…)``; and why, on PostgreSQL, the app should run as a
role that owns none of these tables (``docs/SECURITY.md`` §9). A row can also always be *appended* with
the app's credentials — events are not signed.

Insert audit rows one per statement: PostgreSQL fires AFTER ROW triggers at the end of the statement, so
the second row of a multi-row INSERT would not yet see the head the first one moved.

Migration 0006 carries a copy of these statements; change them only through a new migration.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from ledger.ddl import triggers_after

SQLITE = [
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_no_update BEFORE UPDATE ON coop_audit_log
BEGIN SELECT RAISE(ABORT, 'audit: an audit log row cannot be changed; the log is append-only'); END"""),
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_no_delete BEFORE DELETE ON coop_audit_log
BEGIN SELECT RAISE(ABORT, 'audit: an audit log row cannot be deleted; the log is append-only'); END"""),
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_append BEFORE INSERT ON coop_audit_log
WHEN NOT EXISTS (SELECT 1 FROM coop_audit_heads WHERE chain = NEW.chain AND seq + 1 = NEW.seq
                 AND hash = NEW.prev_hash)
  OR EXISTS (SELECT 1 FROM coop_audit_log WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit: a row must extend its chain at the head (next seq, head hash as prev_hash)'); END"""),
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_advance AFTER INSERT ON coop_audit_log
BEGIN UPDATE coop_audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain; END"""),
    ("coop_audit_heads", """
CREATE TRIGGER coop_audit_heads_start BEFORE INSERT ON coop_audit_heads
WHEN NEW.seq <> 0 OR NEW.hash <> ''
BEGIN SELECT RAISE(ABORT, 'audit: a chain head starts at seq 0 with no hash'); END"""),
    ("coop_audit_heads", """
CREATE TRIGGER coop_audit_heads_no_replace BEFORE INSERT ON coop_audit_heads
WHEN EXISTS (SELECT 1 FROM coop_audit_heads WHERE chain = NEW.chain)
BEGIN SELECT RAISE(IGNORE); END"""),
    ("coop_audit_heads", """
CREATE TRIGGER coop_audit_heads_advance BEFORE UPDATE ON coop_audit_heads
WHEN NOT (NEW.chain = OLD.chain AND (
        (NEW.seq = OLD.seq AND NEW.hash = OLD.hash)
     OR (NEW.seq = OLD.seq + 1 AND EXISTS (SELECT 1 FROM coop_audit_log WHERE chain = NEW.chain
                                           AND seq = NEW.seq AND hash = NEW.hash AND prev_hash = OLD.hash))))
BEGIN SELECT RAISE(ABORT, 'audit: a chain head only moves forward onto the row just written'); END"""),
    ("coop_audit_heads", """
CREATE TRIGGER coop_audit_heads_no_delete BEFORE DELETE ON coop_audit_heads
BEGIN SELECT RAISE(ABORT, 'audit: a chain head cannot be deleted'); END"""),
]

POSTGRESQL = [
    ("coop_audit_log", """
CREATE FUNCTION coop_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit: % on % is refused; the audit trail is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$"""),
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_immutable BEFORE UPDATE OR DELETE ON coop_audit_log
FOR EACH ROW EXECUTE FUNCTION coop_audit_refuse()"""),
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_no_truncate BEFORE TRUNCATE ON coop_audit_log
FOR EACH STATEMENT EXECUTE FUNCTION coop_audit_refuse()"""),
    ("coop_audit_log", """
CREATE FUNCTION coop_audit_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM coop_audit_heads WHERE chain = NEW.chain AND seq + 1 = NEW.seq
                 AND hash = NEW.prev_hash) THEN
    RAISE EXCEPTION 'audit: row seq % must extend chain % at its head (next seq, head hash as prev_hash)',
      NEW.seq, NEW.chain USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$"""),
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_append BEFORE INSERT ON coop_audit_log
FOR EACH ROW EXECUTE FUNCTION coop_audit_append()"""),
    ("coop_audit_log", """
CREATE FUNCTION coop_audit_advance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE coop_audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain;
  RETURN NULL;
END $$"""),
    ("coop_audit_log", """
CREATE TRIGGER coop_audit_log_advance AFTER INSERT ON coop_audit_log
FOR EACH ROW EXECUTE FUNCTION coop_audit_advance()"""),
    ("coop_audit_heads", """
CREATE FUNCTION coop_audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$"""),
    ("coop_audit_heads", """
CREATE TRIGGER coop_audit_heads_guard BEFORE INSERT OR UPDATE OR DELETE ON coop_audit_heads
FOR EACH ROW EXECUTE FUNCTION coop_audit_head_guard()"""),
    ("coop_audit_heads", """
CREATE TRIGGER coop_audit_heads_no_truncate BEFORE TRUNCATE ON coop_audit_heads
FOR EACH STATEMENT EXECUTE FUNCTION coop_audit_refuse()"""),
]


# Every statement hangs off the log, which is created after the heads (its ``chain`` references them), so
# the triggers on both tables are made once both exist, functions before the triggers that call them.
_LAST_TABLE = "coop_audit_log"


def triggers_for(metadata: MetaData):
    """The audit log's triggers, attached to the table created last."""
    return triggers_after(metadata, _LAST_TABLE, SQLITE, POSTGRESQL)

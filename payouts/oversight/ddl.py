"""The notes that mark a township finding handled, append-only in the database like the auditor's other
records (``payouts.ddl``: opinions and integrity checks): a note is never edited or deleted — a later note on
the same finding is added after it. The database refuses an UPDATE or a DELETE (and, on PostgreSQL, a TRUNCATE;
on SQLite, an ``INSERT OR REPLACE`` over an existing row). On PostgreSQL the triggers call the function
``payouts.ddl`` creates for the other oversight tables (created again here, ``OR REPLACE`` with the same body, so
the order of creation does not matter).

Migration 0022 carries a copy of these statements; change them only through a new migration.
"""

from __future__ import annotations

from sqlalchemy import DDL, MetaData

TABLE = "oversight_finding_notes"

SQLITE = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'oversight: {TABLE} is append-only; record a new row instead'); END""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'oversight: {TABLE} is append-only; rows cannot be deleted'); END""",
    f"""CREATE TRIGGER {TABLE}_no_replace BEFORE INSERT ON {TABLE}
WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'oversight: {TABLE} is append-only; a row cannot be replaced'); END""",
]

#: the same function, body and all, as ``payouts.ddl`` creates (a feature does not import the package's root)
_REFUSE = """CREATE OR REPLACE FUNCTION oversight_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'oversight: % on % is refused; the table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$"""

POSTGRESQL = [
    _REFUSE,
    f"""CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE}
FOR EACH ROW EXECUTE FUNCTION oversight_refuse_change()""",
    f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
FOR EACH STATEMENT EXECUTE FUNCTION oversight_refuse_change()""",
]


def triggers_for(metadata: MetaData):
    """(table, DDL) pairs to attach as ``after_create`` listeners (used by ``create_all`` in tests)."""
    table = metadata.tables.get(TABLE)
    if table is None:
        return []
    return [(table, DDL(sql.strip().replace("%", "%%")).execute_if(dialect=dialect))
            for dialect, statements in (("sqlite", SQLITE), ("postgresql", POSTGRESQL)) for sql in statements]

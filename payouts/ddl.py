"""The township auditor's records, append-only in the database (as ``ledger.ddl`` and ``cooperatives.ddl``
do for the books and the audit log).

An audit opinion is never edited — a later one on the same entity and year supersedes it, and the history
stays — and an integrity check is written once with what it found. The database refuses an UPDATE or a
DELETE of either (and, on PostgreSQL, a TRUNCATE; on SQLite, an ``INSERT OR REPLACE`` over an existing row,
which would delete it without firing a DELETE trigger). Whoever may drop triggers can still change them:
the audit log's hash chain (``cooperatives.audit``) records every opinion and check as it was made.

Migration 0006 carries a copy of these statements; change them only through a new migration.
"""

from __future__ import annotations

from sqlalchemy import DDL, MetaData

TABLES = ("oversight_audit_opinions", "oversight_integrity_checks")

SQLITE = [
    (table, sql.format(table=table))
    for table in TABLES
    for sql in (
        """CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'oversight: {table} is append-only; record a new row instead'); END""",
        """CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'oversight: {table} is append-only; rows cannot be deleted'); END""",
        """CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'oversight: {table} is append-only; a row cannot be replaced'); END""",
    )
]

#: each table's triggers come after the function they call; it is made ``OR REPLACE`` with each table, so the
#: two tables may be created in either order
_REFUSE = """CREATE OR REPLACE FUNCTION oversight_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'oversight: % on % is refused; the table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$"""

POSTGRESQL = [
    (table, sql.format(table=table))
    for table in TABLES
    for sql in (
        _REFUSE,
        """CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION oversight_refuse_change()""",
        """CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION oversight_refuse_change()""",
    )
]


def triggers_for(metadata: MetaData):
    """(table, DDL) pairs to attach as ``after_create`` listeners (used by ``create_all`` in tests)."""
    out = []
    for dialect, statements in (("sqlite", SQLITE), ("postgresql", POSTGRESQL)):
        for name, sql in statements:
            table = metadata.tables.get(name)
            if table is not None:
                out.append((table, DDL(sql.strip().replace("%", "%%")).execute_if(dialect=dialect)))
    return out

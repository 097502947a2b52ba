"""The 财务公开 publications, append-only in the database (as ``payouts.ddl`` keeps the township's audit
opinions): a publication is never edited — a correction is a new publication that supersedes it, and the
earlier one stays, shown as superseded. The database refuses an UPDATE or a DELETE (and, on PostgreSQL, a
TRUNCATE; on SQLite, an ``INSERT OR REPLACE`` over an existing row).

Migration 0021 carries a copy of these statements; change them only through a new migration.
"""

from __future__ import annotations

from sqlalchemy import DDL, MetaData

TABLE = "payout_disclosures"

SQLITE = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'disclosure: a publication is never changed; publish the period again instead'); END""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'disclosure: a publication cannot be deleted; publications are append-only'); END""",
    f"""CREATE TRIGGER {TABLE}_no_replace BEFORE INSERT ON {TABLE}
WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'disclosure: a publication cannot be replaced; publications are append-only'); END""",
]

POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION payout_disclosures_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'disclosure: % on % is refused; publications are append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$""",
    f"""CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE}
FOR EACH ROW EXECUTE FUNCTION payout_disclosures_refuse()""",
    f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
FOR EACH STATEMENT EXECUTE FUNCTION payout_disclosures_refuse()""",
]


def triggers_for(metadata: MetaData):
    """(table, DDL) pairs to attach as ``after_create`` listeners (used by ``create_all`` in tests)."""
    table = metadata.tables.get(TABLE)
    if table is None:
        return []
    return [(table, DDL(sql.strip().replace("%", "%%")).execute_if(dialect=dialect))
            for dialect, statements in (("sqlite", SQLITE), ("postgresql", POSTGRESQL)) for sql in statements]

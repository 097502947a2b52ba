"""The ledger's guarantees, written in each database's own language.

Whatever writes to the database — the ORM, a bulk import, a migration, someone at a SQL prompt —
these triggers hold:

* an entry and its postings are never updated or deleted;
* postings can only be added to an entry that is not stored yet (an entry is sealed when its row is
  inserted, after its postings);
* an entry row is refused unless it has at least two postings that sum to exactly zero, all in the
  entry's book and year, unless it is dated on or after its book's start (but the opening balances, the
  day before), and unless its year is open (or, while the year is being closed, unless it
  is a year-end closing or distribution entry — its ``kind``, never its source);
* (foreign key, deferred) a posting whose entry row never arrives cannot be committed.

The initial migration carries a copy of these statements, and migration 0010 the year rule by kind; change
them only through a new migration.
"""

from __future__ import annotations

from sqlalchemy import DDL, MetaData

SQLITE = [
    ("ledger_entries", """
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger: a posted entry cannot be changed; post a reversing entry'); END"""),
    ("ledger_entries", """
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger: a posted entry cannot be deleted; post a reversing entry'); END"""),
    ("ledger_postings", """
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger: a posting cannot be changed; post a reversing entry'); END"""),
    ("ledger_postings", """
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger: a posting cannot be deleted; post a reversing entry'); END"""),
    ("ledger_postings", """
CREATE TRIGGER ledger_postings_sealed BEFORE INSERT ON ledger_postings
WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE id = NEW.entry_id)
BEGIN SELECT RAISE(ABORT, 'ledger: postings cannot be added to a posted entry'); END"""),
    ("ledger_entries", """
CREATE TRIGGER ledger_entries_balanced BEFORE INSERT ON ledger_entries
WHEN (SELECT count(*) FROM ledger_postings WHERE entry_id = NEW.id) < 2
  OR (SELECT coalesce(sum(amount), 0) FROM ledger_postings WHERE entry_id = NEW.id) <> 0
  OR EXISTS (SELECT 1 FROM ledger_postings WHERE entry_id = NEW.id
             AND (book_id <> NEW.book_id OR year <> NEW.year))
BEGIN SELECT RAISE(ABORT, 'ledger: unbalanced entry (postings must be two or more and sum to zero)'); END"""),
    ("ledger_entries", """
CREATE TRIGGER ledger_entries_open_period BEFORE INSERT ON ledger_entries
WHEN EXISTS (SELECT 1 FROM ledger_periods WHERE book_id = NEW.book_id AND year = NEW.year
             AND (status = 'closed' OR (status = 'adjusting' AND NEW.kind NOT IN ('closing', 'distribution'))))
BEGIN SELECT RAISE(ABORT, 'ledger: the period is closed'); END"""),
    ("ledger_entries", """
CREATE TRIGGER ledger_entries_books_start BEFORE INSERT ON ledger_entries
WHEN NEW.kind <> 'opening' AND EXISTS (SELECT 1 FROM ledger_books WHERE id = NEW.book_id AND NEW.date < books_start)
BEGIN SELECT RAISE(ABORT, 'ledger: the entry is dated before the books start'); END"""),
]

POSTGRESQL = [
    ("ledger_entries", """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger: a posted % row cannot be changed (%); post a reversing entry', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'integrity_constraint_violation';
END $$"""),
    ("ledger_entries", """
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"""),
    ("ledger_postings", """
CREATE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"""),
    ("ledger_postings", """
CREATE FUNCTION ledger_posting_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM ledger_entries WHERE id = NEW.entry_id) THEN
    RAISE EXCEPTION 'ledger: postings cannot be added to a posted entry'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$"""),
    ("ledger_postings", """
CREATE TRIGGER ledger_postings_sealed BEFORE INSERT ON ledger_postings
FOR EACH ROW EXECUTE FUNCTION ledger_posting_sealed()"""),
    ("ledger_entries", """
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n integer; total bigint; foreign_rows integer;
BEGIN
  SELECT count(*), coalesce(sum(amount), 0),
         count(*) FILTER (WHERE book_id <> NEW.book_id OR year <> NEW.year)
    INTO n, total, foreign_rows FROM ledger_postings WHERE entry_id = NEW.id;
  IF n < 2 OR total <> 0 OR foreign_rows > 0 THEN
    RAISE EXCEPTION 'ledger: unbalanced entry % (% postings, residual % fen)', NEW.id, n, total
      USING ERRCODE = 'check_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM ledger_periods WHERE book_id = NEW.book_id AND year = NEW.year
             AND (status = 'closed' OR (status = 'adjusting' AND NEW.kind NOT IN ('closing', 'distribution')))) THEN
    RAISE EXCEPTION 'ledger: the period % is closed', NEW.year USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.kind <> 'opening' AND EXISTS (SELECT 1 FROM ledger_books WHERE id = NEW.book_id AND NEW.date < books_start) THEN
    RAISE EXCEPTION 'ledger: % is before the books start', NEW.date USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$"""),
    ("ledger_entries", """
CREATE TRIGGER ledger_entries_balanced BEFORE INSERT ON ledger_entries
FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced()"""),
]

# Triggers on ledger_entries that look at ledger_postings must be created once both tables exist,
# so everything hangs off the table created last.
_LAST_TABLE = "ledger_postings"


def triggers_after(metadata: MetaData, last_table: str, sqlite, postgresql):
    """(table, DDL) pairs to attach as ``after_create`` listeners of ``last_table`` (used by ``create_all``
    in tests): every statement of both dialects, each run only on its own."""
    table = metadata.tables.get(last_table)
    if table is None:
        return []
    out = []
    for dialect, statements in (("sqlite", sqlite), ("postgresql", postgresql)):
        for _name, sql in statements:
            out.append((table, DDL(sql.strip().replace("%", "%%")).execute_if(dialect=dialect)))
    return out


def triggers_for(metadata: MetaData):
    """The books' triggers, attached to the table created last."""
    return triggers_after(metadata, _LAST_TABLE, SQLITE, POSTGRESQL)

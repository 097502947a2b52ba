"""books start: the book holds its start (建账日期); nothing is dated before it but the opening balances

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00

``ledger_books`` gains ``books_start``, filled in with 1 January of the entity's ``first_year`` — or of the
year of the book's earliest entry, where a record was dated before it (the pages did not refuse that) — and
``coop_entities.first_year`` goes (it is now the book's ``books_start``). A new trigger refuses an entry
dated before its book's start, unless it is the opening balances (kind ``opening``, dated the day before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

#: 1 January of the entity's first year, or of its book's earliest entry's year if that is earlier
FIRST = """(SELECT CASE WHEN min(e.year) < c.first_year THEN min(e.year) ELSE c.first_year END
  FROM coop_entities c LEFT JOIN ledger_entries e ON e.book_id = c.book_id
  WHERE c.book_id = ledger_books.id GROUP BY c.first_year)"""
FILL = {"postgresql": f"UPDATE ledger_books SET books_start = make_date({FIRST}, 1, 1)",
        "sqlite": f"UPDATE ledger_books SET books_start = printf('%04d-01-01', {FIRST}) "
                  f"WHERE id IN (SELECT book_id FROM coop_entities)"}

SQLITE_TRIGGER = """CREATE TRIGGER ledger_entries_books_start BEFORE INSERT ON ledger_entries
WHEN NEW.kind <> 'opening' AND EXISTS (SELECT 1 FROM ledger_books WHERE id = NEW.book_id AND NEW.date < books_start)
BEGIN SELECT RAISE(ABORT, 'ledger: the entry is dated before the books start'); END"""


def _postgresql_balanced(books_start: bool) -> str:
    start = """
  IF NEW.kind <> 'opening' AND EXISTS (SELECT 1 FROM ledger_books WHERE id = NEW.book_id AND NEW.date < books_start) THEN
    RAISE EXCEPTION 'ledger: % is before the books start', NEW.date USING ERRCODE = 'check_violation';
  END IF;""" if books_start else ""
    return f"""CREATE OR REPLACE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
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
  END IF;{start}
  RETURN NEW;
END $$"""


def upgrade() -> None:
    op.add_column('ledger_books', sa.Column('books_start', sa.Date(), nullable=True))
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(FILL["postgresql" if postgresql else "sqlite"])
    if postgresql:
        op.execute(_postgresql_balanced(True))
        op.drop_column('coop_entities', 'first_year')
    else:
        op.execute(SQLITE_TRIGGER)
        op.execute("ALTER TABLE coop_entities DROP COLUMN first_year")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column('coop_entities', sa.Column('first_year', sa.Integer(), nullable=True))
    op.execute("UPDATE coop_entities SET first_year = (SELECT CAST(" +
               ("extract(year FROM books_start)" if postgresql else "strftime('%Y', books_start)") +
               " AS INTEGER) FROM ledger_books WHERE ledger_books.id = coop_entities.book_id)")
    if postgresql:
        op.alter_column('coop_entities', 'first_year', nullable=False)
        op.execute(_postgresql_balanced(False))
        op.drop_column('ledger_books', 'books_start')
    else:
        with op.batch_alter_table('coop_entities') as batch:         # NOT NULL again, as 0001 made it
            batch.alter_column('first_year', existing_type=sa.Integer(), nullable=False)
        op.execute("DROP TRIGGER ledger_entries_books_start")
        op.execute("ALTER TABLE ledger_books DROP COLUMN books_start")

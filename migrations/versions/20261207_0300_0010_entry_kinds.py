"""entry kinds: the year rules test what an entry is, not its source

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00

``ledger_entries`` gains ``kind`` (ordinary, opening, closing, distribution, reversal, manual, accrual;
``ledger.entries.ENTRY_KINDS``), filled in from the sources the code wrote until now — exactly
``ledger.entries.legacy_kind``, so every stored hash still verifies (a hash covers the kind only where it
differs from that reading). The triggers' year rule then reads ``kind``: while a year is being closed it
takes closing and distribution entries only. The posted-entry guard is lifted for the fill and put back in
the same transaction. On PostgreSQL the column is also checked (``ck_ledger_entries_kind``); on SQLite a
CHECK cannot be added without rebuilding the table, and the application writes only the listed kinds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

KINDS = "('ordinary', 'opening', 'closing', 'distribution', 'reversal', 'manual', 'accrual')"
FILL = """UPDATE ledger_entries SET kind = CASE
  WHEN source LIKE 'close:%' THEN 'closing'
  WHEN source LIKE 'run:%' THEN 'distribution'
  WHEN source LIKE 'land-rent:%' THEN 'accrual'
  WHEN source LIKE 'void:%' OR reverses_id IS NOT NULL THEN 'reversal'
  ELSE 'ordinary' END"""

SQLITE_NO_UPDATE = """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger: a posted entry cannot be changed; post a reversing entry'); END"""


def _sqlite_open_period(rule: str) -> str:
    return f"""CREATE TRIGGER ledger_entries_open_period BEFORE INSERT ON ledger_entries
WHEN EXISTS (SELECT 1 FROM ledger_periods WHERE book_id = NEW.book_id AND year = NEW.year
             AND (status = 'closed' OR (status = 'adjusting' AND {rule})))
BEGIN SELECT RAISE(ABORT, 'ledger: the period is closed'); END"""


def _postgresql_balanced(rule: str) -> str:
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
             AND (status = 'closed' OR (status = 'adjusting' AND {rule}))) THEN
    RAISE EXCEPTION 'ledger: the period % is closed', NEW.year USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$"""


BY_KIND = "NEW.kind NOT IN ('closing', 'distribution')"
BY_SOURCE = ("coalesce(NEW.source, '') NOT LIKE 'close:%'\n"
             "                                        AND coalesce(NEW.source, '') NOT LIKE 'run:%'")


def upgrade() -> None:
    op.add_column('ledger_entries', sa.Column('kind', sa.String(length=12), server_default='ordinary', nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_immutable")
        op.execute(FILL)
        op.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_immutable")
        op.create_check_constraint(op.f("ck_ledger_entries_kind"), "ledger_entries", f"kind IN {KINDS}")
        op.execute(_postgresql_balanced(BY_KIND))
    else:
        op.execute("DROP TRIGGER ledger_entries_no_update")
        op.execute(FILL)
        op.execute(SQLITE_NO_UPDATE)
        op.execute("DROP TRIGGER ledger_entries_open_period")
        op.execute(_sqlite_open_period(BY_KIND))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_balanced(BY_SOURCE))
        op.drop_constraint(op.f("ck_ledger_entries_kind"), "ledger_entries", type_="check")
        op.drop_column('ledger_entries', 'kind')
    else:
        op.execute("DROP TRIGGER ledger_entries_open_period")
        op.execute(_sqlite_open_period(BY_SOURCE))
        op.execute("ALTER TABLE ledger_entries DROP COLUMN kind")

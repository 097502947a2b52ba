"""voided records: every source record can be voided (红字冲销) — when, by whom and why

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:00:00

Every record table gains ``voided_at``, ``voided_by`` and ``void_reason``. A voided record stays where it
is; the entry that reverses what it posted has the source ``void:<kind>:<id>`` (a land contract's, one per
accrued year: ``void:land:<id>:<year>``), and the books' unique ``(book_id, source)`` makes voiding once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ("coop_capital", "coop_land_contracts", "coop_labor", "coop_deliveries", "coop_inputs", "coop_sales",
          "coop_expenses", "coop_subsidies", "coop_advances", "coop_payments", "coop_investment_income")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column('voided_by', sa.Integer(), nullable=True))
            batch.add_column(sa.Column('void_reason', sa.String(length=300), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('void_reason')
            batch.drop_column('voided_by')
            batch.drop_column('voided_at')

"""performance: indexes for county-scale queries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:02:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # trial balance over a whole book: read in account order straight from the index, no sort and no table
    # access (bench/README.md shows the plans); the older (book_id, year, ...) index keeps serving one year
    op.create_index('ix_ledger_postings_book_account_year', 'ledger_postings',
                    ['book_id', 'account_id', 'year', 'amount'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ledger_postings_book_account_year', table_name='ledger_postings')

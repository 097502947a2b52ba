"""payments for: a payment to a member settles their current account or the wages owed them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00

``coop_payments`` gains ``paid_for`` (``account``: 成员往来 114, what every payment settled until now;
``labor``: 应付劳务费 213), the workbook's ``for`` column (books-review W3: wages could never be paid).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('coop_payments', sa.Column('paid_for', sa.String(length=10), server_default='account',
                                             nullable=False))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column('coop_payments', 'paid_for')
    else:
        op.execute("ALTER TABLE coop_payments DROP COLUMN paid_for")

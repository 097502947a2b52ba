"""township oversight: audit opinions, integrity checks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('coop_households') as batch:
        batch.add_column(sa.Column('persons', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('coop_households') as batch:
        batch.drop_column('persons')

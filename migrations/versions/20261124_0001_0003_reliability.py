"""reliability: idempotency keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # API writes sent with an Idempotency-Key header: claimed with the write, response kept for replay
    op.create_table('coop_idempotency_keys',
    sa.Column('id', ID, nullable=False),
    sa.Column('user_id', ID, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['coop_users.id'], name=op.f('fk_coop_idempotency_keys_user_id_coop_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_coop_idempotency_keys_user_id_key'))
    )
    # --- H3 (users column) may add a clearly marked block below ---


def downgrade() -> None:
    # --- H3 (users column) downgrade block, if any, goes above the drop below ---
    op.drop_table('coop_idempotency_keys')

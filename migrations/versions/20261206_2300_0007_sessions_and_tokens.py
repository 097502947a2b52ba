"""sessions and tokens: API tokens expire and can be revoked; phone + PIN visits are kept on the server

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:00:00

``coop_api_tokens`` gains ``expires_at`` (required), ``revoked_at`` and ``last_used_at``, and an index on
``user_id``. Tokens already issued get 90 days from the upgrade (the default lifetime of a new token),
so scripts keep working while their owners replace them. ``payout_pin_visits`` holds the live phone + PIN
visits (a SHA-256 of the id in the browser's session): a visit started before the upgrade kept its
household in the cookie, which is no longer accepted, so such a household enters its PIN again.
On SQLite, making ``expires_at`` required rebuilds ``coop_api_tokens`` (it has no triggers).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
#: what tokens issued before this revision are given (the default lifetime of a new token)
EXISTING_TOKEN_DAYS = 90


def upgrade() -> None:
    op.add_column('coop_api_tokens', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('coop_api_tokens', sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('coop_api_tokens', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table('coop_api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)))
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=EXISTING_TOKEN_DAYS)
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=until))
    with op.batch_alter_table('coop_api_tokens') as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f('ix_coop_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('payout_pin_visits',
    sa.Column('id', ID, nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('household_id', ID, nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['coop_households.id'],
                            name=op.f('fk_payout_pin_visits_household_id_coop_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_pin_visits')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_payout_pin_visits_secret_hash'))
    )
    with op.batch_alter_table('payout_pin_visits') as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_pin_visits_household_id'), ['household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payout_pin_visits') as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_pin_visits_household_id'))
    op.drop_table('payout_pin_visits')
    with op.batch_alter_table('coop_api_tokens') as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_api_tokens_user_id'))
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')

"""Monitored households (防止返贫监测对象): the county's lists imported, and each household's periods with their history

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 19:00:00

Issue 18: ``coop_monitoring_lists`` (one county list imported for a township: the file's name and sha256, who and
when, its counts, the rows that matched no household and those that contradicted a closed period, as JSON) and
``coop_monitoring_periods`` (a household's period of monitoring: category, identified, eliminated once, source and
household size as the list gave them, and the list that recorded it — none for the households sheet of an import
workbook). Periods are history: never deleted, never rewritten but for an end set once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coop_monitoring_lists',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('township_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('unmatched', sa.Integer(), nullable=False),
    sa.Column('opened', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('conflicts', sa.Integer(), nullable=False),
    sa.Column('unmatched_json', sa.Text(), nullable=False),
    sa.Column('conflicts_json', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['township_id'], ['coop_townships.id'], name=op.f('fk_coop_monitoring_lists_township_id_coop_townships')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_monitoring_lists'))
    )
    with op.batch_alter_table('coop_monitoring_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_monitoring_lists_township_id'), ['township_id'], unique=False)

    op.create_table('coop_monitoring_periods',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('category', sa.String(length=10), nullable=False),
    sa.Column('identified_on', sa.Date(), nullable=False),
    sa.Column('eliminated_on', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('persons', sa.Integer(), nullable=True),
    sa.Column('list_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("category IN ('unstable', 'marginal', 'hardship')", name=op.f('ck_coop_monitoring_periods_category')),
    sa.CheckConstraint('eliminated_on IS NULL OR eliminated_on >= identified_on', name=op.f('ck_coop_monitoring_periods_dates')),
    sa.ForeignKeyConstraint(['household_id'], ['coop_households.id'], name=op.f('fk_coop_monitoring_periods_household_id_coop_households')),
    sa.ForeignKeyConstraint(['list_id'], ['coop_monitoring_lists.id'], name=op.f('fk_coop_monitoring_periods_list_id_coop_monitoring_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_monitoring_periods'))
    )
    with op.batch_alter_table('coop_monitoring_periods', schema=None) as batch_op:
        batch_op.create_index('ix_coop_monitoring_periods_household', ['household_id', 'identified_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_coop_monitoring_periods_list_id'), ['list_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('coop_monitoring_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_monitoring_periods_list_id'))
        batch_op.drop_index('ix_coop_monitoring_periods_household')

    op.drop_table('coop_monitoring_periods')
    with op.batch_alter_table('coop_monitoring_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_monitoring_lists_township_id'))

    op.drop_table('coop_monitoring_lists')

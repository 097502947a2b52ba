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


ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('coop_households') as batch:
        batch.add_column(sa.Column('persons', sa.Integer(), nullable=True))
    op.create_table('oversight_audit_opinions',
    sa.Column('id', ID, nullable=False),
    sa.Column('entity_id', ID, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('auditor_id', ID, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("verdict IN ('no_issue', 'issues')", name=op.f('ck_oversight_audit_opinions_verdict')),
    sa.ForeignKeyConstraint(['auditor_id'], ['coop_users.id'], name=op.f('fk_oversight_audit_opinions_auditor_id_coop_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'], name=op.f('fk_oversight_audit_opinions_entity_id_coop_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_audit_opinions'))
    )
    with op.batch_alter_table('oversight_audit_opinions', schema=None) as batch_op:
        batch_op.create_index('ix_oversight_audit_opinions_entity_year', ['entity_id', 'year'], unique=False)
    op.create_table('oversight_integrity_checks',
    sa.Column('id', ID, nullable=False),
    sa.Column('entity_id', ID, nullable=False),
    sa.Column('actor_id', ID, nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['coop_users.id'], name=op.f('fk_oversight_integrity_checks_actor_id_coop_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'], name=op.f('fk_oversight_integrity_checks_entity_id_coop_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_integrity_checks'))
    )
    with op.batch_alter_table('oversight_integrity_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oversight_integrity_checks_entity_id'), ['entity_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oversight_integrity_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oversight_integrity_checks_entity_id'))
    op.drop_table('oversight_integrity_checks')
    with op.batch_alter_table('oversight_audit_opinions', schema=None) as batch_op:
        batch_op.drop_index('ix_oversight_audit_opinions_entity_year')
    op.drop_table('oversight_audit_opinions')
    with op.batch_alter_table('coop_households') as batch:
        batch.drop_column('persons')

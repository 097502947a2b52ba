"""Bank batches (代发): the batch, its lines, the send log of texts to phones; a payment knows its batch line

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 18:00:00

Issue 17: ``payout_batches`` (a run's batch transfer: created → sent → results in → closed, or cancelled before it
is sent), ``payout_batch_lines`` (each household paid in it with its 序号, or listed apart with the reason; the
account only as its keyed digest and masked copy), ``payout_sms_exports`` (each file of texts produced for the
township's SMS platform), and ``payout_receipts.batch_line_id``, unique: one payment per line of a batch, whatever
reads the bank's return file and however often.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payout_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('layout', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.Column('sent_by', sa.Integer(), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('results_digest', sa.String(length=64), nullable=True),
    sa.Column('results_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('results_by', sa.Integer(), nullable=True),
    sa.Column('paid_count', sa.Integer(), nullable=False),
    sa.Column('paid_total', sa.BigInteger(), nullable=False),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('failed_total', sa.BigInteger(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('created', 'sent', 'results_in', 'closed', 'cancelled')", name=op.f('ck_payout_batches_status')),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'], name=op.f('fk_payout_batches_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['run_id'], ['payout_runs.id'], name=op.f('fk_payout_batches_run_id_payout_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_batches')),
    sa.UniqueConstraint('entity_id', 'number', name=op.f('uq_payout_batches_entity_id_number'))
    )
    with op.batch_alter_table('payout_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_batches_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_batches_run_id'), ['run_id'], unique=False)

    op.create_table('payout_batch_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('statement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('account_digest', sa.String(length=64), nullable=True),
    sa.Column('account_masked', sa.String(length=40), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'paid', 'failed', 'apart')", name=op.f('ck_payout_batch_lines_status')),
    sa.ForeignKeyConstraint(['batch_id'], ['payout_batches.id'], name=op.f('fk_payout_batch_lines_batch_id_payout_batches')),
    sa.ForeignKeyConstraint(['member_id'], ['coop_members.id'], name=op.f('fk_payout_batch_lines_member_id_coop_members')),
    sa.ForeignKeyConstraint(['statement_id'], ['payout_statements.id'], name=op.f('fk_payout_batch_lines_statement_id_payout_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_batch_lines')),
    sa.UniqueConstraint('batch_id', 'seq', name=op.f('uq_payout_batch_lines_batch_id_seq')),
    sa.UniqueConstraint('batch_id', 'statement_id', name=op.f('uq_payout_batch_lines_batch_id_statement_id'))
    )
    with op.batch_alter_table('payout_batch_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_batch_lines_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_batch_lines_statement_id'), ['statement_id'], unique=False)

    op.create_table('payout_sms_exports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('without_phone', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['payout_batches.id'], name=op.f('fk_payout_sms_exports_batch_id_payout_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_sms_exports'))
    )
    with op.batch_alter_table('payout_sms_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_sms_exports_batch_id'), ['batch_id'], unique=False)

    with op.batch_alter_table('payout_receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payout_receipts_batch_line_id'), ['batch_line_id'])
        batch_op.create_foreign_key(batch_op.f('fk_payout_receipts_batch_line_id_payout_batch_lines'), 'payout_batch_lines', ['batch_line_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('payout_receipts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payout_receipts_batch_line_id_payout_batch_lines'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_payout_receipts_batch_line_id'), type_='unique')
        batch_op.drop_column('batch_line_id')

    with op.batch_alter_table('payout_sms_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_sms_exports_batch_id'))

    op.drop_table('payout_sms_exports')
    with op.batch_alter_table('payout_batch_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_batch_lines_statement_id'))
        batch_op.drop_index(batch_op.f('ix_payout_batch_lines_batch_id'))

    op.drop_table('payout_batch_lines')
    with op.batch_alter_table('payout_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_batches_run_id'))
        batch_op.drop_index(batch_op.f('ix_payout_batches_entity_id'))

    op.drop_table('payout_batches')

"""vouchers typed as such (记账凭证): any balanced entry on the chart, with who made it and its attachments

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 07:00:00

Issue 13 §2: ``coop_vouchers`` keeps each manual voucher — its date, memo (摘要), 附件张数, who made it (制单), the
workbook key that grouped its lines, and, as every record, whether it was voided; its lines are the postings of
its entry (kind ``manual``, source ``voucher:<id>``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('coop_vouchers',
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('memo', sa.String(length=200), nullable=False),
    sa.Column('attachments', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=True),
    sa.Column('made_by', sa.Integer(), nullable=True),
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.Column('import_id', Id, nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'], name=op.f('fk_coop_vouchers_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_coop_vouchers_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['import_id'], ['coop_imports.id'], name=op.f('fk_coop_vouchers_import_id_coop_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_vouchers'))
    )
    with op.batch_alter_table('coop_vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_vouchers_date'), ['date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coop_vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_vouchers_date'))
    op.drop_table('coop_vouchers')

"""stock counts: unsold produce at a year's end (期末盘点), moved to 121 and back

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 10:00:00

Issue 13 §5 (books-review W10): a year-end count of unsold produce at cost takes it out of the year's operating
costs (Dr 121 / Cr 521 on 31 December) and back into the next year's on 1 January (期初转回).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('coop_stock_counts',
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('product', sa.String(length=100), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('unit', sa.String(length=5), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.Column('import_id', Id, nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'],
                            name=op.f('fk_coop_stock_counts_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'],
                            name=op.f('fk_coop_stock_counts_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['import_id'], ['coop_imports.id'],
                            name=op.f('fk_coop_stock_counts_import_id_coop_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_stock_counts'))
    )
    with op.batch_alter_table('coop_stock_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_stock_counts_date'), ['date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coop_stock_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_stock_counts_date'))
    op.drop_table('coop_stock_counts')

"""receipts: money received against what sales on credit left owed (收款)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:00

Issue 13 §5 (books-review W12): a sale on credit stays owed on 113 应收款; ``coop_receipts`` records what the buyer
later pays (Dr 102/101/109 / Cr 113), or a cluster project's share paid to a member entity.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('coop_receipts',
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('buyer', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.Column('import_id', Id, nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'], name=op.f('fk_coop_receipts_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_coop_receipts_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['import_id'], ['coop_imports.id'], name=op.f('fk_coop_receipts_import_id_coop_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_receipts'))
    )
    with op.batch_alter_table('coop_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_receipts_date'), ['date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coop_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_receipts_date'))
    op.drop_table('coop_receipts')

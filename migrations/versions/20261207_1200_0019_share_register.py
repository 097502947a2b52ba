"""the share register of village collectives (份额登记簿)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:00:00

Issue 14 §4 (books-review W7): ``coop_shares`` — a collective's members' quantified shares of its assets, with their
kind (成员份额, 2020 改革量化, 继承, 内部转让), the day they came to the member and, for an inheritance or a transfer,
the member they came from. A register, not money: its rows post nothing (no 资本, no 银行存款); a run's ``shares``
pools weigh each member's holding at the year's end.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('coop_shares',
    sa.Column('member_id', Id, nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('shares', sa.BigInteger(), nullable=False),
    sa.Column('share_kind', sa.String(length=12), nullable=False),
    sa.Column('from_member_id', Id, nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.Column('import_id', Id, nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'],
                            name=op.f('fk_coop_shares_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'],
                            name=op.f('fk_coop_shares_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['from_member_id'], ['coop_members.id'],
                            name=op.f('fk_coop_shares_from_member_id_coop_members')),
    sa.ForeignKeyConstraint(['import_id'], ['coop_imports.id'],
                            name=op.f('fk_coop_shares_import_id_coop_imports')),
    sa.ForeignKeyConstraint(['member_id'], ['coop_members.id'],
                            name=op.f('fk_coop_shares_member_id_coop_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_shares'))
    )
    with op.batch_alter_table('coop_shares', schema=None) as batch_op:
        batch_op.create_index('ix_coop_shares_entity_date', ['entity_id', 'date'], unique=False)
        batch_op.create_index(batch_op.f('ix_coop_shares_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coop_shares_from_member_id'), ['from_member_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coop_shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_shares_from_member_id'))
        batch_op.drop_index(batch_op.f('ix_coop_shares_member_id'))
        batch_op.drop_index('ix_coop_shares_entity_date')
    op.drop_table('coop_shares')

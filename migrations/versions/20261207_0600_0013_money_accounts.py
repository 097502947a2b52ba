"""money accounts: where a delivery, sale or expense is paid, transfers between cash and bank, 其他货币资金

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:00:00

Books-review W1 (库存现金 ended the demo's year at −858,579.00): ``coop_deliveries``, ``coop_sales`` and
``coop_expenses`` gain ``paid_by`` (what each paid by until now: a delivery in cash, a sale and an expense
through the bank); ``coop_transfers`` records money moved between the entity's own accounts (提现, 存现);
every book on the 2021 cooperative chart gains 109 其他货币资金, which the system lets a cooperative add
(fpc2021-accounting-system.txt, the note to the chart: 支付宝或微信收付款 … 可增设“其他货币资金”科目（科目编号 109）).
A payment by ``mobile`` is paid from 109 from now on; the ones recorded before were booked to 102 and say
``bank`` from here, so that voiding one reverses what it posted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
PAID_BY = {"coop_deliveries": "cash", "coop_sales": "bank", "coop_expenses": "bank"}


def upgrade() -> None:
    for table, default in PAID_BY.items():
        op.add_column(table, sa.Column('paid_by', sa.String(length=10), server_default=default, nullable=False))
    op.create_table('coop_transfers',
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('from_account', sa.String(length=10), nullable=False),
    sa.Column('to_account', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.Column('import_id', Id, nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'], name=op.f('fk_coop_transfers_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_coop_transfers_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['import_id'], ['coop_imports.id'], name=op.f('fk_coop_transfers_import_id_coop_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_transfers'))
    )
    with op.batch_alter_table('coop_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_transfers_date'), ['date'], unique=False)
    op.execute("UPDATE coop_payments SET method = 'bank' WHERE method = 'mobile' AND entry_id IS NOT NULL")
    op.execute("INSERT INTO ledger_accounts (book_id, code, name, type, parent_code, postable) "
               "SELECT id, '109', '其他货币资金', 'asset', NULL, true FROM ledger_books WHERE chart = 'fpc2021' "
               "AND NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.book_id = ledger_books.id AND a.code = '109')")


def downgrade() -> None:
    op.execute("DELETE FROM ledger_accounts WHERE code = '109' AND NOT EXISTS "
               "(SELECT 1 FROM ledger_postings p WHERE p.account_id = ledger_accounts.id) "
               "AND book_id IN (SELECT id FROM ledger_books WHERE chart = 'fpc2021')")
    with op.batch_alter_table('coop_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_transfers_date'))
    op.drop_table('coop_transfers')
    for table in PAID_BY:
        if op.get_bind().dialect.name == "postgresql":
            op.drop_column(table, 'paid_by')
        else:
            op.execute(f"ALTER TABLE {table} DROP COLUMN paid_by")

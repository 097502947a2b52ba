"""books carried over to a new system: the book a new one continues

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:00:00

Issue 14 §2 (财会〔2023〕20号): ``coopledger carry-over`` opens a collective's new 2023-chart book at 2024-01-01
from the 2004 book's 2023-12-31 balances; ``ledger_books.previous_book_id`` names the book it continues, so the
years before it are still read from the old book, which is kept as it was; the old book gives its code to the
new one, and ``chain_code`` keeps the code its entries' hashes name, so ``verify`` still checks it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


FK = 'fk_ledger_books_previous_book_id_ledger_books'


def upgrade() -> None:
    # a plain ADD COLUMN, its reference inline on SQLite: rebuilding ledger_books in a batch would trip the
    # ledger's triggers that read it
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE ledger_books ADD COLUMN previous_book_id INTEGER CONSTRAINT {FK} '
                   'REFERENCES ledger_books (id)')
    else:
        op.add_column('ledger_books', sa.Column('previous_book_id', Id, nullable=True))
        op.create_foreign_key(op.f(FK), 'ledger_books', 'ledger_books', ['previous_book_id'], ['id'])
    op.add_column('ledger_books', sa.Column('chain_code', sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column('ledger_books', 'chain_code')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f(FK), 'ledger_books', type_='foreignkey')
    op.drop_column('ledger_books', 'previous_book_id')

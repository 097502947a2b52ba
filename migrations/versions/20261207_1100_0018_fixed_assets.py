"""fixed assets and subsidies that wait in 专项应付款 until used

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 11:00:00

Issue 13 §5 (books-review W2, W11): ``coop_fixed_assets`` — the asset cards (固定资产卡片: bought, built under
在建工程, put in as capital in kind; a subsidy project's; the 扶贫项目资产 flag of the 备查簿; disposal) — and
``coop_asset_accruals``, the depreciation booked for each in each year; ``coop_amortisations``, the amortisation
(162) of each land right put in as capital (161) in each year. A fiscal subsidy now waits in 235 until an
asset or an expense paid out of its ``project`` uses it; the subsidies already recorded were moved to 311 when
received, so they are marked ``held`` false (their void reverses exactly that) and named by their source. Capital
put in kind names the account of what was put in (``coop_capital.account``; before, always 151).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('coop_subsidies', sa.Column('project', sa.String(length=200), nullable=True))
    op.add_column('coop_subsidies', sa.Column('held', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('coop_expenses', sa.Column('project', sa.String(length=200), nullable=True))
    op.add_column('coop_capital', sa.Column('account', sa.String(length=10), nullable=True))
    op.execute(sa.text("UPDATE coop_subsidies SET held = :no, project = source").bindparams(no=False))
    op.create_table('coop_fixed_assets',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('acquired_on', sa.Date(), nullable=False),
    sa.Column('cost', sa.BigInteger(), nullable=False),
    sa.Column('life_years', sa.Integer(), nullable=False),
    sa.Column('salvage_pct', sa.BigInteger(), nullable=False),
    sa.Column('paid_by', sa.String(length=10), nullable=False),
    sa.Column('project', sa.String(length=200), nullable=True),
    sa.Column('poverty_asset', sa.Boolean(), nullable=False),
    sa.Column('under_construction', sa.Boolean(), nullable=False),
    sa.Column('in_use_on', sa.Date(), nullable=True),
    sa.Column('disposed_on', sa.Date(), nullable=True),
    sa.Column('disposal_proceeds', sa.BigInteger(), nullable=True),
    sa.Column('disposal_method', sa.String(length=10), nullable=True),
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.Column('import_id', Id, nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'],
                            name=op.f('fk_coop_fixed_assets_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'],
                            name=op.f('fk_coop_fixed_assets_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['import_id'], ['coop_imports.id'],
                            name=op.f('fk_coop_fixed_assets_import_id_coop_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_fixed_assets'))
    )
    with op.batch_alter_table('coop_fixed_assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_fixed_assets_acquired_on'), ['acquired_on'], unique=False)
    op.create_table('coop_asset_accruals',
    sa.Column('id', Id, nullable=False),
    sa.Column('asset_id', Id, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['coop_fixed_assets.id'],
                            name=op.f('fk_coop_asset_accruals_asset_id_coop_fixed_assets')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'],
                            name=op.f('fk_coop_asset_accruals_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_asset_accruals'))
    )
    with op.batch_alter_table('coop_asset_accruals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_asset_accruals_asset_id'), ['asset_id'], unique=False)
    op.create_table('coop_amortisations',
    sa.Column('id', Id, nullable=False),
    sa.Column('capital_id', Id, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', Id, nullable=True),
    sa.ForeignKeyConstraint(['capital_id'], ['coop_capital.id'],
                            name=op.f('fk_coop_amortisations_capital_id_coop_capital')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'],
                            name=op.f('fk_coop_amortisations_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_amortisations'))
    )
    with op.batch_alter_table('coop_amortisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_amortisations_capital_id'), ['capital_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coop_amortisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_amortisations_capital_id'))
    op.drop_table('coop_amortisations')
    with op.batch_alter_table('coop_asset_accruals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_asset_accruals_asset_id'))
    op.drop_table('coop_asset_accruals')
    with op.batch_alter_table('coop_fixed_assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_fixed_assets_acquired_on'))
    op.drop_table('coop_fixed_assets')
    for table, column in (('coop_capital', 'account'), ('coop_expenses', 'project'), ('coop_subsidies', 'held'), ('coop_subsidies', 'project')):
        if op.get_bind().dialect.name == "postgresql":
            op.drop_column(table, column)
        else:           # (a batch copy of the table would drop its triggers)
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

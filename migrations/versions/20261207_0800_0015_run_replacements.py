"""run replacements: a run drafted while another of its year is in force names the run it replaces

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 08:00:00

Issue 13 §4. Its own table, not a column of ``payout_runs``: a new column would follow the run's JSON columns,
which SQLite reads only by walking their overflow pages (migration 0005).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('payout_run_replacements',
    sa.Column('run_id', Id, nullable=False),
    sa.Column('replaces_id', Id, nullable=False),
    sa.ForeignKeyConstraint(['replaces_id'], ['payout_runs.id'],
                            name=op.f('fk_payout_run_replacements_replaces_id_payout_runs')),
    sa.ForeignKeyConstraint(['run_id'], ['payout_runs.id'], name=op.f('fk_payout_run_replacements_run_id_payout_runs')),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_payout_run_replacements'))
    )
    with op.batch_alter_table('payout_run_replacements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_run_replacements_replaces_id'), ['replaces_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payout_run_replacements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_run_replacements_replaces_id'))
    op.drop_table('payout_run_replacements')

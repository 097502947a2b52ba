"""performance: on SQLite, a run's JSON columns last in its row

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:00:00

SQLite stores a row's columns in order and spills a long value onto overflow pages; reading any column
that follows one means walking its whole overflow chain. A county-sized run keeps ~11 MB of JSON in
``input_json``/``result_json``, which sat before ``digest``, ``notice_until``, ``notice_code`` … — so every
page that showed the run (a household's statement, the run lists, the oversight pages) paid ~2.4 ms per
read (bench/README.md). The table is rebuilt with the JSON last (``payouts.admin.migrate`` turns SQLite's foreign
keys off around migrations, as SQLite's ALTER TABLE procedure requires, and checks them before commit).
PostgreSQL keeps long values out of line (TOAST) whatever the column order: nothing to do there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

COLUMNS = ('id', 'entity_id', 'year', 'policy_id', 'status', 'digest', 'distributable', 'created_at', 'created_by',
           'meeting_date', 'attended', 'votes_for', 'members_count', 'minutes', 'approved_at', 'approved_by',
           'posted_at', 'posted_by', 'published_at', 'notice_until', 'notice_code', 'reverses_id')
IN_FORCE = "status IN ('posted', 'published', 'paid')"


def _rebuild(order: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    with op.batch_alter_table('payout_runs', recreate='always', partial_reordering=[order]) as batch_op:
        batch_op.drop_index('uq_payout_runs_in_force')
    with op.batch_alter_table('payout_runs') as batch_op:       # a partial index: made again, its WHERE stated
        batch_op.create_index('uq_payout_runs_in_force', ['entity_id', 'year'], unique=True,
                              sqlite_where=sa.text(IN_FORCE))


def upgrade() -> None:
    _rebuild((*COLUMNS, 'input_json', 'result_json'))


def downgrade() -> None:
    _rebuild((*COLUMNS[:5], 'input_json', 'result_json', *COLUMNS[5:]))

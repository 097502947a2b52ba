"""财务公开: the publications of an entity's disclosure of a quarter or a month, append-only

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 14:00:00

Issue 15 §7 (农经发〔2011〕13号): ``payout_disclosures`` — one row per publication of an entity's 财务公开 of a period
(``2025-Q1`` or ``2025-03``, its first and last day): the figures as published (JSON) and their hash, the moment, who,
the public code of its page, and the publication it supersedes. Two unique indexes keep each period's publications
a line (one first publication per period, each superseded at most once), and the triggers of
``payouts.reports.disclosure.ddl`` (copied below, as a migration never runs the app's code) make the table
append-only: a correction is a new publication, never an edit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
FIRST = sa.text('supersedes_id IS NULL')

SQLITE_TRIGGERS = [
    """CREATE TRIGGER payout_disclosures_no_update BEFORE UPDATE ON payout_disclosures
BEGIN SELECT RAISE(ABORT, 'disclosure: a publication is never changed; publish the period again instead'); END""",
    """CREATE TRIGGER payout_disclosures_no_delete BEFORE DELETE ON payout_disclosures
BEGIN SELECT RAISE(ABORT, 'disclosure: a publication cannot be deleted; publications are append-only'); END""",
    """CREATE TRIGGER payout_disclosures_no_replace BEFORE INSERT ON payout_disclosures
WHEN EXISTS (SELECT 1 FROM payout_disclosures WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'disclosure: a publication cannot be replaced; publications are append-only'); END""",
]
POSTGRESQL_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION payout_disclosures_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'disclosure: % on % is refused; publications are append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$""",
    """CREATE TRIGGER payout_disclosures_immutable BEFORE UPDATE OR DELETE ON payout_disclosures
FOR EACH ROW EXECUTE FUNCTION payout_disclosures_refuse()""",
    """CREATE TRIGGER payout_disclosures_no_truncate BEFORE TRUNCATE ON payout_disclosures
FOR EACH STATEMENT EXECUTE FUNCTION payout_disclosures_refuse()""",
]


def upgrade() -> None:
    op.create_table('payout_disclosures',
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', Id, nullable=True),
    sa.Column('supersedes_id', Id, nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_payout_disclosures_period_dates')),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'],
                            name=op.f('fk_payout_disclosures_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['published_by'], ['coop_users.id'],
                            name=op.f('fk_payout_disclosures_published_by_coop_users')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['payout_disclosures.id'],
                            name=op.f('fk_payout_disclosures_supersedes_id_payout_disclosures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_disclosures')),
    sa.UniqueConstraint('code', name=op.f('uq_payout_disclosures_code')),
    sa.UniqueConstraint('supersedes_id', name=op.f('uq_payout_disclosures_supersedes_id'))
    )
    with op.batch_alter_table('payout_disclosures', schema=None) as batch_op:
        batch_op.create_index('ix_payout_disclosures_entity_period', ['entity_id', 'period'], unique=False)
        batch_op.create_index('uq_payout_disclosures_first', ['entity_id', 'period'], unique=True,
                              sqlite_where=FIRST, postgresql_where=FIRST)
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == 'sqlite' else POSTGRESQL_TRIGGERS if dialect == 'postgresql' else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS payout_disclosures_immutable ON payout_disclosures')
        op.execute('DROP TRIGGER IF EXISTS payout_disclosures_no_truncate ON payout_disclosures')
        op.execute('DROP FUNCTION IF EXISTS payout_disclosures_refuse()')
    elif dialect == 'sqlite':
        for name in ('no_update', 'no_delete', 'no_replace'):
            op.execute(f'DROP TRIGGER IF EXISTS payout_disclosures_{name}')
    with op.batch_alter_table('payout_disclosures', schema=None) as batch_op:
        batch_op.drop_index('uq_payout_disclosures_first', sqlite_where=FIRST, postgresql_where=FIRST)
        batch_op.drop_index('ix_payout_disclosures_entity_period')
    op.drop_table('payout_disclosures')

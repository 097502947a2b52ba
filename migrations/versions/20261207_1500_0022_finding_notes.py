"""Township findings marked handled: who, when and what was done, append-only

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:00:00

Issue 16: ``oversight_finding_notes`` — one row per note that marks an anomaly finding handled (the finding's
stable key: rule, entity, year and the records it is about; the note; who; when). The triggers of
``payouts.oversight.ddl`` (copied below, as a migration never runs the app's code) make the table append-only like
the auditor's other records: a later note on the same finding is a new row. On PostgreSQL they call
``oversight_refuse_change()``, which migration 0006 created for the opinions and integrity checks; it is created
again here ``OR REPLACE`` (the same body) and left in place by the downgrade, which 0006 owns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

SQLITE_TRIGGERS = [
    """CREATE TRIGGER oversight_finding_notes_no_update BEFORE UPDATE ON oversight_finding_notes
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_finding_notes is append-only; record a new row instead'); END""",
    """CREATE TRIGGER oversight_finding_notes_no_delete BEFORE DELETE ON oversight_finding_notes
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_finding_notes is append-only; rows cannot be deleted'); END""",
    """CREATE TRIGGER oversight_finding_notes_no_replace BEFORE INSERT ON oversight_finding_notes
WHEN EXISTS (SELECT 1 FROM oversight_finding_notes WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'oversight: oversight_finding_notes is append-only; a row cannot be replaced'); END""",
]
POSTGRESQL_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION oversight_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'oversight: % on % is refused; the table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$""",
    """CREATE TRIGGER oversight_finding_notes_immutable BEFORE UPDATE OR DELETE ON oversight_finding_notes
FOR EACH ROW EXECUTE FUNCTION oversight_refuse_change()""",
    """CREATE TRIGGER oversight_finding_notes_no_truncate BEFORE TRUNCATE ON oversight_finding_notes
FOR EACH STATEMENT EXECUTE FUNCTION oversight_refuse_change()""",
]


def upgrade() -> None:
    op.create_table('oversight_finding_notes',
    sa.Column('id', Id, nullable=False),
    sa.Column('entity_id', Id, nullable=False),
    sa.Column('finding_key', sa.String(length=300), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('actor_id', Id, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['coop_users.id'],
                            name=op.f('fk_oversight_finding_notes_actor_id_coop_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'],
                            name=op.f('fk_oversight_finding_notes_entity_id_coop_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_finding_notes'))
    )
    with op.batch_alter_table('oversight_finding_notes', schema=None) as batch_op:
        batch_op.create_index('ix_oversight_finding_notes_entity_key', ['entity_id', 'finding_key'], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == 'sqlite' else POSTGRESQL_TRIGGERS if dialect == 'postgresql' else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS oversight_finding_notes_immutable ON oversight_finding_notes')
        op.execute('DROP TRIGGER IF EXISTS oversight_finding_notes_no_truncate ON oversight_finding_notes')
    elif dialect == 'sqlite':
        for name in ('no_update', 'no_delete', 'no_replace'):
            op.execute(f'DROP TRIGGER IF EXISTS oversight_finding_notes_{name}')
    with op.batch_alter_table('oversight_finding_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_oversight_finding_notes_entity_key')
    op.drop_table('oversight_finding_notes')

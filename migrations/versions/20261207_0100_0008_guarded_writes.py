"""guarded writes: households shared without sharing secrets, cluster projects linked, imports as jobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:00:00

* ``coop_households`` gains ``owner_entity_id`` (the entity that registered it: it keeps the PIN, the
  household's size and the numbers it recorded) and ``id_number_digest`` (the keyed hash another entity's
  typed ID number is matched against). Owners are back-filled from each household's first membership.
  Digests need the data keys: ``coopledger init`` has them and fills them in here; a migration run without
  them leaves the digests empty and ``coopledger rotate-keys`` fills them in later.
* ``coop_members`` gains ``id_recorded`` (this entity recorded the ID number: true for the owner's
  memberships; a membership of another entity made before this revision was never proved, so it is not)
  and its own bank account (encrypted, masked, digested).
* ``coop_entity_links``: the member entities linked to a cluster project. Back-filled with the existing
  members of projects that are entities of the project's own township — never one of another township
  (exactly what issue 12 found being written into through an import).
* ``coop_import_jobs``: uploaded workbooks imported by jobs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('coop_households') as batch_op:
        batch_op.add_column(sa.Column('id_number_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('owner_entity_id', ID, nullable=True))
        batch_op.create_index(batch_op.f('ix_coop_households_id_number_digest'), ['id_number_digest'], unique=False)
        batch_op.create_index(batch_op.f('ix_coop_households_owner_entity_id'), ['owner_entity_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_coop_households_owner_entity_id_coop_entities'), 'coop_entities',
                                    ['owner_entity_id'], ['id'])
    with op.batch_alter_table('coop_members') as batch_op:
        batch_op.add_column(sa.Column('id_recorded', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('bank_account_enc', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('bank_account_masked', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('bank_account_digest', sa.String(length=64), nullable=True))
    with op.batch_alter_table('coop_members') as batch_op:
        batch_op.alter_column('id_recorded', server_default=None, existing_type=sa.Boolean(), existing_nullable=False)
    op.create_table('coop_entity_links',
    sa.Column('id', ID, nullable=False),
    sa.Column('project_id', ID, nullable=False),
    sa.Column('member_entity_id', ID, nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['member_entity_id'], ['coop_entities.id'],
                            name=op.f('fk_coop_entity_links_member_entity_id_coop_entities')),
    sa.ForeignKeyConstraint(['project_id'], ['coop_entities.id'], name=op.f('fk_coop_entity_links_project_id_coop_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_entity_links')),
    sa.UniqueConstraint('project_id', 'member_entity_id', name=op.f('uq_coop_entity_links_project_id_member_entity_id'))
    )
    with op.batch_alter_table('coop_entity_links') as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_entity_links_member_entity_id'), ['member_entity_id'], unique=False)
    op.create_table('coop_import_jobs',
    sa.Column('id', ID, nullable=False),
    sa.Column('entity_id', ID, nullable=False),
    sa.Column('actor_id', ID, nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('form', sa.String(length=5), nullable=False),
    sa.Column('upload', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_json', sa.Text(), nullable=True),
    sa.Column('problems_json', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['coop_users.id'], name=op.f('fk_coop_import_jobs_actor_id_coop_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['coop_entities.id'], name=op.f('fk_coop_import_jobs_entity_id_coop_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_import_jobs'))
    )
    with op.batch_alter_table('coop_import_jobs') as batch_op:
        batch_op.create_index(batch_op.f('ix_coop_import_jobs_entity_id'), ['entity_id'], unique=False)
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    households = sa.table('coop_households', sa.column('id', ID), sa.column('owner_entity_id', ID),
                          sa.column('id_number_enc', sa.LargeBinary()), sa.column('id_number_digest', sa.String()))
    members = sa.table('coop_members', sa.column('id', ID), sa.column('entity_id', ID), sa.column('household_id', ID),
                       sa.column('member_entity_id', ID), sa.column('id_recorded', sa.Boolean()))
    entities = sa.table('coop_entities', sa.column('id', ID), sa.column('kind', sa.String()),
                        sa.column('township_id', ID))
    links = sa.table('coop_entity_links', sa.column('project_id', ID), sa.column('member_entity_id', ID))
    first = (sa.select(members.c.entity_id).where(members.c.household_id == households.c.id)
             .order_by(members.c.id).limit(1).scalar_subquery())
    bind.execute(households.update().values(owner_entity_id=first))
    owned = sa.select(households.c.id).where(households.c.id == members.c.household_id,
                                             households.c.owner_entity_id == members.c.entity_id).exists()
    bind.execute(members.update().where(owned).values(id_recorded=True))
    project, member = entities.alias('project'), entities.alias('member')
    rows = bind.execute(sa.select(members.c.entity_id, members.c.member_entity_id)
                        .join(project, project.c.id == members.c.entity_id)
                        .join(member, member.c.id == members.c.member_entity_id)
                        .where(project.c.kind == 'cluster_project', member.c.township_id == project.c.township_id)).all()
    if rows:
        bind.execute(links.insert(), [{"project_id": p, "member_entity_id": m} for p, m in rows])
    _digests(bind, households)


def _digests(bind, households) -> None:
    """The keyed hashes of the ID numbers, when this process has the keys (``coopledger init`` has)."""
    try:
        from cooperatives import privacy

        privacy.digest("probe")
    except Exception:       # no keys here: `coopledger rotate-keys` fills the digests in later
        return
    rows = bind.execute(sa.select(households.c.id, households.c.id_number_enc)
                        .where(households.c.id_number_enc.is_not(None))).all()
    for household_id, token in rows:
        bind.execute(households.update().where(households.c.id == household_id)
                     .values(id_number_digest=privacy.digest(privacy.decrypt(token))))


def downgrade() -> None:
    with op.batch_alter_table('coop_import_jobs') as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_import_jobs_entity_id'))
    op.drop_table('coop_import_jobs')
    with op.batch_alter_table('coop_entity_links') as batch_op:
        batch_op.drop_index(batch_op.f('ix_coop_entity_links_member_entity_id'))
    op.drop_table('coop_entity_links')
    with op.batch_alter_table('coop_members') as batch_op:
        batch_op.drop_column('bank_account_digest')
        batch_op.drop_column('bank_account_masked')
        batch_op.drop_column('bank_account_enc')
        batch_op.drop_column('id_recorded')
    with op.batch_alter_table('coop_households') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_coop_households_owner_entity_id_coop_entities'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_coop_households_owner_entity_id'))
        batch_op.drop_index(batch_op.f('ix_coop_households_id_number_digest'))
        batch_op.drop_column('owner_entity_id')
        batch_op.drop_column('id_number_digest')

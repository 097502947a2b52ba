"""Migrations: `upgrade head` builds exactly the models' schema (with the ledger's guards), and every
revision goes down and up again. On SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.db import Base, make_engine
from payouts.migrate import alembic_config, downgrade, upgrade


@pytest.fixture
def engine(isolated_db):
    engine = make_engine(isolated_db)
    yield engine
    engine.dispose()


def test_upgrade_head_matches_the_models(engine):
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []


def test_migrated_database_keeps_the_ledger_guards(engine):
    upgrade(engine)
    with pytest.raises(DBAPIError, match="unbalanced"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO ledger_books (code, name, chart, head_hash, entry_count) "
                              "VALUES ('M', 'm', 'fpc2021', '', 0)"))
            conn.execute(text("INSERT INTO ledger_entries (id, book_id, year, voucher_no, date, memo, prev_hash, hash) "
                              "SELECT 1, id, 2025, 1, '2025-01-01', '', '', '' FROM ledger_books"))


def test_every_revision_goes_down_and_up(engine):
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()]
    upgrade(engine)
    for revision in revisions:                       # newest first
        downgrade(engine, f"{revision}-1" if revision != revisions[-1] else "base")
        upgrade(engine, revision)
        downgrade(engine, "-1")
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_books")).scalar() == 0

"""Migrations: `upgrade head` builds exactly the models' schema (with the ledger's guards), and every
revision goes down and up again. On SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ledger.db import Base, make_engine
from ledger.models import Book
from payouts.admin.migrate import alembic_config, downgrade, upgrade


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


def test_a_table_rebuild_keeps_the_data_and_refuses_to_leave_a_broken_reference(engine):
    """On SQLite, 0005 rebuilds payout_runs (its JSON last) with foreign keys off, as SQLite's procedure
    requires: rows and references survive, and a reference broken meanwhile rolls the migration back."""
    from sqlalchemy import inspect

    upgrade(engine, "0004")
    with engine.begin() as conn:      # a run and a statement pointing at it; then an orphan statement
        conn.execute(text("INSERT INTO coop_townships (id, name) VALUES (1, '甲乡')"))
        conn.execute(text("INSERT INTO ledger_books (id, code, name, chart, head_hash, entry_count) "
                          "VALUES (1, 'M', 'm', 'fpc2021', '', 0)"))
        conn.execute(text("INSERT INTO coop_entities (id, code, name, kind, township_id, book_id, first_year) "
                          "VALUES (1, 'M', 'm', 'farmer_coop', 1, 1, 2025)"))
        conn.execute(text("INSERT INTO payout_policies (id, entity_id, version, body) VALUES (1, 1, 1, '')"))
        conn.execute(text("INSERT INTO payout_runs (id, entity_id, year, policy_id, status, input_json, result_json, "
                          "digest, distributable) VALUES (7, 1, 2025, 1, 'draft', '{\"in\": 1}', '{\"out\": 2}', "
                          "'d', 100)"))
    upgrade(engine, "0005")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, status, input_json, result_json, distributable FROM payout_runs")).one()
        assert tuple(row) == (7, "draft", '{"in": 1}', '{"out": 2}', 100)
    if engine.dialect.name == "sqlite":
        columns = [c["name"] for c in inspect(engine).get_columns("payout_runs")]
        assert columns[-2:] == ["input_json", "result_json"]
        downgrade(engine, "0004")
        raw = engine.raw_connection()
        try:                          # a run pointing at a policy that is not there, written with the guard off
            raw.execute("PRAGMA foreign_keys = OFF")
            raw.execute("UPDATE payout_runs SET policy_id = 99")
            raw.commit()
        finally:
            raw.close()
        with pytest.raises(RuntimeError, match="broken reference"):
            upgrade(engine, "0005")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"


def test_entry_kinds_are_read_from_the_sources_of_books_written_before_them(engine):
    """0010 fills ``kind`` from each entry's source as the code wrote it until then: going down to 0009 and up
    again gives every entry back its kind, the year rule reads it, and every hash still verifies."""
    import datetime as dt
    from decimal import Decimal

    from sqlalchemy.orm import Session

    from ledger.entries import EntryDraft, PostingDraft
    from ledger.errors import ClosedPeriod
    from ledger.models import JournalEntry
    from ledger.operations import begin_closing, create_book, post_entries, reverse_entry
    from ledger.verify import verify_book

    def legs(amount="5.00"):
        return (PostingDraft("101", Decimal(amount)), PostingDraft("501", -Decimal(amount)))

    upgrade(engine)
    with Session(engine) as session:
        book = create_book(session, code="K", name="k", chart="fpc2021")
        post_entries(session, book, [EntryDraft(dt.date(2025, 3, 1), legs(), source=source, kind=kind)
                                     for source, kind in (("deliveries:1", "ordinary"), ("land-rent:2025:1:1", "accrual"),
                                                          ("void:deliveries:1", "reversal"), (None, "ordinary"))])
        first = session.scalar(select(JournalEntry).where(JournalEntry.source == "deliveries:1"))
        reverse_entry(session, first)
        post_entries(session, book, [EntryDraft(dt.date(2025, 12, 31), legs(), source=source, kind=kind)
                                     for source, kind in (("close:2025:pl", "closing"), ("run:1:pool:x", "distribution"),
                                                          ("run:2:reverses:6", "distribution"))])
        session.commit()
        kinds = dict(session.execute(select(JournalEntry.id, JournalEntry.kind)).tuples().all())
    assert sorted(set(kinds.values())) == ["accrual", "closing", "distribution", "ordinary", "reversal"]
    downgrade(engine, "0009")
    upgrade(engine)
    with Session(engine) as session:
        assert dict(session.execute(select(JournalEntry.id, JournalEntry.kind)).tuples().all()) == kinds
        book = session.scalar(select(Book).where(Book.code == "K"))
        assert verify_book(session, book) == []
        begin_closing(session, book, 2025)
        post_entries(session, book, [EntryDraft(dt.date(2025, 12, 31), legs(), source="close:2025:x", kind="closing")])
        with pytest.raises(ClosedPeriod):
            post_entries(session, book, [EntryDraft(dt.date(2025, 12, 31), legs(), source="close:2025:y")])
        session.commit()

"""Migration 0021: the 财务公开 publications table, append-only in a migrated database as in one the models made,
and gone again on the way down. On SQLite and PostgreSQL."""

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from ledger.db import make_engine
from payouts.admin.migrate import downgrade, upgrade


@pytest.fixture
def engine(isolated_db):
    engine = make_engine(isolated_db)
    yield engine
    engine.dispose()


def test_a_migrated_database_refuses_to_change_a_publication(engine):
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO coop_townships (id, name) VALUES (1, '甲乡')"))
        conn.execute(text("INSERT INTO ledger_books (id, code, name, chart, head_hash, entry_count) "
                          "VALUES (1, 'M', 'm', 'fpc2021', '', 0)"))
        conn.execute(text("INSERT INTO coop_entities (id, code, name, kind, township_id, book_id) "
                          "VALUES (1, 'M', 'm', 'farmer_coop', 1, 1)"))
        conn.execute(text("INSERT INTO payout_disclosures (id, entity_id, period, starts_on, ends_on, code, digest, "
                          "published_at, data) VALUES (1, 1, '2025-Q1', '2025-01-01', '2025-03-31', 'AAAA-BBBB-CCCC', "
                          "'d', '2025-04-10 09:00:00+00', '{}')"))
    for sql in ("UPDATE payout_disclosures SET digest = 'x'", "DELETE FROM payout_disclosures"):
        with pytest.raises(DBAPIError, match="disclosure"):
            with engine.begin() as conn:
                conn.execute(text(sql))
    with pytest.raises(DBAPIError):        # a second first publication of the period
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO payout_disclosures (id, entity_id, period, starts_on, ends_on, code, "
                              "digest, published_at, data) VALUES (2, 1, '2025-Q1', '2025-01-01', '2025-03-31', "
                              "'DDDD-EEEE-FFFF', 'd', '2025-04-11 09:00:00+00', '{}')"))
    downgrade(engine, "0020")
    assert "payout_disclosures" not in inspect(engine).get_table_names()

"""Shared fixtures: one database per test session, one rolled-back transaction per test.

``--db-url`` (or TEST_DATABASE_URL) picks the database: in-memory SQLite by default, PostgreSQL in CI.
Code under test may call ``commit()``: with ``join_transaction_mode="create_savepoint"`` it only
releases a savepoint, and the outer transaction is rolled back after the test.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

import cooperatives.models  # noqa: F401  (registers tables)
import payouts.models  # noqa: F401
from ledger.db import Base, make_engine
from ledger.operations import create_book


def pytest_addoption(parser):
    parser.addoption("--db-url", default=os.environ.get("TEST_DATABASE_URL", "sqlite+pysqlite:///:memory:"))


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--db-url").startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with TEST_DATABASE_URL=postgresql+psycopg://…)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def db_url(request) -> str:
    return request.config.getoption("--db-url")


def reset_schema(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        Base.metadata.drop_all(engine)


@pytest.fixture(scope="session")
def engine(db_url):
    engine = make_engine(db_url)
    reset_schema(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def book(session):
    return create_book(session, code="TEST-COOP", name="测试合作社", chart="fpc2021")

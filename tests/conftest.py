"""Shared fixtures: one database per test session, one rolled-back transaction per test.

``--db-url`` (or TEST_DATABASE_URL) picks the database: in-memory SQLite by default, PostgreSQL in CI.
Under pytest-xdist (``make test``) each worker has its own: in-memory SQLite per process, a schema of its
own in the PostgreSQL database.
Code under test may call ``commit()``: with ``join_transaction_mode="create_savepoint"`` it only
releases a savepoint, and the outer transaction is rolled back after the test.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text
from sqlalchemy.orm import Session

import cooperatives.models  # noqa: F401  (registers tables)
import payouts.models  # noqa: F401
from ledger.db import Base, make_engine
from ledger.operations import create_book

# Property tests may run beside a database suite on a loaded 2-core machine: no timing health checks
# (speed is measured under bench/, never asserted in tests). Failures print a reproducible example.
settings.register_profile("coopledger", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          print_blob=True)
settings.load_profile("coopledger")


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


def worker_schema() -> str | None:
    """Under pytest-xdist (``make test`` runs the files on every core), each worker's PostgreSQL schema:
    the workers share the database, never a table. None when the tests run in one process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"test_{worker}" if worker else None


@pytest.fixture(scope="session")
def engine(db_url):
    schema = worker_schema() if db_url.startswith("postgresql") else None
    if schema is None:
        engine = make_engine(db_url)
        reset_schema(engine)
    else:
        from urllib.parse import quote

        admin = make_engine(db_url)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        engine = make_engine(f"{db_url}?options={quote(f'-csearch_path={schema}')}")
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


@pytest.fixture
def app(session):
    """The Flask app, its views and commands sharing the test's rolled-back transaction."""
    from cooperatives.imports import run_import_job
    from payouts.app import create_app
    from payouts.settings import Settings

    app = create_app(Settings(database_url="sqlite://", secret_key="test", testing=True, cookie_secure=False))
    app.extensions["ledger.sessionmaker"] = {"read": lambda: session, "write": lambda: session,
                                             "engine": session.get_bind()}
    # an uploaded workbook's import job runs at once, in the request, on the test's session (the same job code
    # the real launcher starts in a process of its own)
    app.extensions["coop.import_launcher"] = lambda job_id: run_import_job(session, job_id)
    return app


@pytest.fixture
def demo_world(app, session):
    """The demo world loaded and committed (``coopledger demo``: the cooperatives, the cluster project and its
    villages, the land-share cooperative; ``app`` configures the keys that encrypt ID numbers)."""
    from payouts.admin.demo import load_demo_world

    assert load_demo_world(session)
    session.commit()
    return session


@pytest.fixture
def cli(app):
    """Run a ``coopledger`` command: ``cli("verify", "--entity", "X")`` -> click Result (stdout, stderr, exit_code)."""
    runner = app.test_cli_runner()

    def invoke(*args):            # the tests read the commands' English (COOP_LANG; Chinese by default)
        return runner.invoke(args=list(args), catch_exceptions=False, env={"COOP_LANG": "en"})

    return invoke


@pytest.fixture
def isolated_db(db_url, tmp_path):
    """An empty database of its own, for tests that commit for real (other processes, migrations):
    a file on SQLite, a fresh schema on PostgreSQL (dropped afterwards). Yields its URL."""
    if not db_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'isolated.db'}"
        return
    import uuid
    from urllib.parse import quote

    schema = f"iso_{uuid.uuid4().hex[:10]}"
    admin = make_engine(db_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{db_url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def xlsx(tmp_path):
    """Write ``{sheet: [header, *rows]}`` as an .xlsx workbook; returns its path as a string."""
    import openpyxl

    counter = iter(range(1000))

    def write(sheets: dict, name: str | None = None) -> str:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in sheets.items():
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(list(row))
        path = tmp_path / (name or f"workbook{next(counter)}.xlsx")
        wb.save(path)
        return str(path)

    return write


@pytest.fixture
def policy_file(tmp_path):
    """Write a policy TOML; returns its path."""
    def write(text: str) -> str:
        path = tmp_path / f"policy{abs(hash(text))}.toml"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def worked_example():
    """A function returning the worked example's workbook (``worked_example(code="WX", township="例乡")``)."""
    from samples import worked_example_workbook

    return worked_example_workbook

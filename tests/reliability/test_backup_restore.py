"""``coopledger backup`` and ``coopledger restore`` round-trip the demo world: into an empty database,
the restored books have the same trial balances, the same hash-chain heads (and verify), and every
statement and notice code verifies exactly as before. A damaged file and a non-empty target are
refused before anything is touched.

SQLite: files under tmp_path. PostgreSQL: two scratch databases named after the test database
(``<db>a`` and ``<db>b``), created and dropped here.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ledger.db import make_engine
from ledger.models import Book
from ledger.queries import trial_balance
from ledger.verify import verify_books
from payouts.admin.backup import manifest_path


def _app(url: str):
    from payouts.app import create_app
    from payouts.settings import Settings

    return create_app(Settings(database_url=url, secret_key="backup-test", testing=True, cookie_secure=False))


def coopledger(url: str, *args: str):
    """Run a ``coopledger`` command against the database ``url`` (in process); returns the click Result."""
    app = _app(url)
    try:
        return app.test_cli_runner().invoke(args=list(args))
    finally:
        app.extensions["ledger.sessionmaker"]["engine"].dispose()


@pytest.fixture(scope="module")
def databases(request, tmp_path_factory):
    """(source URL, empty target URL, another empty target URL)."""
    db_url = request.config.getoption("--db-url")
    if not db_url.startswith("postgresql"):
        folder = tmp_path_factory.mktemp("backup")
        yield tuple(f"sqlite:///{folder / name}" for name in ("source.db", "target.db", "other.db"))
        return
    base = make_url(db_url)
    names = [f"{base.database}{suffix}" for suffix in ("a", "b", "c")]
    admin = make_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(base.set(database=name).render_as_string(hide_password=False) for name in names)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def snapshot_of(url: str) -> dict:
    """What must survive a round trip: trial balances, hash-chain heads, verification of every code."""
    from payouts.models import PayoutRun, StatementSnapshot
    from payouts.statements.operations import verify_code

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            books = session.scalars(select(Book).order_by(Book.code)).all()
            out = {
                "verify": [str(d) for d in verify_books(session)],
                "heads": {b.code: (b.entry_count, b.head_hash, b.head_entry_id) for b in books},
                "trial_balances": {b.code: [(r.code, str(r.debit), str(r.credit), str(r.closing))
                                            for r in trial_balance(session, b)] for b in books},
            }
            codes = [*session.scalars(select(StatementSnapshot.code).order_by(StatementSnapshot.code)),
                     *session.scalars(select(PayoutRun.notice_code).where(PayoutRun.notice_code.is_not(None))
                                      .order_by(PayoutRun.notice_code))]
            out["codes"] = {code: asdict(verify_code(session, code)) for code in codes}
            return out
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def backed_up(databases, tmp_path_factory):
    """The demo world in the source database, backed up with ``coopledger backup``."""
    source, _target, _other = databases
    assert coopledger(source, "init").exit_code == 0
    loaded = coopledger(source, "demo")
    assert loaded.exit_code == 0, loaded.output
    path = tmp_path_factory.mktemp("dumps") / "coopledger.backup"
    done = coopledger(source, "backup", str(path))
    assert done.exit_code == 0, done.output
    return path, snapshot_of(source)


def test_round_trip_of_the_demo_world_is_identical(databases, backed_up):
    path, before = backed_up
    _source, target, _other = databases
    assert before["verify"] == [] and len(before["heads"]) >= 12 and len(before["codes"]) >= 300
    assert all(v["found"] and v["matches_ledger"] for v in before["codes"].values())
    manifest = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    assert manifest["books"] == {code: {"entries": n, "head_hash": h} for code, (n, h, _) in before["heads"].items()}

    restored = coopledger(target, "restore", str(path))
    assert restored.exit_code == 0, restored.output
    assert "every hash chain verified" in restored.stdout
    after = snapshot_of(target)
    assert after["verify"] == []
    assert after["heads"] == before["heads"]
    assert after["trial_balances"] == before["trial_balances"]
    assert after["codes"] == before["codes"]
    # the restored database is a working one: the ledger's guards and the schema revision came along
    engine = make_engine(target)
    try:
        with pytest.raises(Exception, match="cannot be (changed|deleted)|posted"):
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM ledger_postings"))
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == manifest["revision"]
    finally:
        engine.dispose()


def test_a_non_empty_database_is_refused_unless_forced(databases, backed_up):
    path, before = backed_up
    source, _target, _other = databases
    refused = coopledger(source, "restore", str(path))
    assert refused.exit_code == 1
    assert "not empty" in refused.output and "--force" in refused.output
    forced = coopledger(source, "restore", "--force", str(path))
    assert forced.exit_code == 0, forced.output
    assert snapshot_of(source) == before


def test_a_damaged_backup_is_refused_before_anything_is_written(databases, backed_up, tmp_path):
    path, _before = backed_up
    _source, _target, other = databases
    damaged = tmp_path / "damaged.backup"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01                     # one flipped bit in the middle
    damaged.write_bytes(bytes(data))
    manifest_path(damaged).write_bytes(manifest_path(path).read_bytes())
    result = coopledger(other, "restore", str(damaged))
    assert result.exit_code == 1
    assert "does not match its manifest" in result.output
    engine = make_engine(other)
    try:
        with engine.connect() as conn:
            from sqlalchemy import inspect

            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def test_not_a_backup_and_a_missing_file_get_a_clear_message(databases, tmp_path):
    _source, _target, other = databases
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup", encoding="utf-8")
    for path, message in ((junk, "neither a SQLite database nor a pg_dump"), (tmp_path / "nope", "no backup file")):
        result = coopledger(other, "restore", str(path))
        assert result.exit_code == 1 and message in result.output
        assert "Traceback" not in result.output


def test_backup_file_name_is_written_atomically_and_never_half(databases, backed_up):
    path, _before = backed_up
    assert not list(Path(path).parent.glob(".*.partial"))
    assert Path(path).stat().st_size == json.loads(manifest_path(path).read_text())["size"]

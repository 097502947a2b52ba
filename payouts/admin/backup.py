"""Backups that can be trusted, and restores that prove themselves (``coopledger backup`` / ``restore``).

Never a copy of the live file: SQLite is copied with its online backup API (a consistent snapshot
even while others write; ``PRAGMA integrity_check`` on the copy) and PostgreSQL with ``pg_dump``
in its custom format, reading the exact snapshot the manifest was counted in (``--snapshot``).

Beside every backup ``PATH`` goes ``PATH.manifest.json``: the file's sha256 and size, the database
kind, the schema revision, the row count of every table and, per book, the number of entries and
the head of its hash chain. ``restore`` checks the file against it before touching anything (a
flipped byte is refused), refuses a database that is not empty (unless forced), restores in one
transaction, then counts again, compares every figure with the manifest and recomputes every hash
chain (:func:`ledger.verify.verify_books`). A restore that does not match says what differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select, table, text
from sqlalchemy.orm import Session

from ledger.models import Book

FORMAT = "coopledger-backup/1"
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
Say = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go ahead or did not come out right; the message says why."""


@dataclass
class RestoreReport:
    manifest: dict
    restored: dict
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------ the state


def database_state(connection) -> dict:
    """Row count of every table, per book its entries and hash-chain head, the schema revision."""
    names = sorted(n for n in inspect(connection).get_table_names())
    tables = {name: connection.scalar(select(func.count()).select_from(table(name))) for name in names}
    books = {}
    if "ledger_books" in names:
        with Session(bind=connection) as session:
            for book in session.scalars(select(Book).order_by(Book.code)):
                books[book.code] = {"entries": book.entry_count, "head_hash": book.head_hash}
    revision = None
    if "alembic_version" in names:
        revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return {"revision": revision, "tables": tables, "books": books}


def is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not inspect(conn).get_table_names()


def _write_manifest(path: Path, dialect: str, state: dict) -> dict:
    manifest = {"format": FORMAT, "dialect": dialect, "file": path.name, "size": path.stat().st_size,
                "sha256": sha256_of(path), "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                **state}
    _atomic_write(manifest_path(path), json.dumps(manifest, ensure_ascii=False, indent=2).encode())
    return manifest


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------- backup


def backup(engine: Engine, path: str | Path, *, say: Say = lambda _m: None) -> dict:
    """Back the database of ``engine`` up into ``path`` (plus its manifest); returns the manifest."""
    path = Path(path).resolve()
    if path.is_dir():
        raise BackupError(f"{path} is a folder; give the backup file's name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        return _backup_sqlite(engine, path, say)
    if engine.dialect.name == "postgresql":
        return _backup_postgresql(engine, path, say)
    raise BackupError(f"cannot back up a {engine.dialect.name} database")


def _sqlite_file(engine: Engine) -> Path:
    database = engine.url.database
    if database in (None, "", ":memory:"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database).resolve()


def _backup_sqlite(engine: Engine, path: Path, say: Say) -> dict:
    source_file = _sqlite_file(engine)
    if not source_file.exists():
        raise BackupError(f"there is no database at {source_file}")
    tmp = path.with_name(f".{path.name}.partial")
    tmp.unlink(missing_ok=True)
    say(f"backing up {source_file} (SQLite online backup) …")
    source = sqlite3.connect(source_file, timeout=30)
    target = sqlite3.connect(tmp)
    try:
        def progress(_status, remaining, total):
            if total:
                say(f"  {total - remaining}/{total} pages")

        source.backup(target, pages=4096, progress=progress)
        target.execute("PRAGMA journal_mode = DELETE")          # a single self-contained file
        check = target.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"the copy failed SQLite's integrity check: {check[:5]}")
    finally:
        target.close()
        source.close()
    from ledger.db import make_engine

    copy = make_engine(f"sqlite:///{tmp}")
    try:
        with copy.connect() as conn:
            state = database_state(conn)
    finally:
        copy.dispose()
    _fsync_replace(tmp, path)
    return _write_manifest(path, "sqlite", state)


def libpq_environment(engine: Engine) -> tuple[list[str], dict[str, str]]:
    """``pg_dump``/``pg_restore`` connection arguments for ``engine``'s URL; the password goes in the
    environment (``PGPASSWORD``), never on the command line where ``ps`` shows it."""
    url = engine.url
    args = ["--dbname", url.database or ""]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    options = url.query.get("options")
    if options:
        env["PGOPTIONS"] = options if isinstance(options, str) else " ".join(options)
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found: install the PostgreSQL client (Debian: postgresql-client)")
    return found


def _run_tool(cmd: list[str], env: dict, what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed: " + ("; ".join(lines[-5:]) or f"exit {done.returncode}"))


def _check_versions(engine: Engine, tool: str) -> None:
    """pg_dump/pg_restore must be at least the server's major version (PostgreSQL refuses otherwise)."""
    out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    client_major = int("".join(ch for ch in out.split()[-1].split(".")[0] if ch.isdigit()) or 0)
    with engine.connect() as conn:
        server_major = int(conn.scalar(text("SHOW server_version_num"))) // 10000
    if client_major < server_major:
        raise BackupError(f"{Path(tool).name} is version {client_major} but the server is {server_major}: "
                          f"install postgresql-client-{server_major}")


def _backup_postgresql(engine: Engine, path: Path, say: Say) -> dict:
    pg_dump = _tool("pg_dump")
    _check_versions(engine, pg_dump)
    args, env = libpq_environment(engine)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.unlink(missing_ok=True)
    with engine.connect() as conn:
        # count in one snapshot and let pg_dump read exactly that snapshot: the manifest is the dump
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
        state = database_state(conn)
        say(f"backing up database {engine.url.database} (pg_dump, custom format) …")
        _run_tool([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                   "--file", str(tmp), *args], env, "pg_dump")
        conn.rollback()
    _fsync_replace(tmp, path)
    return _write_manifest(path, "postgresql", state)


# -------------------------------------------------------------------------------------------- restore


def read_manifest(path: Path) -> dict | None:
    mpath = manifest_path(path)
    if not mpath.exists():
        return None
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BackupError(f"{mpath} is not a readable manifest: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{mpath} is not a coopledger backup manifest")
    return manifest


def check_backup(path: str | Path) -> tuple[str, dict | None]:
    """The backup's kind ("sqlite"/"postgresql") and manifest, after checking the file against it."""
    path = Path(path).resolve()
    if not path.is_file():
        raise BackupError(f"there is no backup file at {path}")
    with open(path, "rb") as fh:
        head = fh.read(16)
    kind = "sqlite" if head.startswith(SQLITE_MAGIC) else "postgresql" if head.startswith(PG_MAGIC) else None
    if kind is None:
        raise BackupError(f"{path} is neither a SQLite database nor a pg_dump custom-format file")
    manifest = read_manifest(path)
    if manifest is not None:
        if manifest.get("dialect") != kind:
            raise BackupError(f"{path} is a {kind} backup but its manifest says {manifest.get('dialect')}")
        if path.stat().st_size != manifest["size"] or sha256_of(path) != manifest["sha256"]:
            raise BackupError(f"{path} does not match its manifest (sha256 or size differ): the file is damaged "
                              "or was changed; use another copy")
    return kind, manifest


def restore(engine: Engine, path: str | Path, *, force: bool = False, say: Say = lambda _m: None) -> RestoreReport:
    """Restore the backup ``path`` into the (empty, unless ``force``) database of ``engine``, then check
    it against the manifest and recompute every hash chain."""
    path = Path(path).resolve()
    kind, manifest = check_backup(path)
    if kind != engine.dialect.name:
        raise BackupError(f"{path} is a {kind} backup; restore it into a {kind} database "
                          f"(DATABASE_URL is {engine.dialect.name})")
    if manifest is None:
        say(f"warning: {manifest_path(path).name} is missing; the file cannot be checked before use")
    if not is_empty(engine) and not force:
        with engine.connect() as conn:
            count = len(inspect(conn).get_table_names())
        raise BackupError(f"the database is not empty ({count} tables); restore into an empty database, "
                          "or pass --force to replace what it holds")
    engine.dispose()
    if kind == "sqlite":
        _restore_sqlite(engine, path, say)
    else:
        _restore_postgresql(engine, path, force, say)
    engine.dispose()
    return _check_restored(engine, manifest, say)


def _restore_sqlite(engine: Engine, path: Path, say: Say) -> None:
    target_file = _sqlite_file(engine)
    target_file.parent.mkdir(parents=True, exist_ok=True)
    say(f"restoring into {target_file} (SQLite online backup) …")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = source.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"{path} failed SQLite's integrity check: {check[:5]}")
        target = sqlite3.connect(target_file, timeout=30)
        try:
            source.backup(target, pages=4096)       # replaces the target's pages in one go (all or nothing)
            target.execute("PRAGMA journal_mode = WAL")
        finally:
            target.close()
    finally:
        source.close()


def _restore_postgresql(engine: Engine, path: Path, force: bool, say: Say) -> None:
    pg_restore = _tool("pg_restore")
    _check_versions(engine, pg_restore)
    args, env = libpq_environment(engine)
    say(f"restoring into database {engine.url.database} (pg_restore, one transaction) …")
    clean = ["--clean", "--if-exists"] if force else []
    _run_tool([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", *clean,
               *args, str(path)], env, "pg_restore")


def _check_restored(engine: Engine, manifest: dict | None, say: Say) -> RestoreReport:
    from ledger.verify import verify_books

    with engine.connect() as conn:
        state = database_state(conn)
        with Session(bind=conn) as session:
            differences = [str(d) for d in verify_books(session)]
    if manifest is not None:
        for name, count in manifest["tables"].items():
            got = state["tables"].get(name)
            if got != count:
                differences.append(f"table {name}: {got} rows restored, {count} in the backup")
        for code, book in manifest["books"].items():
            got = state["books"].get(code)
            if got != book:
                differences.append(f"book {code}: restored {got}, backed up {book}")
        if state["revision"] != manifest["revision"]:
            differences.append(f"schema revision {state['revision']} restored, {manifest['revision']} backed up")
    say(f"restored {sum(state['tables'].values())} rows in {len(state['tables'])} tables, "
        f"{len(state['books'])} books")
    return RestoreReport(manifest or {}, state, differences)


__all__ = ["BackupError", "RestoreReport", "backup", "check_backup", "restore", "is_empty"]

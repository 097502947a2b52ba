"""Administration commands: serve, init (the schema), backup, restore, demo.

Registered on the app's CLI by ``create_app``, so ``coopledger`` and ``app.test_cli_runner()`` see the
same commands.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

admin_cli = AppGroup("admin", help="Administration.")


@admin_cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve_command(host: str, port: int):
    """Serve the web app (Werkzeug's threaded server, for a village office or the demo; use gunicorn in
    production). Flask's own ``app.run`` refuses to serve from inside a Flask command, so this calls
    Werkzeug directly."""
    from flask import current_app
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()
    click.echo(f"coopledger on http://{host}:{port}/ (Ctrl-C to stop)")
    run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)


@admin_cli.command("init")
def init_command():
    """Create or upgrade the schema (Alembic upgrade head)."""
    from flask import current_app

    from payouts.admin.migrate import upgrade

    upgrade(current_app.extensions["ledger.sessionmaker"]["engine"])
    click.echo("Schema is at the latest revision.")


@admin_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_command(path: str):
    """Back the database up into PATH (SQLite online backup API / pg_dump custom format), with
    PATH.manifest.json (checksum, row counts, every book's hash-chain head)."""
    from flask import current_app

    from payouts.admin.backup import BackupError, backup

    engine = current_app.extensions["ledger.sessionmaker"]["engine"]
    try:
        manifest = backup(engine, path, say=lambda m: click.echo(m, err=True))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["tables"].values())
    click.echo(f"backup written to {path} ({manifest['size']} bytes, {rows} rows, {len(manifest['books'])} books, "
               f"sha256 {manifest['sha256'][:16]}…)")


@admin_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace what a non-empty database holds.")
def restore_command(path: str, force: bool):
    """Restore the backup PATH into the (empty) database, then check it against the backup's manifest
    and recompute every hash chain; exit 1 naming any difference."""
    from flask import current_app

    from payouts.admin.backup import BackupError, restore

    engine = current_app.extensions["ledger.sessionmaker"]["engine"]
    try:
        report = restore(engine, path, force=force, say=lambda m: click.echo(m, err=True))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for difference in report.differences:
        click.echo(difference, err=True)
    if not report.ok:
        raise click.ClickException(f"restored, but {len(report.differences)} differences from the backup (above)")
    click.echo(f"restored {path}: {len(report.restored['books'])} books, every hash chain verified, "
               f"row counts equal the backup's manifest")


@admin_cli.command("demo")
def demo_command():
    """Load the demo world (idempotent) and print every demo login."""
    from ledger.web.support import get_session
    from payouts.admin.demo import WORLD_LOGINS, load_demo_world

    session = get_session()
    created = load_demo_world(session)
    session.commit()
    click.echo("Demo world loaded." if created else "Demo world was already loaded.")
    for role, username, password, note in WORLD_LOGINS:
        click.echo(f"  {role:<11} {username:<14} {password:<17} {note}")



"""Cooperative commands: import a workbook, manage users."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cooperatives.importer import ImportRefused, import_path
from cooperatives.workbook import WorkbookError
from ledger.web.support import get_session

coop_cli = AppGroup("coop", help="Cooperatives.")


@coop_cli.command("import")
@click.argument("path", type=click.Path(exists=False))
@click.option("--entity", "entity_code", help="The entity to import into (default: the workbook's entity sheet).")
@click.option("--dry-run", is_flag=True, help="Check everything; write nothing.")
def import_command(path: str, entity_code: str | None, dry_run: bool):
    """Import a workbook (.xlsx or a folder of CSV files). Any bad row: every problem printed, nothing imported."""
    session = get_session()
    try:
        result = import_path(session, path, entity_code=entity_code, dry_run=dry_run)
    except WorkbookError as exc:
        session.rollback()
        for p in exc.problems:
            click.echo(str(p), err=True)
        click.echo(f"{len(exc.problems)} problem(s); nothing was imported.", err=True)
        raise SystemExit(1) from None
    except ImportRefused as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    if dry_run:
        session.rollback()
    else:
        session.commit()
    what = ", ".join(f"{kind} {n}" for kind, n in sorted(result.counts.items()))
    verb = "would import" if dry_run else "imported"
    click.echo(f"{result.entity_code}: {verb} {what}" + ("" if dry_run else f"; {result.entries} vouchers posted"))


@coop_cli.command("create-user")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["admin", "accountant", "auditor", "member"]), required=True)
@click.option("--entity", "entity_code", help="For an accountant.")
@click.option("--township", help="For an auditor.")
@click.option("--household", help="For a member.")
@click.password_option()
def create_user_command(username, role, entity_code, township, household, password):
    """Create a user with a role and its scope."""
    from sqlalchemy import select

    from cooperatives.models import Entity, Household, Township
    from cooperatives.users import create_user

    session = get_session()
    scope = {}
    if entity_code:
        scope["entity_id"] = session.scalar(select(Entity.id).where(Entity.code == entity_code))
    if township:
        scope["township_id"] = session.scalar(select(Township.id).where(Township.name == township))
    if household:
        scope["household_id"] = session.scalar(select(Household.id).where(Household.code == household))
    try:
        create_user(session, username=username, password=password, role=role, **scope)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"created {role} {username}")


@coop_cli.command("rotate-keys")
def rotate_keys_command():
    """Re-encrypt every ID and bank number under the first key of COOP_DATA_KEYS (run after adding a new
    key in front; the old keys may be removed afterwards). Logged in the audit log."""
    from cooperatives.privacy import rotate_keys

    session = get_session()
    count = rotate_keys(session)
    session.commit()
    click.echo(f"re-encrypted the personal data of {count} households under the newest key")

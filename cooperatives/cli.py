"""Cooperative commands: import a workbook, manage users."""

from __future__ import annotations

from decimal import Decimal

import click
from flask.cli import AppGroup

from cooperatives.access import CONSOLE
from cooperatives.importer import ImportRefused, import_path
from cooperatives.kinds import VOIDABLE, kind_label
from cooperatives.workbook import WorkbookError
from ledger.i18n import N_, as_message, command_gettext, msg
from ledger.web.support import get_session

coop_cli = AppGroup("coop", help="Cooperatives.")


@coop_cli.command("import")
@click.argument("path", type=click.Path(exists=False), required=False)
@click.option("--entity", "entity_code", help="The entity to import into (default: the workbook's entity sheet).")
@click.option("--dry-run", is_flag=True, help="Check everything; write nothing.")
@click.option("--job", "job_id", type=int, default=None, hidden=True, help="Run an import uploaded on a page.")
def import_command(path: str | None, entity_code: str | None, dry_run: bool, job_id: int | None):
    """Import a workbook (.xlsx or a folder of CSV files). Any bad row: every problem printed, nothing imported."""
    from flask import current_app

    settings = current_app.extensions["coop.settings"]
    session = get_session()
    if job_id is not None:
        _run_job(session, job_id, settings)
        return
    if path is None:
        raise click.UsageError("give the workbook's PATH")
    try:
        result = import_path(session, path, entity_code=entity_code, actor=CONSOLE, dry_run=dry_run,
                             limits=settings.read_limits())
    except WorkbookError as exc:
        session.rollback()
        say = command_gettext()
        for p in exc.problems:
            click.echo(p.text(say), err=True)
        click.echo(msg(N_("%(n)s problem(s); nothing was imported."), n=len(exc.problems)).translate(say), err=True)
        raise SystemExit(1) from None
    except ImportRefused as exc:
        session.rollback()
        raise click.ClickException(as_message(exc.reason).translate(command_gettext())) from None
    if dry_run:
        session.rollback()
    else:
        session.commit()
    what = ", ".join(f"{kind} {n}" for kind, n in sorted(result.counts.items()))
    verb = "would import" if dry_run else "imported"
    click.echo(f"{result.entity_code}: {verb} {what}" + ("" if dry_run else f"; {result.entries} vouchers posted"))


def _run_job(session, job_id: int, settings) -> None:
    """The job of a workbook uploaded on a page or through the API (started by the app, in this process)."""
    from cooperatives.imports import run_import_job

    job = run_import_job(session, job_id, limits=settings.read_limits())
    if job is None:
        raise click.ClickException(f"no import job {job_id}")
    click.echo(f"import job {job_id}: {job.status}")
    if job.status == "failed":
        raise SystemExit(1)


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
        create_user(session, username=username, password=password, role=role, actor=CONSOLE, **scope)
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
    count = rotate_keys(session, actor=CONSOLE)
    session.commit()
    click.echo(msg(N_("re-encrypted %(rows)s rows of personal data (households and memberships) under the newest key"),
                   rows=count).translate(command_gettext()))


@coop_cli.group("token")
def token_cli():
    """API tokens: issue (shown once), list, revoke."""


def _user_named(session, username: str):
    from sqlalchemy import select

    from cooperatives.models import User

    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    return user


@token_cli.command("issue")
@click.option("--user", "username", required=True, help="Whose token: it acts with this user's rights.")
@click.option("--name", default="script", show_default=True, help="What the token is for.")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 365), help="How long it lives.")
def token_issue_command(username: str, name: str, days: int):
    """Issue an API token and print it: it is shown this once, only its hash is kept."""
    from cooperatives.users import issue_token

    session = get_session()
    token = issue_token(session, _user_named(session, username), name, days=days, actor=CONSOLE)
    session.commit()
    click.echo(token)
    click.echo(f"(shown once; {username}'s token {name!r} expires in {days} days)", err=True)


@token_cli.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
def token_list_command(username: str | None):
    """List tokens (never the tokens themselves): id, user, name, created, expires, last used, state."""
    import datetime as dt

    from cooperatives.users import as_utc, list_tokens, token_state

    session = get_session()
    rows = list_tokens(session, _user_named(session, username) if username else None)

    def when(moment) -> str:
        return as_utc(moment).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"

    click.echo("id\tuser\tname\tcreated\texpires\tlast used\tstate")
    for t in rows:
        state = token_state(t)
        if state == "revoked":
            state = f"revoked {when(t.revoked_at)}"
        click.echo("\t".join((str(t.id), t.user.username, t.name, when(t.created_at), when(t.expires_at),
                              when(t.last_used_at), state)))


@token_cli.command("revoke")
@click.argument("token_id", type=int)
def token_revoke_command(token_id: int):
    """Revoke the token with this id (see ``token list``): it stops working at once."""
    from cooperatives.models import ApiToken
    from cooperatives.users import revoke_token

    session = get_session()
    token = session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"no token {token_id}")
    if not revoke_token(session, token, actor=CONSOLE):
        click.echo(f"token {token_id} was already revoked")
        return
    session.commit()
    click.echo(f"revoked token {token_id} ({token.name}) of {token.user.username}")


@coop_cli.command("link")
@click.argument("project")
@click.argument("members", nargs=-1, required=True)
def link_command(project: str, members: tuple[str, ...]):
    """Link MEMBERS (entity codes of the project's township) to the cluster project PROJECT: they may then be
    its members, and its runs book their shares in their books (docs/SECURITY.md §2). The admin's or the
    township's act; the project's accountant cannot link."""
    from sqlalchemy import select

    from cooperatives.models import Entity
    from cooperatives.operations import RecordError, link_member_entity

    session = get_session()
    found = {e.code: e for e in session.scalars(select(Entity).where(Entity.code.in_([project, *members])))}
    missing = [code for code in (project, *members) if code not in found]
    if missing:
        raise click.ClickException(f"no entity {', '.join(missing)}")
    try:
        for code in members:
            link_member_entity(session, found[project], found[code], actor=CONSOLE)
    except RecordError as exc:
        session.rollback()
        say = command_gettext()
        raise click.ClickException("; ".join(p.text(say) for p in exc.problems)) from None
    session.commit()
    click.echo(f"{project}: linked {', '.join(members)}")


def _entity(session, code: str):
    from sqlalchemy import select

    from cooperatives.models import Entity

    entity = session.scalar(select(Entity).where(Entity.code == code))
    if entity is None:
        raise click.ClickException(msg(N_("There is no entity %(code)s."), code=code).translate(command_gettext()))
    return entity


@coop_cli.command("records")
@click.argument("kind", type=click.Choice(sorted(VOIDABLE)))
@click.option("--entity", "entity_code", required=True, help="The entity's code.")
@click.option("--year", type=int, default=None, help="Only the records dated in this year.")
@click.option("--member", "member_code", default=None, help="Only this member's records.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (amounts as strings).")
def records_command(kind: str, entity_code: str, year: int | None, member_code: str | None, as_json: bool):
    """List the records of a kind with their ids, dates, amounts, voucher and whether voided."""
    import json

    from cooperatives.records import list_records

    session = get_session()
    rows = list_records(session, _entity(session, entity_code), kind, year=year, member=member_code)
    if as_json:
        click.echo(json.dumps({"entity": entity_code, "kind": kind, "records": rows}, ensure_ascii=False, indent=1))
        return
    say = command_gettext()
    voided = say(N_("voided"))
    for r in rows:
        mark = f"  [{voided} {r['voided_at'][:10]}: {r['void_reason']}]" if r["voided_at"] else ""
        click.echo(f"{r['id']:>8}  {r['date']}  {r.get('member') or '-':<12} {r.get('amount') or r.get('shares') or '':>14}  "
                   f"{r.get('voucher') or '':<12}{mark}")


@coop_cli.command("void")
@click.argument("kind", type=click.Choice(sorted(VOIDABLE)))
@click.argument("record_id", type=int)
@click.option("--reason", required=True, help="Why the record is voided (kept with it and in the audit log).")
def void_command(kind: str, record_id: int, reason: str):
    """Void a record (红字冲销): post the exact reversal of its legs, dated the record's own date."""
    from cooperatives.models import Entity
    from cooperatives.operations import RecordError, void_record

    session = get_session()
    say = command_gettext()
    row = session.get(VOIDABLE[kind], record_id)
    if row is None:
        raise click.ClickException(msg(N_("There is no %(kind)s record %(id)s."), kind=kind_label(kind), id=record_id).translate(say))
    entity = session.get(Entity, row.entity_id)
    try:
        entries = void_record(session, entity, kind, record_id, reason=reason, actor=CONSOLE)
    except RecordError as exc:
        session.rollback()
        raise click.ClickException("; ".join(p.text(say) for p in exc.problems)) from None
    session.commit()
    click.echo(msg(N_("%(entity)s: %(kind)s %(id)s voided; reversal vouchers %(vouchers)s"), entity=entity.code,
                   kind=kind_label(kind), id=record_id, vouchers=", ".join(e.voucher for e in entries) or "-").translate(say))


@coop_cli.command("carry-over")
@click.option("--entity", "entity_code", required=True, help="The collective's code.")
@click.option("--map", "remap", multiple=True, metavar="OLD=NEW",
              help="Carry a 2004 account whose rule splits it (131, 132, 202, 212) to another 2023 account, "
                   "e.g. 132=134 for 防护林.")
def carry_over_command(entity_code: str, remap: tuple[str, ...]):
    """Carry a village collective's 2004-chart books over to the 2023 system (财会〔2023〕14号) at 2024-01-01, as
    财会〔2023〕20号 says: a new book opened from the 2023-12-31 balances, accounts mapped by meaning; print the
    mapping (转账工作底稿) for the auditor."""
    from cooperatives.operations import RecordError, carry_over
    from ledger.money import fmt

    session = get_session()
    say = command_gettext()
    entity = _entity(session, entity_code)
    pairs = {}
    for given in remap:
        old, sep, new = given.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.UsageError(msg(N_("--map takes OLD=NEW, not %(given)s."), given=given).translate(say))
        pairs[old.strip()] = new.strip()
    try:
        done = carry_over(session, entity, remap=pairs, actor=CONSOLE)
    except RecordError as exc:
        session.rollback()
        raise click.ClickException("; ".join(p.text(say) for p in exc.problems)) from None
    session.commit()
    click.echo(msg(N_("%(entity)s: the 2004 books (kept as %(old)s) are carried over to the 2023 system; the "
                      "2024-01-01 opening balances are posted."), entity=entity.code, old=done.old_book).translate(say))
    click.echo(say(N_("Old account | member | balance (debit +, credit −) | new account | rule")))
    for line in done.lines:
        click.echo(f"{line.old_code} {line.old_name} | {line.member or '-'} | {fmt(line.amount)} | "
                   f"{line.new_code} {line.new_name} | {line.rule}")
    debits = sum((line.amount for line in done.lines if line.amount > 0), Decimal("0.00"))
    credits = -sum((line.amount for line in done.lines if line.amount < 0), Decimal("0.00"))
    click.echo(msg(N_("Debits %(debit)s, credits %(credit)s."), debit=fmt(debits), credit=fmt(credits)).translate(say))

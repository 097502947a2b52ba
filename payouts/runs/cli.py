"""Distribution commands: close-year, distribute, run approve|post|publish|reverse. Thin: a session, one
operation, one commit, a summary."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cooperatives.access import CONSOLE  # commands act as the console: whoever runs them holds the database

runs_cli = AppGroup("runs", help="Distribution runs.")


def _entity(session, code: str):
    from sqlalchemy import select

    from cooperatives.models import Entity

    entity = session.scalar(select(Entity).where(Entity.code == code))
    if entity is None:
        raise click.ClickException(f"no entity {code!r}")
    return entity


def _run(session, run_id: int):
    from payouts.models import PayoutRun

    run = session.get(PayoutRun, run_id)
    if run is None:
        raise click.ClickException(f"no run {run_id}")
    return run


@runs_cli.command("close-year")
@click.option("--entity", "entity_code", required=True)
@click.option("--year", type=int, required=True)
@click.option("--final", is_flag=True, help="结账: lock the year for good once its run (if any) is published.")
def close_year_command(entity_code: str, year: int, final: bool):
    """Close the year's profit and loss into 本年盈余/盈余分配 (with --final: lock the year for good, 结账);
    print the surplus statement."""
    from ledger.money import fmt
    from ledger.web.support import get_session
    from payouts.runs.operations import RunRefused, close_year, finalize_year

    session = get_session()
    entity = _entity(session, entity_code)
    try:
        statement = (finalize_year if final else close_year)(session, entity, year, actor=CONSOLE)
    except RunRefused as exc:
        session.rollback()
        for problem in exc.problems:
            click.echo(_said(problem.reason), err=True)
        raise SystemExit(1) from None
    session.commit()
    if final:
        from ledger.i18n import N_, msg

        click.echo(_said(msg(N_("%(entity)s %(year)s: closed for good (结账); nothing more is posted in it."),
                             entity=entity_code, year=year)))
    click.echo(f"{entity_code} {year}: the year's profit and loss is closed ({statement['status']}).")
    for code, amount in sorted(statement["income"].items()):
        click.echo(f"  income  {code}  {fmt(amount):>16}")
    for code, amount in sorted(statement["costs"].items()):
        click.echo(f"  cost    {code}  {fmt(amount):>16}")
    click.echo(f"  surplus (本年盈余)          {fmt(statement['surplus']):>16}")
    click.echo(f"  brought forward (年初未分配) {fmt(statement['opening_undistributed']):>16}")


@runs_cli.command("distribute")
@click.option("--entity", "entity_code", required=True)
@click.option("--year", type=int, required=True)
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML or JSON policy; it becomes the entity's policy.")
@click.option("--replaces", type=int, default=None,
              help="The run in force for the year that this one replaces (required while there is one).")
@click.option("--json", "as_json", is_flag=True)
def distribute_command(entity_code: str, year: int, policy_file: str | None, replaces: int | None, as_json: bool):
    """Create a draft run from the entity's policy (or FILE) and print it."""
    import json
    from pathlib import Path

    from ledger.web.support import get_session
    from payouts.runs.operations import RunRefused, create_run, current_policy_version, save_policy
    from payouts.runs.policy import PolicyError, load_policy_text

    session = get_session()
    entity = _entity(session, entity_code)
    if policy_file:
        try:
            policy = load_policy_text(Path(policy_file).read_text(encoding="utf-8"), filename=policy_file)
        except PolicyError as exc:
            for problem in exc.problems:
                click.echo(f"{policy_file}: {_said(problem)}", err=True)
            raise SystemExit(1) from None
        version = save_policy(session, entity, policy, actor=CONSOLE)
    else:
        version = current_policy_version(session, entity)
        if version is None:
            raise click.ClickException(f"{entity_code} has no distribution policy yet: give one with --policy FILE")
    try:
        run = create_run(session, entity, year, policy_version=version, replaces=replaces, actor=CONSOLE)
    except RunRefused as exc:
        session.rollback()
        for problem in exc.problems:
            click.echo(_said(problem.reason), err=True)
        raise SystemExit(1) from None
    session.commit()
    from payouts.runs.snapshot import run_json

    data = run_json(run)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"run {run.id} ({run.status}) {entity_code} {year}: surplus {data['surplus']}, "
               f"distributable {data['distributable']}")
    for pool in data["pools"]:
        click.echo(f"  pool {pool['name']:<14} {pool['basis']:<13} {pool['amount']:>14}  (basis total {pool['basis_total']})")
    click.echo(f"  {len(data['members'])} members")
    for check in data["checks"]:
        click.echo(f"  [{'ok' if check['ok'] else 'FAILED'}] {check['rule']}: {check['detail']}")


@runs_cli.group("run")
def run_group():
    """Approve, post, publish or reverse a distribution run."""


@run_group.command("approve")
@click.argument("run_id", type=int)
@click.option("--meeting-date", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--attended", type=int, required=True)
@click.option("--votes-for", type=int, required=True)
@click.option("--minutes", default=None, help="Reference of the meeting minutes.")
def run_approve(run_id, meeting_date, attended, votes_for, minutes):
    """Record the members' meeting that approved the run (refused when a check or the quorum fails)."""
    from ledger.web.support import get_session
    from payouts.runs.operations import RunRefused, approve_run
    from payouts.runs.transitions import InvalidTransition

    session = get_session()
    try:
        approve_run(session, _run(session, run_id), actor=CONSOLE, meeting_date=meeting_date.date(), attended=attended,
                    votes_for=votes_for, minutes=minutes)
    except (RunRefused, InvalidTransition) as exc:
        session.rollback()
        raise click.ClickException(f"run {run_id} not approved: {_why(exc)}") from None
    session.commit()
    click.echo(f"run {run_id} approved")


def _said(message) -> str:
    """A refusal's message in the command line's language (``COOP_LANG``, Chinese by default)."""
    from ledger.i18n import as_message, command_gettext

    return as_message(message).translate(command_gettext())


def _why(exc) -> str:
    problems = getattr(exc, "problems", None)
    return "; ".join(_said(p.reason) for p in problems) if problems else str(exc)


def _simple(action: str):
    @run_group.command(action)
    @click.argument("run_id", type=int)
    def command(run_id):
        from ledger.errors import LedgerError
        from ledger.web.support import get_session
        from payouts.runs import operations
        from payouts.runs.transitions import InvalidTransition

        session = get_session()
        run = _run(session, run_id)
        try:
            outcome = getattr(operations, f"{action}_run")(session, run, actor=CONSOLE)
        except (operations.RunRefused, InvalidTransition, LedgerError) as exc:
            session.rollback()
            raise click.ClickException(f"run {run_id} not {action}ed: {_why(exc)}") from None
        session.commit()
        if action == "post" and outcome is False:
            click.echo(f"run {run_id} was already posted; nothing was posted again")
        elif action == "reverse":
            click.echo(f"run {run_id} reversed by run {outcome.id}")
        else:
            click.echo(f"run {run_id} {run.status}" + (f" until {run.notice_until}" if action == "publish" else ""))

    command.__doc__ = {"post": "Post the run to the ledger (once, whatever happens).",
                       "publish": "Open the notice period: households see their statements.",
                       "reverse": "Post a reversing run that undoes every entry of the run."}[action]
    return command


for _action in ("post", "publish", "reverse"):
    _simple(_action)



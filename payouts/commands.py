"""Distribution commands (close-year, distribute, run …) and the app-level ones (init, serve).

Registered on the app's CLI by ``create_app``, so ``coopledger`` and ``app.test_cli_runner()`` see the
same commands.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

payouts_cli = AppGroup("payouts", help="Distribution runs.")


@payouts_cli.command("serve")
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


@payouts_cli.command("init")
def init_command():
    """Create or upgrade the schema (Alembic upgrade head)."""
    from flask import current_app

    from payouts.migrate import upgrade

    upgrade(current_app.extensions["ledger.sessionmaker"]["engine"])
    click.echo("Schema is at the latest revision.")


@payouts_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_command(path: str):
    """Back the database up into PATH (SQLite online backup API / pg_dump custom format), with
    PATH.manifest.json (checksum, row counts, every book's hash-chain head)."""
    from flask import current_app

    from payouts.backup import BackupError, backup

    engine = current_app.extensions["ledger.sessionmaker"]["engine"]
    try:
        manifest = backup(engine, path, say=lambda m: click.echo(m, err=True))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["tables"].values())
    click.echo(f"backup written to {path} ({manifest['size']} bytes, {rows} rows, {len(manifest['books'])} books, "
               f"sha256 {manifest['sha256'][:16]}…)")


@payouts_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace what a non-empty database holds.")
def restore_command(path: str, force: bool):
    """Restore the backup PATH into the (empty) database, then check it against the backup's manifest
    and recompute every hash chain; exit 1 naming any difference."""
    from flask import current_app

    from payouts.backup import BackupError, restore

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


@payouts_cli.command("demo")
def demo_command():
    """Load the demo world (idempotent) and print every demo login."""
    from ledger.web.support import get_session
    from payouts.demo import WORLD_LOGINS, load_demo_world

    session = get_session()
    created = load_demo_world(session)
    session.commit()
    click.echo("Demo world loaded." if created else "Demo world was already loaded.")
    for role, username, password, note in WORLD_LOGINS:
        click.echo(f"  {role:<11} {username:<14} {password:<17} {note}")


# ------------------------------------------------------------------------------------ distribution


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


def run_json(run) -> dict:
    return {"run": run.id, "status": run.status, **run.result}


@payouts_cli.command("close-year")
@click.option("--entity", "entity_code", required=True)
@click.option("--year", type=int, required=True)
def close_year_command(entity_code: str, year: int):
    """Close the year's profit and loss into 本年盈余/盈余分配; print the surplus statement."""
    from ledger.money import fmt
    from ledger.web.support import get_session
    from payouts.operations import close_year

    session = get_session()
    statement = close_year(session, _entity(session, entity_code), year)
    session.commit()
    click.echo(f"{entity_code} {year}: the year's profit and loss is closed ({statement['status']}).")
    for code, amount in sorted(statement["income"].items()):
        click.echo(f"  income  {code}  {fmt(amount):>16}")
    for code, amount in sorted(statement["costs"].items()):
        click.echo(f"  cost    {code}  {fmt(amount):>16}")
    click.echo(f"  surplus (本年盈余)          {fmt(statement['surplus']):>16}")
    click.echo(f"  brought forward (年初未分配) {fmt(statement['opening_undistributed']):>16}")


@payouts_cli.command("distribute")
@click.option("--entity", "entity_code", required=True)
@click.option("--year", type=int, required=True)
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML or JSON policy; it becomes the entity's policy.")
@click.option("--json", "as_json", is_flag=True)
def distribute_command(entity_code: str, year: int, policy_file: str | None, as_json: bool):
    """Create a draft run from the entity's policy (or FILE) and print it."""
    import json
    from pathlib import Path

    from ledger.web.support import get_session
    from payouts.operations import create_run, current_policy_version, save_policy
    from payouts.policy import PolicyError, load_policy_text

    session = get_session()
    entity = _entity(session, entity_code)
    if policy_file:
        try:
            policy = load_policy_text(Path(policy_file).read_text(encoding="utf-8"), filename=policy_file)
        except PolicyError as exc:
            for problem in exc.problems:
                click.echo(f"{policy_file}: {problem}", err=True)
            raise SystemExit(1) from None
        version = save_policy(session, entity, policy)
    else:
        version = current_policy_version(session, entity)
        if version is None:
            raise click.ClickException(f"{entity_code} has no distribution policy yet: give one with --policy FILE")
    run = create_run(session, entity, year, policy_version=version)
    session.commit()
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


@payouts_cli.group("run")
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
    from payouts.operations import RunRefused, approve_run
    from payouts.transitions import InvalidTransition

    session = get_session()
    try:
        approve_run(session, _run(session, run_id), meeting_date=meeting_date.date(), attended=attended,
                    votes_for=votes_for, minutes=minutes)
    except (RunRefused, InvalidTransition) as exc:
        session.rollback()
        raise click.ClickException(f"run {run_id} not approved: {exc}") from None
    session.commit()
    click.echo(f"run {run_id} approved")


def _simple(action: str):
    @run_group.command(action)
    @click.argument("run_id", type=int)
    def command(run_id):
        from ledger.errors import LedgerError
        from ledger.web.support import get_session
        from payouts import operations
        from payouts.transitions import InvalidTransition

        session = get_session()
        run = _run(session, run_id)
        try:
            outcome = getattr(operations, f"{action}_run")(session, run)
        except (operations.RunRefused, InvalidTransition, LedgerError) as exc:
            session.rollback()
            raise click.ClickException(f"run {run_id} not {action}ed: {exc}") from None
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


@payouts_cli.command("statements")
@click.option("--run", "run_id", type=int, help="The posted run whose statements to render.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder for the PDFs.")
@click.option("--workers", type=int, default=None, help="Processes (default: all cores).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
@click.option("--job", "job_id", type=int, default=None, hidden=True, help="Render a job started from the web.")
def statements_command(run_id: int | None, out_dir: str | None, workers: int | None, lang: str, job_id: int | None):
    """Render every household's PDF statement and the public notice list of a posted run."""
    from flask import current_app

    from ledger.web.support import get_session
    from payouts.models import RenderJob
    from payouts.statements.jobs import JobReporter

    session = get_session()
    reporter = None
    if job_id is not None:
        job = session.get(RenderJob, job_id)
        if job is None:
            raise click.ClickException(f"no job {job_id}")
        run_id, out_dir, lang = job.run_id, job.out_dir, "zh" if job.locale.startswith("zh") else "en"
        reporter = JobReporter(current_app.extensions["ledger.sessionmaker"]["engine"], job_id)
    if run_id is None or out_dir is None:
        raise click.UsageError("give --run RUN and --out DIR")
    try:
        names, notice, out = _render_run(session, run_id, out_dir, workers, lang, reporter)
    except Exception as exc:
        if reporter:
            reporter.fail(str(exc))
        raise
    if reporter:
        reporter.finish()
    session.commit()          # the command's one boundary (it reads; the job row is all it touches)
    click.echo(f"{len(names)} statements and {notice} written to {out}")


def _render_run(session, run_id, out_dir, workers, lang, reporter):
    import os
    from pathlib import Path

    from flask import current_app
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from sqlalchemy import select

    from payouts.models import StatementSnapshot
    from payouts.statements.batch import render_locally, render_notice_job, render_with_celery

    run = _run(session, run_id)
    snapshots = [s.content for s in session.scalars(
        select(StatementSnapshot).where(StatementSnapshot.run_id == run.id).order_by(StatementSnapshot.id))]
    if not snapshots:
        raise click.ClickException(f"run {run_id} has no statements: it is {run.status}; post it first")
    settings = current_app.extensions["coop.settings"]
    locale = "zh_Hans_CN" if lang == "zh" else "en"
    out = str(Path(out_dir).resolve())
    Path(out).mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    if reporter:
        reporter.start(len(snapshots))
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=False) as progress:
        task = progress.add_task(f"run {run_id} statements", total=len(snapshots))

        def advance(n: int) -> None:
            progress.advance(task, n)
            if reporter:
                reporter.advance(n)

        if settings.celery_broker_url:
            names = render_with_celery(snapshots, out, locale=locale, base_url=settings.public_url, progress=advance)
        else:
            names = render_locally(snapshots, out, workers=workers, locale=locale, base_url=settings.public_url,
                                   progress=advance)
    entity = run.entity
    notice = render_notice_job(
        {"notice_code": run.notice_code, **run.result}, snapshots,
        {"code": entity.code, "name": entity.name}, (
            run.published_at.date().isoformat() if run.published_at else "",
            run.notice_until.isoformat() if run.notice_until else ""), out, locale, settings.public_url)
    return names, notice, out

"""The statements command: every household's PDF statement and the public notice list of a posted run."""

from __future__ import annotations

import click
from flask.cli import AppGroup

statements_cli = AppGroup("statements", help="Statements.")


def _run(session, run_id: int):
    from payouts.models import PayoutRun

    run = session.get(PayoutRun, run_id)
    if run is None:
        raise click.ClickException(f"no run {run_id}")
    return run


@statements_cli.command("statements")
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

    session = get_session(write=False)     # it only reads: the job's progress is written by the reporter
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
    from payouts.statements.batch import render_locally, render_notice_job

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

        if settings.celery_broker_url:          # the app factory hands over the Celery sender (payouts.tasks)
            render_with_celery = current_app.extensions["coop.celery"].render_with_celery
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

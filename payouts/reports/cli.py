"""``coopledger archive``: a year's 会计档案 of one entity as a ZIP (:mod:`payouts.reports.archive`)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from flask.cli import AppGroup

from ledger.i18n import N_, command_gettext, msg

reports_cli = AppGroup("reports", help="Reports and archives.")


def _say(template: str, **params) -> str:
    return msg(template, **params).translate(command_gettext())


class StatusFile:
    """Progress written to a small JSON file (for the page that started the archive): written beside its name and
    moved there, so a reader never sees half of it. Each write says when it was made (``at``) and, written by the
    process doing the work (``worker``), that process's id — so a reader can tell a process that died from one
    still working (:func:`payouts.reports.printing.web.status_of`)."""

    def __init__(self, path: str | None, *, worker: bool = False):
        self.path = Path(path) if path else None
        self.worker = worker

    def write(self, **values) -> None:
        if self.path is None:
            return
        values = {**values, "at": time.time(), **({"pid": os.getpid()} if self.worker else {})}
        tmp = self.path.with_name(self.path.name + ".part")
        tmp.write_text(json.dumps(values, ensure_ascii=False))
        os.replace(tmp, self.path)


@reports_cli.command("archive")
@click.option("--entity", "entity_code", required=True, help="The entity's code.")
@click.option("--year", type=int, required=True, help="The fiscal year.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="The ZIP file to write.")
@click.option("--workers", type=int, default=None, help="Processes printing the PDFs (default: all cores).")
@click.option("--status", "status_path", default=None, hidden=True, help="A JSON file to report progress to.")
def archive_command(entity_code: str, year: int, out_path: str, workers: int | None, status_path: str | None):
    """A year's accounting archive (会计档案) of one entity: statements and notes, books, every voucher, the member
    accounts and the disclosures as PDFs, with a manifest of SHA-256 hashes."""
    from flask import current_app
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from sqlalchemy import select

    from cooperatives.models import Entity
    from ledger.web.support import get_session
    from payouts.reports import archive

    session = get_session(write=False)     # it only reads: never the database's write lock, however long it takes
    status = StatusFile(status_path, worker=True)
    entity = session.scalar(select(Entity).where(Entity.code == entity_code))
    if entity is None:
        status.write(status="failed", error=_say(N_("No entity %(entity)s."), entity=entity_code))
        raise click.ClickException(_say(N_("No entity %(entity)s."), entity=entity_code))
    if not 1949 <= year <= 2999:
        status.write(status="failed", error=_say(N_("No year %(year)s."), year=year))
        raise click.ClickException(_say(N_("No year %(year)s."), year=year))
    status.write(status="running", done=0, total=0)
    try:
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn()) as bar:
            task = bar.add_task(f"{entity.code} {year}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
                status.write(status="running", done=done, total=total)

            manifest = archive.build(session, entity, year, out_path, workers=workers, progress=progress,
                                     public_url=current_app.extensions["coop.settings"].public_url)
    except Exception as exc:
        status.write(status="failed", error=str(exc)[:500])
        raise
    finally:
        session.rollback()            # it only reads
    size = Path(out_path).stat().st_size
    status.write(status="done", done=len(manifest["files"]), total=len(manifest["files"]), bytes=size,
                 created_at=manifest["created_at"])
    click.echo(_say(N_("%(files)s files, %(size)s bytes, written to %(out)s"), files=len(manifest["files"]),
                    size=size, out=out_path))

"""Workbook imports as jobs: the upload is stored, a job reads and imports it (no Flask here).

A page or the API only stores the uploaded workbook (:func:`create_import_job`) and starts a job; the
job (:func:`run_import_job`) — in its own process (``coopledger import --job ID``) or on a Celery worker,
the same function either way — reads the workbook within the upload limits (``cooperatives.limits``)
*before* it opens a write transaction, so on SQLite the write lock is held only while the checked rows
are written, and other users keep signing in and recording meanwhile. The job acts as the user who
uploaded the workbook, under the same rule (``cooperatives.importer.import_workbook``); what it found is
stored as problems with their codes and parameters, shown later in the reader's language.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from cooperatives.access import Forbidden, Principal, keeps_books, operation
from cooperatives.importer import ImportRefused, import_workbook
from cooperatives.limits import DEFAULT_LIMITS, ReadLimits
from cooperatives.models import Entity, ImportJob, User
from cooperatives.operations import RecordError
from cooperatives.workbook import WorkbookError, read_workbook_partial
from ledger.errors import LedgerError, Problem
from ledger.i18n import N_, as_message, msg

JOB_STATUSES = {"queued": N_("Waiting to start"), "reading": N_("Reading and checking the workbook"),
                "writing": N_("Writing to the books"), "done": N_("Done"), "failed": N_("Nothing was imported")}
RUNNING = ("queued", "reading", "writing")
#: problems kept with a job (a workbook of a million bad rows still says how many there were)
PROBLEMS_KEPT = 2000


@operation(keeps_books())
def create_import_job(session: Session, entity: Entity, files: list[tuple[str, bytes]], *, dry_run: bool = False,
                      actor: Principal) -> ImportJob:
    """Store an uploaded workbook — one ``.xlsx`` file, or ``.csv`` files one per sheet (``(name, bytes)``
    pairs) — as a job importing into ``entity``. Flushes; the caller commits and then starts the job."""
    if len(files) == 1 and not files[0][0].lower().endswith(".csv"):
        form, data = "xlsx", files[0][1]
    else:
        form, buffer = "csv", io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files:
                archive.writestr(_csv_name(name), content)
        data = buffer.getvalue()
    job = ImportJob(entity_id=entity.id, actor_id=actor.user_id, status="queued", dry_run=dry_run,
                    filename=files[0][0][:300], form=form, upload=data, size=sum(len(c) for _, c in files))
    session.add(job)
    session.flush()
    return job


def _csv_name(name: str) -> str:
    """The stored name of an uploaded CSV file: its last part, safe as a file name, ending in ``.csv``."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*/')[:60] or "sheet"
    if name.startswith("."):
        name = "sheet" + name
    return name if name.lower().endswith(".csv") else name + ".csv"


def run_import_job(session: Session, job_id: int, *, limits: ReadLimits = DEFAULT_LIMITS) -> ImportJob | None:
    """Import the workbook of job ``job_id``, all or nothing, and record the outcome on the job. Commits.

    The workbook is read and checked cell by cell with no transaction open; the database checks and the
    writing then happen in one write transaction (rolled back for a check only, or when anything is wrong).
    A job is claimed atomically (one conditional UPDATE), so it is run once whoever starts it — the launcher
    twice, or Celery delivering the task again after a worker died; the rows imported and the job's "done"
    are committed together, so a job whose process died has imported nothing and is shown as failed once
    :attr:`ImportJob.LOST_AFTER` has passed (:meth:`ImportJob.state`). Returns the job.
    """
    claimed = session.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == "queued")
                              .values(status="reading", started_at=dt.datetime.now(dt.UTC))).rowcount
    session.commit()                    # the page shows "reading"; no transaction is held while reading
    job = session.get(ImportJob, job_id, populate_existing=True)     # the UPDATE bypassed the identity map
    if not claimed:                     # missing, or run (or being run) by another process already
        return job
    tmp = tempfile.mkdtemp(prefix="coop-import-")
    try:
        wb, problems = read_workbook_partial(_unpack(job, Path(tmp)), limits)
        _set_status(session, job, "writing")
        actor, entity = _actor_of(session, job), session.get(Entity, job.entity_id)
        if actor is None:
            raise Forbidden("cooperatives.imports.run_import_job", Principal("console"))
        result = import_workbook(session, wb, entity_code=entity.code, actor=actor, dry_run=job.dry_run,
                                 problems=problems)
        if job.dry_run:
            session.rollback()
        # (else the import is committed by _finish, with the job's "done": both or neither)
    except (WorkbookError, RecordError, LedgerError) as exc:
        return _fail(session, job_id, [_named(p, tmp, job.filename) for p in exc.problems])
    except (ImportRefused, Forbidden) as exc:
        return _fail(session, job_id, [Problem.of(as_message(exc.reason))])
    except Exception:
        _fail(session, job_id, [_crashed()])
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _finish(session, job_id, "done", result_json=json.dumps(
        {"entity": result.entity_code, "import": result.import_id, "counts": result.counts,
         "vouchers": result.entries, "dry_run": result.dry_run}))


def _crashed() -> Problem:
    return Problem.of(msg(N_("The import stopped unexpectedly; nothing was imported. Please try again, or tell the "
                             "administrator."), code="job_crashed"))


def _unpack(job: ImportJob, folder: Path) -> Path:
    if job.form == "xlsx":
        path = folder / "workbook.xlsx"
        path.write_bytes(job.upload)
        return path
    with zipfile.ZipFile(io.BytesIO(job.upload)) as archive:     # our own archive of the uploaded CSV files
        for info in archive.infolist():
            (folder / _csv_name(info.filename)).write_bytes(archive.read(info))
    return folder


def _actor_of(session: Session, job: ImportJob) -> Principal | None:
    """The uploader, as the job's principal (None: the user is gone or disabled, and may do nothing)."""
    user = session.get(User, job.actor_id) if job.actor_id is not None else None
    return Principal.of_user(user) if user is not None and user.active else None


def _named(problem: Problem, tmp: str, filename: str) -> Problem:
    """A problem of the whole file names the uploaded file, not the job's temporary copy."""
    if problem.sheet is not None and problem.sheet.startswith(tmp):
        return Problem(filename, problem.row, problem.column, problem.reason)
    return problem


def _set_status(session: Session, job: ImportJob, status: str) -> None:
    job.status = status
    session.commit()


def _fail(session: Session, job_id: int, problems: list[Problem]) -> ImportJob:
    session.rollback()
    kept = [p.to_json() for p in problems[:PROBLEMS_KEPT]]
    return _finish(session, job_id, "failed", problems_json=json.dumps({"total": len(problems), "problems": kept},
                                                                       ensure_ascii=False))


def _finish(session: Session, job_id: int, status: str, **values) -> ImportJob:
    job = session.get(ImportJob, job_id)
    job.status, job.finished_at, job.upload = status, dt.datetime.now(dt.UTC), None
    for name, value in values.items():
        setattr(job, name, value)
    session.commit()
    return job


def job_problems(job: ImportJob) -> tuple[list[Problem], int]:
    """The problems a failed job kept (at most :data:`PROBLEMS_KEPT`) and how many there were."""
    if not job.problems_json:
        return ([_crashed()], 1) if job.state() != job.status else ([], 0)
    data = json.loads(job.problems_json)
    return [Problem.from_json(p) for p in data["problems"]], data["total"]


def job_result(job: ImportJob) -> dict | None:
    return json.loads(job.result_json) if job.result_json else None

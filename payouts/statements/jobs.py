"""Statement batches started from the web: a job row tracks progress while a separate process
(``coopledger statements --job ID``) renders — on this machine's cores, or through Celery workers when
CELERY_BROKER_URL is set — and reports each finished chunk back to the row the page polls."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, update
from sqlalchemy.orm import Session

from cooperatives.access import Principal, keeps_books, operation, run_entity
from ledger.i18n import N_, Message, msg
from payouts.models import PayoutRun, RenderJob, StatementSnapshot

JOB_STATUS_LABELS = {"queued": N_("Waiting to start"), "running": N_("Rendering"), "done": N_("Ready"),
                     "failed": N_("Failed")}


#: a batch still waiting this long after it was asked for never started (no renderer process, no Celery worker)
QUEUE_TIMEOUT = dt.timedelta(minutes=15)
#: a running batch that has written nothing for this long has stopped (its process was killed, the machine restarted)
SILENCE_TIMEOUT = dt.timedelta(minutes=10)
STALLED = {"queued": N_("The batch never started: no renderer took it up within %(minutes)s minutes. Start it again; "
                        "if it happens again, tell whoever runs the server."),
           "running": N_("The batch stopped without finishing: nothing was written for %(minutes)s minutes (its "
                         "process was stopped). Start it again; the statements already written are kept.")}


def stalled(job: RenderJob, *, now: dt.datetime | None = None) -> Message | None:
    """Why a batch that still says queued or running has in fact stopped, or None while it may still be working.

    The renderer writes each statement as a file into the batch's folder: the newest file is its last sign of
    life (a killed process leaves its row as it was; the row itself has no heartbeat)."""
    if job.status not in STALLED:
        return None
    now = now or dt.datetime.now(dt.UTC)
    started = job.created_at if job.created_at.tzinfo else job.created_at.replace(tzinfo=dt.UTC)
    if job.status == "queued":
        limit = QUEUE_TIMEOUT
        last = started
    else:
        limit = SILENCE_TIMEOUT
        folder = Path(job.out_dir)
        stamps = [p.stat().st_mtime for p in folder.iterdir()] if folder.is_dir() else []
        last = max([started, *(dt.datetime.fromtimestamp(t, dt.UTC) for t in stamps)])
    if now - last < limit:
        return None
    return msg(STALLED[job.status], minutes=int(limit.total_seconds() // 60))


@operation(keeps_books(run_entity))
def create_job(session: Session, run: PayoutRun, *, out_root: str, locale: str, actor: Principal) -> RenderJob:
    total = session.query(StatementSnapshot).filter(StatementSnapshot.run_id == run.id).count()
    job = RenderJob(run_id=run.id, status="queued", locale=locale, total=total, done=0, out_dir="",
                    created_by=actor.user_id)
    session.add(job)
    session.flush()
    job.out_dir = str(Path(out_root) / f"run-{run.id}" / f"job-{job.id}")
    session.flush()
    return job


def launch(job_id: int, *, env: dict | None = None) -> subprocess.Popen:
    """Start the renderer process for ``job_id`` (detached from the request)."""
    command = [str(Path(sys.executable).parent / "coopledger"), "statements", "--job", str(job_id)]
    return subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


class JobReporter:
    """Writes a job's progress with its own short transactions (the renderer's progress callback),
    so the page sees it while the batch is still running."""

    def __init__(self, bind: Engine | Connection, job_id: int):
        self.bind, self.job_id = bind, job_id

    @contextmanager
    def _connection(self):
        if isinstance(self.bind, Connection):          # tests hand over their connection: a savepoint
            with self.bind.begin_nested():
                yield self.bind
        else:
            with self.bind.begin() as conn:
                yield conn

    def _set(self, **values) -> None:
        with self._connection() as conn:
            conn.execute(update(RenderJob).where(RenderJob.id == self.job_id).values(**values))

    def start(self, total: int) -> None:
        self._set(status="running", total=total, done=0)

    def advance(self, n: int) -> None:
        self._set(done=RenderJob.done + n)

    def finish(self) -> None:
        self._set(status="done", finished_at=dt.datetime.now(dt.UTC))

    def fail(self, error: str) -> None:
        self._set(status="failed", error=error[:2000], finished_at=dt.datetime.now(dt.UTC))

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
from ledger.i18n import N_
from payouts.models import PayoutRun, RenderJob, StatementSnapshot

JOB_STATUS_LABELS = {"queued": N_("Waiting to start"), "running": N_("Rendering"), "done": N_("Ready"),
                     "failed": N_("Failed")}


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

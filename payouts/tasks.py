"""Celery tasks: thin adapters over the job functions (the same code the local process pool runs).

Start a worker with ``CELERY_BROKER_URL=redis://… celery -A payouts.tasks worker``.
"""

from __future__ import annotations

import os

from celery import Celery

broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
celery_app = Celery("coopledger", broker=broker, backend=os.environ.get("CELERY_RESULT_BACKEND", broker))
celery_app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                       task_acks_late=True, worker_prefetch_multiplier=1, result_expires=86400)


_engines: dict = {}


def _engine(url: str):
    """One engine (and connection pool) per worker process and database."""
    from ledger.db import make_engine

    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


@celery_app.task(name="coopledger.import_job")
def import_job(job_id: int) -> dict:
    """Run the import job ``job_id`` (a workbook uploaded on a page or through the API) on this worker: the
    same code as ``coopledger import --job``. Returns ``{"job", "status"}``; the job row holds the outcome."""
    from sqlalchemy.orm import Session

    from cooperatives import privacy
    from cooperatives.imports import run_import_job
    from ledger.db import writer
    from payouts.settings import Settings

    settings = Settings.from_env()
    privacy.configure(list(settings.data_keys), settings.index_key.encode())
    with Session(writer(_engine(settings.database_url))) as session:
        job = run_import_job(session, job_id, limits=settings.read_limits())
        return {"job": job_id, "status": job.status if job is not None else "missing"}


@celery_app.task(name="coopledger.render_statements")
def render_statements(items: list[dict], out_dir: str, locale: str, base_url: str) -> list[str]:
    from payouts.statements.batch import render_job

    return render_job(items, out_dir, locale, base_url)


def render_with_celery(items: list[dict], out_dir: str, *, locale: str, base_url: str,
                       progress=None, timeout: float = 3600) -> list[str]:
    """The same jobs, sent to Celery workers (CELERY_BROKER_URL); waits for them, reporting progress."""
    from pathlib import Path

    from payouts.statements.batch import chunks

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    pending = [(render_statements.delay(part, out_dir, locale, base_url), len(part)) for part in chunks(items)]
    names: list[str] = []
    for result, size in pending:
        names += result.get(timeout=timeout)
        if progress:
            progress(size)
    return sorted(names)

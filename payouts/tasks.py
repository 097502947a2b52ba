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


@celery_app.task(name="coopledger.render_statements")
def render_statements(items: list[dict], out_dir: str, locale: str, base_url: str) -> list[str]:
    from payouts.statements.batch import render_job

    return render_job(items, out_dir, locale, base_url)

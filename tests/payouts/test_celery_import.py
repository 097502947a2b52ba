"""A workbook uploaded on a page or through the API is imported by a job on a real Celery worker (Redis at
127.0.0.1:6379 as broker) against the system of record, all or nothing: the same job code as
``coopledger import --job`` (docs/DEPLOY.md)."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_celery import BROKER, CELERY, redis_up

from cooperatives.access import CONSOLE
from cooperatives.models import Delivery, Entity, Household
from ledger.db import make_engine
from ledger.queries import trial_balance
from payouts.admin.migrate import upgrade

pytestmark = pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")

WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["CEL", "芹菜合作社", "farmer_coop", "甲乡"]],
    "households": [["code", "head_name", "village"], ["C1", "王大山", "一村"], ["C2", "李秀英", "一村"]],
    "members": [["member", "member_no", "joined_on"], ["C1", 1, "2020-01-01"], ["C2", 2, "2020-01-01"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid", "paid_by"],
                   ["2025-05-01", "C1", "芹菜", "100", "kg", "2.50", "no", ""],
                   ["2025-05-02", "C2", "芹菜", "40", "jin", "1.20", "yes", "bank"]],
}


@pytest.fixture
def database(isolated_db):
    engine = make_engine(isolated_db)
    upgrade(engine)
    engine.dispose()
    return isolated_db


@pytest.fixture
def worker(database, monkeypatch):
    """A worker of its own queue (so no other test's worker takes these tasks), on ``database``."""
    queue = f"import-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": BROKER, "DATABASE_URL": database,
           "COOP_SECRET_KEY": "celery-import-test"}
    proc = subprocess.Popen([CELERY, "-A", "payouts.tasks", "worker", "--pool=solo", "--concurrency=1", "-Q", queue,
                             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if "ready." in line or time.monotonic() > deadline:
            break
    import payouts.tasks

    monkeypatch.setattr(payouts.tasks.celery_app.conf, "broker_url", BROKER)
    monkeypatch.setattr(payouts.tasks.celery_app.conf, "result_backend", BROKER)
    yield queue
    proc.terminate()
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def upload(database: str, path: str) -> int:
    """Store the workbook at ``path`` as an import job of CEL by its accountant, as the upload page does;
    returns the job's id."""
    from cooperatives import privacy
    from cooperatives.access import Principal
    from cooperatives.imports import create_import_job
    from cooperatives.models import User
    from cooperatives.operations import create_entity
    from cooperatives.users import create_user
    from payouts.settings import Settings

    settings = Settings(database_url=database, secret_key="celery-import-test")
    privacy.configure(list(settings.data_keys), settings.index_key.encode())
    engine = make_engine(database)
    with Session(engine) as session:
        entity = session.scalar(select(Entity).where(Entity.code == "CEL")) or create_entity(
            session, code="CEL", name="芹菜合作社", kind="farmer_coop", township="甲乡", first_year=2025, actor=CONSOLE)
        user = session.scalar(select(User).where(User.username == "cel-kuaiji")) or create_user(
            session, username="cel-kuaiji", password="a long enough passphrase", role="accountant",
            entity_id=entity.id, actor=CONSOLE)
        job = create_import_job(session, entity, [("账本.xlsx", Path(path).read_bytes())],
                                actor=Principal.of_user(user))
        session.commit()
        job_id = job.id
    engine.dispose()
    return job_id


def send(queue: str, database: str, path: str) -> dict:
    """Run the upload's job on the worker; returns the task's answer and the job as the page reads it."""
    from cooperatives.imports import job_problems, job_result
    from cooperatives.models import ImportJob
    from payouts.tasks import import_job

    job_id = upload(database, path)
    answer = import_job.apply_async((job_id,), queue=queue).get(timeout=120)
    engine = make_engine(database)
    with Session(engine) as session:
        job = session.get(ImportJob, job_id)
        problems, _total = job_problems(job)
        found = {"task": answer, "status": job.status, "result": job_result(job), "upload": job.upload,
                 "problems": [str(p) for p in problems]}
    engine.dispose()
    return found


def test_a_workbook_is_imported_by_a_celery_worker(worker, database, xlsx):
    done = send(worker, database, xlsx(WORKBOOK))
    assert done["task"]["status"] == done["status"] == "done", done
    assert done["result"]["entity"] == "CEL" and done["result"]["counts"]["deliveries"] == 2
    assert done["result"]["vouchers"] >= 1 and done["upload"] is None        # the upload is not kept
    engine = make_engine(database)
    with Session(engine) as session:
        entity = session.scalar(select(Entity).where(Entity.code == "CEL"))
        assert session.scalar(select(func.count(Delivery.id)).where(Delivery.entity_id == entity.id)) == 2
        rows = {r.code: r.closing for r in trial_balance(session, entity.book)}
    engine.dispose()
    assert rows["521"] == 250 + 48              # 100 kg × 2.50 + 40 斤 × 1.20, a cost of the year
    assert rows["114"] == -250 and sum(rows.values()) == 0

    again = send(worker, database, xlsx(WORKBOOK))        # the same workbook twice: refused, nothing doubled
    assert again["status"] == "failed" and "already imported" in again["problems"][0]


def test_a_bad_workbook_comes_back_with_every_problem_and_writes_nothing(worker, database, xlsx):
    bad = {**WORKBOOK, "deliveries": [WORKBOOK["deliveries"][0], ["2025-05-01", "C9", "芹菜", "1", "kg", "2", "no"],
                                      ["2025-05-01", "C1", "芹菜", "1", "kg", "x", "no"]]}
    failed = send(worker, database, xlsx(bad))
    assert failed["status"] == "failed", failed
    assert "deliveries:3:unit_price: not a number: 'x'" in failed["problems"]
    assert any(p.startswith("deliveries:2:member") and "C9" in p for p in failed["problems"])
    engine = make_engine(database)
    with Session(engine) as session:
        assert session.scalar(select(func.count(Delivery.id))) == 0
        assert session.scalar(select(func.count(Household.id))) == 0
    engine.dispose()

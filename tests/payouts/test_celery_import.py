"""A workbook import runs on a real Celery worker (Redis at 127.0.0.1:6379 as broker) against the system
of record, all or nothing, exactly as ``coopledger import`` does (docs/DEPLOY.md)."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_celery import BROKER, CELERY, redis_up

from cooperatives.models import Delivery, Entity
from ledger.db import make_engine
from ledger.queries import trial_balance
from payouts.admin.migrate import upgrade

pytestmark = pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")

WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["CEL", "芹菜合作社", "farmer_coop", "甲乡"]],
    "households": [["code", "head_name", "village"], ["C1", "王大山", "一村"], ["C2", "李秀英", "一村"]],
    "members": [["member", "member_no", "joined_on"], ["C1", 1, "2020-01-01"], ["C2", 2, "2020-01-01"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid"],
                   ["2025-05-01", "C1", "芹菜", "100", "kg", "2.50", "no"],
                   ["2025-05-02", "C2", "芹菜", "40", "jin", "1.20", "yes"]],
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


def send(queue: str, path: str) -> dict:
    from payouts.tasks import import_workbook

    return import_workbook.apply_async((path,), queue=queue).get(timeout=120)


def test_a_workbook_is_imported_by_a_celery_worker(worker, database, xlsx):
    result = send(worker, xlsx(WORKBOOK))
    assert result["ok"] is True and result["entity"] == "CEL"
    assert result["counts"]["deliveries"] == 2 and result["entries"] >= 1
    engine = make_engine(database)
    with Session(engine) as session:
        entity = session.scalar(select(Entity).where(Entity.code == "CEL"))
        assert session.scalar(select(func.count(Delivery.id)).where(Delivery.entity_id == entity.id)) == 2
        rows = {r.code: r.closing for r in trial_balance(session, entity.book)}
    engine.dispose()
    assert rows["521"] == 250 + 48              # 100 kg × 2.50 + 40 斤 × 1.20, a cost of the year
    assert rows["114"] == -250 and sum(rows.values()) == 0

    again = send(worker, xlsx(WORKBOOK))        # the same workbook twice: refused, nothing doubled
    assert again["ok"] is False and "already imported" in again["problems"][0]


def test_a_bad_workbook_comes_back_with_every_problem_and_writes_nothing(worker, database, xlsx):
    bad = {**WORKBOOK, "deliveries": [WORKBOOK["deliveries"][0], ["2025-05-01", "C9", "芹菜", "1", "kg", "2", "no"],
                                      ["2025-05-01", "C1", "芹菜", "1", "kg", "x", "no"]]}
    result = send(worker, xlsx(bad))
    assert result["ok"] is False, result
    assert "deliveries:3:unit_price: not a number: 'x'" in result["problems"]
    assert any(p.startswith("deliveries:2:member") and "C9" in p for p in result["problems"])
    engine = make_engine(database)
    with Session(engine) as session:
        assert session.scalar(select(func.count(Entity.id))) == 0
    engine.dispose()

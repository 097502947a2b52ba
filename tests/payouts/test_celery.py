"""The statement batch runs on a real Celery worker with Redis as the broker, producing the same
files the local process pool does."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from payouts.statements.batch import render_job

CELERY = str(Path(sys.executable).parent / "celery")
BROKER = "redis://127.0.0.1:6379/15"


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")


@pytest.fixture
def worker(monkeypatch):
    env = {**os.environ, "CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": BROKER}
    proc = subprocess.Popen([CELERY, "-A", "payouts.tasks", "worker", "--pool=solo", "--concurrency=1",
                             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    deadline = time.monotonic() + 60
    for line in proc.stdout:                  # wait until the worker is ready
        if "ready." in line or time.monotonic() > deadline:
            break
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER)
    import payouts.tasks

    payouts.tasks.celery_app.conf.broker_url = BROKER
    payouts.tasks.celery_app.conf.result_backend = BROKER
    yield proc
    proc.terminate()
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def sample(n: int) -> list[dict]:
    base = {"run": 1, "run_digest": "x", "year": 2025, "issued": "2026-03-01", "code": "", "distributable": "1000.00",
            "entity": {"code": "CE", "name": "芹菜合作社", "kind": "farmer_coop", "township": "乡", "village": "村"},
            "policy_pools": [], "contributed": {"produce": [], "labor": {"days": "0", "wages": "0.00"}, "land": [],
                                                 "capital": []},
            "lines": [], "preferred": [], "sources": [], "reserve_share": "0.00", "subsidy_share": "0.00",
            "total": "100.00", "deductions": [], "deductions_total": "0.00", "net": "100.00",
            "net_words": "人民币壹佰元整"}
    return [{**base, "code": f"CODE-{i:04d}", "member": {"code": f"C{i}", "name": f"户主{i}", "village": "村",
                                                         "member_no": i}} for i in range(1, n + 1)]


def test_a_statement_batch_renders_on_a_celery_worker(worker, tmp_path):
    items = sample(3)
    from payouts.tasks import render_with_celery

    names = render_with_celery(items, str(tmp_path / "celery"), locale="zh_Hans_CN", base_url="http://x",
                               timeout=120)
    assert names == ["00001-C1.pdf", "00002-C2.pdf", "00003-C3.pdf"]
    local = render_job(items, str(tmp_path), "zh_Hans_CN", "http://x")
    for name in local:
        a = subprocess.run(["pdftotext", str(tmp_path / "celery" / name), "-"], capture_output=True, text=True).stdout
        b = subprocess.run(["pdftotext", str(tmp_path / name), "-"], capture_output=True, text=True).stdout
        assert a == b and "CODE-000" in a

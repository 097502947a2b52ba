"""Uploads in bounded time and memory, imported by jobs, while everyone else keeps working (issue 12, finding 5).

A real server on a committed database (a file on SQLite, a schema on PostgreSQL), the real launcher command
(``coopledger import --job ID`` in a process of its own, as in production without Celery):

* the zip bomb (a sheet declaring 1 GiB, 1 MiB on disk) and the 1.6 KB workbook with one row numbered
  2,000,000,000,000 are refused by their jobs, each naming the limit, with nothing written, and the job's
  process grows by less than 200 MiB beyond a job that imports a two-row workbook (its peak RSS, read from
  ``wait4``); meanwhile another user signs in and records a delivery through the pages;
* a large valid workbook (tens of thousands of rows) is imported by its job while another user signs in and
  records a delivery, both answered at once — the job holds the write lock only while it writes.

How long each takes is measured by ``bench/hostile_uploads.py`` (never asserted here).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.models import Delivery, Household, ImportJob, Member
from cooperatives.operations import create_entity, register_household, register_member
from cooperatives.users import create_user
from ledger.models import JournalEntry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import hostile_uploads  # noqa: E402
from live import live_app, served  # noqa: E402

PASSWORD = "a long village passphrase"
CODE = "UP-TEA"
MIB = 1 << 20


@pytest.fixture
def server(isolated_db, tmp_path):
    """The app served on ``isolated_db``, with CODE's two accountants (``uploader`` and ``clerk``) and two
    member households; import jobs started by the production command, whose processes the test waits for."""
    from payouts.app import import_job_command

    app = live_app(isolated_db, secret_key="upload-jobs-test")
    engine = app.extensions["ledger.sessionmaker"]["engine"]
    with Session(engine) as session:
        entity = create_entity(session, code=CODE, name="上传测试合作社", kind="farmer_coop", township="上传乡",
                               first_year=2025, actor=CONSOLE)
        for n in (1, 2):
            register_household(session, entity, code=f"UP-H{n}", head_name=f"户主{n}", village="一村", actor=CONSOLE)
            register_member(session, entity, code=f"UP-H{n}", member_no=n, joined_on=dt.date(2024, 1, 1),
                            actor=CONSOLE)
        for username in ("uploader", "clerk"):
            create_user(session, username=username, password=PASSWORD, role="accountant", entity_id=entity.id, actor=CONSOLE)
        session.commit()
    jobs: list[subprocess.Popen] = []
    settings = app.extensions["coop.settings"]

    def launch(job_id: int) -> None:
        argv, env = import_job_command(settings, job_id)
        jobs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

    app.extensions["coop.import_launcher"] = launch
    with served(app) as url:
        yield url, engine, jobs


def signed_in(url: str, username: str) -> requests.Session:
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    token = csrf(browser.get(f"{url}/login").text)
    answer = browser.post(f"{url}/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return browser


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*\bvalue="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page)
    return html.unescape(found.group(1) or found.group(2))


def upload(browser: requests.Session, url: str, name: str, data: bytes) -> str:
    """Upload a workbook on the import page; returns the job page's URL."""
    token = csrf(browser.get(f"{url}/e/{CODE}/import").text)
    answer = browser.post(f"{url}/e/{CODE}/import", data={"csrf_token": token}, files={"workbook": (name, data)},
                          allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return url + answer.headers["Location"]


def finished(job: subprocess.Popen) -> int:
    """Wait for a job's process; its peak resident memory in bytes (Linux reports KiB). What it wrote to
    stderr is kept in ``job.said``."""
    job.said = job.stderr.read().decode(errors="replace")
    job.stderr.close()
    _pid, status, usage = os.wait4(job.pid, 0)
    job.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss * 1024


def record_delivery(browser: requests.Session, url: str) -> int:
    path = f"{url}/e/{CODE}/records/deliveries"
    token = csrf(browser.get(path).text)
    answer = browser.post(path, allow_redirects=False, data={
        "csrf_token": token, "date": "2025-06-01", "member": "UP-H1", "product": "藤茶鲜叶", "quantity": "10",
        "unit": "jin", "unit_price": "5.60", "paid": "no"})
    return answer.status_code


def counts(engine) -> tuple:
    with Session(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Household, Member, JournalEntry))


@pytest.mark.slow
def test_a_zip_bomb_and_a_far_row_are_refused_while_another_user_works(server, tmp_path):
    url, engine, jobs = server
    uploader, clerk = signed_in(url, "uploader"), signed_in(url, "clerk")
    parts = hostile_uploads._model_parts(tmp_path)
    small = upload(uploader, url, "small.xlsx", (tmp_path / "model.xlsx").read_bytes())
    baseline = finished(jobs[-1])
    assert "Done" in uploader.get(small).text
    before = counts(engine)
    for build, limit_words in ((hostile_uploads.zip_bomb, "MiB"), (hostile_uploads.far_row, "row")):
        path = build(tmp_path, parts)
        assert path.stat().st_size < 4 * MIB                  # (it declares 1 GiB)
        page = upload(uploader, url, path.name, path.read_bytes())
        # another user of the entity signs in and records a delivery while the job runs
        other = signed_in(url, "clerk")
        assert record_delivery(other, url) == 302
        peak = finished(jobs[-1])
        text = html.unescape(uploader.get(page).text)
        assert "Nothing was imported" in text and limit_words in text, text[-1500:]
        assert peak - baseline < 200 * MIB, (build.__name__, peak, baseline)
    assert record_delivery(clerk, url) == 302
    with Session(engine) as session:
        assert session.scalar(select(func.count(ImportJob.id)).where(ImportJob.status == "failed")) == 2
        assert session.scalar(select(func.count(ImportJob.id)).where(ImportJob.upload.is_not(None))) == 0
    after = counts(engine)
    assert after[:2] == before[:2] and after[2] == before[2] + 3       # the three deliveries the clerk recorded


def large_workbook(rows: int) -> bytes:
    """A CSV deliveries sheet of ``rows`` rows for the two members."""
    out = io.StringIO()
    out.write("date,member,product,quantity,unit,unit_price,paid\n")
    for n in range(rows):
        out.write(f"2025-{1 + n % 12:02d}-{1 + n % 28:02d},UP-H{1 + n % 2},藤茶鲜叶,{1 + n % 50},jin,5.60,no\n")
    return out.getvalue().encode()


def test_others_sign_in_and_record_while_a_large_workbook_is_imported(server):
    url, engine, jobs = server
    uploader = signed_in(url, "uploader")
    page = upload(uploader, url, "deliveries.csv", large_workbook(60_000))
    with Session(engine) as session:
        job_id = session.scalar(select(func.max(ImportJob.id)))
    seen = []
    for _ in range(600):                      # until the job has started (it is started at once)
        with Session(engine) as session:
            status = session.get(ImportJob, job_id).status
        seen.append(status)
        if status != "queued":
            break
        time.sleep(0.05)
    assert status in ("reading", "writing"), seen
    clerk = signed_in(url, "clerk")           # during the import
    assert record_delivery(clerk, url) == 302
    finished(jobs[-1])
    assert jobs[-1].returncode == 0, jobs[-1].said
    assert "Done" in uploader.get(page).text
    with Session(engine) as session:
        assert session.scalar(select(func.count(Delivery.id))) == 60_001

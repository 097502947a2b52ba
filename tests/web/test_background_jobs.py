"""The long jobs started from the web run to the end on a committed database — a file on SQLite, a schema on
PostgreSQL — through the production command in a process of its own: the 80 statements of the demo's run and a
year's archive. On SQLite the command once held the write lock for its whole run (a command's session began with
BEGIN IMMEDIATE), so the job's own progress could not be written: the batch sat at "waiting 0/80" and died with
``database is locked``, and a year's archive would have locked every accountant out while it printed.
Each job here is started through the page, as a user does, and the page follows it to "ready"."""

from __future__ import annotations

import html
import re
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from payouts.models import PayoutRun, RenderJob

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from live import live_app, served  # noqa: E402

CODE = "JGP-TEA"


@pytest.fixture
def server(isolated_db, tmp_path):
    """The demo served on ``isolated_db``; the jobs its pages start are the production commands (the same argv and
    environment), kept so the test can wait for them."""
    from payouts.admin.demo import load_demo_world
    from payouts.reports.printing.web import launch_archive
    from payouts.statements.jobs import launch

    app = live_app(isolated_db, secret_key="background-jobs-test")
    app.instance_path = str(tmp_path / "instance")
    engine = app.extensions["ledger.sessionmaker"]["engine"]
    with Session(engine) as session:
        assert load_demo_world(session)
        session.commit()
    jobs = []
    settings = app.extensions["coop.settings"]
    app.extensions["coop.job_launcher"] = lambda job_id: jobs.append(launch(job_id, env=settings.command_env()))
    app.extensions["coop.archive_launcher"] = lambda *args: jobs.append(launch_archive(*args))
    with served(app) as url:
        yield url, engine, jobs
    for job in jobs:
        if job.poll() is None:
            job.kill()
        job.wait()


def signed_in(url: str) -> requests.Session:
    browser = requests.Session()
    token = csrf(browser.get(f"{url}/login").text)
    answer = browser.post(f"{url}/login", data={"username": "kuaiji", "password": "demo-kuaiji-2025",
                                                "csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return browser


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*\bvalue="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page)
    return html.unescape(found.group(1) or found.group(2))


def follow(browser: requests.Session, page_url: str, done: str, jobs: list, limit: float = 240) -> str:
    """The page at ``page_url`` once it says ``done`` (it refreshes itself until then), the job's process ended."""
    deadline = time.monotonic() + limit
    while True:
        page = browser.get(page_url).text
        if done in page and all(job.poll() is not None for job in jobs):
            return page
        assert time.monotonic() < deadline, page[-2000:]
        assert not [job for job in jobs if job.poll() not in (None, 0)], "a job's process failed"
        time.sleep(0.5)


def test_the_statement_batch_runs_to_the_end_and_the_page_follows_it(server):
    url, engine, jobs = server
    browser = signed_in(url)
    with Session(engine) as session:
        run = session.scalar(select(PayoutRun).where(PayoutRun.status.in_(("posted", "published", "paid"))))
    start = f"{url}/e/{CODE}/runs/{run.id}/render"
    answer = browser.post(start, data={"csrf_token": csrf(browser.get(start).text)}, allow_redirects=False)
    assert answer.status_code == 302 and len(jobs) == 1
    page = follow(browser, url + answer.headers["Location"], "statements.zip", jobs)
    assert jobs[0].returncode == 0
    with Session(engine) as session:
        job = session.scalar(select(RenderJob).order_by(RenderJob.id.desc()))
        assert (job.status, job.done, job.total, job.error) == ("done", 80, 80, None)
    assert page.count(".pdf</a>") == 81 and "notice-JGP-TEA-2025.pdf" in page     # 80 statements, the notice list


def test_a_years_archive_is_made_by_its_process_and_downloaded(server):
    url, _engine, jobs = server
    browser = signed_in(url)
    page_url = f"{url}/e/{CODE}/reports/2024/archive"
    answer = browser.post(page_url, data={"csrf_token": csrf(browser.get(page_url).text)}, allow_redirects=False)
    assert answer.status_code == 302 and len(jobs) == 1
    follow(browser, page_url, f"/e/{CODE}/reports/2024/archive.zip", jobs)
    assert jobs[0].returncode == 0
    download = browser.get(f"{url}/e/{CODE}/reports/2024/archive.zip")
    assert download.status_code == 200 and download.content.startswith(b"PK")

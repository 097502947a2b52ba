"""A statement batch whose renderer stopped (killed, never started) ends as failed with its reason, instead of
waiting forever: the page says so and stops refreshing."""

from __future__ import annotations

import datetime as dt
import os

from payouts.models import RenderJob
from payouts.statements.jobs import QUEUE_TIMEOUT, SILENCE_TIMEOUT, stalled

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def job(status: str, created: dt.datetime, out_dir: str = "/nonexistent") -> RenderJob:
    return RenderJob(run_id=1, status=status, total=80, done=3, out_dir=out_dir, created_at=created)


def test_a_queued_batch_that_never_started_is_stalled_after_the_queue_timeout():
    assert stalled(job("queued", NOW - QUEUE_TIMEOUT + dt.timedelta(seconds=1)), now=NOW) is None
    reason = stalled(job("queued", NOW - QUEUE_TIMEOUT), now=NOW)
    assert reason is not None and "never started" in reason


def test_a_running_batch_lives_while_it_writes_files(tmp_path):
    created = NOW - dt.timedelta(hours=2)
    written = tmp_path / "JGP-H001.pdf"
    written.write_bytes(b"%PDF")
    fresh = (NOW - SILENCE_TIMEOUT + dt.timedelta(seconds=5)).timestamp()
    os.utime(written, (fresh, fresh))
    assert stalled(job("running", created, str(tmp_path)), now=NOW) is None
    old = (NOW - SILENCE_TIMEOUT - dt.timedelta(seconds=5)).timestamp()
    os.utime(written, (old, old))
    os.utime(tmp_path, (old, old))
    reason = stalled(job("running", created, str(tmp_path)), now=NOW)
    assert reason is not None and "stopped without finishing" in reason


def test_a_finished_or_failed_batch_is_never_stalled():
    long_ago = NOW - dt.timedelta(days=30)
    assert stalled(job("done", long_ago), now=NOW) is None
    assert stalled(job("failed", long_ago), now=NOW) is None


def test_the_page_of_a_batch_whose_renderer_never_started_says_failed_and_why(app, session, cli, xlsx, policy_file,
                                                                                tmp_path, login, post_form, world):
    import json

    from sqlalchemy import select
    from test_jobs import POLICY, WORKBOOK

    from cooperatives.access import CONSOLE
    from cooperatives.models import Entity
    from cooperatives.users import create_user

    assert cli("import", xlsx(WORKBOOK)).exit_code == 0
    run = json.loads(cli("distribute", "--entity", "JB", "--year", "2025", "--policy", policy_file(POLICY),
                         "--json").stdout)["run"]
    cli("run", "approve", str(run), "--meeting-date", "2026-03-01", "--attended", "2", "--votes-for", "2")
    assert cli("run", "post", str(run)).exit_code == 0
    entity = session.scalar(select(Entity).where(Entity.code == "JB"))
    create_user(session, username="kj", password="correct horse battery staple", role="accountant",
                entity_id=entity.id, actor=CONSOLE)
    session.commit()
    app.instance_path = str(tmp_path)
    app.extensions["coop.job_launcher"] = lambda job_id: None          # the renderer never starts
    client = app.test_client()
    assert login(client, "kj").status_code == 302
    started = post_form(client, f"/e/JB/runs/{run}/render", {"lang": "zh"})
    assert started.status_code == 302
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "never started" not in page           # just asked for: waiting
    job = session.scalar(select(RenderJob).order_by(RenderJob.id.desc()))
    job.created_at = dt.datetime.now(dt.UTC) - QUEUE_TIMEOUT - dt.timedelta(minutes=1)
    session.commit()
    client.get("/lang/en")
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "Failed" in page and "never started" in page
    listing = client.get(f"/e/JB/runs/{run}/render").get_data(as_text=True)
    assert "Failed" in listing and "Waiting to start" not in listing

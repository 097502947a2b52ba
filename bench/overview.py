"""Benchmark: the township overview of the demo, as its auditor opens it, through the real app.

    .venv/bin/python bench/overview.py [--runs 30] [--url DATABASE_URL]

Loads the demo world (``payouts.admin.demo.load_demo_world``: every entity imported, every 2025 run posted and
published) into a fresh database (a temporary SQLite file unless ``--url`` names an empty database),
signs in as each township auditor through the login form, and times ``GET /oversight/`` — the whole
request: routing, access rule, every query, the SVG charts, Jinja — in one warm process with the
Werkzeug test client (no network). Prints the median, minimum and 90th percentile of ``--runs``
requests and the SQL statements each request ran. The target (issue 5): ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event  # noqa: E402

from ledger.db import Base  # noqa: E402
from payouts.admin.demo import load_demo_world  # noqa: E402
from payouts.app import create_app  # noqa: E402
from payouts.settings import Settings  # noqa: E402

AUDITORS = (("nongjing", "demo-audit-2025"), ("bl-nongjing", "demo-audit-2025"))
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def build(url: str):
    app = create_app(Settings(database_url=url, secret_key="bench", cookie_secure=False,
                              ratelimit_storage_uri="memory://"))
    makers = app.extensions["ledger.sessionmaker"]
    Base.metadata.create_all(makers["engine"])
    started = time.perf_counter()
    with makers["write"]() as session:
        load_demo_world(session)
        session.commit()
    print(f"demo loaded in {time.perf_counter() - started:.1f} s")
    return app, makers["engine"]


def signed_in(app, username: str, password: str):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def measure(app, engine, username: str, password: str, runs: int, path: str = "/oversight/") -> None:
    client = signed_in(app, username, password)
    for _ in range(3):                                        # warm: templates compiled, caches filled
        assert client.get(path).status_code == 200
    statements = [0]

    def count(*_args):
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    event.remove(engine, "before_cursor_execute", count)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"{username:12} GET {path}: median {statistics.median(times):.1f} ms, min {times[0]:.1f} ms, "
          f"p90 {p90:.1f} ms over {runs} requests; {statements[0] / runs:.0f} SQL statements per request; "
          f"{len(response.data) // 1024} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--url", help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'overview.db'}"
        app, engine = build(url)
        for username, password in AUDITORS:
            measure(app, engine, username, password, args.runs)
            measure(app, engine, username, password, args.runs, "/oversight/anomalies")
        engine.dispose()


if __name__ == "__main__":
    main()

"""Benchmark: the monitored households page (监测户, issue 18 §4) of the demo's largest township, as its auditor opens
it, through the real app.

    .venv/bin/python bench/monitoring.py [--runs 5] [--url DATABASE_URL]

Loads the demo world (``payouts.admin.demo.load_demo_world``) into a fresh database (a temporary SQLite file unless
``--url`` names an empty database). If the demo has no monitoring period in its largest township (the one with the
most households), imports a generated county list for it through the operation
(:func:`cooperatives.monitoring.import_monitoring_list`): every household of the township, the three categories in
turn, every fifth period eliminated on 2025-06-30. Then signs in as the township's auditor through the login form and
times ``GET /oversight/monitoring`` (the whole request: routing, access rule, every query, the chart, Jinja) in one warm
process with the Werkzeug test client; prints the median of ``--runs`` requests and the SQL statements each ran, and
the same for the county's export (``/oversight/monitoring.xlsx``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, func, select  # noqa: E402

from cooperatives.access import CONSOLE  # noqa: E402
from cooperatives.models import (  # noqa: E402
    MONITORING_CATEGORIES,
    Household,
    MonitoringPeriod,
    Township,
    User,
    Village,
)
from cooperatives.monitoring import import_monitoring_list, read_monitoring_upload  # noqa: E402
from ledger.db import Base  # noqa: E402
from payouts.admin.demo import load_demo_world  # noqa: E402
from payouts.app import create_app  # noqa: E402
from payouts.settings import Settings  # noqa: E402

#: the demo's auditors' password (payouts.admin.demo)
PASSWORD = "demo-audit-2025"
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
    return app, makers


def largest_township(makers) -> tuple[Township, str, int]:
    """The township with the most households, its auditor's username, and its monitored periods (a generated list
    imported when the demo has none)."""
    with makers["write"]() as session:
        township_id, households = session.execute(
            select(Village.township_id, func.count(Household.id)).join(Household, Household.village_id == Village.id)
            .group_by(Village.township_id).order_by(func.count(Household.id).desc()).limit(1)).one()
        township = session.get(Township, township_id)
        auditor = session.scalar(select(User.username).where(User.role == "auditor", User.township_id == township_id)
                                 .order_by(User.id).limit(1))
        in_township = (select(Household.id).join(Village, Village.id == Household.village_id)
                       .where(Village.township_id == township_id))
        periods = session.scalar(select(func.count(MonitoringPeriod.id))
                                 .where(MonitoringPeriod.household_id.in_(in_township)))
        print(f"largest township: {township.name}, {households} households, auditor {auditor}, "
              f"{periods} monitoring periods in the demo")
        if not periods:
            codes = session.scalars(select(Household.code).where(Household.id.in_(in_township))
                                    .order_by(Household.code)).all()
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["household", "category", "identified_on", "eliminated_on", "persons"])
            for n, code in enumerate(codes):
                writer.writerow([code, MONITORING_CATEGORIES[n % 3], "2023-01-01",
                                 "2025-06-30" if n % 5 == 4 else "", 1 + n % 5])
            record = import_monitoring_list(session, read_monitoring_upload(out.getvalue().encode(), "bench.csv"),
                                            township=township, actor=CONSOLE)
            session.commit()
            periods = record.opened
            print(f"imported a generated list: {record.rows} rows, {record.matched} matched, {record.opened} opened")
        return township, auditor, periods


def signed_in(app, username: str, password: str):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def measure(client, engine, path: str, runs: int) -> None:
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
    rows = response.get_data(as_text=True).count('data-key="household"') if response.mimetype == "text/html" else 0
    print(f"GET {path}: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms over {runs} requests; "
          f"{statements[0] / runs:.0f} SQL statements per request; {len(response.data) // 1024} KiB"
          + (f"; {rows} households shown" if rows else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'monitoring.db'}"
        app, makers = build(url)
        _township, auditor, _periods = largest_township(makers)
        client = signed_in(app, auditor, PASSWORD)
        engine = makers["engine"]
        measure(client, engine, "/oversight/monitoring", args.runs)
        measure(client, engine, "/oversight/monitoring.xlsx", args.runs)
        engine.dispose()
    print(f"({dt.date.today().isoformat()})")


if __name__ == "__main__":
    main()

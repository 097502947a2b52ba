"""How long the township auditor's anomaly rules and linkage table take on the demo world, and how many
SQL statements they run (the overview counts findings on every page view).

    .venv/bin/python bench/anomalies.py [DATABASE_URL]      # default: a fresh SQLite file under /tmp

Builds the demo world into an empty database, then times ``find_anomalies`` and ``linkage_table`` for
each township (warm: best of 5 after one unmeasured call).

Figures (2-core shared machine, SQLite, 2026-11-24; other test runs were going on, so noisy):
  金果坪乡 (JGP-TEA + JGP-VEG, 92 households, 12 findings): find_anomalies 21 statements, ~95–110 ms
  田林县百乐乡 (project + 9 villages, 190 households):        find_anomalies 19 statements, ~70–80 ms
  青铜峡市青铜峡镇 (WX-LAND, 40 households):                  find_anomalies 19 statements, ~50 ms
The statement count does not grow with households or records (tests/payouts/test_anomalies.py checks it).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

import cooperatives.models  # noqa: F401
import payouts.models  # noqa: F401
from cooperatives.models import Township
from ledger.db import Base, make_engine
from payouts.admin.demo import load_demo_world
from payouts.app import create_app
from payouts.oversight.anomalies import find_anomalies
from payouts.oversight.linkage import linkage_table
from payouts.settings import Settings


def main(url: str) -> None:
    create_app(Settings(database_url="sqlite://", secret_key="bench", testing=True, cookie_secure=False))
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_a: statements.__setitem__(0, statements[0] + 1))
    with Session(engine) as session:
        load_demo_world(session)
        session.commit()
        for township in session.scalars(select(Township).order_by(Township.id)).all():
            for name, call in (("find_anomalies", lambda t=township: find_anomalies(session, township_id=t.id)),
                               ("linkage_table", lambda t=township: linkage_table(session, township_id=t.id, year=2025))):
                call()
                best = float("inf")
                for _ in range(5):
                    statements[0] = 0
                    start = time.perf_counter()
                    result = call()
                    best = min(best, time.perf_counter() - start)
                size = len(result) if isinstance(result, list) else len(result.rows)
                print(f"{township.name}\t{name}\t{size} rows\t{statements[0]} statements\t{best * 1000:.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")

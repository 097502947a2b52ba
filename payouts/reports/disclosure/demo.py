"""The demo world's 财务公开: every demo entity publishes each quarter it had activity in once the quarter has ended,
:data:`PUBLISHED_AFTER` days after its end (on the demo's time line, as the demo dates its runs' publication) — but
the anomaly cooperative, which skips :data:`SKIPPED` so that the township's ``missing_disclosure`` rule has something
to find (``docs/DEMO.md``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.models import Entity
from ledger.clock import china_today
from payouts.reports.disclosure import queries
from payouts.reports.disclosure.build import Period
from payouts.reports.disclosure.operations import publish_disclosure

#: (entity, quarter) the demo leaves unpublished: the anomaly cooperative's busiest quarter (deliveries before a
#: household joined, 36 labour days in August)
SKIPPED = {("JGP-VEG", "2025-Q3")}
#: days after a quarter's end on which the demo publishes it (within queries.GRACE_DAYS)
PUBLISHED_AFTER = 10


def publish_demo_disclosures(session: Session, codes: list[str], *, today: dt.date | None = None) -> bool:
    """Publish the ended quarters with activity of the entities ``codes`` not published yet (but :data:`SKIPPED`).
    Flushes only. Returns whether anything was published."""
    today = today or china_today()
    entities = session.scalars(select(Entity).where(Entity.code.in_(codes)).order_by(Entity.code)).all()
    active = queries.activity(session, {e.id: e.book_id for e in entities})
    published = queries.published_keys(session, [e.id for e in entities], today=dt.date.max)
    quarters = sorted({(entity_id, Period.quarter_of(dt.date(year, month, 1))) for entity_id, year, month in active},
                      key=lambda q: (q[0], q[1].sort_key))
    by_id = {e.id: e for e in entities}
    loaded = False
    for entity_id, quarter in quarters:
        entity = by_id[entity_id]
        if quarter.end >= today or quarter.key in published.get(entity_id, ()) or (entity.code, quarter.key) in SKIPPED:
            continue
        on = min(quarter.end + dt.timedelta(days=PUBLISHED_AFTER), today)
        publish_disclosure(session, entity, quarter, actor=CONSOLE,
                           at=dt.datetime.combine(on, dt.time(9, 0), tzinfo=dt.UTC))
        loaded = True
    return loaded

"""A real server on a committed database, and Debian's Chromium driven by Playwright.

``live`` builds a database of its own (``isolated_db``: a file on SQLite, a schema on PostgreSQL), imports
a small cooperative, distributes, posts and publishes a year, creates a member user for two households,
and serves the real app (``create_app``) from a background thread on a free port. ``browser`` is headless
Chromium from ``/usr/bin/chromium`` (never a downloaded one); the tests are skipped, saying why, when it is
not installed. Screenshots go to ``tests/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from live import cli_of, live_app, served
from sqlalchemy import select

from cooperatives.access import CONSOLE

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "village-phone-2025"
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["BR-TEA", "金果坪藤茶种植专业合作社", "farmer_coop", "金果坪乡"]],
    "households": [["code", "head_name", "village", "phone"], ["BR-H001", "王大山", "茶园村", "13900000001"],
                   ["BR-H002", "李秀英", "茶园村", "13900000002"]],
    "members": [["member", "member_no", "joined_on"], ["BR-H001", 1, "2020-01-01"], ["BR-H002", 2, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-01", "BR-H001", "1000"], ["2025-01-01", "BR-H002", "1000"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                   ["2025-05-01", "BR-H001", "藤茶鲜叶", "200", "jin", "5", "bank"],
                   ["2025-05-01", "BR-H002", "藤茶鲜叶", "300", "kg", "10", "bank"]],
    "inputs": [["date", "member", "item", "amount"], ["2025-03-01", "BR-H001", "有机肥", "300"]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "湘西茶业有限公司", "藤茶干茶", "14000"]],
}


@dataclass(frozen=True)
class Live:
    url: str                   # http://127.0.0.1:<port>
    run_id: int
    codes: dict[str, str]      # household code -> statement code
    nets: dict[str, Decimal]   # household code -> net of the run
    users: dict[str, str]      # household code -> username of its member user
    pins: dict[str, str]       # household code -> PIN printed on its slip
    password: str = PASSWORD


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium); "
                    "the browser tests never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def phone(browser):
    """A new browser context the size of a cheap Android phone (360 × 740 CSS pixels), Chinese first."""
    contexts = []

    def open_context():
        context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True, locale="zh-CN", accept_downloads=True)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def live(isolated_db, xlsx, policy_file):
    from cooperatives.models import Household
    from cooperatives.users import create_user
    from payouts.models import PayoutMember, StatementSnapshot
    from payouts.statements.operations import record_receipt, set_pin

    app = live_app(isolated_db)
    makers = app.extensions["ledger.sessionmaker"]
    cli = cli_of(app)
    cli("import", xlsx(WORKBOOK))
    run_id = json.loads(cli("distribute", "--entity", "BR-TEA", "--year", "2025", "--policy", policy_file(POLICY),
                            "--json"))["run"]
    cli("run", "approve", str(run_id), "--meeting-date", "2026-03-01", "--attended", "2", "--votes-for", "2")
    cli("run", "post", str(run_id))
    cli("run", "publish", str(run_id))
    with makers["write"]() as db:
        snaps = {s.member_code: s for s in db.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == run_id))}
        nets = dict(db.execute(select(PayoutMember.code, PayoutMember.net).where(PayoutMember.run_id == run_id)).all())
        users, pins = {}, {}
        for code, household in ((h.code, h) for h in db.scalars(select(Household).order_by(Household.code))):
            users[code] = code.lower()
            create_user(db, username=code.lower(), password=PASSWORD, role="member", household_id=household.id,
                        display_name=household.head_name, actor=CONSOLE)
            pins[code] = set_pin(db, household, actor=CONSOLE)
        # the cooperative paid the first household by bank transfer
        record_receipt(db, snaps["BR-H001"], amount=nets["BR-H001"], method="bank", on=dt.date.today(),
                       reference="农商银行 2026-0001", actor=CONSOLE)
        db.commit()
        codes = {code: snap.code for code, snap in snaps.items()}

    with served(app) as url:
        yield Live(url, run_id, codes, nets, users, pins)

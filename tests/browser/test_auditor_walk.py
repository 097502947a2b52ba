"""Issues 5 and 16's acceptance in a real browser: the township auditor of 金果坪乡 signs in on the demo world,
opens the township overview (charts drawn server-side, no script), goes to the anomalies, follows a finding to
the record behind it, marks the finding handled and exports the findings; on a phone the overview fits the
screen. Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

import re

import pytest
from live import live_app, served

AUDITOR, PASSWORD = "nongjing", "demo-audit-2025"


@pytest.fixture
def demo_url(isolated_db):
    """The demo world (every entity, every run, the seeded anomalies) served by the real app."""
    from payouts.admin.demo import load_demo_world

    app = live_app(isolated_db, secret_key="walk")
    with app.extensions["ledger.sessionmaker"]["write"]() as session:
        assert load_demo_world(session)
        session.commit()
    with served(app, "coopledger-walk") as url:
        yield url


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", AUDITOR)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def test_an_auditor_walks_from_the_overview_to_an_anomaly_to_its_record(demo_url, browser, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_in(page, demo_url)

    with page.expect_navigation():
        page.click("header.top a[href='/oversight/']")                  # 乡镇监管
    assert page.inner_text("h1").startswith("金果坪乡")
    assert page.locator("figure.chart svg rect").count() >= 2            # the charts, server-rendered
    assert page.locator("script").count() == 0
    assert page.locator("#overview tbody tr").count() >= 2               # every entity of the township
    assert "JGP-TEA" in page.inner_text("#overview") and "TL-GRAPE" not in page.content()
    page.screenshot(path=str(artifacts / "auditor-overview.png"), full_page=True)

    with page.expect_navigation():
        page.click("nav.sub a[href='/oversight/anomalies']")            # 异常线索
    findings = page.locator("li.finding")
    assert findings.count() >= 1
    # a finding whose record is a page (a payment's record is its voucher, a PDF the browser downloads)
    link = page.locator("li.finding a.record:not([href*='.pdf'])").first
    href = link.get_attribute("href")
    entity_code = re.match(r"/e/([^/]+)/", href).group(1)
    assert entity_code in page.content()
    page.screenshot(path=str(artifacts / "auditor-anomalies.png"), full_page=True)

    with page.expect_navigation() as navigation:
        link.click()
    assert navigation.value.status == 200
    assert page.url.endswith(href)
    assert entity_code in page.content()                                 # the record's page of that entity
    page.screenshot(path=str(artifacts / "auditor-anomaly-record.png"), full_page=True)
    assert (artifacts / "auditor-anomaly-record.png").stat().st_size > 10_000

    # back to the finding: the auditor marks it handled with what was done, and it stays readable as handled
    page.goto(f"{demo_url}/oversight/anomalies")
    key = page.locator("li.finding").first.get_attribute("data-key")
    item = page.locator(f"li.finding[data-key='{key}']")
    item.locator("details.handle summary").click()
    item.locator("textarea[name=note]").fill("已约谈会计，补登记了付款凭证的签字。")
    with page.expect_navigation():
        item.locator("details.handle button[type=submit]").click()
    assert page.locator(f"li.finding[data-key='{key}']").count() == 0           # handled: no longer listed as open
    page.goto(f"{demo_url}/oversight/anomalies?show=all")
    handled = page.locator(f"li.finding[data-key='{key}']")
    assert "已约谈会计" in handled.inner_text() and handled.locator(".badge.ok").count() == 1
    page.screenshot(path=str(artifacts / "auditor-finding-handled.png"), full_page=True)

    # and exports the findings for the county, the handling with them
    export = page.locator("a[href*='/oversight/export/anomalies.xlsx']").first
    with page.expect_download(timeout=60_000) as info:
        export.click()
    import io
    from pathlib import Path

    from openpyxl import load_workbook

    assert info.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    cells = [str(c.value or "") for row in sheet.iter_rows() for c in row]
    assert any("已约谈会计" in c for c in cells)
    context.close()


def test_the_overview_fits_a_phone(demo_url, phone, artifacts):
    page = phone().new_page()
    sign_in(page, demo_url)
    page.goto(f"{demo_url}/oversight/")
    assert page.locator("figure.chart svg").count() >= 1
    box = page.locator("figure.chart svg").first.bounding_box()
    assert box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360   # wide tables scroll in their box
    page.screenshot(path=str(artifacts / "auditor-overview-phone.png"), full_page=True)

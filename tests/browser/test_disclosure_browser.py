"""Issue 15 §7's acceptance in a real browser: the public 财务公开 page fits a 360 px phone (no sideways scrolling,
names masked, its QR code shown) and prints on A3 (print media at A3's width, and Chromium's own A3 PDF); the
board's A3 PDF from the server is A3 too. Screenshots and PDFs go to ``tests/artifacts/``:
``disclosure-phone.png``, ``disclosure-a3-print.png``, ``disclosure-a3-print.pdf``, ``disclosure-board-a3.pdf`` and
(with poppler's ``pdftoppm``) ``disclosure-board-a3.png``."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from live import cli_of, live_app, served
from sqlalchemy import select

from cooperatives.access import CONSOLE

#: A3 portrait at the CSS pixel (96 per inch): 297 mm × 420 mm
A3_PX = (1123, 1587)
WORKBOOK = {
    "entity": [["code", "name", "kind", "township", "village"],
               ["PD-COOP", "金果坪乡茶园村藤茶专业合作社", "farmer_coop", "金果坪乡", "茶园村"]],
    "households": [["code", "head_name", "village"], ["PD-H001", "王大山", "茶园村"], ["PD-H002", "李秀英", "茶园村"]],
    "members": [["member", "member_no", "joined_on"], ["PD-H001", 1, "2020-01-01"], ["PD-H002", 2, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-10", "PD-H001", "20000"], ["2025-01-10", "PD-H002", "20000"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                   ["2025-07-05", "PD-H001", "藤茶鲜叶", "1500", "kg", "6", "bank"],
                   ["2025-07-06", "PD-H002", "藤茶鲜叶", "300", "kg", "6", "bank"]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "湘西茶业有限公司", "藤茶干茶", "48000"]],
    "expenses": [["date", "category", "amount", "payee"], ["2025-08-10", "operating", "12500", "冷库租金"],
                 ["2025-09-15", "management", "2400", "办公用品"]],
    "journal": [["voucher", "date", "memo", "account", "member", "debit", "credit"],
                ["J1", "2025-09-20", "支付王大山运费（藤茶干茶送货至吉首）", "521", "", "5600", ""],
                ["J1", "2025-09-20", "支付王大山运费（藤茶干茶送货至吉首）", "102", "", "", "5600"]],
}


@dataclass(frozen=True)
class Published:
    url: str
    code: str


@pytest.fixture
def disclosed(isolated_db, xlsx):
    from cooperatives.models import Entity
    from payouts.reports.disclosure.build import Period
    from payouts.reports.disclosure.operations import publish_disclosure

    app = live_app(isolated_db)
    cli_of(app)("import", xlsx(WORKBOOK))
    with app.extensions["ledger.sessionmaker"]["write"]() as db:
        entity = db.scalar(select(Entity).where(Entity.code == "PD-COOP"))
        code = publish_disclosure(db, entity, Period.parse("2025-Q3"), actor=CONSOLE).code
        db.commit()
    with served(app) as url:
        yield Published(url, code)


def test_the_public_disclosure_fits_a_phone(disclosed, phone, artifacts):
    page = phone().new_page()
    response = page.goto(f"{disclosed.url}/d/{disclosed.code}")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    body = page.inner_text("main")
    assert "金果坪乡茶园村藤茶专业合作社" in body and "2025年第三季度" in body
    assert "王大山" not in body and "运费" not in body        # the memo that names him is never published
    assert page.inner_text("#income-total").strip() == "48,000.00"
    assert page.locator("img[src^='data:image/svg+xml']").count() == 1
    assert page.locator("script").count() == 0
    # one column: nothing wider than the phone's screen, no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    widest = page.evaluate("Math.max(...[...document.querySelectorAll('main *')].map(e => e.getBoundingClientRect().right))")
    assert widest <= 360
    page.screenshot(path=str(artifacts / "disclosure-phone.png"), full_page=True)
    assert (artifacts / "disclosure-phone.png").stat().st_size > 10_000


def test_the_public_disclosure_prints_on_a3(disclosed, browser, artifacts):
    context = browser.new_context(viewport={"width": A3_PX[0], "height": A3_PX[1]}, locale="zh-CN")
    try:
        page = context.new_page()
        page.emulate_media(media="print")
        assert page.goto(f"{disclosed.url}/d/{disclosed.code}").status == 200
        assert page.evaluate("document.documentElement.scrollWidth") <= A3_PX[0]
        assert page.locator("header.top").is_hidden() and page.locator(".actions").is_hidden()   # the site's chrome
        page.screenshot(path=str(artifacts / "disclosure-a3-print.png"), full_page=True)
        pdf = page.pdf(path=str(artifacts / "disclosure-a3-print.pdf"), format="A3", print_background=True)
        assert pdf[:4] == b"%PDF"
        assert (artifacts / "disclosure-a3-print.png").stat().st_size > 10_000
        board = context.request.get(f"{disclosed.url}/d/{disclosed.code}.pdf")
        assert board.status == 200 and board.headers["content-type"] == "application/pdf"
        (artifacts / "disclosure-board-a3.pdf").write_bytes(board.body())
    finally:
        context.close()
    pdfinfo, pdftoppm = shutil.which("pdfinfo"), shutil.which("pdftoppm")
    if pdfinfo:
        for name in ("disclosure-a3-print.pdf", "disclosure-board-a3.pdf"):
            info = subprocess.run([pdfinfo, str(artifacts / name)], capture_output=True, text=True, check=True).stdout
            assert re.search(r"Page size:\s+84[12]\.\d+ x 119[01]\.\d+ pts \(A3\)", info), (name, info)
    if pdftoppm:                       # the board's print as a picture, beside the browser's
        subprocess.run([pdftoppm, "-png", "-r", "60", "-singlefile", str(artifacts / "disclosure-board-a3.pdf"),
                        str(artifacts / "disclosure-board-a3")], check=True)
        assert (artifacts / "disclosure-board-a3.png").stat().st_size > 10_000

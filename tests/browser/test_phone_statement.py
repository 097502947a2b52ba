"""Issue 4's acceptance in a real browser: a member on a 360 × 740 phone signs in, opens the statement,
sees the net of the run, downloads the PDF, confirms receipt; another member gets 404 for that statement;
a screenshot of the phone page is saved to ``tests/artifacts/``."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.i18n import format_money


def sign_in(page, live, username: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#username", username)
    page.fill("#password", live.password)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/my$"))


def test_a_member_reads_downloads_and_confirms_on_a_phone(live, phone, artifacts):
    page = phone().new_page()
    sign_in(page, live, live.users["BR-H001"])
    code, net = live.codes["BR-H001"], live.nets["BR-H001"]

    assert page.locator("html").get_attribute("lang") == "zh-CN"          # Chinese by default
    page.screenshot(path=str(artifacts / "phone-my.png"), full_page=True)
    page.click(f"a[href='/s/{code}']")
    page.wait_for_url(f"**/s/{code}")
    assert page.inner_text("#net").strip() == format_money(net) == f"{net:,.2f}"
    # one column: nothing wider than the phone's screen, no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.locator("script").count() == 0
    assert page.locator("#path").count() == 1            # surplus → reserve → distributable → pools, at 360 px too
    page.screenshot(path=str(artifacts / "phone-statement.png"), full_page=True)

    with page.expect_download(timeout=60_000) as info:
        page.click("#pdf")
    download = info.value
    assert download.suggested_filename.endswith(".pdf") and code in download.suggested_filename
    assert Path(download.path()).read_bytes()[:4] == b"%PDF"

    page.click("#confirm")
    page.wait_for_selector("#confirmed")
    assert page.locator("#confirm").count() == 0
    page.screenshot(path=str(artifacts / "phone-statement-confirmed.png"), full_page=True)
    assert (artifacts / "phone-statement.png").stat().st_size > 10_000


def test_another_member_gets_404_for_that_statement(live, phone):
    page = phone().new_page()
    sign_in(page, live, live.users["BR-H002"])
    response = page.goto(f"{live.url}/s/{live.codes['BR-H001']}")
    assert response.status == 404
    response = page.goto(f"{live.url}/s/{live.codes['BR-H001']}.pdf")
    assert response.status == 404
    response = page.goto(f"{live.url}/s/{live.codes['BR-H002']}")        # its own statement: yes
    assert response.status == 200
    assert page.inner_text("#net").strip() == format_money(live.nets["BR-H002"])
    # not paid yet: nothing to confirm (no button to tap by mistake), the page says when it can be
    assert page.locator("#confirm").count() == 0 and page.locator("#confirm-later").count() == 1


def test_a_member_raises_an_objection_on_a_phone(live, phone, artifacts):
    """Issue 16's walk: on a 360 × 740 phone the villager reads the statement and objects to a line; the
    objection is listed on the page at once, waiting for the cooperative's answer."""
    page = phone().new_page()
    sign_in(page, live, live.users["BR-H002"])
    code = live.codes["BR-H002"]
    page.goto(f"{live.url}/s/{code}")
    assert page.locator("#notice").count() == 1                  # the notice period is open
    options = page.locator("#o-line option")
    assert options.count() >= 2
    label = options.first.inner_text()
    assert re.search(r"[\u4e00-\u9fff]", label) and "patronage" not in label      # a line by its Chinese name
    page.select_option("#o-line", index=0)
    page.fill("#o-text", "我家交售的鲜叶是300公斤，不是200公斤，请核对。")
    with page.expect_navigation():
        page.click("#object-form button[type=submit]")
    assert "我家交售的鲜叶是300公斤" in page.inner_text("#objections ~ ul, main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts / "phone-objection.png"), full_page=True)


def test_a_household_checks_its_paper_then_opens_the_statement_with_phone_and_pin(live, phone, artifacts):
    page = phone().new_page()
    code, net = live.codes["BR-H002"], live.nets["BR-H002"]
    page.goto(f"{live.url}/verify")                                      # typed from the paper, no QR scanner
    page.fill("#code", code.lower().replace("-", " "))
    page.fill("#amount", f"{net + 100:.2f}")                             # the paper was altered
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.wait_for_url(f"**/verify/{code}?amount=*")
    assert page.locator("#amount-result.bad").count() == 1
    assert page.inner_text("#net").strip() == format_money(net)
    page.fill("#amount", f"{net:.2f}")
    with page.expect_navigation():                     # wait for the new answer, not the old page
        page.click("main button[type=submit]")
    assert page.locator("#amount-result.ok").count() == 1 and page.locator("#verdict.ok").count() == 1
    assert page.locator(".verdict").count() == 1                       # one verdict for the paper
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts / "phone-verify.png"), full_page=True)

    page.click("a[href^='/s/pin']")
    page.fill("#phone", "139 0000 0002")
    page.fill("#pin", live.pins["BR-H002"])
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/s/{code}")
    assert page.inner_text("#net").strip() == format_money(net)
    assert page.goto(f"{live.url}/s/{live.codes['BR-H001']}").status == 404

"""The XSS corpus in Debian's Chromium: 0 script executions, 0 requests leaving the app.

A real server (``create_app`` on a committed database of its own) holds a cooperative whose household
names, delivered products, capital notes, sale buyers and objections are the payloads of
``tests/data/xss_payloads.txt``; its year is distributed, posted and published. The accountant, the
township auditor and a household then open every page that shows them, in headless Chromium, with:

* a hook on dialogs (``alert``/``confirm``/``prompt``) and on uncaught page errors;
* ``alert``, ``confirm``, ``prompt`` and ``print`` replaced before any page script runs, counting calls,
  and a check of ``window.__xss`` (one payload sets it);
* every request routed: any request not for this server is aborted and counted (so a payload pointing at
  ``169.254.169.254`` or any other host never leaves the machine, and is seen);
* console messages about the Content Security Policy counted: an injected inline script or handler
  would be reported there even when the policy stops it;
* the pointer swept over each page and every focusable element focused, for ``onmouseover``/``onfocus``.

Pass figure (reliability.md §2.8 W2): 0 dialogs, 0 page errors, 0 hook calls, 0 foreign requests,
0 CSP reports.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from live import cli_of, live_app, served
from sqlalchemy import select

from cooperatives.access import CONSOLE

PAYLOADS = [line for line in (Path(__file__).parents[1] / "data" / "xss_payloads.txt")
            .read_text(encoding="utf-8").splitlines() if line]
PASSWORD = "village-phone-2025"
CODE = "XB-TEA"
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
HOOKS = """
window.__hooked = 0;
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  window[name] = function () { window.__hooked += 1; };
}
"""


def workbook() -> dict:
    households = [["code", "head_name", "village"]] + [[f"B{i:03d}", p, "茶园村"] for i, p in enumerate(PAYLOADS, 1)]
    members = [["member", "member_no", "joined_on"]] + [[f"B{i:03d}", i, "2020-01-01"] for i in range(1, len(PAYLOADS) + 1)]
    capital = [["date", "member", "amount", "note"]] + [
        ["2025-01-01", f"B{i:03d}", "100", p] for i, p in enumerate(PAYLOADS, 1)]
    deliveries = [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"]] + [
        ["2025-05-01", "B001", p, "10", "kg", "2", "bank"] for p in PAYLOADS]
    sales = [["date", "buyer", "product", "amount"]] + [["2025-09-01", p, "干茶", "50"] for p in PAYLOADS[:80]]
    return {"entity": [["code", "name", "kind", "township"], [CODE, "藤茶社<script>alert('社')</script>",
                                                                 "farmer_coop", "金果坪乡"]],
            "households": households, "members": members, "capital": capital, "deliveries": deliveries,
            "sales": sales}


@pytest.fixture
def hostile_live(isolated_db, xlsx, policy_file):
    from cooperatives.models import Entity, Household
    from cooperatives.users import create_user
    from payouts.models import StatementSnapshot
    from payouts.statements.operations import record_objection

    app = live_app(isolated_db)
    makers = app.extensions["ledger.sessionmaker"]
    cli = cli_of(app)
    cli("import", xlsx(workbook()))
    run = json.loads(cli("distribute", "--entity", CODE, "--year", "2025", "--policy", policy_file(POLICY),
                         "--json"))["run"]
    n = str(len(PAYLOADS))
    cli("run", "approve", str(run), "--meeting-date", "2026-03-01", "--attended", n, "--votes-for", n)
    cli("run", "post", str(run))
    cli("run", "publish", str(run))
    with makers["write"]() as db:
        entity = db.scalar(select(Entity).where(Entity.code == CODE))
        first = db.scalar(select(Household).where(Household.code == "B001"))
        create_user(db, username="xb-acc", password=PASSWORD, role="accountant", entity_id=entity.id, actor=CONSOLE)
        create_user(db, username="xb-aud", password=PASSWORD, role="auditor", township_id=entity.township_id, actor=CONSOLE)
        create_user(db, username="xb-mem", password=PASSWORD, role="member", household_id=first.id, actor=CONSOLE)
        snap = db.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run,
                                                         StatementSnapshot.member_code == "B001"))
        line = snap.content["lines"][0]["pool"]
        for text in PAYLOADS:
            record_objection(db, snap, line=line, text=text, actor=CONSOLE)
        db.commit()
        statement = snap.code
    with served(app, "coopledger-xss") as url:
        yield {"url": url, "run": run, "statement": statement}


class Watch:
    """Everything a page could do that an escaped payload never does."""

    def __init__(self, origin: str):
        self.origin = origin
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.csp: list[str] = []
        self.foreign: list[str] = []

    def attach(self, context, page) -> None:
        context.add_init_script(HOOKS)
        context.route("**/*", self.route)
        page.on("dialog", self.dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)[:200]))
        page.on("console", self.console)

    def route(self, route):
        parts = urlsplit(route.request.url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.foreign.append(route.request.url[:200])
            route.abort()

    def dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message[:100]}")
        dialog.dismiss()

    def console(self, message):
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.csp.append(message.text[:200])


def visit(page, url: str) -> dict:
    page.goto(url, wait_until="load")
    page.wait_for_timeout(100)                  # let timers, autofocus and animations fire
    width, height = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    for y in range(0, min(height, 20_000), 400):         # sweep the pointer over the page
        for x in (20, min(width, 1000) // 2, min(width, 1000) - 20):
            page.mouse.move(x, y)
    page.evaluate("for (const el of document.querySelectorAll('a, input, select, textarea, button, [tabindex]'))"
                  " { try { el.focus(); } catch (e) {} }")
    return page.evaluate("({hooked: window.__hooked, xss: window.__xss || 0, inline: "
                         "document.querySelectorAll('script:not([src])').length})")


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state("load")


@pytest.mark.slow
def test_no_payload_runs_in_chromium(hostile_live, browser):
    base, run, statement = hostile_live["url"], hostile_live["run"], hostile_live["statement"]
    watch = Watch(base)
    visits = {
        "xb-acc": ["/", f"/e/{CODE}/", f"/e/{CODE}/members", f"/e/{CODE}/members/B001", f"/e/{CODE}/members/B002",
                   *(f"/e/{CODE}/records/{kind}?page={n}" for kind in ("deliveries", "capital") for n in (1, 2, 3, 4, 5)),
                   f"/e/{CODE}/records/sales", f"/e/{CODE}/journal", f"/e/{CODE}/trial-balance", f"/e/{CODE}/runs",
                   f"/e/{CODE}/runs/{run}", f"/e/{CODE}/runs/{run}/statements", f"/e/{CODE}/objections",
                   f"/s/{statement}", f"/e/{CODE}/reports/2025"],
        "xb-aud": ["/", "/objections", f"/e/{CODE}/members", f"/e/{CODE}/runs/{run}", "/oversight/",
                   "/oversight/runs", "/oversight/anomalies"],
        "xb-mem": ["/my", f"/s/{statement}"],
    }
    seen = {}
    for user, paths in visits.items():
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        watch.attach(context, page)
        sign_in(page, base, user)
        for path in paths:
            seen[f"{user} {path}"] = visit(page, base + path)
        context.close()
    executed = {where: state for where, state in seen.items() if state["hooked"] or state["xss"]}
    inline = {where: state["inline"] for where, state in seen.items() if state["inline"]}
    print(f"\nxss browser: {len(PAYLOADS)} payloads, {len(seen)} pages; dialogs {len(watch.dialogs)}, "
          f"hooked calls {sum(s['hooked'] for s in seen.values())}, page errors {len(watch.errors)}, "
          f"foreign requests {len(watch.foreign)}, CSP reports {len(watch.csp)}")
    assert watch.dialogs == [] and not executed and watch.errors == []
    assert watch.foreign == [] and watch.csp == [] and not inline
    assert len(seen) >= 30


def test_the_watch_sees_an_injection(browser, tmp_path):
    """Control: the same instruments on a page that does NOT escape the corpus see dialogs, foreign
    requests and CSP reports (the request to the outside is aborted by the route, never sent)."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    samples = ["张三<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
               '<img src="http://169.254.169.254/latest/meta-data/">', "<script>window.__xss=1</script>"]
    assert all(sample in PAYLOADS for sample in samples)
    body = "<!doctype html><html><body>" + "".join(f"<p>{p}</p>" for p in samples) + "</body></html>"

    @Request.application
    def unsafe(request):
        response = Response(body, content_type="text/html; charset=utf-8")
        if request.args.get("csp"):
            response.headers["Content-Security-Policy"] = "default-src 'self'; script-src 'self'; img-src 'self'"
        return response

    server = make_server("127.0.0.1", 0, unsafe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        watch = Watch(base)
        context = browser.new_context()
        page = context.new_page()
        watch.attach(context, page)
        state = visit(page, base + "/")
        assert state["hooked"] >= 3 and state["xss"] == 1
        assert watch.foreign and all(not re.match(r"^http://127\.0\.0\.1:\d+/", u) for u in watch.foreign)
        visit(page, base + "/?csp=1")
        assert watch.csp
        context.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

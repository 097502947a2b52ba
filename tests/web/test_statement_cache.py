"""The statement page keeps each rendered statement body per worker (payouts.statements.cache): a
statement is rendered once, whatever the number of visits, while what changes — the payment state —
is read on every request."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import test_statement_pages as pages
from test_statement_pages import NET, by_id, signed_in, snap_of, text

from cooperatives.access import CONSOLE
from payouts.statements import cache
from payouts.statements.cache import RenderedCache
from payouts.statements.operations import record_receipt

posted, run = pages.posted, pages.run        # the published run of the statement pages' tests (fixtures)
TOKEN = re.compile(r'(name="csrf_token" value=")[^"]+"')


def without_tokens(page: str) -> str:
    return TOKEN.sub(r'\1…"', page)


def test_the_cache_builds_once_per_key_and_forgets_the_least_recently_used():
    built = []
    bodies = RenderedCache(maxsize=2)

    def build(name):
        return lambda: built.append(name) or f"<p>{name}</p>"

    assert bodies.get("a", build("a")) == "<p>a</p>"
    assert bodies.get("a", build("a")) == "<p>a</p>"
    assert built == ["a"]
    bodies.get("b", build("b"))
    bodies.get("a", build("a"))            # a is now the most recently used
    bodies.get("c", build("c"))            # over the bound: b goes, a stays
    assert len(bodies) == 2 and built == ["a", "b", "c"]
    bodies.get("a", build("a"))
    bodies.get("b", build("b"))
    assert built == ["a", "b", "c", "b"]
    assert (bodies.hits, bodies.misses) == (3, 4)


@pytest.fixture
def renders(monkeypatch):
    """Counts the statement bodies actually rendered by the page."""
    import payouts.statements.web.household as views

    calls = []
    real = views.render_statement_body

    def counting(data, *, locale, verify_url):
        calls.append((data["member"]["code"], locale))
        return real(data, locale=locale, verify_url=verify_url)

    cache.statement_bodies.clear()
    monkeypatch.setattr(views, "render_statement_body", counting)
    yield calls
    cache.statement_bodies.clear()


def test_a_statement_is_rendered_once_and_its_payment_state_stays_fresh(app, run, session, login, renders):
    snap = snap_of(session, "V1")
    client = signed_in(app, login, "mem_v1")
    first = text(client.get(f"/s/{snap.code}"))
    second = text(client.get(f"/s/{snap.code}"))
    assert renders == [("V1", "en")]
    # the same page but for the CSRF tokens, which are signed with the time (a second apart: different)
    assert without_tokens(first) == without_tokens(second) and "6,000.00 × 25.00 % = 1,500.00 yuan" in second
    assert by_id(second, "paid-state") == "Not paid yet"

    record_receipt(session, snap_of(session, "V1"), amount=NET["V1"], method="bank", on=dt.date.today(), actor=CONSOLE)
    session.commit()
    paid = text(client.get(f"/s/{snap.code}"))
    assert by_id(paid, "paid-state") == "Paid"              # read on every request, not cached
    assert renders == [("V1", "en")]

    client.set_cookie("lang", "zh_Hans_CN")                 # another language: its own body
    chinese = text(client.get(f"/s/{snap.code}"))
    assert '<html lang="zh-CN">' in chinese and "可分配盈余" in chinese and "1,000.00 ÷ 4,000.00 = 25.00 %" in chinese
    assert renders == [("V1", "en"), ("V1", "zh_Hans_CN")]


def test_households_never_get_each_others_cached_body(app, run, session, login, renders):
    v1, v2 = snap_of(session, "V1"), snap_of(session, "V2")
    page_1 = text(signed_in(app, login, "mem_v1").get(f"/s/{v1.code}"))
    page_2 = text(signed_in(app, login, "mem_v2").get(f"/s/{v2.code}"))
    assert by_id(page_1, "net") == "3,500.00" and by_id(page_2, "net") == "6,500.00"
    assert "李秀英" in page_2 and "李秀英" not in page_1
    assert sorted(renders) == [("V1", "en"), ("V2", "en")]


@pytest.fixture
def pages_built(app, monkeypatch):
    """Counts the household statement pages actually rendered (not served from the page cache)."""
    import payouts.statements.web.household as views

    built = []
    real = views._statement_page

    def counting(snap, who, **kwargs):
        built.append(snap.member_code)
        return real(snap, who, **kwargs)

    monkeypatch.setattr(views, "_statement_page", counting)
    return built


def _pin_visitor(app, session, post_form, household="V2", pin=None):
    """A phone + PIN visitor of ``household`` (a new PIN is set unless ``pin`` is given: setting one ends
    every visit of the household)."""
    from sqlalchemy import select

    from cooperatives.models import Household
    from payouts.statements.operations import set_pin

    if pin is None:
        pin = set_pin(session, session.scalar(select(Household).where(Household.code == household)), actor=CONSOLE)
        session.commit()
    client = pages.english(app.test_client())
    assert post_form(client, "/s/pin", {"phone": f"1390000000{household[-1]}", "pin": pin}).status_code == 302
    return client


def test_a_household_page_is_rendered_once_and_each_visitor_gets_its_own_csrf_token(app, run, session, post_form,
                                                                                     pages_built):
    from sqlalchemy import select

    from cooperatives.models import Household
    from payouts.statements.operations import set_pin

    code = snap_of(session, "V2").code
    pin = set_pin(session, session.scalar(select(Household).where(Household.code == "V2")), actor=CONSOLE)
    session.commit()
    first, second = (_pin_visitor(app, session, post_form, pin=pin), _pin_visitor(app, session, post_form, pin=pin))
    page_1, page_2 = text(first.get(f"/s/{code}")), text(second.get(f"/s/{code}"))
    assert pages_built == ["V2"]                                   # the second visit came from the cache

    def tokens(page):
        return {match.group(0) for match in TOKEN.finditer(page)}

    assert len(tokens(page_1)) == 1 and len(tokens(page_2)) == 1 and tokens(page_1) != tokens(page_2)
    assert without_tokens(page_1) == without_tokens(page_2)
    # paid (the cooperative records it: the page changes for everyone), the household confirms below
    record_receipt(session, snap_of(session, "V2"), amount=NET["V2"], method="bank", on=dt.date.today(), actor=CONSOLE)
    session.commit()
    page_1, page_2 = text(first.get(f"/s/{code}")), text(second.get(f"/s/{code}"))
    assert pages_built == ["V2", "V2"] and by_id(page_2, "paid-state") == "Paid" and 'id="confirm"' in page_2
    # the cached page's token is the second visitor's own: its form is accepted
    assert post_form(second, f"/s/{code}/confirm", {}, token_path=f"/s/{code}").status_code == 302
    after = text(second.get(f"/s/{code}"))                         # with the thank-you message: not cached
    assert "confirmation of receipt is recorded" in after and "Receipt confirmed on" in by_id(after, "confirmed")
    again = text(first.get(f"/s/{code}"))                          # confirmed: a new page for everyone
    assert "Receipt confirmed on" in by_id(again, "confirmed") and "confirmation of receipt" not in again
    assert pages_built == ["V2", "V2", "V2", "V2"]


def test_a_cached_household_page_follows_payments_objections_and_their_answers(app, run, session, post_form,
                                                                                pages_built):
    from payouts.models import Objection
    from payouts.statements.operations import answer_objection, record_objection

    visitor = _pin_visitor(app, session, post_form)
    snap = snap_of(session, "V2")
    assert by_id(text(visitor.get(f"/s/{snap.code}")), "paid-state") == "Not paid yet"
    record_receipt(session, snap_of(session, "V2"), amount=NET["V2"] - 1, method="bank", on=dt.date.today(), actor=CONSOLE)
    session.commit()
    assert by_id(text(visitor.get(f"/s/{snap.code}")), "paid-state").startswith("Partly paid")
    objection = record_objection(session, snap_of(session, "V2"), line="residual", text="股金少记 500 元", actor=CONSOLE)
    session.commit()
    assert "股金少记 500 元" in text(visitor.get(f"/s/{snap.code}"))
    answer_objection(session, session.get(Objection, objection.id), answer="已核对：股金 1000 元无误。", actor=CONSOLE)
    session.commit()
    assert "已核对：股金 1000 元无误。" in text(visitor.get(f"/s/{snap.code}"))
    assert visitor.get(f"/s/{snap_of(session, 'V1').code}").status_code == 404     # another household's: never
    assert len(pages_built) == 4

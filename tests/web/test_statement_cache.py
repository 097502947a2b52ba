"""The statement page keeps each rendered statement body per worker (payouts.statements.cache): a
statement is rendered once, whatever the number of visits, while what changes — the payment state —
is read on every request."""

from __future__ import annotations

import datetime as dt

import pytest
import test_statement_pages as pages
from test_statement_pages import NET, by_id, signed_in, snap_of, text

from payouts.statements import cache
from payouts.statements.cache import RenderedCache
from payouts.statements.operations import record_receipt

posted, run = pages.posted, pages.run        # the published run of the statement pages' tests (fixtures)


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
    import payouts.web.statements as views

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
    assert first == second and snap.content["lines"][0]["formula_en"] in second
    assert by_id(second, "paid-state") == "Not paid yet"

    record_receipt(session, snap_of(session, "V1"), amount=NET["V1"], method="bank", on=dt.date.today())
    session.commit()
    paid = text(client.get(f"/s/{snap.code}"))
    assert by_id(paid, "paid-state") == "Paid"              # read on every request, not cached
    assert renders == [("V1", "en")]

    client.set_cookie("lang", "zh_Hans_CN")                 # another language: its own body
    chinese = text(client.get(f"/s/{snap.code}"))
    assert snap.content["lines"][0]["formula_zh"] in chinese
    assert renders == [("V1", "en"), ("V1", "zh_Hans_CN")]


def test_households_never_get_each_others_cached_body(app, run, session, login, renders):
    v1, v2 = snap_of(session, "V1"), snap_of(session, "V2")
    page_1 = text(signed_in(app, login, "mem_v1").get(f"/s/{v1.code}"))
    page_2 = text(signed_in(app, login, "mem_v2").get(f"/s/{v2.code}"))
    assert by_id(page_1, "net") == "3,500.00" and by_id(page_2, "net") == "6,500.00"
    assert "李秀英" in page_2 and "李秀英" not in page_1
    assert sorted(renders) == [("V1", "en"), ("V2", "en")]

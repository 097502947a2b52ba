"""Numbers too large for the database, in URLs and query strings: a 404 (or the page's own answer), never
a database error.

Every route with an id in its URL (found through the authorization matrix's list of URL variables, so a
new route is covered as it is added) is asked for ids of 2⁶³−1 (the largest the database holds: no such
row), 2⁶³, 10³⁰, 0 and ``007`` by the admin, whom every such rule admits: each is a 404. ``?page=`` and ``?year=`` of every
page that reads them get numbers beyond any table.
"""

from __future__ import annotations

import json
import re

import pytest
from test_authz_matrix import SELECTORS, VARIABLES, Objects, variable_kind

from ledger.web.bounds import MAX_ID, IdConverter

A = "TA-COOP"
HUGE = (str(MAX_ID), str(2**63), "1" + "0" * 30, "0", "007")
#: object kinds whose URL value is a number (runs, render and import jobs, objections, users, ...)
NUMERIC = {kind for _, _, kind in VARIABLES if kind not in SELECTORS and Objects.missing(kind).isdigit()}
VARIABLE = re.compile(r"<(?:[^:>]+:)?(\w+)>")
#: what the rest of a URL holds: an entity of the world, its first household, the selectors of the matrix
FILLERS = {"entity": A, "household": "A-H001", **SELECTORS}


def numeric_routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.startswith("api-docs."):
            continue
        kinds = {arg: variable_kind(rule, arg) for arg in rule.arguments}
        numeric = [arg for arg, kind in kinds.items() if kind in NUMERIC]
        if numeric:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, kinds, numeric


def _path(rule, kinds: dict, values: dict) -> str:
    """The rule's URL with ``values`` for the named variables and the world's objects for the others."""
    return VARIABLE.sub(lambda m: values.get(m[1]) or FILLERS.get(kinds[m[1]]) or Objects.missing(kinds[m[1]]),
                        rule.rule)


def test_every_numeric_id_in_a_route_is_bounded(app):
    """No route takes an unbounded integer: each id is the ``id`` converter (or text the view checks)."""
    unbounded = [r.rule for r in app.url_map.iter_rules() for c in r._converters.values()
                 if hasattr(c, "max") and (c.max is None or c.max > MAX_ID)]
    assert unbounded == []
    ids = [r.rule for r in app.url_map.iter_rules() for c in r._converters.values() if isinstance(c, IdConverter)]
    assert len(ids) >= 9          # runs and render jobs (pages and API), the admin's password reset


def test_ids_beyond_the_database_are_404(app, client, world, login, csrf, session, token):
    bearer = token("admin")
    login(client, "admin")
    token = csrf(client, f"/e/{A}/")
    routes = list(numeric_routes(app))
    assert len(routes) >= 15
    answers = {}
    for rule, method, kinds, numeric in routes:
        for value in HUGE:
            path = _path(rule, kinds, dict.fromkeys(numeric, value))
            if rule.rule.startswith("/api/"):
                response = client.open(path, method=method, json={} if method != "GET" else None, headers=bearer)
            elif method == "GET":
                response = client.get(path)
            else:
                response = client.open(path, method=method, data={"csrf_token": token})
            answers[(method, path)] = response.status_code
            session.rollback()
    wrong = {k: v for k, v in answers.items() if v != 404}
    assert wrong == {}
    print(f"{len(routes)} routes x {len(HUGE)} ids: {len(answers)} requests, all 404")


@pytest.mark.parametrize("path", [f"/e/{A}/journal", f"/e/{A}/records/deliveries", f"/e/{A}/runs",
                                  f"/e/{A}/objections", f"/e/{A}/reports/2025/member-accounts", "/audit"])
@pytest.mark.parametrize("page", ["9223372036854775808", "1" + "0" * 30, "-5", "x"])
def test_a_page_number_beyond_any_table_is_an_empty_page(client, world, login, path, page):
    login(client, "admin")
    response = client.get(f"{path}?page={page}")
    assert response.status_code == 200, (path, page, response.status_code)


@pytest.mark.parametrize("year", ["9223372036854775808", "99999", "0", "-1", "10000", "x"])
def test_a_year_beyond_the_calendar_is_refused_or_ignored(client, world, login, token, year):
    login(client, "admin")
    for path in (f"/e/{A}/trial-balance?year={year}", f"/oversight/?year={year}",
                 f"/e/{A}/policy?version={year}"):
        assert client.get(path).status_code in (200, 404), path
    response = client.get(f"/api/v1/entities/{A}/trial-balance?year={year}", headers=token("acc_a"))
    assert response.status_code == 422, response.status_code


def test_numbers_in_bodies_beyond_the_database_are_refused(client, world, login, post_form, token, session, cli,
                                                           policy_file):
    """A meeting of 2⁷⁰ members, a member number of 10³⁰, a page of 2⁷⁰: a 422 that says why, nothing stored."""
    from payouts.models import PayoutRun

    policy = '[[pools]]\nname = "all"\npct = "100"\nbasis = "capital"\n'
    result = cli("distribute", "--entity", A, "--year", "2025", "--policy", policy_file(policy), "--json")
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.stdout)["run"]
    headers = token("acc_a")
    for attended, votes in ((2**70, 2**70), (3, 10**30), (2**63, 3)):
        meeting = {"meeting_date": "2026-03-01", "attended": attended, "votes_for": votes}
        assert client.post(f"/api/v1/runs/{run_id}/approve", json=meeting, headers=headers).status_code == 422
    member = {"code": "A-H050", "head_name": "覃", "village": "茶园村", "member_no": 10**30, "joined_on": "2025-02-01"}
    response = client.post(f"/api/v1/entities/{A}/members", json=member, headers=headers)
    assert response.status_code == 422 and "member_no" in response.get_json()["errors"]
    assert client.get(f"/api/v1/entities/{A}/deliveries?page={2**70}", headers=headers).status_code == 422
    login(client, "acc_a")
    response = post_form(client, f"/e/{A}/runs/{run_id}/approve",
                         {"meeting_date": "2026-03-01", "attended": str(2**70), "votes_for": str(2**70)},
                         token_path=f"/e/{A}/runs/{run_id}")
    assert response.status_code == 422
    session.expire_all()
    assert session.get(PayoutRun, run_id).status == "draft"

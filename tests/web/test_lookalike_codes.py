"""Look-alike codes through the registration page and the API (the import: tests/cooperatives/test_codes.py).

Each look-alike of an existing household code (``A-H001``) is refused with its reason and nothing is
written; a full-width code is registered under its ASCII form, and typed again in either form it is the same
household — refused as already a member, never a second household.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from cooperatives.models import Household, Member

A = "TA-COOP"
#: look-alikes of the world's household A-H001
SHOWN_AS_A_H001 = {"zero-width space": "A-H\u200b001", "Cyrillic А": "\u0410-H001", "Cyrillic Н": "A-\u041d001",
                   "Greek Η": "A-\u0397001", "right-to-left override": "A-H\u202e100", "soft hyphen": "A-H\u00ad001",
                   "en dash": "A\u2013H001", "byte-order mark": "\ufeffA-H001"}
REASONS = ("invisible character", "looks like another one", "a code may hold", "must begin with")
FORM = {"head_name": "覃光荣", "village": "茶园村", "member_no": "41", "joined_on": "2025-02-01", "farmer": "yes"}


def counts(session) -> tuple[int, int]:
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(Household)),
            session.scalar(select(func.count()).select_from(Member)))


@pytest.mark.parametrize("name", list(SHOWN_AS_A_H001))
def test_the_registration_page_refuses_a_lookalike(client, world, login, post_form, session, name):
    login(client, "acc_a")
    client.set_cookie("lang", "en")
    before = counts(session)
    response = post_form(client, f"/e/{A}/members", {**FORM, "code": SHOWN_AS_A_H001[name]})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert any(reason in page for reason in REASONS), name
    assert counts(session) == before


@pytest.mark.parametrize("name", list(SHOWN_AS_A_H001))
def test_the_api_refuses_a_lookalike(client, world, token, session, name):
    before = counts(session)
    client.set_cookie("lang", "en")
    body = {**FORM, "member_no": 41, "farmer": True, "code": SHOWN_AS_A_H001[name]}
    response = client.post(f"/api/v1/entities/{A}/members", json=body, headers=token("acc_a"))
    assert response.status_code == 422
    reasons = (*REASONS, "contain spaces")      # the API's JSON schema takes a BOM for a space, and says so first
    assert any(reason in m for m in response.get_json()["errors"]["code"] for reason in reasons), response.get_json()
    record = {"date": "2025-05-06", "member": SHOWN_AS_A_H001[name], "product": "藤茶鲜叶", "quantity": "1",
              "unit": "kg", "unit_price": "5"}
    response = client.post(f"/api/v1/entities/{A}/deliveries", json=record, headers=token("acc_a"))
    assert response.status_code == 422 and "member" in response.get_json()["errors"]
    assert counts(session) == before


def test_a_full_width_code_on_the_page_is_the_ascii_household(client, world, login, post_form, session):
    login(client, "acc_a")
    client.set_cookie("lang", "en")
    households, members = counts(session)
    response = post_form(client, f"/e/{A}/members", {**FORM, "code": "Ａ-Ｈ０４１"})
    assert response.status_code == 302
    assert counts(session) == (households + 1, members + 1)
    assert session.scalar(select(Household.code).where(Household.head_name == "覃光荣")) == "A-H041"
    assert client.get(f"/e/{A}/members/A-H041").status_code == 200
    for typed in ("A-H041", "Ａ-H041", "Ａ-Ｈ０４１"):          # the same household, in any width: already a member
        response = post_form(client, f"/e/{A}/members", {**FORM, "member_no": "42", "code": typed})
        assert response.status_code == 422, typed
        assert counts(session) == (households + 1, members + 1)


def test_a_full_width_code_in_the_api_is_the_ascii_household(client, world, token, session):
    households, members = counts(session)
    body = {**FORM, "member_no": 41, "farmer": True, "code": "Ａ-Ｈ０４１"}
    response = client.post(f"/api/v1/entities/{A}/members", json=body, headers=token("acc_a"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["code"] == "A-H041"
    assert counts(session) == (households + 1, members + 1)
    record = {"date": "2025-05-06", "member": "Ａ-H041", "product": "藤茶鲜叶", "quantity": "1", "unit": "kg",
              "unit_price": "5", "paid_by": "bank"}
    response = client.post(f"/api/v1/entities/{A}/deliveries", json=record, headers=token("acc_a"))
    assert response.status_code == 201 and response.get_json()["member"] == "A-H041"
    again = client.post(f"/api/v1/entities/{A}/members", json={**body, "member_no": 42, "code": "A-H041"},
                        headers=token("acc_a"))
    assert again.status_code == 422
    assert counts(session) == (households + 1, members + 1)

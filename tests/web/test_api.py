"""The JSON API: bearer tokens, scope, the INTERFACES error shape, amounts as two-decimal strings."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import Delivery, Entity, Household, Member, User
from ledger.models import JournalEntry
from ledger.queries import account_balance, member_balances, trial_balance

A, B = "TA-COOP", "TB-COOP"
KINDS = ("capital", "land", "labor", "deliveries", "inputs", "sales", "expenses", "subsidies", "advances",
         "payments", "income")
TWO_DECIMALS = re.compile(r"^-?\d+\.\d{2}$")
DELIVERY = {"date": "2025-09-01", "member": "A-H002", "product": "藤茶鲜叶", "grade": "二级", "quantity": "85.5",
            "unit": "jin", "unit_price": "4.20", "paid": False}


def entity(session, code) -> Entity:
    return session.scalar(select(Entity).where(Entity.code == code))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def balanced(session, code) -> bool:
    rows = trial_balance(session, entity(session, code).book)
    return sum((r.debit for r in rows), Decimal(0)) == sum((r.credit for r in rows), Decimal(0))


# -------------------------------------------------------------------------------------------- openapi


def test_openapi_document_lists_the_record_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "coopledger"
    paths = doc["paths"]
    for kind in KINDS:
        path = f"/api/v1/entities/{{code}}/{kind}"
        assert {"get", "post"} <= set(paths[path]), path
        assert "requestBody" in paths[path]["post"], path
    for path in ("/api/v1/entities", "/api/v1/entities/{code}/members", "/api/v1/entities/{code}/trial-balance",
                 "/api/v1/entities/{code}/imports"):
        assert path in paths
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    schemas = doc["components"]["schemas"]
    delivery = next(s for name, s in schemas.items() if name.startswith("Deliveries"))
    assert {"date", "member", "product", "quantity", "unit", "unit_price"} <= set(delivery["required"])


# ------------------------------------------------------------------------------------------ authentication


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWRtaW46eA=="}])
def test_no_valid_token_is_401_json(client, world, headers):
    response = client.get("/api/v1/entities", headers=headers)
    assert response.status_code == 401 and response.is_json
    errors = response.get_json()["errors"]
    assert isinstance(errors, dict) and all(isinstance(v, list) and v for v in errors.values())


def test_a_session_cookie_is_not_accepted(client, world, login):
    login(client, "acc_a")
    assert client.get("/api/v1/entities").status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(client, world, token, session):
    headers = token("acc_a")
    session.scalar(select(User).where(User.username == "acc_a")).active = False
    session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_me(client, token):
    assert client.get("/api/v1/me", headers=token("aud_a")).get_json() == {"username": "aud_a", "role": "auditor"}


# ------------------------------------------------------------------------------------------------- reads


def test_entities_within_scope(client, token):
    assert [e["code"] for e in client.get("/api/v1/entities", headers=token("acc_a")).get_json()] == [A]
    assert [e["code"] for e in client.get("/api/v1/entities", headers=token("aud_b")).get_json()] == [B]
    assert [e["code"] for e in client.get("/api/v1/entities", headers=token("admin")).get_json()] == [A, B]
    got = client.get(f"/api/v1/entities/{A}", headers=token("aud_a")).get_json()
    assert got == {"code": A, "name": "甲乡藤茶专业合作社", "kind": "farmer_coop", "township": "甲乡",
                   "village": "茶园村", "credit_code": None}


def test_members_are_listed_with_masked_numbers(client, world, token):
    members = client.get(f"/api/v1/entities/{A}/members", headers=token("acc_a")).get_json()
    assert [m["code"] for m in members] == ["A-H001", "A-H002", "A-H003"]
    assert members[0]["name"] == "王大山" and members[0]["id_number"] == world.masked["A-H001"]
    body = str(members)
    assert all(number not in body for number in world.id_numbers.values())


@pytest.mark.parametrize("kind", KINDS)
def test_every_record_kind_is_listed(client, world, token, kind):
    response = client.get(f"/api/v1/entities/{A}/{kind}", headers=token("aud_a"))
    assert response.status_code == 200
    data = response.get_json()
    assert data["total"] == 1 and data["page"] == 1
    (rec,) = data["records"]
    assert rec["kind"] == kind and world.markers[kind] in str(rec)
    for column in ("amount", "rate", "base_rent_per_mu", "unit_price"):
        if column in rec:
            assert isinstance(rec[column], str) and TWO_DECIMALS.match(rec[column]), (column, rec[column])
    if kind != "land":
        assert re.match(r"^\d{4}-\d{4}$", rec["voucher"])


def test_a_delivery_as_json(client, world, token):
    (rec,) = client.get(f"/api/v1/entities/{A}/deliveries", headers=token("acc_a")).get_json()["records"]
    assert rec["member"] == "A-H001" and rec["quantity"] == "120" and rec["unit"] == "jin"
    assert rec["unit_price"] == "5.60" and rec["amount"] == "672.00" and rec["paid"] is False
    assert rec["date"] == "2025-05-06"


def test_trial_balance_amounts_are_two_decimal_strings(client, world, token, session):
    rows = client.get(f"/api/v1/entities/{A}/trial-balance?year=2025", headers=token("aud_a")).get_json()
    assert rows
    for row in rows:
        for key in ("opening", "debit", "credit", "closing"):
            assert isinstance(row[key], str) and TWO_DECIMALS.match(row[key]), row
    assert sum(Decimal(r["debit"]) for r in rows) == sum(Decimal(r["credit"]) for r in rows)
    sales = next(r for r in rows if r["code"] == "501")
    assert sales["credit"] == "42000.00" and sales["closing"] == "-42000.00"


@pytest.mark.parametrize("user", ["acc_b", "aud_b"])
@pytest.mark.parametrize("path", ["", "/members", "/deliveries", "/land", "/trial-balance"])
def test_outside_scope_is_404(client, token, user, path):
    response = client.get(f"/api/v1/entities/{A}{path}", headers=token(user))
    assert response.status_code == 404 and "errors" in response.get_json()


def test_members_get_no_entity_data(client, token):
    assert client.get("/api/v1/entities", headers=token("mem_a")).status_code == 403
    assert client.get(f"/api/v1/entities/{A}/deliveries", headers=token("mem_a")).status_code == 403


# ------------------------------------------------------------------------------------------------ writes


def test_posting_a_delivery(client, world, token, session):
    before = member_balances(session, entity(session, A).book)["A-H002"].get("114", Decimal("0.00"))
    response = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=token("acc_a"))
    assert response.status_code == 201, response.get_json()
    rec = response.get_json()
    assert rec["amount"] == "359.10" and rec["quantity"] == "85.5" and rec["unit_price"] == "4.20"
    assert rec["member"] == "A-H002" and rec["paid"] is False and rec["voucher"]
    session.expire_all()
    row = session.get(Delivery, rec["id"])
    entry = session.get(JournalEntry, row.entry_id)
    assert entry.voucher == rec["voucher"]
    assert {(p.account.code, p.amount) for p in entry.postings} == {("521", Decimal("359.10")),
                                                                   ("114", Decimal("-359.10"))}
    assert member_balances(session, entity(session, A).book)["A-H002"]["114"] - before == Decimal("-359.10")
    assert balanced(session, A)


def test_json_numbers_and_booleans_are_accepted(client, world, token, session):
    body = {**DELIVERY, "quantity": 12, "unit_price": 5.5, "paid": True}
    response = client.post(f"/api/v1/entities/{A}/deliveries", json=body, headers=token("acc_a"))
    assert response.status_code == 201
    assert response.get_json()["amount"] == "66.00" and response.get_json()["paid"] is True
    float_noise = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"),
                              json={"date": "2025-02-02", "member": "A-H001", "amount": 0.1 + 0.2})
    assert float_noise.status_code == 422 and "amount" in float_noise.get_json()["errors"]


@pytest.mark.parametrize("change, field", [
    ({"quantity": "-5"}, "quantity"),
    ({"quantity": "1.2345"}, "quantity"),
    ({"amount": "12.345"}, "amount"),
    ({"date": "2025/09/01"}, "date"),
    ({"unit": "ton"}, "unit"),
    ({"product": None}, "product"),
])
def test_an_invalid_body_is_422_with_field_errors(client, world, token, session, change, field):
    before = count(session, JournalEntry)
    response = client.post(f"/api/v1/entities/{A}/deliveries", json={**DELIVERY, **change}, headers=token("acc_a"))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert list(errors) == [field]
    assert isinstance(errors[field], list) and all(isinstance(m, str) and m for m in errors[field])
    session.expire_all()
    assert count(session, JournalEntry) == before


def test_the_422_shape_for_a_negative_quantity(client, world, token):
    response = client.post(f"/api/v1/entities/{A}/deliveries", json={**DELIVERY, "quantity": "-1"},
                           headers=token("acc_a"))
    assert response.status_code == 422
    assert response.get_json() == {"errors": {"quantity": ["must be positive"]}}


def test_several_bad_fields_are_all_reported(client, world, token):
    body = {"date": "x", "member": "A-H001", "amount": "-1"}
    errors = client.post(f"/api/v1/entities/{A}/advances", json=body, headers=token("acc_a")).get_json()["errors"]
    assert set(errors) == {"date", "amount"}


def test_a_missing_required_field_is_named(client, world, token):
    body = {k: v for k, v in DELIVERY.items() if k != "member"}
    response = client.post(f"/api/v1/entities/{A}/deliveries", json=body, headers=token("acc_a"))
    assert response.status_code == 422 and "member" in response.get_json()["errors"]


@pytest.mark.parametrize("member", ["B-H001", "NOBODY"])
def test_an_unknown_member_is_422(client, world, token, session, member):
    before = count(session, JournalEntry)
    response = client.post(f"/api/v1/entities/{A}/deliveries", json={**DELIVERY, "member": member},
                           headers=token("acc_a"))
    assert response.status_code == 422
    assert response.get_json() == {"errors": {"member": [f"{member} is not a member of {A}."]}}
    session.expire_all()
    assert count(session, JournalEntry) == before


def test_refusals_are_in_chinese_unless_english_is_asked_for(client, world, token):
    """marshmallow's own sentences (unknown field, JSON type, range, missing) and ours (the workbook's rules,
    the API's form checks) alike: one language per answer, Chinese by default."""
    body = {**DELIVERY, "colour": "red", "paid": "maybe", "quantity": "1,5", "date": None}
    path = f"/api/v1/entities/{A}/deliveries"
    english = client.post(path, json=body, headers=token("acc_a")).get_json()["errors"]
    chinese_headers = {k: v for k, v in token("acc_a").items() if k != "Accept-Language"}
    chinese = client.post(path, json=body, headers=chinese_headers).get_json()["errors"]
    assert english == {"colour": ["Unknown field."], "paid": ["must be true or false (or yes/no)"],
                       "quantity": ['not a number: must be written like "12.50" (at most 3 decimal places)'],
                       "date": ["Field may not be null."]}
    assert chinese == {"colour": ["未知字段。"], "paid": ["须为 true 或 false（或 是/否）"],
                       "quantity": ['不是数字：应写作 "12.50" 的形式（最多 3 位小数）'], "date": ["此项不能为 null。"]}
    page = client.get(f"/api/v1/entities/{A}/capital?page=0", headers=chinese_headers).get_json()["errors"]
    assert page == {"page": ["须大于或等于 1 且小于或等于 1000000000。"]}


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
def test_a_body_that_is_no_object_is_refused(client, world, token, body):
    response = client.post(f"/api/v1/entities/{A}/deliveries", data=body, headers=token("acc_a"),
                           content_type="application/json")
    assert response.status_code in (400, 422)
    errors = response.get_json()["errors"]
    assert all(isinstance(v, list) for v in errors.values())


@pytest.mark.parametrize("user, status", [("aud_a", 403), ("aud_b", 403), ("acc_b", 404), ("mem_a", 403)])
def test_writes_outside_the_users_rights_are_refused(client, world, token, session, user, status):
    before = count(session, JournalEntry)
    response = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=token(user))
    assert response.status_code == status and "errors" in response.get_json()
    members = client.post(f"/api/v1/entities/{A}/members", headers=token(user),
                          json={"code": "A-H077", "head_name": "x", "village": "茶园村", "member_no": 77,
                                "joined_on": "2025-01-01"})
    assert members.status_code == status
    session.expire_all()
    assert count(session, JournalEntry) == before and count(session, Household) == 6


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_can_be_posted(client, world, token, session, kind):
    body = dict(world.forms[kind])
    if kind == "land":
        body["contract_no"] = "TD-API-1"
    response = client.post(f"/api/v1/entities/{A}/{kind}", json=body, headers=token("acc_a"))
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    assert balanced(session, A)


def test_a_land_contract_number_used_twice_is_refused(client, world, token):
    response = client.post(f"/api/v1/entities/{A}/land", json=world.forms["land"], headers=token("acc_a"))
    assert response.status_code == 422 and "contract_no" in response.get_json()["errors"]


def test_registering_a_member(client, world, token, session):
    body = {"code": "A-H030", "head_name": "田满仓", "village": "茶园村", "id_number": "430821199205173316",
            "bank_account": "6217995500001234566", "member_no": 30, "joined_on": "2025-03-01", "farmer": True}
    response = client.post(f"/api/v1/entities/{A}/members", json=body, headers=token("acc_a"))
    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    assert got["code"] == "A-H030" and got["id_number"] == "4308**********3316"
    assert "430821199205173316" not in response.get_data(as_text=True)
    assert "6217995500001234566" not in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Member).where(Member.code == "A-H030")).member_no == 30
    again = client.post(f"/api/v1/entities/{A}/members", json={**body, "code": "A-H031"}, headers=token("acc_a"))
    assert again.status_code == 422 and "member_no" in again.get_json()["errors"]
    bad = client.post(f"/api/v1/entities/{A}/members", json={**body, "code": "A H", "joined_on": "x"},
                      headers=token("acc_a"))
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"code", "joined_on"}


# ------------------------------------------------------------------------------------------------ import




WORKBOOK = {
    "members": [["member", "member_no", "joined_on"], ["A-H021", 21, "2025-01-01"]],
    "households": [["code", "head_name", "village"], ["A-H021", "向家旺", "茶园村"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid"],
                   ["2025-05-01", "A-H021", "藤茶鲜叶", 100, "jin", "5.6", "no"]],
}


def import_job(client, headers, workbook, query=""):
    """POST a workbook (202: a job), then GET the job at its url, as a script polls it (the test's job has
    already run: see conftest)."""
    accepted = client.post(f"/api/v1/entities/{A}/imports{query}", headers=headers,
                           data={"workbook": (xlsx(workbook), "book.xlsx")}, content_type="multipart/form-data")
    assert accepted.status_code == 202, accepted.get_json()
    assert accepted.headers["Location"] == accepted.get_json()["url"]
    polled = client.get(accepted.headers["Location"], headers=headers)
    assert polled.status_code == 200
    return polled.get_json()


def test_importing_a_workbook(client, world, token, session):
    headers = {**token("acc_a"), "Accept-Language": "en"}
    dry = import_job(client, headers, WORKBOOK, "?dry_run=1")
    assert dry["status"] == "done" and dry["dry_run"] is True and dry["import"] is None
    assert count(session, Household) == 6
    got = import_job(client, headers, WORKBOOK)
    assert got["status"] == "done", got
    assert got["entity"] == A and got["counts"] == {"members": 1, "households": 1, "deliveries": 1}
    session.expire_all()
    assert account_balance(session, entity(session, A).book, "114", party="A-H021") == Decimal("-560.00")
    again = import_job(client, headers, WORKBOOK)
    assert again["status"] == "failed" and "already imported" in again["errors"]["workbook"][0]


def test_a_bad_workbook_is_422_with_every_problem(client, world, token, session):
    bad = {**WORKBOOK, "deliveries": [WORKBOOK["deliveries"][0], ["2025-05-01", "A-H021", "藤茶鲜叶", 0, "jin", "5.6"],
                                      ["2025-05-01", "NOBODY", "藤茶鲜叶", 1, "jin", "5.6"]]}
    before = count(session, JournalEntry)
    job = import_job(client, {**token("acc_a"), "Accept-Language": "en"}, bad)
    assert job["status"] == "failed" and job["problems"] == 2
    lines = job["errors"]["workbook"]
    assert "deliveries:2:quantity: must be positive" in lines
    assert "deliveries:3:member: NOBODY is not a member of TA-COOP." in lines
    session.expire_all()
    assert count(session, JournalEntry) == before and count(session, Household) == 6


def test_import_needs_a_file_and_write_rights(client, world, token):
    response = client.post(f"/api/v1/entities/{A}/imports", headers=token("acc_a"))
    assert response.status_code == 422 and "workbook" in response.get_json()["errors"]
    auditor = client.post(f"/api/v1/entities/{A}/imports", headers=token("aud_a"),
                          data={"workbook": (xlsx(WORKBOOK), "book.xlsx")}, content_type="multipart/form-data")
    assert auditor.status_code == 403


@pytest.mark.parametrize("path", ["/entities", f"/entities/{A}/members", f"/entities/{A}/deliveries",
                                  f"/entities/{A}/land", f"/entities/{A}/trial-balance"])
def test_lists_make_no_query_per_row(client, world, token, session, queries, path):
    from cooperatives.operations import create_entity

    headers = token("admin")
    with queries() as few:
        assert client.get(f"/api/v1{path}", headers=headers).status_code == 200
    for i in range(5):
        client.post(f"/api/v1/entities/{A}/members", headers=headers,
                    json={"code": f"A-Y{i}", "head_name": f"户{i}", "village": "茶园村", "member_no": 40 + i,
                          "joined_on": "2025-01-01"})
        client.post(f"/api/v1/entities/{A}/deliveries", headers=headers, json={**DELIVERY, "member": f"A-Y{i}"})
        client.post(f"/api/v1/entities/{A}/land", headers=headers,
                    json={"member": f"A-Y{i}", "contract_no": f"Y{i}", "area_mu": "1", "start_on": "2025-01-01"})
        create_entity(session, code=f"TX-{i}", name=f"社{i}", kind="land_coop", township="丙乡", actor=CONSOLE)
    session.commit()
    with queries() as many:
        assert client.get(f"/api/v1{path}", headers=headers).status_code == 200
    assert many[0] <= few[0], (path, few[0], many[0])


def test_errors_are_json_for_unknown_paths_and_methods(client, token):
    headers = token("acc_a")
    missing = client.get("/api/v1/nothing", headers=headers)
    assert missing.status_code == 404 and "errors" in missing.get_json()
    wrong = client.delete(f"/api/v1/entities/{A}/deliveries", headers=headers)
    assert wrong.status_code == 405 and "errors" in wrong.get_json()

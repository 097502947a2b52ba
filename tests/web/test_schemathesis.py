"""Schemathesis against ``/api/v1/openapi.json``: every operation, generated requests, all built-in checks.

The app runs in-process (WSGI) on the test's rolled-back transaction, seeded with the ``world`` (two
cooperatives with members and a record of every kind) plus a drafted distribution run, so generated
requests reach real objects: the ``code`` and ``run_id`` path parameters and a body's ``member`` are mostly
drawn from what exists (otherwise from what Schemathesis generates, so 404s and unknown members are
exercised too). Requests carry the bearer token of the accountant of entity A: writes are really
performed and posted to the books.

Pass figure (reliability.md §2.9 F1, issue #6): 0 server errors and 0 violations of the OpenAPI document
over at least ``SCHEMATHESIS_CASES`` generated cases (1,000 by default; the soak sets a larger number).
Every built-in check runs: status codes, content types, response schemas and headers, invalid data
rejected (negative cases), valid data accepted (positive cases), declared auth enforced. A schema-valid
request may still be refused with 422 for a rule no schema can state (the member must exist, the meeting
must fit the membership, the year must be open) — but never for its form: a positive case answered with
a format message means the document allows what the API refuses, and fails here.

Every failure prints the request as a ``curl`` command and a Hypothesis blob to reproduce it.
"""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import User
from cooperatives.users import issue_token

#: total generated cases across all operations (CI: 1,000; the soak runs e.g. SCHEMATHESIS_CASES=20000)
TOTAL_CASES = int(os.environ.get("SCHEMATHESIS_CASES", "1000"))
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
#: valid data may be refused for a business rule (422) — the check below makes sure it is not for its form
CONFIG = schemathesis.Config.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}}})
#: messages that refuse a value for its form: a schema-valid (positive) request must never get one
FORM_MESSAGES = ("not a number", "not a date", "not a whole number", "must not contain", "too long",
                 "unknown value", "Not a valid", "Unknown field", "must be a decimal", "must be true or false",
                 "must not be empty", "must not be blank", "Must be one of", "Length must", "String does not match",
                 "Must be greater", "Must be less", "must be positive", "required value is missing",
                 "Missing data", "expected a JSON object", "too large")


@pytest.fixture
def api(app, client, session, world):
    """The loaded schema, the accountant's Authorization header and the ids that exist."""
    user = session.scalar(select(User).where(User.username == "acc_a"))
    # English answers: the check below reads a refusal's words for its form
    headers = {"Authorization": f"Bearer {issue_token(session, user, 'schemathesis', actor=CONSOLE)}",
               "Accept-Language": "en"}
    session.commit()
    drafted = client.post(f"/api/v1/entities/{world.a}/runs", json={"year": 2025, "policy": POLICY}, headers=headers)
    assert drafted.status_code == 201, drafted.get_json()
    from cooperatives.imports import create_import_job
    from cooperatives.models import Entity

    entity = session.scalar(select(Entity).where(Entity.code == world.a))
    job = create_import_job(session, entity, [("book.xlsx", b"PK")], actor=CONSOLE)
    session.commit()
    app.extensions["coop.import_launcher"] = lambda job_id: None     # an upload's job is not run here
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    from cooperatives.kinds import KINDS

    records = sorted({session.scalar(select(k.model.id).where(k.model.entity_id == entity.id)) for k in KINDS.values()}
                     - {None})                     # (a cooperative keeps no share register: no record of that kind)
    from decimal import Decimal

    from payouts.models import PayoutBatch

    # a bank batch of the run (a row put in directly: a draft's households are not owed, so no batch can be made)
    batch = PayoutBatch(run_id=drafted.get_json()["run"], entity_id=entity.id, number=1, layout="generic",
                        status="created", count=0, total=Decimal("0.00"))
    session.add(batch)
    session.commit()
    known = {"code": [world.a, world.b], "run_id": [drafted.get_json()["run"]], "job_id": [job.id],
             "member": ["A-H001", "A-H002", "A-H003"], "record_id": records, "batch_id": [batch.id]}
    return schema, headers, known


#: a bound on the product of two fields (the yearly rent, the wage) is a rule across fields no schema can state
ACROSS_FIELDS = " × "


def _form_refusals(response) -> list[str]:
    errors = (response.json() or {}).get("errors") or {}
    return [f"{field}: {m}" for field, messages in errors.items() for m in messages
            if any(phrase in m for phrase in FORM_MESSAGES) and ACROSS_FIELDS not in m]


def fuzz(operation, examples: int, headers: dict, known: dict, seen: Counter, statuses: Counter) -> None:
    """Send ``examples`` generated requests (positive and negative) to one operation, checking each."""
    names = [p.name for p in operation.path_parameters]
    pinned = st.fixed_dictionaries({n: st.sampled_from(known[n]) for n in names})

    @settings(max_examples=examples, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
    @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE),
           ids=pinned, member=st.sampled_from(known["member"]), use_known=st.integers(0, 9))
    def check(case, ids, member, use_known):
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        # real ids and members most of the time — unless that is what this (negative) case makes invalid
        if use_known and ids and not (case.meta and case.meta.is_negative_at(ParameterLocation.PATH)):
            case.path_parameters = {**(case.path_parameters or {}), **ids}
        if use_known and positive and isinstance(case.body, dict) and "member" in case.body:
            case.body["member"] = member
        response = case.call_and_validate(headers=headers)
        seen[operation.label] += 1
        statuses[response.status_code] += 1
        if positive and response.status_code == 422:
            assert not _form_refusals(response), (
                f"{operation.label}: the document allows a body the API refuses for its form: "
                f"{_form_refusals(response)}; body {case.body!r}")

    check()


@pytest.mark.slow
def test_api_meets_its_openapi_document(api):
    schema, headers, known = api
    operations = [result.ok() for result in schema.get_all_operations()]   # a broken document fails here
    assert len(operations) >= 50, [op.label for op in operations]
    per_operation = -(-TOTAL_CASES // len(operations))
    seen: Counter[str] = Counter()
    statuses: Counter[int] = Counter()

    for operation in operations:
        fuzz(operation, per_operation, headers, known, seen, statuses)

    total = sum(seen.values())
    print(f"\nschemathesis: {total} cases over {len(operations)} operations; "
          f"responses by status {dict(sorted(statuses.items()))}")
    assert total >= TOTAL_CASES
    assert all(seen[op.label] for op in operations)
    assert not any(status >= 500 for status in statuses)
    assert statuses[201] and statuses[200], "no write and no read succeeded: the seeding is broken"


# ------------------------------------------------------------ what the fuzzing found, kept as plain tests

LABOR = {"date": "2025-04-02", "member": "A-H002", "days": "3", "rate": "120"}
LAND = {"member": "A-H001", "contract_no": "TD-F-1", "area_mu": "2", "start_on": "2025-01-01"}


@pytest.mark.parametrize("kind, body, field", [
    ("labor", {**LABOR, "worker": "王" * 101}, "worker"),            # PostgreSQL: varchar(100) overflowed (500)
    ("sales", {"date": "2025-06-30", "buyer": "茶企", "product": "茶", "amount": "5", "unit": "箱子箱子箱子"}, "unit"),
    ("labor", {**LABOR, "task": "采茶\x00"}, "task"),                   # PostgreSQL: NUL in text (500)
    ("labor", {**LABOR, "days": "999999999", "rate": "999999999"}, "rate"),       # fen overflowed 64 bits (500)
    ("land", {**LAND, "area_mu": 2000, "base_rent_per_mu": 112500132329238.08}, "base_rent_per_mu"),
    ("capital", {"date": "2025-01-10", "member": "A-H001", "amount": "1" * 13}, "amount"),
    ("capital", {"date": "2025-01-10", "member": "A-H001", "amount": 1e-07}, "amount"),
    ("capital", {"date": "2025-01-10", "member": "A-H001", "amount": "5", "colour": "red"}, "colour"),
    ("capital", {"date": "2025-01-10", "member": "A-H001", "amount": True}, "amount"),
    ("capital", {"date": "2025-01-10", "member": "", "amount": "5"}, "member"),
    ("deliveries", {"date": "2025-05-06", "member": "A-H001", "product": "茶", "quantity": "1", "unit": "kg",
                    "unit_price": "1", "paid": "maybe"}, "paid"),
])
def test_bodies_the_fuzzing_found_are_refused_with_a_message(client, world, session, kind, body, field):
    from ledger.models import JournalEntry

    user = session.scalar(select(User).where(User.username == "acc_a"))
    headers = {"Authorization": f"Bearer {issue_token(session, user, 'regression', actor=CONSOLE)}"}
    session.commit()
    before = session.scalar(select(func.count()).select_from(JournalEntry))
    response = client.post(f"/api/v1/entities/{world.a}/{kind}", json=body, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert field in errors and all(isinstance(m, str) and m for m in errors[field]), errors
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(JournalEntry)) == before


def test_ids_beyond_the_database_integer_are_404(client, world, session):
    user = session.scalar(select(User).where(User.username == "acc_a"))
    headers = {"Authorization": f"Bearer {issue_token(session, user, 'regression', actor=CONSOLE)}"}
    session.commit()
    for path in ("/api/v1/runs/9223372036854775808", "/api/v1/runs/2147483648", "/api/v1/runs/0"):
        assert client.get(path, headers=headers).status_code == 404, path
        response = client.post(f"{path}/post", headers=headers)
        assert response.status_code == 404 and "errors" in response.get_json(), path


def test_run_times_carry_their_zone(client, api):
    _schema, headers, known = api
    listed = client.get(f"/api/v1/entities/{known['code'][0]}/runs", headers=headers).get_json()
    assert listed and all(re.search(r"(\+00:00|Z)$", run["created_at"]) for run in listed)


def test_unknown_query_parameters_are_refused(client, world, session):
    """A misspelt parameter (``?pgae=2``) is refused with 422 naming it, not silently ignored (the fuzzing
    found ``?colour=red`` answered 200 with the first page)."""
    user = session.scalar(select(User).where(User.username == "acc_a"))
    headers = {"Authorization": f"Bearer {issue_token(session, user, 'regression', actor=CONSOLE)}"}
    session.commit()
    for path in (f"/api/v1/entities/{world.a}/capital?pgae=2", f"/api/v1/entities/{world.a}/trial-balance?yaer=2025"):
        response = client.get(path, headers=headers)
        assert response.status_code == 422, path
        assert set(response.get_json()["errors"]) == {path.rsplit("?", 1)[1].split("=")[0]}, response.get_json()
    assert client.get(f"/api/v1/entities/{world.a}/capital?page=1", headers=headers).status_code == 200

"""``Idempotency-Key`` on the API's writes: one effect per key, the same answer on every retry, 409 for
a key reused with a different request, and one stored write when retries race (real threads, real
database)."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from samples import xlsx_bytes
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.models import Delivery, IdempotencyKey, User
from cooperatives.users import issue_token
from cooperatives.web import idempotency
from ledger.models import JournalEntry

A = "TA-COOP"
DELIVERY = {"date": "2025-09-01", "member": "A-H002", "product": "藤茶鲜叶", "grade": "二级", "quantity": "85.5",
            "unit": "jin", "unit_price": "4.20", "paid": False}


def counts(session) -> tuple[int, int, int]:
    return (session.scalar(select(func.count()).select_from(Delivery)),
            session.scalar(select(func.count()).select_from(JournalEntry)),
            session.scalar(select(func.count()).select_from(IdempotencyKey)))


def test_same_key_and_body_writes_once_and_replays_the_first_answer(client, session, token):
    headers = {**token("acc_a"), "Idempotency-Key": "delivery-2025-09-01-A-H002"}
    before = counts(session)
    first = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(10):
        again = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers)
        assert again.status_code == 201
        assert again.get_json() == first.get_json()          # same voucher, same id: the first write's
        assert again.headers["Idempotent-Replayed"] == "true"
    after = counts(session)
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_json_is_compared_as_data_not_as_text(client, session, token):
    headers = {**token("acc_a"), "Idempotency-Key": "k-order", "Content-Type": "application/json"}
    first = client.post(f"/api/v1/entities/{A}/deliveries", data=json.dumps(DELIVERY), headers=headers)
    reordered = json.dumps(dict(reversed(list(DELIVERY.items()))), indent=2)
    again = client.post(f"/api/v1/entities/{A}/deliveries", data=reordered, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert session.scalar(select(func.count()).select_from(Delivery).where(Delivery.quantity == Decimal("85.5"))) == 1


@pytest.mark.parametrize("change", [
    {"quantity": "85.6"},                        # another body
    {"quantity": 85.5},                          # a number where a string was: another request
])
def test_same_key_with_a_different_request_is_a_conflict_and_writes_nothing(client, session, token, change):
    headers = {**token("acc_a"), "Idempotency-Key": "reused"}
    assert client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers).status_code == 201
    before = counts(session)
    conflict = client.post(f"/api/v1/entities/{A}/deliveries", json={**DELIVERY, **change}, headers=headers)
    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.get_json()["errors"]
    other_path = client.post(f"/api/v1/entities/{A}/advances", json={"date": "2025-08-02", "member": "A-H002",
                                                                      "amount": "10.00"}, headers=headers)
    assert other_path.status_code == 409
    assert counts(session) == before


def test_a_refused_write_leaves_its_key_free(client, session, token):
    headers = {**token("acc_a"), "Idempotency-Key": "fix-and-retry"}
    before = counts(session)
    refused = client.post(f"/api/v1/entities/{A}/deliveries", json={**DELIVERY, "member": "NO-SUCH"}, headers=headers)
    assert refused.status_code == 422
    assert counts(session) == before                              # not even the key is kept
    fixed = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    assert counts(session) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_keys_belong_to_their_user(client, session, token):
    key = {"Idempotency-Key": "shared-name"}
    assert client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers={**token("acc_a"), **key}
                       ).status_code == 201
    admin = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers={**token("admin"), **key})
    assert admin.status_code == 201 and "Idempotent-Replayed" not in admin.headers
    assert counts(session)[2] == 2


@pytest.mark.parametrize("bad", ["", "x" * 256, "含中文"])
def test_a_malformed_key_is_refused_before_anything_is_written(client, session, token, bad):
    before = counts(session)
    headers = {**token("acc_a"), "Idempotency-Key": bad.encode("utf-8").decode("latin-1")}
    response = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert counts(session) == before


def test_reads_and_keyless_writes_are_untouched(client, session, token):
    headers = token("acc_a")
    assert client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers).status_code == 201
    assert client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers).status_code == 201
    got = client.get(f"/api/v1/entities/{A}/deliveries", headers={**headers, "Idempotency-Key": "ignored"})
    assert got.status_code == 200
    assert counts(session)[2] == 0


WORKBOOK = {
    "members": [["member", "member_no", "joined_on"], ["A-H021", 21, "2025-01-01"]],
    "households": [["code", "head_name", "village"], ["A-H021", "向家旺", "茶园村"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid"],
                   ["2025-05-01", "A-H021", "藤茶鲜叶", 100, "jin", "5.6", "no"]],
}


def test_a_workbook_upload_is_recognised_whatever_its_multipart_boundary(client, session, token):
    import io

    headers = {**token("acc_a"), "Idempotency-Key": "import-2025"}
    entries = session.scalar(select(func.count()).select_from(JournalEntry))
    content = xlsx_bytes(WORKBOOK).getvalue()        # the same file both times (xlsx carries a timestamp)
    first = client.post(f"/api/v1/entities/{A}/imports", headers=headers,
                        data={"workbook": (io.BytesIO(content), "账本.xlsx")}, content_type="multipart/form-data")
    assert first.status_code == 202, first.get_json()
    added = session.scalar(select(func.count()).select_from(JournalEntry)) - entries
    assert added > 0
    again = client.post(f"/api/v1/entities/{A}/imports", headers=headers,     # a new boundary, the same file
                        data={"workbook": (io.BytesIO(content), "账本.xlsx")}, content_type="multipart/form-data")
    assert again.status_code == 202 and again.get_json() == first.get_json()   # the same job, not a second one
    assert again.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count()).select_from(JournalEntry)) == entries + added
    other = {"workbook": (xlsx_bytes({**WORKBOOK, "deliveries": WORKBOOK["deliveries"][:1]}), "账本.xlsx")}
    conflict = client.post(f"/api/v1/entities/{A}/imports", headers=headers, data=other,
                           content_type="multipart/form-data")
    assert conflict.status_code == 409 and "Idempotency-Key" in conflict.get_json()["errors"]


def test_a_run_drafted_approved_and_posted_with_keys_happens_once(client, session, world, cli, xlsx,
                                                                 worked_example):
    from samples import POLICY_70_30

    from payouts.models import PayoutRun

    assert cli("import", xlsx(worked_example())).exit_code == 0
    admin = session.scalar(select(User).where(User.username == "admin"))
    auth = {"Authorization": f"Bearer {issue_token(session, admin, 'runs', actor=CONSOLE)}"}
    session.commit()

    def twice(path, key, body=None):
        answers = [client.post(path, json=body, headers={**auth, "Idempotency-Key": key}) for _ in range(2)]
        assert answers[0].status_code in (200, 201), answers[0].get_json()
        assert answers[1].status_code == answers[0].status_code
        assert answers[1].get_data() == answers[0].get_data()
        assert answers[1].headers["Idempotent-Replayed"] == "true"
        return answers[0].get_json()

    runs = select(func.count()).select_from(PayoutRun)
    before = session.scalar(runs)
    run = twice("/api/v1/entities/WX/runs", "draft-2025", {"year": 2025, "policy": POLICY_70_30})["run"]
    assert session.scalar(runs) == before + 1
    twice(f"/api/v1/runs/{run}/approve", "approve-2025",
          {"meeting_date": "2026-03-15", "attended": 3, "votes_for": 3})
    entries = session.scalar(select(func.count()).select_from(JournalEntry))
    assert twice(f"/api/v1/runs/{run}/post", "post-2025")["status"] == "posted"
    posted = session.scalar(select(func.count()).select_from(JournalEntry)) - entries
    assert posted > 0
    # a fresh key on a posted run changes nothing either (the run posts once whatever happens)
    client.post(f"/api/v1/runs/{run}/post", headers={**auth, "Idempotency-Key": "post-2025-b"})
    assert session.scalar(select(func.count()).select_from(JournalEntry)) == entries + posted


def test_a_key_whose_write_committed_but_whose_answer_was_lost_is_never_written_again(
        client, session, token, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    headers = {**token("acc_a"), "Idempotency-Key": "crashed"}
    assert client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers).status_code == 201
    # as if the server died after the write's commit and before the response was kept
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "crashed"))
    row.status_code = row.response_body = row.content_type = None
    session.commit()
    before = counts(session)
    retry = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers)
    assert retry.status_code == 409
    assert "carried out" in retry.get_json()["errors"]["Idempotency-Key"][0]
    assert counts(session) == before


def test_every_write_in_the_openapi_document_offers_the_header(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    writes = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
              if method in ("post", "put", "patch", "delete")]
    assert len(writes) >= 15
    for path, method, op in writes:
        names = [p.get("name") for p in op.get("parameters", [])]
        assert names.count("Idempotency-Key") == 1, (path, method)
        assert "409" in op["responses"], (path, method)
    reads = [op for item in doc["paths"].values() for method, op in item.items() if method == "get"]
    assert all("Idempotency-Key" not in [p.get("name") for p in op.get("parameters", [])] for op in reads)


# ------------------------------------------------------------------------------ concurrent retries (real DB)


@pytest.fixture
def live_app(isolated_db, monkeypatch, password_hash):
    """The app on a database of its own, each request with its own Session (as in production)."""
    from web.conftest import PASSWORD, build_world

    from ledger.db import Base, make_engine
    from payouts.app import create_app
    from payouts.settings import Settings

    monkeypatch.setattr("cooperatives.users.hash_password", lambda password: password_hash)
    engine = make_engine(isolated_db)
    Base.metadata.create_all(engine)
    app = create_app(Settings(database_url=isolated_db, secret_key="test", testing=True, cookie_secure=False))
    with Session(engine, expire_on_commit=False) as session:
        build_world(session)
        user = session.scalar(select(User).where(User.username == "acc_a"))
        token = issue_token(session, user, "racing script", actor=CONSOLE)
        session.commit()
    assert PASSWORD
    yield app, engine, {"Authorization": f"Bearer {token}"}
    app.extensions["ledger.sessionmaker"]["engine"].dispose()
    engine.dispose()


def test_concurrent_retries_with_one_key_store_one_write(live_app):
    app, engine, auth = live_app
    threads_n = 8
    with engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(Delivery))
    for trial in range(3):
        headers = {**auth, "Idempotency-Key": f"race-{trial}"}
        barrier = threading.Barrier(threads_n)
        results: list = [None] * threads_n

        def send(i, headers=headers, barrier=barrier, results=results):
            client = app.test_client()
            barrier.wait()
            response = client.post(f"/api/v1/entities/{A}/deliveries", json=DELIVERY, headers=headers)
            results[i] = (response.status_code, response.get_json())

        threads = [threading.Thread(target=send, args=(i,)) for i in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert all(r is not None for r in results)
        assert {status for status, _ in results} == {201}, results
        assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1   # all the first answer
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Delivery)) == before + 3
        assert conn.scalar(select(func.count()).select_from(IdempotencyKey)) == 3

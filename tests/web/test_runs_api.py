"""Distribution runs in the JSON API: the run as ``distribute --json`` prints it (INTERFACES §5), drafting
with a policy, the run's life, and the error shape: 422 invalid or refused, 409 state conflicts, 404
outside the token's scope, 403 for auditors on writes."""

from __future__ import annotations

import json
import re

import pytest
from samples import POLICY_50_50, POLICY_70_30
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity
from cooperatives.users import create_user
from payouts.models import PayoutRun, PolicyVersion
from payouts.runs.policy import PolicyError, load_policy_text

TWO_DECIMALS = re.compile(r"^-?\d+\.\d{2}$")
MEETING = {"meeting_date": "2026-03-15", "attended": 3, "votes_for": 2, "minutes": "2026-会-01"}


@pytest.fixture
def wx(world, session, cli, xlsx, worked_example):
    result = cli("import", xlsx(worked_example()))
    assert result.exit_code == 0, result.output
    entity = session.scalar(select(Entity).where(Entity.code == "WX"))
    create_user(session, username="acc_wx", password=world.password, role="accountant", display_name="会计",
                entity_id=entity.id, actor=CONSOLE)
    create_user(session, username="aud_wx", password=world.password, role="auditor", display_name="农经站",
                township_id=entity.township_id, actor=CONSOLE)
    session.commit()
    return entity


@pytest.fixture
def token(token, wx):
    """The shared ``token`` fixture, with the worked-example entity and its users in place."""
    return token


def distribute(cli, policy_file, policy=POLICY_70_30) -> dict:
    result = cli("distribute", "--entity", "WX", "--year", "2025", "--policy", policy_file(policy), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def amounts(data):
    """Every value of an amount key anywhere in the run's JSON."""
    keys = {"surplus", "prior_loss", "brought_forward", "distributable", "amount", "pool_amount", "total",
            "deductions", "net", "reserve_share", "subsidy_share"}
    if isinstance(data, dict):
        for k, v in data.items():
            if k in keys:
                yield v
            else:
                yield from amounts(v)
    elif isinstance(data, list):
        for v in data:
            yield from amounts(v)


# --------------------------------------------------------------------------------------------- reading


def test_the_run_is_exactly_what_distribute_json_prints(client, token, cli, policy_file):
    printed = distribute(cli, policy_file)
    response = client.get(f"/api/v1/runs/{printed['run']}", headers=token("acc_wx"))
    assert response.status_code == 200 and response.is_json
    got = response.get_json()
    assert got == printed
    assert {"run", "entity", "year", "status", "surplus", "pools", "members", "checks"} <= set(got)
    assert (got["entity"], got["year"], got["status"], got["distributable"]) == ("WX", 2025, "draft", "432000.00")
    assert all(TWO_DECIMALS.match(v) for v in amounts(got))
    assert [m["member"] for m in got["members"]] == ["H001", "H002", "H003"]
    # the auditor of the township reads it too
    assert client.get(f"/api/v1/runs/{printed['run']}", headers=token("aud_wx")).get_json() == printed


def test_runs_of_an_entity_are_listed(client, token, cli, policy_file):
    first = distribute(cli, policy_file)
    second = distribute(cli, policy_file, POLICY_50_50)
    listed = client.get("/api/v1/entities/WX/runs", headers=token("aud_wx")).get_json()
    assert [r["run"] for r in listed] == [second["run"], first["run"]]
    assert listed[0]["status"] == "draft" and listed[0]["distributable"] == "432000.00"
    assert (listed[0]["policy_version"], listed[1]["policy_version"]) == (2, 1)
    assert listed[0]["year"] == 2025 and listed[0]["posted_at"] is None and listed[0]["created_at"]


def test_other_townships_and_no_token_see_nothing(client, token, cli, policy_file):
    run_id = distribute(cli, policy_file)["run"]
    for user in ("aud_b", "acc_a"):
        headers = token(user)
        for path in (f"/api/v1/runs/{run_id}", "/api/v1/entities/WX/runs"):
            response = client.get(path, headers=headers)
            assert response.status_code == 404 and "errors" in response.get_json(), (user, path)
    assert client.get(f"/api/v1/runs/{run_id + 99}", headers=token("admin")).status_code == 404
    response = client.get(f"/api/v1/runs/{run_id}")
    assert response.status_code == 401 and response.get_json()["errors"]["auth"]
    assert client.get(f"/api/v1/runs/{run_id}", headers=token("mem_a")).status_code == 403


# --------------------------------------------------------------------------------------------- drafting


def test_draft_with_a_toml_policy_equals_the_cli(client, token, cli, policy_file, session, wx):
    response = client.post("/api/v1/entities/WX/runs", json={"year": 2025, "policy": POLICY_70_30},
                           headers=token("acc_wx"))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    printed = distribute(cli, policy_file)           # the same policy: not a new version
    assert {k: v for k, v in created.items() if k != "run"} == {k: v for k, v in printed.items() if k != "run"}
    assert session.scalar(select(func.count()).select_from(PolicyVersion)
                          .where(PolicyVersion.entity_id == wx.id)) == 1
    # without a policy: the entity's current one
    again = client.post("/api/v1/entities/WX/runs", json={"year": 2025}, headers=token("acc_wx"))
    assert again.status_code == 201 and again.get_json()["pools"] == printed["pools"]


def test_draft_with_a_json_object_policy_saves_it(client, token, session, wx):
    policy = load_policy_text(POLICY_50_50).to_dict()
    response = client.post("/api/v1/entities/WX/runs", json={"year": 2025, "policy": policy}, headers=token("admin"))
    assert response.status_code == 201
    checks = {c["rule"]: c for c in response.get_json()["checks"]}
    assert checks["patronage_min_60"]["ok"] is False and "50.00% < 60%" in checks["patronage_min_60"]["detail"]
    version = session.scalar(select(PolicyVersion).where(PolicyVersion.entity_id == wx.id))
    assert version.data == policy


def test_draft_refuses_bad_input_with_every_problem(client, token, session):
    headers = token("acc_wx")
    no_policy = client.post("/api/v1/entities/WX/runs", json={"year": 2025}, headers=headers)
    assert no_policy.status_code == 422 and "policy" in no_policy.get_json()["errors"]
    bad = 'reserve_pct = 10.5\ncolour = "red"\n[[pools]]\nname = "a"\npct = "70"\nbasis = "bogus"\n'
    with pytest.raises(PolicyError) as expected:
        load_policy_text(bad)
    response = client.post("/api/v1/entities/WX/runs", json={"year": 2025, "policy": bad}, headers=headers)
    assert response.status_code == 422
    assert response.get_json() == {"errors": {"policy": expected.value.problems}}
    for body, field in (({"policy": POLICY_70_30}, "year"), ({"year": "soon"}, "year"), ({"year": 1800}, "year"),
                        ({"year": 2025, "policy": 7}, "policy"), ({"year": 2025, "policy": {"pools": []}}, "policy")):
        response = client.post("/api/v1/entities/WX/runs", json=body, headers=headers)
        assert response.status_code == 422, body
        errors = response.get_json()["errors"]
        assert field in errors and all(isinstance(m, str) for m in errors[field]), (body, errors)
    assert session.scalar(select(func.count()).select_from(PayoutRun)) == 0


# ------------------------------------------------------------------------------------------ the run's life


def test_approve_post_publish_reverse_and_state_conflicts(client, token, cli, policy_file, session):
    printed = distribute(cli, policy_file)
    run_id, headers = printed["run"], token("acc_wx")
    base = f"/api/v1/runs/{run_id}"
    # not yet approved: post, publish and reverse are state conflicts
    for action in ("post", "publish", "reverse"):
        response = client.post(f"{base}/{action}", headers=headers)
        assert response.status_code == 409, action
        assert response.get_json()["errors"]["status"], action
    # the meeting is short of quorum, or the body is wrong: 422 with the reason
    short = client.post(f"{base}/approve", json={**MEETING, "attended": 1, "votes_for": 1}, headers=headers)
    assert short.status_code == 422
    assert any("Quorum: 1 of 3 members attended" in m for m in short.get_json()["errors"]["meeting"])
    bad = client.post(f"{base}/approve", json={"meeting_date": "15.03.2026", "attended": -1}, headers=headers)
    assert bad.status_code == 422
    assert {"meeting_date", "attended", "votes_for"} <= set(bad.get_json()["errors"])
    assert session.get(PayoutRun, run_id).status == "draft"
    # approved
    approved = client.post(f"{base}/approve", json=MEETING, headers=headers)
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json() == {**printed, "status": "approved"}
    assert client.post(f"{base}/approve", json=MEETING, headers=headers).status_code == 409
    assert client.post(f"{base}/publish", headers=headers).status_code == 409
    # posted, once
    posted = client.post(f"{base}/post", headers=headers)
    assert posted.status_code == 200 and posted.get_json()["status"] == "posted"
    again = client.post(f"{base}/post", headers=headers)
    assert again.status_code == 200 and again.get_json()["status"] == "posted"
    assert cli("verify", "--entity", "WX").exit_code == 0
    # published
    published = client.post(f"{base}/publish", headers=headers)
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    assert client.post(f"{base}/publish", headers=headers).status_code == 409
    assert client.get(base, headers=headers).get_json() == {**printed, "status": "published"}
    # reversed by a new run
    reversed_ = client.post(f"{base}/reverse", headers=headers)
    assert reversed_.status_code == 200
    body = reversed_.get_json()
    assert body["status"] == "reversed" and body["reversed_by"] != run_id
    assert client.get(f"/api/v1/runs/{body['reversed_by']}", headers=headers).get_json()["status"] == "reversed"
    assert client.post(f"{base}/reverse", headers=headers).status_code == 409
    assert cli("verify", "--entity", "WX").exit_code == 0


def test_a_new_draft_names_the_run_in_force_it_replaces(client, token, cli, policy_file, session):
    """Issue 13 §4, through the API's ``replaces``."""
    from payouts.models import RunReplacement

    run_id, headers = distribute(cli, policy_file)["run"], token("acc_wx")
    assert client.post(f"/api/v1/runs/{run_id}/approve", json=MEETING, headers=headers).status_code == 200
    assert client.post(f"/api/v1/runs/{run_id}/post", headers=headers).status_code == 200
    unnamed = client.post("/api/v1/entities/WX/runs", json={"year": 2025}, headers=headers)
    assert unnamed.status_code == 422
    assert unnamed.get_json()["errors"]["replaces"] == [
        f"Run {run_id} for 2025 is in force: a new run for the year must say that it replaces run {run_id}."]
    named = client.post("/api/v1/entities/WX/runs", json={"year": 2025, "replaces": run_id}, headers=headers)
    assert named.status_code == 201, named.get_json()
    assert session.get(RunReplacement, named.get_json()["run"]).replaces_id == run_id


def test_a_run_failing_the_60_percent_rule_is_not_approved(client, token, cli, policy_file, session):
    run_id = distribute(cli, policy_file, POLICY_50_50)["run"]
    response = client.post(f"/api/v1/runs/{run_id}/approve", json={**MEETING, "votes_for": 3},
                           headers=token("acc_wx"))
    assert response.status_code == 422
    assert response.get_json()["errors"]["checks"][0].startswith("At least 60 % returned by member trade (law Art. 44): 50.00% < 60%")
    assert session.get(PayoutRun, run_id).status == "draft"


def test_auditors_may_not_write_and_others_do_not_find(client, token, cli, policy_file, session):
    run_id = distribute(cli, policy_file)["run"]
    writes = [("/api/v1/entities/WX/runs", {"year": 2025}), (f"/api/v1/runs/{run_id}/approve", MEETING),
              (f"/api/v1/runs/{run_id}/post", None), (f"/api/v1/runs/{run_id}/publish", None),
              (f"/api/v1/runs/{run_id}/reverse", None)]
    for user, status in (("aud_wx", 403), ("aud_b", 403), ("acc_a", 404), ("acc_b", 404)):
        headers = token(user)
        for path, body in writes:
            response = client.post(path, json=body, headers=headers) if body else client.post(path, headers=headers)
            assert response.status_code == status, (user, path, response.get_json())
            assert response.is_json and response.get_json()["errors"], (user, path)
    assert session.scalar(select(func.count()).select_from(PayoutRun)) == 1
    assert session.get(PayoutRun, run_id).status == "draft"


# --------------------------------------------------------------------------------------------- openapi


def test_openapi_documents_the_run_endpoints(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert set(paths["/api/v1/runs/{run_id}"]) >= {"get"}
    assert {"get", "post"} <= set(paths["/api/v1/entities/{code}/runs"])
    for action in ("approve", "post", "publish", "reverse"):
        assert "post" in paths[f"/api/v1/runs/{{run_id}}/{action}"], action
    assert "requestBody" in paths["/api/v1/runs/{run_id}/approve"]["post"]
    assert "requestBody" in paths["/api/v1/entities/{code}/runs"]["post"]
    schemas = doc["components"]["schemas"]
    assert {"run", "entity", "year", "status", "members", "checks", "pools"} <= set(schemas["Run"]["properties"])
    assert {"meeting_date", "attended", "votes_for"} <= set(schemas["RunMeeting"]["required"])
    assert "409" in paths["/api/v1/runs/{run_id}/post"]["post"]["responses"]

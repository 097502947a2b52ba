"""Deeply nested JSON and TOML: a 4xx that says why, never a RecursionError (a 500), and nothing written.

100,000 ``[`` (and as many ``{``) go as the body of one write of each API blueprint (members and records,
imports' sibling; runs and their actions), with and without an ``Idempotency-Key``, and as a distribution
policy through its three doors: the policy page, the runs API (TOML text, JSON text) and
``coopledger distribute --policy FILE``. The depth measure itself is checked against the parsers.
"""

from __future__ import annotations

import json
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import POLICY_70_30
from sqlalchemy import func, select

from cooperatives.models import Delivery, Household, IdempotencyKey, Member
from ledger.models import JournalEntry
from ledger.nesting import MAX_NESTING, json_depth, toml_depth, too_deep
from payouts.models import PayoutRun, PolicyVersion
from payouts.runs.policy import DEFAULT_FPC_POLICY, PolicyError, load_policy_text

A = "TA-COOP"
DEEP = 100_000
BODIES = {"arrays": "[" * DEEP + "]" * DEEP, "objects": '{"a":' * DEEP + "1" + "}" * DEEP,
          "unclosed": "[" * DEEP, "just too deep": "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)}


def deep_policy(kind: str, depth: int = DEEP) -> str:
    return {"toml": "reserve_pct = " + "[" * depth, "toml closed": "x = " + "[" * depth + "]" * depth,
            "inline tables": "x = " + "{a=" * depth + "1" + "}" * depth,
            "json": '{"pools": ' + "[" * depth + "]" * depth + "}"}[kind]


DEEP_POLICIES = {kind: deep_policy(kind) for kind in ("toml", "toml closed", "inline tables", "json")}
#: the page takes 20,000 characters at most: 4,000 levels, still four times Python's recursion limit
PAGE_DEPTH = 4_000
MESSAGE = "nested more than 32 levels"


def _counts(session) -> dict[str, int]:
    models = {"households": Household, "members": Member, "deliveries": Delivery, "entries": JournalEntry,
              "runs": PayoutRun, "policies": PolicyVersion, "idempotency": IdempotencyKey}
    session.expire_all()
    return {name: session.scalar(select(func.count()).select_from(model)) for name, model in models.items()}


# ------------------------------------------------------------------------------------------- the measure


def _true_depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_true_depth(v) for v in value.values()), default=0)
    return 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('ab"\\[]{}#\'\n 中')),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet="[]{}\"\\k", max_size=4), inner,
                                                                  max_size=4),
    max_leaves=40)


@given(JSON_VALUES, st.sampled_from([None, 0, 2]))
def test_json_depth_is_the_depth_of_what_json_parses(value, indent):
    text = json.dumps(value, indent=indent, ensure_ascii=bool(indent))
    assert json_depth(text) == json_depth(text.encode()) == _true_depth(value)


def test_toml_depth_counts_what_tomllib_nests_and_not_what_strings_or_comments_hold():
    for policy in (POLICY_70_30, DEFAULT_FPC_POLICY):
        assert toml_depth(policy) == 2 and not too_deep(policy, toml=True)
    text = ('a = "[[[{{{"\nb = \'[[[\'\nc = """\n[[[ \\""" ]]]\n"""\nd = \'\'\'\n{{{{\n\'\'\'\n'
            "# [[[[[[[[\ne = [[1, 2], [3]] # ]]\nf = {g = {h = [1]}}\n[[pools]]\nname = 'x'\n")
    tomllib.loads(text)
    assert toml_depth(text) == 3
    assert toml_depth("x = " + "[" * 40 + "]" * 40) == 40
    assert too_deep("x = " + "[" * 33 + "]" * 33, toml=True) and not too_deep("x = " + "[" * 32 + "]" * 32, toml=True)


def test_too_deep_is_exactly_past_the_limit():
    assert not too_deep("[" * MAX_NESTING + "]" * MAX_NESTING)
    assert too_deep("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    assert not too_deep(json.dumps([["[" * 100], {"k": "{" * 100}]))      # brackets in strings count for nothing
    assert not too_deep(json.dumps([[i] for i in range(1000)]))            # many brackets, shallow


# ------------------------------------------------------------------------------------------- API bodies


def _writes(run_id: int) -> dict[str, str]:
    """One write of each API blueprint: a member and a record (cooperatives), a draft run and an action
    on a run (distribution runs)."""
    return {"member": f"/api/v1/entities/{A}/members", "record": f"/api/v1/entities/{A}/deliveries",
            "run": f"/api/v1/entities/{A}/runs", "approve": f"/api/v1/runs/{run_id}/approve"}


@pytest.fixture
def draft(cli, world, policy_file):
    result = cli("distribute", "--entity", A, "--year", "2025", "--policy", policy_file(POLICY_70_30), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["run"]


@pytest.mark.parametrize("shape", list(BODIES))
def test_a_deep_json_body_is_a_400_to_every_kind_of_write(client, session, token, draft, shape):
    headers = token("acc_a")
    before = _counts(session)
    answered = {}
    for name, path in _writes(draft).items():
        for key in (None, f"deep-{name}-{shape}"):
            extra = {"Idempotency-Key": key} if key else {}
            response = client.post(path, data=BODIES[shape], content_type="application/json",
                                   headers={**headers, **extra})
            answered[(name, key is not None)] = response.status_code
            assert response.status_code == 400, (name, shape, response.status_code)
            errors = response.get_json()["errors"]
            assert list(errors) == ["_schema"] and "32" in errors["_schema"][0], errors
    assert _counts(session) == before
    assert len(answered) == 8


def test_a_body_at_the_limit_is_read_as_usual(client, session, token, draft):
    """32 levels: not refused for its depth; the schema says what is wrong with it (422)."""
    deep: list = []
    for _ in range(MAX_NESTING - 3):
        deep = [deep]
    body = json.dumps({"code": "A-H050", "head_name": [deep], "village": "[" * 40})
    assert json_depth(body) == MAX_NESTING
    response = client.post(f"/api/v1/entities/{A}/members", data=body, content_type="application/json",
                           headers=token("acc_a"))
    assert response.status_code == 422, response.status_code


# ------------------------------------------------------------------------------------------- policies


@pytest.mark.parametrize("kind", list(DEEP_POLICIES))
def test_a_deep_policy_is_refused_by_the_loader(kind):
    with pytest.raises(PolicyError) as caught:
        load_policy_text(DEEP_POLICIES[kind], filename="p.json" if kind == "json" else "p.toml")
    (problem,) = caught.value.problems
    assert MESSAGE in problem and problem.template        # a translatable Message


@pytest.mark.parametrize("kind", list(DEEP_POLICIES))
def test_a_deep_policy_is_refused_on_the_page(client, world, login, post_form, session, kind):
    login(client, "acc_a")
    before = _counts(session)
    client.set_cookie("lang", "en")
    response = post_form(client, f"/e/{A}/policy", {"policy": deep_policy(kind, PAGE_DEPTH)})
    assert response.status_code == 422
    assert MESSAGE in response.get_data(as_text=True)
    assert _counts(session) == before


def test_the_page_says_it_in_the_readers_language(client, world, login, post_form, monkeypatch):
    """The refusal is a Message: the page translates it with the reader's gettext (here a marking one)."""
    monkeypatch.setattr("payouts.runs.web.policies._", lambda text, **kw: "«" + (text % kw if kw else text) + "»")
    login(client, "acc_a")
    response = post_form(client, f"/e/{A}/policy", {"policy": deep_policy("toml", PAGE_DEPTH)})
    assert response.status_code == 422
    assert "«The policy is nested more than 32 levels deep; a policy needs three at most.»" in response.get_data(
        as_text=True)


@pytest.mark.parametrize("kind", list(DEEP_POLICIES))
def test_a_deep_policy_is_refused_by_the_api(client, session, token, world, kind):
    before = _counts(session)
    client.set_cookie("lang", "en")
    response = client.post(f"/api/v1/entities/{A}/runs", json={"year": 2025, "policy": DEEP_POLICIES[kind]},
                           headers=token("acc_a"))
    assert response.status_code == 422, response.status_code
    assert any(MESSAGE in m for m in response.get_json()["errors"]["policy"])
    assert _counts(session) == before


@pytest.mark.parametrize("kind", list(DEEP_POLICIES))
def test_a_deep_policy_file_is_refused_by_distribute(cli, session, world, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("COOP_LANG", "en")
    before = _counts(session)
    path = tmp_path / ("policy.json" if kind == "json" else "policy.toml")
    path.write_text(DEEP_POLICIES[kind], encoding="utf-8")
    result = cli("distribute", "--entity", A, "--year", "2025", "--policy", str(path))
    assert result.exit_code == 1
    assert MESSAGE in result.stderr and "Traceback" not in result.output
    assert _counts(session) == before

"""The authorization matrix (reliability.md §2.6 A1–A3, ASVS 5.0 V8.2.1/V8.2.2/V8.4.1).

Every route of ``app.url_map`` × every principal × own / foreign / missing object, walked through the
test client. The expected answer is derived from the access rule each view declares with ``rule()``
(roles, write, scope) and from who owns the object the URL names:

* anonymous → sent to sign in (pages) or 401 (API), unless the route is public;
* a role the rule does not list, or an auditor on a write → 403 (decided before any lookup, so it says
  nothing about which objects exist);
* an object outside the principal's scope, an object referenced under another tenant's parent
  (``/e/A/runs/<run of B>``) and an object that does not exist → 404, with the same page for all three;
* otherwise the view answers (2xx, 3xx, or its own 4xx such as 422 for an empty form).

Principals: anonymous, a household by phone + PIN, the household's member user, the accountant of
entity A, the auditor of A's township, the admin. Owners: ``A`` (entity A, household A-H001), ``A2``
(entity A, household A-H002: the same cooperative, another household) and ``B`` (entity B in another
township, household B-H001). Every URL variable of every route must be listed in :data:`VARIABLES`, so a
new route with a new kind of id fails here until it is given own, foreign and missing values.

Each request runs inside a SAVEPOINT that is rolled back afterwards, and every principal's session
cookie and CSRF token are restored before each request, so a write (posting a run, signing out, a new
PIN) never changes what the next cell sees.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.imports import create_import_job
from cooperatives.kinds import KINDS
from cooperatives.models import Entity, Household, Member, ShareHolding, User
from cooperatives.operations import record
from cooperatives.users import issue_token
from ledger.web.support import PUBLIC, STAFF
from payouts.models import PayoutBatch, PayoutRun, StatementSnapshot
from payouts.statements.jobs import create_job
from payouts.statements.operations import record_objection, set_pin

PRINCIPALS = ("anonymous", "pin", "member", "accountant", "auditor", "admin")
USERNAMES = {"member": "mem_a", "accountant": "acc_a", "auditor": "aud_a", "admin": "admin"}
OWNERS = ("A", "A2", "B")
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
MISSING_ID = 987654321
JOB_FILE = "statement-0001.pdf"

#: (route pattern, URL variable) -> the kind of value it names. Object kinds get own/foreign/missing
#: values; selector kinds (a locale, a record kind, a year, a report name, a file of a job) are the same
#: for every owner. A route whose variable is not listed here fails ``test_every_url_variable_is_known``.
VARIABLES: list[tuple[str, str, str]] = [
    (r"^/e/<code>", "code", "entity"),
    (r"^/api/v1/entities/<code>", "code", "entity"),
    (r"^/s/<code>", "code", "statement"),
    (r"^/verify/<code>", "code", "statement"),
    (r"^/d/<code>", "code", "disclosure"),
    (r"^/lang/<code>", "code", "locale"),
    (r".", "member_code", "household"),
    (r".", "hh_code", "household"),
    (r".", "run_id", "run"),
    (r"^/e/<code>/imports/", "job_id", "import_job"),
    (r"^/api/v1/entities/<code>/imports/", "job_id", "import_job"),
    (r".", "job_id", "job"),
    (r".", "objection_id", "objection"),
    (r".", "batch_id", "batch"),
    (r".", "kind", "record_kind"),
    (r".", "year", "year"),
    (r"^/e/<code>/reports/", "name", "report"),
    (r"^/e/<code>/jobs/", "name", "job_file"),
    (r"^/oversight/", "code", "entity"),
    (r"^/oversight/export/", "name", "export"),
    (r"^/oversight/export/", "fmt", "export_format"),
    (r"^/users/", "user_id", "user"),
    (r"^/admin/entities/<code>", "code", "entity"),
    (r"^/e/<code>/records/assets/", "record_id", "record:assets"),  # (an asset's row: its disposal)
    (r"^/e/<code>/records/", "record_id", "record:deliveries"),     # (the page's <kind> selector: deliveries)
    *[(rf"^/api/v1/{kind}/", "record_id", f"record:{kind}") for kind in KINDS],
    (r"^/api/v1/journal/", "record_id", "record:journal"),
]
SELECTORS = {"locale": "en", "record_kind": "deliveries", "year": "2025", "report": "balance-sheet",
             "job_file": JOB_FILE, "export": "overview", "export_format": "csv"}
#: object kinds that belong to a household rather than to the entity as a whole
HOUSEHOLD_KINDS = {"statement", "household"}


def variable_kind(rule, arg: str) -> str | None:
    for pattern, name, kind in VARIABLES:
        if name == arg and re.search(pattern, rule.rule):
            return kind
    return None


# ------------------------------------------------------------------------------------------- the world


@dataclass
class Objects:
    """Own, same-entity and foreign values of every object kind."""
    values: dict[str, dict[str, str]]     # kind -> owner -> value
    pin: str
    phone: str

    def value(self, kind: str, owner: str) -> str:
        if kind in SELECTORS:
            return SELECTORS[kind]
        return self.values[kind][owner]

    @staticmethod
    def missing(kind: str) -> str:
        return {"entity": "NO-SUCH", "statement": "ZZZZ-ZZZZ-ZZZZ", "household": "NO-SUCH-H"}.get(kind,
                                                                                            str(MISSING_ID))


def _publish(cli, code: str, policy: str) -> int:
    out = json.loads(cli("distribute", "--entity", code, "--year", "2025", "--policy", policy, "--json").stdout)
    assert cli("run", "approve", str(out["run"]), "--meeting-date", "2026-03-01", "--attended", "3",
               "--votes-for", "3").exit_code == 0
    assert cli("run", "post", str(out["run"])).exit_code == 0
    assert cli("run", "publish", str(out["run"])).exit_code == 0
    return out["run"]


@pytest.fixture
def objects(app, world, session, cli, policy_file, tmp_path) -> Objects:
    """A published 2025 run in A and in B, with statements, an objection, and a finished render job each."""
    b = session.scalar(select(Entity).where(Entity.code == world.b))
    for kind, raw in (("capital", {"date": "2025-01-10", "member": "B-H001", "amount": "2000.00"}),
                      ("deliveries", {"date": "2025-05-06", "member": "B-H001", "product": "柑橘", "quantity": "100",
                                      "unit": "kg", "unit_price": "3.00", "paid": "no"}),
                      ("sales", {"date": "2025-06-30", "buyer": "果品公司", "product": "柑橘", "amount": "9000.00"})):
        values, problems = parse_form(kind, raw)
        assert not problems, problems
        record(session, b, kind, values, actor=CONSOLE)
    records = {}                # a record of every kind in A (the world's) and in B
    for kind, raw in world.forms.items():
        values, problems = parse_form(kind, {k: v.replace("A-H", "B-H") for k, v in raw.items()})
        assert not problems, problems
        own = session.scalar(select(KINDS[kind].model.id).where(KINDS[kind].model.entity_id != b.id))
        records[f"record:{kind}"] = {"A": str(own), "A2": str(own), "B": str(record(session, b, kind, values,
                                                                                     actor=CONSOLE).id)}
    # A and B are cooperatives, which keep no share register (only a collective does): a row put in directly stands
    # for one in each, so that the routes naming a register row are walked like the others
    a = session.scalar(select(Entity).where(Entity.code == world.a))
    shares = {}
    for owner, entity, member in (("A", a, "A-H001"), ("B", b, "B-H001")):
        row = ShareHolding(entity_id=entity.id, member_id=session.scalar(select(Member.id).where(
            Member.entity_id == entity.id, Member.code == member)), date=dt.date(2025, 1, 1), shares=Decimal("1"))
        session.add(row)
        session.flush()
        shares[owner] = str(row.id)
    records["record:shares"] = {"A": shares["A"], "A2": shares["A"], "B": shares["B"]}
    from cooperatives.operations import post_vouchers

    voucher = {"date": dt.date(2025, 3, 31), "memo": "短期借款", "lines": [
        {"account": "102", "debit": Decimal("100.00")}, {"account": "201", "credit": Decimal("100.00")}]}
    own = str(post_vouchers(session, a, [voucher], actor=CONSOLE)[0].id)
    records["record:journal"] = {"A": own, "A2": own,
                                 "B": str(post_vouchers(session, b, [voucher], actor=CONSOLE)[0].id)}
    session.commit()
    policy = policy_file(POLICY)
    runs = {"A": _publish(cli, world.a, policy), "B": _publish(cli, world.b, policy)}
    runs["A2"] = runs["A"]
    codes = {}
    for owner, member in (("A", "A-H001"), ("A2", "A-H002"), ("B", "B-H001")):
        snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == runs[owner],
                                                              StatementSnapshot.member_code == member))
        assert snap is not None, member
        codes[owner] = snap
    objections, jobs = {}, {}
    for owner in ("A", "B"):
        objections[owner] = record_objection(session, codes[owner], line=codes[owner].content["lines"][0]["pool"],
                                             text="数量不对", actor=CONSOLE).id
        run = session.get(PayoutRun, runs[owner])
        job = create_job(session, run, out_root=str(tmp_path / "jobs"), locale="zh_Hans_CN", actor=CONSOLE)
        job.status = "done"
        from pathlib import Path

        Path(job.out_dir).mkdir(parents=True)
        (Path(job.out_dir) / JOB_FILE).write_bytes(b"%PDF-1.4\n% test\n")
        jobs[owner] = job.id
    objections["A2"], jobs["A2"] = objections["A"], jobs["A"]
    batches = {}                # a bank batch of each run (a row put in directly: the world's accounts fail the card check)
    for owner in ("A", "B"):
        run = session.get(PayoutRun, runs[owner])
        batch = PayoutBatch(run_id=run.id, entity_id=run.entity_id, number=1, layout="generic", status="created",
                            count=0, total=Decimal("0.00"))
        session.add(batch)
        session.flush()
        batches[owner] = batch.id
    batches["A2"] = batches["A"]
    imports = {}
    for owner, code in (("A", world.a), ("B", world.b)):
        entity = session.scalar(select(Entity).where(Entity.code == code))
        imports[owner] = create_import_job(session, entity, [("book.xlsx", b"PK")], actor=CONSOLE).id
    imports["A2"] = imports["A"]
    users = {u.username: str(u.id) for u in session.scalars(select(User))}
    household = session.scalar(select(Household).where(Household.code == "A-H001"))
    pin = set_pin(session, household, actor=CONSOLE)
    from payouts.reports.disclosure.build import Period
    from payouts.reports.disclosure.operations import publish_disclosure

    disclosures = {owner: publish_disclosure(session, session.scalar(select(Entity).where(Entity.code == code)),
                                             Period.parse("2025-Q2"), actor=CONSOLE).code
                   for owner, code in (("A", world.a), ("B", world.b))}
    disclosures["A2"] = disclosures["A"]
    session.commit()
    app.extensions["coop.job_launcher"] = lambda job_id: None        # no PDF batch process from a matrix cell
    app.extensions["coop.archive_launcher"] = lambda *args: None     # nor an archive process
    app.extensions["coop.import_launcher"] = lambda job_id: None     # nor an import job (it commits)
    return Objects(
        values={
            "entity": {"A": world.a, "A2": world.a, "B": world.b},
            "household": {"A": "A-H001", "A2": "A-H002", "B": "B-H001"},
            "statement": {o: s.code for o, s in codes.items()},
            "run": {o: str(r) for o, r in runs.items()},
            "job": {o: str(j) for o, j in jobs.items()},
            "import_job": {o: str(j) for o, j in imports.items()},
            "objection": {o: str(i) for o, i in objections.items()},
            "batch": {o: str(i) for o, i in batches.items()},
            "user": {"A": users["acc_a"], "A2": users["acc_a"], "B": users["acc_b"]},
            "disclosure": disclosures,
            **records,
        },
        pin=pin, phone=household.phone)


# ----------------------------------------------------------------------------------------- principals


@dataclass
class Principal:
    name: str
    cookie: str | None          # the session cookie, restored before every request
    token: str                  # a CSRF token of that session
    bearer: str | None          # an API token (users only)


def sign_in(app, session, objects: Objects, name: str, login, csrf, post_form) -> Principal:
    client = app.test_client()
    if name in USERNAMES:
        assert login(client, USERNAMES[name]).status_code == 302
    elif name == "pin":
        response = post_form(client, "/s/pin", {"phone": objects.phone, "pin": objects.pin})
        assert response.status_code == 302, response.status_code
    token = csrf(client, "/s/pin" if name in ("anonymous", "pin") else _form_page(name))
    bearer = None
    if name in USERNAMES:
        user = session.scalar(select(User).where(User.username == USERNAMES[name]))
        bearer = issue_token(session, user, "matrix", actor=CONSOLE)
        session.commit()
    cookie = client.get_cookie("session")
    return Principal(name, cookie.value if cookie else None, token, bearer)


def _form_page(name: str) -> str:
    """A page with a form (hence a CSRF token) that this principal may open."""
    return {"member": "/my", "accountant": "/e/TA-COOP/", "auditor": "/e/TA-COOP/", "admin": "/e/TA-COOP/"}[name]


# ------------------------------------------------------------------------------------------ the model


def in_scope(principal: str, scope: str, owner: str | None) -> bool:
    """Whether an object of ``owner`` lies in the principal's scope for a route of ``scope``."""
    if owner is None or principal == "admin" or scope in ("public", "any"):
        return True
    if scope == "household" and principal in ("member", "pin"):
        return owner == "A"
    return owner in ("A", "A2")           # staff of entity A / of A's township see all of A's households


def expected(app, rule, principal: str, variant: str, owner: str | None) -> str:
    """``ok``, ``login``, ``401``, ``403`` or ``404`` for this cell, from the route's declared rule."""
    declared = app.view_functions[rule.endpoint].access_rule
    api = rule.rule.startswith("/api/")
    public = declared.roles == PUBLIC
    signed_in = principal in USERNAMES
    if public:
        if declared.write and principal in STAFF:
            return "403"          # households write here; staff never do so on a household's behalf
        return "404" if variant == "missing" else "ok"
    if not signed_in:
        household_visitor = principal == "pin" and "anonymous" in declared.roles and declared.scope == "household"
        if not household_visitor:
            return "401" if api else "login"
    elif principal not in declared.roles or (declared.write and principal == "auditor"):
        return "403"
    elif declared.scope == "household" and declared.write and principal in STAFF:
        return "403"
    if variant in ("missing", "cross"):
        return "404"
    return "ok" if in_scope(principal, declared.scope, owner) else "404"


def outcome(rule, response) -> str:
    status = response.status_code
    if status >= 500:
        return f"5xx:{status}"
    if status == 302 and response.headers.get("Location", "").startswith("/login?next="):
        return "login"
    if rule.rule.startswith("/api/") and status == 401:
        return "401"
    if status in (403, 404):
        return str(status)
    if status == 400:
        return "400"              # a CSRF refusal: the matrix always sends a valid token, so it is a fault
    return "ok"


# ------------------------------------------------------------------------------------------ the cells


def object_args(rule) -> list[tuple[str, str]]:
    return [(arg, variable_kind(rule, arg)) for arg in sorted(rule.arguments)
            if variable_kind(rule, arg) not in SELECTORS]


def variants(rule, objects: Objects):
    """(variant, owner, URL values): every consistent owner, each object swapped for a foreign one, each
    object missing."""
    args = {arg: variable_kind(rule, arg) for arg in rule.arguments}
    objs = object_args(rule)

    def values(owner: str, **override) -> dict:
        out = {arg: objects.value(kind, owner) for arg, kind in args.items()}
        out.update(override)
        return out

    if not objs:
        yield "own", None, values("A")
        return
    owners = OWNERS if any(kind in HOUSEHOLD_KINDS for _, kind in objs) else ("A", "B")
    for owner in owners:
        yield ("own" if owner != "B" else "foreign"), owner, values(owner)
    if len(objs) > 1:
        for arg, kind in objs[1:]:           # the first names the tenant; the others must belong to it
            yield "cross", "B", values("A", **{arg: objects.value(kind, "B")})
    for arg, kind in objs:
        yield "missing", None, values("A", **{arg: Objects.missing(kind)})


def routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods))):
        if rule.endpoint == "static" or rule.endpoint.startswith("api-docs."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def send(client, rule, method: str, path: str, principal: Principal):
    headers = {}
    if rule.rule.startswith("/api/"):
        if principal.bearer:
            headers["Authorization"] = f"Bearer {principal.bearer}"
        if method == "GET":
            return client.get(path, headers=headers)
        return client.open(path, method=method, json={}, headers=headers)
    if method == "GET":
        return client.get(path)
    return client.open(path, method=method, data={"csrf_token": principal.token})


@pytest.fixture
def walk(app, session, objects, login, csrf, post_form, monkeypatch):
    """``walk(principal_name)`` -> (cells checked, mismatches)."""
    monkeypatch.setattr("payouts.statements.web.household.html_to_pdf", lambda html: b"%PDF-1.4\n")   # access, not rendering
    connection = session.get_bind()

    def run(name: str):
        principal = sign_in(app, session, objects, name, login, csrf, post_form)
        client = app.test_client()
        cells, mismatches = Counter(), []
        for rule, method in routes(app):
            for variant, owner, values in variants(rule, objects):
                path = rule.build(values, append_unknown=False)[1]
                client._cookies.clear()
                if principal.cookie:
                    client.set_cookie("session", principal.cookie)
                savepoint = connection.begin_nested()
                detail = ""
                try:
                    response = send(client, rule, method, path, principal)
                    got, detail = outcome(rule, response), f"{response.status_code} {response.headers.get('Location', '')}"
                    response.close()
                except Exception as exc:       # noqa: BLE001 — an exception is a 500 to the user: report it
                    got, detail = "5xx:exception", repr(exc)[:200]
                finally:
                    session.close()
                    savepoint.rollback()
                want = expected(app, rule, name, variant, owner)
                cells[want] += 1
                if got != want:
                    mismatches.append(f"{method} {path} [{rule.endpoint}, {variant}/{owner}]: expected {want}, "
                                      f"got {got} ({detail})")
        return cells, mismatches

    return run


# ------------------------------------------------------------------------------------------- the tests


def test_every_route_declares_a_rule_and_every_url_variable_is_known(app):
    """100 % of routes are covered: a declared rule (role, write, scope) and a value for each variable."""
    undeclared, unknown = [], []
    for rule, _method in routes(app):
        declared = getattr(app.view_functions[rule.endpoint], "access_rule", None)
        if declared is None:
            undeclared.append(rule.rule)
            continue
        assert declared.scope in ("public", "any", "entity", "household", "township", "record"), (
            rule.rule, declared.scope)
        unknown += [f"{rule.rule} <{arg}>" for arg in rule.arguments if variable_kind(rule, arg) is None]
    assert undeclared == [], "routes without rule(...)"
    assert unknown == [], "URL variables the matrix cannot fill: add them to VARIABLES"


def test_the_model_knows_a_leak_when_it_sees_one(app):
    """The expectation itself is not vacuous: foreign and missing objects must be 404 for everyone but admin."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "entities.member")
    assert expected(app, rule, "accountant", "foreign", "B") == "404"
    assert expected(app, rule, "auditor", "own", "A2") == "ok"
    assert expected(app, rule, "admin", "cross", "B") == "404"
    assert expected(app, rule, "member", "own", "A") == "403"
    assert expected(app, rule, "anonymous", "own", "A") == "login"
    statement = next(r for r in app.url_map.iter_rules() if r.endpoint == "statements.show")
    assert expected(app, statement, "member", "own", "A2") == "404"
    assert expected(app, statement, "pin", "own", "A") == "ok"
    confirm = next(r for r in app.url_map.iter_rules() if r.endpoint == "statements.confirm")
    assert expected(app, confirm, "accountant", "own", "A") == "403"


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_authorization_matrix(app, walk, principal):
    cells, mismatches = walk(principal)
    print(f"authz matrix {principal}: {sum(cells.values())} cells {dict(sorted(cells.items()))}")   # pytest -s
    assert mismatches == [], f"{len(mismatches)} of {sum(cells.values())} cells wrong:\n" + "\n".join(mismatches)
    assert sum(cells.values()) >= 100
    if principal in ("accountant", "auditor"):
        assert cells["404"] >= 50, cells          # foreign, cross-tenant and missing objects were really tried
    if principal in ("member", "pin"):
        assert cells["404"] >= 8, cells


def test_foreign_and_missing_objects_get_the_same_page(app, objects, login, session):
    """No existence oracle: the 404 for another tenant's object is byte-for-byte the 404 for no object."""
    client = app.test_client()
    login(client, "acc_a")
    bearer = issue_token(session, session.scalar(select(User).where(User.username == "acc_a")), "t", actor=CONSOLE)
    session.commit()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    pairs = [(f"/e/{objects.value('entity', 'B')}/", "/e/NO-SUCH/"),
             (f"/e/TA-COOP/runs/{objects.value('run', 'B')}", f"/e/TA-COOP/runs/{MISSING_ID}"),
             (f"/e/TA-COOP/members/{objects.value('household', 'B')}", "/e/TA-COOP/members/NO-SUCH-H"),
             (f"/api/v1/runs/{objects.value('run', 'B')}", f"/api/v1/runs/{MISSING_ID}"),
             (f"/api/v1/entities/{objects.value('entity', 'B')}/members", "/api/v1/entities/NO-SUCH/members")]
    member = app.test_client()
    login(member, "mem_a")
    for foreign, missing in pairs:
        a, b = client.get(foreign), client.get(missing)
        assert a.status_code == b.status_code == 404, (foreign, a.status_code)
        # the page names the path it was asked for (the language links), and nothing else differs
        assert same_page(a, b, foreign, missing), foreign
    foreign = f"/s/{objects.value('statement', 'A2')}"
    a, b = member.get(foreign), member.get("/s/ZZZZ-ZZZZ-ZZZZ")
    assert a.status_code == b.status_code == 404
    assert same_page(a, b, foreign, "/s/ZZZZ-ZZZZ-ZZZZ")


def same_page(a, b, path_a: str, path_b: str) -> bool:
    """Equal bodies, once the path asked for is aligned and the sign-out form's CSRF token (signed with
    the current second) is blanked."""
    def norm(text: str) -> str:
        return re.sub(r'(name="csrf_token" value=")[^"]+"', r'\1"', text)
    return norm(a.get_data(as_text=True).replace(path_a, path_b)) == norm(b.get_data(as_text=True))


def test_a_member_never_reaches_another_household(app, objects, login, session):
    """Enumeration: the member tries every statement code and every household page there is."""
    client = app.test_client()
    login(client, "mem_a")
    codes = session.scalars(select(StatementSnapshot.code)).all()
    own = objects.value("statement", "A")
    reached = [c for c in codes if client.get(f"/s/{c}").status_code == 200]
    assert reached == [own]
    page = client.get("/my").get_data(as_text=True)
    others = [c for c in codes if c != own and c in page]
    assert others == []
    for path in ("/e/TA-COOP/members/A-H002", "/e/TB-COOP/members/B-H001", "/api/v1/entities/TA-COOP/members"):
        assert client.get(path).status_code in (401, 403, 404), path

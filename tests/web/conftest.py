"""Fixtures for the web and API tests.

The app's views share the test's rolled-back Session, so whatever a request writes is visible to the
test and undone afterwards. CSRF protection stays ON: helpers fetch the token from a rendered form,
exactly as a browser would.

``world`` is a small world with two townships, each with one cooperative, three member households and
one record of every kind (in A), plus a user of every role and scope. ``demo`` loads the full demo.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event, select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.models import User
from cooperatives.operations import (
    create_entity,
    record,
    record_land_contract,
    register_household,
    register_member,
)
from cooperatives.users import create_user, issue_token

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*\bvalue="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')

#: one valid form per record kind of entity A, as an accountant types it; ``marker`` is a value that
#: must then appear on the kind's list page
#: a record of every kind entity A (a farmer cooperative) keeps; the share register (``shares``) is a village
#: collective's, refused here (tests/web/test_shares.py)
RECORD_FORMS: dict[str, dict[str, str]] = {
    "capital": {"date": "2025-01-10", "member": "A-H001", "amount": "3000.00", "form": "cash", "note": "首期股金"},
    "land": {"member": "A-H001", "contract_no": "TD-A-001", "area_mu": "3.5", "base_rent_per_mu": "600",
             "start_on": "2025-01-01", "end_on": "2029-12-31"},
    "labor": {"date": "2025-04-02", "member": "A-H002", "days": "3", "rate": "120", "task": "采茶工"},
    "deliveries": {"date": "2025-05-06", "member": "A-H001", "product": "藤茶鲜叶", "grade": "一级",
                   "quantity": "120", "unit": "jin", "unit_price": "5.60", "paid": "no"},
    "inputs": {"date": "2025-03-01", "member": "A-H003", "item": "有机肥料", "amount": "800.00", "on_credit": "yes"},
    "sales": {"date": "2025-06-30", "buyer": "湘西茶业有限公司", "product": "藤茶干茶", "quantity": "300",
              "unit": "kg", "amount": "42000.00", "invoice_no": "FP20250001", "paid_by": "credit"},
    # 收款: the buyer pays what the sale on credit left owed (113 应收款)
    "receipts": {"date": "2025-07-15", "buyer": "湘西茶业有限公司", "amount": "42000.00", "method": "bank"},
    "expenses": {"date": "2025-07-25", "category": "management", "amount": "5200.00", "payee": "管理人员工资"},
    "subsidies": {"date": "2025-06-18", "source": "县农业农村局产业资金", "kind": "fiscal", "amount": "20000.00"},
    # 提现: the advance below is paid in cash, which must be in hand first (库存现金 never below zero)
    "transfers": {"date": "2025-07-31", "from_account": "bank", "to_account": "cash", "amount": "5000.00",
                  "note": "提现备用金"},
    "advances": {"date": "2025-08-01", "member": "A-H002", "amount": "600.00", "note": "农忙借支"},
    "payments": {"date": "2025-12-28", "member": "A-H001", "amount": "500.00", "method": "bank",
                 "reference": "YH20250001"},
    # 固定资产: a tea roaster bought out of the subsidy's project (235 → 311), 10 years, 5 % salvage
    "assets": {"code": "GD-A-01", "name": "藤茶杀青机", "acquired_on": "2025-09-10", "cost": "12000.00",
               "life_years": "10", "project": "县农业农村局产业资金"},
    "income": {"date": "2025-12-31", "source": "产业园联合体分红", "amount": "1500.00"},
    # 期末盘点: 2 kg of dried tea unsold at the year end, 100.00 at cost (121 on 12-31, back to 521 on 01-01)
    "stock": {"date": "2025-12-31", "product": "藤茶干茶（库存）", "quantity": "2", "unit": "kg", "value": "100.00"},
}
MARKERS = {"capital": "首期股金", "land": "TD-A-001", "labor": "采茶工", "deliveries": "藤茶鲜叶", "inputs": "有机肥料",
           "sales": "FP20250001", "receipts": "湘西茶业有限公司", "expenses": "管理人员工资", "subsidies": "县农业农村局产业资金", "transfers": "提现备用金", "advances": "农忙借支",
           "payments": "YH20250001", "income": "产业园联合体分红",
           "stock": "藤茶干茶（库存）", "assets": "藤茶杀青机"}


@dataclass
class World:
    a: str = "TA-COOP"                  # entity in township A
    b: str = "TB-COOP"                  # entity in township B
    a_name: str = "甲乡藤茶专业合作社"
    b_name: str = "乙镇果蔬专业合作社"
    #: full ID numbers (must never appear in a page) and their masked form
    id_numbers: dict[str, str] = field(default_factory=dict)
    masked: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)   # key -> username
    password: str = PASSWORD
    forms: dict[str, dict[str, str]] = field(default_factory=lambda: RECORD_FORMS)
    markers: dict[str, str] = field(default_factory=lambda: MARKERS)


def id_number(seq: int) -> str:
    body = f"43082119800101{seq:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def build_world(session) -> World:
    world = World()
    entities = {}
    for key, code, name, township, village, names in (
        ("a", world.a, world.a_name, "甲乡", "茶园村", ("王大山", "李秀英", "张建国")),
        ("b", world.b, world.b_name, "乙镇", "溪口村", ("刘桂兰", "陈志强", "杨春花")),
    ):
        entity = create_entity(session, code=code, name=name, kind="farmer_coop", township=township, village=village,
                               first_year=2025, actor=CONSOLE)
        entities[key] = entity
        for i, head in enumerate(names, 1):
            hh_code = f"{key.upper()}-H{i:03d}"
            number = id_number(i + (10 if key == "b" else 0))
            world.id_numbers[hh_code] = number
            world.masked[hh_code] = number[:4] + "*" * 10 + number[-4:]
            register_household(session, entity, code=hh_code, head_name=head, village=village, phone=f"1380000{i:04d}",
                               id_number=number, bank_account=f"62179900000000{i:04d}", actor=CONSOLE)
            register_member(session, entity, code=hh_code, member_no=i, joined_on=dt.date(2024, 3, 1), actor=CONSOLE)
    a = entities["a"]
    for kind, raw in RECORD_FORMS.items():
        values, problems = parse_form(kind, raw)
        assert not problems, problems
        if kind == "land":
            record_land_contract(session, a, values, through_year=2025, actor=CONSOLE)
        else:
            record(session, a, kind, values, actor=CONSOLE)
    from cooperatives.models import Household

    member_hh = session.query(Household).filter_by(code="A-H001").one()
    for key, role, scope in (
        ("admin", "admin", {}),
        ("acc_a", "accountant", {"entity_id": a.id}),
        ("acc_b", "accountant", {"entity_id": entities["b"].id}),
        ("aud_a", "auditor", {"township_id": a.township_id}),
        ("aud_b", "auditor", {"township_id": entities["b"].township_id}),
        ("mem_a", "member", {"household_id": member_hh.id}),
    ):
        create_user(session, username=key, password=PASSWORD, role=role, display_name=f"用户{key}", actor=CONSOLE, **scope)
        world.users[key] = key
    session.commit()       # releases the savepoint: requests close the Session, which would undo a flush
    return world


@pytest.fixture
def app(session):
    from cooperatives.imports import run_import_job
    from payouts.app import create_app
    from payouts.settings import Settings

    app = create_app(Settings(database_url="sqlite://", secret_key="test", testing=True, cookie_secure=False))
    app.extensions["ledger.sessionmaker"] = {"read": lambda: session, "write": lambda: session,
                                             "engine": session.get_bind()}
    # an uploaded workbook's import job runs at once, in the request, on the test's session (the same job code
    # the real launcher starts in a process of its own)
    app.extensions["coop.import_launcher"] = lambda job_id: run_import_job(session, job_id)
    assert app.config.get("WTF_CSRF_ENABLED", True) is True     # CSRF is proven, never switched off
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def password_hash() -> str:
    """(``world`` and ``demo`` depend on ``app``: it configures the keys that encrypt ID numbers.)"""
    from cooperatives.users import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def world(app, session, monkeypatch, password_hash) -> World:
    # one real Argon2 hash of PASSWORD for every test user (hashing six per test would be slow);
    # signing in still verifies it the normal way
    monkeypatch.setattr("cooperatives.users.hash_password",
                        lambda password: password_hash if password == PASSWORD else _hash(password))
    return build_world(session)


def _hash(password: str) -> str:
    from cooperatives.users import HASHER

    return HASHER.hash(password)


@pytest.fixture
def demo(app, session):
    from cooperatives.demo import load_demo

    assert load_demo(session)
    session.commit()
    return session


def _csrf_token(page: str | bytes) -> str:
    text = page.decode() if isinstance(page, bytes) else page
    found = CSRF_RE.search(text)
    assert found, "no csrf_token in the page"
    return html.unescape(found.group(1) or found.group(2))


def _token_for(client, path: str = "/login") -> str:
    """The CSRF token of this client's session, read from a rendered form."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return _csrf_token(response.data)


def _login(client, username: str, password: str = PASSWORD):
    """Sign in through the login form (with its CSRF token); returns the POST response."""
    token = _token_for(client, "/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def _post_form(client, path: str, data: dict, *, token_path: str | None = None, **kwargs):
    """POST ``data`` to ``path`` with the CSRF token from the form at ``token_path`` (default: ``path``)."""
    token = _token_for(client, token_path or path)
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


@pytest.fixture
def login():
    """``login(client, username, password=PASSWORD)``: sign in through the form, CSRF token included."""
    return _login


@pytest.fixture
def csrf():
    """``csrf(client, path)``: the CSRF token read from the form rendered at ``path``."""
    return _token_for


@pytest.fixture
def post_form():
    """``post_form(client, path, data, token_path=None)``: POST a form with its CSRF token."""
    return _post_form


@pytest.fixture
def queries(session):
    """Count the SQL statements run while the block runs: ``with queries() as n: ...; n[0]``."""
    import contextlib

    engine = session.get_bind().engine

    @contextlib.contextmanager
    def counting():
        seen = [0]

        def before(*_args):
            seen[0] += 1

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


@pytest.fixture
def token(session, world):
    """``token(username)`` -> the Authorization header of a fresh API token of that user."""

    def make(username: str) -> dict[str, str]:
        user = session.scalar(select(User).where(User.username == username))
        value = issue_token(session, user, "test script", actor=CONSOLE)
        session.commit()
        return {"Authorization": f"Bearer {value}", "Accept-Language": "en"}      # API tests read English

    return make

"""Personal information (PIPL Art. 28/51; GB/T 35273 display de-identification; reliability.md §2.13 D1–D2,
§2.10 H1): ID and bank numbers are encrypted at rest under keys from settings and can be re-encrypted
under a new key; no page, JSON answer, export, statement or database row holds one in full; the one
door to a full number is the accountant's reveal, which needs a reason and is written to the audit log;
the township auditor reads that log — who, when, what — for the township's entities only.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
import test_authz_matrix
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select
from test_authz_matrix import routes, sign_in, variants

from cooperatives import privacy
from cooperatives.access import CONSOLE
from cooperatives.models import AuditLog, Household, Member, User
from cooperatives.operations import register_household
from ledger.db import Base

A, B = "TA-COOP", "TB-COOP"
objects = test_authz_matrix.objects
BANK = re.compile(r"62179900000000\d{4}")


def text(response) -> str:
    return response.get_data(as_text=True)


def secrets_of(world) -> list[str]:
    banks = [f"62179900000000{i:04d}" for i in range(1, 4)]
    return list(world.id_numbers.values()) + banks


def readable(response) -> str:
    """The response as text a person could read: HTML, JSON, CSV, or the XML inside an .xlsx."""
    data = response.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------ at rest


def test_no_table_holds_a_full_id_or_bank_number(app, objects, world, session, login, post_form):
    """D1: after registering, importing, distributing, publishing statements and a logged reveal, a scan of
    every column of every row of every table finds no ID or bank number in the clear — the ciphertext
    decrypts to it, the masked copy keeps 4 + 4 characters."""
    client = app.test_client()
    login(client, "acc_a")
    assert post_form(client, f"/e/{A}/members/A-H001/reveal", {"reason": "银行代发2025年分红"},
                     token_path=f"/e/{A}/members/A-H001").status_code == 200
    found, cells = [], 0
    wanted = secrets_of(world)
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)).all():
            for value in row:
                if value is None:
                    continue
                cell = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                cells += 1
                found += [(table.name, secret) for secret in wanted if secret in cell]
    print(f"privacy db scan: {cells} cells in {len(Base.metadata.sorted_tables)} tables, 0 full numbers")
    assert found == [] and cells > 1000
    household = session.scalar(select(Household).where(Household.code == "A-H001"))
    assert privacy.decrypt(household.id_number_enc) == world.id_numbers["A-H001"]
    assert household.id_number_masked == world.masked["A-H001"]
    assert household.bank_account_masked == "6217**********0001"


def test_keys_can_be_rotated(app, world, session):
    """A new data key goes first in COOP_DATA_KEYS; ``rotate_keys`` re-encrypts every household under it;
    then the old key can be dropped and every number still decrypts (and the old key alone reads none)."""
    from payouts.settings import Settings

    old = Settings(database_url="sqlite://", secret_key="test").data_keys[0]
    new = Fernet.generate_key().decode()
    index_key = (Settings(database_url="sqlite://", secret_key="test").index_key).encode()
    digests = dict(session.execute(select(Household.code, Household.bank_account_digest)).all())
    # a membership's own bank account (an entity paying a household another entity registered)
    membership = session.scalars(select(Member).where(Member.household_id.is_not(None)).order_by(Member.id)).first()
    membership.bank_account_enc = privacy.encrypt("6228480000000000077")
    membership.bank_account_digest = privacy.digest("6228480000000000077")
    session.commit()
    try:
        privacy.configure([new, old], index_key)
        rewritten = privacy.rotate_keys(session, actor=CONSOLE)
        session.commit()
        assert rewritten == len(world.id_numbers) + 1
        privacy.configure([new], index_key)
        session.expire_all()
        for household in session.scalars(select(Household)):
            assert privacy.decrypt(household.id_number_enc) == world.id_numbers[household.code]
        assert dict(session.execute(select(Household.code, Household.bank_account_digest)).all()) == digests
        assert privacy.decrypt(session.get(Member, membership.id).bank_account_enc) == "6228480000000000077"
        assert session.get(Member, membership.id).bank_account_digest == privacy.digest("6228480000000000077")
        privacy.configure([old], index_key)
        household = session.scalar(select(Household).where(Household.code == "A-H001"))
        with pytest.raises(InvalidToken):
            privacy.decrypt(household.id_number_enc)
    finally:
        privacy.configure([old], index_key)
    log = session.scalars(select(AuditLog).where(AuditLog.action == "rotate-keys")).one()
    assert log.detail == f"{rewritten} rewritten ({rewritten - 1} households, 1 memberships)"


# -------------------------------------------------------------------------------------------- in use


@pytest.mark.parametrize("principal", ["admin", "accountant", "auditor", "member", "pin"])
def test_no_response_shows_a_full_number(app, objects, world, session, login, csrf, post_form, monkeypatch, principal):
    """D2: every GET route (pages, JSON API, Excel and CSV exports, statements — the PDF's HTML source)
    for each principal: 0 full ID or bank numbers; masked forms only."""
    monkeypatch.setattr("payouts.statements.web.household.html_to_pdf", lambda html: html.encode())
    who = sign_in(app, session, objects, principal, login, csrf, post_form)
    client = app.test_client()
    if who.cookie:
        client.set_cookie("session", who.cookie)
    wanted = secrets_of(world)
    scanned, masked_seen = 0, 0
    for rule, method in routes(app):
        if method != "GET":
            continue
        for _variant, _owner, values in variants(rule, objects):
            path = rule.build(values, append_unknown=False)[1]
            headers = {"Authorization": f"Bearer {who.bearer}"} if who.bearer and path.startswith("/api/") else {}
            response = client.get(path, headers=headers)
            body = readable(response)
            response.close()
            leaks = [s for s in wanted if s in body]
            assert leaks == [], (principal, path, response.status_code)
            assert not BANK.search(body), (principal, path)
            masked_seen += world.masked["A-H001"] in body
            scanned += 1
    print(f"privacy scan {principal}: {scanned} responses, 0 full numbers")   # pytest -s
    assert scanned >= 60
    if principal in ("admin", "accountant", "auditor"):
        assert masked_seen >= 2          # the member list and account show the masked number


# ---------------------------------------------------------------------------------------------- reveal


def test_the_accountant_reveals_a_full_number_for_a_reason_and_it_is_logged(app, world, session, login, post_form):
    client = app.test_client()
    login(client, "acc_a")
    page = text(client.get(f"/e/{A}/members/A-H001"))
    assert 'id="reveal"' in page and world.id_numbers["A-H001"] not in page
    refused = post_form(client, f"/e/{A}/members/A-H001/reveal", {"reason": "  "}, token_path=f"/e/{A}/members/A-H001")
    assert refused.status_code == 422 and world.id_numbers["A-H001"] not in text(refused)
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "reveal")) == 0
    response = post_form(client, f"/e/{A}/members/A-H001/reveal", {"reason": "银行代发2025年分红"},
                         token_path=f"/e/{A}/members/A-H001")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    shown = text(response)
    assert world.id_numbers["A-H001"] in shown and "621799000000000001" in shown
    session.expire_all()
    log = session.scalars(select(AuditLog).where(AuditLog.action == "reveal")).one()
    actor = session.scalar(select(User).where(User.username == "acc_a"))
    assert (log.actor_id, log.target, log.entity_id) == (actor.id, "household:A-H001", actor.entity_id)
    assert log.detail == "id_number,bank_account: 银行代发2025年分红" and log.at is not None


@pytest.mark.parametrize("user, status", [("aud_a", 403), ("mem_a", 403), ("acc_b", 404), ("admin", 200)])
def test_only_those_who_keep_the_books_may_reveal(app, world, session, login, csrf, user, status):
    client = app.test_client()
    login(client, user)
    token = csrf(client, {"mem_a": "/my", "acc_b": f"/e/{B}/"}.get(user, f"/e/{A}/"))
    response = client.post(f"/e/{A}/members/A-H001/reveal", data={"reason": "核对", "csrf_token": token})
    assert response.status_code == status
    assert (world.id_numbers["A-H001"] in text(response)) == (status == 200)
    page = text(client.get(f"/e/{A}/members/A-H001"))
    assert ('id="reveal"' in page) == (user == "admin")


# ------------------------------------------------------------------------------------------- audit log


def test_the_auditor_reads_who_did_what_and_when_in_the_township(app, world, session, login, post_form):
    """H1 for the auditor: an accountant's write and reveal appear on the township auditor's log with the
    accountant's name, the time and what was done; the other township's auditor does not see them."""
    accountant = app.test_client()
    login(accountant, "acc_a")
    assert post_form(accountant, f"/e/{A}/records/advances", world.forms["advances"]).status_code == 302
    assert post_form(accountant, f"/e/{A}/members/A-H002/reveal", {"reason": "转账"},
                     token_path=f"/e/{A}/members/A-H002").status_code == 200
    auditor = app.test_client()
    login(auditor, "aud_a")
    page = text(auditor.get("/audit"))
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td><td>([^<]*)<span class=\"muted\" translate=\"no\">\((\w+)\)</span>"
                      r"</td>\s*<td>([^<]*)</td><td>([^<]*)</td>", page)
    mine = [r for r in rows if r[2] == "acc_a"]
    assert {r[4].split(" ")[0] for r in mine} >= {"借支", "农户"}, rows          # what, in words: 农户 A-H002
    reveal = next(r for r in mine if r[4] == "农户 A-H002")
    assert reveal[1].strip() == "用户acc_a" and reveal[3] != "reveal"      # a label in words, not the key
    assert world.id_numbers["A-H002"] not in page
    other = app.test_client()
    login(other, "aud_b")
    assert "acc_a" not in text(other.get("/audit"))
    assert other.get(f"/audit?entity={A}").status_code == 404
    assert auditor.get(f"/audit?entity={B}").status_code == 404
    filtered = text(auditor.get("/audit?action=reveal"))
    assert "农户 A-H002" in filtered and "借支 " not in filtered


def test_the_audit_log_page_is_for_auditors_and_the_admin(app, world, login):
    for user, status in (("acc_a", 403), ("mem_a", 403), ("aud_a", 200), ("admin", 200)):
        client = app.test_client()
        login(client, user)
        assert client.get("/audit").status_code == status, user
    client = app.test_client()
    login(client, "admin")
    page = text(client.get("/audit?action=login"))
    assert '用户 <span translate="no">admin</span>' in page          # sign-ins are logged too (admin sees all)


def test_the_audit_log_page_makes_no_query_per_row(app, world, session, login, queries):
    client = app.test_client()
    login(client, "admin")
    client.get("/audit")
    with queries() as few:
        assert client.get("/audit").status_code == 200
    from cooperatives.models import Entity, Village

    vil = session.scalar(select(Village))
    keeper = session.scalar(select(Entity).where(Entity.township_id == vil.township_id))
    for i in range(30):
        register_household(session, keeper, code=f"Z{i}", head_name=f"户{i}", village=vil.name,
                           id_number=f"1101011990010{i:05d}", actor=CONSOLE)
    session.commit()
    with queries() as many:
        assert client.get("/audit").status_code == 200
    assert many[0] <= few[0]


def test_no_log_line_carries_a_full_number(app, world, session, login, post_form, caplog):
    caplog.set_level("DEBUG")
    client = app.test_client()
    login(client, "acc_a")
    form = {"code": "A-H050", "head_name": "新农户", "village": "茶园村", "id_number": "430821199001011235",
            "bank_account": "6228480000000000050", "member_no": "50", "joined_on": "2025-01-01"}
    post_form(client, f"/e/{A}/members", form)
    post_form(client, f"/e/{A}/members/A-H001/reveal", {"reason": "核对"}, token_path=f"/e/{A}/members/A-H001")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("430821199001011235", "6228480000000000050", world.id_numbers["A-H001"]):
        assert secret not in logged


def test_rotate_keys_command(cli, world, session):
    result = cli("rotate-keys")
    assert result.exit_code == 0 and f"re-encrypted {len(world.id_numbers)} rows" in result.stdout
    session.expire_all()
    household = session.scalar(select(Household).where(Household.code == "B-H002"))
    assert privacy.decrypt(household.id_number_enc) == world.id_numbers["B-H002"]

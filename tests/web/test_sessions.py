"""Sessions and tokens that end when they should (reliability.md §2.7 S2/S3; docs/SECURITY.md §3).

* a phone + PIN visit lives on the server: "leave" and a new PIN end it for every copy of its cookie;
* API tokens expire, can be issued, listed and revoked (``/account/tokens``, ``/users``, ``coopledger
  token``), and a password change or an admin's reset revokes all of a user's;
* a browser session idle for ``COOP_IDLE_MINUTES`` (30) is signed out — clocks are moved, never waited;
* every private answer is ``Cache-Control: no-store`` (shared phones).
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import test_authz_matrix
from sqlalchemy import select
from test_authz_matrix import routes, variants
from test_views import text

from cooperatives.access import CONSOLE
from cooperatives.models import ApiToken, AuditLog, Household, User
from cooperatives.users import HASHER, issue_token, token_state
from payouts.models import PinVisit

A = "TA-COOP"
PIN = "246810"
objects = test_authz_matrix.objects      # the matrix's fixture: published runs, statements, jobs, a PIN


def give_pin(session, code: str = "A-H001") -> Household:
    household = session.scalar(select(Household).where(Household.code == code))
    household.pin_hash = HASHER.hash(PIN)
    session.commit()
    return household


def pin_visit(app, post_form, household: Household):
    client = app.test_client()
    assert post_form(client, "/s/pin", {"phone": household.phone, "pin": PIN}).status_code == 302
    return client


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie (stolen, or left on a shared phone)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


# ----------------------------------------------------------------------------------- phone + PIN visits


def test_a_copied_pin_visit_cookie_stops_working_after_leaving(app, world, session, post_form):
    household = give_pin(session)
    phone = pin_visit(app, post_form, household)
    copy = copy_of(app, phone)
    assert phone.get("/my").status_code == 200 and copy.get("/my").status_code == 200
    assert post_form(phone, "/s/leave", {}, token_path="/my").status_code == 302
    assert sent_to_sign_in(phone.get("/my"))
    assert sent_to_sign_in(copy.get("/my"))                  # the copy is dead too: the visit ended on the server
    session.expire_all()
    visit = session.scalars(select(PinVisit).where(PinVisit.household_id == household.id)).one()
    assert visit.ended_at is not None and len(visit.secret_hash) == 64
    assert visit.secret_hash not in phone.get_cookie("session").value


def test_a_new_pin_ends_every_visit_of_the_household(app, world, session, login, post_form):
    household, neighbour = give_pin(session, "A-H001"), give_pin(session, "A-H002")
    phone = pin_visit(app, post_form, household)
    copy, other = copy_of(app, phone), pin_visit(app, post_form, neighbour)
    assert copy.get("/my").status_code == 200
    accountant = app.test_client()
    login(accountant, "acc_a")
    response = post_form(accountant, f"/e/{A}/households/A-H001/pin", {}, token_path=f"/e/{A}/")
    assert response.status_code == 200
    new_pin = re.search(r'id="pin">(\d{6})<', text(response)).group(1)
    assert sent_to_sign_in(phone.get("/my")) and sent_to_sign_in(copy.get("/my"))
    assert other.get("/my").status_code == 200              # another household's visit goes on
    again = app.test_client()
    assert post_form(again, "/s/pin", {"phone": household.phone, "pin": new_pin}).status_code == 302
    assert again.get("/my").status_code == 200
    assert post_form(app.test_client(), "/s/pin", {"phone": household.phone, "pin": PIN}).status_code == 401


def test_a_planted_or_forged_visit_id_opens_nothing(app, world, session, post_form):
    """The session holds a random id the server knows, not the household: an old-style cookie naming a
    household, or an id the server never issued, opens nothing (the cookie is signed anyway)."""
    household = give_pin(session)
    serializer = app.session_interface.get_signing_serializer(app)
    for value in ([household.id, int(time.time())], "made-up-visit-id", household.id, "x" * 5000):
        client = app.test_client()
        client.set_cookie("session", serializer.dumps({"pin_household": value, "_seen": int(time.time())}))
        assert sent_to_sign_in(client.get("/my")), value


# ------------------------------------------------------------------------------------------ API tokens


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def user_named(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def test_a_token_stops_working_when_it_expires(app, world, session, client, monkeypatch):
    value = issue_token(session, user_named(session, "acc_a"), "nightly export", days=1, actor=CONSOLE)
    session.commit()
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 200
    row = session.scalars(select(ApiToken).where(ApiToken.name == "nightly export")).one()
    assert row.last_used_at is not None                      # noted at its first use
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, seconds=1)
    monkeypatch.setattr("cooperatives.users.utcnow", lambda: later)
    response = client.get("/api/v1/me", headers=bearer(value))
    assert response.status_code == 401 and "已过期" in response.get_json()["errors"]["auth"][0]    # Chinese by default
    english = client.get("/api/v1/me", headers={**bearer(value), "Accept-Language": "en"})
    assert english.get_json()["errors"]["auth"] == ["unknown, expired or revoked token"]
    assert token_state(row, later) == "expired"
    with pytest.raises(ValueError):
        issue_token(session, user_named(session, "acc_a"), "too long", days=366, actor=CONSOLE)
    with pytest.raises(ValueError):
        issue_token(session, user_named(session, "acc_a"), "none", days=0, actor=CONSOLE)


def test_a_token_is_issued_once_listed_and_revoked_on_its_own_page(app, world, session, login, csrf):
    """Any signed-in user manages their own tokens — here a township auditor, who writes nothing in the
    books but reads them through the API."""
    client, script = app.test_client(), app.test_client()
    login(client, "aud_a")
    page = client.get("/account/tokens")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    response = client.post("/account/tokens", data={"name": "township report", "days": "30",
                                                    "csrf_token": csrf(client, "/account/tokens")})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    value = re.search(r'id="token">([^<]+)<', text(response)).group(1)
    assert script.get("/api/v1/entities", headers=bearer(value)).status_code == 200
    listing = text(client.get("/account/tokens"))
    assert "township report" in listing and value not in listing            # shown once, never again
    row = session.scalars(select(ApiToken).where(ApiToken.name == "township report")).one()
    from cooperatives.users import as_utc

    assert dt.timedelta(days=29, hours=23) < as_utc(row.expires_at) - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    assert row.token_hash != value and value not in row.token_hash
    for bad in ({"name": "", "days": "30"}, {"name": "x", "days": "366"}, {"name": "x", "days": "0"}):
        refused = client.post("/account/tokens", data={**bad, "csrf_token": csrf(client, "/account/tokens")})
        assert refused.status_code == 422 and 'aria-invalid="true"' in text(refused), bad
    response = client.post("/account/tokens/revoke", data={"token_id": str(row.id),
                                                           "csrf_token": csrf(client, "/account/tokens")})
    assert response.status_code == 302
    assert script.get("/api/v1/entities", headers=bearer(value)).status_code == 401
    session.expire_all()
    assert token_state(session.get(ApiToken, row.id)) == "revoked"
    aud = user_named(session, "aud_a").id
    logged = session.scalars(select(AuditLog).where(AuditLog.action.in_(("issue-token", "revoke-token")))
                             .order_by(AuditLog.id)).all()
    assert [(r.action, r.actor_id, r.target) for r in logged] == [("issue-token", aud, "user:aud_a"),
                                                                  ("revoke-token", aud, "user:aud_a")]
    assert all(value not in (r.detail or "") for r in logged)


def test_only_the_owner_or_the_admin_revokes_a_token(app, world, session, login, csrf):
    value = issue_token(session, user_named(session, "acc_a"), "books sync", actor=CONSOLE)
    session.commit()
    row = session.scalars(select(ApiToken).where(ApiToken.name == "books sync")).one()
    script = app.test_client()
    for username in ("acc_b", "mem_a", "aud_a"):
        other = app.test_client()
        login(other, username)
        response = other.post("/account/tokens/revoke", data={"token_id": str(row.id),
                                                              "csrf_token": csrf(other, "/account/tokens")})
        assert response.status_code == 404, username
        assert "books sync" not in text(other.get("/account/tokens"))
    missing = other.post("/account/tokens/revoke", data={"token_id": "987654321",
                                                         "csrf_token": csrf(other, "/account/tokens")})
    assert missing.status_code == 404
    assert script.get("/api/v1/me", headers=bearer(value)).status_code == 200
    admin = app.test_client()
    login(admin, "admin")
    admin.get("/lang/en")
    users_page = text(admin.get("/users"))
    assert "books sync" in users_page and value not in users_page
    response = admin.post("/account/tokens/revoke", data={"token_id": str(row.id), "next": "/users",
                                                          "csrf_token": csrf(admin, "/users")})
    assert response.status_code == 302 and response.headers["Location"] == "/users"
    assert script.get("/api/v1/me", headers=bearer(value)).status_code == 401
    assert "“books sync” is revoked" in text(admin.get("/users"))          # the message, once
    assert "books sync" not in text(admin.get("/users"))                  # the page lists live tokens


def test_a_password_change_or_an_admin_reset_revokes_every_token(app, world, session, login, csrf, token):
    own, second, member = token("acc_a"), token("acc_a"), token("mem_a")
    script = app.test_client()
    client = app.test_client()
    login(client, "acc_a")
    response = client.post("/account/password", data={
        "current": world.password, "new": "a brand new passphrase", "confirm": "a brand new passphrase",
        "csrf_token": csrf(client, "/account/password")})
    assert response.status_code == 302
    assert script.get("/api/v1/me", headers=own).status_code == 401
    assert script.get("/api/v1/me", headers=second).status_code == 401
    assert script.get("/api/v1/me", headers=member).status_code == 200
    admin = app.test_client()
    login(admin, "admin")
    reset = admin.post(f"/users/{user_named(session, 'mem_a').id}/password", data={"csrf_token": csrf(admin, "/users")})
    assert reset.status_code == 200
    assert script.get("/api/v1/me", headers=member).status_code == 401
    session.expire_all()
    details = session.scalars(select(AuditLog.detail).where(AuditLog.action == "revoke-token")
                              .order_by(AuditLog.id)).all()
    assert details == ["all 2 token(s): password changed", "all 1 token(s): password reset"]


def test_token_commands_issue_list_and_revoke(app, world, session, cli, client):
    result = cli("token", "issue", "--user", "acc_a", "--name", "backup script", "--days", "10")
    assert result.exit_code == 0
    value = result.stdout.strip()
    assert value.startswith("cl_") and "\n" not in value
    assert client.get("/api/v1/me", headers=bearer(value)).get_json()["username"] == "acc_a"
    listing = cli("token", "list", "--user", "acc_a").stdout
    assert value not in listing
    line = next(ln for ln in listing.splitlines() if "backup script" in ln)
    token_id, username, _name, _created, expires, last_used, state = line.split("\t")
    assert username == "acc_a" and state == "active" and last_used != "-"
    assert expires.startswith((dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).strftime("%Y-%m-%d"))
    revoked = cli("token", "revoke", token_id)
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert client.get("/api/v1/me", headers=bearer(value)).status_code == 401
    assert "\trevoked " in cli("token", "list").stdout
    assert "already" in cli("token", "revoke", token_id).stdout
    assert cli("token", "issue", "--user", "acc_a", "--days", "366").exit_code != 0
    assert cli("token", "issue", "--user", "nobody").exit_code != 0
    assert cli("token", "revoke", "987654321").exit_code != 0
    session.expire_all()
    assert [r.actor_id for r in session.scalars(select(AuditLog).where(
        AuditLog.action.in_(("issue-token", "revoke-token"))))] == [None, None]     # the command line


# ---------------------------------------------------------------------------------------- idle timeout


@pytest.fixture
def clock(monkeypatch):
    """The idle timeout's clock, moved by hand: ``clock[0] += 31 * 60``."""
    now = [time.time()]
    monkeypatch.setattr("cooperatives.web.sessions.now_seconds", lambda: now[0])
    return now


def test_an_idle_session_is_signed_out(app, world, login, clock):
    client = app.test_client()
    client.set_cookie("lang", "en")
    login(client, "acc_a")
    page = f"/e/{A}/"
    clock[0] += 29 * 60
    assert client.get(page).status_code == 200
    stale = client.get_cookie("session").value
    clock[0] += 29 * 60
    assert client.get(page).status_code == 200              # each request refreshes: 58 minutes in, still here
    clock[0] += 31 * 60
    response = client.get(page)
    assert sent_to_sign_in(response)
    assert "signed out after 30 minutes without activity" in text(client.get(response.headers["Location"]))
    assert sent_to_sign_in(client.get(page))                 # signed out, not just redirected once
    replay = app.test_client()
    replay.set_cookie("session", stale)
    assert sent_to_sign_in(replay.get(page))
    assert login(client, "acc_a").status_code == 302 and client.get(page).status_code == 200


def test_members_and_pin_visits_idle_out_alike(app, world, session, login, post_form, clock):
    member = app.test_client()
    login(member, "mem_a")
    phone = pin_visit(app, post_form, give_pin(session, "A-H002"))
    clock[0] += 30 * 60
    assert member.get("/my").status_code == 200 and phone.get("/my").status_code == 200
    clock[0] += 30 * 60 + 1
    assert sent_to_sign_in(member.get("/my")) and sent_to_sign_in(phone.get("/my"))


def test_the_api_is_not_touched_by_the_idle_timeout(app, world, login, token, clock):
    browser = app.test_client()
    login(browser, "acc_a")
    headers = token("acc_a")
    clock[0] += 10 * 3600
    assert browser.get("/api/v1/me", headers=headers).status_code == 200       # bearer token: no session
    assert browser.get("/api/v1/me").status_code == 401                        # and the cookie never counts


def test_the_idle_limit_is_a_setting(world, session, monkeypatch, clock):
    from payouts.app import create_app
    from payouts.settings import Settings

    assert Settings.from_env({"COOP_SECRET_KEY": "k"}).idle_minutes == 30
    assert Settings.from_env({"COOP_SECRET_KEY": "k", "COOP_IDLE_MINUTES": "5"}).idle_minutes == 5
    for bad in ("0", "-3", "1441", "half an hour"):
        with pytest.raises(ValueError, match="COOP_IDLE_MINUTES"):
            Settings.from_env({"COOP_SECRET_KEY": "k", "COOP_IDLE_MINUTES": bad})
    app = create_app(Settings(database_url="sqlite://", secret_key="test", testing=True, cookie_secure=False,
                              idle_minutes=5))
    app.extensions["ledger.sessionmaker"] = {"read": lambda: session, "write": lambda: session,
                                             "engine": session.get_bind()}
    from web.conftest import _login

    client = app.test_client()
    _login(client, "acc_a")
    clock[0] += 4 * 60
    assert client.get(f"/e/{A}/").status_code == 200
    clock[0] += 5 * 60 + 1
    assert sent_to_sign_in(client.get(f"/e/{A}/"))


# ----------------------------------------------------------------------------------------- no-store


def test_every_private_response_is_no_store(app, objects, login, post_form, monkeypatch):
    """Every GET route (own objects) for the admin, an accountant, the member, a PIN visitor and an
    anonymous visitor: ``Cache-Control: no-store`` on every answer; static files stay cacheable."""
    monkeypatch.setattr("payouts.statements.web.household.html_to_pdf", lambda html: b"%PDF-1.4\n")
    clients = {}
    for name in ("admin", "acc_a", "mem_a"):
        clients[name] = app.test_client()
        assert login(clients[name], name).status_code == 302
    clients["pin"] = app.test_client()
    assert post_form(clients["pin"], "/s/pin", {"phone": objects.phone, "pin": objects.pin}).status_code == 302
    clients["anonymous"] = app.test_client()
    checked = 0
    for rule, method in routes(app):
        if method != "GET":
            continue
        _, _, values = next(iter(variants(rule, objects)))
        path = rule.build(values, append_unknown=False)[1]
        for name, client in clients.items():
            response = client.get(path)
            assert "no-store" in response.headers.get("Cache-Control", ""), (name, path, response.status_code)
            checked += 1
            response.close()
    refused = login(app.test_client(), "acc_a", "not the password")
    wrong_pin = post_form(app.test_client(), "/s/pin", {"phone": objects.phone, "pin": "999999x"})
    assert refused.headers["Cache-Control"] == "no-store" and wrong_pin.headers["Cache-Control"] == "no-store"
    static = app.test_client().get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    static.close()
    print(f"no-store: {checked} responses checked")   # pytest -s
    assert checked >= 5 * 50

"""Web hardening (reliability.md §2.7 S1–S6, §2.8 W1/W3): CSRF on 100 % of state-changing forms, cookie
flags on every cookie, session rotation and revocation (login, logout, password change, admin reset),
rate limits on sign-in and PIN entry (per address, per phone, behind a proxy, shared across app
instances through Redis), security headers on every page, Argon2id at the OWASP parameters, and error
pages that give nothing away.

Tests already in ``test_views.py`` are not repeated here (wrong password 401, login limit, logout of a
copied cookie, open redirects, no inline script in templates, undeclared routes refused).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
import uuid

import pytest
import test_authz_matrix
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import select
from test_authz_matrix import routes, variants
from test_views import count, text

from cooperatives.access import CONSOLE
from cooperatives.models import AuditLog, Household, User
from ledger.models import JournalEntry
from ledger.web.support import PUBLIC
from payouts.statements.operations import set_pin

A = "TA-COOP"
objects = test_authz_matrix.objects      # the matrix's fixture: published runs, statements, jobs, a PIN
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def user_id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


def who_may(declared) -> str:
    """A username (or ``anonymous``) that passes the route's declared rule, to reach its CSRF check."""
    if declared.roles == PUBLIC:
        return "anonymous"
    if declared.scope == "household" and declared.write:
        return "mem_a"
    for role, username in (("accountant", "acc_a"), ("auditor", "aud_a"), ("admin", "admin"), ("member", "mem_a")):
        if role in declared.roles and not (declared.write and role == "auditor"):
            return username
    raise AssertionError(f"nobody may call {declared}")


# ------------------------------------------------------------------------------------------------- CSRF


def test_every_state_changing_form_refuses_a_missing_forged_or_foreign_token(app, objects, login, csrf, session):
    """S6: every POST/PUT/PATCH/DELETE page route (enumerated from url_map, public ones included) answers
    400 to no token, a forged token and a valid token of another session — and changes nothing."""
    clients = {}

    def client_for(username: str):
        if username not in clients:
            client = app.test_client()
            if username != "anonymous":
                assert login(client, username).status_code == 302
            other = app.test_client()                 # another session of the same user: its token is foreign
            if username != "anonymous":
                login(other, username)
            page = "/s/pin" if username in ("anonymous",) else "/my" if username == "mem_a" else f"/e/{A}/"
            clients[username] = (client, csrf(other, page))
        return clients[username]

    for username in ("anonymous", "mem_a", "acc_a", "aud_a", "admin"):
        client_for(username)
    session.expire_all()
    before = (count(session, AuditLog), count(session, JournalEntry))
    checked = []
    for rule, method in routes(app):
        if method not in WRITE_METHODS or rule.rule.startswith("/api/"):
            continue
        declared = app.view_functions[rule.endpoint].access_rule
        client, foreign = client_for(who_may(declared))
        _, _, values = next(iter(variants(rule, objects)))
        path = rule.build(values, append_unknown=False)[1]
        for token in (None, "forged-" + uuid.uuid4().hex, foreign):
            data = {} if token is None else {"csrf_token": token}
            response = client.open(path, method=method, data=data)
            assert response.status_code == 400, (method, path, token and token[:10], response.status_code)
        checked.append(rule.endpoint)
    session.expire_all()
    assert (count(session, AuditLog), count(session, JournalEntry)) == before
    all_writes = {r.endpoint for r, m in routes(app) if m in WRITE_METHODS and not r.rule.startswith("/api/")}
    assert set(checked) == all_writes and len(all_writes) >= 20          # 100 % of the form routes
    print(f"csrf: {len(checked)} form routes x 3 bad tokens refused")   # pytest -s
    # still signed in: the refused /logout did not sign anyone out
    assert clients["acc_a"][0].get(f"/e/{A}/").status_code == 200


def test_csrf_exemptions_are_exactly_the_bearer_token_api(app, objects, login, csrf):
    """The only exempt views are the JSON API's blueprints, and those never accept the session cookie: a
    signed-in browser's POST to any API write route is 401, so a forged cross-site request gets nowhere."""
    protect = app.extensions["csrf"]
    assert protect._exempt_views == set()
    assert {getattr(bp, "name", bp) for bp in protect._exempt_blueprints} == {"api", "runs_api", "batches_api"}
    client = app.test_client()
    login(client, "acc_a")
    writes = [(r, m) for r, m in routes(app) if r.rule.startswith("/api/") and m in WRITE_METHODS]
    assert len(writes) >= 10
    for rule, method in writes:
        _, _, values = next(iter(variants(rule, objects)))
        response = client.open(rule.build(values, append_unknown=False)[1], method=method, json={})
        assert response.status_code == 401, (rule.rule, response.status_code)


# ----------------------------------------------------------------------------------------------- cookies


def _set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_every_cookie_is_secure_httponly_and_samesite(app, world, session):
    """S1: the session cookie (anonymous with a CSRF token, signed in, PIN visit, signed out) and the
    language cookie all carry Secure, HttpOnly and SameSite=Lax when served over HTTPS."""
    app.config.update(SESSION_COOKIE_SECURE=True)
    pin = set_pin(session, session.scalar(select(Household).where(Household.code == "A-H001")), actor=CONSOLE)
    session.commit()
    client = app.test_client()
    seen = []
    https = {"base_url": "https://localhost"}
    post = {**https, "headers": {"Referer": "https://localhost/"}}   # Flask-WTF's HTTPS referrer check
    seen += _set_cookies(client.get("/login", **https))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(client.get("/login", **https))).group(1)
    seen += _set_cookies(client.post("/login", data={"username": "acc_a", "password": world.password,
                                                     "csrf_token": token}, **post))
    seen += _set_cookies(client.get("/lang/en", **https))
    page = text(client.get(f"/e/{A}/", **https))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    seen += _set_cookies(client.post("/logout", data={"csrf_token": token}, **post))
    household = app.test_client()
    form = text(household.get("/s/pin", **https))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    seen += _set_cookies(household.post("/s/pin", data={"phone": "13800000001", "pin": pin, "csrf_token": token},
                                        **post))
    names = {c.split("=", 1)[0] for c in seen}
    assert {"session", "lang"} <= names and len(seen) >= 5
    print(f"cookies: {len(seen)} Set-Cookie headers checked")   # pytest -s
    for cookie in seen:
        assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


# ------------------------------------------------------------------------------------ sessions: rotation


def _session_data(app, client) -> dict:
    cookie = client.get_cookie("session")
    return app.session_interface.get_signing_serializer(app).loads(cookie.value) if cookie else {}


def test_sign_in_starts_a_new_session_and_a_planted_one_stays_anonymous(app, world, session, login, post_form):
    """S2 (fixation): a session made before sign-in — here a phone + PIN visit on a shared phone — is
    replaced at sign-in: the new cookie differs, holds the user and nothing from before; the old cookie,
    replayed, is signed in as nobody and no longer opens the household's pages."""
    pin = set_pin(session, session.scalar(select(Household).where(Household.code == "A-H001")), actor=CONSOLE)
    session.commit()
    client = app.test_client()
    assert post_form(client, "/s/pin", {"phone": "13800000001", "pin": pin}).status_code == 302
    planted = client.get_cookie("session").value
    assert "pin_household" in _session_data(app, client)
    assert login(client, "acc_a").status_code == 302
    after = _session_data(app, client)
    assert client.get_cookie("session").value != planted
    assert "pin_household" not in after and after.get("_user_id", "").startswith(f"{user_id(session, 'acc_a')}:")
    assert client.get("/my").status_code == 302 and client.get("/my").headers["Location"] == "/"   # staff
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get(f"/e/{A}/").status_code == 302                     # not signed in as acc_a
    attacker.set_cookie("session", client.get_cookie("session").value)     # the victim's new cookie would be…
    assert attacker.get(f"/e/{A}/").status_code == 200                     # …the only one that works


# ------------------------------------------------------------------------------- sessions: revocation


def _change(client, csrf, current, new, confirm=None):
    token = csrf(client, "/account/password")
    return client.post("/account/password", data={"current": current, "new": new, "confirm": confirm or new,
                                                  "csrf_token": token})


def test_changing_the_password_ends_every_other_session(app, world, session, login, csrf):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "acc_a")
    login(elsewhere, "acc_a")
    stolen = elsewhere.get_cookie("session").value
    assert elsewhere.get(f"/e/{A}/").status_code == 200
    response = _change(here, csrf, world.password, "a brand new passphrase")
    assert response.status_code == 302
    assert here.get(f"/e/{A}/").status_code == 200                         # this browser stays signed in
    assert elsewhere.get(f"/e/{A}/").status_code == 302                    # every other session ended
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get(f"/e/{A}/").status_code == 302
    assert login(app.test_client(), "acc_a").status_code == 401            # the old password is gone
    assert login(app.test_client(), "acc_a", "a brand new passphrase").status_code == 302
    session.expire_all()
    log = session.scalars(select(AuditLog).where(AuditLog.action == "password")).one()
    assert log.actor_id == user_id(session, "acc_a") and log.target == "user:acc_a" and log.at is not None
    assert "passphrase" not in (log.detail or "")


@pytest.mark.parametrize("current, new, confirm, status, field", [
    ("wrong password!", "a brand new passphrase", None, 401, "current"),
    (None, "short", None, 422, "new"),
    (None, "a brand new passphrase", "a different passphrase", 422, "confirm"),
    (None, None, None, 422, "new"),                    # the current password again
    (None, "acc_a", None, 422, "new"),
])
def test_a_refused_password_change_changes_nothing(app, world, session, login, csrf, current, new, confirm, status,
                                                   field):
    client = app.test_client()
    login(client, "acc_a")
    version = session.scalar(select(User.session_version).where(User.username == "acc_a"))
    response = _change(client, csrf, current or world.password, new or world.password, confirm)
    assert response.status_code == status
    marked = re.search(rf'<input[^>]*aria-invalid="true"[^>]*id="{field}"', text(response))
    assert marked, text(response)[-1500:]
    session.expire_all()
    assert session.scalar(select(User.session_version).where(User.username == "acc_a")) == version
    assert login(app.test_client(), "acc_a").status_code == 302


def test_guessing_the_current_password_is_rate_limited(app, world, login, csrf):
    client = app.test_client()
    login(client, "acc_a")
    statuses = [_change(client, csrf, f"guess number {n}", "a brand new passphrase").status_code for n in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert _change(client, csrf, world.password, "a brand new passphrase").status_code == 429


def test_the_admin_resets_a_password_shown_once_and_the_users_sessions_end(app, world, session, login, csrf):
    user_client, admin = app.test_client(), app.test_client()
    login(user_client, "acc_a")
    login(admin, "admin")
    page = text(admin.get("/users"))
    assert "acc_a" in page and "mem_a" in page
    token = csrf(admin, "/users")
    response = admin.post(f"/users/{user_id(session, 'acc_a')}/password", data={"csrf_token": token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="password">([^<]+)<', text(response)).group(1)
    assert len(password) >= 12
    assert user_client.get(f"/e/{A}/").status_code == 302
    assert login(app.test_client(), "acc_a").status_code == 401
    assert login(app.test_client(), "acc_a", password).status_code == 302
    session.expire_all()
    log = session.scalars(select(AuditLog).where(AuditLog.action == "reset-password")).one()
    assert log.actor_id == user_id(session, "admin") and log.target == "user:acc_a"
    assert password not in (log.detail or "")
    stored = session.scalar(select(User.password_hash).where(User.username == "acc_a"))
    assert password not in stored and stored.startswith("$argon2id$")


# ------------------------------------------------------------------------------------------ rate limits


def test_pin_guesses_are_limited_per_phone_whatever_the_address(app, world, session, post_form):
    """S4: the 6-digit PIN of one phone number cannot be guessed from many addresses (20 per day)."""
    pin = set_pin(session, session.scalar(select(Household).where(Household.code == "A-H001")), actor=CONSOLE)
    session.commit()
    wrong = "000000" if pin != "000000" else "111111"
    statuses = []
    for n in range(21):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.{n // 200}.{n % 200 + 1}"
        statuses.append(post_form(client, "/s/pin", {"phone": "138 0000 0001", "pin": wrong}).status_code)
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    assert post_form(client, "/s/pin", {"phone": "13800000001", "pin": pin}).status_code == 429


def _app(session, **settings):
    from payouts.app import create_app
    from payouts.settings import Settings

    app = create_app(Settings(database_url="sqlite://", secret_key="test", testing=True, cookie_secure=False,
                              **settings))
    app.extensions["ledger.sessionmaker"] = {"read": lambda: session, "write": lambda: session,
                                             "engine": session.get_bind()}
    return app


def test_a_spoofed_forwarded_for_header_does_not_reset_the_login_limit(world, session, login):
    """S4: without a proxy the header is ignored; behind one proxy (COOP_PROXY_HOPS=1) only the address
    the proxy appended counts, so a client writing its own X-Forwarded-For still hits the limit."""
    direct = _app(session).test_client()
    statuses = [_login_from(direct, login, {"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    proxied = _app(session, proxy_hops=1).test_client()
    statuses = [_login_from(proxied, login, {"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.7"}) for n in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    # another real client behind the same proxy is not limited by the first one's guesses
    assert _login_from(proxied, login, {"X-Forwarded-For": "198.51.100.8"}) == 401


def _login_from(client, login, headers: dict) -> int:
    client.environ_base.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return login(client, "acc_a", "not the password").status_code


def _redis_up(host="127.0.0.1", port=6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


SECOND_INSTANCE = textwrap.dedent("""
    import re, sys
    from payouts.app import create_app
    from payouts.settings import Settings
    url, storage, address = sys.argv[1:4]
    app = create_app(Settings(database_url=url, secret_key="t", testing=True, cookie_secure=False,
                              ratelimit_storage_uri=storage))
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    print(client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token}).status_code)
""")


@pytest.mark.parametrize("storage, second_status", [("redis://127.0.0.1:6379", 429), ("memory://", 401)])
def test_the_login_limit_holds_across_app_instances_with_redis(isolated_db, storage, second_status):
    """S4 with ≥ 2 workers: ten failed sign-ins in this process exhaust the limit for the address in a
    second process (another gunicorn worker) when the storage is Redis; with memory storage the second
    process knows nothing — which is why production sets COOP_RATELIMIT_STORAGE_URI=redis://…"""
    if storage.startswith("redis") and not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    from ledger.db import Base, make_engine
    from payouts.app import create_app
    from payouts.settings import Settings

    engine = make_engine(isolated_db)
    Base.metadata.create_all(engine)
    engine.dispose()
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"   # ours alone
    app = create_app(Settings(database_url=isolated_db, secret_key="t", testing=True, cookie_secure=False,
                              ratelimit_storage_uri=storage))
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    try:
        for _ in range(10):
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(client.get("/login"))).group(1)
            assert client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token}
                               ).status_code == 401
    finally:
        app.extensions["ledger.sessionmaker"]["engine"].dispose()    # no pooled connection left to the GC
    result = subprocess.run([sys.executable, "-c", SECOND_INSTANCE, isolated_db, storage, address],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(second_status)


# ------------------------------------------------------------------------------------------- headers


def test_security_headers_and_no_inline_script_on_every_page(app, objects, login, post_form, monkeypatch):
    """W1 over every GET route (own objects) for the admin, the member and a PIN visitor, served as over
    HTTPS: strict CSP without 'unsafe-inline', HSTS ≥ 1 year, nosniff, DENY framing, a referrer policy;
    and no rendered HTML page carries a <script> or an inline style or event handler."""
    monkeypatch.setattr("payouts.statements.web.household.html_to_pdf", lambda html: b"%PDF-1.4\n")
    app.config.update(SESSION_COOKIE_SECURE=True)
    https = {"base_url": "https://localhost"}
    post = {**https, "headers": {"Referer": "https://localhost/"}}
    clients = {}
    for name in ("admin", "mem_a"):
        client = app.test_client()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(client.get("/login", **https))).group(1)
        assert client.post("/login", data={"username": name, "password": "correct horse battery staple",
                                           "csrf_token": token}, **post).status_code == 302
        clients[name] = client
    pin = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(pin.get("/s/pin", **https))).group(1)
    assert pin.post("/s/pin", data={"phone": objects.phone, "pin": objects.pin, "csrf_token": token},
                    **post).status_code == 302
    clients["pin"] = pin
    clients["anonymous"] = app.test_client()
    checked = 0
    for rule, method in routes(app):
        if method != "GET":
            continue
        _, _, values = next(iter(variants(rule, objects)))
        path = rule.build(values, append_unknown=False)[1]
        for name, client in clients.items():
            response = client.get(path, **https)
            h = response.headers
            csp = h["Content-Security-Policy"]
            assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (path, csp)
            assert "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
            assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY", path
            assert h["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
            hsts = re.search(r"max-age=(\d+)", h.get("Strict-Transport-Security", ""))
            assert hsts and int(hsts.group(1)) >= 31_536_000, path
            if response.mimetype == "text/html":
                page = text(response)
                assert "<script" not in page.lower(), (name, path)
                assert not re.search(r"<[^>]+\sstyle=", page) and not re.search(r"<[^>]+\son[a-z]+=", page), path
            checked += 1
            response.close()
    print(f"headers: {checked} responses checked")   # pytest -s
    assert checked >= 4 * 50


def test_no_hsts_over_plain_http_in_development(client, world):
    assert "Strict-Transport-Security" not in client.get("/login").headers


# ---------------------------------------------------------------------------------------- passwords


def test_passwords_are_argon2id_at_the_owasp_parameters(world, session):
    """S5: every stored hash is Argon2id with m ≥ 19 MiB, t ≥ 2, p ≥ 1 (OWASP Password Storage Cheat
    Sheet), a 16-byte salt and a 32-byte tag."""
    hashes = session.scalars(select(User.password_hash)).all()
    assert len(hashes) >= 6
    for stored in hashes:
        p = extract_parameters(stored)
        assert p.type is Type.ID
        assert p.memory_cost >= 19 * 1024 and p.time_cost >= 2 and p.parallelism >= 1
        assert p.salt_len >= 16 and p.hash_len >= 32


def test_a_weaker_hash_is_upgraded_at_sign_in(client, world, session, login):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.I).hash(world.password)
    user = session.scalar(select(User).where(User.username == "aud_a"))
    user.password_hash = weak
    session.commit()
    assert login(client, "aud_a").status_code == 302
    session.expire_all()
    p = extract_parameters(session.scalar(select(User.password_hash).where(User.username == "aud_a")))
    assert p.type is Type.ID and p.memory_cost >= 19 * 1024 and p.time_cost >= 2


# ------------------------------------------------------------------------------------------- errors


def test_an_unexpected_error_shows_no_traceback_sql_or_secret(app, world, login):
    """W3: in production mode (exceptions not propagated) a failing view answers 500 with a plain page."""
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False, DEBUG=False)
    view = app.view_functions["entities.show"]

    def failing(*args, **kwargs):
        raise RuntimeError("SELECT id_number_enc FROM coop_households -- key=" + app.config["SECRET_KEY"])

    failing.access_rule = view.access_rule
    app.view_functions["entities.show"] = failing
    client = app.test_client()
    login(client, "acc_a")
    response = client.get(f"/e/{A}/")
    assert response.status_code == 500
    page = text(response)
    for leak in ("Traceback", "RuntimeError", "SELECT", "coop_households", "key=", 'File "'):
        assert leak not in page, leak

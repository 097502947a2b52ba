"""Sign-in and PIN limits hold against simultaneous requests (reliability.md §2.7 S4; docs/SECURITY.md §3).

Each attempt is counted *before* the secret is checked, as one atomic increment-and-compare in the
limiter's storage (memory for one process, Redis for several), so a burst fired at once checks no more
secrets than the limit allows — and the right secret sent after the burst is refused too. "Checked"
is counted twice: the answers (401: the secret was checked and wrong; 429: refused before checking) and
the Argon2 verifications themselves (the verifier patched in this process; a counter file written by each
server process). Counts only, never times.

* one process: the real app on a real database (``isolated_db``), served from a thread
  (``tests/browser/live.py``), 40 threads firing at once;
* two processes: two ``coopledger serve`` on free ports sharing the database, the secret key and a Redis
  database of their own (``redis://127.0.0.1:6379/13``, flushed first); skipped if no Redis listens.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from argon2 import PasswordHasher
from browser.live import live_app, served
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.models import Household, Township, User, Village
from cooperatives.users import HASHER
from cooperatives.web.auth import LOGIN_LIMIT
from cooperatives.web.ratelimit import AtomicMemoryStorage
from ledger.db import Base, make_engine
from payouts.statements.web.support import PIN_LIMIT, PIN_PHONE_LIMIT

ROOT = Path(__file__).resolve().parents[2]
PHONE, PIN, WRONG_PIN = "13900000009", "135790", "000000"
USERNAME, PASSWORD = "chief", "the right passphrase"
BURST = 40
#: the documented limits these tests hold the app to
PER_ADDRESS = 10            # LOGIN_LIMIT and PIN_LIMIT: 10 per minute per address
PER_PHONE = 20              # PIN_PHONE_LIMIT: 20 per day per phone number
REDIS_URL = "redis://127.0.0.1:6379/13"        # a database of these tests' own: flushed, nobody else's
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def test_the_limits_are_the_documented_ones():
    assert LOGIN_LIMIT == PIN_LIMIT == "10 per minute;50 per hour"
    assert PIN_PHONE_LIMIT == "20 per day"


# ------------------------------------------------------------------------------------------------ helpers


def seed(url: str) -> None:
    """A household with a phone number and PIN, and a user with a password, committed."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        township = Township(name="限速乡")
        session.add(township)
        session.flush()
        village = Village(township_id=township.id, name="一村")
        session.add(village)
        session.flush()
        session.add(Household(code="L-H001", head_name="王限速", village_id=village.id, phone=PHONE,
                              pin_hash=HASHER.hash(PIN)))
        session.add(User(username=USERNAME, display_name="主任", password_hash=HASHER.hash(PASSWORD), role="admin"))
        session.commit()
    engine.dispose()


@pytest.fixture
def verifications(monkeypatch) -> list:
    """Every Argon2 verification in this process (the live server's threads included) appends to this."""
    seen, lock, original = [], threading.Lock(), PasswordHasher.verify

    def counting(self, hash, password):
        with lock:
            seen.append(1)
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return seen


PIN_FORM = ("/s/pin", "/s/pin", {"phone": PHONE, "pin": WRONG_PIN})
LOGIN_FORM = ("/login", "/login", {"username": USERNAME, "password": "not the password"})


def prepared(base: str, form: tuple, headers: dict | None = None):
    """A browser session of its own at ``base`` holding the form's CSRF token: (session, url, data, headers)."""
    page, action, data = form
    browser = requests.Session()
    token = CSRF_RE.search(browser.get(base + page, headers=headers, timeout=60).text).group(1)
    return browser, base + action, {**data, "csrf_token": token}, headers or {}


def burst(senders: list) -> Counter:
    """Fire every prepared request at once (one thread each, released together); the statuses."""
    statuses: list = [None] * len(senders)
    barrier = threading.Barrier(len(senders))

    def fire(i, browser, url, data, headers):
        barrier.wait()
        statuses[i] = browser.post(url, data=data, headers=headers, allow_redirects=False, timeout=120).status_code

    threads = [threading.Thread(target=fire, args=(i, *sender)) for i, sender in enumerate(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for browser, *_ in senders:
        browser.close()
    return Counter(statuses)


def once(base: str, form: tuple, data: dict, headers: dict | None = None) -> int:
    browser, url, prepared_data, headers = prepared(base, form, headers)
    with browser:
        return browser.post(url, data={**prepared_data, **data}, headers=headers, allow_redirects=False,
                            timeout=120).status_code


# ------------------------------------------------------------------------------------- the storages


def test_memory_storage_counts_atomically_under_threads():
    """limits' own memory storage loses increments when a burst hits a new key (it let 11-15 of 40
    through a limit of 10 in 8 of 300 bursts, and raised from its expiry timer); ``memory://`` is now
    :class:`AtomicMemoryStorage`. 100 bursts of 40 threads, the interpreter switching threads as often
    as it can: never more than 10 allowed."""
    item = parse("10/minute")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        allowed = []
        for trial in range(100):
            strategy = FixedWindowRateLimiter(storage_from_string("memory://"))
            assert type(strategy.storage) is AtomicMemoryStorage
            results, barrier = [], threading.Barrier(BURST)

            def hit(strategy=strategy, results=results, barrier=barrier, trial=trial):
                barrier.wait()
                results.append(strategy.hit(item, "burst", str(trial)))

            threads = [threading.Thread(target=hit) for _ in range(BURST)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            allowed.append(sum(results))
    finally:
        sys.setswitchinterval(interval)
    assert set(allowed) == {10}, Counter(allowed)


def _redis_up(host="127.0.0.1", port=6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_up(), reason="Redis is not running on 127.0.0.1:6379")


@pytest.fixture
def redis_db():
    """Our own Redis database, empty."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@needs_redis
def test_redis_storage_counts_atomically(redis_db):
    """The fixed window's hit on Redis is one Lua script (INCRBY, then EXPIRE on the first): 40 threads
    at once, exactly 10 allowed."""
    strategy = FixedWindowRateLimiter(storage_from_string(redis_db))
    results, barrier = [], threading.Barrier(BURST)

    def hit():
        barrier.wait()
        results.append(strategy.hit(parse("10/minute"), "burst"))

    threads = [threading.Thread(target=hit) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 10


# ---------------------------------------------------------------------------------- one process, live


def test_a_burst_of_wrong_pins_checks_at_most_the_limit(isolated_db, verifications):
    app = live_app(isolated_db)
    seed(isolated_db)
    with served(app) as url:
        senders = [prepared(url, PIN_FORM) for _ in range(BURST)]
        statuses = burst(senders)
        checked = len(verifications)
        right = once(url, PIN_FORM, {"pin": PIN})
    print(f"one process, {BURST} parallel wrong PINs for one phone: {statuses[401]} checked (401), "
          f"{statuses[429]} refused (429), {checked} Argon2 verifications; the right PIN then {right}")
    assert statuses == Counter({401: PER_ADDRESS, 429: BURST - PER_ADDRESS})
    assert checked == PER_ADDRESS
    assert right == 429 and len(verifications) == checked        # refused before its PIN was checked


def test_a_burst_of_wrong_passwords_checks_at_most_the_limit(isolated_db, verifications):
    app = live_app(isolated_db)
    seed(isolated_db)
    with served(app) as url:
        senders = [prepared(url, LOGIN_FORM) for _ in range(BURST)]
        statuses = burst(senders)
        checked = len(verifications)
        right = once(url, LOGIN_FORM, {"password": PASSWORD})
    print(f"one process, {BURST} parallel wrong passwords for one user: {statuses[401]} checked (401), "
          f"{statuses[429]} refused (429), {checked} Argon2 verifications; the right password then {right}")
    assert statuses == Counter({401: PER_ADDRESS, 429: BURST - PER_ADDRESS})
    assert checked == PER_ADDRESS
    assert right == 429 and len(verifications) == checked


def test_a_burst_from_many_addresses_checks_at_most_the_phone_limit(isolated_db, verifications):
    """Behind one proxy (``COOP_PROXY_HOPS=1``), 40 addresses at once, one guess each: the per-address
    limit never bites, the per-phone limit (20 a day) does."""
    app = live_app(isolated_db, proxy_hops=1)
    seed(isolated_db)
    with served(app) as url:
        senders = [prepared(url, PIN_FORM, {"X-Forwarded-For": f"10.7.{n // 250}.{n % 250 + 1}"})
                   for n in range(BURST)]
        statuses = burst(senders)
        checked = len(verifications)
        right = once(url, PIN_FORM, {"pin": PIN}, {"X-Forwarded-For": "10.8.0.1"})
    print(f"one process, {BURST} parallel wrong PINs for one phone from {BURST} addresses: {statuses[401]} checked, "
          f"{statuses[429]} refused, {checked} Argon2 verifications; the right PIN from a new address then {right}")
    assert statuses == Counter({401: PER_PHONE, 429: BURST - PER_PHONE})
    assert checked == PER_PHONE
    assert right == 429 and len(verifications) == checked


# ------------------------------------------------------------------------------- two processes, Redis


LAUNCHER = textwrap.dedent("""
    # `coopledger serve`, with every Argon2 verification of this process counted in a file
    import os, sys
    import argon2
    count_file, original = os.environ["COOP_TEST_ARGON2_COUNT"], argon2.PasswordHasher.verify
    def counting(self, hash, password):
        with open(count_file, "a") as fh:
            fh.write("verify\\n")
        return original(self, hash, password)
    argon2.PasswordHasher.verify = counting
    from payouts.cli import main
    sys.argv = ["coopledger", "serve", "--host", "127.0.0.1", "--port", sys.argv[1]]
    main()
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _counted(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def two_servers(isolated_db, redis_db, tmp_path):
    """Two server processes on one database, one secret key and one Redis: [(url, count file)]."""
    seed(isolated_db)
    servers, procs = [], []
    try:
        for n in (1, 2):
            port, counter = _free_port(), tmp_path / f"argon2-{n}.count"
            env = {**os.environ, "DATABASE_URL": isolated_db, "COOP_SECRET_KEY": "two-processes",
                   "COOP_RATELIMIT_STORAGE_URI": redis_db, "COOP_COOKIE_SECURE": "0",
                   "COOP_TEST_ARGON2_COUNT": str(counter), "PYTHONPATH": str(ROOT)}
            log = open(tmp_path / f"server-{n}.log", "w")     # noqa: SIM115 (closed below)
            procs.append((subprocess.Popen([sys.executable, "-c", LAUNCHER, str(port)], cwd=ROOT, env=env,
                                           stdout=log, stderr=subprocess.STDOUT), log))
            servers.append((f"http://127.0.0.1:{port}", counter))
        for (url, _), (proc, _log) in zip(servers, procs, strict=True):
            _wait_until_serving(url, proc, tmp_path)
        yield servers
    finally:
        for proc, log in procs:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _wait_until_serving(url: str, proc, tmp_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            logs = "\n".join(p.read_text()[-2000:] for p in tmp_path.glob("server-*.log"))
            pytest.fail(f"a server process ended: {proc.returncode}\n{logs}")
        try:
            if requests.get(url + "/login", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not start serving")


@needs_redis
def test_bursts_across_two_processes_sharing_redis_check_at_most_the_limit(two_servers):
    """40 wrong PINs for one phone, then 40 wrong passwords for one user, each burst split over two server
    processes (two gunicorn workers, in effect): 10 checked in all, the rest 429; the right secret then
    429 on both servers."""
    figures = {}
    for what, form, right in (("PINs", PIN_FORM, {"pin": PIN}), ("passwords", LOGIN_FORM, {"password": PASSWORD})):
        before = [_counted(counter) for _, counter in two_servers]
        senders = [prepared(two_servers[n % 2][0], form) for n in range(BURST)]
        statuses = burst(senders)
        checked = [_counted(counter) - b for (_, counter), b in zip(two_servers, before, strict=True)]
        rights = [once(url, form, right) for url, _ in two_servers]
        after = [_counted(counter) - b for (_, counter), b in zip(two_servers, before, strict=True)]
        figures[what] = (statuses, checked, rights)
        print(f"two processes + Redis, {BURST} parallel wrong {what}: {statuses[401]} checked (401), "
              f"{statuses[429]} refused (429), Argon2 verifications per process {checked}; "
              f"the right secret then {rights}")
        assert statuses == Counter({401: PER_ADDRESS, 429: BURST - PER_ADDRESS}), what
        assert sum(checked) == PER_ADDRESS, (what, checked)
        assert rights == [429, 429] and after == checked, (what, rights, after)


# ---------------------------------------------------------------------------- right secrets cost nothing


def test_right_secrets_do_not_use_up_the_limit(app, world, session, login, post_form):
    """Every attempt is counted before the check, and a right secret gives its attempt back: twelve
    sign-ins in a row all succeed, and the limit still stops the eleventh wrong password (then even the
    right one); the same for a household's PIN."""
    client = app.test_client()
    assert [login(client, "acc_a").status_code for _ in range(12)] == [302] * 12
    statuses = [login(client, "acc_a", "not the password").status_code for _ in range(PER_ADDRESS + 1)]
    assert statuses == [401] * PER_ADDRESS + [429]
    assert login(client, "acc_a").status_code == 429

    household = session.scalar(select(Household).where(Household.code == "A-H001"))
    household.pin_hash = HASHER.hash(PIN)
    session.commit()
    phone = app.test_client()
    phone.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    assert [post_form(phone, "/s/pin", {"phone": household.phone, "pin": PIN}).status_code
            for _ in range(12)] == [302] * 12
    statuses = [post_form(phone, "/s/pin", {"phone": household.phone, "pin": WRONG_PIN}).status_code
                for _ in range(PER_ADDRESS + 1)]
    assert statuses == [401] * PER_ADDRESS + [429]


# ----------------------------------------------------------------------------------- no PIN oracle


def test_pin_entry_costs_one_verification_whatever_the_phone(app, world, session, post_form, verifications):
    """The time of a PIN entry does not tell which phone numbers have a PIN: a number with a PIN, one
    without, and one nobody has each cost exactly one Argon2 verification (counted, not timed)."""
    from payouts.statements.operations import household_by_phone_and_pin

    household = session.scalar(select(Household).where(Household.code == "A-H001"))
    household.pin_hash = HASHER.hash(PIN)
    session.commit()
    without = session.scalar(select(Household).where(Household.code == "A-H002"))
    assert without.pin_hash is None and without.phone
    cases = {"a PIN, wrong": (household.phone, WRONG_PIN, 401), "a PIN, right": (household.phone, PIN, 302),
             "no PIN": (without.phone, WRONG_PIN, 401), "unknown": ("13999999999", WRONG_PIN, 401)}
    through_page, direct = {}, {}
    for n, (case, (phone, pin, status)) in enumerate(cases.items()):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.30.0.{n + 1}"
        before = len(verifications)
        assert post_form(client, "/s/pin", {"phone": phone, "pin": pin}).status_code == status, case
        through_page[case] = len(verifications) - before
        before = len(verifications)
        found = household_by_phone_and_pin(session, phone, pin)
        assert (found is not None) == (status == 302), case
        direct[case] = len(verifications) - before
    print(f"Argon2 verifications per PIN entry: {through_page}")
    assert through_page == direct == {case: 1 for case in cases}

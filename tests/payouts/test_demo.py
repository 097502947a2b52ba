"""The demo world: loads once through the real import and run paths, and every journey's figures hold."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cooperatives.models import Entity, InvestmentIncome, LandAccrual, LandContract, Sale, User
from cooperatives.users import authenticate
from ledger.db import money_sum
from ledger.models import JournalEntry
from ledger.operations import draft_of
from ledger.queries import account_balance, party_balances
from ledger.verify import verify_books
from payouts.admin.demo import ANOMALIES, CLUSTER, LAND, VILLAGES, WORLD_LOGINS, load_demo_world
from payouts.models import IN_FORCE, PayoutRun

D = Decimal


@pytest.fixture
def world(app, session):
    """(``app`` configures the keys that encrypt ID numbers.)"""
    assert load_demo_world(session)
    session.commit()
    return session


def runs(session) -> dict[str, PayoutRun]:
    """Each entity's 2025 run in force (the anomaly cooperative also has 2024 and a reversed 2025 run)."""
    return {run.entity.code: run for run in session.scalars(
        select(PayoutRun).where(PayoutRun.status.in_(IN_FORCE), PayoutRun.year == 2025))}


def test_the_demo_command_loads_the_world_once_and_prints_every_login(session, cli):
    first = cli("demo")
    assert first.exit_code == 0 and "Demo world loaded." in first.stdout
    counts = [session.scalar(select(func.count()).select_from(model)) for model in (Entity, PayoutRun, User, JournalEntry)]
    again = cli("demo")
    assert again.exit_code == 0 and "Demo world was already loaded." in again.stdout
    assert load_demo_world(session) is False
    assert [session.scalar(select(func.count()).select_from(model))
            for model in (Entity, PayoutRun, User, JournalEntry)] == counts == [13, 16, 9, counts[3]]
    # 13 entities: 12 + the anomaly cooperative, whose 4 runs are 2024, 2025 (reversed), its reversal, 2025
    for role, username, password, _ in WORLD_LOGINS:
        assert f"{username} " in again.stdout and password in again.stdout
        user = authenticate(session, username, password)
        assert user is not None and user.role == role, username
    scopes = {u.username: u for u in session.scalars(select(User))}
    assert scopes["tl-kuaiji"].entity.code == CLUSTER and scopes["bl-kuaiji"].entity.code == "TL-V01"
    assert scopes["wx-kuaiji"].entity.code == LAND and scopes["bl-nongjing"].township.name == "田林县百乐乡"
    assert scopes["TL-V01-H001"].household.code == "TL-V01-H001"


def test_every_book_verifies_and_every_run_is_published_with_its_checks_ok(world):
    assert verify_books(world) == []
    found = runs(world)
    assert sorted(found) == sorted(["JGP-TEA", CLUSTER, LAND, ANOMALIES, *(code for code, *_ in VILLAGES)])
    for code, run in found.items():
        assert run.status == "published" and run.notice_until is not None, code
        assert run.result["checks"] and all(c["ok"] for c in run.result["checks"]), code
        assert sum(D(m["total"]) for m in run.result["members"]) == run.distributable > 0, code
        assert run.attended * 3 >= run.members_count * 2 and run.votes_for * 3 >= run.members_count * 2, code
    tea = found["JGP-TEA"]
    assert str(tea.meeting_date) == "2026-03-15" and tea.members_count == 80
    assert [(p["name"], p["basis"]) for p in tea.result["pools"]] == [("patronage", "transactions"),
                                                                      ("residual", "capital")]
    assert abs(D(tea.result["pools"][0]["amount"]) - D(tea.result["distributable"]) * D("0.6")) < D("0.01")
    assert sum(D(m["deductions"]) for m in tea.result["members"]) > 0       # input credit and advances netted


def test_the_cluster_cascades_through_each_village_to_its_households(world):
    found = runs(world)
    project = found[CLUSTER]
    result = project.result
    assert world.scalar(select(money_sum(Sale.amount)).where(Sale.entity_id == project.entity_id)) == D("3500000.00")
    assert len(result["members"]) == 9
    assert sum(D(m["net"]) for m in result["members"]) == D(result["distributable"])
    shares = {m["member"]: D(m["net"]) for m in result["members"]}
    assert len(set(shares.values())) == 9                                  # unequal investment shares
    label = f"{project.entity.name} 2025年收益分配 (run:{project.id})"
    for code, *_ in VILLAGES:
        village = found[code]
        income = world.scalar(select(InvestmentIncome).where(InvestmentIncome.entity_id == village.entity_id))
        assert (income.amount, income.source_ref) == (shares[code], f"run:{project.id}")        # 投资收益
        assert account_balance(world, village.entity.book, "112") == shares[code]      # owed by the project
        assert village.input["sources"] == [[label, f"{shares[code]:.2f}"]]
        assert 15 <= len(village.result["members"]) <= 30
        for household in village.result["members"]:
            traced = {s["from"]: D(s["amount"]) for s in household["sources"]}
            assert traced[label] > 0 and sum(traced.values()) == D(household["total"]), household["member"]
        owed = party_balances(world, village.entity.book, "113")
        assert -sum(owed.values()) == village.distributable                 # 内部往来: owed to households


def test_the_land_coop_books_its_base_rent_as_a_cost_and_shares_the_rest_by_land(world):
    land = runs(world)[LAND]
    entity = land.entity
    area = world.scalar(select(func.sum(LandContract.area_mu)).where(LandContract.entity_id == entity.id))
    assert len(land.result["members"]) == 40 and D(area) == D("300")
    entries = world.scalars(select(JournalEntry).where(
        JournalEntry.book_id == entity.book_id, JournalEntry.source.like("land-rent:2025:%"))).all()
    rent = [leg.amount for entry in entries for leg in draft_of(entry).postings if leg.account == "521"]
    accrued = world.scalar(select(func.sum(LandAccrual.amount)).join(LandContract).where(
        LandContract.entity_id == entity.id, LandAccrual.year == 2025))
    assert sum(rent) == D(accrued) == D("800") * D(area) == D("240000.00")
    assert [(p["basis"], p["basis_total"]) for p in land.result["pools"]] == [("land", "300.00")]
    assert D(land.result["reserves"][0]["amount"]) == (D(land.result["surplus"]) * D("0.1")).quantize(D("0.01"))


def test_serve_command_really_serves(isolated_db, tmp_path):
    """`make demo` ends in `coopledger serve`: it must answer HTTP (Flask's app.run would silently not)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": isolated_db, "COOP_SECRET_KEY": "serve-test", "COOP_COOKIE_SECURE": "0"}
    coopledger = str(Path(sys.executable).parent / "coopledger")
    subprocess.run([coopledger, "init"], env=env, check=True, capture_output=True, cwd=tmp_path)
    server = subprocess.Popen([coopledger, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    assert response.status == 200 and "登录" in response.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("coopledger serve never answered")
    finally:
        server.terminate()
        server.wait(timeout=10)

"""The demo world: loads once through the real import and run paths, and every journey's figures hold."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cooperatives.kinds import unspent_projects
from cooperatives.models import (
    Entity,
    InvestmentIncome,
    LaborRecord,
    LandAccrual,
    LandContract,
    Member,
    Payment,
    Sale,
    ShareHolding,
    User,
)
from cooperatives.queries import funds_formed
from cooperatives.users import authenticate
from ledger.books import account_ledger, balance_table, money_journal, period
from ledger.chart import account_for_role
from ledger.db import money_sum
from ledger.forms import FORMS
from ledger.models import Account, JournalEntry, Posting
from ledger.operations import draft_of, period_status
from ledger.queries import account_balance, account_balances, party_balances, trial_balance, year_profit
from ledger.verify import verify_books
from payouts.admin.demo import ANOMALIES, CLUSTER, LAND, VILLAGES, WORLD_LOGINS, load_demo_world
from payouts.models import IN_FORCE, PayoutRun
from payouts.reports.statutory import balance_sheet, equity_changes, member_accounts, surplus_statement
from payouts.runs.snapshot import patronage_pools

D = Decimal


@pytest.fixture
def world(demo_world):
    return demo_world


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
    for code, run in found.items():      # the project has paid every village; the rest still owe (JGP-TEA one household)
        # the project and the villages are paid (by hand to the villages; the villages through the bank)
        paid = code == CLUSTER or code.startswith("TL-V")
        assert run.status == ("paid" if paid else "published") and run.notice_until is not None, code
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
    stakes = party_balances(world, project.entity.book, "301")          # the project's 股金, by village
    for code, _village, amount, *_ in VILLAGES:
        village = found[code]
        book = village.entity.book
        assert book.chart == "collective2023", code                      # books from 2025: the 2023 system
        # its stake in its own books (长期投资) is the project's 股金 from it (INTERFACES §3.2)
        assert account_balance(world, book, "141") == -stakes[code] == D(amount), code
        income = world.scalar(select(InvestmentIncome).where(InvestmentIncome.entity_id == village.entity_id))
        assert (income.amount, income.source_ref) == (shares[code], f"run:{project.id}")        # 投资收益
        assert year_profit(world, book, 2025)["502"] == -shares[code]          # 2023 chart's 投资收益
        # the project paid it: the receivable is cleared and the bank is up by what was received
        assert account_balance(world, book, "112") == D("0.00")
        received = world.scalar(select(money_sum(Posting.amount)).join(Account, Account.id == Posting.account_id)
                                .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                                .where(Posting.book_id == book.id, Account.code == "102",
                                       JournalEntry.source.like("receipts:%")))
        assert received == shares[code], code
        # its households' shares are a register: no 资本, and the run's basis is the register's total
        assert account_balance(world, book, "301") == D("0.00")
        register = world.scalar(select(func.sum(ShareHolding.shares)).where(ShareHolding.entity_id == village.entity_id))
        assert [(p["basis"], D(p["basis_total"])) for p in village.result["pools"]] == [("shares", D(register))]
        assert village.input["sources"] == [[label, f"{shares[code]:.2f}"]]
        assert 15 <= len(village.result["members"]) <= 30
        for household in village.result["members"]:
            traced = {s["from"]: D(s["amount"]) for s in household["sources"]}
            assert traced[label] > 0 and sum(traced.values()) == D(household["total"]), household["member"]
        # 内部往来: what was owed to the households, credited by the run and paid out of the bank in one batch
        owed = party_balances(world, village.entity.book, "113")
        assert sum(owed.values()) == 0
        credited = world.scalar(select(func.sum(Posting.amount)).join(JournalEntry).where(
            JournalEntry.book_id == village.entity.book_id, JournalEntry.source.like("run:%"),
            Posting.account_id == select(Account.id).where(Account.book_id == village.entity.book_id,
                                                           Account.code == "113").scalar_subquery()))
        assert -credited == village.distributable


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


MONEY_ROLES = ("cash", "bank", "mobile")


def _daily_balances(session, entity, code: str) -> list[tuple]:
    """(day, balance at the day's end) of account ``code`` in ``entity``'s books, on every day it moved."""
    rows = session.execute(
        select(JournalEntry.date, money_sum(Posting.__table__.c.amount))
        .join(Posting, Posting.entry_id == JournalEntry.id).join(Account, Account.id == Posting.account_id)
        .where(JournalEntry.book_id == entity.book_id, Account.code == code)
        .group_by(JournalEntry.date).order_by(JournalEntry.date)).all()
    balance, out = D("0.00"), []
    for day, amount in rows:
        balance += amount
        out.append((day, balance))
    return out


def test_every_book_of_the_demo_ties_out_in_every_year(world):
    """Issue 13's acceptance, on the whole rebuilt demo — every entity (JGP-TEA and the villages start from opening
    balances; the project and the land cooperative were founded in their first year), every year it has entries: 01表 assets =
    liabilities + equity in both columns with no balance left off a line; 02表's 年末未分配盈余 is 01表's 未分配盈余
    once the year is closed, and its returns are what the 成员账户 show; 03表 reconciles to 01表; the 成员账户
    columns sum to 股金, to the members' 盈余公积 and to the 专项基金 formed and quantified; no money account below
    zero at the end of any day; 213 owes exactly the wages not yet paid and 235 holds exactly the subsidy money not
    yet used; ``verify`` clean."""
    assert verify_books(world) == []
    checked = 0
    for entity in world.scalars(select(Entity).order_by(Entity.code)):
        book, fpc = entity.book, entity.chart == "fpc2021"
        years = sorted(set(world.scalars(select(JournalEntry.year).where(JournalEntry.book_id == entity.book_id))))
        assert years, entity.code
        for code in sorted({account_for_role(entity.chart, r) for r in MONEY_ROLES}):
            short = [(day, bal) for day, bal in _daily_balances(world, entity, code) if bal < 0]
            assert short == [], (entity.code, code, short[:3])
        owed = party_balances(world, book, account_for_role(entity.chart, "labor_payable"))
        labor = dict(world.execute(select(Member.code, money_sum(LaborRecord.amount)).join(
            Member, Member.id == LaborRecord.member_id).where(LaborRecord.entity_id == entity.id, LaborRecord.live())
            .group_by(Member.code)).all())
        paid = dict(world.execute(select(Member.code, money_sum(Payment.amount)).join(
            Member, Member.id == Payment.member_id).where(Payment.entity_id == entity.id, Payment.live(),
                                                          Payment.paid_for == "labor").group_by(Member.code)).all())
        assert {m: -a for m, a in owed.items() if a} == {
            m: labor[m] - paid.get(m, 0) for m in labor if labor[m] != paid.get(m, 0)}, entity.code
        if fpc:
            unspent = sum(unspent_projects(world, entity).values(), D("0.00"))
            assert -account_balance(world, book, "235") == unspent, entity.code
        for year in years:
            sheet = balance_sheet(world, entity, year)
            assets, liabilities, equity, total = {"fpc2021": (22, 35, 41, 42), "collective2004": (32, 49, 53, 56),
                                                  "collective2023": ("A24", "L12", "E4", "E5")}[entity.chart]
            for column in (0, 1):
                assert sheet.line(assets).values[column] == sheet.line(total).values[column] == (
                    sheet.line(liabilities).values[column] + sheet.line(equity).values[column]), (entity.code, year)
            form_note = FORMS[entity.chart]["balance-sheet"].note        # a 2023 form says it is our reading
            assert sheet.notes == ((form_note,) if form_note else ()), (entity.code, year)   # nothing left off
            checked += 1
            if not fpc:
                continue
            surplus = surplus_statement(world, entity, year)
            if period_status(world, book, year) != "open":
                assert surplus.line(20).values[0] == sheet.line(40).values[0], (entity.code, year)
            changes = equity_changes(world, entity, year)
            opening, inc, dec, closing = (changes.row(label).values for label in
                                          ("一、年初余额", "二、本年增加数", "三、本年减少数", "四、年末余额"))
            for column in range(6):
                assert opening[column] + inc[column] - dec[column] == closing[column], (entity.code, year, column)
            assert list(closing[:5]) == [sheet.line(n).values[0] for n in range(36, 41)], (entity.code, year)
            assert list(opening[:5]) == [sheet.line(n).values[1] for n in range(36, 41)], (entity.code, year)
            members = [m.closing for m in member_accounts(world, entity, year).members]
            assert sum(m.capital_poverty + m.capital_other for m in members) == sheet.line(36).values[0]
            reserve_held = party_balances(world, book, "322", up_to_year=year)
            assert sum(m.reserve_share for m in members) == -sum(reserve_held.values(), D("0.00"))
            formed = funds_formed(world, entity, until=dt.date(year, 12, 31), quantified=False)
            assert sum(formed.values(), D("0.00")) == sheet.line(37).values[0], (entity.code, year)   # 专项基金
            quantified = funds_formed(world, entity, until=dt.date(year, 12, 31))
            assert sum(m.fiscal_share + m.donation_share for m in members) == sum(quantified.values(), D("0.00"))
            assert sum(m.patronage for m in members) == surplus.line(17).values[0], (entity.code, year)
            assert sum(m.residual for m in members) == surplus.line(18).values[0], (entity.code, year)
    assert checked >= 14                     # 13 entities, two of them with two years
    tea, grape = (world.scalar(select(Entity).where(Entity.code == c)) for c in ("JGP-TEA", CLUSTER))
    # JGP-TEA's subsidy formed its processing line, quantified to its 80 members: 2,500.00 each; in use from
    # August, depreciated from September: 190,000.00 × 4 / 120 = 6,333.33
    assert account_balance(world, tea.book, "151") == D("200000.00") and account_balance(world, tea.book, "235") == 0
    assert account_balance(world, tea.book, "152") == D("-6333.33")
    # TL-GRAPE's greenhouses: 4,560,000.00 over 180 months from September 2024 — 101,333.33 in 2024, 304,000.00
    # in 2025; its 2024 is closed for good
    assert account_balance(world, grape.book, "152") == D("-405333.33")
    assert period_status(world, grape.book, 2024) == "closed"
    # each village's 长期投资 (carried into its books by their opening balances) is its 股金 in the project
    stakes = party_balances(world, grape.book, "301")
    for code, _village, amount, *_rest in VILLAGES:
        village = world.scalar(select(Entity).where(Entity.code == code))
        assert account_balance(world, village.book, "141") == -stakes[code] == D(amount), code


def test_every_printed_figure_ties_for_every_entity_and_year(world):
    """Issue 15's acceptance on the demo, every entity and every year with an entry: the 科目余额表 balances and is
    the trial balance; each 日记账 ends at its account's closing balance; each 总账 is the sum of its 明细账; each
    成员账户's lines add up to its totals, which are the member's figures in the run in force. The printed books are
    these same objects laid out (tests/payouts/test_printing.py reads the figures back from the PDFs)."""
    counted = {"balances": 0, "journals": 0, "ledgers": 0, "accounts": 0}
    for entity in world.scalars(select(Entity).order_by(Entity.code)):
        book = entity.book
        for year in sorted(set(world.scalars(select(JournalEntry.year).where(JournalEntry.book_id == book.id)))):
            tb = trial_balance(world, book, year)
            counted["balances"] += _balance_table_ties(world, entity, year, balance_table(world, book, *period(year)), tb)
            counted["journals"] += _journals_tie(world, entity, year)
            counted["ledgers"] += _ledgers_tie(world, entity, year, tb)
            counted["accounts"] += _member_accounts_tie(world, entity, year)
    assert counted["balances"] >= 15 and counted["journals"] >= 20 and counted["ledgers"] >= 30
    assert counted["accounts"] == 149          # 80 + 9 + 9 + 11 + 40: every member of every cooperative's run


def _balance_table_ties(world, entity, year, table, tb) -> int:
    """借 = 贷 at the opening, in the period and at the closing; each account's closing is the trial balance's and its
    members' sub-accounts are their balances on it."""
    book = entity.book
    totals = table.totals()
    assert totals["opening_debit"] == totals["opening_credit"], (entity.code, year)
    assert totals["debit"] == totals["credit"] and totals["closing_debit"] == totals["closing_credit"]
    top = {r.code: r for r in table.rows if r.member is None}
    assert {c: r.closing for c, r in top.items() if r.closing} == {r.code: r.closing for r in tb if r.closing}
    for code in top:          # each member's sub-account is that member's balance on the account
        members = {r.member: r.closing for r in table.rows if r.code == code and r.member is not None}
        held = party_balances(world, book, code, up_to_year=year)
        assert members == {m: b for m, b in held.items() if m in members}, (entity.code, year, code)
        assert not {m for m, b in held.items() if b} - set(members), (entity.code, year, code)
    return 1


def _journals_tie(world, entity, year) -> int:
    """Each money account's 日记账 runs from the year's opening to the account's closing, day by day, and its
    months chain."""
    book, checked = entity.book, 0
    for code in sorted({account_for_role(entity.chart, r) for r in MONEY_ROLES}):
        journal = money_journal(world, book, code, *period(year))
        balance = journal.opening
        for day in journal.days:
            balance += day.debit - day.credit
            assert day.lines[-1].balance == day.balance == balance, (entity.code, code, day.date)
        assert journal.closing == account_balances(world, book, up_to_year=year).get(code, D(0)), (
            entity.code, year, code)
        months = [money_journal(world, book, code, *period(year, month)) for month in range(1, 13)]
        assert months[0].opening == journal.opening and months[-1].closing == journal.closing
        assert all(a.closing == b.opening for a, b in zip(months, months[1:], strict=False))
        checked += 1
    return checked


def _ledgers_tie(world, entity, year, tb) -> int:
    """Each account's 总账 ends the year at the trial balance's closing with the year's debits and credits; where
    the account is kept by member, each month's 本月合计 is the sum of the members' 明细账 (and of the part kept by
    no member) and so is the year's closing."""
    book, checked = entity.book, 0
    for row in tb:
        general = account_ledger(world, book, row.code, year, lines=False)
        assert (general.opening, general.closing) == (row.opening, row.closing), (entity.code, year, row.code)
        assert (sum((m.debit for m in general.months), D(0)), sum((m.credit for m in general.months), D(0))) \
            == (row.debit, row.credit), (entity.code, year, row.code)
        members = sorted(party_balances(world, book, row.code, up_to_year=year))
        if not members:
            continue
        parts = [account_ledger(world, book, row.code, year, member=m) for m in [*members, ""]]
        for month in general.months:
            found = [p for part in parts for p in part.months if p.month == month.month]
            assert (sum((p.debit for p in found), D(0)), sum((p.credit for p in found), D(0))) == (
                month.debit, month.credit), (entity.code, year, row.code, month.month)
        assert sum((part.closing for part in parts), D(0)) == general.closing
        checked += 1
    return checked


def _member_accounts_tie(world, entity, year) -> int:
    """Each member's 成员账户 of a year with a run in force: every column's lines add up to the 年末余额/总额 row (the
    stocks from 年初余额, the flows from nothing), whose 盈余返还 and 剩余盈余分配 are the member's in the run."""
    run = world.scalar(select(PayoutRun).where(PayoutRun.entity_id == entity.id, PayoutRun.year == year,
                                               PayoutRun.status.in_(IN_FORCE)))
    report = member_accounts(world, entity, year)
    if run is None or report is None:
        return 0
    returns, figures = set(patronage_pools(run.result)), {}
    for m in run.result["members"]:            # returns by trade (221); every other pool and preferred return (222)
        patronage = sum((D(ln["amount"]) for ln in m["lines"] if ln["pool"] in returns), D(0))
        residual = sum((D(ln["amount"]) for ln in m["lines"] if ln["pool"] not in returns), D(0)) + sum(
            (D(p["amount"]) for p in m["preferred"]), D(0))
        figures[m["member"]] = (patronage, residual)
    for account in report.members:
        body = account.lines[:-1]
        for field in ("capital_poverty", "capital_other", "reserve_share", "fiscal_share", "donation_share",
                      "patronage", "residual"):
            assert sum((getattr(ln, field) or D(0) for ln in body), D(0)) == (getattr(account.closing, field) or D(0)), (
                entity.code, year, account.code, field)
        for i, closing in enumerate(account.closing.amounts):
            assert sum((ln.amounts[i] or D(0) for ln in body), D(0)) == (closing or D(0)), (entity.code, account.code)
        assert (account.closing.patronage, account.closing.residual) == figures.get(account.code, (D(0), D(0))), (
            entity.code, year, account.code)
    return len(report.members)


def test_the_tea_cooperative_is_paid_through_the_bank_but_for_the_closed_card(world):
    """Issue 17 §6: batch 1 of every household after the notice period, two returned (a name the bank does not know
    for the card, a closed card); the name corrected, batch 2 pays that household; the closed card's stays owed —
    and 221/222 hold exactly what is still owed."""
    from cooperatives.models import Household
    from payouts.batches.operations import failures_of
    from payouts.models import PayoutBatch, PayoutBatchLine, PayoutMember, StatementSnapshot

    tea = runs(world)["JGP-TEA"]
    assert tea.status == "published" and tea.notice_until == dt.date(2026, 3, 22)
    batches = world.scalars(select(PayoutBatch).where(PayoutBatch.run_id == tea.id).order_by(PayoutBatch.number)).all()
    assert [(b.number, b.layout, b.status, b.count, b.paid_count, b.failed_count, b.sent_on, b.paid_on)
            for b in batches] == [
        (1, "generic", "results_in", 80, 78, 2, dt.date(2026, 4, 1), dt.date(2026, 4, 3)),
        (2, "generic", "closed", 1, 1, 0, dt.date(2026, 4, 8), dt.date(2026, 4, 10))]
    assert tea.notice_until < batches[0].sent_on
    lines = {(ln.batch_id, ln.member_code): ln for ln in world.scalars(select(PayoutBatchLine).where(
        PayoutBatchLine.batch_id.in_([b.id for b in batches])))}
    first, second = batches
    assert {code: ln.reason for (b, code), ln in lines.items() if b == first.id and ln.status == "failed"} == {
        "JGP-H017": "户名与账号不符", "JGP-H042": "账户已销户"}
    assert {(code, ln.status, ln.reason) for (b, code), ln in lines.items() if b == second.id} == {
        ("JGP-H017", "paid", None), ("JGP-H042", "apart", "not_corrected")}
    assert world.scalar(select(Household.head_name).where(Household.code == "JGP-H017")) == "郭广荣"
    owed = {m.code: m.net - m.paid for m in world.scalars(select(PayoutMember).where(PayoutMember.run_id == tea.id))
            if m.net != m.paid}
    assert list(owed) == ["JGP-H042"] and owed["JGP-H042"] == lines[(first.id, "JGP-H042")].amount
    book = tea.entity.book
    held = {code: -(party_balances(world, book, "221").get(code, D(0)) + party_balances(world, book, "222").get(code, D(0)))
            for code in {*party_balances(world, book, "221"), *party_balances(world, book, "222")}}
    assert {code: amount for code, amount in held.items() if amount} == owed
    snap = world.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == tea.id,
                                                       StatementSnapshot.member_code == "JGP-H042"))
    assert failures_of(world, [snap.id]) == {snap.id: ("账户已销户", 1)}


def test_the_county_lists_are_loaded_with_their_history_and_each_warning_fires_where_the_demo_says(world):
    """Issue 18 §5 (docs/DEMO.md "The county's lists"): 金果坪乡's list and 百乐乡's two, imported through the real
    operation; one household with two periods, the rows of households in no entity listed; income_fell,
    nothing_received and no_linkage each fire exactly for the household or entity the demo names."""
    import json

    from cooperatives.models import Household, MonitoringList, MonitoringPeriod, Township
    from payouts.admin.demo import CLUSTER_TOWNSHIP
    from payouts.admin.demo_monitoring import (
        INCOME_FELL,
        NO_LINKAGE,
        NOTHING_RECEIVED,
        TWO_PERIODS,
        load_monitoring_lists,
    )
    from payouts.oversight.monitoring import monitoring_report, no_linkage_entities

    township = {t.name: t for t in world.scalars(select(Township))}
    jgp, tl = township["金果坪乡"], township[CLUSTER_TOWNSHIP]
    lists = world.scalars(select(MonitoringList).order_by(MonitoringList.id)).all()
    assert [(x.township_id, x.rows, x.matched, x.unmatched, x.opened, x.closed, x.conflicts) for x in lists] == [
        (jgp.id, 8, 7, 1, 7, 0, 0), (tl.id, 44, 43, 1, 43, 0, 0), (tl.id, 45, 44, 1, 1, 3, 0)]
    # the rows of households in no entity are listed (masked ID numbers), never refused
    for x in lists:
        [row] = json.loads(x.unmatched_json)
        assert row["reason"] == "unknown_id" and "*" in row["who"]
    # history: the second list of 百乐乡 closed the marginal period and opened a hardship one
    household = world.scalar(select(Household).where(Household.code == TWO_PERIODS))
    periods = world.scalars(select(MonitoringPeriod).where(MonitoringPeriod.household_id == household.id,
                                                           MonitoringPeriod.list_id.is_not(None))
                            .order_by(MonitoringPeriod.identified_on)).all()
    assert [(p.category, p.identified_on, p.eliminated_on, p.list_id) for p in periods] == [
        ("marginal", dt.date(2022, 4, 18), dt.date(2025, 8, 15), lists[1].id),
        ("hardship", dt.date(2025, 10, 9), None, lists[2].id)]
    # the households sheets' flags opened their periods on the day the demo was loaded (not in force in 2025)
    sheet = world.scalars(select(MonitoringPeriod.identified_on).where(MonitoringPeriod.list_id.is_(None))).all()
    assert sheet and min(sheet) > dt.date(2025, 12, 31)

    warned = {}
    for t in (jgp, tl):
        for row in monitoring_report(world, township_id=t.id, year=2025)["households"]:
            for warning in row["warnings"]:
                warned.setdefault(warning["rule"], []).append(row["household"])
    assert warned == {"income_fell": [INCOME_FELL], "nothing_received": [NOTHING_RECEIVED]}
    # 2024, the year the anomaly cooperative's first run judges in 金果坪乡: no warning (the tea cooperative's listed
    # households were eliminated by 2023: its books start in 2025)
    assert [r for r in monitoring_report(world, township_id=jgp.id, year=2024)["households"] if r["warnings"]] == []
    assert no_linkage_entities(world, township_id=jgp.id, year=2024) == []
    rows = {r["household"]: r for r in monitoring_report(world, township_id=jgp.id, year=2025)["households"]}
    assert set(rows) == {"VEG-H002", INCOME_FELL, NOTHING_RECEIVED}
    assert (rows[INCOME_FELL]["previous_total"], rows[INCOME_FELL]["total"]) == ("16567.53", "6744.88")
    assert (rows[NOTHING_RECEIVED]["previous_total"], rows[NOTHING_RECEIVED]["total"]) == ("0.00", "0.00")
    assert len(monitoring_report(world, township_id=tl.id, year=2025)["households"]) == 43
    assert [(n.entity.code, n.monitored) for n in no_linkage_entities(world, township_id=jgp.id, year=2025)] == [
        (NO_LINKAGE, 3)]
    assert no_linkage_entities(world, township_id=tl.id, year=2025) == []
    # idempotent: loaded once
    assert not load_monitoring_lists(world, CLUSTER_TOWNSHIP)
    assert len(world.scalars(select(MonitoringList)).all()) == 3

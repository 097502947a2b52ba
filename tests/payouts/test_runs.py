"""Distribution runs end to end through the command line, with hand-computed figures."""

import json
from decimal import Decimal

import pytest
from samples import POLICY_50_50, POLICY_70_30
from sqlalchemy import select

from cooperatives.models import Entity
from ledger.queries import account_balance, get_book, party_balances, trial_balance
from payouts.models import PayoutRun, RunReplacement

D = Decimal



def distribute(cli, entity, year, policy=None, *more):
    args = ["distribute", "--entity", entity, "--year", str(year), "--json", *more]
    if policy:
        args += ["--policy", policy]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_worked_example_through_the_cli_to_the_fen(session, cli, xlsx, policy_file, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    run = distribute(cli, "WX", 2025, policy_file(POLICY_70_30))
    assert (run["status"], run["surplus"], run["prior_loss"], run["distributable"]) == (
        "draft", "500000.00", "20000.00", "432000.00")
    assert run["reserves"] == [{"name": "reserve", "amount": "48000.00"}]
    assert [(p["name"], p["amount"], p["basis_total"]) for p in run["pools"]] == [
        ("patronage", "302400.00", "200000.00"), ("residual", "129600.00", "238000.00")]
    a = run["members"][0]
    assert a["member"] == "H001" and a["lines"][0]["basis"] == "120000.00" and a["lines"][0]["amount"] == "181440.00"
    assert (a["lines"][1]["basis"], a["lines"][1]["amount"]) == ("108800.00", "59245.72")
    assert [(m["member"], m["total"], m["deductions"], m["net"]) for m in run["members"]] == [
        ("H001", "240685.72", "0.00", "240685.72"), ("H002", "131233.61", "0.00", "131233.61"),
        ("H003", "60080.67", "0.00", "60080.67")]
    assert all(c["ok"] for c in run["checks"])
    assert {c["rule"]: c["detail"] for c in run["checks"]}["patronage_min_60"].startswith("70.00% >= 60%")


def test_posted_run_leaves_allocations_at_zero_and_payables_equal_to_the_lines(session, cli, xlsx, policy_file, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    run = distribute(cli, "WX", 2025, policy_file(POLICY_70_30))
    assert cli("run", "approve", str(run["run"]), "--meeting-date", "2026-03-15", "--attended", "3",
               "--votes-for", "2").exit_code == 0
    assert cli("run", "post", str(run["run"])).exit_code == 0
    book = get_book(session, "WX")
    assert account_balance(session, book, "33201") == 0
    # 500,000 closed into 未分配盈余, 480,000 allocated; the 2024 loss was never closed, so it still sits
    # in 2024's 管理费用 — together nothing is left undistributed
    assert account_balance(session, book, "33202") == -(D("500000.00") - D("480000.00"))
    assert account_balance(session, book, "523") == D("20000.00")
    patronage = party_balances(session, book, "221")
    residual = party_balances(session, book, "222")
    for m in run["members"]:
        assert -patronage[m["member"]] == D(m["lines"][0]["amount"])
        assert -residual[m["member"]] == D(m["lines"][1]["amount"])
    reserve = party_balances(session, book, "322")
    assert {k: -v for k, v in reserve.items()} == {"H001": D("28800.00"), "H002": D("14400.00"), "H003": D("4800.00")}
    assert cli("verify", "--entity", "WX").exit_code == 0
    # posting again posts nothing
    again = cli("run", "post", str(run["run"]))
    assert again.exit_code == 0 and "already posted" in again.stdout
    assert account_balance(session, book, "221") == -D("302400.00")


def test_policy_returning_half_by_trade_is_drafted_but_not_approved(session, cli, xlsx, policy_file, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    half = POLICY_50_50
    run = distribute(cli, "WX", 2025, policy_file(half))
    assert run["status"] == "draft"
    refused = cli("run", "approve", str(run["run"]), "--meeting-date", "2026-03-15", "--attended", "3",
                  "--votes-for", "3")
    assert refused.exit_code == 1
    assert "At least 60 % returned by member trade" in refused.stderr and "50.00% < 60%" in refused.stderr
    assert session.get(PayoutRun, run["run"]).status == "draft"


@pytest.mark.parametrize("attended, votes, reason", [(1, 1, "quorum"), (3, 1, "more than half")])
def test_meeting_without_quorum_cannot_approve(session, cli, xlsx, policy_file, attended, votes, reason, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    run = distribute(cli, "WX", 2025, policy_file(POLICY_70_30))
    refused = cli("run", "approve", str(run["run"]), "--meeting-date", "2026-03-15", "--attended", str(attended),
                  "--votes-for", str(votes))
    assert refused.exit_code == 1 and reason in refused.stderr.lower()


def approve_and_post(cli, run_id, members, attended=None, votes=None):
    attended = attended or members
    votes = votes or members
    assert cli("run", "approve", str(run_id), "--meeting-date", "2026-03-01", "--attended", str(attended),
               "--votes-for", str(votes)).exit_code == 0
    result = cli("run", "post", str(run_id))
    assert result.exit_code == 0, result.output


def test_village_collective_distributes_by_shares(session, cli, xlsx, policy_file):
    """S = 150,000 − 50,000 = 100,000; 公积公益金 30 % → DS 70,000 by shares 4:3:3."""
    wb = {
        "entity": [["code", "name", "kind", "township", "village"], ["CV", "五星村股份经济合作社", "collective", "青铜峡镇", "五星村"]],
        "households": [["code", "head_name", "village"]] + [[f"C{i}", f"户{i}", "五星村"] for i in (1, 2, 3)],
        "members": [["member", "member_no", "joined_on"]] + [[f"C{i}", i, "2018-01-01"] for i in (1, 2, 3)],
        "capital": [["date", "member", "amount"], ["2025-01-01", "C1", "4000"], ["2025-01-01", "C2", "3000"],
                    ["2025-01-01", "C3", "3000"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-07-01", "承包方", "土地发包", "150000"]],
        "expenses": [["date", "category", "amount"], ["2025-08-01", "management", "50000"]],
    }
    assert cli("import", xlsx(wb)).exit_code == 0
    run = distribute(cli, "CV", 2025, policy_file(
        'reserve_pct = "30"\nreserve_quantify = "none"\n[[pools]]\nname = "shares"\npct = "100"\nbasis = "capital"\n'))
    assert (run["surplus"], run["distributable"]) == ("100000.00", "70000.00")
    assert [m["total"] for m in run["members"]] == ["28000.00", "21000.00", "21000.00"]
    # a collective needs two thirds of ALL members voting for
    refused = cli("run", "approve", str(run["run"]), "--meeting-date", "2026-03-01", "--attended", "3",
                  "--votes-for", "1")
    assert refused.exit_code == 1 and "two thirds of all members" in refused.stderr
    approve_and_post(cli, run["run"], 3)
    book = get_book(session, "CV")
    assert account_balance(session, book, "32201") == 0                   # 收益分配—各项分配
    assert account_balance(session, book, "311") == -D("30000.00")        # 公积公益金
    assert {k: -v for k, v in party_balances(session, book, "113").items()} == {
        "C1": D("28000.00"), "C2": D("21000.00"), "C3": D("21000.00")}    # 内部往来: owed to households


def test_consent_on_record_lets_debts_net_against_land_income(session, cli, xlsx, policy_file):
    wb = {
        "entity": [["code", "name", "kind", "township"], ["LK", "同意测试合作社", "land_coop", "测试乡"]],
        "households": [["code", "head_name", "village"], ["K1", "甲", "一村"], ["K2", "乙", "一村"]],
        "members": [["member", "member_no", "joined_on", "土地收益扣款同意"], ["K1", 1, "2020-01-01", "是"],
                    ["K2", 2, "2020-01-01", "否"]],
        "land": [["member", "contract_no", "area_mu", "start_on"], ["K1", "A", "5", "2025-01-01"],
                 ["K2", "B", "5", "2025-01-01"]],
        "advances": [["date", "member", "amount"], ["2025-03-01", "K1", "300"], ["2025-03-01", "K2", "300"]],
        "transfers": [["date", "from", "to", "amount"], ["2025-03-01", "bank", "cash", "600"]],      # 提现 for them
        "sales": [["date", "buyer", "product", "amount"], ["2025-10-01", "粮站", "稻谷", "2000"]],
    }
    assert cli("import", xlsx(wb)).exit_code == 0
    run = distribute(cli, "LK", 2025, policy_file('[[pools]]\nname = "land"\npct = "100"\nbasis = "land"\n'))
    assert [(m["member"], m["total"], m["deductions"], m["net"]) for m in run["members"]] == [
        ("K1", "1000.00", "300.00", "700.00"), ("K2", "1000.00", "0.00", "1000.00")]


def test_land_share_cooperative_base_rent_then_dividend(session, cli, xlsx, policy_file):
    """保底 800 元/亩 (10, 6, 4 亩) is a cost of 16,000; sales 60,000, costs 4,000 → S 40,000;
    10 % reserve → 36,000 by land shares: 18,000 / 10,800 / 7,200. L3 owes 1,000 for inputs but gave no
    consent to net it against land income: nothing is deducted. A land-share cooperative is a farmer
    cooperative in law (books-review W6): its articles count land as trade (``land_as_trade``), so the
    dividend is 盈余返还 (221) and the reserve is quantified to members by land (4,000: 2,000 / 1,200 / 800)."""
    wb = {
        "entity": [["code", "name", "kind", "township"], ["LC", "土地股份合作社", "land_coop", "测试乡"]],
        "households": [["code", "head_name", "village"]] + [[f"L{i}", f"地{i}", "一村"] for i in (1, 2, 3)],
        "members": [["member", "member_no", "joined_on"]] + [[f"L{i}", i, "2020-01-01"] for i in (1, 2, 3)],
        "land": [["member", "contract_no", "area_mu", "base_rent_per_mu", "start_on", "end_on"],
                 ["L1", "T1", "10", "800", "2025-01-01", "2030-12-31"],
                 ["L2", "T2", "6", "800", "2025-01-01", "2030-12-31"],
                 ["L3", "T3", "4", "800", "2025-01-01", "2030-12-31"]],
        "inputs": [["date", "member", "item", "amount"], ["2025-03-01", "L3", "化肥", "1000"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-10-01", "粮站", "稻谷", "60000"]],
        "expenses": [["date", "category", "amount"], ["2025-10-02", "operating", "4000"]],
    }
    assert cli("import", xlsx(wb)).exit_code == 0
    run = distribute(cli, "LC", 2025, policy_file(
        'reserve_pct = "10"\nland_as_trade = true\n[[pools]]\nname = "land"\npct = "100"\nbasis = "land"\n'))
    assert (run["surplus"], run["distributable"]) == ("40000.00", "36000.00")
    assert [(m["total"], m["deductions"], m["net"]) for m in run["members"]] == [
        ("18000.00", "0.00", "18000.00"), ("10800.00", "0.00", "10800.00"), ("7200.00", "0.00", "7200.00")]
    approve_and_post(cli, run["run"], 3)
    book = get_book(session, "LC")
    # base rent stays owed on 成员往来 (L3 net of the inputs), dividends on 应付盈余返还
    assert {k: -v for k, v in party_balances(session, book, "114").items()} == {
        "L1": D("8000.00"), "L2": D("4800.00"), "L3": D("2200.00")}
    assert -account_balance(session, book, "221") == D("36000.00")
    assert {k: -v for k, v in party_balances(session, book, "322").items()} == {
        "L1": D("2000.00"), "L2": D("1200.00"), "L3": D("800.00")}
    # paying L1 its dividend settles what 221 owes it (not 222, where nothing is owed)
    import datetime as dt

    from sqlalchemy import select

    from cooperatives.access import CONSOLE
    from payouts.models import StatementSnapshot
    from payouts.statements.operations import record_receipt

    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run["run"],
                                                          StatementSnapshot.member_code == "L1"))
    record_receipt(session, snap, amount=D("18000.00"), method="bank", on=dt.date(2026, 3, 1), actor=CONSOLE)
    assert party_balances(session, book, "221").get("L1", D(0)) == D("0.00")
    assert party_balances(session, book, "222").get("L1", D(0)) == D("0.00")


def test_three_level_cascade_from_project_to_village_to_household(session, cli, xlsx, policy_file):
    """Project S = 100,000 − 10,000 = 90,000 by investment 600k:400k → V1 54,000, V2 36,000.
    V1: 54,000 from the project + 6,000 own income − 4,000 costs = 56,000; 20 % → DS 44,800, 1:1 →
    22,400 each, of which 22,400 × 54/56 = 21,600 traces back to the project and 800 to V1 itself."""
    villages = {
        "entity": [["code", "name", "kind", "township", "village"], ["V1", "一村集体", "collective", "葡萄镇", "一村"]],
        "households": [["code", "head_name", "village"], ["V1-H1", "张一", "一村"], ["V1-H2", "张二", "一村"]],
        "members": [["member", "member_no", "joined_on"], ["V1-H1", 1, "2010-01-01"], ["V1-H2", 2, "2010-01-01"]],
        "capital": [["date", "member", "amount"], ["2025-01-01", "V1-H1", "1"], ["2025-01-01", "V1-H2", "1"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-05-01", "游客", "采摘", "6000"]],
        "expenses": [["date", "category", "amount"], ["2025-05-02", "management", "4000"]],
    }
    assert cli("import", xlsx(villages)).exit_code == 0
    v2 = {"entity": [["code", "name", "kind", "township", "village"], ["V2", "二村集体", "collective", "葡萄镇", "二村"]]}
    assert cli("import", xlsx(v2)).exit_code == 0
    project = {
        "entity": [["code", "name", "kind", "township"], ["GP", "葡萄大棚联合项目", "cluster_project", "葡萄镇"]],
        "members": [["member", "member_no", "joined_on"], ["V1", 1, "2024-01-01"], ["V2", 2, "2024-01-01"]],
        "capital": [["date", "member", "amount"], ["2024-01-01", "V1", "600000"], ["2024-01-01", "V2", "400000"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-08-01", "果商", "葡萄", "100000"]],
        "expenses": [["date", "category", "amount"], ["2025-08-02", "operating", "10000"]],
    }
    assert cli("import", xlsx(project)).exit_code == 0
    run = distribute(cli, "GP", 2025, policy_file('[[pools]]\nname = "investment"\npct = "100"\nbasis = "capital"\n'))
    assert [(m["member"], m["net"]) for m in run["members"]] == [("V1", "54000.00"), ("V2", "36000.00")]
    approve_and_post(cli, run["run"], 2)
    v1 = get_book(session, "V1")
    assert account_balance(session, v1, "502") == -D("54000.00")           # 投资收益 (2023 chart) in the village's books
    assert account_balance(session, v1, "112") == D("54000.00")            # receivable from the project
    village_run = distribute(cli, "V1", 2025, policy_file(
        'reserve_pct = "20"\nreserve_quantify = "equal"\n[[pools]]\nname = "shares"\npct = "100"\nbasis = "capital"\n'))
    assert (village_run["surplus"], village_run["distributable"]) == ("56000.00", "44800.00")
    h1 = village_run["members"][0]
    assert h1["total"] == "22400.00"
    assert h1["sources"] == [{"from": f"葡萄大棚联合项目 2025年收益分配 (run:{run['run']})", "amount": "21600.00"},
                             {"from": "own", "amount": "800.00"}]
    approve_and_post(cli, village_run["run"], 2)
    # the project pays V1 its share: received against the receivable (收款, by the project's code or name)
    over = cli("import", xlsx({"receipts": [["date", "buyer", "amount"], ["2026-02-01", "葡萄大棚联合项目", "54000.01"]]}),
               "--entity", "V1")
    assert over.exit_code == 1 and "葡萄大棚联合项目 owes 54000.00" in over.stderr
    assert cli("import", xlsx({"receipts": [["date", "buyer", "amount"], ["2026-02-01", "GP", "54000"]]}),
               "--entity", "V1").exit_code == 0
    # 102: capital 2 + sales 6,000 − costs 4,000 + the share 54,000
    assert (account_balance(session, v1, "112"), account_balance(session, v1, "102")) == (D("0.00"), D("56002.00"))
    # every level sums exactly
    assert sum(D(m["net"]) for m in run["members"]) == D(run["distributable"])
    assert sum(D(m["total"]) for m in village_run["members"]) == D(village_run["distributable"])
    assert cli("verify").exit_code == 0


def test_reversing_a_run_undoes_it_everywhere_and_allows_a_new_one(session, cli, xlsx, policy_file, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    run = distribute(cli, "WX", 2025, policy_file(POLICY_70_30))
    approve_and_post(cli, run["run"], 3)
    # (issue 13 §4) while run 1 is in force, a new draft must say it replaces it
    unnamed = cli("distribute", "--entity", "WX", "--year", "2025")
    assert unnamed.exit_code == 1
    assert f"Run {run['run']} for 2025 is in force: a new run for the year must say that it replaces run " in unnamed.stderr
    wrong = cli("distribute", "--entity", "WX", "--year", "2025", "--replaces", "999")
    assert wrong.exit_code == 1 and "must say that it replaces" in wrong.stderr
    second = distribute(cli, "WX", 2025, None, "--replaces", str(run["run"]))
    replaced = session.scalar(select(RunReplacement.replaces_id).where(RunReplacement.run_id == second["run"]))
    assert replaced == run["run"]
    assert cli("run", "approve", str(second["run"]), "--meeting-date", "2026-04-01", "--attended", "3",
               "--votes-for", "3").exit_code == 0
    refused = cli("run", "post", str(second["run"]))
    assert refused.exit_code == 1 and "already in force" in refused.stderr
    reversed_ = cli("run", "reverse", str(run["run"]))
    assert reversed_.exit_code == 0 and "reversed by run" in reversed_.stdout
    book = get_book(session, "WX")
    assert account_balance(session, book, "221") == 0 and account_balance(session, book, "322") == 0
    assert cli("run", "post", str(second["run"])).exit_code == 0
    assert account_balance(session, book, "221") == -D("302400.00")
    assert cli("verify", "--entity", "WX").exit_code == 0
    entity = session.scalar(select(Entity).where(Entity.code == "WX"))
    statuses = dict(session.execute(select(PayoutRun.id, PayoutRun.status).where(PayoutRun.entity_id == entity.id)).all())
    assert statuses[run["run"]] == "reversed" and statuses[second["run"]] == "posted"


def test_close_year_prints_the_surplus_statement_and_refuses_later_records(session, cli, xlsx, worked_example):
    assert cli("import", xlsx(worked_example())).exit_code == 0
    closed = cli("close-year", "--entity", "WX", "--year", "2025")
    assert closed.exit_code == 0 and "500000.00" in closed.stdout and "-20000.00" in closed.stdout
    late = {"sales": [["date", "buyer", "product", "amount"], ["2025-12-30", "x", "y", "1"]]}
    result = cli("import", xlsx(late), "--entity", "WX")
    assert result.exit_code == 1 and "2025 is closed" in result.stderr
    assert account_balance(session, get_book(session, "WX"), "501") == 0     # income closed into 331 → 332


def test_a_year_closed_for_good_takes_nothing_more_and_the_next_opens_from_it(session, cli, xlsx, policy_file,
                                                                             worked_example):
    """结账 (issue 13 §4): ``close-year --final`` only once the year's run is published; then nothing is posted
    in the year by any path — a workbook, a void, the run's reversal — and 2026 opens from 2025's closing."""
    from cooperatives.models import Sale

    assert cli("import", xlsx(worked_example())).exit_code == 0
    run = distribute(cli, "WX", 2025, policy_file(POLICY_70_30))
    approve_and_post(cli, run["run"], 3)
    early = cli("close-year", "--entity", "WX", "--year", "2025", "--final")
    assert early.exit_code == 1
    assert f"Run {run['run']} for 2025 is posted but not published" in early.stderr
    assert cli("run", "publish", str(run["run"])).exit_code == 0
    final = cli("close-year", "--entity", "WX", "--year", "2025", "--final")
    assert final.exit_code == 0, final.output
    assert "WX 2025: closed for good (结账)" in final.stdout and "(closed)" in final.stdout
    late = {"sales": [["date", "buyer", "product", "amount"], ["2025-12-30", "x", "y", "1"]]}
    refused = cli("import", xlsx(late), "--entity", "WX")
    assert refused.exit_code == 1 and "2025 is closed" in refused.stderr
    sale = session.scalar(select(Sale.id))
    voided = cli("void", "sales", str(sale), "--reason", "录错")
    assert voided.exit_code == 1 and "2025 is closed" in voided.stderr
    reversed_ = cli("run", "reverse", str(run["run"]))
    assert reversed_.exit_code == 1 and "2025 are closed" in reversed_.stderr
    assert cli("close-year", "--entity", "WX", "--year", "2025", "--final").exit_code == 0      # (once is enough)
    book = get_book(session, "WX")
    closing = {r.code: r.closing for r in trial_balance(session, book, 2025)}
    opening = {r.code: r.opening for r in trial_balance(session, book, 2026)}
    assert closing["221"] == opening["221"] == -D("302400.00") and closing == {**closing, **opening}
    assert cli("import", xlsx({"sales": [["date", "buyer", "product", "amount"], ["2026-01-05", "x", "y", "1"]]}),
               "--entity", "WX").exit_code == 0


def test_quantity_and_labour_bases_come_from_the_books(session, cli, xlsx, policy_file):
    """200 斤 is 100 kg: M1 and M2 delivered the same weight. Labour 3 days vs 1 day.
    S = 10,700 − 300 (deliveries) − 400 (labour) = 10,000 → 5,000 by kg 1:1, 5,000 by days 3:1."""
    wb = {
        "entity": [["code", "name", "kind", "township"], ["QL", "数量合作社", "land_coop", "测试乡"]],
        "households": [["code", "head_name", "village"], ["M1", "一", "一村"], ["M2", "二", "一村"]],
        "members": [["member", "member_no", "joined_on"], ["M1", 1, "2020-01-01"], ["M2", 2, "2020-01-01"]],
        "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                       ["2025-05-01", "M1", "稻谷", "200", "jin", "1", "bank"],
                       ["2025-05-01", "M2", "稻谷", "100", "kg", "1", "bank"],
                       ["2025-05-02", "M2", "稻草", "50", "kg", "0", "bank"]],          # taken at price 0: posts nothing
        "labor": [["date", "member", "days", "rate"], ["2025-06-01", "M1", "3", "100"], ["2025-06-01", "M2", "1", "100"]],
        "sales": [["date", "buyer", "product", "amount"], ["2025-10-01", "粮站", "稻谷", "10700"]],
    }
    imported = cli("import", xlsx(wb))
    assert imported.exit_code == 0, imported.output
    run = distribute(cli, "QL", 2025, policy_file(
        '[[pools]]\nname = "weight"\npct = "50"\nbasis = "transactions"\nmeasure = "quantity"\n'
        'products = { "稻谷" = "1" }\n[[pools]]\nname = "work"\npct = "50"\nbasis = "labor"\n'))
    assert run["surplus"] == "10000.00"
    assert [(p["name"], p["basis_total"]) for p in run["pools"]] == [("weight", "200.00"), ("work", "4.00")]
    assert [[(ln["basis"], ln["amount"]) for ln in m["lines"]] for m in run["members"]] == [
        [("100.00", "2500.00"), ("3.00", "3750.00")], [("100.00", "2500.00"), ("1.00", "1250.00")]]

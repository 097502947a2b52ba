"""Monitored households' income from every entity, by channel, this year and the year before (issue 18), on a
hand-built two-year world with a cascade (a cluster project's run booked into a village whose run pays the
household), and the warnings just at and just short of their thresholds."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.models import Delivery, Household, LandAccrual, LandContract, Member
from cooperatives.monitoring import import_monitoring_list, read_monitoring_list
from cooperatives.operations import (
    create_entity,
    link_member_entity,
    record,
    record_land_contract,
    register_household,
    register_member,
)
from ledger.db import money_sum
from payouts.models import PayoutMember
from payouts.oversight.monitoring import monitored_incomes, monitoring_report, no_linkage_entities
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
from payouts.runs.policy import parse_policy

D = Decimal


def rec(session, entity, kind, /, **raw):
    values, problems = parse_form(kind, raw)
    assert not problems, problems
    if kind == "land":
        return record_land_contract(session, entity, values, through_year=2025, actor=CONSOLE)
    return record(session, entity, kind, values, actor=CONSOLE)


def distribute(session, entity, policy, year=2025):
    version = save_policy(session, entity, parse_policy(policy), actor=CONSOLE)
    run = create_run(session, entity, year, policy_version=version, actor=CONSOLE)
    n = len(run.result["members"])
    approve_run(session, run, meeting_date=dt.date(year + 1, 3, 1), attended=n, votes_for=n, actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, actor=CONSOLE)
    return run


def deliver(session, entity, code, on, amount):
    rec(session, entity, "deliveries", date=on, member=code, product="茶叶", quantity="1", unit="kg", unit_price=amount,
        paid_by="bank")


def monitor(session, township, tmp_path, rows, name="list"):
    path = tmp_path / f"{name}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["household", "category", "identified_on", "eliminated_on", "persons"])
        writer.writerows(rows)
    return import_monitoring_list(session, read_monitoring_list(path), township=township, actor=CONSOLE)


@pytest.fixture
def world(app, session, tmp_path):
    """金果坪乡: village collective V1 (一村) in cluster project P (fiscal 50,000 in 2025); cooperative C (一村, fiscal
    10,000 in 2024); cooperative E (二村, fiscal 5,000 in 2025); cooperative B (三村, no fiscal support). Households of 一村: H1
    (V1, C and B), H2 (V1), H3–H6 (C), H7 (no entity); of 二村: H8 (E). All monitored."""
    v1 = create_entity(session, code="MR-V1", name="一村股份经济合作社", kind="collective", township="金果坪乡",
                       village="一村", first_year=2025, actor=CONSOLE)
    project = create_entity(session, code="MR-P", name="联建茶园项目", kind="cluster_project", township="金果坪乡",
                            first_year=2025, actor=CONSOLE)
    coop = create_entity(session, code="MR-C", name="一村茶叶合作社", kind="farmer_coop", township="金果坪乡",
                         village="一村", first_year=2024, actor=CONSOLE)
    e = create_entity(session, code="MR-E", name="二村果业合作社", kind="farmer_coop", township="金果坪乡",
                      village="二村", first_year=2025, actor=CONSOLE)
    b = create_entity(session, code="MR-B", name="三村合作社", kind="farmer_coop", township="金果坪乡", village="三村",
                      first_year=2025, actor=CONSOLE)
    joined = dt.date(2020, 1, 1)
    for n, (code, shares) in enumerate((("MR-H1", "1000.00"), ("MR-H2", "3000.00")), 1):
        register_household(session, v1, code=code, head_name=f"户主{n}", village="一村", actor=CONSOLE)
        register_member(session, v1, code=code, member_no=n, joined_on=joined, actor=CONSOLE)
        rec(session, v1, "capital", date="2025-01-02", member=code, amount=shares)
    for n in (3, 4, 5, 6):
        register_household(session, coop, code=f"MR-H{n}", head_name=f"户主{n}", village="一村", actor=CONSOLE)
    register_household(session, coop, code="MR-H7", head_name="户主7", village="一村", actor=CONSOLE)
    for n in (1, 3, 4, 5, 6):
        register_member(session, coop, code=f"MR-H{n}", member_no=n, joined_on=joined, actor=CONSOLE)
    register_household(session, e, code="MR-H8", head_name="户主8", village="二村", actor=CONSOLE)
    register_member(session, e, code="MR-H8", member_no=1, joined_on=joined, actor=CONSOLE)
    register_member(session, b, code="MR-H1", member_no=1, joined_on=joined, actor=CONSOLE)
    session.scalar(select(Household).where(Household.code == "MR-H2")).persons = 5
    # the cascade: P's 2025 run books 10,000 into V1, whose run (20 % kept) pays 8,000 by shares 1 : 3
    link_member_entity(session, project, v1, actor=CONSOLE)
    register_member(session, project, code="MR-V1", member_no=1, joined_on=dt.date(2024, 3, 1), actor=CONSOLE)
    rec(session, project, "capital", date="2025-01-02", member="MR-V1", amount="100000.00")
    rec(session, project, "subsidies", date="2025-03-01", source="东西部协作资金", kind="fiscal", amount="50000.00",
        quantify="no")
    rec(session, project, "sales", date="2025-08-01", buyer="客商", product="茶叶", amount="10000.00")
    distribute(session, project, {"reserve_pct": "0", "reserve_quantify": "none", "deduct": [],
                                  "pools": [{"name": "investment", "pct": "100", "basis": "capital"}]})
    distribute(session, v1, {"reserve_pct": "20", "reserve_quantify": "none", "deduct": [],
                             "pools": [{"name": "shares", "pct": "100", "basis": "capital"}]})
    # C: two years of produce, wages and land rent
    rec(session, coop, "subsidies", date="2024-05-01", source="衔接资金", kind="fiscal", amount="10000.00",
        quantify="no")
    rec(session, e, "subsidies", date="2025-05-01", source="衔接资金", kind="fiscal", amount="5000.00", quantify="no")
    rec(session, coop, "land", member="MR-H1", contract_no="MR-TD-1", area_mu="2", base_rent_per_mu="500",
        start_on="2024-01-01", end_on="2025-12-31")
    deliver(session, coop, "MR-H1", "2024-06-01", "1000.00")
    deliver(session, coop, "MR-H1", "2025-06-01", "400.00")
    rec(session, coop, "labor", date="2025-06-02", member="MR-H1", days="5", rate="100")
    deliver(session, b, "MR-H1", "2025-07-01", "50.00")                          # a third cooperative
    deliver(session, coop, "MR-H3", "2024-06-01", "100.00")
    deliver(session, coop, "MR-H3", "2025-06-01", "70.00")                        # down exactly 30 %
    deliver(session, coop, "MR-H4", "2024-06-01", "100.00")
    deliver(session, coop, "MR-H4", "2025-06-01", "70.01")                        # down 29.99 %
    deliver(session, coop, "MR-H6", "2025-06-01", "0.01")
    township = coop.township
    monitor(session, township, tmp_path, [
        ["MR-H1", "unstable", "2021-04-01", "", "4"], ["MR-H2", "marginal", "2022-01-01", "2025-06-30", ""],
        ["MR-H3", "marginal", "2022-01-01", "", ""], ["MR-H4", "marginal", "2022-01-01", "", ""],
        ["MR-H5", "hardship", "2024-02-01", "", "2"], ["MR-H6", "hardship", "2024-02-01", "", ""],
        ["MR-H7", "hardship", "2024-02-01", "", ""], ["MR-H8", "marginal", "2023-01-01", "", ""],
        ["MR-H2", "hardship", "2024-01-01", "2024-12-31", ""],                   # over before 2025
    ])
    return {"township": township, "coop": coop, "v1": v1, "project": project, "e": e}


def _by_code(report):
    return {row["household"]: row for row in report["households"]}


def test_income_by_channel_equals_the_books_and_the_runs(world, session):
    report = monitoring_report(session, township_id=world["township"].id, year=2025, fall_pct=None)
    rows = _by_code(report)
    assert sorted(rows) == [f"MR-H{n}" for n in range(1, 9)]
    h1 = rows["MR-H1"]
    assert h1 == {"household": "MR-H1", "category": "unstable",
                  "income": {"dividends": "2000.00", "wages": "500.00", "produce": "450.00", "land_rent": "1000.00"},
                  "total": "3950.00", "previous_total": "2000.00", "per_person": "987.50", "warnings": []}
    assert (rows["MR-H2"]["category"], rows["MR-H2"]["income"]["dividends"], rows["MR-H2"]["per_person"]) == (
        "marginal", "6000.00", "1200.00")                       # ended 30 June 2025: its category at its end
    assert rows["MR-H3"]["per_person"] is None
    # the same figures from the books and the runs, read directly
    h1_id = session.scalar(select(Household.id).where(Household.code == "MR-H1"))
    members = select(Member.id).where(Member.household_id == h1_id)
    dividends = session.scalar(select(money_sum(PayoutMember.total)).where(PayoutMember.member_id.in_(members)))
    produce = session.scalar(select(money_sum(Delivery.amount)).where(
        Delivery.member_id.in_(members), Delivery.date >= dt.date(2025, 1, 1)))
    rent = {year: session.scalar(select(money_sum(LandAccrual.amount)).join(LandContract).where(
        LandContract.member_id.in_(members), LandAccrual.year == year)) for year in (2024, 2025)}
    assert (D(h1["income"]["dividends"]), D(h1["income"]["produce"]), D(h1["income"]["land_rent"])) == (
        dividends, produce, rent[2025])
    assert D(h1["previous_total"]) == rent[2024] + session.scalar(select(money_sum(Delivery.amount)).where(
        Delivery.member_id.in_(members), Delivery.date < dt.date(2025, 1, 1)))
    json.dumps(report)                                          # plain JSON


def test_income_fell_fires_at_exactly_30_percent_and_not_at_29_99(world, session, monkeypatch):
    rows = _by_code(monitoring_report(session, township_id=world["township"].id, year=2025))
    assert rows["MR-H3"]["warnings"] == [{"rule": "income_fell", "detail":
                                          "Income from the cooperatives fell from 100.00 yuan in 2024 to 70.00 yuan in "
                                          "2025, down 30.00 % (the threshold is 30 %)."}]
    assert rows["MR-H4"]["warnings"] == []
    assert rows["MR-H2"]["warnings"] == []                       # nothing the year before: no fall
    monkeypatch.setenv("COOP_INCOME_FALL_PCT", "29.99")
    rows = _by_code(monitoring_report(session, township_id=world["township"].id, year=2025))
    assert [w["rule"] for w in rows["MR-H4"]["warnings"]] == ["income_fell"]
    rows = _by_code(monitoring_report(session, township_id=world["township"].id, year=2025, fall_pct=D("30.01")))
    assert rows["MR-H3"]["warnings"] == []


def test_nothing_received_fires_for_a_member_with_nothing_and_not_for_one_cent(world, session):
    incomes = {r.household: r for r in monitored_incomes(session, township_id=world["township"].id, year=2025)}
    assert [w.rule for w in incomes["MR-H5"].warnings] == ["nothing_received"]
    assert incomes["MR-H5"].warnings[0].message.code == "nothing_received"
    assert incomes["MR-H6"].warnings == [] and incomes["MR-H6"].total == D("0.01")
    assert incomes["MR-H7"].warnings == []                       # in no entity: nothing expected


def test_no_linkage_fires_and_not_once_a_monitored_household_got_something(world, session):
    (found,) = no_linkage_entities(session, township_id=world["township"].id, year=2025)
    assert (found.entity.code, found.monitored) == ("MR-E", 1)
    assert "none of the 1 monitored households" in found.message
    deliver(session, world["e"], "MR-H8", "2025-09-01", "0.01")
    assert no_linkage_entities(session, township_id=world["township"].id, year=2025) == []


def test_the_cli_prints_the_report_as_json_and_imports_a_list(world, session, cli, tmp_path):
    session.commit()                        # (each command's session is closed at its end; the test's outer
    #                                          transaction still rolls everything back)
    result = cli("monitoring", "report", "--township", "金果坪乡", "--year", "2025", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["households"]
    for row in data["households"]:
        assert list(row) == ["household", "category", "income", "total", "previous_total", "per_person", "warnings"]
        assert list(row["income"]) == ["dividends", "wages", "produce", "land_rent"]
        assert all(list(w) == ["rule", "detail"] for w in row["warnings"])
    plain = cli("monitoring", "report", "--township", "金果坪乡", "--year", "2025")
    assert "MR-H1" in plain.output and "3950.00" in plain.output and "MR-H3: income_fell" in plain.output
    path = tmp_path / "new.csv"
    path.write_text("household,category,identified_on,eliminated_on\nMR-H3,marginal,2022-01-01,2025-10-01\n"
                    "NOBODY,marginal,2022-01-01,\n", encoding="utf-8")
    imported = cli("monitoring", "import", str(path), "--township", "金果坪乡")
    assert imported.exit_code == 0, imported.output
    assert "2 rows, 1 matched, 1 unmatched, 0 periods opened, 1 closed" in imported.output
    assert "row 3: NOBODY marginal: no household has this code" in imported.output
    bad = tmp_path / "bad.csv"
    bad.write_text("household,category,identified_on\nMR-H3,poor,2022-01-01\n", encoding="utf-8")
    refused = cli("monitoring", "import", str(bad))
    assert refused.exit_code == 1 and "bad:2:category" in refused.stderr

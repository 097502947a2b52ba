"""Benefit linkage (联农带农): the county's table for entities with fiscal support, with hand-computed
figures on a small world — by channel, per household, monitored and poverty-exited households — and a
cluster project's reach through its villages' runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.models import Household
from cooperatives.operations import (
    create_entity,
    link_member_entity,
    record,
    record_land_contract,
    register_household,
    register_member,
)
from payouts.oversight.linkage import household_benefits, linkage_households, linkage_table
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
from payouts.runs.policy import parse_policy

D = Decimal
POLICY = {"reserve_pct": "10", "reserve_quantify": "transactions", "deduct": [],
          "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                    {"name": "residual", "pct": "40", "basis": "capital"}]}


def rec(session, entity, record_kind, /, **raw):
    values, problems = parse_form(record_kind, raw)
    assert not problems, problems
    if record_kind == "land":
        return record_land_contract(session, entity, values, through_year=2025, actor=CONSOLE)
    return record(session, entity, record_kind, values, actor=CONSOLE)


def distribute(session, entity, policy, year=2025):
    version = save_policy(session, entity, parse_policy(policy), actor=CONSOLE)
    run = create_run(session, entity, year, policy_version=version, actor=CONSOLE)
    n = len(run.result["members"])
    approve_run(session, run, meeting_date=dt.date(year + 1, 3, 1), attended=n, votes_for=n, actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, actor=CONSOLE)
    return run


@pytest.fixture
def coop(app, session):
    """联乡 L-COOP: H1 (monitored, poverty-exited, 4 people), H2 (3 people), H3 (poverty-exited, people
    unknown), H4 (a member who received nothing); fiscal funds 5,000 in 2024 and 10,000 in 2025."""
    entity = create_entity(session, code="L-COOP", name="联乡蔬菜专业合作社", kind="farmer_coop", township="联乡",
                           village="联村", first_year=2024, actor=CONSOLE)
    for code, monitoring, exited, persons in (("L-H1", "unstable", True, 4), ("L-H2", "none", False, 3),
                                              ("L-H3", "none", True, None), ("L-H4", "none", False, 2)):
        household = register_household(session, entity, code=code, head_name=f"户主{code[-1]}", village="联村",
                                       monitoring=monitoring, poverty_exited=exited, actor=CONSOLE)
        household.persons = persons
        register_member(session, entity, code=code, member_no=int(code[-1]), joined_on=dt.date(2020, 1, 1), actor=CONSOLE)
    rec(session, entity, "subsidies", date="2024-05-01", source="县产业资金", kind="fiscal", amount="5000.00",
        quantify="no")
    rec(session, entity, "subsidies", date="2025-05-01", source="衔接资金", kind="fiscal", amount="10000.00",
        quantify="no")
    rec(session, entity, "subsidies", date="2025-06-01", source="爱心企业", kind="donation", amount="3000.00",
        quantify="no")
    for code in ("L-H1", "L-H2"):
        rec(session, entity, "capital", date="2025-01-10", member=code, amount="1000.00")
    rec(session, entity, "deliveries", date="2025-06-10", member="L-H1", product="白菜", quantity="500", unit="jin",
        unit_price="2.00", paid_by="bank")
    rec(session, entity, "deliveries", date="2025-07-10", member="L-H2", product="白菜", quantity="300", unit="jin",
        unit_price="2.00", paid_by="bank")
    rec(session, entity, "deliveries", date="2026-07-10", member="L-H2", product="白菜", quantity="999", unit="jin",
        unit_price="2.00", paid_by="bank")                                   # another year: not in 2025's figures
    rec(session, entity, "labor", date="2025-06-01", member="L-H3", days="10", rate="120")
    rec(session, entity, "labor", date="2025-06-02", member="L-H1", days="2", rate="100")
    rec(session, entity, "land", member="L-H2", contract_no="L-TD-2", area_mu="2", base_rent_per_mu="500",
        start_on="2025-01-01", end_on="2025-12-31")
    rec(session, entity, "sales", date="2025-09-01", buyer="批发市场", product="白菜", amount="20000.00")
    rec(session, entity, "expenses", date="2025-10-01", category="operating", amount="2000.00")
    # surplus 20,000 − 2,000 − 1,600 deliveries − 1,400 wages − 1,000 rent = 14,000; reserve 1,400; DS 12,600:
    # patronage 7,560 by trade 1,000 : 600 -> 4,725.00 / 2,835.00; residual 5,040 by capital + reserve share
    # (1,000 + 875 : 1,000 + 525) -> 2,779.41 / 2,260.59
    distribute(session, entity, POLICY)
    # a neighbour without fiscal support, and one whose support comes only in 2026: neither is listed for 2025
    other = create_entity(session, code="L-OTHER", name="联乡茶叶合作社", kind="farmer_coop", township="联乡",
                          first_year=2025, actor=CONSOLE)
    rec(session, other, "subsidies", date="2025-03-01", source="爱心企业", kind="donation", amount="800.00")
    later = create_entity(session, code="L-LATER", name="联乡果业合作社", kind="farmer_coop", township="联乡",
                          first_year=2025, actor=CONSOLE)
    rec(session, later, "subsidies", date="2026-03-01", source="衔接资金", kind="fiscal", amount="800.00")
    return entity


def test_linkage_row_by_channel_equals_the_hand_computed_figures(coop, session):
    table = linkage_table(session, township_id=coop.township_id, year=2025)
    (row,) = table.rows
    assert row == {
        "entity": "L-COOP", "entity_name": "联乡蔬菜专业合作社", "fiscal_year": D("10000.00"), "fiscal_total": D("15000.00"),
        "households": 3, "persons": 7, "monitored": 1, "poverty_exited": 2,
        "dividends": D("12600.00"), "wages": D("1400.00"), "produce": D("1600.00"), "land_rent": D("1000.00"),
        "total": D("16600.00"), "monitored_benefit": D("7504.41") + D("1000.00") + D("200.00"),
        "per_household": D("5533.33")}
    assert table.totals["total"] == D("16600.00") and table.totals["households"] == 3
    assert table.totals["per_household"] == D("5533.33")
    assert [c.key for c in table.columns if c.total] == [
        "fiscal_year", "fiscal_total", "households", "persons", "monitored", "poverty_exited", "dividends", "wages",
        "produce", "land_rent", "total", "monitored_benefit"]
    assert linkage_table(session, township_id=coop.township_id, year=2024).rows[0]["fiscal_year"] == D("5000.00")


def test_linkage_households_list_the_households_reached(coop, session):
    table = linkage_households(session, township_id=coop.township_id, year=2025, entity_id=coop.id)
    assert [(r["household"], r["dividends"], r["wages"], r["produce"], r["land_rent"], r["total"]) for r in table.rows] == [
        ("L-H1", D("7504.41"), D("200.00"), D("1000.00"), D("0.00"), D("8704.41")),
        ("L-H2", D("5095.59"), D("0.00"), D("600.00"), D("1000.00"), D("6695.59")),
        ("L-H3", D("0.00"), D("1200.00"), D("0.00"), D("0.00"), D("1200.00"))]
    assert (table.rows[0]["monitoring"], table.rows[0]["poverty_exited"], table.rows[0]["persons"]) == ("unstable", True, 4)
    assert table.totals["total"] == D("16600.00") and table.totals["persons"] == 7
    assert linkage_households(session, township_id=coop.township_id, year=2023, entity_id=coop.id).rows == []


def test_linkage_counts_the_monitoring_in_force_in_the_year_not_todays_flag(coop, session, tmp_path):
    """Once a household has periods of the county's list, its flag no longer counts: L-H1 (flagged) was eliminated
    in 2024, L-H3 (not flagged) was monitored during 2025, L-H2 only from 2026; L-H4's flag, with no period, still
    counts (older data)."""
    from cooperatives.monitoring import import_monitoring_list, read_monitoring_list

    path = tmp_path / "list.csv"
    path.write_text("household,category,identified_on,eliminated_on\n"
                    "L-H1,unstable,2021-04-01,2024-11-30\n"
                    "L-H3,hardship,2024-06-01,2025-08-01\n"
                    "L-H3,marginal,2025-08-01,2025-10-01\n"
                    "L-H2,marginal,2026-01-10,\n", encoding="utf-8")
    import_monitoring_list(session, read_monitoring_list(path), township=coop.township, actor=CONSOLE)
    (row,) = linkage_table(session, township_id=coop.township_id, year=2025).rows
    assert (row["monitored"], row["monitored_benefit"]) == (1, D("1200.00"))        # L-H3 only
    table = linkage_households(session, township_id=coop.township_id, year=2025, entity_id=coop.id)
    assert {r["household"]: r["monitoring"] for r in table.rows} == {"L-H1": "none", "L-H2": "none",
                                                                       "L-H3": "marginal"}   # the last to end
    (row,) = linkage_table(session, township_id=coop.township_id, year=2024).rows
    assert row["monitored"] == 0                          # nothing reached anyone in 2024
    # the flag of a household with no period at all still counts
    h4 = session.scalar(select(Household).where(Household.code == "L-H4"))
    h4.monitoring = "hardship"
    rec(session, coop, "labor", date="2026-06-03", member="L-H4", days="1", rate="100")
    table = linkage_households(session, township_id=coop.township_id, year=2026, entity_id=coop.id)
    assert {r["household"]: r["monitoring"] for r in table.rows} == {"L-H2": "marginal", "L-H4": "hardship"}
    (row,) = [r for r in linkage_table(session, township_id=coop.township_id, year=2026).rows
              if r["entity"] == "L-COOP"]
    assert (row["monitored"], row["monitored_benefit"]) == (2, D("1998.00") + D("100.00"))


def test_household_benefits_by_year_and_channel(coop, session):
    h2 = session.scalar(select(Household.id).where(Household.code == "L-H2"))
    benefits = household_benefits(session, entity_ids=[coop.id])
    assert benefits[(coop.id, h2, 2026)].produce == D("1998.00") and benefits[(coop.id, h2, 2026)].dividends == 0
    assert benefits[(coop.id, h2, 2025)].total == D("6695.59")
    assert set(household_benefits(session, entity_ids=[coop.id], years=[2026])) == {(coop.id, h2, 2026)}
    assert household_benefits(session, entity_ids=[coop.id], years=[2024]) == {}


def test_a_cluster_project_reaches_households_through_its_villages(app, session):
    project = create_entity(session, code="P-GRAPE", name="联建大棚项目", kind="cluster_project", township="联乡",
                            first_year=2025, actor=CONSOLE)
    village = create_entity(session, code="P-V1", name="一村股份经济合作社", kind="collective", township="联乡",
                            village="一村", first_year=2025, actor=CONSOLE)
    for n, (code, shares) in enumerate((("P-H1", "1000.00"), ("P-H2", "3000.00")), 1):
        register_household(session, village, code=code, head_name=f"户主{n}", village="一村", monitoring="marginal" if n == 1 else "none", actor=CONSOLE)
        register_member(session, village, code=code, member_no=n, joined_on=dt.date(2020, 1, 1), actor=CONSOLE)
        rec(session, village, "capital", date="2025-01-02", member=code, amount=shares)
    link_member_entity(session, project, village, actor=CONSOLE)       # the township links the village to it
    register_member(session, project, code="P-V1", member_no=1, joined_on=dt.date(2024, 3, 1), actor=CONSOLE)
    rec(session, project, "capital", date="2025-01-02", member="P-V1", amount="100000.00")
    rec(session, project, "subsidies", date="2025-03-01", source="东西部协作资金", kind="fiscal", amount="50000.00",
        quantify="no")
    rec(session, project, "sales", date="2025-08-01", buyer="客商", product="葡萄", amount="10000.00")
    distribute(session, project, {"reserve_pct": "0", "reserve_quantify": "none", "deduct": [],
                                  "pools": [{"name": "investment", "pct": "100", "basis": "capital"}]})
    distribute(session, village, {"reserve_pct": "20", "reserve_quantify": "none", "deduct": [],
                                  "pools": [{"name": "shares", "pct": "100", "basis": "capital"}]})
    # the project's 10,000 is the village's income; 20 % kept, 8,000 split 1,000 : 3,000 -> 2,000 / 6,000
    (row,) = linkage_table(session, township_id=project.township_id, year=2025).rows
    assert (row["entity"], row["households"], row["monitored"], row["dividends"], row["total"]) == (
        "P-GRAPE", 2, 1, D("8000.00"), D("8000.00"))
    assert (row["monitored_benefit"], row["per_household"], row["fiscal_year"]) == (D("2000.00"), D("4000.00"),
                                                                                   D("50000.00"))
    households = linkage_households(session, township_id=project.township_id, year=2025, entity_id=project.id)
    assert [(r["household"], r["dividends"]) for r in households.rows] == [("P-H1", D("2000.00")),
                                                                           ("P-H2", D("6000.00"))]


# ------------------------------------------------------------------------- 家庭人口 from the workbook


def _sheets(persons_h: str | None = None, persons_m: str | None = None) -> dict:
    household = {"code": "WB-H1", "head_name": "王某", "village": "一村"}
    member = {"member": "WB-H1", "member_no": 1, "joined_on": "2024-01-01"}
    if persons_h is not None:
        household["persons"] = persons_h
    if persons_m is not None:
        member["persons"] = persons_m
    return {"entity": [{"code": "WB", "name": "测试合作社", "kind": "farmer_coop", "township": "测试乡"}],
            "households": [household], "members": [member]}


def test_persons_from_the_households_or_members_sheet_fill_the_household(app, session, tmp_path):
    from cooperatives.demo import import_sheets, write_csv_workbook
    from cooperatives.workbook import WorkbookError, read_workbook

    import_sheets(session, _sheets(persons_h="4"), "with-persons")
    assert session.scalar(select(Household.persons).where(Household.code == "WB-H1")) == 4
    again = {**_sheets(persons_m="5"), "members": [{"member": "WB-H1", "member_no": 1, "joined_on": "2024-01-01",
                                                    "persons": "5"}]}
    import_sheets(session, again, "members-persons")           # a registered household, counted again
    assert session.scalar(select(Household.persons).where(Household.code == "WB-H1")) == 5
    for bad in ("0", "31", "2.5", "四"):
        with pytest.raises(WorkbookError) as caught:
            read_workbook(write_csv_workbook(_sheets(persons_h=bad), tmp_path / f"bad{bad}"))
        assert "households:2:persons" in str(caught.value)
    # an empty 家庭人口 column leaves the digest as it was before the column existed
    plain = read_workbook(write_csv_workbook(_sheets(), tmp_path / "plain")).digest
    blank = read_workbook(write_csv_workbook(_sheets(persons_h="", persons_m=""), tmp_path / "blank")).digest
    assert plain == blank != read_workbook(write_csv_workbook(_sheets(persons_h="3"), tmp_path / "three")).digest

"""No N+1 on the township auditor's pages: each page runs the same number of SQL statements for a township
of one entity with one year as for one with more villages, entities, households, years, runs, integrity
checks and opinions. Two world sizes, the statements counted per page (never timed)."""

from __future__ import annotations

import datetime as dt

import pytest
from samples import POLICY_70_30, worked_example_workbook
from sqlalchemy import select

from cooperatives.access import CONSOLE, Principal
from cooperatives.models import Entity
from cooperatives.users import create_user
from payouts.oversight.integrity import check_integrity
from payouts.oversight.opinions import record_opinion
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
from payouts.runs.policy import load_policy_text

TOWNSHIP = "例乡"
PAGES = ["/oversight/", "/oversight/?year=2024", "/oversight/runs", "/oversight/integrity", "/oversight/anomalies",
         "/oversight/linkage?year=2025", "/oversight/opinions", "/oversight/e/WX", "/oversight/linkage/WX?year=2025",
         "/oversight/export/overview.xlsx?year=2025", "/oversight/export/runs.csv",
         "/oversight/export/anomalies.csv", "/oversight/export/linkage.xlsx?year=2025",
         "/oversight/anomalies?year=all&show=all", "/e/WX/findings?year=all&show=all"]


def distribute(session, entity: Entity, year: int) -> None:
    version = save_policy(session, entity, load_policy_text(POLICY_70_30), actor=CONSOLE)
    run = create_run(session, entity, year, policy_version=version, actor=CONSOLE)
    approve_run(session, run, meeting_date=dt.date(year + 1, 3, 1), attended=len(run.result["members"]),
                votes_for=len(run.result["members"]), actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, actor=CONSOLE)


def cooperative(code: str, village: str, households: int, years: tuple[int, ...]) -> dict:
    """A cooperative of ``households`` households (every third of unknown size) with trade, capital, a fiscal
    subsidy and sales in each of ``years``."""
    hh = [f"{code}-H{i:02d}" for i in range(1, households + 1)]
    sheets = {
        "entity": [["code", "name", "kind", "township", "village"], [code, f"{village}合作社", "farmer_coop", TOWNSHIP,
                                                                      village]],
        "households": [["code", "head_name", "village", "persons"],
                       *[[h, f"户主{h}", village, None if i % 3 == 0 else 2 + i % 4] for i, h in enumerate(hh)]],
        "members": [["member", "member_no", "joined_on"], *[[h, i, "2020-01-01"] for i, h in enumerate(hh, 1)]],
        "capital": [["date", "member", "amount"], *[[f"{years[0]}-01-02", h, "1000"] for h in hh]],
        "subsidies": [["date", "source", "kind", "amount"], [f"{years[0]}-03-01", "县财政衔接资金", "fiscal", "50000"]],
        "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                       *[[f"{y}-05-01", h, "茶叶", str(100 + i), "kg", "6", "bank"] for y in years for i, h in enumerate(hh)]],
        "sales": [["date", "buyer", "product", "amount"], *[[f"{y}-09-01", "茶企", "干茶", "90000"] for y in years]],
        "labor": [["date", "member", "days", "rate", "task"], *[[f"{y}-06-01", hh[0], "5", "120", "采茶"] for y in years]],
    }
    return sheets


@pytest.fixture
def small(world, session, cli, xlsx):
    """例乡 with one entity (the worked example, WX), one year, three households, one run."""
    assert cli("import", xlsx(worked_example_workbook())).exit_code == 0
    wx = session.scalar(select(Entity).where(Entity.code == "WX"))
    distribute(session, wx, 2025)
    create_user(session, username="aud_wx", password=world.password, role="auditor", display_name="例乡农经站",
                township_id=wx.township_id, actor=CONSOLE)
    session.commit()
    return wx


def grow(session, cli, xlsx, auditor_id: int) -> None:
    """Three more villages with a cooperative each (8–12 households, two years, two runs), an integrity
    check and opinions for every entity."""
    for n, (village, households) in enumerate((("二村", 8), ("三村", 10), ("四村", 12)), 1):
        code = f"GX{n}"
        result = cli("import", xlsx(cooperative(code, village, households, (2024, 2025))))
        assert result.exit_code == 0, result.output
        entity = session.scalar(select(Entity).where(Entity.code == code))
        for year in (2024, 2025):
            distribute(session, entity, year)
    for entity in session.scalars(select(Entity).join(Entity.township).where(Entity.township.has(name=TOWNSHIP))):
        check_integrity(session, entity, actor=Principal("auditor", user_id=auditor_id, township_id=entity.township_id))
        for year in (2024, 2025):
            record_opinion(session, entity, year=year, verdict="issues", text="抽查", actor=Principal("auditor", user_id=auditor_id, township_id=entity.township_id))
            record_opinion(session, entity, year=year, verdict="no_issue", text=None, actor=Principal("auditor", user_id=auditor_id, township_id=entity.township_id))
    session.commit()


def test_oversight_pages_make_no_query_per_village_entity_household_or_year(client, small, login, session, queries,
                                                                           cli, xlsx):
    from cooperatives.models import User

    login(client, "aud_wx")
    few = {}
    for path in PAGES:
        client.get(path)                             # warm: caches, lazily loaded templates
        with queries() as n:
            assert client.get(path).status_code == 200, path
        few[path] = n[0]
    auditor = session.scalar(select(User).where(User.username == "aud_wx"))
    grow(session, cli, xlsx, auditor.id)
    assert len(session.scalars(select(Entity).where(Entity.township_id == small.township_id)).all()) == 4
    session.expunge_all()                 # as after any request: nothing the growing loaded is cached
    many = {}
    for path in PAGES:
        with queries() as n:
            response = client.get(path)
            assert response.status_code == 200, path
        many[path] = n[0]
    grown = [p for p in PAGES if many[p] > few[p]]
    assert grown == [], {p: (few[p], many[p]) for p in grown}
    page = client.get("/oversight/?year=2025").get_data(as_text=True)
    assert all(code in page for code in ("GX1", "GX2", "GX3", "WX"))

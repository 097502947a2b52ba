"""The township auditor's monitored households (issue 18 §4): the page with its filters, chart and links, the county's
list uploaded by the township (refused whole, with every problem, when wrong), the export for the county, who may see
it — and the page's statements, which do not grow with the number of households."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.models import Entity, Household, MonitoringList, MonitoringPeriod
from cooperatives.monitoring import import_monitoring_list, read_monitoring_upload
from cooperatives.operations import create_entity, record, register_household, register_member

PAGE = "/oversight/monitoring?year=2025"
HEADER = ["household", "category", "identified_on", "eliminated_on", "persons"]


def list_csv(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def monitor(session, township, rows, name="county.csv"):
    """Import a county list through the operation, as the CLI does."""
    record_ = import_monitoring_list(session, read_monitoring_upload(list_csv(rows), name), township=township,
                                     actor=CONSOLE)
    session.commit()
    return record_


def deliver(session, entity, code, on, amount):
    values, problems = parse_form("deliveries", {"date": on, "member": code, "product": "藤茶鲜叶", "quantity": "1",
                                                 "unit": "kg", "unit_price": amount, "paid_by": "bank"})
    assert not problems, problems
    record(session, entity, "deliveries", values, actor=CONSOLE)


def add_households(session, entity, start: int, count: int, village: str = "茶园村") -> list[str]:
    """``count`` more member households of ``entity`` with a delivery in 2024 and a smaller one in 2025."""
    codes = []
    for n in range(start, start + count):
        code = f"A-M{n:03d}"
        register_household(session, entity, code=code, head_name=f"欧阳户{n}", village=village, actor=CONSOLE)
        register_member(session, entity, code=code, member_no=100 + n, joined_on=dt.date(2024, 1, 1), actor=CONSOLE)
        deliver(session, entity, code, "2024-05-01", "100.00")
        deliver(session, entity, code, "2025-05-01", "60.00")
        codes.append(code)
    session.commit()
    return codes


@pytest.fixture
def listed(world, session):
    """甲乡's list: A-H001 unstable (deliveries, land rent), A-H002 marginal (wages), A-H003 hardship (a member who
    received nothing) of TA-COOP; A-M001 of 溪头村, member of a tea cooperative since 2024, whose income fell by 40 %;
    an unknown code and a household of 乙镇, unmatched. Returns the tea cooperative."""
    coop = session.scalar(select(Entity).where(Entity.code == world.a))
    entity = create_entity(session, code="TA-TEA", name="溪头村茶叶合作社", kind="farmer_coop", township="甲乡",
                           village="溪头村", first_year=2024, actor=CONSOLE)
    add_households(session, entity, 1, 1, village="溪头村")
    record_ = monitor(session, coop.township, [
        ["A-H001", "unstable", "2021-04-01", "", "4"], ["A-H002", "marginal", "2022-01-01", "", "2"],
        ["A-H003", "hardship", "2024-02-01", "", ""], ["A-M001", "marginal", "2023-01-01", "", "3"],
        ["ZZ-404", "hardship", "2024-02-01", "", ""], ["B-H001", "unstable", "2022-01-01", "", ""]])
    assert (record_.matched, record_.unmatched) == (4, 2)
    return entity


def cell(page: str, code: str, key: str) -> str:
    """The text of column ``key`` in household ``code``'s row of the table."""
    row = page.split(f">{code}<", 1)[1].split("</tr>", 1)[0]
    found = re.search(rf'data-key="{key}">(.*?)</td>', row, re.S)
    assert found, (code, key)
    return re.sub(r"<[^>]+>", "", found.group(1)).replace(",", "").replace("¥", "").strip()


def rows_of(page: str) -> list[str]:
    return sorted(code for code in ("A-H001", "A-H002", "A-H003", "A-M001") if f">{code}<" in page)


def test_the_page_lists_the_monitored_households_with_their_income_and_warnings(client, login, world, listed):
    login(client, "aud_a")
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert rows_of(page) == ["A-H001", "A-H002", "A-H003", "A-M001"]
    assert "王*山" in page and "王大山" not in page              # the head's name masked
    assert "欧**1" in page and "欧阳户1" not in page
    assert "<svg" in page and 'id="monitored"' in page         # the chart and the table
    # each household links to its member page in the entity where it received most
    assert f'href="/e/{world.a}/members/A-H001"' in page
    assert f'href="/e/{listed.code}/members/A-M001"' in page
    assert client.get(f"/e/{listed.code}/members/A-M001").status_code == 200          # the auditor reads it
    # A-M001: 100 in 2024, 60 in 2025 (down 40 %); A-H003 a member who received nothing; A-H001 no warning
    assert (cell(page, "A-M001", "total"), cell(page, "A-M001", "previous_total")) == ("60.00", "100.00")
    assert "40.00" in cell(page, "A-M001", "warnings") and "2024" in cell(page, "A-H003", "warnings")
    assert cell(page, "A-H001", "warnings") == "" and cell(page, "A-H001", "per_person") != ""
    assert cell(page, "A-H002", "wages") == "360.00"
    assert 'data-total="total"' in page
    assert "/oversight/monitoring.xlsx?year=2025" in page
    assert "ZZ-404" not in page and "B-H001" not in page


def test_the_filters_filter(client, login, listed):
    login(client, "aud_a")

    def shown(query: str) -> list[str]:
        response = client.get(f"{PAGE}&{query}")
        assert response.status_code == 200
        return rows_of(response.get_data(as_text=True))

    assert shown("category=unstable") == ["A-H001"]
    assert shown("category=hardship") == ["A-H003"]
    assert shown("village=溪头村") == ["A-M001"]
    assert shown("village=茶园村") == ["A-H001", "A-H002", "A-H003"]
    assert shown("warning=nothing_received") == ["A-H003"]
    assert shown("warning=income_fell") == ["A-M001"]
    assert shown("warning=any") == ["A-H003", "A-M001"]
    assert shown("warning=any&village=溪头村&category=marginal") == ["A-M001"]
    assert shown("category=nonsense") == ["A-H001", "A-H002", "A-H003", "A-M001"]      # an unknown value: ignored


def test_others_see_none_of_it(client, login, listed, session):
    for user in ("acc_a", "mem_a"):
        client.get("/logout")
        login(client, user)
        for path in (PAGE, "/oversight/monitoring/lists", "/oversight/monitoring.csv?year=2025"):
            assert client.get(path).status_code in (403, 404), (user, path)
    client.get("/logout")
    login(client, "aud_b")                 # another township's auditor: his own township, none of 甲乡's households
    page = client.get(PAGE).get_data(as_text=True)
    assert rows_of(page) == []
    assert "county.csv" not in client.get("/oversight/monitoring/lists").get_data(as_text=True)
    export = client.get("/oversight/monitoring.csv?year=2025").get_data(as_text=True)
    assert "A-H00" not in export


def test_the_lists_page_shows_the_history_and_the_unmatched_rows(client, login, listed):
    login(client, "aud_a")
    page = client.get("/oversight/monitoring/lists").get_data(as_text=True)
    assert "county.csv" in page and 'id="monitoring-lists"' in page
    unmatched = page.split('id="list-')[1]
    assert "ZZ-404" in unmatched and "B-H001" in unmatched          # listed for the township, with their rows


def test_an_upload_imports_the_list_for_the_auditors_township(client, login, csrf, listed, session):
    login(client, "aud_a")
    token = csrf(client, "/oversight/monitoring/lists")
    body = list_csv([["A-H002", "marginal", "2022-01-01", "2025-06-30", "2"],       # closes A-H002's period
                     ["A-H003", "hardship", "2024-02-01", "", ""], ["B-H002", "hardship", "2024-02-01", "", ""]])
    response = client.post("/oversight/monitoring/lists", data={"list": (io.BytesIO(body), "county-2.csv"),
                                                                "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    record_ = session.scalar(select(MonitoringList).order_by(MonitoringList.id.desc()).limit(1))
    assert (record_.filename, record_.township_id, record_.matched, record_.unmatched, record_.closed) == (
        "county-2.csv", listed.township_id, 2, 1, 1)
    h2 = session.scalar(select(Household.id).where(Household.code == "A-H002"))
    assert session.scalars(select(MonitoringPeriod.eliminated_on).where(MonitoringPeriod.household_id == h2)).all() == [
        dt.date(2025, 6, 30)]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "county-2.csv" in page and "B-H002" in page              # the other township's household: unmatched


def test_a_bad_list_is_refused_with_every_problem_and_nothing_imported(client, login, csrf, listed, session):
    login(client, "aud_a")
    token = csrf(client, "/oversight/monitoring/lists")
    lists = session.scalar(select(func.count(MonitoringList.id)))
    periods = session.scalar(select(func.count(MonitoringPeriod.id)))
    body = list_csv([["A-H002", "rich", "2022-01-01", "", ""], ["A-H003", "hardship", "not a date", "", ""]])
    response = client.post("/oversight/monitoring/lists", data={"list": (io.BytesIO(body), "bad.csv"),
                                                                "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="list-problems"' in page
    problems = page.split('id="list-problems"')[1].split("</table>")[0]
    assert problems.count("<tr>") == 3                             # a header and both rows' problems
    assert ">2<" in problems and ">3<" in problems and "category" in problems
    assert session.scalar(select(func.count(MonitoringList.id))) == lists
    assert session.scalar(select(func.count(MonitoringPeriod.id))) == periods
    # no file at all
    response = client.post("/oversight/monitoring/lists", data={"csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 422


def test_the_export_has_a_row_per_household_entity_and_channel(client, login, listed, session):
    login(client, "aud_a")
    response = client.get("/oversight/monitoring.csv?year=2025")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert len(header) == 8
    by_code: dict[str, list[list[str]]] = {}
    for row in body:
        by_code.setdefault(row[0], []).append(row)
    assert sorted(by_code) == ["A-H001", "A-H002", "A-H003", "A-M001"]
    assert by_code["A-H001"][0][1] == "王大山"                       # the county's form names the head
    assert {row[4] for row in by_code["A-H001"]} == {"甲乡藤茶专业合作社"}
    assert len(by_code["A-H001"]) == 2                             # produce and land rent
    assert [row[6:] for row in by_code["A-H002"]] == [["360.00", "2025"]]      # 3 days at 120
    assert [row[4:7] for row in by_code["A-H003"]] == [["", "", "0.00"]]      # nothing received: still listed
    assert [row[6] for row in by_code["A-M001"]] == ["60.00"]
    assert Decimal(total[6]) == sum(Decimal(row[6]) for row in body)
    # the filters apply; the XLSX holds the same rows
    filtered = client.get("/oversight/monitoring.csv?year=2025&category=marginal").data.decode("utf-8-sig")
    assert {row[0] for row in list(csv.reader(io.StringIO(filtered)))[1:-1]} == {"A-H002", "A-M001"}
    book = load_workbook(io.BytesIO(client.get("/oversight/monitoring.xlsx?year=2025").data))
    sheet = book.active
    assert [sheet.cell(r, 1).value for r in range(4, 4 + len(body))] == [row[0] for row in body]


def test_the_admin_picks_the_township(client, login, listed):
    login(client, "admin")
    page = client.get(f"{PAGE}&township={listed.township_id}").get_data(as_text=True)
    assert rows_of(page) == ["A-H001", "A-H002", "A-H003", "A-M001"]
    assert f"township={listed.township_id}" in page


def test_the_statements_do_not_grow_with_the_households(client, login, listed, session, queries):
    login(client, "aud_a")

    def statements() -> int:
        assert client.get(PAGE).status_code == 200         # warm
        with queries() as seen:
            assert client.get(PAGE).status_code == 200
        return seen[0]

    def tea():                                              # (requests close the session: fetched again)
        return session.scalar(select(Entity).where(Entity.code == "TA-TEA"))

    add_households(session, tea(), 2, 2, village="茶园村")    # N = 6 monitored households
    monitor(session, tea().township, [[f"A-M{n:03d}", "marginal", "2023-01-01", "", "3"] for n in range(2, 4)],
            name="more.csv")
    few = statements()
    add_households(session, tea(), 4, 12, village="溪头村")    # 3N = 18
    monitor(session, tea().township, [[f"A-M{n:03d}", "hardship", "2023-01-01", "", ""] for n in range(4, 16)],
            name="most.csv")
    page = client.get(PAGE).get_data(as_text=True)
    assert "A-M015" in page and "A-M002" in page
    assert statements() == few

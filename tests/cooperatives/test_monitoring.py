"""The county's list of monitored households (issue 18): matched by ID number (keyed digest) or household code,
kept as each household's history of periods — a newer list closes and opens periods, never overwrites; unmatched
rows listed; a bad row refuses the whole list."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE, Forbidden, Principal
from cooperatives.models import Household, MonitoringList, MonitoringPeriod
from cooperatives.monitoring import (
    MonitoringError,
    import_monitoring_list,
    listed_rows,
    monitored_during,
    periods_in_force,
    read_monitoring_list,
)
from cooperatives.operations import create_entity, register_household
from cooperatives.workbook import id_check_digit

HEADER = ["id_number", "household", "category", "identified_on", "eliminated_on", "source", "persons"]


def id_number(n: int) -> str:
    body = f"42280219800101{n:03d}"
    return body + id_check_digit(body)


def write_list(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def world(app, session):
    """金果坪 with households M-H1 (ID number known), M-H2 and M-H3 (codes only); 百乐 with M-B1."""
    coop = create_entity(session, code="M-COOP", name="金果坪茶叶合作社", kind="farmer_coop", township="金果坪乡",
                         village="九管坪村", first_year=2024, actor=CONSOLE)
    other = create_entity(session, code="M-OTHER", name="百乐合作社", kind="farmer_coop", township="百乐乡",
                          village="百乐村", first_year=2024, actor=CONSOLE)
    register_household(session, coop, code="M-H1", head_name="向某", village="九管坪村", id_number=id_number(1),
                       actor=CONSOLE)
    register_household(session, coop, code="M-H2", head_name="李某", village="九管坪村", actor=CONSOLE)
    register_household(session, coop, code="M-H3", head_name="张某", village="九管坪村", actor=CONSOLE)
    register_household(session, other, code="M-B1", head_name="王某", village="百乐村", id_number=id_number(9),
                       actor=CONSOLE)
    return coop, other


def periods(session, code):
    return [(p.category, p.identified_on.isoformat(), p.eliminated_on and p.eliminated_on.isoformat(), p.source,
             p.persons, p.list_id)
            for p in session.scalars(select(MonitoringPeriod).join(Household).where(Household.code == code)
                                     .order_by(MonitoringPeriod.id))]


def test_a_list_imported_twice_with_changes_keeps_the_full_history(world, session, tmp_path):
    coop, _ = world
    township = coop.township
    first = read_monitoring_list(write_list(tmp_path / "2024.csv", [
        [id_number(1), "", "unstable", "2021-04-01", "", "干部排查", "4"],          # by ID number
        ["", "M-H2", "marginal", "2022-05-01", "", "农户自主申报", "3"],            # by code
        ["", "M-H3", "hardship", "2023-06-01", "2024-03-01", "部门筛查预警", ""],     # already ended
        [id_number(7), "", "marginal", "2022-01-01", "", "", ""],               # in no entity: listed
        ["", "M-B1", "hardship", "2022-01-01", "", "", ""],                     # another township's: listed
    ]))
    one = import_monitoring_list(session, first, township=township, actor=CONSOLE)
    assert (one.rows, one.matched, one.unmatched, one.opened, one.closed, one.conflicts) == (5, 3, 2, 3, 0, 0)
    assert [(u["row"], u["who"], u["reason"]) for u in listed_rows(one).unmatched] == [
        (5, "4228**********0071"[:4] + "*" * 10 + id_number(7)[-4:], "unknown_id"), (6, "M-B1", "other_township")]
    assert id_number(7) not in one.unmatched_json                                  # never stored in clear
    h1_first = periods(session, "M-H1")
    assert h1_first == [("unstable", "2021-04-01", None, "干部排查", 4, one.id)]

    second = read_monitoring_list(write_list(tmp_path / "2025.csv", [
        [id_number(1), "", "unstable", "2021-04-01", "", "干部排查", "4"],          # identical: nothing changes
        ["", "M-H2", "marginal", "2022-05-01", "2025-06-30", "另一来源", "5"],      # closes M-H2's period
        ["", "M-H2", "hardship", "2025-09-01", "", "因病", "5"],                  # a new period opens
        ["", "M-H3", "hardship", "2023-06-01", "", "", ""],                     # says open: the period stays closed
        ["", "M-H3", "hardship", "2023-06-01", "2024-03-01", "", ""],           # as recorded: nothing
    ]))
    two = import_monitoring_list(session, second, township=township, actor=CONSOLE)
    assert (two.rows, two.matched, two.unmatched, two.opened, two.closed, two.conflicts) == (5, 5, 0, 1, 1, 1)
    assert periods(session, "M-H1") == h1_first
    assert periods(session, "M-H2") == [
        ("marginal", "2022-05-01", "2025-06-30", "农户自主申报", 3, one.id),        # source and size as first recorded
        ("hardship", "2025-09-01", None, "因病", 5, two.id)]
    assert periods(session, "M-H3") == [("hardship", "2023-06-01", "2024-03-01", "部门筛查预警", None, one.id)]
    (conflict,) = listed_rows(two).conflicts
    assert (conflict["row"], conflict["household"], conflict["reason"]) == (5, "M-H3", "still_open")
    assert "closed on 2024-03-01" in conflict["message"]

    three = import_monitoring_list(session, second, township=township, actor=CONSOLE)   # the same list again
    assert (three.opened, three.closed, three.conflicts) == (0, 0, 1)
    assert session.scalar(select(func.count(MonitoringPeriod.id))) == 4
    assert session.scalar(select(func.count(MonitoringList.id))) == 3

    h = {code: session.scalar(select(Household.id).where(Household.code == code)) for code in ("M-H1", "M-H2", "M-H3")}
    in_force = periods_in_force(session, h.values(), dt.date(2025, 7, 1))
    assert {hid: p.category for hid, p in in_force.items()} == {h["M-H1"]: "unstable"}   # M-H2 ended 30 June
    during = monitored_during(session, township.id, 2025)
    assert {hid: p.category for hid, p in during.items()} == {h["M-H1"]: "unstable", h["M-H2"]: "hardship"}
    during_2024 = monitored_during(session, township.id, 2024)
    assert {hid: p.category for hid, p in during_2024.items()} == {
        h["M-H1"]: "unstable", h["M-H2"]: "marginal", h["M-H3"]: "hardship"}


def test_the_end_of_a_closed_period_is_never_moved(world, session, tmp_path):
    coop, _ = world
    rows = [["", "M-H2", "marginal", "2022-05-01", "2024-01-31", "", ""]]
    import_monitoring_list(session, read_monitoring_list(write_list(tmp_path / "a.csv", rows)),
                           township=coop.township, actor=CONSOLE)
    later = import_monitoring_list(session, read_monitoring_list(write_list(tmp_path / "b.csv", [
        ["", "M-H2", "marginal", "2022-05-01", "2024-02-29", "", ""]])), township=coop.township, actor=CONSOLE)
    assert later.conflicts == 1 and listed_rows(later).conflicts[0]["reason"] == "other_end"
    assert periods(session, "M-H2")[0][2] == "2024-01-31"


def test_chinese_headers_and_an_xlsx_sheet_named_监测对象(world, session, tmp_path):
    import openpyxl

    coop, _ = world
    book = openpyxl.Workbook()
    book.active.title = "说明"
    sheet = book.create_sheet("监测对象")
    sheet.append(["身份证号", "户号", "监测类型", "识别日期", "风险消除日期", "识别方式", "家庭人口"])
    sheet.append([id_number(1), None, "脱贫不稳定户", "2021-04-01", None, "干部排查", 4])
    book.save(tmp_path / "list.xlsx")
    found = read_monitoring_list(tmp_path / "list.xlsx")
    record = import_monitoring_list(session, found, township=coop.township, actor=CONSOLE)
    assert (record.matched, record.opened, record.filename, len(record.sha256)) == (1, 1, "list.xlsx", 64)
    assert periods(session, "M-H1")[0][:2] == ("unstable", "2021-04-01")


def test_bad_rows_refuse_the_whole_list_with_located_problems(world, session, tmp_path):
    path = write_list(tmp_path / "bad.csv", [
        ["", "M-H1", "unstable", "2021-04-01", "", "", ""],                     # good, but not imported
        ["", "M-H2", "poor", "2022-05-01", "", "", ""],
        ["", "M-H2", "marginal", "2022-13-01", "", "", ""],
        ["", "M-H3", "hardship", "2023-06-01", "2023-05-31", "", ""],
        ["", "", "hardship", "2023-06-01", "", "", ""],
    ])
    with pytest.raises(MonitoringError) as caught:
        read_monitoring_list(path)
    located = [(p.sheet, p.row, p.column, p.code) for p in caught.value.problems]
    assert located[0] == ("bad", 3, "category", "unknown_value")
    assert ("bad", 4, "identified_on") == located[1][:3]
    assert located[2] == ("bad", 5, "eliminated_on", "monitoring_eliminated_before")
    assert located[3] == ("bad", 6, "id_number", "monitoring_no_household")
    assert len(located) == 4
    assert session.scalar(select(func.count(MonitoringPeriod.id))) == 0
    with pytest.raises(MonitoringError) as missing:
        read_monitoring_list(write_list(tmp_path / "cols.csv", [["M-H1"]], header=["household"]))
    assert {p.column for p in missing.value.problems} == {"category", "identified_on"}


def test_only_the_townships_auditor_or_the_admin_imports_it(world, session, tmp_path):
    coop, other = world
    found = read_monitoring_list(write_list(tmp_path / "a.csv", [["", "M-H2", "marginal", "2022-05-01", "", "", ""]]))
    auditor = Principal("auditor", user_id=77, township_id=coop.township_id)
    for wrong in (Principal("auditor", user_id=78, township_id=other.township_id),
                  Principal("accountant", user_id=79, entity_id=coop.id)):
        with pytest.raises(Forbidden):
            import_monitoring_list(session, found, township=coop.township, actor=wrong)
    with pytest.raises(Forbidden):
        import_monitoring_list(session, found, actor=auditor)                   # every township: the admin only
    record = import_monitoring_list(session, found, township=coop.township, actor=auditor)
    assert (record.imported_by, record.opened) == (77, 1)


def test_the_households_sheet_opens_a_period_from_the_import_date(app, session):
    from cooperatives.demo import import_sheets
    from ledger.clock import china_today

    sheets = {"entity": [{"code": "M-WB", "name": "测试合作社", "kind": "farmer_coop", "township": "测试乡"}],
              "households": [{"code": "M-W1", "head_name": "王某", "village": "一村", "monitoring": "边缘易致贫户"},
                             {"code": "M-W2", "head_name": "李某", "village": "一村", "monitoring": "none"}],
              "members": [{"member": "M-W1", "member_no": 1, "joined_on": "2024-01-01"},
                          {"member": "M-W2", "member_no": 2, "joined_on": "2024-01-01"}]}
    import_sheets(session, sheets, "with-monitoring")
    assert periods(session, "M-W1") == [("marginal", china_today().isoformat(), None, "households sheet", None, None)]
    assert periods(session, "M-W2") == []
    assert session.scalar(select(Household.monitoring).where(Household.code == "M-W1")) == "marginal"


def test_an_import_workbook_does_not_take_a_monitoring_sheet(app, tmp_path):
    from cooperatives.demo import write_csv_workbook
    from cooperatives.workbook import WorkbookError, read_workbook

    sheets = {"entity": [{"code": "M-WB", "name": "测试合作社", "kind": "farmer_coop", "township": "测试乡"}],
              "monitoring": [{"household": "M-W1", "category": "marginal", "identified_on": "2022-01-01"}]}
    with pytest.raises(WorkbookError) as caught:
        read_workbook(write_csv_workbook(sheets, tmp_path / "wb"))
    assert [p.code for p in caught.value.problems] == ["unknown_sheet"]

"""The demo's county lists of monitored households (防止返贫监测对象, issue 18), imported through the real operation.

Each list is built here as the county sends it — a spreadsheet of 身份证号, 户号, 监测类型, 识别日期, 风险消除日期,
识别方式, 家庭人口 —, written to bytes (nothing on disk), read by
:func:`cooperatives.monitoring.read_monitoring_upload` and imported by
:func:`cooperatives.monitoring.import_monitoring_list` as the console, for its township. A row names its household by
ID number (the number the demo registered, decrypted from the household's record), by household code, or by both,
as county lists do. Deterministic (fixed dates and a fixed seed); loaded by ``payouts.admin.demo.load_demo_world``
only while no list has been imported. ``docs/DEMO.md`` tells what each list holds and which warnings it produces.

* 金果坪乡, one list (2025年12月): the three monitored households of ``JGP-VEG`` (``VEG-H005`` 向长生 脱贫不稳定户,
  whose income fell; ``VEG-H006`` 田翠花 边缘易致贫户, a member who received nothing; ``VEG-H002`` 田桂兰
  突发严重困难户), four households of ``JGP-TEA`` whose risk was eliminated by the end of 2023 (history), and one row of a
  household in no entity (unmatched). ``JGP-TEA``, supported with ¥200,000 in 2025, reached none of the three
  households monitored in its two villages in 2025: ``no_linkage``.
* 百乐乡, two lists (2025年6月, then 2025年12月): every village household the households sheets flag as monitored,
  with the flag's category; four households whose risk was eliminated during 2025; ``TL-V07-H002``, marginal since
  2022, eliminated in August 2025 and identified again in October as a hardship household (two periods); one row of a
  household in no entity (unmatched).
"""

from __future__ import annotations

import datetime as dt
import random

import openpyxl
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.demo import TOWNSHIP, id_number
from cooperatives.models import Household, MonitoringList, Township, Village
from cooperatives.monitoring import import_monitoring_list, read_monitoring_upload
from cooperatives.privacy import decrypt
from ledger.cells import save_workbook

LABELS = {"unstable": "脱贫不稳定户", "marginal": "边缘易致贫户", "hardship": "突发严重困难户"}
SOURCES = ("农户自主申报", "干部排查", "部门筛查预警")
HEADER = ("序号", "身份证号", "户号", "监测类型", "识别日期", "风险消除日期", "识别方式", "家庭人口")

#: the named cases docs/DEMO.md describes and tests/payouts/test_demo.py checks
INCOME_FELL = "VEG-H005"            # 向长生: 5,200 斤 of cabbage in 2024, 900 in 2025
NOTHING_RECEIVED = "VEG-H006"       # 田翠花: a member since 2025-01-01 with nothing to trade
NO_LINKAGE = "JGP-TEA"              # ¥200,000 of 2025 产业发展资金; its listed members' risk eliminated by 2023
TWO_PERIODS = "TL-V07-H002"         # marginal 2022 → eliminated 2025-08-15; hardship from 2025-10-09

#: 金果坪乡: household, category, identified, eliminated, source, named by ("id", "code" or "both"). The tea
#: cooperative's households were eliminated by the end of 2023: its books start in 2025, so a member monitored in 2024
#: would show as having received nothing that year (``nothing_received``) only because coopledger holds no 2024 of it
JGP_ROWS = (
    ("VEG-H005", "unstable", dt.date(2021, 6, 15), None, "干部排查", "id"),
    ("VEG-H006", "marginal", dt.date(2024, 11, 20), None, "农户自主申报", "id"),
    ("VEG-H002", "hardship", dt.date(2023, 8, 3), None, "部门筛查预警", "code"),
    ("JGP-H007", "unstable", dt.date(2021, 4, 12), dt.date(2022, 12, 20), "干部排查", "id"),
    ("JGP-H012", "marginal", dt.date(2021, 3, 8), dt.date(2023, 6, 30), "农户自主申报", "code"),
    ("JGP-H025", "hardship", dt.date(2022, 5, 16), dt.date(2023, 11, 15), "部门筛查预警", "id"),
    ("JGP-H033", "unstable", dt.date(2021, 9, 1), dt.date(2023, 12, 31), "干部排查", "both"),
)
#: 百乐乡: households the sheets do not flag (their risk eliminated during 2025): category, identified, source,
#: eliminated — by the first list (June) or only by the second (December)
TL_ELIMINATED = (
    ("TL-V01-H007", "unstable", dt.date(2021, 5, 10), "干部排查", dt.date(2025, 3, 28), "first"),
    ("TL-V03-H002", "marginal", dt.date(2023, 2, 20), "农户自主申报", dt.date(2025, 4, 30), "first"),
    ("TL-V05-H009", "marginal", dt.date(2022, 7, 5), "部门筛查预警", dt.date(2025, 9, 26), "second"),
    ("TL-V08-H004", "unstable", dt.date(2021, 11, 3), "干部排查", dt.date(2025, 11, 18), "second"),
)
#: TWO_PERIODS: its first period (closed by the second list) and its second (opened by it)
TL_FIRST = ("marginal", dt.date(2022, 4, 18), "干部排查", dt.date(2025, 8, 15))
TL_SECOND = ("hardship", dt.date(2025, 10, 9), "部门筛查预警")
#: a household on each county list that is in no entity of coopledger (listed, never refused)
UNLISTED = {"jgp": ("marginal", id_number(dt.date(1968, 9, 23), 911), dt.date(2024, 2, 26), "农户自主申报"),
            "tl": ("unstable", id_number(dt.date(1975, 1, 30), 988, "451029"), dt.date(2022, 6, 7), "干部排查")}


def has_lists(session: Session) -> bool:
    return session.scalar(select(MonitoringList.id).limit(1)) is not None


def _households(session: Session, township: Township) -> dict[str, Household]:
    return {h.code: h for h in session.scalars(select(Household).join(Village, Village.id == Household.village_id)
                                               .where(Village.township_id == township.id).order_by(Household.code))}


def _row(household: Household | None, category: str, identified: dt.date, eliminated: dt.date | None, source: str,
         by: str = "id", id_no: str | None = None) -> list:
    id_no = id_no or (decrypt(household.id_number_enc) if by in ("id", "both") else None)
    code = household.code if household is not None and by in ("code", "both") else None
    persons = household.persons if household is not None else 3
    return [id_no, code, LABELS[category], identified, eliminated, source, persons]


def list_file(rows: list[list]) -> bytes:
    """The county's list as an .xlsx file (sheet 监测对象): its header, then each row numbered."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "监测对象"
    sheet.append(list(HEADER))
    for n, row in enumerate(rows, 1):
        sheet.append([n, *row])
    return save_workbook(book)


def _import(session: Session, township: Township, rows: list[list], filename: str) -> MonitoringList:
    source = read_monitoring_upload(list_file(rows), filename)
    return import_monitoring_list(session, source, township=township, actor=CONSOLE)


def jgp_rows(session: Session, township: Township) -> list[list]:
    households = _households(session, township)
    rows = [_row(households[code], category, identified, eliminated, source, by)
            for code, category, identified, eliminated, source, by in JGP_ROWS]
    category, id_no, identified, source = UNLISTED["jgp"]
    return [*rows, _row(None, category, identified, None, source, id_no=id_no)]


def tl_rows(session: Session, township: Township, *, second: bool) -> list[list]:
    """百乐乡's list in June (``second`` False) or December 2025: every household its sheets flag as monitored with
    the flag's category (identified 2021–2024 by a drawn source; half named by ID number, a quarter by code, a quarter
    by both), the households eliminated during 2025, :data:`TWO_PERIODS`' history and the unmatched row."""
    households = _households(session, township)
    rng = random.Random(20251215)
    rows = []
    for code, household in households.items():
        if household.monitoring == "none" or code == TWO_PERIODS:
            continue
        identified = dt.date(rng.randint(2021, 2024), rng.randint(1, 12), rng.randint(1, 28))
        by = rng.choice(("id", "id", "code", "both"))
        rows.append(_row(household, household.monitoring, identified, None, rng.choice(SOURCES), by))
    for code, category, identified, source, eliminated, when in TL_ELIMINATED:
        end = eliminated if second or when == "first" else None
        rows.append(_row(households[code], category, identified, end, source, "id"))
    category, identified, source, eliminated = TL_FIRST
    rows.append(_row(households[TWO_PERIODS], category, identified, eliminated if second else None, source, "both"))
    if second:
        category, identified, source = TL_SECOND
        rows.append(_row(households[TWO_PERIODS], category, identified, None, source, "both"))
    category, id_no, identified, source = UNLISTED["tl"]
    rows.append(_row(None, category, identified, None, source, id_no=id_no))
    return rows


def load_monitoring_lists(session: Session, cluster_township: str) -> bool:
    """Import the demo's county lists — 金果坪乡's and those of ``cluster_township`` (百乐乡:
    ``payouts.admin.demo.CLUSTER_TOWNSHIP``) — unless a list has been imported already. Flushes only. Returns whether
    it imported them (False too when a township of the demo is missing)."""
    if has_lists(session):
        return False
    jgp = session.scalar(select(Township).where(Township.name == TOWNSHIP))
    tl = session.scalar(select(Township).where(Township.name == cluster_township))
    if jgp is None or tl is None:
        return False
    _import(session, jgp, jgp_rows(session, jgp), "金果坪乡防止返贫监测对象名单（2025年12月）.xlsx")
    _import(session, tl, tl_rows(session, tl, second=False), "百乐乡防止返贫监测对象名单（2025年6月）.xlsx")
    _import(session, tl, tl_rows(session, tl, second=True), "百乐乡防止返贫监测对象名单（2025年12月）.xlsx")
    return True

"""Monitored households (防止返贫监测对象, reference/domain.md §5.3): the county's list, matched to households, kept
as each household's history of periods.

The county keeps the list (全国防返贫监测信息系统): each monitored household with its category — 脱贫不稳定户
``unstable``, 边缘易致贫户 ``marginal``, 突发严重困难户 ``hardship`` —, the day it was identified, the day its risk
was eliminated (风险消除) once it is, how it was identified and the household's size. The township imports it as
it is, as often as the county sends it (INTERFACES §2 ``coopledger monitoring import``).

The list (sheet ``monitoring`` 监测对象, or a lone sheet or CSV file): id_number or household (one of them), category*,
identified_on*, eliminated_on, source, persons. A row is matched to a household by its ID number — through the keyed
digest (:func:`cooperatives.privacy.digest` against ``Household.id_number_digest``; nothing is decrypted) — or by its
household code, and only to households of the township it is imported for.

History, never overwritten (:func:`import_monitoring_list`):

* a row naming a household's period (same category, same identified_on) that is open closes it when it gives
  eliminated_on — the end is set once; category and identified_on never change;
* a row with a new (category, identified_on) opens a new period (already closed when it gives eliminated_on);
* a row saying what is already recorded changes nothing (a list imported twice changes nothing the second time);
* a row contradicting a period already closed (still open, or closed on another day) changes nothing and is
  listed as a conflict;
* a row that matches no household is listed (households in no entity are normal), never refused;
* a bad row — unknown category, a date that is not one, eliminated before identified, neither ID number nor
  household — refuses the whole list, with every problem located (sheet, row, column), and nothing is imported.

The households sheet of an import workbook keeps its ``monitoring`` column (``Household.monitoring``, the current
flag other code reads); a household registered there with a category also gets a period from the import's date
(:func:`open_sheet_periods`).

A period is in force on a day ``d`` when ``identified_on <= d`` and it has no end or ``d < eliminated_on`` (the day
the risk was eliminated it is no longer in force).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from cooperatives.access import Principal, Rule, operation
from cooperatives.limits import DEFAULT_LIMITS, ReadLimits
from cooperatives.models import (
    MONITORING_CATEGORIES,
    Household,
    MonitoringList,
    MonitoringPeriod,
    Township,
    Village,
)
from cooperatives.privacy import digest, mask
from cooperatives.workbook import (
    CODE,
    DATE,
    INT,
    MAX_PERSONS,
    TEXT,
    Column,
    Row,
    SheetSpec,
    WorkbookError,
    _csv_rows,
    _guarded,
    _key,
    _open_xlsx,
    _ReadError,
    _SheetReader,
    _xlsx_sheets,
    enum,
)
from ledger.clock import china_today
from ledger.errors import Problem
from ledger.i18n import N_, Message, msg

#: what a period opened from an import workbook's households sheet gives as its source (label: 户表)
SHEET_SOURCE = "households sheet"
SOURCE_LABELS = {SHEET_SOURCE: N_("households sheet")}

CATEGORY = enum(MONITORING_CATEGORIES, {
    "脱贫不稳定户": "unstable", "脱贫不稳定": "unstable", "边缘易致贫户": "marginal", "边缘易致贫": "marginal",
    "突发严重困难户": "hardship", "突发严重困难": "hardship"})
#: the longest text the stored fields take (a longer value is a row problem, never a database error)
_LIMITS = {"household": 40, "source": 100}


def _id_or_household(values: dict[str, Any]) -> tuple[str, str] | None:
    if values.get("id_number") is None and values.get("household") is None:
        return "id_number", msg(N_("Give the household's ID number or its household code: the row has neither."),
                                code="monitoring_no_household")
    return None


def _eliminated_not_before_identified(values: dict[str, Any]) -> tuple[str, str] | None:
    start, end = values.get("identified_on"), values.get("eliminated_on")
    if start is not None and end is not None and end < start:
        return "eliminated_on", msg(N_("The risk is eliminated on %(eliminated)s, before the household was identified "
                                       "on %(identified)s."), eliminated=end, identified=start,
                                    code="monitoring_eliminated_before")
    return None


def _persons_plausible(values: dict[str, Any]) -> tuple[str, str] | None:
    persons = values.get("persons")
    if persons is not None and persons > MAX_PERSONS:
        return "persons", msg(N_("A household of more than %(limit)s people is a typing mistake."), limit=MAX_PERSONS,
                              code="monitoring_persons")
    return None


def _not_too_long(values: dict[str, Any]) -> tuple[str, str] | None:
    for name, limit in _LIMITS.items():
        value = values.get(name)
        if value is not None and len(value) > limit:
            return name, msg(N_("too long: at most %(limit)s characters"), limit=limit, code="too_long")
    return None


#: the county's list; not one of the import workbook's sheets (``cooperatives.workbook.SHEETS``): an import
#: workbook with a ``monitoring`` sheet is refused there as an unknown sheet
MONITORING_SHEET = SheetSpec("monitoring", ("监测对象", "监测户", "防止返贫监测对象"), (
    Column("id_number", TEXT, aliases=("身份证号", "身份证号码", "证件号码")),
    Column("household", CODE, aliases=("户号", "农户", "农户编码")),
    Column("category", CATEGORY, True, aliases=("监测类型", "监测对象类别", "类别")),
    Column("identified_on", DATE, True, aliases=("识别日期", "纳入日期", "认定日期", "识别时间")),
    Column("eliminated_on", DATE, aliases=("风险消除日期", "消除日期", "退出日期", "风险消除时间")),
    Column("source", TEXT, aliases=("来源", "识别方式", "识别途径")),
    Column("persons", INT, aliases=("家庭人口", "人口")),
), checks=(_id_or_household, _eliminated_not_before_identified, _persons_plausible, _not_too_long))  # fmt: skip


class MonitoringError(Exception):
    """The list cannot be imported: :attr:`problems` says every reason, located; nothing was written."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p.reason) for p in self.problems))


@dataclass(frozen=True)
class MonitoringFile:
    """A county list read and found valid: its rows (:data:`MONITORING_SHEET`), file name and sha256."""

    filename: str
    sha256: str
    rows: Sequence[Row] = ()


# ------------------------------------------------------------------------------------------------ reading


def _is_list(label: str) -> bool:
    key = _key(label)
    return any(key == _key(name) for name in (MONITORING_SHEET.name, *MONITORING_SHEET.aliases))


def read_monitoring_list(path: str | os.PathLike[str], limits: ReadLimits = DEFAULT_LIMITS) -> MonitoringFile:
    """Read the county's list at ``path``: an .xlsx workbook (its ``monitoring`` / 监测对象 sheet, or its only sheet),
    a .csv file, or a folder holding ``monitoring.csv`` (or a single .csv). Within the same limits as an import
    workbook. Raises :class:`MonitoringError` with every problem."""
    path = Path(path)
    source = os.fsdecode(path)
    problems: list[Problem] = []
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
            chosen = [p for p in files if _is_list(p.stem)] or (files if len(files) == 1 else [])
            if not chosen:
                raise MonitoringError([_no_list(source)])
            file = chosen[0]
            rows = _read(file.stem, _guarded(_csv_rows(file, limits), N_("file")), problems)
            data = file.read_bytes()
        elif path.suffix.lower() == ".csv" and path.is_file():
            rows = _read(path.stem, _guarded(_csv_rows(path, limits), N_("file")), problems)
            data = path.read_bytes()
        elif path.is_file():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it ignores
                rows = _read_xlsx(path, source, limits, problems)
            data = path.read_bytes()
        else:
            raise MonitoringError([Problem(source, 0, "", msg(N_("no such file or folder"), code="no_file"))])
    except _ReadError as exc:
        problems.append(Problem(source, exc.row, "", exc.args[0]))
    except OSError as exc:
        problems.append(Problem(source, 0, "", msg(N_("cannot read the file (%(error)s)"),
                                                   error=str(exc.strerror or exc), code="unreadable")))
    except (MonitoringError, WorkbookError) as exc:            # (not a workbook, a limit broken: as they are)
        problems.extend(exc.problems)
    if problems:
        raise MonitoringError(problems)
    return MonitoringFile(path.name, hashlib.sha256(data).hexdigest(), rows)


def read_monitoring_upload(data: bytes, filename: str, limits: ReadLimits = DEFAULT_LIMITS) -> MonitoringFile:
    """:func:`read_monitoring_list` of an uploaded file (``.xlsx`` or ``.csv`` by its name)."""
    suffix = ".csv" if filename.lower().endswith(".csv") else ".xlsx"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"monitoring{suffix}"
        path.write_bytes(data)
        found = read_monitoring_list(path, limits)
    return MonitoringFile(filename, found.sha256, found.rows)


def _no_list(source: str) -> Problem:
    return Problem(source, 0, "", msg(N_("no monitoring sheet (监测对象) in the file"), code="monitoring_no_sheet"))


def _read(label: str, rows, problems: list[Problem]) -> list[Row]:
    return _SheetReader(MONITORING_SHEET, label, problems).read(rows)


def _read_xlsx(path: Path, source: str, limits: ReadLimits, problems: list[Problem]) -> list[Row]:
    book = _open_xlsx(path, source, limits)
    try:
        titles = [title for title, _ in book.sheets]
        chosen = [t for t in titles if _is_list(t)] or (titles if len(titles) == 1 else [])
        if not chosen:
            raise MonitoringError([_no_list(source)])
        for title, rows in _xlsx_sheets(book, limits):
            if title == chosen[0]:
                try:
                    return _read(title, rows, problems)
                except _ReadError as exc:
                    problems.append(Problem(title, exc.row, "", exc.args[0]))
                    return []
        return []
    finally:
        book.close()


# ------------------------------------------------------------------------------------------------ matching


def _township_of(session, source, *args, township: Township | None = None, **kwargs):
    return township


def _audits_township(session, actor: Principal, township) -> bool:
    return actor.role == "auditor" and township is not None and actor.township_id == township.id


def audits_township() -> Rule:
    """The auditor of the township named by the ``township`` keyword (and the admin, and the console)."""
    return Rule("audits_township", _audits_township, _township_of)


UNMATCHED = {
    "unknown_id": N_("no household has this ID number"),
    "unknown_household": N_("no household has this code"),
    "ambiguous_id": N_("several households have this ID number"),
    "id_and_household_differ": N_("the ID number and the household code name two different households"),
    "other_township": N_("the household is not in this township"),
}
CONFLICTS = {
    "still_open": N_("the period identified on %(identified_on)s was closed on %(closed_on)s; the list says it is "
                     "still open: it stays closed"),
    "other_end": N_("the period identified on %(identified_on)s was closed on %(closed_on)s; the list says "
                    "%(eliminated_on)s: it stays as it was"),
}


def listed_reason(item: dict) -> Message:
    """The reason of a listed row (an item of ``unmatched_json`` or ``conflicts_json``) as a Message."""
    code = item["reason"]
    if code in CONFLICTS:
        return msg(CONFLICTS[code], identified_on=item.get("identified_on"), closed_on=item.get("closed_on"),
                   eliminated_on=item.get("eliminated_on"), code=f"monitoring_{code}")
    return msg(UNMATCHED[code], code=f"monitoring_{code}")


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _candidates(session: Session, digests: set[str], codes: set[str]) -> tuple[dict, dict]:
    """``digest -> [(household id, township id)]`` and ``code -> (household id, township id)``."""
    by_digest: dict[str, list[tuple[int, int]]] = defaultdict(list)
    by_code: dict[str, tuple[int, int]] = {}
    base = select(Household.id, Household.code, Household.id_number_digest, Village.township_id).join(
        Village, Village.id == Household.village_id)
    for chunk in _chunks(sorted(digests)):
        for hid, _code, dig, township_id in session.execute(base.where(Household.id_number_digest.in_(chunk))):
            by_digest[dig].append((hid, township_id))
    for chunk in _chunks(sorted(codes)):
        for hid, code, _dig, township_id in session.execute(base.where(Household.code.in_(chunk))):
            by_code[code] = (hid, township_id)
    return by_digest, by_code


def _match(values: dict, key: str | None, by_digest: dict, by_code: dict, township: Township | None
           ) -> tuple[int | None, str | None]:
    """(household id, None) or (None, the reason it matches none)."""
    found: tuple[int, int] | None = None
    if key is not None:
        hits = by_digest.get(key, [])
        if township is not None:
            hits = [h for h in hits if h[1] == township.id] or hits
        if len(hits) > 1:
            return None, "ambiguous_id"
        found = hits[0] if hits else None
    code = values.get("household")
    if code is not None:
        by = by_code.get(code)
        if found is not None and by is not None and by[0] != found[0]:
            return None, "id_and_household_differ"
        found = found or by
    if found is None:
        return None, "unknown_id" if key is not None else "unknown_household"
    if township is not None and found[1] != township.id:
        return None, "other_township"
    return found[0], None


@operation(audits_township())
def import_monitoring_list(session: Session, source: MonitoringFile, *, township: Township | None = None,
                           actor: Principal) -> MonitoringList:
    """Import the county's list ``source`` (read by :func:`read_monitoring_list`) for ``township`` (its households
    only; None — the admin or the console — matches households of every township), keeping each household's history
    as the module docstring says. Returns the :class:`MonitoringList` recorded, with its counts and listed rows.
    Flushes, never commits. Rule: the township's auditor (and the admin, and the console)."""
    from cooperatives.audit import audit

    rows = list(source.rows)
    keys = {id(row): digest(row.values.get("id_number")) for row in rows}
    by_digest, by_code = _candidates(session, {k for k in keys.values() if k},
                                     {r.values["household"] for r in rows if r.values.get("household")})
    record = MonitoringList(township_id=township.id if township is not None else None, filename=source.filename[:300],
                            sha256=source.sha256, imported_by=actor.user_id, rows=len(rows), matched=0, unmatched=0,
                            opened=0, closed=0, conflicts=0)
    session.add(record)
    session.flush()
    matched: list[tuple[Row, int]] = []
    unmatched: list[dict] = []
    for row in rows:
        household_id, reason = _match(row.values, keys[id(row)], by_digest, by_code, township)
        if household_id is None:
            v = row.values
            unmatched.append({"row": row.row, "who": mask(v.get("id_number")) or v.get("household"),
                              "category": v["category"], "reason": reason})
        else:
            matched.append((row, household_id))
    periods: dict[int, list[MonitoringPeriod]] = defaultdict(list)
    for chunk in _chunks(sorted({h for _, h in matched})):
        for period in session.scalars(select(MonitoringPeriod).where(MonitoringPeriod.household_id.in_(chunk))
                                      .order_by(MonitoringPeriod.id)):
            periods[period.household_id].append(period)
    conflicts: list[dict] = []
    opened = closed = 0
    for row, household_id in matched:
        v = row.values
        same = next((p for p in periods[household_id]
                     if p.category == v["category"] and p.identified_on == v["identified_on"]), None)
        end = v.get("eliminated_on")
        if same is None:
            period = MonitoringPeriod(household_id=household_id, category=v["category"], identified_on=v["identified_on"],
                                      eliminated_on=end, source=v.get("source"), persons=v.get("persons"),
                                      list_id=record.id)
            session.add(period)
            periods[household_id].append(period)
            opened += 1
        elif same.eliminated_on is None:
            if end is not None:
                same.eliminated_on = end
                closed += 1
        elif end != same.eliminated_on:
            conflicts.append({"row": row.row, "household": _code_of(session, household_id), "category": v["category"],
                              "identified_on": v["identified_on"].isoformat(),
                              "eliminated_on": end.isoformat() if end else None,
                              "closed_on": same.eliminated_on.isoformat(),
                              "reason": "still_open" if end is None else "other_end"})
    record.matched, record.unmatched, record.opened, record.closed = len(matched), len(unmatched), opened, closed
    record.conflicts = len(conflicts)
    record.unmatched_json = json.dumps(unmatched, ensure_ascii=False)
    record.conflicts_json = json.dumps(conflicts, ensure_ascii=False)
    session.flush()
    audit(session, actor_id=actor.user_id, action="monitoring-import", target=f"monitoring-list:{record.id}",
          detail=f"rows={len(rows)}, matched={len(matched)}, unmatched={len(unmatched)}, opened={opened}, "
                 f"closed={closed}, conflicts={len(conflicts)}")       # (the list's row keeps its file and digest)
    return record


def _code_of(session: Session, household_id: int) -> str:
    return session.scalar(select(Household.code).where(Household.id == household_id))


def open_sheet_periods(session: Session, categories: dict[int, str], *, on: dt.date | None = None) -> int:
    """For households registered by an import workbook's households sheet with a ``monitoring`` category
    (``household id -> category``; ``none`` is skipped): open a period from ``on`` (default: today, China's date),
    source :data:`SHEET_SOURCE`, unless the household already has an open period of that category. Part of the
    import (its rule, its transaction). Returns how many were opened."""
    wanted = {h: c for h, c in categories.items() if c in MONITORING_CATEGORIES}
    if not wanted:
        return 0
    on = on or china_today()
    open_now: set[tuple[int, str]] = set()
    for chunk in _chunks(sorted(wanted)):
        open_now.update(session.execute(select(MonitoringPeriod.household_id, MonitoringPeriod.category).where(
            MonitoringPeriod.household_id.in_(chunk), MonitoringPeriod.eliminated_on.is_(None))).tuples())
    rows = [{"household_id": h, "category": c, "identified_on": on, "eliminated_on": None, "source": SHEET_SOURCE,
             "persons": None, "list_id": None} for h, c in sorted(wanted.items()) if (h, c) not in open_now]
    if rows:
        session.execute(MonitoringPeriod.__table__.insert(), rows)
    return len(rows)


# ------------------------------------------------------------------------------------------------ reading back


def _in_force_on(on: dt.date):
    return and_(MonitoringPeriod.identified_on <= on,
                or_(MonitoringPeriod.eliminated_on.is_(None), MonitoringPeriod.eliminated_on > on))


def _latest(periods: Iterable[MonitoringPeriod]) -> MonitoringPeriod:
    return max(periods, key=lambda p: (p.identified_on, p.id))


def periods_in_force(session: Session, household_ids: Iterable[int], on: dt.date) -> dict[int, MonitoringPeriod]:
    """``household id -> the period in force on ``on```` for those of ``household_ids`` monitored that day (when
    several are, the one identified last). One query per 500 households."""
    found: dict[int, list[MonitoringPeriod]] = defaultdict(list)
    for chunk in _chunks(sorted(set(household_ids))):
        for period in session.scalars(select(MonitoringPeriod).where(MonitoringPeriod.household_id.in_(chunk),
                                                                     _in_force_on(on))):
            found[period.household_id].append(period)
    return {h: _latest(ps) for h, ps in found.items()}


def monitored_during(session: Session, township_id: int, year: int) -> dict[int, MonitoringPeriod]:
    """``household id -> period`` for every household of the township's villages with a period overlapping ``year``
    (in force on at least one of its days). The period given is the one whose category counts for the year: the
    one in force on 31 December (identified last, if several), else the one that ended last (its category at its
    end). One query."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    stmt = (select(MonitoringPeriod).join(Household, Household.id == MonitoringPeriod.household_id)
            .join(Village, Village.id == Household.village_id)
            .where(Village.township_id == township_id, MonitoringPeriod.identified_on <= end,
                   or_(MonitoringPeriod.eliminated_on.is_(None), MonitoringPeriod.eliminated_on > start)))
    found: dict[int, list[MonitoringPeriod]] = defaultdict(list)
    for period in session.scalars(stmt):
        found[period.household_id].append(period)
    out: dict[int, MonitoringPeriod] = {}
    for household_id, periods in found.items():
        at_end = [p for p in periods if p.eliminated_on is None or p.eliminated_on > end]
        out[household_id] = _latest(at_end) if at_end else max(periods, key=lambda p: (p.eliminated_on, p.identified_on,
                                                                                       p.id))
    return out


@dataclass
class Listed:
    """A list's rows that matched no household or contradicted a closed period, for display."""

    unmatched: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)


def listed_rows(record: MonitoringList) -> Listed:
    """The rows ``record`` listed (unmatched, conflicts), each with its ``message`` (a Message)."""
    unmatched = [{**item, "message": listed_reason(item)} for item in json.loads(record.unmatched_json or "[]")]
    conflicts = [{**item, "message": listed_reason(item)} for item in json.loads(record.conflicts_json or "[]")]
    return Listed(unmatched, conflicts)

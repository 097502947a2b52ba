"""Monitored households' income (防止返贫监测, issue 18): what each household monitored during a year received from
every entity in coopledger, by channel, that year and the year before — and the warnings the township acts on.

Income is :func:`payouts.oversight.linkage.household_benefits` over every entity, whatever its township (a household
of 金果坪 may sell tea to a cooperative of 百乐): dividends (its gross total in each run in force; a cluster project's
share reaches it through its village's run, so it is counted there, once), wages, produce payments and land rent.

Warnings (each with a sentence of its figures, a :class:`ledger.i18n.Message` — a ``str`` in English, translated by
the caller):

* ``nothing_received`` — the household is a member of some entity during the year (joined on or before 31 December,
  not left before 1 January) and received nothing, from any entity, all year;
* ``income_fell`` — the year before it received more than nothing and this year's total is **down by the threshold
  or more**: ``total <= previous_total × (1 − pct / 100)``. With the default 30 %, a fall of exactly 30 % fires; a
  fall of 29.99 % does not. ``pct`` is ``fall_pct``, else ``COOP_INCOME_FALL_PCT`` (a number of per cent, more than
  0 and less than 100), else 30.

:func:`no_linkage_entities`: entities of the township with fiscal support by the end of the year (the benefit-linkage
table's entities) whose villages had monitored households during the year, none of whom it reached by any channel.

Money is ``Decimal`` yuan; the JSON form (:func:`monitoring_report`) writes amounts as strings with two decimals.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cooperatives.models import Entity, Household, Member, MonitoringPeriod, Subsidy, Village
from cooperatives.monitoring import monitored_during
from ledger.i18n import N_, Message, msg
from ledger.money import fmt, quantize
from payouts.oversight.linkage import CHANNELS, Benefit, cascade_benefits, household_benefits

ZERO = Decimal("0.00")
DEFAULT_FALL_PCT = Decimal("30")
FALL_PCT_ENV = "COOP_INCOME_FALL_PCT"


def fall_pct_setting(raw: str | None = None) -> Decimal:
    """The ``income_fell`` threshold in per cent: ``raw`` (default: ``COOP_INCOME_FALL_PCT``), else 30. Raises
    ValueError for anything but a number more than 0 and less than 100."""
    raw = os.environ.get(FALL_PCT_ENV) if raw is None else raw
    if raw is None or not raw.strip():
        return DEFAULT_FALL_PCT
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 < value < 100:
        raise ValueError(f"{FALL_PCT_ENV} must be a percentage above 0 and below 100, such as 30, not {raw!r}")
    return value


@dataclass
class MonitoringWarning:
    """A warning about a household: its rule and the sentence with its figures."""

    rule: str
    message: Message


@dataclass
class MonitoredIncome:
    """One monitored household's income in the year and the year before (Decimal yuan)."""

    household_id: int
    household: str
    head_name: str
    village: str
    category: str
    period: MonitoringPeriod
    income: Benefit
    previous: Benefit
    persons: int | None
    member: bool
    warnings: list[MonitoringWarning] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.income.total

    @property
    def previous_total(self) -> Decimal:
        return self.previous.total

    @property
    def per_person(self) -> Decimal | None:
        return quantize(self.total / self.persons) if self.persons else None


def _members_during(session: Session, household_ids: set[int], year: int) -> set[int]:
    """Those of ``household_ids`` that were a member of some entity during ``year``."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    found: set[int] = set()
    ids = sorted(household_ids)
    for at in range(0, len(ids), 500):
        found.update(session.scalars(select(Member.household_id).distinct().where(
            Member.household_id.in_(ids[at:at + 500]), Member.joined_on <= end,
            or_(Member.left_on.is_(None), Member.left_on >= start))))
    return found


def _warnings(row: MonitoredIncome, year: int, pct: Decimal) -> list[MonitoringWarning]:
    out = []
    if row.member and row.total == 0:
        out.append(MonitoringWarning("nothing_received", msg(
            N_("A member in %(year)s, the household received nothing from any cooperative or collective all year "
               "(%(previous)s yuan in %(previous_year)s)."),
            year=year, previous=fmt(row.previous_total), previous_year=year - 1, code="nothing_received")))
    previous = row.previous_total
    if previous > 0 and row.total <= previous * (1 - pct / 100):
        fall = quantize((previous - row.total) * 100 / previous)
        out.append(MonitoringWarning("income_fell", msg(
            N_("Income from the cooperatives fell from %(previous)s yuan in %(previous_year)s to %(total)s yuan in "
               "%(year)s, down %(fall)s %% (the threshold is %(pct)s %%)."),
            previous=fmt(previous), previous_year=year - 1, total=fmt(row.total), year=year, fall=fall,
            pct=format(pct.normalize(), "f"), code="income_fell")))
    return out


def monitored_incomes(session: Session, *, township_id: int, year: int, fall_pct: Decimal | None = None
                      ) -> list[MonitoredIncome]:
    """Every household of the township monitored during ``year`` (:func:`cooperatives.monitoring.monitored_during`,
    with the category in force at the year's end or at its period's end), by household code, with its income from
    every entity in ``year`` and ``year − 1`` and its warnings. ``persons``: the period's household size, else the
    household's (家庭人口); None when neither is known."""
    pct = fall_pct if fall_pct is not None else fall_pct_setting()
    periods = monitored_during(session, township_id, year)
    if not periods:
        return []
    households = {row[0]: row for row in session.execute(
        select(Household.id, Household.code, Household.head_name, Village.name, Household.persons)
        .join(Village, Village.id == Household.village_id).where(Household.id.in_(list(periods))))}
    entity_ids = session.scalars(select(Entity.id)).all()
    benefits: dict[tuple[int, int], Benefit] = {}
    for (_entity, household_id, at), benefit in household_benefits(session, entity_ids=entity_ids,
                                                                   years=[year - 1, year]).items():
        if household_id in periods:
            into = benefits.setdefault((household_id, at), Benefit())
            for channel in CHANNELS:
                into.add(channel, getattr(benefit, channel))
    members = _members_during(session, set(periods), year)
    rows = []
    for household_id, period in periods.items():
        _id, code, head, village, persons = households[household_id]
        row = MonitoredIncome(household_id, code, head, village, period.category, period,
                              benefits.get((household_id, year), Benefit()),
                              benefits.get((household_id, year - 1), Benefit()),
                              period.persons or persons, household_id in members)
        row.warnings = _warnings(row, year, pct)
        rows.append(row)
    return sorted(rows, key=lambda r: r.household)


def _money(amount: Decimal) -> str:
    return fmt(quantize(amount))


def monitoring_report(session: Session, *, township_id: int, year: int, fall_pct: Decimal | None = None,
                      gettext: Callable[[str], str] | None = None) -> dict:
    """INTERFACES §2's ``coopledger monitoring report --json``: ``{"households": [{"household", "category", "income":
    {"dividends", "wages", "produce", "land_rent"}, "total", "previous_total", "per_person", "warnings": [{"rule",
    "detail"}]}]}``, amounts as strings with two decimals, ``per_person`` null when the household size is unknown;
    ``detail`` in ``gettext``'s language (English when None). See :func:`monitored_incomes`."""
    households = []
    for row in monitored_incomes(session, township_id=township_id, year=year, fall_pct=fall_pct):
        households.append({
            "household": row.household, "category": row.category,
            "income": {channel: _money(getattr(row.income, channel)) for channel in CHANNELS},
            "total": _money(row.total), "previous_total": _money(row.previous_total),
            "per_person": _money(row.per_person) if row.per_person is not None else None,
            "warnings": [{"rule": w.rule, "detail": w.message.translate(gettext)} for w in row.warnings]})
    return {"households": households}


# ------------------------------------------------------------------------------------------------ no_linkage


@dataclass
class NoLinkage:
    """A supported entity that reached none of the monitored households of its villages in the year."""

    entity: Entity
    monitored: int
    message: Message


def _villages_of(session: Session, entities: list[Entity], year: int) -> dict[int, set[int]]:
    """``entity id -> its villages``: its own; for a cluster project its member entities'; and those of the
    households that were its members during ``year``."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    out = {e.id: ({e.village_id} if e.village_id else set()) for e in entities}
    ids = list(out)
    during = (Member.joined_on <= end, or_(Member.left_on.is_(None), Member.left_on >= start))
    for entity_id, village_id in session.execute(
            select(Member.entity_id, Household.village_id).distinct().join(Household, Household.id == Member.household_id)
            .where(Member.entity_id.in_(ids), *during)):
        out[entity_id].add(village_id)
    for entity_id, village_id in session.execute(
            select(Member.entity_id, Entity.village_id).distinct().join(Entity, Entity.id == Member.member_entity_id)
            .where(Member.entity_id.in_(ids), Entity.village_id.is_not(None), *during)):
        out[entity_id].add(village_id)
    return out


def no_linkage_entities(session: Session, *, township_id: int, year: int) -> list[NoLinkage]:
    """The entities of the township with fiscal support by the end of ``year`` (as the benefit-linkage table lists
    them) whose villages (:func:`_villages_of`) had households monitored during ``year`` of which the entity reached
    none by any channel that year (a cluster project: through its villages' runs). By entity code."""
    end = dt.date(year, 12, 31)
    entities = session.scalars(
        select(Entity).join(Subsidy, Subsidy.entity_id == Entity.id)
        .where(Entity.township_id == township_id, Subsidy.kind == "fiscal", Subsidy.date <= end, Subsidy.live())
        .distinct().order_by(Entity.code)).all()
    if not entities:
        return []
    periods = monitored_during(session, township_id, year)
    if not periods:
        return []
    village_of = dict(session.execute(select(Household.id, Household.village_id)
                                      .where(Household.id.in_(list(periods)))).tuples().all())
    reached: dict[int, set[int]] = {e.id: set() for e in entities}
    for (entity_id, household_id, _year), benefit in household_benefits(
            session, entity_ids=list(reached), years=[year]).items():
        if benefit.total:
            reached[entity_id].add(household_id)
    projects = [e.id for e in entities if e.kind == "cluster_project"]
    for project_id, amounts in cascade_benefits(session, township_id=township_id, year=year,
                                                project_ids=projects).items():
        reached[project_id].update(h for h, amount in amounts.items() if amount)
    villages = _villages_of(session, list(entities), year)
    out = []
    for entity in entities:
        monitored = {h for h, v in village_of.items() if v in villages[entity.id]}
        if monitored and not (monitored & reached[entity.id]):
            out.append(NoLinkage(entity, len(monitored), msg(
                N_("%(entity)s received fiscal support, but none of the %(count)s monitored households of its villages "
                   "received anything from it in %(year)s."), entity=entity.name, count=len(monitored), year=year,
                code="no_linkage")))
    return out

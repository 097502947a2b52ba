"""Benefit linkage (联农带农): what entities that received fiscal support passed on to farm households.

County departments ask every entity built or supported with fiscal funds (衔接资金, 东西部协作资金,
产业发展资金…) how many households it reached, how many of them are monitored (防止返贫监测对象) or
poverty-exited households, and what they received by channel — dividends (分红), wages (务工), produce
purchases (订单/收购) and land rent (土地流转) — in total and per household (reference/domain.md §5.2,
国乡振发〔2022〕9号 "获得支持与落实联农带农责任挂钩").

What counts as a household's benefit from an entity in a year (also used by the anomaly rules):

* **dividends** — the household's gross total (应发, before debts are netted) in the entity's run in
  force for that year (posted, published or paid); a reversed run counts for nothing;
* **wages** — labour records of the year (days × rate), whoever of the household worked;
* **produce** — deliveries of the year (member trade, paid or not);
* **land rent** — the base rent accrued for the year on the household's land contracts (保底租金).

A cluster project's members are village collectives, not households: its row counts the households
its income reached through the villages' runs, using the source trace every household line keeps
(``sources``: the part of the household's total that came from the project's run).

Which entities are listed for a year: those that had received a fiscal subsidy (``subsidies`` of kind
``fiscal``) by the end of that year. The linkage duty attaches to the assets the funds built, not only
to the year the money arrived (a greenhouse built with 2024 funds carries it in 2025), so the table
shows both the funds received in the year and all funds received so far.

Which households count as monitored (防止返贫监测对象) in a year: those with a period of the county's list in force
during it, with the category in force at the year's end or at its period's end
(:func:`cooperatives.monitoring.monitored_during`) — the status of that time, not today's. A household with no period
at all (data from before the list was imported) falls back to its ``Household.monitoring`` flag.

Every figure comes from a fixed number of set-based queries, whatever the number of households.
Money is ``Decimal`` yuan.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import Session

from cooperatives.models import (
    Delivery,
    Entity,
    Household,
    LaborRecord,
    LandAccrual,
    LandContract,
    Member,
    MonitoringPeriod,
    Subsidy,
    Village,
)
from cooperatives.monitoring import monitored_during
from ledger.db import money_sum
from ledger.i18n import N_
from ledger.money import quantize
from payouts.models import IN_FORCE, PayoutMember, PayoutRun
from payouts.oversight.tables import Column, Table

ZERO = Decimal("0.00")
CHANNELS = ("dividends", "wages", "produce", "land_rent")


@dataclass
class Benefit:
    """What one household received from one entity in one year, by channel (Decimal yuan)."""

    dividends: Decimal = ZERO
    wages: Decimal = ZERO
    produce: Decimal = ZERO
    land_rent: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.dividends + self.wages + self.produce + self.land_rent

    def add(self, channel: str, amount: Decimal) -> None:
        setattr(self, channel, getattr(self, channel) + amount)


def _year_of(column):
    return func.extract("year", column)


def household_benefits(session: Session, *, entity_ids: Iterable[int], years: Iterable[int] | None = None
                       ) -> dict[tuple[int, int, int], Benefit]:
    """``(entity id, household id, year) -> Benefit`` for every household with a benefit from one of
    ``entity_ids`` in ``years`` (all years when None). Four aggregate queries, one per channel."""
    entity_ids = list(entity_ids)
    out: dict[tuple[int, int, int], Benefit] = defaultdict(Benefit)
    if not entity_ids:
        return out
    years = sorted(set(years)) if years is not None else None

    def dated(column):
        if years is None:
            return true()
        return and_(column >= dt.date(years[0], 1, 1), column <= dt.date(years[-1], 12, 31))

    run_year = PayoutRun.year.in_(years) if years is not None else true()
    dividends = (
        select(PayoutRun.entity_id, Member.household_id, PayoutRun.year, money_sum(PayoutMember.total))
        .join(PayoutRun, PayoutRun.id == PayoutMember.run_id).join(Member, Member.id == PayoutMember.member_id)
        .where(PayoutRun.entity_id.in_(entity_ids), PayoutRun.status.in_(IN_FORCE), Member.household_id.is_not(None),
               run_year)
        .group_by(PayoutRun.entity_id, Member.household_id, PayoutRun.year))
    queries = [("dividends", dividends)]
    for channel, model in (("wages", LaborRecord), ("produce", Delivery)):
        year = _year_of(model.date)
        queries.append((channel, select(model.entity_id, Member.household_id, year, money_sum(model.amount))
                        .join(Member, Member.id == model.member_id)
                        .where(model.entity_id.in_(entity_ids), Member.household_id.is_not(None), dated(model.date),
                               model.live())
                        .group_by(model.entity_id, Member.household_id, year)))
    accrual_year = LandAccrual.year.in_(years) if years is not None else true()
    queries.append(("land_rent", select(LandContract.entity_id, Member.household_id, LandAccrual.year,
                                        money_sum(LandAccrual.amount))
                    .join(LandContract, LandContract.id == LandAccrual.contract_id)
                    .join(Member, Member.id == LandContract.member_id)
                    .where(LandContract.entity_id.in_(entity_ids), Member.household_id.is_not(None), accrual_year,
                           LandContract.live())
                    .group_by(LandContract.entity_id, Member.household_id, LandAccrual.year)))
    for channel, stmt in queries:
        for entity_id, household_id, year, amount in session.execute(stmt):
            if amount:
                out[(entity_id, household_id, int(year))].add(channel, amount)
    return out


def cascade_benefits(session: Session, *, township_id: int, year: int, project_ids: Iterable[int]
                     ) -> dict[int, dict[int, Decimal]]:
    """``project entity id -> {household id -> amount}``: the part of each household's dividends in the
    township's runs of ``year`` that came from a cluster project's run (the stored source trace). Two queries."""
    project_ids = set(project_ids)
    if not project_ids:
        return {}
    runs = session.execute(select(PayoutRun.id, PayoutRun.entity_id).where(
        PayoutRun.entity_id.in_(project_ids), PayoutRun.year == year, PayoutRun.status.in_(IN_FORCE))).all()
    project_of_ref = {f"(run:{run_id})": entity_id for run_id, entity_id in runs}
    out: dict[int, dict[int, Decimal]] = {pid: {} for pid in project_ids}
    if not project_of_ref:
        return out
    rows = session.execute(
        select(PayoutRun.entity_id, PayoutRun.result_json).join(Entity, Entity.id == PayoutRun.entity_id)
        .where(Entity.township_id == township_id, PayoutRun.year == year, PayoutRun.status.in_(IN_FORCE),
               Entity.kind != "cluster_project")).all()
    entity_ids = {entity_id for entity_id, _ in rows}
    households = {(entity_id, code): household_id for entity_id, code, household_id in session.execute(
        select(Member.entity_id, Member.code, Member.household_id)
        .where(Member.entity_id.in_(entity_ids), Member.household_id.is_not(None)))} if entity_ids else {}
    for entity_id, result_json in rows:
        for member in json.loads(result_json).get("members", []):
            household_id = households.get((entity_id, member["member"]))
            if household_id is None:
                continue
            for source in member.get("sources", []):
                label = source.get("from", "")
                for ref, project_id in project_of_ref.items():
                    if label.endswith(ref):
                        amount = Decimal(source["amount"])
                        out[project_id][household_id] = out[project_id].get(household_id, ZERO) + amount
    return out


# ------------------------------------------------------------------------------------------- the tables


LINKAGE_COLUMNS = (
    Column("entity", N_("Code")),
    Column("entity_name", N_("Entity")),
    Column("fiscal_year", N_("Fiscal funds received in the year"), "money", total=True),
    Column("fiscal_total", N_("Fiscal funds received to date"), "money", total=True),
    Column("households", N_("Households reached"), "int", total=True),
    Column("persons", N_("People in those households"), "int", total=True),
    Column("monitored", N_("of which monitored households"), "int", total=True),
    Column("poverty_exited", N_("of which poverty-exited households"), "int", total=True),
    Column("dividends", N_("Dividends"), "money", total=True),
    Column("wages", N_("Wages"), "money", total=True),
    Column("produce", N_("Produce purchases"), "money", total=True),
    Column("land_rent", N_("Land rent"), "money", total=True),
    Column("total", N_("Total benefit"), "money", total=True),
    Column("monitored_benefit", N_("of which to monitored households"), "money", total=True),
    Column("per_household", N_("Per household"), "money"),
)

HOUSEHOLD_COLUMNS = (
    Column("household", N_("Household code")),
    Column("head_name", N_("Head of household")),
    Column("village", N_("Village")),
    Column("monitoring", N_("Monitoring")),
    Column("poverty_exited", N_("Poverty-exited household")),
    Column("persons", N_("Persons"), "int", total=True),
    Column("dividends", N_("Dividends"), "money", total=True),
    Column("wages", N_("Wages"), "money", total=True),
    Column("produce", N_("Produce purchases"), "money", total=True),
    Column("land_rent", N_("Land rent"), "money", total=True),
    Column("total", N_("Total benefit"), "money", total=True),
)


def _supported(session: Session, township_id: int, year: int, entity_id: int | None = None):
    """``[(entity, fiscal in year, fiscal to date)]`` for entities with fiscal funds by the end of ``year``."""
    end = dt.date(year, 12, 31)
    in_year = money_sum(case((Subsidy.date >= dt.date(year, 1, 1), Subsidy.__table__.c.amount), else_=0))
    stmt = (select(Entity, money_sum(Subsidy.amount), in_year)
            .join(Subsidy, Subsidy.entity_id == Entity.id)
            .where(Entity.township_id == township_id, Subsidy.kind == "fiscal", Subsidy.date <= end, Subsidy.live())
            .group_by(Entity.id).order_by(Entity.code))
    if entity_id is not None:
        stmt = stmt.where(Entity.id == entity_id)
    return [(entity, to_date, in_year) for entity, to_date, in_year in session.execute(stmt)]


def _reached(session, township_id: int, year: int, entities: list[Entity]
             ) -> dict[int, dict[int, Benefit]]:
    """``entity id -> {household id -> Benefit}`` for ``entities`` in ``year`` (cascade included)."""
    reached: dict[int, dict[int, Benefit]] = {e.id: {} for e in entities}
    for (entity_id, household_id, _year), benefit in household_benefits(
            session, entity_ids=[e.id for e in entities], years=[year]).items():
        if benefit.total:
            reached[entity_id][household_id] = benefit
    projects = [e.id for e in entities if e.kind == "cluster_project"]
    for project_id, amounts in cascade_benefits(session, township_id=township_id, year=year,
                                                project_ids=projects).items():
        for household_id, amount in amounts.items():
            if amount:
                reached[project_id].setdefault(household_id, Benefit()).add("dividends", amount)
    return reached


def _households(session, ids: set[int], year: int) -> dict[int, tuple]:
    """``household id -> (id, code, head, village, monitoring, poverty exited, persons)``, ``monitoring`` the
    category counting for ``year`` (see the module docstring; ``none`` when not monitored). Two queries and one per
    township of the households monitored in the list."""
    if not ids:
        return {}
    rows = session.execute(select(Household.id, Household.code, Household.head_name, Village.name, Household.monitoring,
                                  Household.poverty_exited, Household.persons, Village.township_id)
                           .join(Village, Village.id == Household.village_id).where(Household.id.in_(ids))).all()
    listed: set[int] = set()
    ordered = sorted(ids)
    for at in range(0, len(ordered), 500):
        listed.update(session.scalars(select(MonitoringPeriod.household_id).distinct()
                                      .where(MonitoringPeriod.household_id.in_(ordered[at:at + 500]))))
    during: dict[int, str] = {}
    for township_id in sorted({row[7] for row in rows if row[0] in listed}):
        during.update({h: p.category for h, p in monitored_during(session, township_id, year).items()})
    return {row[0]: (*row[:4], during.get(row[0], "none") if row[0] in listed else row[4], *row[5:7]) for row in rows}


def linkage_table(session: Session, *, township_id: int, year: int) -> Table:
    """One row per entity of the township with fiscal support by the end of ``year`` (see the module
    docstring), with the households it reached in ``year`` and what they received by channel; a totals
    row. A household reached by two entities is counted in both rows (and twice in the totals row).
    ``persons`` sums the 家庭人口 recorded for the households reached (a household without it counts 0);
    ``per_household`` is the total divided by the households reached, in the totals row too."""
    supported = _supported(session, township_id, year)
    reached = _reached(session, township_id, year, [e for e, _, _ in supported])
    households = _households(session, {h for by_household in reached.values() for h in by_household}, year)
    table = Table(columns=LINKAGE_COLUMNS)
    for entity, to_date, in_year in supported:
        by_household = reached[entity.id]
        sums = {c: sum((getattr(b, c) for b in by_household.values()), ZERO) for c in CHANNELS}
        total = sum(sums.values(), ZERO)
        info = [households[h] for h in by_household]
        table.rows.append({
            "entity": entity.code, "entity_name": entity.name, "fiscal_year": in_year, "fiscal_total": to_date,
            "households": len(by_household), "persons": sum(row[6] or 0 for row in info),
            "monitored": sum(1 for row in info if row[4] != "none"),
            "poverty_exited": sum(1 for row in info if row[5]),
            **sums, "total": total,
            "monitored_benefit": sum((b.total for h, b in by_household.items() if households[h][4] != "none"), ZERO),
            "per_household": quantize(total / len(by_household)) if by_household else ZERO,
        })
    table.with_totals()
    households_total = table.totals.get("households") or 0
    table.totals["per_household"] = quantize(table.totals["total"] / households_total) if households_total else ZERO
    return table


def linkage_households(session: Session, *, township_id: int, year: int, entity_id: int) -> Table:
    """The households one supported entity reached in ``year`` (the list behind its linkage row), by
    household code, with what each received by channel; a totals row. Empty when the entity had no
    fiscal support by the end of ``year`` or is not in the township. ``monitoring`` holds the category counting for
    ``year`` (``unstable``/``marginal``/``hardship``/``none``, labels in ``cooperatives.models.MONITORING``);
    ``poverty_exited`` is a bool."""
    supported = _supported(session, township_id, year, entity_id)
    table = Table(columns=HOUSEHOLD_COLUMNS)
    if supported:
        by_household = _reached(session, township_id, year, [supported[0][0]])[entity_id]
        households = _households(session, set(by_household), year)
        for household_id, benefit in sorted(by_household.items(), key=lambda kv: households[kv[0]][1]):
            _id, code, head, village, monitoring, exited, persons = households[household_id]
            table.rows.append({"household": code, "head_name": head, "village": village, "monitoring": monitoring,
                               "poverty_exited": exited, "persons": persons,
                               **{c: getattr(benefit, c) for c in CHANNELS}, "total": benefit.total})
    return table.with_totals()

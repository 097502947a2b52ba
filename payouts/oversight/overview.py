"""The township overview: per entity and year, collective income (operating, investment, subsidies), the
year's surplus, what was distributed, and what it meant per household and per person.

Every figure is a set-based aggregate over the whole township (GROUP BY book or entity and year): the
overview costs the same handful of statements whether the township has two entities or two hundred, one
year or ten. Income and surplus are read from the ledger (the year's income and expense movements,
year-end closing entries left out, as :func:`ledger.queries.year_profit` does); subsidies from the
subsidy records (a farmer cooperative books them to 专项应付款/专项基金, not to income); distributions from
the members' outcomes of the run in force for the year.

Per-capita figures need the household's 家庭人口 (``Household.persons``), which may be unknown: they are
computed over the households whose size is known, and every row says how many households lacked it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, distinct, extract, func, select
from sqlalchemy.orm import Session, aliased, joinedload

from cooperatives.models import ENTITY_KINDS, Entity, Household, Member, Subsidy
from ledger.chart import OPERATING_INCOME, account_for_role
from ledger.clock import china_today
from ledger.db import money_sum
from ledger.i18n import N_
from ledger.models import Account, Book, JournalEntry, Posting
from payouts.models import IN_FORCE, PayoutMember, PayoutRun
from payouts.oversight.tables import Column, Table

Z = Decimal("0.00")
AMOUNT = Posting.__table__.c.amount


COLUMNS = (
    Column("village", N_("Village")),
    Column("entity_code", N_("Code")),
    Column("entity_name", N_("Entity")),
    Column("kind", N_("Kind")),
    Column("year", N_("Year"), "int"),
    Column("operating", N_("Operating income"), "money", total=True),
    Column("investment", N_("Investment income"), "money", total=True),
    Column("subsidies", N_("Subsidies received"), "money", total=True),
    Column("surplus", N_("Surplus of the year"), "money", total=True),
    Column("distributed", N_("Distributed"), "money", total=True),
    Column("households", N_("Households reached"), "int", total=True),
    Column("per_household", N_("Per household"), "money"),
    Column("per_capita", N_("Per person"), "money"),
    Column("unknown_size", N_("Households of unknown size"), "int", total=True),
)


def per(amount: Decimal, count: int | None) -> Decimal | None:
    """``amount / count`` to the fen (half up), or None when there is nothing to divide by."""
    if not count:
        return None
    return (amount / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Figures:
    """One entity's year (exact Decimals), before it becomes a table row."""

    entity: Entity
    year: int
    operating: Decimal = Z
    investment: Decimal = Z
    subsidies: Decimal = Z
    surplus: Decimal = Z
    distributed: Decimal = Z
    #: distributed to households (a cluster project distributes to entities)
    to_households: Decimal = Z
    households: int = 0
    #: of the households reached: people in those whose size is known, what they got, and how many lack it
    persons: int = 0
    to_known: Decimal = Z
    unknown_size: int = 0

    @property
    def income(self) -> Decimal:
        return self.operating + self.investment + self.subsidies

    def row(self, kinds: dict[str, str]) -> dict:
        e = self.entity
        return {"village": e.village.name if e.village else "", "entity_code": e.code, "entity_name": e.name,
                "kind": kinds.get(e.kind, e.kind), "year": self.year, "operating": self.operating,
                "investment": self.investment, "subsidies": self.subsidies, "surplus": self.surplus,
                "distributed": self.distributed, "households": self.households,
                "per_household": per(self.to_households, self.households),
                "per_capita": per(self.to_known, self.persons), "unknown_size": self.unknown_size,
                # not columns: for the page's links and the per-capita note
                "_persons": self.persons, "_to_households": self.to_households, "_to_known": self.to_known}


@dataclass
class Overview:
    entities: list[Entity]
    figures: list[Figures]            # every (entity, year) with any figure, ordered by village, code, year
    years: list[int]
    #: distinct households that received anything, per year (a household in two entities counts once)
    reached: dict[int, int]

    def table(self, *, year: int | None = None, entity_id: int | None = None, kinds: dict | None = None) -> Table:
        """The rows of ``year`` (and ``entity_id``), with totals; per-household and per-person totals are
        recomputed from the summed amounts, never averaged."""
        chosen = [f for f in self.figures if (year is None or f.year == year)
                  and (entity_id is None or f.entity.id == entity_id)]
        if year is not None:         # every entity of the township has its row, zeros when it recorded nothing
            present = {f.entity.id for f in chosen}
            chosen += [Figures(e, year) for e in self.entities
                       if e.id not in present and (entity_id is None or e.id == entity_id)]
            chosen.sort(key=_order)
        table = Table(COLUMNS, [f.row(kinds or {}) for f in chosen]).with_totals()
        to_households = sum((f.to_households for f in chosen), Z)
        to_known = sum((f.to_known for f in chosen), Z)
        table.totals["per_household"] = per(to_households, table.totals["households"])
        table.totals["per_capita"] = per(to_known, sum(f.persons for f in chosen))
        return table

    def trend(self) -> list[dict]:
        """Per year: income (operating + investment + subsidies), surplus, distributed, households reached."""
        out = []
        for year in self.years:
            of_year = [f for f in self.figures if f.year == year]
            out.append({"year": year, "income": sum((f.income for f in of_year), Z),
                        "surplus": sum((f.surplus for f in of_year), Z),
                        "distributed": sum((f.distributed for f in of_year), Z),
                        "households": self.reached.get(year, 0)})
        return out

    def by_village(self, year: int) -> list[dict]:
        """Per village (entities without one, e.g. a township's cluster project, under their own name)."""
        groups: dict[str, dict] = {}
        for f in self.figures:
            if f.year != year:
                continue
            name = f.entity.village.name if f.entity.village else f.entity.name
            g = groups.setdefault(name, {"name": name, "income": Z, "distributed": Z})
            g["income"] += f.income
            g["distributed"] += f.distributed
        return sorted(groups.values(), key=lambda g: g["name"])


def _order(f: Figures) -> tuple:
    return (f.entity.village.name if f.entity.village else "", f.entity.code, f.year)


def township_entities(session: Session, township_id: int) -> list[Entity]:
    return list(session.scalars(
        select(Entity).options(joinedload(Entity.village)).where(Entity.township_id == township_id)
        .order_by(Entity.code)))


def build_overview(session: Session, township_id: int, *, entity_id: int | None = None) -> Overview:
    """Every figure of the township (or of one of its entities) for every year: five statements."""
    entities = township_entities(session, township_id)
    if entity_id is not None:
        entities = [e for e in entities if e.id == entity_id]
    by_book = {e.book_id: e for e in entities}
    charts = dict(session.execute(select(Book.id, Book.chart).where(Book.id.in_(list(by_book) or [-1]))).all())
    for old, later, chart in _earlier_books(session, list(by_book) or [-1]):   # a 2004 book carried over
        by_book[old], charts[old] = by_book[later], chart
    by_id = {e.id: e for e in entities}
    ids = list(by_id) or [-1]
    figures: dict[tuple[int, int], Figures] = {}

    def fig(entity: Entity, year: int) -> Figures:
        key = (entity.id, int(year))
        if key not in figures:
            figures[key] = Figures(entity, int(year))
        return figures[key]

    for book_id, year, code, kind, total in _profit(session, list(by_book) or [-1]):
        entity = by_book[book_id]
        f = fig(entity, year)
        f.surplus -= total
        if kind == "income":
            if code in OPERATING_INCOME[charts[book_id]]:
                f.operating -= total
            elif code == account_for_role(charts[book_id], "investment_income"):
                f.investment -= total
    for entity_id_, year, total in _subsidies(session, ids):
        fig(by_id[entity_id_], year).subsidies += total
    for row in _distributions(session, ids):
        f = fig(by_id[row.entity_id], row.year)
        f.distributed, f.to_households, f.households = row.distributed, row.to_households, row.households
        f.persons, f.to_known, f.unknown_size = int(row.persons or 0), row.to_known, row.unknown_size
    reached = _reached(session, ids)
    order = sorted(figures.values(), key=_order)
    years = sorted({f.year for f in order})
    return Overview(entities, order, years, reached)


def _earlier_books(session: Session, book_ids: list[int]) -> list[tuple[int, int, str]]:
    """(book, the later book that continues it, its chart) for every book ``book_ids`` continue, however far back:
    a collective's years before its carry-over to the 2023 system are read from its 2004 book."""
    found, frontier = [], list(book_ids)
    while frontier:             # one query per step back (a book carried over once: one query that finds it)
        previous = aliased(Book)
        rows = session.execute(select(previous.id, Book.id, previous.chart)
                               .join(previous, previous.id == Book.previous_book_id)
                               .where(Book.id.in_(frontier))).all()
        found += [tuple(row) for row in rows]
        frontier = [old for old, _, _ in rows]
    return found


def _profit(session: Session, book_ids: list[int]):
    """(book, year, account code, account type, signed movement) of every income and expense account,
    leaving out year-end closing entries."""
    not_closing = JournalEntry.kind != "closing"
    return session.execute(
        select(Posting.book_id, Posting.year, Account.code, Account.type, money_sum(AMOUNT))
        .join(Account, Account.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.book_id.in_(book_ids), Account.type.in_(("income", "expense")), not_closing)
        .group_by(Posting.book_id, Posting.year, Account.code, Account.type)).all()


def _subsidies(session: Session, entity_ids: list[int]):
    year = extract("year", Subsidy.date)
    return session.execute(
        select(Subsidy.entity_id, year, money_sum(Subsidy.__table__.c.amount))
        .where(Subsidy.entity_id.in_(entity_ids), Subsidy.live()).group_by(Subsidy.entity_id, year)).all()


def _distributions(session: Session, entity_ids: list[int]):
    """Per entity and year, from the run in force: distributed, to households, households reached (those
    with a positive total), their people where known, what those got, and how many lack a size."""
    pm = PayoutMember.__table__.c
    reached = and_(Member.household_id.is_not(None), pm.total > 0)
    known = and_(reached, Household.persons.is_not(None))
    return session.execute(
        select(PayoutRun.entity_id, PayoutRun.year,
               money_sum(pm.total).label("distributed"),
               money_sum(case((reached, pm.total), else_=0)).label("to_households"),
               func.count(case((reached, 1))).label("households"),
               func.sum(case((known, Household.persons), else_=0)).label("persons"),
               money_sum(case((known, pm.total), else_=0)).label("to_known"),
               func.count(case((and_(reached, Household.persons.is_(None)), 1))).label("unknown_size"))
        .join(PayoutMember, PayoutMember.run_id == PayoutRun.id)
        .join(Member, Member.id == PayoutMember.member_id)
        .outerjoin(Household, Household.id == Member.household_id)
        .where(PayoutRun.entity_id.in_(entity_ids), PayoutRun.status.in_(IN_FORCE))
        .group_by(PayoutRun.entity_id, PayoutRun.year)).all()


def _reached(session: Session, entity_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(PayoutRun.year, func.count(distinct(Member.household_id)))
        .join(PayoutMember, PayoutMember.run_id == PayoutRun.id)
        .join(Member, Member.id == PayoutMember.member_id)
        .where(PayoutRun.entity_id.in_(entity_ids), PayoutRun.status.in_(IN_FORCE),
               Member.household_id.is_not(None), PayoutMember.__table__.c.total > 0)
        .group_by(PayoutRun.year)).all()
    return {int(year): count for year, count in rows}


def default_year(session: Session, township_id: int, *, today: dt.date | None = None) -> int:
    """The year the township's pages open on when none is asked for: the latest year (not after this one) with a
    distribution run posted in some entity's books, else last year (by China's calendar). Never simply the newest
    year with any data: one record dated next year by mistake must not move every page to that year. One
    statement."""
    today = today or china_today()
    latest = session.scalar(
        select(func.max(PayoutRun.year)).join(Entity, Entity.id == PayoutRun.entity_id)
        .where(Entity.township_id == township_id, PayoutRun.status.in_(IN_FORCE), PayoutRun.year <= today.year))
    return int(latest) if latest is not None else today.year - 1


def kind_labels(gettext) -> dict[str, str]:
    return {k: gettext(v) for k, v in ENTITY_KINDS.items()}


def households_of(session: Session, entity: Entity) -> Table:
    """The entity's member households and what each received, per year, from the runs in force (one
    statement): for the drill-down from an entity to a household."""
    pm = PayoutMember.__table__.c
    rows = session.execute(
        select(PayoutRun.year, Member.code, Household.head_name, Household.persons, pm.total, pm.deductions,
               pm.net, pm.paid)
        .join(PayoutMember, PayoutMember.run_id == PayoutRun.id)
        .join(Member, Member.id == PayoutMember.member_id)
        .join(Household, Household.id == Member.household_id)
        .where(PayoutRun.entity_id == entity.id, PayoutRun.status.in_(IN_FORCE))
        .order_by(PayoutRun.year.desc(), Member.member_no)).all()
    table = Table(HOUSEHOLD_COLUMNS, [
        {"year": year, "member": code, "name": name, "persons": persons, "total": total, "deductions": deductions,
         "net": net, "paid": paid}
        for year, code, name, persons, total, deductions, net, paid in rows])
    return table.with_totals()


HOUSEHOLD_COLUMNS = (
    Column("year", N_("Year"), "int"),
    Column("member", N_("Household")),
    Column("name", N_("Head of household")),
    Column("persons", N_("People in the household"), "int"),
    Column("total", N_("Total"), "money", total=True),
    Column("deductions", N_("Deductions"), "money", total=True),
    Column("net", N_("Net"), "money", total=True),
    Column("paid", N_("Paid"), "money", total=True),
)

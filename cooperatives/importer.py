"""Loading a validated workbook into the books, all or nothing, through the bulk path.

The workbook parser (``cooperatives.workbook``) checks every cell; this module checks what needs the
database — the entity, members and households the rows name, closed years, contract numbers
already used — and reports those problems in the same ``sheet:row:column: reason`` form. Only when
the whole workbook is clean does it write anything, with SQLAlchemy Core ``executemany`` and one
summary voucher (汇总凭证) per record kind and day, posted through ``ledger.operations.post_entries``.

Re-importing: every import stores the workbook's content digest (independent of xlsx/csv container
and of English/Chinese naming); the same digest twice for one entity is refused, so the books are
never doubled.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from cooperatives.access import Principal, Rule, keeps_books, operation
from cooperatives.kinds import KINDS, PARTY_KINDS, POSTING_ORDER, RECORD_MODELS, RecordContext, check_records
from cooperatives.limits import DEFAULT_LIMITS, ReadLimits
from cooperatives.models import (
    CHART_FOR_KIND,
    CapitalContribution,
    Entity,
    Household,
    Import,
    LandContract,
    Member,
    ShareHolding,
    Township,
    Village,
    chart_for,
)
from cooperatives.monitoring import open_sheet_periods
from cooperatives.operations import (
    EnrolmentContext,
    accrue_land_rent,
    audit,
    book_investments,
    check_enrolment,
    create_entity,
    ensure_village,
    household_fields,
    investment_problem,
    link_member_entity,
    member_bank_fields,
    post_opening,
    post_vouchers,
    record,
    settle_books_start,
    voucher_postings,
    voucher_problems,
)
from cooperatives.postings import RECORD_MEMOS, SHAPE_KEYS, land_rent_for_year, leg_shape, legs_for, legs_of
from cooperatives.workbook import Problem, Row, Workbook, WorkbookError, problem, read_workbook_partial
from ledger.clock import china_today
from ledger.db import insert_raw, keyed_in, raw_converters
from ledger.entries import EntryDraft
from ledger.i18n import N_, msg
from ledger.operations import ensure_parties, post_entries
from ledger.queries import book_has_entries


class ImportRefused(Exception):
    """The workbook is valid but must not be imported (e.g. it was imported already); ``reason`` says why."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(reason)


@dataclass
class ImportResult:
    entity_code: str
    import_id: int | None
    counts: dict[str, int] = field(default_factory=dict)
    entries: int = 0
    dry_run: bool = False


@dataclass
class _Plan:
    """What the checks found out, for the write phase."""

    entity: Entity | None
    entity_row: Row | None
    enrolment: EnrolmentContext | None = None
    households: dict[str, int] = field(default_factory=dict)     # code -> id, existing
    new_households: list[Row] = field(default_factory=list)
    new_members: list[Row] = field(default_factory=list)
    #: member code -> the bank account the workbook gives for a household another entity registered
    member_banks: dict[str, str | None] = field(default_factory=dict)
    #: member codes whose ID number this workbook gave (proved, for households another entity registered)
    id_given: set[str] = field(default_factory=set)
    #: entities of the township a cluster project's members sheet names, to be linked (by the admin only)
    to_link: dict[str, int] = field(default_factory=dict)
    township_entities: dict[str, int] = field(default_factory=dict)

    @property
    def entity_code(self) -> str:
        return self.entity.code if self.entity else self.entity_row.values["code"]

    @property
    def kind(self) -> str:
        return self.entity.kind if self.entity else self.entity_row.values["kind"]


def import_path(session: Session, path, *, entity_code: str | None = None, actor: Principal,
                dry_run: bool = False, limits: ReadLimits = DEFAULT_LIMITS) -> ImportResult:
    """Read the workbook at ``path`` (within ``limits``) and import it; every problem of the file — cell
    problems and problems against the database alike — is reported together in one WorkbookError."""
    wb, problems = read_workbook_partial(path, limits)
    return import_workbook(session, wb, entity_code=entity_code, actor=actor, dry_run=dry_run, problems=problems)


def _workbook_entity(session, wb: Workbook, *, entity_code: str | None = None, **kwargs) -> Entity | None:
    """The entity a workbook imports into, if it exists already (the access rule judges it): the one named by
    the caller (a page's, the API's), else the workbook's entity sheet's. (A sheet naming another entity than
    the caller's is then a problem of the workbook, reported with the others.)"""
    rows = wb.sheets.get("entity", [])
    code = entity_code or (rows[0].values["code"] if rows else None)
    return session.scalar(select(Entity).where(Entity.code == code)) if code else None


def _may_import(session, actor: Principal, entity: Entity | None) -> bool:
    """Into an existing entity: its accountant; creating a new entity: the admin or the console only."""
    return entity is not None and keeps_books().check(session, actor, entity)


#: the template's example rows (cooperatives.template): households coded EX-…, of the example entity EX-COOP
EXAMPLE_PREFIX, EXAMPLE_ENTITY = "EX-", "EX-COOP"


def _check_examples(wb: Workbook, plan, problems: list[Problem]) -> None:
    """The template's example rows are for trying it out (into the example entity, or as a check only): left
    in a real entity's workbook they would put a made-up household, its capital and its deliveries into the books."""
    if plan.entity_code == EXAMPLE_ENTITY:
        return
    for sheet, column in (("households", "code"), ("members", "member")):
        for row in wb.sheets.get(sheet, []):
            value = row.values.get(column)
            if isinstance(value, str) and value.startswith(EXAMPLE_PREFIX):
                problems.append(problem(row, column, msg(
                    N_("%(household)s is one of the template's example rows: delete the example rows (codes "
                       "starting with EX-) before importing, or import them as a check only."), household=value,
                    code="example_row")))


@operation(Rule("keeps_books_or_administers", _may_import, _workbook_entity))
def import_workbook(session: Session, wb: Workbook, *, entity_code: str | None = None, actor: Principal,
                    dry_run: bool = False, problems: list[Problem] | None = None) -> ImportResult:
    """Check ``wb`` against the database and, when everything is right, write it. Flushes only.

    ``problems`` already found in the file are reported together with the database checks'.
    Raises WorkbookError listing every problem (nothing written) or ImportRefused.
    """
    problems = list(problems or [])
    plan = _resolve_entity(session, wb, entity_code, problems)
    if plan is None:
        raise WorkbookError(problems)
    if plan.entity is not None and not problems:
        previous = session.scalar(select(Import).where(Import.entity_id == plan.entity.id, Import.digest == wb.digest))
        if previous is not None:
            raise ImportRefused(msg(
                N_("This workbook was already imported into %(entity)s on %(date)s (import %(id)s); nothing was "
                   "imported again."), entity=plan.entity.code, date=f"{previous.created_at:%Y-%m-%d}",
                id=previous.id, code="already_imported"))
    _check_households(session, wb, plan, problems, actor.is_root)
    _check_members(wb, plan, problems, actor.is_root)
    _check_records(session, wb, plan, problems)
    _check_investments(session, wb, plan, problems)
    _check_opening(session, wb, plan, problems)
    _check_journal(session, wb, plan, problems)
    if not dry_run:
        _check_examples(wb, plan, problems)
    if problems:
        raise WorkbookError(problems)
    counts = {kind: len(rows) for kind, rows in wb.sheets.items()}
    if dry_run:
        return ImportResult(entity_code=plan.entity_code, import_id=None, counts=counts, dry_run=True)
    return _write(session, wb, plan, counts, actor)


# ---------------------------------------------------------------------------------------------- checks


def _check_investments(session, wb, plan: _Plan, problems) -> None:
    """Capital a member entity puts into a cluster project is 长期投资 in its own books too (``book_investments``):
    a row dated in a year closed there is refused at its place, before anything is written."""
    rows = wb.sheets.get("capital", [])
    if not rows or plan.kind != "cluster_project":
        return
    entities = {**(plan.enrolment.linked if plan.enrolment else {}), **plan.to_link}   # member code -> entity id
    for row in rows:
        v = row.values
        if v["member"] not in entities or (v.get("form") or "cash") != "cash":
            continue
        investor = session.get(Entity, entities[v["member"]])
        if v["date"] >= investor.books_start and (
                reason := investment_problem(session, plan.entity_code, investor, v["date"])) is not None:
            problems.append(problem(row, "member", reason))


def _check_opening(session, wb, plan: _Plan, problems) -> None:
    """The ``opening`` sheet (期初余额): the same checks as :func:`post_opening` makes, each row located; only
    into books that have no entry yet."""
    rows = wb.sheets.get("opening", [])
    if not rows:
        return
    if plan.entity is not None and book_has_entries(session, plan.entity.book_id):
        problems.append(problem(rows[0], "account", msg(
            N_("%(entity)s already has entries: opening balances come before anything else."),
            entity=plan.entity.code, code="opening_after_entries")))
        return
    members = set(plan.enrolment.members) | {r.values["member"] for r in plan.new_members}
    chart = plan.entity.chart if plan.entity is not None else chart_for(plan.kind, _books_start(wb, plan))
    _, found = voucher_postings(chart, [r.values for r in rows], members, plan.entity_code, opening=True,
                                locate=lambda i, column, reason: problem(rows[i], column, reason))
    problems += [p if p.sheet else problem(rows[0], "", p.reason) for p in found]


def _vouchers(wb: Workbook) -> list[list[Row]]:
    """The ``journal`` sheet's rows grouped by their ``voucher`` key, in the order the keys first appear."""
    groups: dict[str, list[Row]] = {}
    for row in wb.sheets.get("journal", []):
        groups.setdefault(row.values["voucher"], []).append(row)
    return list(groups.values())


def _check_journal(session, wb, plan: _Plan, problems) -> None:
    """The ``journal`` sheet (凭证): each voucher's lines share its date and memo, and the voucher meets the
    checks :func:`post_vouchers` makes (balanced, on the chart, dated where the books take it), each problem
    located at its row."""
    groups = _vouchers(wb)
    if not groups:
        return
    context = RecordContext.load(session, plan.entity, entity_code=plan.entity_code,
                                 members={r.values["member"] for r in plan.new_members})
    if plan.entity is None:
        context.books_start = _books_start(wb, plan)
    chart = plan.entity.chart if plan.entity is not None else chart_for(plan.kind, context.books_start)
    for rows in groups:
        first = rows[0].values
        for row in rows[1:]:
            for column in ("date", "memo"):
                if row.values[column] != first[column]:
                    problems.append(problem(row, column, msg(
                        N_("The lines of voucher %(voucher)s must have one date.") if column == "date" else
                        N_("The lines of voucher %(voucher)s must have one memo (摘要)."), voucher=first["voucher"],
                        code="voucher_lines_differ")))
        _, found = voucher_problems({**first, "lines": [r.values for r in rows]}, context, chart,
                                    locate=lambda i, column, reason, rows=rows: problem(rows[i], column, reason))
        problems += [p if p.sheet else problem(rows[0], p.column or "", p.reason) for p in found]


def _dated_years(wb: Workbook) -> list[int]:
    return sorted({r.values[c].year for kind, rows in wb.sheets.items() if kind != "shares" for r in rows
                   for c in ("date", "start_on", "acquired_on") if isinstance(r.values.get(c), dt.date)})


def _shares_from(session, wb: Workbook, plan: _Plan) -> dt.date:
    """The day a row of the share register without a date is dated: the day the books start once this workbook is
    in (an empty book's start follows its earliest record, :func:`settle_books_start`)."""
    if plan.entity is None:
        return _books_start(wb, plan) or dt.date(china_today().year, 1, 1)
    start, earliest = plan.entity.books_start, min(_posting_dates(wb), default=None)
    if earliest is not None and earliest < start and not book_has_entries(session, plan.entity.book_id):
        return dt.date(earliest.year, 1, 1)
    return start


def _posting_dates(wb: Workbook):
    """The dates of the workbook's records that post."""
    for kind in (*POSTING_ORDER, "journal"):
        for r in wb.sheets.get(kind, []):
            yield r.values["date"]
    for r in wb.sheets.get("assets", []):
        yield r.values["acquired_on"]


def _books_start(wb: Workbook, plan: _Plan) -> dt.date | None:
    """The start of the books of an entity the workbook creates: its ``entity`` sheet's ``books_start``, else 1
    January of the earliest record that posts (a land contract signed years before costs only from then), else
    of the earliest land contract. None for an entity that exists (its books have their start)."""
    if plan.entity is not None:
        return None
    given = plan.entity_row.values.get("books_start") if plan.entity_row is not None else None
    if given is not None:
        return given
    posting = list(_posting_dates(wb))
    dated = posting or [r.values["start_on"] for r in wb.sheets.get("land", [])]
    return dt.date(min(dated).year, 1, 1) if dated else None


def _resolve_entity(session, wb, entity_code, problems) -> _Plan | None:
    rows = wb.sheets.get("entity", [])
    row = rows[0] if rows else None
    code = row.values["code"] if row else entity_code
    if row is not None and entity_code and entity_code != code:
        problems.append(problem(row, "code", msg(N_("The workbook is for entity %(entity)s, not %(wanted)s."),
                                                 entity=code, wanted=entity_code, code="other_entity")))
        return None
    if code is None:
        problems.append(Problem(wb.source, 0, "entity", msg(
            N_("The workbook has no entity sheet: name the entity with --entity CODE."), code="no_entity_sheet")))
        return None
    entity = session.scalar(select(Entity).where(Entity.code == code))
    if entity is None and row is None:
        problems.append(Problem(wb.source, 0, "entity", msg(
            N_("There is no entity %(entity)s: add an entity sheet to create it."), entity=code, code="no_entity")))
        return None
    if entity is not None and row is not None and row.values["kind"] != entity.kind:
        problems.append(problem(row, "kind", msg(N_("%(entity)s is a %(kind)s, not a %(other)s."), entity=code,
                                                 kind=entity.kind, other=row.values["kind"], code="other_kind")))
    return _Plan(entity=entity, entity_row=row)


def _check_households(session, wb, plan: _Plan, problems, root: bool) -> None:
    """Every household the workbook names, against what is registered: new ones are registered by this
    entity; one registered already may be enrolled only as :func:`check_enrolment` allows (the same rule as
    the registration page and the API)."""
    rows = wb.sheets.get("households", [])
    members = wb.sheets.get("members", [])
    codes = {r.values["code"] for r in rows} | {r.values["member"] for r in members}
    township_id = plan.entity.township_id if plan.entity else None
    if plan.entity is None:       # a new entity: its township may exist already
        township_id = session.scalar(select(Township.id).where(Township.name == plan.entity_row.values["township"]))
    plan.enrolment = EnrolmentContext.load(session, plan.entity, codes, entity_code=plan.entity_code,
                                           township_id=township_id, kind=plan.kind)
    if plan.kind == "cluster_project" and township_id is not None:
        plan.township_entities = dict(session.execute(select(Entity.code, Entity.id).where(
            Entity.code.in_([r.values["member"] for r in members]), Entity.township_id == township_id)).all())
    plan.households = {code: known.id for code, known in plan.enrolment.households.items()}
    id_numbers = {r.values["code"]: r.values.get("id_number") for r in rows}
    for row in rows:
        code = row.values["code"]
        if code not in plan.households:
            plan.new_households.append(row)
            continue
        found = check_enrolment(plan.enrolment, code, row.values.get("id_number"), root=root)
        if found is not None:
            problems.append(problem(row, *found))
        elif code not in plan.enrolment.members and not _owned(plan, code):
            plan.member_banks[code] = row.values.get("bank_account")
    plan.id_given = {code for code, number in id_numbers.items() if number}


def _owned(plan: _Plan, code: str) -> bool:
    known = plan.enrolment.households.get(code)
    return known is not None and plan.entity is not None and known.owner_entity_id == plan.entity.id


def _check_members(wb, plan: _Plan, problems, root: bool) -> None:
    rows = wb.sheets.get("members", [])
    context = plan.enrolment
    new_codes = {r.values["code"] for r in plan.new_households}
    numbers = {no: code for code, no in context.members.items()}
    listed = {r.values["code"] for r in wb.sheets.get("households", [])}
    for row in rows:
        found = _member_problems(row, plan, context, numbers, new_codes, listed, root)
        if found:                   # every problem of the row, not only the first
            problems += found
        elif row.values["member"] not in context.members:
            plan.new_members.append(row)
    for row in wb.rejected.get("members", []):      # a row refused for a cell: is its household known?
        code = row.values.get("member")
        if code and code not in context.members and code not in new_codes and code not in plan.households \
                and code not in context.linked and not (root and code in plan.township_entities):
            problems.append(problem(row, "member", _unknown_member(plan, code)))


def _unknown_member(plan: _Plan, code: str):
    what = (N_("%(member)s is neither a household (in the households sheet or registered before) nor an "
               "entity linked to this project.") if plan.kind == "cluster_project" else
            N_("Unknown household %(member)s: it is neither in the households sheet nor registered before."))
    return msg(what, member=code, code="unknown_member")


def _member_problems(row: Row, plan: _Plan, context: EnrolmentContext, numbers: dict, new_codes: set, listed: set,
                     root: bool) -> list[Problem]:
    """Every problem of one row of the members sheet against the register (none: a member to enrol, or one
    enrolled already with the same number); links a cluster project's member entity when the admin imports."""
    code, no = row.values["member"], row.values["member_no"]
    persons, known = row.values.get("persons"), context.households.get(code)
    found: list[Problem] = []
    if persons is not None and known is not None and not _owned(plan, code) and persons != known.persons:
        found.append(problem(row, "persons", msg(
            N_("The size of household %(member)s is kept by the entity that registered it."), member=code,
            code="persons_not_ours")))
    if code in context.members:
        if context.members[code] != no:
            found.append(problem(row, "member_no", msg(N_("%(member)s is already member no. %(n)s, not %(no)s."),
                                                       member=code, n=context.members[code], no=no,
                                                       code="member_no_differs")))
        return found
    if no in numbers:
        found.append(problem(row, "member_no", msg(N_("Member no. %(n)s is already %(member)s."), n=no,
                                                   member=numbers[no], code="member_no_taken")))
    if root and plan.kind == "cluster_project" and code in plan.township_entities:
        if not found:
            plan.to_link[code] = plan.township_entities[code]      # the admin importing is the admin linking
    elif code not in new_codes and code not in plan.households and code not in context.linked:
        found.append(problem(row, "member", _unknown_member(plan, code)))
    if code in plan.households and code not in listed:          # registered before, not in this workbook
        refused = check_enrolment(context, code, None, root=root)
        if refused is not None:
            found.append(problem(row, "member", refused[1]))
    return found


def _check_records(session, wb, plan: _Plan, problems) -> None:
    """Every record against the books, by :func:`cooperatives.kinds.check_records` — the check a record typed
    on a page meets too — with the context loaded once for the whole workbook."""
    context = RecordContext.load(session, plan.entity, entity_code=plan.entity_code,
                                 members={r.values["member"] for r in plan.new_members}, contracts="land" in wb.sheets,
                                 wages="payments" in wb.sheets, receivables="receipts" in wb.sheets,
                                 projects=bool({"assets", "expenses", "subsidies"} & set(wb.sheets)),
                                 shares="shares" in wb.sheets)
    context.shares_from = _shares_from(session, wb, plan)
    if plan.entity is None:
        context.entity_kind = plan.kind
        context.books_start = _books_start(wb, plan)
        context.chart = chart_for(plan.kind, context.books_start) if plan.kind in CHART_FOR_KIND else None
    for row in wb.sheets.get("subsidies", []):      # a project this workbook's subsidy funds can pay in it
        v = KINDS["subsidies"].derive(dict(row.values))
        if v["kind"] == "fiscal":
            context.add_subsidy(v["project"], v["date"], v["amount"], bool(v.get("quantify", True)))
    if "receipts" in wb.sheets:
        for row in wb.sheets.get("sales", []):      # what this workbook sells on credit can be received in it
            v = row.values
            if v.get("paid_by") == "credit" and not v.get("member"):
                context.receivables[v["buyer"]] = context.receivables.get(v["buyer"], 0) + v["amount"]
    for row in plan.new_members:
        context.spans[row.values["member"]] = (row.values["joined_on"], row.values.get("left_on"))
    for row in wb.sheets.get("labor", []):          # wages this workbook accrues can be paid in it
        v = KINDS["labor"].derive(dict(row.values))
        context.wages_owed[v["member"]] = context.wages_owed.get(v["member"], 0) + v["amount"]
    if "payments" in wb.sheets:
        _add_current(context, wb, plan)
    for kind in (*POSTING_ORDER, "assets", "land", "shares"):
        rows = wb.sheets.get(kind, [])
        if rows:
            problems += check_records(kind, [r.values for r in rows], context,
                                      lambda i, column, reason, rows=rows: problem(rows[i], column, reason))
    problems += _rejected_problems(wb, context)


def _rejected_problems(wb: Workbook, context: RecordContext) -> list[Problem]:
    """What else is wrong with the rows refused for a cell (:attr:`Workbook.rejected`), so a row's every problem is
    listed at once: the member it names (not a member, or missing) and its date (before the books start, or in a
    closed year) — the first checks :func:`check_records` makes, on the cells that did read."""
    found: list[Problem] = []
    for kind in (*POSTING_ORDER, "assets", "land", "shares"):
        spec = KINDS[kind]
        for row in wb.rejected.get(kind, []):
            v = row.values
            if "member" in v and spec.member != "none":
                code = v["member"]
                if code and code not in context.members:
                    found.append(problem(row, "member", msg(N_("%(member)s is not a member of %(entity)s."),
                                                            member=code, entity=context.entity_code,
                                                            code="not_a_member")))
            on = v.get(spec.date_column)
            if isinstance(on, dt.date) and (reason := context.date_problem(on, posts=spec.posts)) is not None:
                found.append(problem(row, spec.date_column, reason))
    return found


def _add_current(context: RecordContext, wb: Workbook, plan: _Plan) -> None:
    """What the workbook's own records leave the entity owing each member on 成员往来 (114), beside the books: its
    deliveries not paid on the spot and the base rent of its land contracts in the years it records, less the
    inputs bought on credit, the advances and the sales on credit to the member — what a payment on account in
    the same workbook may pay without a warning."""
    owed = context.current_owed
    start = context.books_start or (plan.entity.books_start if plan.entity is not None else None)

    def add(member: str, amount) -> None:
        owed[member] = owed.get(member, Decimal(0)) + amount

    for row in wb.sheets.get("deliveries", []):
        v = KINDS["deliveries"].derive(row.values)
        if not v.get("paid", True):
            add(v["member"], v["amount"])
    for kind in ("inputs", "advances"):
        for row in wb.sheets.get(kind, []):
            if kind == "advances" or row.values.get("on_credit", True):
                add(row.values["member"], -row.values["amount"])
    for row in wb.sheets.get("sales", []):
        if row.values.get("member") and row.values.get("paid_by") == "credit":
            add(row.values["member"], -row.values["amount"])
    years = _dated_years(wb) if wb.sheets.get("land") else []
    for row in wb.sheets.get("land", []):
        v = row.values
        for year in years:
            if start is None or year >= start.year:
                add(v["member"], land_rent_for_year(v["area_mu"], v["base_rent_per_mu"], max(v["start_on"], start or
                                                    v["start_on"]), v.get("end_on"), year))


# ---------------------------------------------------------------------------------------------- writing


def _write(session: Session, wb: Workbook, plan: _Plan, counts: dict, actor: Principal) -> ImportResult:
    years = _dated_years(wb)
    entity = plan.entity
    if entity is None:
        v = plan.entity_row.values
        entity = create_entity(session, code=v["code"], name=v["name"], kind=v["kind"], township=v["township"],
                               village=v.get("village"), credit_code=v.get("credit_code"),
                               books_start=_books_start(wb, plan), actor=actor)
    else:
        settle_books_start(session, entity, min(_posting_dates(wb), default=None))
    imp = Import(entity_id=entity.id, digest=wb.digest, filename=str(wb.source)[:300],
                 rows=sum(counts.values()), actor_id=actor.user_id)
    session.add(imp)
    session.flush()
    for code, entity_id in plan.to_link.items():
        plan.enrolment.linked[code] = link_member_entity(session, entity, session.get(Entity, entity_id),
                                                         actor=actor).member_entity_id
    _write_households(session, entity, plan)
    member_ids = _write_members(session, entity, plan, wb.sheets.get("members", []))
    if wb.sheets.get("opening"):                       # before every record: the books start from these
        post_opening(session, entity, [r.values for r in wb.sheets["opening"]], actor=actor)
    entries = _write_records(session, wb, entity, imp, member_ids, actor)
    if entity.kind == "cluster_project" and wb.sheets.get("capital"):   # a member entity's 长期投资, in its books
        book_investments(session, entity, list(session.scalars(select(CapitalContribution).where(
            CapitalContribution.import_id == imp.id, CapitalContribution.member_id.in_(
                select(Member.id).where(Member.entity_id == entity.id, Member.member_entity_id.is_not(None))))
            .order_by(CapitalContribution.id))), actor=actor)
    entries += _write_stock_back(session, wb, entity, imp, actor)
    entries += _write_assets(session, wb, entity, imp, actor)
    entries += _write_land(session, wb, entity, imp, member_ids, years, actor)
    _write_shares(session, wb, entity, imp, member_ids)
    vouchers = [{**rows[0].values, "attachments": max(r.values.get("attachments") or 0 for r in rows),
                 "lines": [r.values for r in rows]} for rows in _vouchers(wb)]
    if vouchers:                            # 凭证: each voucher as one typed on the page would be, posted at once
        entries += len(post_vouchers.__wrapped__(session, entity, vouchers, actor=actor, import_id=imp.id))
    confirmed = sum(1 for rows in wb.sheets.values() for r in rows if r.values.get("confirm"))
    audit(session, actor_id=actor.user_id, action="import", target=f"import:{imp.id}", entity_id=entity.id,
          detail=", ".join([f"{k}={n}" for k, n in sorted(counts.items())]     # rows confirmed over a warning (确认)
                           + ([f"confirmed={confirmed}"] if confirmed else [])))
    session.flush()
    return ImportResult(entity_code=entity.code, import_id=imp.id, counts=counts, entries=entries)


def _write_households(session, entity: Entity, plan: _Plan) -> None:
    if not plan.new_households:
        return
    township = session.get(Township, entity.township_id)
    villages: dict[str, Village] = {}
    rows = []
    for row in plan.new_households:
        v = row.values
        village = villages.get(v["village"]) or villages.setdefault(v["village"], ensure_village(session, township, v["village"]))
        rows.append({"code": v["code"], "head_name": v["head_name"], "village_id": village.id, "phone": v.get("phone"),
                     "monitoring": v.get("monitoring") or "none", "poverty_exited": bool(v.get("poverty_exited")),
                     "persons": v.get("persons"), "locale": "zh_Hans_CN", "owner_entity_id": entity.id,
                     **household_fields(v.get("id_number"), v.get("bank_account"))})
    session.execute(insert(Household.__table__), rows)
    plan.households.update(keyed_in(session, Household.code, Household.id, [r["code"] for r in rows]))
    # a household registered as monitored: a period from today (cooperatives.monitoring), the flag kept as it is
    open_sheet_periods(session, {plan.households[r["code"]]: r["monitoring"] for r in rows if r["monitoring"] != "none"})


def _write_members(session, entity: Entity, plan: _Plan, wb_members: list[Row] = ()) -> dict[str, int]:
    new = {r.values["code"] for r in plan.new_households}
    ours = new | {code for code in plan.households if _owned(plan, code)}
    if plan.new_members:
        rows = []
        for row in plan.new_members:
            v = row.values
            code = v["member"]
            household = plan.households.get(code)
            rows.append({"entity_id": entity.id, "code": code, "member_no": v["member_no"], "household_id": household,
                         "member_entity_id": None if household else plan.enrolment.linked[code],
                         "joined_on": v["joined_on"], "left_on": v.get("left_on"),
                         "farmer": v.get("farmer", True), "land_deduction_consent": bool(v.get("land_consent")),
                         "id_recorded": household is not None and (code in ours or code in plan.id_given),
                         **member_bank_fields(plan.member_banks.get(code))})
        session.execute(insert(Member.__table__), rows)
    persons = [{"household_id": plan.households[r.values["member"]], "n_persons": r.values["persons"]}
               for r in wb_members if r.values.get("persons") is not None and r.values["member"] in ours]
    if persons:         # the members sheet's 家庭人口 fills the household record (one this entity registered)
        session.execute(update(Household.__table__).where(Household.__table__.c.id == bindparam("household_id"))
                        .values(persons=bindparam("n_persons")), persons)
    members = dict(session.execute(select(Member.code, Member.id).where(Member.entity_id == entity.id)).all())
    names = _member_names(session, entity)
    ensure_parties(session, entity.book, {code: names.get(code, code) for code in members})
    return members


def _member_names(session, entity: Entity) -> dict[str, str]:
    rows = session.execute(select(Member.code, Household.head_name, Entity.name)
                           .outerjoin(Household, Household.id == Member.household_id)
                           .outerjoin(Entity, Entity.id == Member.member_entity_id)
                           .where(Member.entity_id == entity.id)).all()
    return {code: hname or ename or code for code, hname, ename in rows}


def _write_records(session, wb, entity: Entity, imp: Import, member_ids, actor: Principal) -> int:
    """One summary voucher per (day, kind); records written with one driver-level bulk insert per chunk.

    This is the hot path of a large import, in two passes over each sheet's rows so that no second
    copy of a large sheet is ever held: the first sums every record's legs per (day, kind) for the
    vouchers; once they are posted (their ids are the records' ``entry_id``), the second converts
    the rows to their stored form and inserts them in chunks of :data:`CHUNK` — plain tuples, no ORM
    objects, no per-row SQLAlchemy processing — in date order (file order within a day), which keeps
    the (entity, date, member) index's inserts local: on the county benchmark, 3.6 s instead of 7.5 s
    for 700,000 deliveries on SQLite.
    """
    chart, entity_id, import_id = entity.chart, entity.id, imp.id
    dialect = session.get_bind().dialect.name
    sums: dict[tuple[dt.date, int], dict[tuple[str, str | None], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for order, kind in enumerate(POSTING_ORDER):
        rows = wb.sheets.get(kind)
        if not rows:
            continue
        member_kind, derive = kind in PARTY_KINDS, KINDS[kind].derive
        # records alike in day, member and what decides their accounts (postings.SHAPE_KEYS) post alike:
        # sum their amounts first (one dict update a row), then spread each group's sum over its legs
        shaped = [k for k in SHAPE_KEYS if k in rows[0].values]
        if KINDS[kind].member == "optional":          # (day, the member or None, shape)
            def alike(v, shaped=shaped):
                return (v["date"], v.get("member"), *(v.get(k) for k in shaped))
        else:                                          # (day, member or day, shape)
            alike = itemgetter("date", "member" if member_kind else "date", *shaped)
        groups: dict[tuple, list] = {}
        for row in rows:
            values = derive(row.values)
            group = groups.get(key := alike(values))
            if group is None:
                groups[key] = [values["amount"], values]
            else:
                group[0] += values["amount"]
        shapes: dict[tuple, tuple] = {}
        for (on, member, *how), (amount, values) in groups.items():
            marker = _MEMBER if member_kind and member is not None else None
            shape = shapes.get(how := (marker, *how))
            if shape is None:       # where records like this post, the member's legs marked _MEMBER
                shape = shapes[how] = leg_shape(kind, chart, values, marker)
            totals = sums[(on, order)]
            for account, sign, party in shape:
                totals[(account, member if party is _MEMBER else None)] += amount if sign > 0 else -amount
    drafts, entry_keys = [], []
    for on, order in sorted(sums):
        legs = legs_of(sums[(on, order)])
        if legs:            # a day of zero-amount records (e.g. produce taken at price 0) posts nothing
            entry_keys.append((on, order))
            drafts.append(EntryDraft(date=on, memo=f"{RECORD_MEMOS[POSTING_ORDER[order]]}汇总 {on.isoformat()}",
                                     source=f"import:{import_id}:{POSTING_ORDER[order]}:{on.isoformat()}",
                                     postings=legs))
    entry_ids = dict(zip(entry_keys, post_entries(session, entity.book, drafts, actor_id=actor.user_id), strict=True))
    connection = session.connection()
    for order, kind in enumerate(POSTING_ORDER):
        rows = wb.sheets.get(kind)
        if rows:
            _insert_records(connection, dialect, kind, rows, member_ids,
                            {on: entry_id for (on, o), entry_id in entry_ids.items() if o == order},
                            (entity_id, import_id))
    return len(drafts)


def _write_stock_back(session, wb, entity: Entity, imp: Import, actor: Principal) -> int:
    """期初转回: each year-end stock count's cost comes back to the next year's costs on 1 January (one summary
    entry per count date, kind ``accrual``), as :func:`cooperatives.operations.record` does for one count."""
    totals: dict[dt.date, Decimal] = defaultdict(Decimal)
    for row in wb.sheets.get("stock", []):
        totals[row.values["date"]] += row.values["value"]
    drafts = [EntryDraft(date=on + dt.timedelta(days=1), memo=f"{RECORD_MEMOS['stock_back']}汇总 {on.year + 1}",
                         source=f"import:{imp.id}:stock-back:{on.isoformat()}", kind="accrual",
                         postings=legs_of({(p.account, p.party): p.amount for p in
                                           legs_for("stock_back", entity.chart, {"amount": amount}, None)}))
              for on, amount in sorted(totals.items()) if amount]
    post_entries(session, entity.book, drafts, actor_id=actor.user_id)
    return len(drafts)


def _write_assets(session, wb, entity: Entity, imp: Import, actor: Principal) -> int:
    """Fixed assets, each as one typed on a page would be (a handful a year: each posts its own entries), after the
    records whose subsidies they may use."""
    posted = 0
    for row in wb.sheets.get("assets", []):
        asset = record.__wrapped__(session, entity, "assets", row.values, actor=actor)
        asset.import_id = imp.id
        posted += asset.entry_id is not None
    return posted


_MEMBER = "\x00member"     #: stands for the member in a cached leg shape

CHUNK = 50_000      #: records converted and inserted at a time (bounds the import's memory beyond the workbook)
CACHE_LIMIT = 100_000     #: distinct converted values remembered per column
_MISSING = object()


def _insert_records(connection, dialect: str, kind: str, rows: list[Row], member_ids: dict[str, int],
                    entry_of_day: dict[dt.date, int], tail: tuple[int, int]) -> None:
    table, derive = RECORD_MODELS[kind].__table__, KINDS[kind].derive
    first = derive(rows[0].values)
    columns = [c for c in table.columns.keys() if c in first]
    converters = [(i, {None: None}, convert) for i, convert in enumerate(raw_converters(table, columns, dialect))
                  if convert is not None]        # per column, a cache: amounts and days repeat across a sheet
    has_member = "member_id" in table.columns
    pick = itemgetter(*columns)         # every record kind has several columns (date, amount, …): a tuple
    names = [*columns, *(["member_id"] if has_member else []), "entity_id", "import_id", "entry_id"]
    ordered = sorted(rows, key=_row_date)           # stable: file order within a day
    for start in range(0, len(ordered), CHUNK):
        out = []
        for row in ordered[start:start + CHUNK]:
            values = derive(row.values)
            record = list(pick(values))
            for i, cache, convert in converters:
                value = record[i]
                stored = cache.get(value, _MISSING)
                if stored is _MISSING:
                    stored = convert(value)
                    if len(cache) < CACHE_LIMIT and value.__class__ in (Decimal, dt.date):
                        cache[value] = stored
                record[i] = stored
            if has_member:
                code = values.get("member")
                record.append(member_ids[code] if code else None)
            record.extend(tail)
            record.append(entry_of_day.get(values["date"]))
            out.append(tuple(record))
        insert_raw(connection, table, names, out)


def _row_date(row: Row) -> dt.date:
    return row.values["date"]


def _write_shares(session, wb, entity: Entity, imp: Import, member_ids) -> None:
    """The share register's rows (份额登记簿), dated as the check dated them: written, never posted."""
    rows = wb.sheets.get("shares")
    if rows:
        session.execute(insert(ShareHolding.__table__), [{
            "entity_id": entity.id, "import_id": imp.id, "member_id": member_ids[r.values["member"]],
            "date": r.values["date"], "shares": r.values["shares"], "share_kind": r.values["kind"],
            "from_member_id": member_ids[r.values["from_member"]] if r.values.get("from_member") else None,
            "note": r.values.get("note")} for r in rows])


def _write_land(session, wb, entity: Entity, imp: Import, member_ids, years, actor: Principal) -> int:
    rows = wb.sheets.get("land")
    if not rows:
        return 0
    session.execute(insert(LandContract.__table__), [{
        "entity_id": entity.id, "import_id": imp.id, "member_id": member_ids[r.values["member"]],
        "contract_no": r.values["contract_no"], "area_mu": r.values["area_mu"],
        "shares": r.values["shares"], "base_rent_per_mu": r.values["base_rent_per_mu"],     # the sheet's defaults
        "start_on": r.values["start_on"], "end_on": r.values.get("end_on")} for r in rows])
    through = years[-1] if years else china_today().year
    first = min(r.values["start_on"].year for r in rows)
    posted = 0
    for year in range(max(first, entity.first_year), through + 1):
        posted += accrue_land_rent(session, entity, year, actor=actor) is not None
    return posted

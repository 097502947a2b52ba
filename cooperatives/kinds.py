"""Every kind of source record, in one place, and the one check of records against the books.

A :class:`RecordKind` holds what the code base needs to know of a kind: its table, its sheet (the
columns, their defaults and row checks, in ``cooperatives.workbook.SHEETS`` — the same rules for the
import, the forms and the API), whether it belongs to a member, the column that dates it, the words it is
shown with, the memo of its vouchers and what it posts (``cooperatives.postings.legs_for``). The lists the
rest of the code used to keep by hand (record models, import order, page kinds, labels, API schemas)
derive from :data:`KINDS`.

:func:`check_records` is the one check of records against the database — is the member a member of the
entity, does the year still take entries, is the contract number free — for one record typed on a page
or a million rows of a workbook alike: the context it needs is loaded once (:meth:`RecordContext.load`),
and each record is then checked against sets in memory.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from cooperatives.labels import RECORD_LABELS
from cooperatives.models import (
    Advance,
    CapitalContribution,
    Delivery,
    Entity,
    EntityLink,
    Expense,
    FixedAsset,
    InputSupply,
    InvestmentIncome,
    LaborRecord,
    LandContract,
    ManualVoucher,
    Member,
    Payment,
    Sale,
    SaleReceipt,
    ShareHolding,
    StockCount,
    Subsidy,
    Transfer,
)
from cooperatives.postings import RECORD_MEMOS, SUBSIDIES_WAIT, legs_for
from cooperatives.workbook import CONFIRM_HINT, SHEETS, Derived, SheetSpec
from ledger.chart import ROLES, AccountType, account_for_role, account_named
from ledger.clock import china_today
from ledger.db import money_sum
from ledger.errors import Problem
from ledger.i18n import N_, label, msg
from ledger.models import Period
from ledger.money import quantize
from ledger.queries import book_has_entries, party_balances


def _labor_amount(values: dict) -> dict:
    """A labour record's wage: days × rate, to the fen (the sheet has no amount column)."""
    if values.get("amount") is None:
        return dict(values, amount=quantize(values["days"] * values["rate"]))
    return values


def _stock_amount(values: dict) -> dict:
    """A stock count's amount is its value at cost."""
    return values if values.get("amount") is not None else dict(values, amount=values["value"])


def _asset_values(values: dict) -> dict:
    """An asset is dated by when it was acquired and summed by its cost (the names every record kind has)."""
    return dict(values, date=values["acquired_on"], amount=values["cost"])


def _sheet_defaults(name: str) -> Callable[[dict], dict]:
    """The sheet's own derived defaults (a delivery's amount = quantity × unit price …), for values that did
    not come through the sheet (a script calling :func:`cooperatives.operations.record`): one rule, the sheet's."""
    derived = [(c.name, c.default.compute) for c in SHEETS[name].columns if isinstance(c.default, Derived)]

    def fill(values: dict) -> dict:
        missing = [(column, compute) for column, compute in derived if values.get(column) is None]
        if not missing:
            return values
        values = dict(values)
        for column, compute in missing:
            values[column] = compute(values)
        return values

    return fill


@dataclass(frozen=True)
class RecordKind:
    name: str
    model: type
    #: "required": every record belongs to a member; "optional": a member when one is named (a sale to a
    #: member); "none": never
    member: str
    #: the column that dates the record (and decides the year it is booked in)
    date_column: str = "date"
    #: whether the record posts its own voucher (land contracts post through the yearly rent accrual)
    posts: bool = True
    #: values computed from the others once the row is valid (the sheet's ``Derived`` defaults cover the
    #: columns it has; this covers what is not a column, such as a labour record's amount)
    derive: Callable[[dict], dict] | None = None
    #: whether a workbook's records of the kind are posted in bulk, summed into one voucher a day; a fixed asset
    #: posts its own (its acquisition, its coming into use, the subsidy it uses) as one typed on a page would
    bulk: bool = True

    def __post_init__(self):
        if self.derive is None:
            object.__setattr__(self, "derive", _sheet_defaults(self.name))

    @property
    def sheet(self) -> SheetSpec:
        return SHEETS[self.name]

    @property
    def label(self) -> str:
        return RECORD_LABELS[self.name]

    @property
    def memo(self) -> str:
        """The memo of its vouchers: stored text, Chinese as the books are kept."""
        return RECORD_MEMOS[self.name]

    def legs(self, chart: str, values: dict, party: str | None) -> list:
        """What a record of this kind posts, on ``chart`` (debits positive): ``cooperatives.postings``."""
        return legs_for(self.name, chart, values, party)


#: in the order pages list them
KINDS: dict[str, RecordKind] = {k.name: k for k in (
    RecordKind("capital", CapitalContribution, "required"),
    RecordKind("land", LandContract, "required", date_column="start_on", posts=False),
    RecordKind("labor", LaborRecord, "required", derive=_labor_amount),
    RecordKind("deliveries", Delivery, "required"),
    RecordKind("inputs", InputSupply, "required"),
    RecordKind("sales", Sale, "optional"),
    RecordKind("receipts", SaleReceipt, "none"),
    RecordKind("expenses", Expense, "none"),
    RecordKind("subsidies", Subsidy, "none"),
    RecordKind("advances", Advance, "required"),
    RecordKind("payments", Payment, "required"),
    RecordKind("transfers", Transfer, "none"),
    RecordKind("stock", StockCount, "none", derive=_stock_amount),
    RecordKind("assets", FixedAsset, "none", date_column="acquired_on", derive=_asset_values, bulk=False),
    RecordKind("income", InvestmentIncome, "none"),
    # 份额登记簿: a collective's quantified shares, a register that posts nothing (INTERFACES §3.1)
    RecordKind("shares", ShareHolding, "required", posts=False, bulk=False),
)}
#: the kinds that post their own vouchers in bulk, in the order a workbook's records are posted
POSTING_ORDER = tuple(name for name, kind in KINDS.items() if kind.posts and kind.bulk)
#: kind -> table, for the kinds that post (reports and summaries sum their amounts)
RECORD_MODELS = {name: kind.model for name, kind in KINDS.items() if kind.posts}
#: kinds whose records belong to one member
MEMBER_KINDS = frozenset(name for name, kind in KINDS.items() if kind.member == "required")
#: what can be listed and voided (``coopledger records`` / ``void``, the void pages and API): every record kind, and
#: the vouchers typed as such (``journal``, :class:`cooperatives.models.ManualVoucher`)
VOIDABLE: dict[str, type] = {**{name: kind.model for name, kind in KINDS.items()}, "journal": ManualVoucher}
#: kinds whose records are a member's trade, capital or debt: dated outside the membership, a warning to confirm
#: (a payment may settle with a member who left; a land contract may be signed before joining)
MEMBERSHIP_KINDS = frozenset({"capital", "labor", "deliveries", "inputs", "sales", "advances"})
#: kinds whose records may post to a member's sub-ledger (a sale on credit to a member: the member's 114)
PARTY_KINDS = frozenset(name for name, kind in KINDS.items() if kind.member != "none")


# ------------------------------------------------------------------------------------------- checks


@dataclass
class RecordContext:
    """What :func:`check_records` compares records with, loaded once."""

    entity_code: str
    members: set[str] = field(default_factory=set)
    closed_years: set[int] = field(default_factory=set)
    used_contracts: set[str] = field(default_factory=set)
    #: 建账日期: records that post are dated on or after it (None: an entity not created yet, whose books will
    #: start with the earliest of them)
    books_start: dt.date | None = None
    #: member -> wages owed (应付劳务费, credit balance), with the labour records being brought in beside them:
    #: a payment for labour pays at most that (loaded with ``wages``)
    wages_owed: dict[str, Decimal] = field(default_factory=dict)
    #: who owes what on 应收款 (loaded with ``receivables``): each buyer of sales on credit not made to a member, and
    #: each cluster project this entity belongs to (``project:<code>``, its shares of the project's surplus), less
    #: what was received; with the sales being brought in beside them
    receivables: dict[str, Decimal] = field(default_factory=dict)
    #: a cluster project's code or name -> its key in ``receivables``
    payers: dict[str, str] = field(default_factory=dict)
    #: fiscal subsidy project -> its subsidies received, ``[(date, amount)]``, and what was paid out of it (loaded
    #: with ``projects``): an asset or expense paid out of it may use what had arrived by its date and is unspent;
    #: with the subsidies being brought in beside them
    projects: dict[str, list[tuple[dt.date, Decimal]]] = field(default_factory=dict)
    project_used: dict[str, Decimal] = field(default_factory=dict)
    #: fiscal subsidy project -> whether it is quantified to the members (one answer a project)
    project_quantify: dict[str, bool] = field(default_factory=dict)
    #: the codes of the fixed assets recorded (loaded with ``projects``)
    asset_codes: set[str] = field(default_factory=set)
    #: the entity's chart (capital put in kind names an asset account of it)
    chart: str | None = None
    #: member -> (joined on, left on): a member's record outside it is a warning to confirm
    spans: dict[str, tuple[dt.date, dt.date | None]] = field(default_factory=dict)
    #: member -> what the entity owes them on 成员往来 (114's credit balance; loaded with ``wages``): a payment on
    #: account above it is a warning to confirm; with what the records being brought in beside them add
    current_owed: dict[str, Decimal] = field(default_factory=dict)
    #: the entity's kind (only a collective keeps a share register)
    entity_kind: str | None = None
    #: the share register's live rows (loaded with ``shares``), with the rows being brought in beside them
    share_rows: list[ShareRow] = field(default_factory=list)
    #: the date a share row without one gets (the day the books start)
    shares_from: dt.date | None = None

    def date_problem(self, on: dt.date, *, posts: bool = True):
        """Why a record (one that ``posts``) or a voucher cannot be dated ``on``: before the books start, or in a
        year that no longer takes entries; None when it can."""
        if posts and self.books_start is not None and on < self.books_start:
            return msg(N_("%(date)s is before the books of %(entity)s start (%(start)s)."), date=on,
                       entity=self.entity_code, start=self.books_start, code="before_books_start")
        if on.year in self.closed_years:
            return msg(N_("%(year)s is closed in the books of %(entity)s."), year=on.year, entity=self.entity_code,
                       code="closed_year")
        return None

    def payer(self, buyer: str) -> str:
        """The key in :attr:`receivables` of whoever ``buyer`` names."""
        return self.payers.get(buyer, buyer)

    def _load_receivables(self, session: Session, entity: Entity) -> None:
        owed: dict[str, Decimal] = {}
        for buyer, amount in session.execute(
                select(Sale.buyer, money_sum(Sale.amount)).where(
                    Sale.entity_id == entity.id, Sale.live(), Sale.paid_by == "credit", Sale.member_id.is_(None))
                .group_by(Sale.buyer)):
            owed[buyer] = amount
        projects = session.execute(select(Entity.code, Entity.name).join(
            EntityLink, EntityLink.project_id == Entity.id).where(EntityLink.member_entity_id == entity.id)).all()
        shares = session.execute(select(InvestmentIncome.source, InvestmentIncome.amount).where(
            InvestmentIncome.entity_id == entity.id, InvestmentIncome.live(),
            InvestmentIncome.source_ref.is_not(None))).all()
        for code, name in projects:         # (a share is booked with the source "<project name> <year>年收益分配")
            key = self.payers[code] = self.payers[name] = f"project:{code}"
            owed[key] = sum((amount for source, amount in shares if source.startswith(f"{name} ")), Decimal("0.00"))
        for buyer, amount in session.execute(
                select(SaleReceipt.buyer, money_sum(SaleReceipt.amount))
                .where(SaleReceipt.entity_id == entity.id, SaleReceipt.live()).group_by(SaleReceipt.buyer)):
            key = self.payer(buyer)
            owed[key] = owed.get(key, Decimal("0.00")) - amount
        self.receivables = owed

    def _load_projects(self, session: Session, entity: Entity) -> None:
        waits = Subsidy.held if entity.chart in SUBSIDIES_WAIT else true()
        for name, on, amount, quantify in session.execute(
                select(Subsidy.project, Subsidy.date, Subsidy.amount, Subsidy.quantify).where(
                    Subsidy.entity_id == entity.id, Subsidy.kind == "fiscal", Subsidy.live(), waits,
                    Subsidy.project.is_not(None))):
            self.add_subsidy(name, on, amount, quantify)
        for model in (FixedAsset, Expense):
            for name, used in session.execute(select(model.project, money_sum(model.amount)).where(
                    model.entity_id == entity.id, model.live(), model.project.in_(list(self.projects)))
                    .group_by(model.project)):
                self.project_used[name] = self.project_used.get(name, Decimal("0.00")) + used
        self.asset_codes = set(session.scalars(select(FixedAsset.code).where(
            FixedAsset.entity_id == entity.id, FixedAsset.live())))

    def outside_membership(self, member: str, on: dt.date):
        """Why a record of ``member`` dated ``on`` is a warning: before they joined, after they left."""
        joined, left = self.spans[member]
        if on < joined:
            return msg(N_("%(date)s is before %(member)s joined %(entity)s (%(joined)s); %(hint)s."), date=on,
                       member=member, entity=self.entity_code, joined=joined, hint=label(CONFIRM_HINT),
                       code="outside_membership")
        if left is not None and on > left:
            return msg(N_("%(date)s is after %(member)s left %(entity)s (%(left)s); %(hint)s."), date=on,
                       member=member, entity=self.entity_code, left=left, hint=label(CONFIRM_HINT),
                       code="outside_membership")
        raise ValueError(f"{on} is within the membership of {member}")

    def add_subsidy(self, project: str, on: dt.date, amount: Decimal, quantify: bool) -> None:
        """A fiscal subsidy of ``project`` received on ``on`` (in the books, or in the records being brought in)."""
        self.projects.setdefault(project, []).append((on, amount))
        self.project_quantify.setdefault(project, quantify)

    def use_project(self, name: str, amount: Decimal, on: dt.date):
        """Why ``amount`` cannot be paid out of the subsidy project ``name`` on ``on`` (None: it can, and it is
        taken): the project's subsidies received by then, less what was paid out of it."""
        if name not in self.projects:
            return msg(N_("%(entity)s has no fiscal subsidy project named %(project)s."), entity=self.entity_code,
                       project=name, code="no_project")
        received = sum((a for when, a in self.projects[name] if when <= on), Decimal("0.00"))
        left = received - self.project_used.get(name, Decimal("0.00"))
        if amount > left:
            return msg(N_("Only %(left)s of project %(project)s had arrived by %(date)s and is unspent (专项应付款): "
                          "%(amount)s cannot be paid out of it."), left=max(left, Decimal("0.00")), project=name,
                       date=on, amount=amount, code="project_spent")
        self.project_used[name] = self.project_used.get(name, Decimal("0.00")) + amount
        return None

    def _load_shares(self, session: Session, entity: Entity) -> None:
        holder = Member.__table__.alias("holder")
        source = Member.__table__.alias("source")
        self.share_rows = [ShareRow(on, code, from_code, shares) for on, code, from_code, shares in session.execute(
            select(ShareHolding.date, holder.c.code, source.c.code, ShareHolding.shares)
            .join(holder, holder.c.id == ShareHolding.member_id)
            .outerjoin(source, source.c.id == ShareHolding.from_member_id)
            .where(ShareHolding.entity_id == entity.id, ShareHolding.live())
            .order_by(ShareHolding.date, ShareHolding.id))]

    @classmethod
    def load(cls, session: Session, entity: Entity | None, *, entity_code: str | None = None,
             members: Iterable[str] = (), contracts: bool = False, wages: bool = False,
             receivables: bool = False, projects: bool = False, shares: bool = False) -> RecordContext:
        """The entity's members (besides ``members``, e.g. those a workbook registers), its years that no
        longer take entries, and — with ``contracts`` — the land contract numbers it has used."""
        context = cls(entity.code if entity is not None else entity_code or "", set(members))
        if entity is None:
            return context
        context.chart = entity.chart
        context.entity_kind = entity.kind
        context.shares_from = entity.books_start
        # (empty books follow their first records)
        context.books_start = entity.books_start if book_has_entries(session, entity.book_id) else None
        for code, joined, left in session.execute(select(Member.code, Member.joined_on, Member.left_on).where(
                Member.entity_id == entity.id)):
            context.members.add(code)
            context.spans[code] = (joined, left)
        context.closed_years = set(session.scalars(select(Period.year).where(
            Period.book_id == entity.book_id, Period.status != "open")))
        if wages:
            owed = party_balances(session, entity.book, account_for_role(entity.chart, "labor_payable"))
            context.wages_owed = {member: -amount for member, amount in owed.items() if amount}
            current = party_balances(session, entity.book, account_for_role(entity.chart, "member_current"))
            context.current_owed = {member: -amount for member, amount in current.items() if amount}
        if receivables:
            context._load_receivables(session, entity)
        if projects:
            context._load_projects(session, entity)
        if shares:
            context._load_shares(session, entity)
        if contracts:
            context.used_contracts = set(session.scalars(
                select(LandContract.contract_no).where(LandContract.entity_id == entity.id)))
        return context


Locate = Callable[[int, str, str], Problem]      # (index of the record, column, reason) -> a located problem


@dataclass(frozen=True)
class ShareRow:
    """A row of the share register as the holdings are worked out from: ``shares`` came to ``member`` on ``on``
    (from ``source``, when inherited or transferred)."""

    on: dt.date
    member: str
    source: str | None
    shares: Decimal


def share_overdrawn(rows: Sequence[ShareRow]) -> tuple[int, str, dt.date, Decimal] | None:
    """The first row of ``rows`` (its index) that moves more shares from a member than they hold at the end of its
    day — (index, member, day, what they held) — else None. Holdings are counted day by day: on each day what came to
    members first, then what went from them in the rows' order, so the order of one day's rows does not matter."""
    held: dict[str, Decimal] = {}
    days: dict[dt.date, list[int]] = {}
    for index, row in enumerate(rows):
        days.setdefault(row.on, []).append(index)
    for on in sorted(days):
        for index in days[on]:
            row = rows[index]
            held[row.member] = held.get(row.member, Decimal(0)) + row.shares
        for index in days[on]:
            row = rows[index]
            if row.source is None:
                continue
            before = held.get(row.source, Decimal(0))
            if row.shares > before:
                return index, row.source, on, before
            held[row.source] = before - row.shares
    return None


def share_problem(member: str, on: dt.date, held: Decimal, shares: Decimal):
    """Why ``shares`` cannot move from ``member`` on ``on``: they hold only ``held``."""
    return msg(N_("%(member)s holds %(held)s shares on %(date)s: %(shares)s cannot be inherited or transferred from "
                  "them (份额登记簿)."), member=member, held=plain_shares(held), date=on, shares=plain_shares(shares),
               code="shares_overdrawn")


def plain_shares(value: Decimal) -> str:
    """A number of shares as written: ``30``, ``10.5`` (no exponent, no trailing zeros)."""
    return format(value.normalize(), "f") if value else "0"


def _unlocated(index: int, column: str, reason: str) -> Problem:
    return Problem.of(reason, column)


def check_records(kind: str, records: Sequence[dict], context: RecordContext, locate: Locate = _unlocated
                  ) -> list[Problem]:
    """Every problem of ``records`` (typed values of ``kind``, as the sheet gives them) against the books:
    an unknown or missing member, a date before the books start, a year that no longer takes entries, a
    contract number already used
    (also twice within ``records``). ``locate`` places each problem (a workbook row, or a form field)."""
    spec = KINDS[kind]
    problems: list[Problem] = []
    membership, spans = kind in MEMBERSHIP_KINDS, context.spans
    if kind == "shares":            # a row of the share register without a date: the day the books start
        start = context.shares_from or dt.date(china_today().year, 1, 1)
        for values in records:
            if values.get("date") is None:
                values["date"] = start
    for index, values in enumerate(records):
        code = values.get("member")
        if code and code not in context.members:
            problems.append(locate(index, "member", msg(N_("%(member)s is not a member of %(entity)s."),
                                                         member=code, entity=context.entity_code, code="not_a_member")))
        elif not code and spec.member == "required":
            problems.append(locate(index, "member", msg(N_("A member is required."), code="member_required")))
        on = values.get(spec.date_column)
        if isinstance(on, dt.date) and (reason := context.date_problem(on, posts=spec.posts)) is not None:
            problems.append(locate(index, spec.date_column, reason))
        if kind == "payments" and values.get("paid_for") == "labor" and code:
            owed = context.wages_owed.get(code, Decimal(0))
            if values["amount"] > owed:
                problems.append(locate(index, "amount", msg(
                    N_("%(member)s is owed %(owed)s in wages (应付劳务费): a payment of %(amount)s for labour is more "
                       "than that."), member=code, owed=owed, amount=values["amount"], code="more_than_owed")))
            else:
                context.wages_owed[code] = owed - values["amount"]        # the next payment pays what is left
        if membership and code and (span := spans.get(code)) is not None:
            on = values["date"]
            if (on < span[0] or (span[1] is not None and on > span[1])) and not values.get("confirm"):
                problems.append(locate(index, "date", context.outside_membership(code, on)))
        if kind == "payments" and values.get("paid_for", "account") == "account" and code:
            owed = context.current_owed.get(code, Decimal(0))
            if values["amount"] > owed and not values.get("confirm"):
                problems.append(locate(index, "amount", msg(
                    N_("%(member)s is owed %(owed)s on the current account (成员往来): a payment of %(amount)s is "
                       "more than that; %(hint)s."), member=code, owed=owed if owed > 0 else Decimal("0.00"),
                    amount=values["amount"], hint=label(CONFIRM_HINT), code="paid_more_than_owed")))
            context.current_owed[code] = owed - values["amount"]
        if kind == "receipts":
            key = context.payer(values["buyer"])
            owed = context.receivables.get(key, Decimal("0.00"))
            if values["amount"] > owed:
                problems.append(locate(index, "amount", msg(
                    N_("%(buyer)s owes %(owed)s (应收款): a receipt of %(amount)s is more than that."),
                    buyer=values["buyer"], owed=owed, amount=values["amount"], code="more_than_owed")))
            else:
                context.receivables[key] = owed - values["amount"]      # the next receipt takes what is left
        if kind == "subsidies" and values.get("kind") == "fiscal" and values.get("project") in context.project_quantify \
                and context.project_quantify[values["project"]] != bool(values.get("quantify", True)):
            problems.append(locate(index, "quantify", msg(
                N_("Project %(project)s is already recorded as %(how)s: every subsidy of a project is quantified to "
                   "the members or none is (name another project)."), project=values["project"],
                how=label(QUANTIFIED if context.project_quantify[values["project"]] else NOT_QUANTIFIED),
                code="project_quantify_differs")))
        if kind == "capital" and values.get("account") and context.chart is not None:
            given = values["account"]
            found = in_kind_account(context.chart, given, values.get("form"))
            if found is None:
                problems.append(locate(index, "account", msg(
                    N_("%(account)s is not an asset account of the chart that capital can be put in as."),
                    account=given, code="not_an_asset_account")))
            else:
                values["account"] = found           # (stored by its code, whether typed by code or by name)
        if kind == "expenses" and values.get("category") == "public" and context.chart is not None \
                and "public_cost" not in ROLES[context.chart]:
            problems.append(locate(index, "category", msg(
                N_("公益支出 (public) is an expense of village collectives; a cooperative books it as other costs "
                   "(other)."), code="public_not_collective")))
        if kind in ("assets", "expenses") and values.get("project"):
            amount = values["cost"] if kind == "assets" else values["amount"]
            on = values["acquired_on"] if kind == "assets" else values["date"]
            if (reason := context.use_project(values["project"], amount, on)) is not None:
                problems.append(locate(index, "project", reason))
        if kind == "assets":
            if values["code"] in context.asset_codes:
                problems.append(locate(index, "code", msg(N_("Asset %(asset)s is already recorded."),
                                                          asset=values["code"], code="asset_used")))
            if isinstance(values.get("in_use_on"), dt.date) and (
                    reason := context.date_problem(values["in_use_on"])) is not None:
                problems.append(locate(index, "in_use_on", reason))
        source = values.get("from_member")
        if kind == "shares" and source and source not in context.members:
            problems.append(locate(index, "from_member", msg(N_("%(member)s is not a member of %(entity)s."),
                                                              member=source, entity=context.entity_code,
                                                              code="not_a_member")))
        number = values.get("contract_no")
        if kind == "land" and number in context.used_contracts:      # (twice in one sheet: the sheet's own check)
            problems.append(locate(index, "contract_no", msg(N_("Contract %(number)s is already recorded."),
                                                              number=number, code="contract_used")))
    if kind == "shares" and records:
        problems += _share_problems(records, context, locate)
    return problems


def _share_problems(records: Sequence[dict], context: RecordContext, locate: Locate) -> list[Problem]:
    """Only a village collective keeps a share register (INTERFACES §3.1); no member gives away more shares than
    they hold on that day (the register's rows and ``records``, which join them)."""
    if context.entity_kind is not None and context.entity_kind != "collective":
        return [locate(0, "shares", msg(
            N_("Only a village collective keeps a share register (份额登记簿): %(entity)s is not one."),
            entity=context.entity_code, code="shares_not_collective"))]
    before = len(context.share_rows)
    known = context.members                 # (a row naming an unknown member is refused as such)
    at = [i for i, v in enumerate(records) if v.get("member") in known and v.get("shares") is not None
          and (v.get("from_member") is None or v["from_member"] in known)]
    rows = context.share_rows + [ShareRow(records[i]["date"], records[i]["member"], records[i].get("from_member"),
                                          records[i]["shares"]) for i in at]
    found = share_overdrawn(rows)
    if found is not None and found[0] >= before:
        index, member, on, held = found
        return [locate(at[index - before], "shares", share_problem(member, on, held, rows[index].shares))]
    context.share_rows = rows
    return []


QUANTIFIED, NOT_QUANTIFIED = N_("quantified to the members"), N_("not quantified")


@functools.lru_cache(maxsize=256)
def in_kind_account(chart: str, given: str, form: str | None = "in_kind") -> str | None:
    """The code of the asset account ``given`` names (its code, its name, or both) that capital put in kind can be
    booked to (:data:`IN_KIND_ACCOUNTS`; a poverty-alleviation asset share may also have been money put in), else
    None. Cached: a workbook names the same few accounts on many rows."""
    spec = account_named(chart, given)
    allowed = IN_KIND_ACCOUNTS[chart] | (MONEY_CODES[chart] if form == "poverty_asset" else frozenset())
    if spec is None or spec.type != AccountType.ASSET or not spec.postable or spec.code not in allowed:
        return None
    return spec.code


#: what capital put in kind can be (2021 system acct 301 三; the 2004 system's like accounts): stock, investments,
#: biological assets, fixed assets and construction, intangible assets — not money, debts or contra accounts
IN_KIND_ACCOUNTS = {"fpc2021": frozenset({"121", "131", "141", "142", "144", "151", "153", "161"}),
                    "collective2004": frozenset({"121", "131", "132", "141", "151", "154", "161"}),
                    "collective2023": frozenset({"121", "131", "132", "134", "141", "151", "153", "161"})}
MONEY_CODES = {chart: frozenset(ROLES[chart][r] for r in ("cash", "bank", "mobile")) for chart in IN_KIND_ACCOUNTS}


def unspent_projects(session: Session, entity: Entity) -> dict[str, Decimal]:
    """Each fiscal subsidy project of ``entity`` -> what of it is still unspent: received (live subsidies whose money
    waits in 专项应付款) less the assets and expenses paid out of it. Subsidies recorded before they waited
    (``held`` false) were moved to 311 when received: nothing of them is left to use."""
    waits = Subsidy.held if entity.chart in SUBSIDIES_WAIT else true()
    left: dict[str, Decimal] = dict(session.execute(
        select(Subsidy.project, money_sum(Subsidy.amount)).where(
            Subsidy.entity_id == entity.id, Subsidy.kind == "fiscal", Subsidy.live(), waits,
            Subsidy.project.is_not(None)).group_by(Subsidy.project)).all())
    for model in (FixedAsset, Expense):
        for name, used in session.execute(select(model.project, money_sum(model.amount)).where(
                model.entity_id == entity.id, model.live(), model.project.in_(list(left))).group_by(model.project)):
            left[name] -= used
    return left


def kind_label(kind: str):
    """The kind's name as a translatable parameter of a message."""
    return label(RECORD_LABELS[kind])


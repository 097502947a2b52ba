"""The statutory year-end statements, read from an entity's books: Session in, frozen dataclasses of
Decimal out. Every figure is an SQL aggregate; a statement costs a handful of queries, none per line
and none per member.

Farmer cooperatives (chart ``fpc2021``; 农民专业合作社会计制度 财会〔2021〕37号, domain.md §2.4):

* :func:`balance_sheet` — 会农社01表 资产负债表, lines 1–42, columns 期末余额 / 年初余额;
* :func:`surplus_statement` — 会农社02表 盈余及盈余分配表, lines 1–20, columns 本年金额 / 上年金额;
* :func:`equity_changes` — 会农社03表 成员权益变动表;
* :func:`member_accounts` — the 成员账户 of every member (system Art. 57, law Art. 43).

Village collectives (``collective2004``, 财会〔2004〕12号; ``collective2023``, 财会〔2023〕14号):
:func:`balance_sheet` and :func:`surplus_statement` give that system's 资产负债表 and 收益及收益分配表;
:func:`equity_changes` and :func:`member_accounts` return None, neither system has them.

Each chart's forms are data (:data:`ledger.forms.FORMS`: every line with its formula); this module reads the
books into the terms those formulas name and holds no account code of its own but the 2021 03表's.

Signs: ledger balances are signed (> 0 debit). A line shows the natural sign of its side: an asset's
debit balance, a liability's or equity's credit balance, and a deduction (减：累计折旧) as positive
amounts. 未分配盈余 is 331 + 332x plus every income and expense balance not yet closed, so the sheet
balances whether or not the year, or an earlier one, has been closed. The distribution lines
(提取盈余公积, 盈余返还, 剩余盈余分配) are read from the entries of the run in force for the year: what was
posted, not what a draft proposed.

:func:`to_dict` gives JSON-ready primitives (amounts as two-decimal strings); :func:`to_xlsx` an Excel
workbook with the form's title, the entity, the year and the unit 元.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, aliased

from cooperatives.models import CapitalContribution, Delivery, Entity, Household, InputSupply, Member, Sale, Village
from cooperatives.queries import funds_formed
from ledger.cells import save_workbook
from ledger.chart import account_for_role
from ledger.db import money_sum
from ledger.entries import YEAR_END_KINDS
from ledger.forms import FORMS, Form, evaluate
from ledger.models import Account, JournalEntry, Party, Posting
from ledger.money import allocate, fmt
from ledger.queries import opening_balances, retained_before, year_profit
from payouts.models import IN_FORCE, PayoutRun
from payouts.reports.notes import notes
from payouts.runs.rules import COOPERATIVE_LAW_KINDS, patronage_meets_law
from payouts.runs.snapshot import patronage_pools

Z = Decimal("0.00")
AMOUNT = Posting.__table__.c.amount
UNIT = "元"
NAMES = ("balance-sheet", "surplus", "equity-changes", "member-accounts", "notes")


# ------------------------------------------------------------------------------------------- the shapes


@dataclass(frozen=True)
class Line:
    """One line of a statement: its label as printed on the form, its 行次, one value per column.

    ``style``: ``heading`` (a section title, no values), ``item``, ``sub`` (a 其中 item) or ``total``.
    """

    label: str
    no: int | None
    values: tuple[Decimal | None, ...]
    style: str = "item"
    key: str = ""               # the line's key in its form (ledger.forms): its 行次, or A1… where it has none


@dataclass(frozen=True)
class Statement:
    name: str                   # balance-sheet | surplus | equity-changes (the URL name)
    form: str                   # 会农社01表
    title: str                  # 资产负债表
    entity: str
    entity_name: str
    year: int
    period: str                 # as printed under the title: 2025年12月31日, 2025年度
    columns: tuple[str, ...]
    lines: tuple[Line, ...]
    notes: tuple[str, ...] = ()

    def line(self, no: int | str) -> Line:
        """The line with 行次 ``no``, or with key ``no`` ("A24") (KeyError if the form has none)."""
        for line in self.lines:
            if (line.no == no) if isinstance(no, int) else (line.key == no):
                return line
        raise KeyError(f"{self.form} has no line {no}")

    def row(self, label: str) -> Line:
        """The first line labelled ``label`` (for forms without 行次, such as 03表)."""
        for line in self.lines:
            if line.label == label:
                return line
        raise KeyError(f"{self.form} has no line {label!r}")


@dataclass(frozen=True)
class AccountLine:
    """One row of a 成员账户: 年初余额, a transaction or a year-end movement (numbered 1, 2, 3 …: the form's
    编号), or 年末余额/总额. None: not applicable."""

    summary: str                          # 摘要
    date: dt.date
    capital_poverty: Decimal | None       # 成员出资: 来源于到户类扶贫项目资产的出资额
    capital_other: Decimal | None         # 成员出资: 其他来源的出资额
    reserve_share: Decimal | None         # 公积金份额
    fiscal_share: Decimal | None          # 接受国家财政直接补助形成财产量化份额
    donation_share: Decimal | None        # 接受他人捐赠形成财产量化份额
    quantities: tuple[Decimal | None, ...]  # 交易量 in the unit traded, aligned with MemberAccounts.quantity_columns
    amounts: tuple[Decimal | None, ...]   # 交易额 per product, aligned with MemberAccounts.products
    patronage: Decimal | None             # 盈余返还金额
    residual: Decimal | None              # 剩余盈余分配金额
    no: int | None = None                 # 编号: the line's number; None on 年初余额 and 年末余额/总额
    #: opening, delivery, sale, input, capital, capital_opening, reserve, funds, patronage, residual, closing
    kind: str = ""
    product: str | None = None            # what a trade line traded (a delivery's or sale's product, an input's item)
    quantity: Decimal | None = None       # how much, in the unit traded (a trade line)
    unit: str | None = None               # that unit as printed (斤, 公斤, a sale's own: 箱); "" when none was given


@dataclass(frozen=True)
class MemberAccount:
    code: str
    member_no: int
    name: str
    address: str
    lines: tuple[AccountLine, ...]

    @property
    def closing(self) -> AccountLine:
        """The 年末余额/总额 row."""
        return self.lines[-1]

    def quantity_columns(self) -> tuple[int, ...]:
        """Indexes of the report's 交易量 columns this member traded in (the form's 产品1, 产品2 … of the account)."""
        return tuple(i for i, q in enumerate(self.closing.quantities) if q is not None)

    def amount_columns(self) -> tuple[int, ...]:
        """Indexes of the report's 交易额 columns (products) this member traded in."""
        return tuple(i for i, a in enumerate(self.closing.amounts) if a is not None)


@dataclass(frozen=True)
class MemberAccounts:
    name: str
    form: str
    title: str
    entity: str
    entity_name: str
    year: int
    period: str
    products: tuple[str, ...]
    members: tuple[MemberAccount, ...]
    run_id: int | None
    #: the 交易量 columns: (product, unit as printed), one per unit a product was traded in (斤 is never added to 公斤)
    quantity_columns: tuple[tuple[str, str], ...] = ()

    def member(self, code: str) -> MemberAccount:
        return next(m for m in self.members if m.code == code)


Report = Statement | MemberAccounts  # or payouts.reports.notes.Notes (the 附注)


class _KeptIn:
    """``entity`` as its books stood in a year: the book that holds that year (:meth:`Entity.book_in`: for a
    collective carried over to the 2023 system, the years before 2024 are in its 2004 book) and that book's chart."""

    def __init__(self, entity: Entity, year: int):
        self._entity, self.book = entity, entity.book_in(year)
        self.book_id, self.chart = self.book.id, self.book.chart

    def __getattr__(self, name):
        return getattr(self._entity, name)


def _kept_in(entity, year: int):
    if isinstance(entity, _KeptIn) or entity.book.previous_book_id is None:
        return entity
    return _KeptIn(entity, year)


def build(session: Session, entity: Entity, year: int, name: str) -> Report | None:
    """The report called ``name`` (one of :data:`NAMES`); None when the entity's system has none."""
    if name == "notes":
        kept = _kept_in(entity, year)
        if form_spec("notes", kept.chart) is None:
            return None
        return notes(session, kept, year, balance_sheet(session, kept, year), surplus_statement(session, kept, year))
    return {"balance-sheet": balance_sheet, "surplus": surplus_statement, "equity-changes": equity_changes,
            "member-accounts": member_accounts}[name](session, entity, year)


# ------------------------------------------------------------------------------------- the forms' lines

EQUITY_COLUMNS = ("股金", "专项基金", "资本公积", "盈余公积", "未分配盈余", "合计")
#: 03表 rows: (label, style, {column index: key of the figure}); keys of totals are ("inc"|"dec"|…, column)
EQUITY_ROWS = (
    ("一、年初余额", "total", "opening"),
    ("二、本年增加数", "total", "inc"),
    ("其中：资本公积转增", "sub", {0: "from_capital_reserve"}), ("盈余公积转增", "sub", {0: "from_reserve"}),
    ("成员增加出资", "sub", {0: "contributed"}),
    ("接受国家财政直接补助形成", "sub", {1: "fiscal"}), ("接受他人捐赠形成", "sub", {1: "donation"}),
    ("股金溢价", "sub", {2: "premium"}), ("资产评估增值", "sub", {2: "revaluation"}),
    ("从盈余中提取", "sub", {3: "drawn"}), ("本年盈余", "sub", {4: "surplus"}), ("其他转入", "sub", {4: "other_in"}),
    ("三、本年减少数", "total", "dec"),
    ("其中：成员减少出资", "sub", {0: "withdrawn"}),
    ("转为成员出资", "sub", {2: "converted", 3: "converted", 4: "converted"}),
    ("弥补亏损", "sub", {3: "loss_made_good"}),
    ("提取盈余公积", "sub", {4: "reserve"}), ("盈余返还", "sub", {4: "patronage"}),
    ("剩余盈余分配", "sub", {4: "residual"}),
    ("四、年末余额", "total", "closing"),
)

#: the forms only the 2021 cooperative system has (the balance sheet and the income statement of every chart are
#: data beside it, :data:`ledger.forms.FORMS`)
COOPERATIVE_FORMS = {
    "equity-changes": Form("会农社03表", "成员权益变动表", "{}年度", tuple((c, c) for c in EQUITY_COLUMNS), ()),
    "member-accounts": Form("", "成员账户", "{}年度", (), ()),
}


def form_spec(name: str, chart: str) -> Form | None:
    """The form of report ``name`` in ``chart``'s system, or None when the system has none."""
    if name in COOPERATIVE_FORMS:
        return COOPERATIVE_FORMS[name] if chart == "fpc2021" else None
    return FORMS[chart].get(name)


def any_form_of(name: str) -> tuple[str, str]:
    """(form number, title) of report ``name`` in the first system that has it (to name a report a system lacks)."""
    return next(found for chart in FORMS if (found := form_of(name, chart)))


def chart_in(entity: Entity, year: int) -> str:
    """The chart of the book that holds ``year`` (a collective carried over: the 2004 one before 2024)."""
    return _kept_in(entity, year).chart


def form_of(name: str, chart: str) -> tuple[str, str] | None:
    """(form number, title) of report ``name`` in ``chart``'s system, or None when it has none."""
    form = form_spec(name, chart)
    return (form.number, form.title) if form else None


def _statement(entity: Entity, year: int, name: str, figures: dict[str, dict], notes=()) -> Statement:
    """Lay ``figures`` (``which column -> line key -> figure``: closing/opening, this/last) out as the lines of
    the entity's form ``name``, in the form's column order, with the form's own note first."""
    form = form_spec(name, entity.chart)
    lines = []
    for line in form.lines:
        values = () if line.style == "heading" else tuple(figures[which].get(line.key) for _, which in form.columns)
        lines.append(Line(line.label, line.no, values, line.style, line.key))
    return Statement(name=name, form=form.number, title=form.title, entity=entity.code, entity_name=entity.name,
                     year=year, period=form.period.format(year), columns=tuple(h for h, _ in form.columns),
                     lines=tuple(lines), notes=((form.note,) if form.note else ()) + tuple(notes))


# ------------------------------------------------------------------------------------ 01 资产负债表


class _Column:
    """One column of a balance sheet: signed balances by account code, the members' current accounts
    split by the sign of each member's balance, and which codes the lines read (to name the rest)."""

    def __init__(self, balances: dict[str, Decimal], pl_codes: set[str], member_code: str,
                 member_split: tuple[Decimal, Decimal]):
        self.balances, self.pl_codes, self.member_code = balances, pl_codes, member_code
        self.member_debits, self.member_credits = member_split
        self.read: set[str] = set()

    def dr(self, *codes: str) -> Decimal:
        """Sum of the balances of ``codes`` as a debit-side figure."""
        self.read.update(codes)
        return sum((self.balances.get(c, Z) for c in codes), Z)

    def cr(self, *codes: str) -> Decimal:
        """Sum of the balances of ``codes`` as a credit-side figure."""
        return -self.dr(*codes)

    def members_dr(self) -> Decimal:
        """应收款项 part: the sum of the members' debit balances on the current account (114 / 113)."""
        self.read.add(self.member_code)
        return self.member_debits

    def members_cr(self) -> Decimal:
        """应付款项 part: the sum of the members' credit balances on the current account."""
        self.read.add(self.member_code)
        return self.member_credits

    def retained(self, *codes: str) -> Decimal:
        """未分配盈余 / 未分配收益: ``codes`` (本年盈余, 盈余分配) plus every income and expense balance."""
        return self.cr(*codes, *sorted(self.pl_codes))

    def unplaced(self) -> dict[str, Decimal]:
        return {c: b for c, b in sorted(self.balances.items()) if b and c not in self.read}


def _balances(session: Session, entity: Entity, year: int) -> tuple[_Column, _Column]:
    """(closing, opening) columns: balances at the end of ``year`` and at its start. Two queries."""
    book = entity.book
    rows = session.execute(
        select(Account.code, Account.type, money_sum(AMOUNT),
               money_sum(case((Posting.year < year, AMOUNT), else_=0)))
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.book_id == book.id, Posting.year <= year)
        .group_by(Account.code, Account.type)).all()
    pl_codes = {code for code, kind, _, _ in rows if kind in ("income", "expense")}
    member_code = account_for_role(entity.chart, "member_current")
    closing_split, opening_split = _member_split(session, entity, member_code, year)
    closing = _Column({c: b for c, _, b, _ in rows}, pl_codes, member_code, closing_split)
    opening = _Column({c: b for c, _, _, b in rows}, pl_codes, member_code, opening_split)
    return closing, opening


def _member_split(session: Session, entity: Entity, code: str, year: int):
    """((debits, credits) at year end, (debits, credits) at the year's start) of the per-member balances
    on ``code``: the members' debit balances summed, and their credit balances summed as positive."""
    per_party = (
        select(Posting.party_id, func.sum(AMOUNT).label("closing"),
               func.sum(case((Posting.year < year, AMOUNT), else_=0)).label("opening"))
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.book_id == entity.book_id, Account.code == code, Posting.year <= year)
        .group_by(Posting.party_id).subquery())
    c, o = per_party.c.closing, per_party.c.opening
    dc, cc, do, co = session.execute(select(
        money_sum(case((c > 0, c), else_=0)), money_sum(case((c < 0, -c), else_=0)),
        money_sum(case((o > 0, o), else_=0)), money_sum(case((o < 0, -o), else_=0)))).one()
    return (dc, cc), (do, co)


def _unplaced_notes(column: _Column, label: str) -> list[str]:
    return [f"{label}：科目 {code} 余额 {fmt(amount)} 未列入本表" for code, amount in column.unplaced().items()]


def balance_sheet(session: Session, entity: Entity, year: int) -> Statement:
    """The 资产负债表 of the entity's system (会农社01表 lines 1–42; 村会01表; the 2023 collective one) at 31
    December of ``year`` and at 1 January. Any balance no line takes is named in ``notes``."""
    entity = _kept_in(entity, year)
    closing, opening = _balances(session, entity, year)
    lines = FORMS[entity.chart]["balance-sheet"].lines
    figures = {"closing": evaluate(lines, closing), "opening": evaluate(lines, opening)}
    notes = _unplaced_notes(closing, "期末") + _unplaced_notes(opening, "年初")
    return _statement(entity, year, "balance-sheet", figures, notes)


# ------------------------------------------------------------------------- 02 盈余及盈余分配表


def _run_in_force(session: Session, entity: Entity, year: int) -> PayoutRun | None:
    return session.scalar(select(PayoutRun).where(PayoutRun.entity_id == entity.id, PayoutRun.year == year,
                                                  PayoutRun.status.in_(IN_FORCE)))


def _distribution(session: Session, entity: Entity, year: int, run_id: int | None) -> dict[str, Decimal]:
    """``account code -> amount`` credited by the distribution entries of run ``run_id`` (those of its
    entries that debit 各项分配, MOF §2.3 steps 4–7): 322 提取盈余公积, 221 盈余返还, 222 剩余盈余分配,
    301 转为成员出资 (a collective: 311, 113 …). Empty without a run in force."""
    if run_id is None:
        return {}
    allocations = account_for_role(entity.chart, "allocations")
    distributing = (select(Posting.entry_id).join(Account, Account.id == Posting.account_id)
                    .where(Posting.book_id == entity.book_id, Posting.year == year, Account.code == allocations,
                           AMOUNT > 0))
    rows = session.execute(
        select(Account.code, money_sum(-AMOUNT))
        .join(Account, Account.id == Posting.account_id).join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.book_id == entity.book_id, Posting.year == year, AMOUNT < 0,
               JournalEntry.source.like(f"run:{run_id}:%"), Posting.entry_id.in_(distributing))
        .group_by(Account.code))
    return {code: amount for code, amount in rows if code != allocations}


def _other_transfers(session: Session, entity: Entity, year: int, codes: tuple[str, ...]) -> Decimal:
    """其他转入: what reached 未分配盈余 (``codes``: 331, 332x) in ``year`` other than the year's result
    and a run's distribution — entries that are neither year-end closing nor a run's (their ``kind``),
    e.g. a loss made good from the reserve (借 322 贷 332—未分配盈余)."""
    ordinary = JournalEntry.kind.not_in((*YEAR_END_KINDS, "opening"))     # (the opening balances bring, not move)
    total = session.scalar(
        select(money_sum(AMOUNT)).join(Account, Account.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.book_id == entity.book_id, Posting.year == year, Account.code.in_(codes), ordinary))
    return -total


@dataclass(frozen=True)
class _YearResult:
    """What one column of 02表 is computed from."""

    profit: dict[str, Decimal]        # year_profit: signed movements of income and expense accounts
    opening: Decimal                  # 年初未分配盈余
    other: Decimal                    # 其他转入
    distribution: dict[str, Decimal]  # credits of the run's distribution entries, by account
    run_id: int | None

    def income(self, *codes: str) -> Decimal:
        return -sum((self.profit.get(code, Z) for code in codes), Z)

    def cost(self, *codes: str) -> Decimal:
        return sum((self.profit.get(code, Z) for code in codes), Z)

    def dist(self, *codes: str) -> Decimal:
        return sum((self.distribution.get(code, Z) for code in codes), Z)

    def dist_rest(self, named: frozenset[str]) -> Decimal:
        return sum((amount for code, amount in self.distribution.items() if code not in named), Z)


def _retained_codes(entity: Entity) -> tuple[str, ...]:
    return tuple(account_for_role(entity.chart, r) for r in ("current_surplus", "allocations", "undistributed"))


def _year_result(session: Session, entity: Entity, year: int) -> _YearResult:
    codes = _retained_codes(entity)
    run = _run_in_force(session, entity, year)
    run_id = run.id if run is not None else None
    return _YearResult(profit=year_profit(session, entity.book, year),
                       opening=retained_before(session, entity.book, year, codes),
                       other=_other_transfers(session, entity, year, codes),
                       distribution=_distribution(session, entity, year, run_id), run_id=run_id)


def surplus_statement(session: Session, entity: Entity, year: int) -> Statement:
    """会农社02表 盈余及盈余分配表 (lines 1–20; 本年金额 and 上年金额), or for a collective the 2004
    收益及收益分配表. Lines 15/17/18/19 (27–31) come from the entries of the run in force for the year."""
    entity = _kept_in(entity, year)
    lines = FORMS[entity.chart]["surplus"].lines
    result = _year_result(session, entity, year)
    last = {}           # the year before the books were carried over is on another chart: no comparative (20号)
    if chart_in(entity._entity if isinstance(entity, _KeptIn) else entity, year - 1) == entity.chart:
        last = evaluate(lines, _year_result(session, entity, year - 1))
    figures = {"this": evaluate(lines, result), "last": last}
    return _statement(entity, year, "surplus", figures, _surplus_notes(entity, result, figures["this"]))


def _surplus_notes(entity: Entity, result: _YearResult, v: dict) -> list[str]:
    notes = [f"本年分配依据第 {result.run_id} 号分配方案（已过账）" if result.run_id else "本年尚无已过账的分配方案"]
    if entity.kind in COOPERATIVE_LAW_KINDS and result.run_id and not patronage_meets_law(v["17"], v["16"]):
        notes.append(f"盈余返还 {fmt(v['17'])} 低于可分配盈余 {fmt(v['16'])} 的 60%（农民专业合作社法第四十四条）")
    return notes


# ---------------------------------------------------------------------------- 03 成员权益变动表


def _equity_movements(session: Session, entity: Entity, year: int) -> list[tuple]:
    """The year's postings to 301/311/321/322 outside the runs, summed by (code, side, flags): side +1
    debit / −1 credit; flags say what else the entry did — debited 321, debited 322, credited 301,
    credited 332x — which is how 03表 tells 资本公积转增 from 成员增加出资, 弥补亏损 from 转为成员出资.
    (The run in force is added from its own entries; a reversed run and its reversal cancel out.)"""
    ids = dict(session.execute(select(Account.code, Account.id).where(Account.book_id == entity.book_id)).all())
    p, q = Posting.__table__.alias("p"), Posting.__table__.alias("q")

    def did(codes: tuple[str, ...], debit: bool):
        side = q.c.amount > 0 if debit else q.c.amount < 0
        found = select(q.c.id).where(q.c.entry_id == p.c.entry_id, q.c.account_id.in_([ids.get(c, -1) for c in codes]),
                                     side).exists()
        return case((found, 1), else_=0)

    ordinary = JournalEntry.kind != "distribution"
    rows = (select(p.c.account_id, case((p.c.amount > 0, 1), else_=-1).label("side"),
                   did(("321",), True).label("d321"), did(("322",), True).label("d322"),
                   did(("301",), False).label("c301"), did(("33201", "33202"), False).label("c332"),
                   p.c.amount)
            .join(JournalEntry, JournalEntry.id == p.c.entry_id)
            .where(p.c.book_id == entity.book_id, p.c.year == year, ordinary,
                   p.c.account_id.in_([ids.get(c, -1) for c in ("301", "311", "321", "322")]))
            .subquery())
    names = {v: k for k, v in ids.items()}
    grouped = session.execute(
        select(rows.c.account_id, rows.c.side, rows.c.d321, rows.c.d322, rows.c.c301, rows.c.c332,
               money_sum(rows.c.amount))
        .group_by(rows.c.account_id, rows.c.side, rows.c.d321, rows.c.d322, rows.c.c301, rows.c.c332)).all()
    return [(names[acc], side, d321, d322, c301, c332, amount) for acc, side, d321, d322, c301, c332, amount in grouped]


_COLUMN_OF = {"301": 0, "311": 1, "321": 2, "322": 3}


def _classify(code: str, side: int, d321: int, d322: int, c301: int, c332: int) -> str | None:
    """The 03表 item a gross movement belongs to (None: counted in the total only)."""
    if side < 0:      # credits: increases
        if code == "301":
            return "from_capital_reserve" if d321 else "from_reserve" if d322 else "contributed"
        if code == "321":
            return "premium" if c301 else "revaluation"
        return "drawn" if code == "322" else None      # 311 is split by the subsidy records
    if code == "301":
        return "withdrawn"
    if code in ("321", "322") and c301:
        return "converted"
    return "loss_made_good" if code == "322" and c332 else None


def _subsidies_by_kind(session: Session, entity: Entity, year: int) -> dict[str, Decimal]:
    """What fiscal subsidies and donations formed in 311 in ``year`` (03表 接受国家财政直接补助形成 / 接受他人捐赠形成):
    a fiscal subsidy as the assets it paid for were acquired, not when it was received."""
    return funds_formed(session, entity, since=dt.date(year, 1, 1), until=dt.date(year, 12, 31), quantified=False)


def equity_changes(session: Session, entity: Entity, year: int) -> Statement | None:
    """会农社03表 成员权益变动表: 年初余额, 本年增加数, 本年减少数 and 年末余额 of 股金, 专项基金, 资本公积,
    盈余公积 and 未分配盈余, with the items that can be told from the books (None for a collective).

    Each column reconciles: 年初 + 增加 − 减少 = 年末 = 01表 lines 36–40. 未分配盈余 moves as 02表 does."""
    if entity.chart != "fpc2021":
        return None
    forms = FORMS["fpc2021"]
    closing, opening = (evaluate(forms["balance-sheet"].lines, c) for c in _balances(session, entity, year))
    surplus = evaluate(forms["surplus"].lines, _year_result(session, entity, year))
    inc, dec, items = [Z] * 5, [Z] * 5, {}

    def add(totals, column, key, amount):
        totals[column] += amount
        if key:
            items[(key, column)] = items.get((key, column), Z) + amount

    for code, side, *flags, amount in _equity_movements(session, entity, year):
        key = _classify(code, side, *flags)
        add(inc if side < 0 else dec, _COLUMN_OF[code], key, abs(amount))
    subsidies = _subsidies_by_kind(session, entity, year)
    items[("fiscal", 1)], items[("donation", 1)] = subsidies.get("fiscal", Z), subsidies.get("donation", Z)
    add(inc, 0, "contributed", surplus["19"])        # a run converting surplus to capital credits 301
    add(inc, 3, "drawn", surplus["15"])
    for key, no in (("surplus", "12"), ("other_in", "14")):
        add(inc, 4, key, surplus[no])
    for key, no in (("reserve", "15"), ("patronage", "17"), ("residual", "18"), ("converted", "19")):
        add(dec, 4, key, surplus[no])
    lines = [str(n) for n in range(36, 41)]         # 01表 lines 36–40: 股金 … 未分配盈余
    figures = {"opening": [opening[n] for n in lines], "closing": [closing[n] for n in lines],
               "inc": inc, "dec": dec}
    return _equity_statement(entity, year, figures, items)


def _equity_statement(entity: Entity, year: int, figures: dict, items: dict) -> Statement:
    lines = []
    for label, style, key in EQUITY_ROWS:
        if isinstance(key, str):
            values = list(figures[key])
            lines.append(Line(label, None, (*values, sum(values, Z)), style))
            continue
        values = [items.get((k, col), Z) if (k := key.get(col)) else None for col in range(5)]
        lines.append(Line(label, None, (*values, sum((x for x in values if x is not None), Z)), style))
    form = COOPERATIVE_FORMS["equity-changes"]
    return Statement(name="equity-changes", form=form.number, title=form.title, entity=entity.code,
                     entity_name=entity.name, year=year, period=form.period.format(year), columns=EQUITY_COLUMNS,
                     lines=tuple(lines))


# --------------------------------------------------------------------------------------- 成员账户


def _in_year(joined: dt.date, left: dt.date | None, year: int) -> bool:
    return joined <= dt.date(year, 12, 31) and (left is None or left >= dt.date(year, 1, 1))


def _members(session: Session, entity: Entity, year: int) -> list[tuple]:
    """Members of ``year`` or of the year before: (id, code, no, name, address, in year, in year before)."""
    member_entity = aliased(Entity)
    rows = session.execute(
        select(Member.id, Member.code, Member.member_no, Member.joined_on, Member.left_on,
               func.coalesce(Household.head_name, member_entity.name, Member.code), Village.name)
        .outerjoin(Household, Household.id == Member.household_id)
        .outerjoin(Village, Village.id == Household.village_id)
        .outerjoin(member_entity, member_entity.id == Member.member_entity_id)
        .where(Member.entity_id == entity.id, Member.joined_on <= dt.date(year, 12, 31),
               or_(Member.left_on.is_(None), Member.left_on >= dt.date(year - 1, 1, 1)))
        .order_by(Member.member_no)).all()
    return [(mid, code, no, name, village or "", _in_year(j, left, year), _in_year(j, left, year - 1))
            for mid, code, no, j, left, name, village in rows]


def _capital(session: Session, entity: Entity, year: int) -> dict[tuple[int, bool], tuple[Decimal, Decimal]]:
    """``(member id, poverty asset?) -> (contributed before the year, contributed up to its end)``."""
    before = CapitalContribution.date < dt.date(year, 1, 1)
    rows = session.execute(
        select(CapitalContribution.member_id, CapitalContribution.form,
               money_sum(case((before, CapitalContribution.amount), else_=0)), money_sum(CapitalContribution.amount))
        .where(CapitalContribution.entity_id == entity.id, CapitalContribution.date <= dt.date(year, 12, 31),
               CapitalContribution.live())
        .group_by(CapitalContribution.member_id, CapitalContribution.form))
    out: dict = {}
    for mid, form, opening, closing in rows:
        key = (mid, form == "poverty_asset")
        o, c = out.get(key, (Z, Z))
        out[key] = (o + opening, c + closing)
    return out


def _reserve_shares(session: Session, entity: Entity, year: int) -> dict[str, tuple[Decimal, Decimal]]:
    """``member code -> (公积金份额 at the year's start, at its end)``: the member's credit balance on 322."""
    code = account_for_role(entity.chart, "reserve")
    rows = session.execute(
        select(Party.code, money_sum(case((Posting.year < year, AMOUNT), else_=0)), money_sum(AMOUNT))
        .join(Party, Party.id == Posting.party_id).join(Account, Account.id == Posting.account_id)
        .where(Posting.book_id == entity.book_id, Account.code == code, Posting.year <= year)
        .group_by(Party.code))
    return {party: (-opening, -closing) for party, opening, closing in rows}


def _funds(session: Session, entity: Entity, year: int) -> dict[str, tuple[Decimal, Decimal]]:
    """``kind -> (fund to quantify at the year's start, at its end)`` for fiscal subsidies and donations: what of
    them reached 311 (:func:`cooperatives.queries.funds_formed`)."""
    opening = funds_formed(session, entity, until=dt.date(year - 1, 12, 31))
    closing = funds_formed(session, entity, until=dt.date(year, 12, 31))
    return {kind: (opening.get(kind, Z), closing[kind]) for kind in closing}


def _quantified(fund: Decimal, members: dict[str, int]) -> dict[str, Decimal]:
    """A fund quantified equally (平均量化) to ``members`` (code -> member no), to the fen."""
    if not members:
        return {}
    return allocate(fund, dict.fromkeys(members, Decimal(1)), order=members.get)


#: the unit a quantity was traded in, as the account prints it (a sale's other units, 箱 or 吨, as they were typed)
UNIT_LABELS = {"kg": "公斤", "jin": "斤"}
#: 成员出资 by form, as a capital line's 摘要 names it (入股 现金 …)
CAPITAL_LABELS = {"cash": "现金", "land": "土地经营权", "in_kind": "实物", "poverty_asset": "到户类扶贫项目资产"}
#: the order of a day's transactions: capital, then deliveries, sales to the member, inputs
_RANK = {"capital": 0, "delivery": 1, "sale": 2, "input": 3}


@dataclass(frozen=True)
class _Deal:
    """One of a member's transactions of the year, as read from its record."""

    date: dt.date
    rank: int
    id: int
    kind: str                     # delivery | sale | input | capital
    summary: str                  # 摘要
    product: str | None
    quantity: Decimal | None
    unit: str | None              # as printed; "" for a quantity given without a unit
    amount: Decimal
    poverty: bool = False         # capital from a 到户类扶贫项目资产


def quantity_label(product: str, unit: str) -> str:
    """A 交易量 column's name: ``藤茶鲜叶（斤）`` (the product alone when no unit was given)."""
    return f"{product}（{unit}）" if unit else product


def _unit(unit: str | None, quantity: Decimal | None) -> str | None:
    if quantity is None:
        return None
    return UNIT_LABELS.get(unit, unit) if unit else ""


def _deals(session: Session, entity: Entity, year: int) -> dict[int, list[_Deal]]:
    """``member id -> the member's transactions of the year in date order``: each delivery, each sale to the
    member, each input supplied (农资), each capital contribution — one query per kind, every member's rows at
    once, grouped here. Quantities stay in the unit traded."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)

    def of_year(model):
        return (model.entity_id == entity.id, model.date >= start, model.date <= end, model.live())

    out: dict[int, list[_Deal]] = {}

    def add(mid: int, deal: _Deal) -> None:
        out.setdefault(mid, []).append(deal)

    for mid, rid, date, product, grade, qty, unit, amount in session.execute(
            select(Delivery.member_id, Delivery.id, Delivery.date, Delivery.product, Delivery.grade,
                   Delivery.quantity, Delivery.unit, Delivery.amount).where(*of_year(Delivery))):
        summary = f"交售 {product}" + (f"（{grade}）" if grade else "")
        add(mid, _Deal(date, _RANK["delivery"], rid, "delivery", summary, product, qty, _unit(unit, qty), amount))
    for mid, rid, date, product, qty, unit, amount, paid_by in session.execute(
            select(Sale.member_id, Sale.id, Sale.date, Sale.product, Sale.quantity, Sale.unit, Sale.amount,
                   Sale.paid_by).where(*of_year(Sale), Sale.member_id.is_not(None))):
        summary = f"购买 {product}" + ("（赊销）" if paid_by == "credit" else "")
        add(mid, _Deal(date, _RANK["sale"], rid, "sale", summary, product, qty, _unit(unit, qty), amount))
    for mid, rid, date, item, amount, on_credit in session.execute(
            select(InputSupply.member_id, InputSupply.id, InputSupply.date, InputSupply.item, InputSupply.amount,
                   InputSupply.on_credit).where(*of_year(InputSupply))):
        summary = f"购买 {item}" + ("（赊销）" if on_credit else "")
        add(mid, _Deal(date, _RANK["input"], rid, "input", summary, item, None, None, amount))
    for mid, rid, date, form, amount in session.execute(
            select(CapitalContribution.member_id, CapitalContribution.id, CapitalContribution.date,
                   CapitalContribution.form, CapitalContribution.amount).where(*of_year(CapitalContribution))):
        summary = ("入股 " if amount >= 0 else "退股 ") + CAPITAL_LABELS.get(form, form)
        add(mid, _Deal(date, _RANK["capital"], rid, "capital", summary, None, None, None, amount,
                       poverty=form == "poverty_asset"))
    for deals in out.values():
        deals.sort(key=lambda d: (d.date, d.rank, d.id))
    return out


def _run_shares(run: PayoutRun | None) -> dict[str, tuple[Decimal, Decimal]]:
    """``member code -> (盈余返还, 剩余盈余分配)`` from the run in force: pools by member transactions are
    returns (posted to 221), every other pool and fixed preferred return is residual (posted to 222)."""
    if run is None:
        return {}
    out = {}
    returns = set(patronage_pools(run.result))
    for m in run.result["members"]:
        patronage = sum((Decimal(ln["amount"]) for ln in m["lines"] if ln["pool"] in returns), Z)
        residual = sum((Decimal(ln["amount"]) for ln in m["lines"] if ln["pool"] not in returns), Z)
        residual += sum((Decimal(p["amount"]) for p in m["preferred"]), Z)
        out[m["member"]] = (patronage, residual)
    return out


def member_accounts(session: Session, entity: Entity, year: int) -> MemberAccounts | None:
    """The statutory 成员账户 of every member of ``year`` (system Art. 57 and its 编制说明; columns as domain.md
    §2.4), one account per member: 年初余额; one numbered line per transaction of the year in date order; the
    year-end lines 公积金份额量化, 财政补助、捐赠形成财产份额量化, 盈余返还, 剩余盈余分配; 年末余额/总额. None for a
    collective.

    The transactions (编制说明 4: "成员与合作社发生经济业务往来时，交易量（额）按实际发生数填列") are each of the
    member's deliveries (交售), sales to the member (购买), inputs supplied to the member (农资, 购买 … （赊销）)
    and capital contributions (入股, into 成员出资: a 到户类扶贫项目资产 in the first column, any other form in the
    second). Inputs are always shown: Art. 57 asks for *the member's* 交易量（额） with the cooperative, and buying
    inputs through it is that trade whether or not a run's policy counts them (``include=["inputs"]``) — when it
    does, the return is computed on figures the member can see here. A trade line carries its quantity in the unit
    traded (1,200 斤 stays 1,200 斤), its amount under its product; an input has an amount and no quantity.

    The 年末余额/总额 row: 成员出资 from the capital records (plus the opening balances), 公积金份额 from the
    member's 322 sub-ledger, subsidy and donation shares quantified equally among the year's members (at the start:
    among the year before's); 交易量 per product *and unit* (:attr:`MemberAccounts.quantity_columns`: a product
    traded in 斤 and in 公斤 has two columns, never added together), 交易额 per product — each the sum of the
    lines above it; 盈余返还/剩余盈余分配 the member's figures in the run in force (``run.result``), which the
    year-end lines carry. Every balance column moves from 年初余额 to 年末余额 by exactly the lines between.

    A handful of queries whatever the number of members: one per kind of record, every member's rows at once."""
    if entity.chart != "fpc2021":
        return None
    members = _members(session, entity, year)
    capital, reserve = _capital(session, entity, year), _reserve_shares(session, entity, year)
    funds, deals = _funds(session, entity, year), _deals(session, entity, year)
    run = _run_in_force(session, entity, year)
    shares = _run_shares(run)
    groups = {"open": {code: no for _, code, no, _, _, _, there in members if there},
              "close": {code: no for _, code, no, _, _, here, _ in members if here}}
    quantified = {(kind, when): _quantified(funds.get(kind, (Z, Z))[i], groups[when])
                  for kind in ("fiscal", "donation") for i, when in enumerate(("open", "close"))}
    _add_opening(session, entity, year, {code: mid for mid, code, *_ in members}, capital, quantified)
    traded = [d for mid, _, _, _, _, here, _ in members if here for d in deals.get(mid, ())]
    products = tuple(sorted({d.product for d in traded if d.product is not None}))
    columns = tuple(sorted({(d.product, d.unit) for d in traded if d.quantity is not None}))
    accounts = []
    for mid, code, no, name, address, here, _ in members:
        if here:
            lines = _account_lines(year, _stocks(mid, code, capital, reserve, quantified), deals.get(mid, ()),
                                   products, columns, shares.get(code))
            accounts.append(MemberAccount(code=code, member_no=no, name=name, address=address, lines=lines))
    form = COOPERATIVE_FORMS["member-accounts"]
    return MemberAccounts(name="member-accounts", form=form.number, title=form.title, entity=entity.code,
                          entity_name=entity.name, year=year, period=form.period.format(year), products=products,
                          members=tuple(accounts), run_id=run.id if run is not None else None,
                          quantity_columns=columns)


def _add_opening(session: Session, entity: Entity, year: int, ids: dict[str, int], capital: dict,
                 quantified: dict) -> None:
    """Capital (301) and fund shares (311) brought in by member with the opening balances (期初余额): capital
    as 其他出资, the fund share as 财政补助形成财产份额 (the opening sheet does not say fiscal or donated) — in
    the year-start column from the year after the opening entry's, in the year-end column from its year."""
    codes = (account_for_role(entity.chart, "capital"), account_for_role(entity.chart, "special_fund"))
    opened, balances = opening_balances(session, entity.book_id, codes)
    for i, (when, up_to) in enumerate((("open", year - 1), ("close", year))):
        for (code, party), amount in balances.items():
            if party not in ids or opened > up_to:
                continue
            if code == codes[0]:
                key = (ids[party], False)
                values = list(capital.get(key, (Z, Z)))
                values[i] -= amount
                capital[key] = tuple(values)
            else:
                shares = quantified[("fiscal", when)]
                shares[party] = shares.get(party, Z) - amount


_STOCKS = ("capital_poverty", "capital_other", "reserve_share", "fiscal_share", "donation_share")
_BLANK = dict.fromkeys(_STOCKS)


def _stocks(mid: int, code: str, capital: dict, reserve: dict, quantified: dict) -> dict[str, dict[str, Decimal]]:
    """A member's balance columns (出资 by source, 公积金份额, subsidy and donation shares) at the year's
    start (``open``) and end (``close``)."""
    return {when: {"capital_poverty": capital.get((mid, True), (Z, Z))[i],
                   "capital_other": capital.get((mid, False), (Z, Z))[i],
                   "reserve_share": reserve.get(code, (Z, Z))[i],
                   "fiscal_share": quantified[("fiscal", when)].get(code, Z),
                   "donation_share": quantified[("donation", when)].get(code, Z)}
            for i, when in enumerate(("open", "close"))}


def _account_lines(year: int, stocks: dict, deals, products: tuple[str, ...], columns: tuple[tuple[str, str], ...],
                   shares: tuple[Decimal, Decimal] | None) -> tuple[AccountLine, ...]:
    """年初余额; the transactions (numbered from 1); the year-end movements (公积金份额量化, 财政补助、捐赠形成财产份额量化,
    盈余返还, 剩余盈余分配, each when it moved); 年末余额/总额 — whose 交易量/交易额 are the sums of the lines."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    blank_q, blank_a = (None,) * len(columns), (None,) * len(products)
    delta = {k: stocks["close"][k] - stocks["open"][k] for k in _STOCKS}
    lines = [AccountLine("年初余额", start, *(stocks["open"][k] for k in _STOCKS), blank_q, blank_a, None, None,
                         kind="opening")]

    def add(summary, date, kind, values=_BLANK, q=blank_q, a=blank_a, patronage=None, residual=None, **trade):
        lines.append(AccountLine(summary, date, *(values.get(k) for k in _STOCKS), q, a, patronage, residual,
                                 no=len(lines), kind=kind, **trade))

    quantities: list[Decimal | None] = list(blank_q)
    amounts: list[Decimal | None] = list(blank_a)
    contributed = {"capital_poverty": Z, "capital_other": Z}
    column_of, product_of = {c: i for i, c in enumerate(columns)}, {p: i for i, p in enumerate(products)}
    for d in deals:
        if d.kind == "capital":
            key = "capital_poverty" if d.poverty else "capital_other"
            contributed[key] += d.amount
            add(d.summary, d.date, d.kind, {key: d.amount})
            continue
        q, a = list(blank_q), list(blank_a)
        if d.quantity is not None:
            i = column_of[(d.product, d.unit)]
            q[i] = d.quantity
            quantities[i] = (quantities[i] or Z) + d.quantity
        i = product_of[d.product]
        a[i] = d.amount
        amounts[i] = (amounts[i] if amounts[i] is not None else Z) + d.amount
        add(d.summary, d.date, d.kind, q=tuple(q), a=tuple(a), product=d.product, quantity=d.quantity, unit=d.unit)
    # capital brought in by the opening balances within the year (the books start in it): not a record's
    brought = {k: delta[k] - contributed[k] for k in contributed}
    if any(brought.values()):
        add("期初余额转入", end, "capital_opening", {k: v for k, v in brought.items() if v})
    if delta["reserve_share"]:
        add("公积金份额量化", end, "reserve", {"reserve_share": delta["reserve_share"]})
    if delta["fiscal_share"] or delta["donation_share"]:
        add("财政补助、捐赠形成财产份额量化", end, "funds",
            {"fiscal_share": delta["fiscal_share"], "donation_share": delta["donation_share"]})
    patronage, residual = shares if shares else (Z, Z)
    if patronage:
        add("盈余返还", end, "patronage", patronage=patronage)
    if residual:
        add("剩余盈余分配", end, "residual", residual=residual)
    lines.append(AccountLine("年末余额/总额", end, *(stocks["close"][k] for k in _STOCKS), tuple(quantities),
                             tuple(amounts), patronage, residual, kind="closing"))
    return tuple(lines)


# ------------------------------------------------------------------------------------- JSON and Excel


def _money(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def _qty(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def to_dict(report: Report) -> dict:
    """JSON-ready primitives: every amount a string with exactly two decimals (quantities exact)."""
    head = {"report": report.name, "form": report.form, "title": report.title, "entity": report.entity,
            "entity_name": report.entity_name, "year": report.year, "period": report.period, "unit": UNIT}
    if isinstance(report, Statement):
        return {**head, "columns": list(report.columns), "notes": list(report.notes), "lines": [
            {"no": ln.no, "key": ln.key, "label": ln.label, "style": ln.style, "values": [_money(v) for v in ln.values]}
            for ln in report.lines]}
    if not isinstance(report, MemberAccounts):        # the 附注
        return {**head, "notes": list(report.notes), "sections": [
            {"title": s.title, "paragraphs": list(s.paragraphs), "headers": list(s.headers),
             "rows": [[_money(v) if isinstance(v, Decimal) else v for v in row] for row in s.rows]}
            for s in report.sections]}
    columns = report.quantity_columns
    return {**head, "run": report.run_id, "products": list(report.products),
            "quantity_columns": [{"key": quantity_label(p, u), "product": p, "unit": u} for p, u in columns],
            "members": [{"member": m.code, "member_no": m.member_no, "name": m.name, "address": m.address,
                         "lines": [_line_dict(ln, report.products, columns) for ln in m.lines]}
                        for m in report.members]}


def _line_dict(ln: AccountLine, products: tuple[str, ...], columns: tuple[tuple[str, str], ...]) -> dict:
    """A 成员账户 row: ``no`` (编号, null on 年初余额 and 年末余额/总额), ``kind``, and for a trade line its ``product``,
    ``quantity`` and ``unit`` (as traded: 斤, 公斤, …); ``quantities`` keyed by 交易量 column (``藤茶鲜叶（斤）``),
    ``amounts`` by product."""
    return {"no": ln.no, "kind": ln.kind, "summary": ln.summary, "date": ln.date.isoformat(),
            **{k: _money(getattr(ln, k)) for k in _STOCKS},
            "product": ln.product, "quantity": _qty(ln.quantity), "unit": ln.unit,
            "quantities": {quantity_label(p, u): _qty(q) for (p, u), q in zip(columns, ln.quantities, strict=True)},
            "amounts": {p: _money(a) for p, a in zip(products, ln.amounts, strict=True)},
            "patronage": _money(ln.patronage), "residual": _money(ln.residual)}


MONEY_FORMAT = "#,##0.00"
INDENT = {"heading": 0, "total": 0, "item": 1, "sub": 2}
QUANTITY_FORMAT = "#,##0.###"


def to_xlsx(report: Report) -> bytes:
    """The report as an .xlsx workbook: the form's title, number, entity (编制单位), period and unit 元
    above a table of Chinese headers; amounts are numbers (written exactly from the Decimals) shown
    ``#,##0.00``. Saved through :func:`ledger.cells.save_workbook`: a member's name is text, never a formula."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = report.title
    if isinstance(report, Statement):
        _statement_sheet(ws, report)
    elif isinstance(report, MemberAccounts):
        _member_sheets(wb, report)
    else:
        _notes_sheet(ws, report)
    return save_workbook(wb)


def _notes_sheet(ws, report) -> None:
    """The 附注: each section's title, its paragraphs, and its table (amounts as numbers)."""
    from openpyxl.styles import Font

    _title_rows(ws, report, 3)
    row = 5
    for section in report.sections:
        ws.cell(row, 1, section.title).font = Font(bold=True)
        row += 1
        for text in section.paragraphs:
            ws.cell(row, 1, text)
            row += 1
        if section.headers:
            for col, header in enumerate(section.headers, 1):
                ws.cell(row, col, header).font = Font(bold=True)
            row += 1
        for values in section.rows:
            for col, value in enumerate(values, 1):
                cell = ws.cell(row, col, value)
                if isinstance(value, Decimal):
                    cell.number_format = MONEY_FORMAT
            row += 1
        row += 1
    for note in report.notes:
        ws.cell(row, 1, note)
        row += 1
    ws.column_dimensions["A"].width = 40
    for letter in "BC":
        ws.column_dimensions[letter].width = 18


def _title_rows(ws, report: Report, width: int) -> None:
    from openpyxl.styles import Alignment, Font

    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(1, 1, report.title).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    if report.form:
        ws.cell(2, width, report.form).alignment = Alignment(horizontal="right")
    ws.cell(3, 1, f"编制单位：{report.entity_name}")
    ws.cell(3, max(width // 2, 2), report.period)
    ws.cell(3, width, f"单位：{UNIT}").alignment = Alignment(horizontal="right")


def _statement_sheet(ws, report: Statement) -> None:
    from openpyxl.styles import Alignment, Font

    width = 2 + len(report.columns)
    _title_rows(ws, report, width)
    header = ("项目", "行次", *report.columns)
    for col, text in enumerate(header, 1):
        cell = ws.cell(4, col, text)
        cell.font, cell.alignment = Font(bold=True), Alignment(horizontal="center")
    row = 5
    for line in report.lines:
        label = ws.cell(row, 1, line.label)
        label.alignment = Alignment(indent=INDENT[line.style])
        if line.style in ("heading", "total"):
            label.font = Font(bold=True)
        if line.no is not None:
            ws.cell(row, 2, line.no).alignment = Alignment(horizontal="center")
        for col, value in enumerate(line.values, 3):
            if value is not None:
                ws.cell(row, col, value).number_format = MONEY_FORMAT
        row += 1
    for note in report.notes:
        ws.cell(row + 1, 1, note)
        row += 1
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 6
    for col in range(3, width + 1):
        ws.column_dimensions[_letter(col)].width = 18
    ws.freeze_panes = "A5"


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


#: from this many members on, each member's sheet is written without cell styles (fonts, alignment, merged
#: header cells): a 1,000-member workbook stays a few megabytes and a few seconds to write, still one sheet per
#: member with the same rows, headers and number formats
PLAIN_FROM_MEMBERS = 300
#: what a sheet's title may not hold (Excel): \ / ? * [ ] : and control characters
_BAD_TITLE = re.compile(r"[\\/?*\[\]:\x00-\x1f\x7f]")


def _sheet_title(m: MemberAccount, taken: set[str]) -> str:
    """``12 甲``: the member's number and name, made a valid sheet title (at most 31 characters, none that Excel
    refuses), unique in the workbook (Excel compares titles without case)."""
    base = _BAD_TITLE.sub("_", f"{m.member_no} {m.name}")[:31].rstrip().rstrip("'") or str(m.member_no)
    title, n = base, 1
    while title.lower() in taken:
        n += 1
        title = f"{base[:31 - len(str(n)) - 1]}~{n}"
    taken.add(title.lower())
    return title


def _member_sheets(wb, report: MemberAccounts) -> None:
    """One sheet per member, as the form is one account per member (sheet title: member no and name): the
    form's head (成员账户, the year, 成员姓名（名称）and 联系地址 — each name and address in a cell of its own —,
    编制单位 and 单位：元; "第 N 页" in the printed page's header), then the rows under the grouped headers with the
    member's own products as 产品1, 产品2 … . A quantity is a number shown with its unit (``1,200 斤``).
    Every member gets a sheet however many there are; from :data:`PLAIN_FROM_MEMBERS` on without cell styles."""
    if not report.members:
        wb.active.title = report.title
        _title_rows(wb.active, report, 12)
        return
    plain, taken = len(report.members) >= PLAIN_FROM_MEMBERS, set()
    for i, m in enumerate(report.members):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = _sheet_title(m, taken)
        _account_sheet(ws, report, m, plain)


def _quantity_format(value: Decimal, unit: str) -> str:
    number = "#,##0" if value == value.to_integral_value() else "#,##0.0##"
    unit = unit.replace('"', "").replace("\\", "")
    return f'{number}" {unit}"' if unit else number


def _account_sheet(ws, report: MemberAccounts, m: MemberAccount, plain: bool) -> None:
    from openpyxl.styles import Alignment, Font

    qcols, acols = m.quantity_columns(), m.amount_columns()
    nq, na = max(len(qcols), 1), max(len(acols), 1)
    top = (("编号", 1), ("日期", 1), ("摘要", 1), ("成员出资", 2), ("公积金份额", 1),
           ("接受国家财政直接补助形成财产量化份额", 1), ("接受他人捐赠形成财产量化份额", 1), ("交易量", nq), ("交易额", na),
           ("盈余返还金额", 1), ("剩余盈余分配金额", 1))
    grouped = {"成员出资": ("来源于到户类扶贫项目资产的出资额", "其他来源的出资额"),
               "交易量": tuple(report.quantity_columns[i][0] for i in qcols) or ("",),
               "交易额": tuple(report.products[i] for i in acols) or ("",)}
    width = sum(span for _, span in top)

    def merge(r1, c1, r2, c2):
        if not plain and (r1, c1) != (r2, c2):
            ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)

    ws.cell(1, 1, report.title)
    ws.cell(2, 1, report.period)
    ws.cell(3, 1, "成员姓名（名称）：")
    ws.cell(3, 3, m.name)
    ws.cell(3, 4, "联系地址：")
    ws.cell(3, 6, m.address)
    ws.cell(4, 1, f"编制单位：{report.entity_name}")
    ws.cell(4, width, f"单位：{UNIT}")
    col = 1
    for text, span in top:
        ws.cell(5, col, text)
        if text in grouped:
            for i, sub in enumerate(grouped[text]):
                ws.cell(6, col + i, sub)
            merge(5, col, 5, col + span - 1)
        else:
            merge(5, col, 6, col)
        col += span
    row = 7
    for ln in m.lines:
        _account_row(ws, row, report, ln, qcols, acols, nq, na)
        if ln.no is None:
            merge(row, 1, row, 3)
        row += 1
    ws.oddHeader.right.text = "第 &[Page] 页"
    ws.freeze_panes = "D7"
    if plain:
        return
    for r1, c1, r2, c2 in ((1, 1, 1, width), (2, 1, 2, width), (3, 1, 3, 2), (3, 4, 3, 5), (3, 6, 3, 9),
                           (4, 1, 4, 6)):
        merge(r1, c1, r2, c2)
    ws.cell(1, 1).font = Font(bold=True, size=14)
    for r in (1, 2):
        ws.cell(r, 1).alignment = Alignment(horizontal="center")
    ws.cell(4, width).alignment = Alignment(horizontal="right")
    for r in (5, 6):
        for c in range(1, width + 1):
            cell = ws.cell(r, c)
            cell.font, cell.alignment = Font(bold=True), Alignment(horizontal="center", vertical="center",
                                                                   wrap_text=True)
    ws.cell(row - 1, 1).font = Font(bold=True)
    for letter, size in (("A", 6), ("B", 12), ("C", 28)):
        ws.column_dimensions[letter].width = size
    for c in range(4, width + 1):
        ws.column_dimensions[_letter(c)].width = 15


def _account_row(ws, row: int, report: MemberAccounts, ln: AccountLine, qcols, acols, nq: int, na: int) -> None:
    """A row of a member's sheet: 编号, 日期, 摘要 (年初余额 and 年末余额/总额 under 编号, as the form has them), the
    balance columns, the member's 交易量 and 交易额 columns, 盈余返还, 剩余盈余分配."""
    if ln.no is None:
        ws.cell(row, 1, ln.summary)
    else:
        ws.cell(row, 1, ln.no)
        ws.cell(row, 2, ln.date).number_format = "yyyy-mm-dd"
        ws.cell(row, 3, ln.summary)
    col = 4
    for value in (getattr(ln, k) for k in _STOCKS):
        if value is not None:
            ws.cell(row, col, value).number_format = MONEY_FORMAT
        col += 1
    for i in qcols:
        if (value := ln.quantities[i]) is not None:
            ws.cell(row, col, value).number_format = _quantity_format(value, report.quantity_columns[i][1])
        col += 1
    col += nq - len(qcols)
    for i in acols:
        if (value := ln.amounts[i]) is not None:
            ws.cell(row, col, value).number_format = MONEY_FORMAT
        col += 1
    col += na - len(acols)
    for value in (ln.patronage, ln.residual):
        if value is not None:
            ws.cell(row, col, value).number_format = MONEY_FORMAT
        col += 1

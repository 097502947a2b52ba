"""The 财务公开 of one entity for one period (a quarter or a month), read from its books: Session in, a frozen
:class:`Disclosure` of Decimals out. Nothing here writes.

What it shows (农经发〔2011〕13号: 各项收入, 各项支出, 逐项逐笔 for what matters):

* **收入** — every income account of the chart the year is kept in (:meth:`Entity.book_in`: a collective carried over
  to the 2023 system reads its years before 2024 from its 2004 book), with the period's amount (本期数) and the year's
  from 1 January to the period's end (本年累计数); **支出** likewise for every expense account. Both leave out the
  year-end closing entries, which carry the income and expense balances into 本年盈余 on 31 December (as
  :func:`ledger.queries.year_profit` does for a whole year): income − expense is the period's surplus, and the four
  quarters of a year add up to the year's result in the 盈余及盈余分配表 / 收益及收益分配表.
* **货币资金** — 库存现金, 银行存款 and (on the 2021 chart) 其他货币资金: opening balance, received, paid out, closing,
  from the 科目余额表 of the period (:func:`ledger.books.balance_table`).
* **大额支出** (notable payments) — each entry of the period that paid out of the money accounts, net, at least
  :data:`NOTABLE_AMOUNT` (a transfer between cash and bank nets to nothing and is not one): date, 凭证号, what it
  paid for (the accounts the entry debits, net), to whom (the members whose accounts it debits), how much, and
  whether it was voided since. A payee who is a person is masked (王*山, :func:`cooperatives.privacy.mask_name`); a
  member entity (a village of a cluster project) is named in full. The entry's memo is free text — it may name a
  labourer, a contractor, a phone number — and a publication can never be withdrawn, so it is not published
  (``memo`` is always empty; the staff's books show it).

:func:`to_data` gives the JSON a publication freezes (amounts as two-decimal strings), :func:`from_data` reads it
back, and :func:`digest_of_data` is the hash the public page compares with the books as they stand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select, type_coerce
from sqlalchemy.orm import Session

from cooperatives.models import Entity, Member
from cooperatives.privacy import mask_name
from ledger.books import balance_table
from ledger.books import period as period_dates
from ledger.chart import CHARTS, ROLES, AccountType
from ledger.db import Money, money_sum
from ledger.i18n import N_, Message, msg
from ledger.models import Account, Book, JournalEntry, Party, Posting
from ledger.money import fmt

Z = Decimal("0.00")
AMOUNT = Posting.__table__.c.amount
#: a payment out of the money accounts of at least this much is listed on its own (大额支出); smaller ones are in
#: their account's total only. The board's 公开栏 has room for a page of lines, not for every receipt.
NOTABLE_AMOUNT = Decimal("5000.00")
#: at most this many notable payments are listed, in date order; how many more there were is said
NOTABLE_MAX = 200
#: the money accounts' roles (库存现金, 银行存款, 其他货币资金); cash and bank are always shown
MONEY_ROLES = ("cash", "bank", "mobile")
ALWAYS_SHOWN = ("cash", "bank")
#: entries that are not the period's activity: the opening balances (期初余额) and the year-end closing
NOT_ACTIVITY = ("opening", "closing")
_KEY = re.compile(r"^([0-9]{4})-(?:Q([1-4])|(0[1-9]|1[0-2]))$")
_QUARTER_WORDS = "一二三四"


# ---------------------------------------------------------------------------------------------- periods


#: a quarter in the reader's words (2025年第三季度 as the board prints it)
QUARTER_TITLES = (N_("first quarter"), N_("second quarter"), N_("third quarter"), N_("fourth quarter"))


@dataclass(frozen=True)
class Period:
    """A quarter (``2025-Q1``) or a month (``2025-03``) of a fiscal (calendar) year."""

    year: int
    quarter: int | None = None
    month: int | None = None

    def __post_init__(self):
        if not 1949 <= self.year <= 2999 or (self.quarter is None) == (self.month is None) \
                or not 1 <= (self.quarter or self.month) <= (4 if self.quarter else 12):
            raise ValueError(f"not a quarter or a month: {self.year} {self.quarter} {self.month}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2025-Q1`` or ``2025-03``; ValueError otherwise."""
        found = _KEY.match((text or "").strip().upper())
        if not found:
            raise ValueError(f"not a period: {text!r} (2025-Q1 or 2025-03)")
        year, quarter, month = found.groups()
        return cls(int(year), int(quarter) if quarter else None, int(month) if month else None)

    @classmethod
    def quarter_of(cls, day: dt.date) -> Period:
        return cls(day.year, quarter=(day.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        return f"{self.year}-Q{self.quarter}" if self.quarter else f"{self.year}-{self.month:02d}"

    @property
    def kind(self) -> str:
        return "quarter" if self.quarter else "month"

    @property
    def start(self) -> dt.date:
        return period_dates(self.year, month=self.month, quarter=self.quarter)[0]

    @property
    def end(self) -> dt.date:
        return period_dates(self.year, month=self.month, quarter=self.quarter)[1]

    @property
    def label(self) -> str:
        """As the board prints it: 2025年第一季度, 2025年3月."""
        if self.quarter:
            return f"{self.year}年第{_QUARTER_WORDS[self.quarter - 1]}季度"
        return f"{self.year}年{self.month}月"

    @property
    def title(self) -> Message:
        """The period in the reader's words (a page; the board prints :attr:`label`)."""
        if self.quarter:
            return msg(N_("%(year)s, %(quarter)s"), year=self.year, quarter=msg(QUARTER_TITLES[self.quarter - 1]))
        return msg(N_("%(year)s, month %(month)s"), year=self.year, month=self.month)

    @property
    def months(self) -> tuple[int, ...]:
        return (self.month,) if self.month else tuple(range(3 * self.quarter - 2, 3 * self.quarter + 1))

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Months in order, each quarter after its last month."""
        return self.year, self.months[-1], 1 if self.quarter else 0


# ----------------------------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Item:
    """One income or expense account: the period's amount (收入 credit, 支出 debit, as positive figures) and the
    year's from 1 January to the period's end."""

    code: str
    name: str
    amount: Decimal
    year_to_date: Decimal


@dataclass(frozen=True)
class MoneyLine:
    """One money account over the period: 期初余额, 本期收入, 本期支出, 期末余额."""

    code: str
    name: str
    opening: Decimal
    received: Decimal
    paid: Decimal
    closing: Decimal


@dataclass(frozen=True)
class Notable:
    """One payment of at least :data:`NOTABLE_AMOUNT` out of the money accounts (大额支出)."""

    date: dt.date
    voucher: str            # 凭证号, 2025-0042
    memo: str               # never published: always "" (free text may name anyone; see the module's docstring)
    accounts: str           # what it paid for: the accounts the entry debits, net ("521 经营支出", "114 成员往来")
    payee: str              # the members it debits (paid to), persons masked ("向*明"), "" when none
    amount: Decimal
    voided: bool = False    # reversed (红字冲销) since


@dataclass(frozen=True)
class Disclosure:
    entity_code: str
    entity_name: str
    chart: str
    period: Period
    income: tuple[Item, ...]
    expense: tuple[Item, ...]
    money: tuple[MoneyLine, ...]
    notable: tuple[Notable, ...]
    #: notable payments past :data:`NOTABLE_MAX`, not listed
    notable_more: int = 0
    threshold: Decimal = NOTABLE_AMOUNT

    @property
    def income_total(self) -> Decimal:
        return sum((i.amount for i in self.income), Z)

    @property
    def expense_total(self) -> Decimal:
        return sum((i.amount for i in self.expense), Z)

    @property
    def surplus(self) -> Decimal:
        """收支相抵: income − expense, the period's surplus (a loss is negative)."""
        return self.income_total - self.expense_total

    @property
    def income_ytd(self) -> Decimal:
        return sum((i.year_to_date for i in self.income), Z)

    @property
    def expense_ytd(self) -> Decimal:
        return sum((i.year_to_date for i in self.expense), Z)

    @property
    def surplus_ytd(self) -> Decimal:
        return self.income_ytd - self.expense_ytd

    def money_total(self) -> MoneyLine:
        """货币资金合计."""
        return MoneyLine("", "合计", *(sum((getattr(m, f) for m in self.money), Z)
                                     for f in ("opening", "received", "paid", "closing")))


# ---------------------------------------------------------------------------------------------- builder


def build_disclosure(session: Session, entity: Entity, period: Period, *,
                     threshold: Decimal = NOTABLE_AMOUNT) -> Disclosure:
    """``entity``'s 财务公开 of ``period`` from its books as they stand: at most eight queries whatever the size of
    the books (the income and expense accounts; the 科目余额表's two; the notable payments, their accounts, their
    reversals and the names to mask)."""
    book = entity.book_in(period.year)
    specs = CHARTS[book.chart]
    moved = _profit_and_loss(session, book, period)
    # income is a credit (negative in the ledger), spending a debit; Z + … so that nothing shows as -0.00
    items = {kind: tuple(Item(s.code, s.name, Z + sign * moved.get(s.code, (Z, Z))[0],
                              Z + sign * moved.get(s.code, (Z, Z))[1]) for s in specs if s.type == kind)
             for kind, sign in ((AccountType.INCOME, -1), (AccountType.EXPENSE, 1))}
    money_codes = _money_codes(book.chart)
    notable, more = _notable(session, entity, book, period, money_codes, threshold)
    return Disclosure(entity.code, entity.name, book.chart, period, items[AccountType.INCOME],
                      items[AccountType.EXPENSE], _money(session, book, period, money_codes), tuple(notable), more,
                      threshold)


def _profit_and_loss(session: Session, book: Book, period: Period) -> dict[str, tuple[Decimal, Decimal]]:
    """``code -> (the period's signed movement, the year's to the period's end)`` of the income and expense
    accounts, the year-end closing entries left out. One query."""
    dated = JournalEntry.date
    rows = session.execute(
        select(Account.code, money_sum(case((dated >= period.start, AMOUNT), else_=0)), money_sum(AMOUNT))
        .select_from(Posting).join(Account, Account.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.book_id == book.id, Posting.year == period.year, dated <= period.end,
               Account.type.in_((AccountType.INCOME.value, AccountType.EXPENSE.value)), JournalEntry.kind != "closing")
        .group_by(Account.code))
    return {code: (moved, year) for code, moved, year in rows}


def _money_codes(chart: str) -> dict[str, str]:
    """``code -> role`` of the chart's money accounts (a chart keeping mobile money with the bank's: once)."""
    codes: dict[str, str] = {}
    for role in MONEY_ROLES:
        code = ROLES[chart].get(role)
        if code is not None:
            codes.setdefault(code, role)
    return codes


def _money(session: Session, book: Book, period: Period, codes: dict[str, str]) -> tuple[MoneyLine, ...]:
    """The money accounts' lines of the period's 科目余额表 (two queries); cash and bank even when still."""
    rows = {r.code: r for r in balance_table(session, book, period.start, period.end, by_member=False).rows
            if r.code in codes}
    names = {s.code: s.name for s in CHARTS[book.chart]}
    lines = []
    for code, role in sorted(codes.items()):
        row = rows.get(code)
        if row is None and role not in ALWAYS_SHOWN:
            continue
        if row is None:
            lines.append(MoneyLine(code, names[code], Z, Z, Z, Z))
        else:
            lines.append(MoneyLine(code, row.name, row.opening, row.debit, row.credit, row.closing))
    return tuple(lines)


def _notable(session: Session, entity: Entity, book: Book, period: Period, codes: dict[str, str],
             threshold: Decimal) -> tuple[list[Notable], int]:
    """The period's payments of at least ``threshold`` out of the money accounts (net per entry), the first
    :data:`NOTABLE_MAX` of them in date order, and how many more there were."""
    money_accounts = select(Account.id).where(Account.book_id == book.id, Account.code.in_(list(codes)))
    dated = JournalEntry.date
    rows = session.execute(
        select(JournalEntry.id, dated, JournalEntry.year, JournalEntry.voucher_no, JournalEntry.memo,
               JournalEntry.source, money_sum(AMOUNT))
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(Posting.book_id == book.id, Posting.year == period.year, Posting.account_id.in_(money_accounts),
               dated >= period.start, dated <= period.end, JournalEntry.kind.not_in(NOT_ACTIVITY))
        .group_by(JournalEntry.id, dated, JournalEntry.year, JournalEntry.voucher_no, JournalEntry.memo,
                  JournalEntry.source)
        .having(type_coerce(func.sum(AMOUNT), Money) <= -threshold)
        .order_by(dated, JournalEntry.voucher_no)).all()
    shown = rows[:NOTABLE_MAX]
    if not shown:
        return [], 0
    ids = [row[0] for row in shown]
    net: dict[int, dict[tuple[str, str], Decimal]] = {}
    parties: dict[int, list[tuple[str, str]]] = {}
    for entry_id, code, name, party_code, party_name, moved, debited in session.execute(
            select(Posting.entry_id, Account.code, Account.name, Party.code, Party.name, money_sum(AMOUNT),
                   money_sum(case((AMOUNT > 0, AMOUNT), else_=0)))
            .join(Account, Account.id == Posting.account_id).outerjoin(Party, Party.id == Posting.party_id)
            .where(Posting.entry_id.in_(ids), Posting.account_id.not_in(money_accounts))
            .group_by(Posting.entry_id, Account.code, Account.name, Party.code, Party.name)
            .order_by(Posting.entry_id, Account.code, Party.code)):
        accounts = net.setdefault(entry_id, {})
        accounts[(code, name)] = accounts.get((code, name), Z) + moved
        if party_code is not None and debited and (party_code, party_name) not in parties.setdefault(entry_id, []):
            parties[entry_id].append((party_code, party_name))
    other = {i: [account for account, moved in accounts.items() if moved > 0] for i, accounts in net.items()}
    voided = _voided(session, book, {row[0]: row[5] for row in shown})
    mask = _Masker(session, entity, book)
    out = [Notable(on, f"{year}-{number:04d}", "", "、".join(f"{c} {n}" for c, n in other.get(i, [])),
                   "、".join(mask.who(c, n) for c, n in parties.get(i, [])), -paid, i in voided)
           for i, on, year, number, _memo, _source, paid in shown]
    return out, len(rows) - len(shown)


def _voided(session: Session, book: Book, sources: dict[int, str | None]) -> set[int]:
    """Which of these entries were undone since: reversed entry for entry (``reverses_id``: a run's, a voucher's), or
    voided as a record (红字冲销 ``void:<its source>``; a typed voucher ``voucher:<id>`` is voided as
    ``void:journal:<id>``). An entry of a bulk import holds many records: voiding one of them does not undo it. One
    query."""
    undo = {(f"void:journal:{src.split(':', 1)[1]}" if src.startswith("voucher:") else f"void:{src}"): entry_id
            for entry_id, src in sources.items() if src}
    rows = session.execute(select(JournalEntry.reverses_id, JournalEntry.source).where(
        JournalEntry.book_id == book.id,
        JournalEntry.reverses_id.in_(list(sources)) | JournalEntry.source.in_(list(undo))))
    return {reverses if reverses in sources else undo[source] for reverses, source in rows}


class _Masker:
    """A payee who is a person masked; a member entity (a village of a cluster project) is no person and keeps its
    name. One query."""

    def __init__(self, session: Session, entity: Entity, book: Book):
        self.entities = set(session.scalars(select(Member.code).where(Member.entity_id == entity.id,
                                                                      Member.member_entity_id.is_not(None))))

    def who(self, code: str, name: str) -> str:
        return name if code in self.entities or name == code else mask_name(name)


# ------------------------------------------------------------------------------------------------- JSON


def to_data(d: Disclosure) -> dict:
    """The disclosure as JSON-ready primitives (amounts as two-decimal strings): what a publication freezes."""
    item = lambda i: {"code": i.code, "name": i.name, "amount": fmt(i.amount), "year_to_date": fmt(i.year_to_date)}  # noqa: E731
    return {
        "entity_code": d.entity_code, "entity_name": d.entity_name, "chart": d.chart, "period": d.period.key,
        "start": d.period.start.isoformat(), "end": d.period.end.isoformat(),
        "income": [item(i) for i in d.income], "expense": [item(i) for i in d.expense],
        "money": [{"code": m.code, "name": m.name, "opening": fmt(m.opening), "received": fmt(m.received),
                   "paid": fmt(m.paid), "closing": fmt(m.closing)} for m in d.money],
        "notable": [{"date": n.date.isoformat(), "voucher": n.voucher, "memo": n.memo, "accounts": n.accounts,
                     "payee": n.payee, "amount": fmt(n.amount), "voided": n.voided} for n in d.notable],
        "notable_more": d.notable_more, "threshold": fmt(d.threshold),
        "totals": {"income": fmt(d.income_total), "expense": fmt(d.expense_total), "surplus": fmt(d.surplus),
                   "income_ytd": fmt(d.income_ytd), "expense_ytd": fmt(d.expense_ytd),
                   "surplus_ytd": fmt(d.surplus_ytd)},
    }


def from_data(data: dict) -> Disclosure:
    """The :class:`Disclosure` a publication froze (its ``totals`` are recomputed, and equal)."""
    D = Decimal
    item = lambda i: Item(i["code"], i["name"], D(i["amount"]), D(i["year_to_date"]))  # noqa: E731
    return Disclosure(
        data["entity_code"], data["entity_name"], data["chart"], Period.parse(data["period"]),
        tuple(item(i) for i in data["income"]), tuple(item(i) for i in data["expense"]),
        tuple(MoneyLine(m["code"], m["name"], D(m["opening"]), D(m["received"]), D(m["paid"]), D(m["closing"]))
              for m in data["money"]),
        tuple(Notable(dt.date.fromisoformat(n["date"]), n["voucher"], n["memo"], n["accounts"], n["payee"],
                      D(n["amount"]), n["voided"]) for n in data["notable"]),
        data["notable_more"], D(data["threshold"]))


def canonical(data: dict) -> str:
    """The one text of ``data`` that is stored and hashed (keys sorted, Chinese kept)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest_of_data(data: dict) -> str:
    """sha256 of the figures: what the public page compares with the books. The entity's name and particulars are
    left out (a renamed entity's books have not changed)."""
    figures = {k: v for k, v in data.items() if k not in ("entity_name", "entity")}
    return hashlib.sha256(canonical(figures).encode()).hexdigest()

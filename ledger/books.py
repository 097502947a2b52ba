"""The books an accountant keeps beside the journal, as ledger queries (issue 15 §1-§2; house-review §4): the
科目余额表 with 借/贷 direction for any period, by account and by sub-account (member), and the 日记账 of a money
account with the balance after each line and each day. Each is a handful of aggregate queries, none per line.

Amounts are signed in the ledger (> 0 debit); a balance shows as its amount with its direction (借, 贷, 平).
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import case, select
from sqlalchemy.orm import Session, aliased

from ledger.db import money_sum
from ledger.models import Account, Book, JournalEntry, Party, Posting

Z = Decimal("0.00")
AMOUNT = Posting.__table__.c.amount


def direction(balance: Decimal) -> str:
    """借 for a debit balance, 贷 for a credit one, 平 for none (the 科目余额表's 方向 column)."""
    return "借" if balance > 0 else "贷" if balance < 0 else "平"


@dataclass(frozen=True)
class BalanceRow:
    """One line of the 科目余额表: an account, or one of its members' sub-accounts (``member`` set)."""

    code: str
    name: str
    member: str | None
    opening: Decimal           # signed
    debit: Decimal
    credit: Decimal

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debit - self.credit


@dataclass(frozen=True)
class BalanceTable:
    start: dt.date
    end: dt.date
    rows: tuple[BalanceRow, ...]         # accounts in code order, each followed by its members' sub-accounts

    def totals(self) -> dict[str, Decimal]:
        """期初/期末 借方 and 贷方 totals and the period's 借方/贷方 over the accounts (sub-accounts not added again):
        a book that balances has 借 = 贷 in each pair."""
        top = [r for r in self.rows if r.member is None]
        return {"opening_debit": sum((r.opening for r in top if r.opening > 0), Z),
                "opening_credit": -sum((r.opening for r in top if r.opening < 0), Z),
                "debit": sum((r.debit for r in top), Z), "credit": sum((r.credit for r in top), Z),
                "closing_debit": sum((r.closing for r in top if r.closing > 0), Z),
                "closing_credit": -sum((r.closing for r in top if r.closing < 0), Z)}


def balance_table(session: Session, book: Book, start: dt.date, end: dt.date, *,
                  by_member: bool = True) -> BalanceTable:
    """科目余额表 from ``start`` to ``end`` (both included): for every account with a balance or a movement, its
    opening balance (everything dated before ``start``, the opening balances included), the period's debits and
    credits, its closing balance; and, with ``by_member``, the same per member for accounts kept by member. Two
    aggregate queries."""
    whole_year = (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year
    if whole_year:          # by the postings' year alone (the trial balance's index), no join with the entries
        before, within, until = Posting.year < start.year, Posting.year == start.year, Posting.year <= end.year
    else:
        dated = JournalEntry.date
        before, within, until = dated < start, (dated >= start) & (dated <= end), dated <= end
    stmt = (select(Posting.account_id, Party.code,
                   money_sum(case((before, AMOUNT), else_=0)),
                   money_sum(case((within & (AMOUNT > 0), AMOUNT), else_=0)),
                   money_sum(case((within & (AMOUNT < 0), -AMOUNT), else_=0)))
            .outerjoin(Party, Party.id == Posting.party_id)
            .where(Posting.book_id == book.id, Posting.year <= end.year, until)
            .group_by(Posting.account_id, Party.code))
    if not whole_year:
        stmt = stmt.join(JournalEntry, JournalEntry.id == Posting.entry_id)
    sums: dict[int, dict[str | None, tuple[Decimal, Decimal, Decimal]]] = {}
    for account_id, member, opening, debit, credit in session.execute(stmt):
        if opening or debit or credit:
            sums.setdefault(account_id, {})[member] = (opening, debit, credit)
    rows = []
    for account in session.scalars(select(Account).where(Account.book_id == book.id).order_by(Account.code)):
        parts = sums.get(account.id)
        if not parts:
            continue
        total = [sum((p[i] for p in parts.values()), Z) for i in range(3)]
        rows.append(BalanceRow(account.code, account.name, None, *total))
        members = sorted(m for m in parts if m is not None)
        if by_member and members:
            rows += [BalanceRow(account.code, account.name, m, *parts[m]) for m in members]
    return BalanceTable(start, end, tuple(rows))


@dataclass(frozen=True)
class JournalLine:
    date: dt.date
    voucher: str                # 凭证号 (2025-0001)
    memo: str
    counter: str                # 对方科目: the entry's other accounts, code and name
    debit: Decimal              # 借方 (收入)
    credit: Decimal             # 贷方 (支出)
    balance: Decimal            # after the line


@dataclass(frozen=True)
class JournalDay:
    date: dt.date
    lines: tuple[JournalLine, ...]
    debit: Decimal              # 本日合计
    credit: Decimal
    balance: Decimal            # 本日余额


@dataclass(frozen=True)
class MoneyJournal:
    """现金日记账 / 银行存款日记账: the account's opening balance, each day's lines with the balance after each,
    and the period's totals (本期合计)."""

    code: str
    name: str
    start: dt.date
    end: dt.date
    opening: Decimal
    days: tuple[JournalDay, ...] = field(default=())

    @property
    def debit(self) -> Decimal:
        return sum((d.debit for d in self.days), Z)

    @property
    def credit(self) -> Decimal:
        return sum((d.credit for d in self.days), Z)

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debit - self.credit


def _moves(session: Session, book: Book, code: str, start: dt.date, end: dt.date, member: str | None = None
           ) -> tuple[Account, Decimal, list[JournalLine]]:
    """(the account, its balance before ``start``, one line per entry that moves it from ``start`` to ``end`` with
    its 对方科目 and the balance after it). ``member``: only that member's sub-account ("" for the part kept by no
    member). Three queries."""
    account = session.scalar(select(Account).where(Account.book_id == book.id, Account.code == code))
    if account is None:
        raise LookupError(f"{book.code} has no account {code}")
    mine = (Posting.book_id == book.id) & (Posting.account_id == account.id)
    if member == "":
        mine = mine & Posting.party_id.is_(None)
    elif member is not None:
        mine = mine & Posting.party_id.in_(select(Party.id).where(Party.book_id == book.id, Party.code == member))
    opening = session.scalar(select(money_sum(AMOUNT)).join(JournalEntry, JournalEntry.id == Posting.entry_id)
                             .where(mine, Posting.year <= start.year, JournalEntry.date < start))
    within = (mine & (Posting.year >= start.year) & (Posting.year <= end.year) & (JournalEntry.date >= start)
              & (JournalEntry.date <= end))
    moved = session.execute(        # debits and credits apart: an entry moving the account both ways shows both
        select(JournalEntry.id, JournalEntry.date, JournalEntry.year, JournalEntry.voucher_no, JournalEntry.memo,
               money_sum(case((AMOUNT > 0, AMOUNT), else_=0)), money_sum(case((AMOUNT < 0, -AMOUNT), else_=0)))
        .join(Posting, Posting.entry_id == JournalEntry.id).where(within)
        .group_by(JournalEntry.id, JournalEntry.date, JournalEntry.year, JournalEntry.voucher_no, JournalEntry.memo)
        .order_by(JournalEntry.date, JournalEntry.year, JournalEntry.voucher_no)).all()
    counters: dict[int, list[str]] = {}
    if moved:                       # the entries by a subquery, not a list of ids (no bound on their number)
        other = aliased(Account)
        entries = select(JournalEntry.id).join(Posting, Posting.entry_id == JournalEntry.id).where(within)
        for entry_id, other_code, other_name in session.execute(
                select(Posting.entry_id, other.code, other.name).join(other, other.id == Posting.account_id)
                .where(Posting.entry_id.in_(entries), Posting.account_id != account.id)
                .group_by(Posting.entry_id, other.code, other.name).order_by(Posting.entry_id, other.code)):
            counters.setdefault(entry_id, []).append(f"{other_code} {other_name}")
    balance, lines = opening, []
    for entry_id, on, year, number, memo, debit, credit in moved:
        balance += debit - credit
        lines.append(JournalLine(on, f"{year}-{number:04d}", memo, "、".join(counters.get(entry_id, [])), debit,
                                 credit, balance))
    return account, opening, lines


def money_journal(session: Session, book: Book, code: str, start: dt.date, end: dt.date) -> MoneyJournal:
    """The 日记账 of account ``code`` (库存现金, 银行存款, 其他货币资金) from ``start`` to ``end``: one line per entry
    that moves it, in date and voucher order, with the other accounts of the entry (对方科目), what came in and
    went out, and the balance after the line; a subtotal per day. Three queries."""
    account, opening, lines = _moves(session, book, code, start, end)
    days = []
    for on, group in itertools.groupby(lines, key=lambda ln: ln.date):       # (in date order already)
        mine = tuple(group)
        days.append(JournalDay(on, mine, sum((ln.debit for ln in mine), Z), sum((ln.credit for ln in mine), Z),
                               mine[-1].balance))
    return MoneyJournal(account.code, account.name, start, end, opening, tuple(days))


@dataclass(frozen=True)
class LedgerMonth:
    """One month of a 明细账 or 总账: its lines (none in a 总账), 本月合计 and 本年累计, the balance at its end."""

    month: int
    lines: tuple[JournalLine, ...]
    debit: Decimal
    credit: Decimal
    year_debit: Decimal
    year_credit: Decimal
    balance: Decimal


@dataclass(frozen=True)
class AccountLedger:
    """明细账 (``member`` set, or the whole account with its lines) or 总账 (months only) of one account's year."""

    code: str
    name: str
    member: str | None
    year: int
    opening: Decimal
    months: tuple[LedgerMonth, ...]

    @property
    def closing(self) -> Decimal:
        return self.months[-1].balance if self.months else self.opening


@dataclass(frozen=True)
class Reconciliation:
    """银行存款余额调节表: the book's balance and the bank statement's, each adjusted by what the other has recorded
    and it has not yet; the two adjusted balances agree when every difference is accounted for."""

    book_balance: Decimal           # 银行存款日记账余额
    bank_balance: Decimal           # 银行对账单余额
    bank_in: Decimal = Z            # 银行已收、企业未收
    bank_out: Decimal = Z           # 银行已付、企业未付
    book_in: Decimal = Z            # 企业已收、银行未收
    book_out: Decimal = Z           # 企业已付、银行未付

    @property
    def adjusted_book(self) -> Decimal:
        return self.book_balance + self.bank_in - self.bank_out

    @property
    def adjusted_bank(self) -> Decimal:
        return self.bank_balance + self.book_in - self.book_out

    @property
    def agrees(self) -> bool:
        return self.adjusted_book == self.adjusted_bank


#: the inputs of a 银行存款余额调节表 beside the book's own balance
RECONCILIATION_INPUTS = ("bank_balance", "bank_in", "bank_out", "book_in", "book_out")


def account_ledger(session: Session, book: Book, code: str, year: int, *, member: str | None = None,
                   lines: bool = True) -> AccountLedger:
    """The 明细账 of account ``code`` for ``year`` (of one member's sub-account with ``member``; "" for the part kept
    by no member): 上年结转, each entry with its 对方科目 and the balance after it, each month's 本月合计 and 本年累计
    with its closing balance. ``lines=False`` gives the 总账 (the months' figures only). Months without a movement
    are left out."""
    account, opening, moves = _moves(session, book, code, *period(year), member=member)
    months, balance, year_debit, year_credit = [], opening, Z, Z
    for month, group in itertools.groupby(moves, key=lambda ln: ln.date.month):
        mine = tuple(group)
        debit, credit = sum((ln.debit for ln in mine), Z), sum((ln.credit for ln in mine), Z)
        year_debit, year_credit, balance = year_debit + debit, year_credit + credit, balance + debit - credit
        months.append(LedgerMonth(month, mine if lines else (), debit, credit, year_debit, year_credit, balance))
    return AccountLedger(account.code, account.name, member, year, opening, tuple(months))


def period(year: int, month: int | None = None, quarter: int | None = None) -> tuple[dt.date, dt.date]:
    """(first day, last day) of a year, or of one of its months or quarters."""
    if month is not None:
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    if quarter is not None:
        first = dt.date(year, 3 * quarter - 2, 1)
        return first, period(year, 3 * quarter)[1]
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def money_codes(session: Session, book: Book, codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(code, name) of the money accounts among ``codes`` the book has, in code order (a chart that keeps mobile
    money with the bank's lists the bank once)."""
    return list(session.execute(select(Account.code, Account.name).where(
        Account.book_id == book.id, Account.code.in_(sorted(set(codes)))).order_by(Account.code)).all())




#: the most vouchers, and the most lines, one print takes (a year's range is printed in parts)
VOUCHERS_PER_PRINT = 500
LINES_PER_PRINT = 5000


def vouchers(session: Session, book: Book, year: int, first: int, last: int) -> list[dict]:
    """The entries of ``book`` numbered ``first`` … ``last`` in ``year`` (at most :data:`VOUCHERS_PER_PRINT`, and
    no more than :data:`LINES_PER_PRINT` lines but for a first voucher longer than that) as
    记账凭证 to print: number, date, memo, source, who posted it (actor id), and the lines — account code and name,
    member (明细科目), debit, credit — debits first; the total in figures and in capital numerals. Two queries."""
    from ledger.numerals import capital_numerals

    last = min(last, first + VOUCHERS_PER_PRINT - 1)
    entries = session.execute(select(JournalEntry).where(
        JournalEntry.book_id == book.id, JournalEntry.year == year, JournalEntry.voucher_no >= first,
        JournalEntry.voucher_no <= last).order_by(JournalEntry.voucher_no)).scalars().all()
    lines: dict[int, list[dict]] = {}
    if entries:
        for entry_id, code, name, member, member_name, amount in session.execute(
                select(Posting.entry_id, Account.code, Account.name, Party.code, Party.name, AMOUNT)
                .join(Account, Account.id == Posting.account_id).outerjoin(Party, Party.id == Posting.party_id)
                .where(Posting.entry_id.in_([e.id for e in entries])).order_by(Posting.entry_id, Posting.id)):
            lines.setdefault(entry_id, []).append({
                "code": code, "name": name, "member": f"{member} {member_name}" if member else None,
                "debit": amount if amount > 0 else None, "credit": -amount if amount < 0 else None})
    out, printed = [], 0
    for e in entries:
        mine = sorted(lines.get(e.id, []), key=lambda ln: ln["debit"] is None)
        printed += len(mine)
        if out and printed > LINES_PER_PRINT:       # the rest in the next print
            break
        total = sum((ln["debit"] or Z for ln in mine), Z)
        out.append({"id": e.id, "voucher": e.voucher, "number": e.voucher_no, "date": e.date.isoformat(),
                    "memo": e.memo, "source": e.source, "actor_id": e.actor_id, "lines": mine, "total": total,
                    "words": capital_numerals(total)})
    return out

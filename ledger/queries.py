"""Reading the ledger: trial balance, account and member balances. Each is one SQL aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, false, select, true
from sqlalchemy.orm import Session

from ledger.db import money_sum
from ledger.models import Account, Book, JournalEntry, Party, Posting

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class TrialBalanceRow:
    code: str
    name: str
    type: str
    opening: Decimal   # signed: > 0 debit balance
    debit: Decimal     # movements in the period
    credit: Decimal    # movements in the period, as a positive figure
    closing: Decimal   # signed


def get_book(session: Session, code: str) -> Book:
    book = session.scalar(select(Book).where(Book.code == code))
    if book is None:
        raise LookupError(f"no book {code!r}")
    return book


def trial_balance(session: Session, book: Book, year: int | None = None) -> list[TrialBalanceRow]:
    """Every account with a balance or movement: opening, debits, credits, closing.

    With ``year``: opening is everything before that year, movements are that year's. Without:
    opening is zero and movements are all time. Sums stay in integer fen until the end.
    """
    amount = Posting.__table__.c.amount
    in_period = Posting.year == year if year is not None else true()
    before = Posting.year < year if year is not None else false()
    stmt = (
        select(
            Posting.account_id,
            money_sum(case((before, amount), else_=0)),
            money_sum(case((in_period & (amount > 0), amount), else_=0)),
            money_sum(case((in_period & (amount < 0), -amount), else_=0)),
        )
        .where(Posting.book_id == book.id)
        .where(Posting.year <= year if year is not None else true())
        .group_by(Posting.account_id)
    )
    sums = {acc: (o, d, c) for acc, o, d, c in session.execute(stmt)}
    rows = []
    for account in session.scalars(select(Account).where(Account.book_id == book.id).order_by(Account.code)):
        if account.id not in sums:
            continue
        opening, debit, credit = sums[account.id]
        rows.append(TrialBalanceRow(account.code, account.name, account.type, opening, debit, credit,
                                    opening + debit - credit))
    return rows


def account_balances(session: Session, book: Book, *, up_to_year: int | None = None) -> dict[str, Decimal]:
    """``account code -> signed balance`` (> 0 debit) for accounts with postings."""
    stmt = (select(Account.code, money_sum(Posting.__table__.c.amount))
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.book_id == book.id).group_by(Account.code))
    if up_to_year is not None:
        stmt = stmt.where(Posting.year <= up_to_year)
    return {code: total for code, total in session.execute(stmt)}


def account_balance(session: Session, book: Book, code: str, *, party: str | None = None,
                    year: int | None = None) -> Decimal:
    stmt = (select(money_sum(Posting.__table__.c.amount)).join(Account, Account.id == Posting.account_id)
            .where(Posting.book_id == book.id, Account.code == code))
    if party is not None:
        stmt = stmt.join(Party, Party.id == Posting.party_id).where(Party.code == party)
    if year is not None:
        stmt = stmt.where(Posting.year == year)
    return session.scalar(stmt)


def member_balances(session: Session, book: Book, *, codes: tuple[str, ...] | None = None
                    ) -> dict[str, dict[str, Decimal]]:
    """``party code -> {account code -> signed balance}`` over all the member sub-ledgers."""
    stmt = (select(Party.code, Account.code, money_sum(Posting.__table__.c.amount))
            .join(Party, Party.id == Posting.party_id).join(Account, Account.id == Posting.account_id)
            .where(Posting.book_id == book.id).group_by(Party.code, Account.code))
    if codes is not None:
        stmt = stmt.where(Account.code.in_(codes))
    out: dict[str, dict[str, Decimal]] = {}
    for party, code, total in session.execute(stmt):
        out.setdefault(party, {})[code] = total
    return out


def entries_page(session: Session, book: Book, *, year: int | None = None, limit: int = 100, offset: int = 0):
    stmt = select(JournalEntry).where(JournalEntry.book_id == book.id)
    if year is not None:
        stmt = stmt.where(JournalEntry.year == year)
    return list(session.scalars(stmt.order_by(JournalEntry.year.desc(), JournalEntry.voucher_no.desc())
                                .limit(limit).offset(offset)))


def year_profit(session: Session, book: Book, year: int) -> dict[str, Decimal]:
    """``account code -> signed movement`` of the income and expense accounts in ``year``, leaving out
    the year-end closing entries (so it is the year's result whether or not the year was closed)."""
    stmt = (select(Account.code, money_sum(Posting.__table__.c.amount))
            .join(Account, Account.id == Posting.account_id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.book_id == book.id, Posting.year == year, Account.type.in_(("income", "expense")),
                   JournalEntry.kind != "closing")
            .group_by(Account.code))
    return {code: total for code, total in session.execute(stmt) if total}


def retained_before(session: Session, book: Book, year: int, codes: tuple[str, ...]) -> Decimal:
    """Undistributed result brought into ``year`` (credit positive: a loss is negative): everything
    posted before ``year`` to income and expense accounts and to ``codes`` (331, 332x)."""
    stmt = (select(money_sum(Posting.__table__.c.amount))
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.book_id == book.id, Posting.year < year,
                   Account.type.in_(("income", "expense")) | Account.code.in_(codes)))
    return -session.scalar(stmt)


def book_has_entries(session: Session, book_id: int) -> bool:
    """Whether anything is posted in the book (an empty book takes opening balances; its start may move)."""
    return session.scalar(select(JournalEntry.id).where(JournalEntry.book_id == book_id).limit(1)) is not None


def opening_balances(session: Session, book_id: int, codes: tuple[str, ...]
                     ) -> tuple[int | None, dict[tuple[str, str | None], Decimal]]:
    """The book's opening balances (kind ``opening``) on ``codes``: the year they are dated in (None: there
    are none) and ``(account code, party code or None) -> signed balance``. One query."""
    rows = session.execute(
        select(Posting.year, Account.code, Party.code, money_sum(Posting.__table__.c.amount))
        .join(Account, Account.id == Posting.account_id).outerjoin(Party, Party.id == Posting.party_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.book_id == book_id, JournalEntry.kind == "opening", Account.code.in_(codes))
        .group_by(Posting.year, Account.code, Party.code)).all()
    return (rows[0][0] if rows else None), {(code, party): amount for _, code, party, amount in rows if amount}


def party_balances(session: Session, book: Book, code: str, *, up_to_year: int | None = None,
                   before_year: int | None = None) -> dict[str, Decimal]:
    """``party code -> signed balance`` on account ``code``."""
    stmt = (select(Party.code, money_sum(Posting.__table__.c.amount))
            .join(Party, Party.id == Posting.party_id).join(Account, Account.id == Posting.account_id)
            .where(Posting.book_id == book.id, Account.code == code).group_by(Party.code))
    if up_to_year is not None:
        stmt = stmt.where(Posting.year <= up_to_year)
    if before_year is not None:
        stmt = stmt.where(Posting.year < before_year)
    return dict(session.execute(stmt).all())

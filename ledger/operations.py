"""Writing to the ledger. Every function takes a Session, may flush, and never commits.

Posting takes the book's row lock first (``UPDATE ledger_books … RETURNING``: a row lock on
PostgreSQL, the write lock on SQLite), so for one book voucher numbers are handed out and the hash
chain is extended by one transaction at a time: numbers are gapless (a rolled-back transaction
gives its numbers back) and the chain has no forks. Different books post in parallel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger.chart import CHARTS, ROLES
from ledger.db import keyed_in, money_sum
from ledger.entries import YEAR_END_KINDS, ZERO, EntryDraft, PostingDraft, check_entry, legacy_kind, reversal_of
from ledger.errors import (
    AlreadyReversed,
    BeforeBooksStart,
    CashOverdrawn,
    ClosedPeriod,
    DuplicateSource,
    InvalidEntry,
    Problem,
    UnknownAccount,
)
from ledger.i18n import N_, msg
from ledger.models import ENTRY_IDS, Account, Book, JournalEntry, Party, Period, Posting, VoucherCounter
from ledger.money import quantize


def create_book(session: Session, *, code: str, name: str, chart: str, books_start: dt.date | None = None) -> Book:
    """Open a book with every account of ``chart``, starting on ``books_start``. Flushes."""
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}; expected one of {', '.join(CHARTS)}")
    book = Book(code=code, name=name, chart=chart, head_hash="", entry_count=0, books_start=books_start)
    session.add(book)
    session.flush()
    session.execute(insert(Account), [
        {"book_id": book.id, "code": s.code, "name": s.name, "type": s.type.value,
         "parent_code": s.parent, "postable": s.postable}
        for s in CHARTS[chart]
    ])
    return book


def ensure_parties(session: Session, book: Book, parties: dict[str, str]) -> dict[str, int]:
    """Make sure each ``code -> name`` has a sub-ledger in ``book``; return ``code -> party id``."""
    ids = _party_ids(session, book.id, parties)
    missing = [code for code in parties if code not in ids]
    if missing:
        session.execute(insert(Party), [{"book_id": book.id, "code": c, "name": parties[c]} for c in missing])
        ids = _party_ids(session, book.id, parties)
    return ids


def _party_ids(session: Session, book_id: int, codes: Iterable[str]) -> dict[str, int]:
    return keyed_in(session, Party.code, Party.id, codes, Party.book_id == book_id)


def post_entry(session: Session, book: Book, draft: EntryDraft, *, actor_id: int | None = None) -> JournalEntry:
    """Post one balanced entry to ``book``. Raises InvalidEntry, ClosedPeriod, DuplicateSource."""
    (entry_id,) = post_entries(session, book, [draft], actor_id=actor_id)
    return session.get(JournalEntry, entry_id)


def post_entries(session: Session, book: Book, drafts: Sequence[EntryDraft], *,
                 actor_id: int | None = None) -> list[int]:
    """Post many entries at once through SQLAlchemy Core (the bulk path imports use).

    All or nothing: every draft is checked before anything is written. Returns the new entry ids
    in the order of ``drafts``. Vouchers are numbered in the order given, per year.
    """
    if not drafts:
        return []
    accounts = dict(session.execute(
        select(Account.code, Account.id).where(Account.book_id == book.id, Account.postable)).tuples().all())
    party_codes = {p.party for d in drafts for p in d.postings if p.party is not None}
    parties = _party_ids(session, book.id, party_codes)
    _check_all(book, drafts, accounts, parties)
    years = sorted({d.date.year for d in drafts})
    _refuse_closed(session, book, drafts)
    _refuse_duplicate_sources(session, book, drafts)

    head_hash = _lock_book(session, book, len(drafts))
    _refuse_overdraft(session, book, drafts, accounts)      # (under the book's lock: no one posts beside it)
    first_no = {year: _take_vouchers(session, book.id, year, sum(d.date.year == year for d in drafts))
                for year in years}
    ids = _new_entry_ids(session, len(drafts))
    entry_rows, posting_rows, next_no = [], [], dict(first_no)
    for entry_id, draft in zip(ids, drafts, strict=True):
        year = draft.date.year
        voucher_no, next_no[year] = next_no[year], next_no[year] + 1
        entry_hash = hash_entry(head_hash, book.hashed_code, year, voucher_no, draft)
        entry_rows.append({
            "id": entry_id, "book_id": book.id, "year": year, "voucher_no": voucher_no, "date": draft.date,
            "memo": draft.memo, "source": draft.source, "reverses_id": draft.reverses_id, "kind": draft.kind,
            "actor_id": actor_id, "prev_hash": head_hash, "hash": entry_hash,
        })
        posting_rows.extend(
            {"entry_id": entry_id, "book_id": book.id, "year": year, "account_id": accounts[p.account],
             "party_id": parties[p.party] if p.party is not None else None, "amount": p.amount}
            for p in draft.postings)
        head_hash = entry_hash
    session.execute(insert(Posting.__table__), posting_rows)
    session.execute(insert(JournalEntry.__table__), entry_rows)
    session.execute(update(Book).where(Book.id == book.id)
                    .values(head_hash=head_hash, head_entry_id=ids[-1])
                    .execution_options(synchronize_session=False))
    session.expire(book, ["head_hash", "head_entry_id", "entry_count"])
    return ids


def _check_all(book: Book, drafts: Sequence[EntryDraft], accounts: dict, parties: dict) -> None:
    problems: list[Problem] = []
    for n, draft in enumerate(drafts, 1):
        where = msg(N_("entry %(n)s (%(date)s, %(memo)s)"), n=n, date=draft.date, memo=draft.memo or draft.source or "")
        for p in check_entry(draft):
            reason = p.reason if len(drafts) == 1 else msg(N_("%(where)s: %(reason)s"), where=where, reason=p.reason,
                                                          code=p.code)
            problems.append(Problem.of(reason))
        for posting in draft.postings:
            if posting.account not in accounts:
                raise UnknownAccount(book.code, posting.account)
            if posting.party is not None and posting.party not in parties:
                problems.append(Problem.of(msg(N_("%(book)s has no member %(member)s."), book=book.code,
                                               member=posting.party, code="unknown_party")))
    if problems:
        raise InvalidEntry(problems)


def _refuse_closed(session: Session, book: Book, drafts: Sequence[EntryDraft]) -> None:
    """Mirror of the database rule: nothing before the books start but their opening balances; nothing in a
    closed year; only year-end entries while adjusting."""
    start = book.books_start
    for draft in drafts:
        if start is not None and draft.date < start and draft.kind != "opening":
            raise BeforeBooksStart(book.code, draft.date, start)
    years = sorted({d.date.year for d in drafts})
    status = dict(session.execute(select(Period.year, Period.status).where(
        Period.book_id == book.id, Period.year.in_(years))).all())
    for draft in drafts:
        state = status.get(draft.date.year, "open")
        if state == "closed" or (state == "adjusting" and draft.kind not in YEAR_END_KINDS):
            raise ClosedPeriod(book.code, draft.date.year)


def _refuse_overdraft(session: Session, book: Book, drafts: Sequence[EntryDraft], accounts: dict) -> None:
    """库存现金 never ends a day below zero (books-review W1): raise :class:`CashOverdrawn` naming the first day
    ``drafts`` would leave short, and by how much. A day already short in the books (written before this rule)
    is not held against ``drafts`` unless they make it shorter."""
    code = ROLES.get(book.chart, {}).get("cash")
    added: dict[dt.date, Decimal] = {}
    for draft in drafts:
        for posting in draft.postings:
            if posting.account == code:
                added[draft.date] = added.get(draft.date, ZERO) + posting.amount
    if code not in accounts or not any(amount < 0 for amount in added.values()):
        return
    first = min(added)
    booked = dict(session.execute(
        select(JournalEntry.date, money_sum(Posting.__table__.c.amount))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.book_id == book.id, Posting.account_id == accounts[code])
        .group_by(JournalEntry.date)).tuples().all())
    balance = sum((amount for on, amount in booked.items() if on < first), ZERO)
    change = ZERO
    for on in sorted({*added, *(d for d in booked if d >= first)}):
        change += added.get(on, ZERO)
        balance += booked.get(on, ZERO) + added.get(on, ZERO)
        if balance < 0 and change < 0:
            raise CashOverdrawn(book.code, code, on, quantize(-balance))


def _refuse_duplicate_sources(session: Session, book: Book, drafts: Sequence[EntryDraft]) -> None:
    sources = [d.source for d in drafts if d.source]
    seen: set[str] = set()
    for source in sources:
        if source in seen:
            raise DuplicateSource(book.code, source)
        seen.add(source)
    taken = keyed_in(session, JournalEntry.source, JournalEntry.id, sources, JournalEntry.book_id == book.id)
    if taken:
        raise DuplicateSource(book.code, min(taken))


def _lock_book(session: Session, book: Book, count: int) -> str:
    """Take the book's lock (row lock / SQLite write lock) and return the chain's head hash."""
    return session.execute(
        update(Book).where(Book.id == book.id).values(entry_count=Book.entry_count + count)
        .returning(Book.head_hash).execution_options(synchronize_session=False)).scalar_one()


def _take_vouchers(session: Session, book_id: int, year: int, count: int) -> int:
    """Reserve ``count`` consecutive voucher numbers for ``year``; return the first."""
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(VoucherCounter)
    session.execute(ins.values(book_id=book_id, year=year, last_no=0).on_conflict_do_nothing())
    last = session.execute(
        update(VoucherCounter).where(VoucherCounter.book_id == book_id, VoucherCounter.year == year)
        .values(last_no=VoucherCounter.last_no + count).returning(VoucherCounter.last_no)
        .execution_options(synchronize_session=False)).scalar_one()
    return last - count + 1


def _new_entry_ids(session: Session, count: int) -> list[int]:
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(select(ENTRY_IDS.next_value()).select_from(func.generate_series(1, count))))
    # SQLite: we hold the write lock (taken in _lock_book), so max(id) cannot move under us.
    start = session.scalar(select(func.coalesce(func.max(JournalEntry.id), 0))) + 1
    return list(range(start, start + count))


def canonical_entry(book_code: str, year: int, voucher_no: int, draft: EntryDraft) -> str:
    """The text an entry's hash covers: everything that makes it what it is, in a fixed order."""
    postings = sorted([p.account, p.party or "", int(p.amount.scaleb(2))] for p in draft.postings)
    content = {"book": book_code, "year": year, "voucher": voucher_no, "date": draft.date.isoformat(),
               "memo": draft.memo, "source": draft.source, "reverses": draft.reverses_id, "postings": postings}
    if draft.kind != legacy_kind(draft.source, draft.reverses_id):     # else the source says it (ledger.entries)
        content["kind"] = draft.kind
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def hash_entry(prev_hash: str, book_code: str, year: int, voucher_no: int, draft: EntryDraft) -> str:
    content = canonical_entry(book_code, year, voucher_no, draft)
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def draft_of(entry: JournalEntry) -> EntryDraft:
    """The draft an entry was posted from, rebuilt from the database (for hashing and reversal)."""
    return EntryDraft(
        date=entry.date, memo=entry.memo, source=entry.source, reverses_id=entry.reverses_id, kind=entry.kind,
        postings=tuple(PostingDraft(p.account.code, p.amount, p.party.code if p.party else None)
                       for p in entry.postings),
    )


def reverse_entry(session: Session, entry: JournalEntry, *, date: dt.date | None = None,
                  memo: str | None = None, actor_id: int | None = None) -> JournalEntry:
    """Post the entry that undoes ``entry`` (same postings, opposite signs). Once per entry."""
    if session.scalar(select(JournalEntry.id).where(JournalEntry.reverses_id == entry.id)) is not None:
        raise AlreadyReversed(entry.voucher)
    book = session.get(Book, entry.book_id)
    draft = reversal_of(draft_of(entry), date=date or entry.date, reverses_id=entry.id,
                        memo=memo or f"冲销 {entry.voucher} {entry.memo}".strip())
    return post_entry(session, book, draft, actor_id=actor_id)


def _set_period(session: Session, book: Book, year: int, status: str, actor_id: int | None) -> Period:
    period = session.get(Period, (book.id, year))
    if period is None:
        period = Period(book_id=book.id, year=year, status="open")
        session.add(period)
    if period.status != "closed" and period.status != status:
        period.status = status
        period.closed_at = dt.datetime.now(dt.UTC)
        period.closed_by = actor_id
    session.flush()
    return period


def begin_closing(session: Session, book: Book, year: int, *, actor_id: int | None = None) -> Period:
    """Mark ``year`` as being closed: from now on only year-end closing and distribution entries
    (``kind``, :data:`ledger.entries.YEAR_END_KINDS`) are accepted for it."""
    return _set_period(session, book, year, "adjusting", actor_id)


def close_period(session: Session, book: Book, year: int, *, actor_id: int | None = None) -> Period:
    """Close ``year`` in ``book``: from now on the database refuses any entry dated in it."""
    return _set_period(session, book, year, "closed", actor_id)


def period_status(session: Session, book: Book, year: int) -> str:
    return session.scalar(select(Period.status).where(Period.book_id == book.id, Period.year == year)) or "open"


def is_closed(session: Session, book: Book, year: int) -> bool:
    """True when ``year`` takes no more ordinary records (it is being closed, or closed)."""
    return period_status(session, book, year) != "open"


def lock_book(session: Session, book: Book) -> None:
    """Take the book's lock for the rest of the transaction (serialises writers of this book)."""
    _lock_book(session, book, 0)

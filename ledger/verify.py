"""Recompute what the ledger stored and name every difference.

For each book: every entry's hash is recomputed from its content and the previous entry's hash (so
a changed amount, date, account, member or memo shows, even when the entry still balances); every
entry must sum to zero and carry its own year; voucher numbers must run 1..n per year with no gap
or repeat; the book's head must point at the last entry; the whole book must sum to zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ledger.entries import EntryDraft, PostingDraft
from ledger.models import Account, Book, JournalEntry, Party, Posting
from ledger.operations import hash_entry


@dataclass(frozen=True)
class Difference:
    book: str
    where: str      # e.g. "entry 2025-0042 (id 17)" or "book"
    what: str

    def __str__(self) -> str:
        return f"{self.book}: {self.where}: {self.what}"


def verify_books(session: Session, books: list[Book] | None = None) -> list[Difference]:
    books = books if books is not None else list(session.scalars(select(Book).order_by(Book.code)))
    out: list[Difference] = []
    for book in books:
        out.extend(verify_book(session, book))
    return out


def _entries_with_postings(session: Session, book: Book) -> Iterator[tuple[JournalEntry, list]]:
    party = aliased(Party)
    stmt = (
        select(JournalEntry, Account.code, party.code, Posting.amount)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(Account, Account.id == Posting.account_id)
        .outerjoin(party, party.id == Posting.party_id)
        .where(JournalEntry.book_id == book.id)
        .order_by(JournalEntry.id, Posting.id)
        .execution_options(yield_per=5000, populate_existing=True)
    )
    current, postings = None, []
    for entry, code, party_code, amount in session.execute(stmt):
        if current is not None and entry.id != current.id:
            yield current, postings
            postings = []
        current = entry
        postings.append(PostingDraft(code, amount, party_code))
    if current is not None:
        yield current, postings


def verify_book(session: Session, book: Book) -> list[Difference]:
    session.refresh(book)
    diffs: list[Difference] = []

    def note(where: str, what: str) -> None:
        diffs.append(Difference(book.code, where, what))

    prev_hash, last_id, count, total = "", None, 0, Decimal(0)
    vouchers: dict[int, list[int]] = defaultdict(list)
    for entry, postings in _entries_with_postings(session, book):
        where = f"entry {entry.voucher} (id {entry.id})"
        count += 1
        draft = EntryDraft(date=entry.date, memo=entry.memo, source=entry.source,
                           reverses_id=entry.reverses_id, kind=entry.kind, postings=tuple(postings))
        if entry.prev_hash != prev_hash:
            note(where, "does not follow the previous entry in the hash chain (an entry was removed or inserted)")
        if hash_entry(entry.prev_hash, book.hashed_code, entry.year, entry.voucher_no, draft) != entry.hash:
            note(where, "its content no longer matches its hash: an amount, date, account, member or memo "
                        "was changed after posting")
        residual = sum((p.amount for p in postings), Decimal(0))
        if residual != 0:
            note(where, f"postings sum to {residual}, not zero")
        if entry.date.year != entry.year:
            note(where, f"dated {entry.date} but filed in year {entry.year}")
        total += residual
        vouchers[entry.year].append(entry.voucher_no)
        prev_hash, last_id = entry.hash, entry.id
    for year, numbers in sorted(vouchers.items()):
        numbers.sort()
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
            repeated = sorted({n for n in numbers if numbers.count(n) > 1}) if len(set(numbers)) != len(numbers) else []
            note(f"vouchers {year}", f"not numbered 1..{len(numbers)}: missing {missing[:10]}, repeated {repeated[:10]}")
    if book.head_hash != prev_hash or book.head_entry_id != last_id:
        note("book", "the recorded head of the hash chain is not the last entry (entries were removed or added)")
    if book.entry_count != count:
        note("book", f"{book.entry_count} entries were posted but {count} are stored")
    if total != 0:
        note("book", f"all postings sum to {total}, not zero")
    return diffs

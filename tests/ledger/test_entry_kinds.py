"""What an entry is (its ``kind``), not where it came from (its source), decides what a year being closed
still takes — in Python and in the database's own triggers (both dialects); the hash covers the kind; the
books written before kinds keep verifying (house-review §4, issue 13)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from test_integrity import raw_postings

from ledger.entries import ENTRY_KINDS, YEAR_END_KINDS, EntryDraft, PostingDraft, check_entry, legacy_kind
from ledger.errors import ClosedPeriod, InvalidEntry
from ledger.models import JournalEntry
from ledger.operations import begin_closing, canonical_entry, hash_entry, post_entry
from ledger.verify import verify_book

D = Decimal
DB_ERRORS = (IntegrityError, DBAPIError)


def draft(kind: str = "ordinary", source: str | None = None, on: str = "2025-12-31") -> EntryDraft:
    return EntryDraft(date=dt.date.fromisoformat(on), memo="结转", source=source, kind=kind,
                      postings=(PostingDraft("101", D("5.00")), PostingDraft("501", D("-5.00"))))


@pytest.mark.parametrize("kind", ENTRY_KINDS)
def test_a_year_being_closed_takes_only_closing_and_distribution_entries(session, book, kind):
    begin_closing(session, book, 2025)
    if kind in YEAR_END_KINDS:
        entry = post_entry(session, book, draft(kind))               # whatever its source (here: none)
        assert entry.kind == kind
    else:
        with pytest.raises(ClosedPeriod):
            post_entry(session, book, draft(kind, source="close:2025:pl"))   # a year-end source does not pass it


@pytest.mark.parametrize(("kind", "accepted"), [("closing", True), ("distribution", True), ("ordinary", False),
                                                 ("manual", False), ("opening", False), ("reversal", False)])
def test_the_database_reads_the_kind_too(session, book, kind, accepted):
    """Raw SQL past the Python checks: the trigger refuses an ordinary entry in a year being closed even with
    a closing entry's source, and takes a closing one without any source."""
    begin_closing(session, book, 2025)
    session.flush()

    def write_kind():
        with session.begin_nested():
            raw_postings(session, book, 900100, [("101", 500), ("501", -500)])
            session.execute(text(
                "INSERT INTO ledger_entries (id, book_id, year, voucher_no, date, memo, source, kind, prev_hash, hash) "
                "VALUES (900100, :b, 2025, 99, :d, 'raw', :s, :k, '', '')"),
                {"b": book.id, "d": dt.date(2025, 12, 31), "k": kind,
                 "s": None if accepted else "close:2025:pl"})

    if accepted:
        write_kind()
        assert session.get(JournalEntry, 900100).kind == kind
    else:
        with pytest.raises(DB_ERRORS, match="closed"):
            write_kind()
        assert session.get(JournalEntry, 900100) is None


def test_the_database_refuses_a_kind_it_does_not_know(session, book):
    """(A SQLite database migrated from before 0010 lacks this CHECK: the migration says why.)"""
    with pytest.raises(DB_ERRORS, match="kind"):
        with session.begin_nested():
            raw_postings(session, book, 900101, [("101", 500), ("501", -500)])
            session.execute(text(
                "INSERT INTO ledger_entries (id, book_id, year, voucher_no, date, memo, kind, prev_hash, hash) "
                "VALUES (900101, :b, 2025, 98, :d, 'raw', 'whatever', '', '')"), {"b": book.id, "d": dt.date(2025, 1, 2)})


def test_an_unknown_kind_is_refused_before_the_database():
    assert [p.code for p in (p.reason for p in check_entry(draft("whatever")))] == ["unknown_kind"]


def test_post_entry_refuses_an_unknown_kind(session, book):
    with pytest.raises(InvalidEntry):
        post_entry(session, book, draft("whatever", on="2025-06-30"))


def test_the_hash_covers_the_kind_and_old_books_still_verify(session, book):
    """A kind the source does not say is hashed (so it cannot be changed unseen); where the source says it,
    the hash is exactly what it was before entries had kinds (the pre-0010 canonical text, written out)."""
    manual, ordinary = draft("manual", on="2025-06-30"), draft("ordinary", on="2025-06-30")
    assert hash_entry("", "B", 2025, 1, manual) != hash_entry("", "B", 2025, 1, ordinary)
    closing = draft("closing", source="close:2025:pl")
    before_kinds = ('{"book":"B","date":"2025-12-31","memo":"结转","postings":[["101","",500],["501","",-500]],'
                    '"reverses":null,"source":"close:2025:pl","voucher":1,"year":2025}')
    assert canonical_entry("B", 2025, 1, closing) == before_kinds
    assert '"kind":"manual"' in canonical_entry("B", 2025, 1, manual)
    for source, reverses, kind in (("close:2025:pl", None, "closing"), ("run:7:pool:patronage", None, "distribution"),
                                   ("run:8:reverses:12", None, "distribution"), ("land-rent:2025:1:3", None, "accrual"),
                                   ("void:deliveries:4", None, "reversal"), ("reversal:9", 9, "reversal"),
                                   ("deliveries:4", None, "ordinary"), (None, None, "ordinary")):
        assert legacy_kind(source, reverses) == kind, source
    post_entry(session, book, manual)
    post_entry(session, book, draft("ordinary", on="2025-07-01"))
    assert verify_book(session, book) == []

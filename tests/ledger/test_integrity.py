"""The ledger's guarantees hold against raw SQL, not only through the Python API (both databases)."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.entries import EntryDraft, PostingDraft
from ledger.models import Account, JournalEntry, Posting
from ledger.operations import ensure_parties, post_entry
from ledger.verify import verify_book

D = Decimal
DB_ERRORS = (IntegrityError, DBAPIError)


def post(session, book, amount="10.00", on="2025-03-01"):
    ensure_parties(session, book, {"H001": "王大山"})
    return post_entry(session, book, EntryDraft(date=dt.date.fromisoformat(on), memo="交售", postings=(
        PostingDraft("521", D(amount)), PostingDraft("114", -D(amount), "H001"))))


def account_id(session, book, code):
    return session.scalar(select(Account.id).where(Account.book_id == book.id, Account.code == code))


def raw_postings(session, book, entry_id, amounts, year=2025):
    for code, fen in amounts:
        session.execute(text(
            "INSERT INTO ledger_postings (entry_id, book_id, year, account_id, amount) "
            "VALUES (:e, :b, :y, :a, :amt)"), {"e": entry_id, "b": book.id, "y": year,
                                              "a": account_id(session, book, code), "amt": fen})


def raw_entry(session, book, entry_id, year=2025, voucher=99):
    session.execute(text(
        "INSERT INTO ledger_entries (id, book_id, year, voucher_no, date, memo, prev_hash, hash) "
        "VALUES (:id, :b, :y, :v, :d, 'raw', '', '')"),
        {"id": entry_id, "b": book.id, "y": year, "v": voucher, "d": dt.date(year, 1, 2)})


@pytest.mark.parametrize("amounts", [
    [("101", 1000), ("501", -999)],          # one fen off
    [("101", 1000)],                          # missing leg
    [],                                       # no postings at all
])
def test_raw_sql_cannot_store_an_unbalanced_entry(session, book, amounts):
    with pytest.raises(DB_ERRORS, match="unbalanced"):
        with session.begin_nested():
            raw_postings(session, book, 900001, amounts)
            raw_entry(session, book, 900001)
    assert session.get(JournalEntry, 900001) is None


def test_raw_sql_balanced_entry_is_accepted_by_the_database(session, book):
    """The guard is about balance, not about who writes: a balanced raw entry goes in (and verify flags its hash)."""
    with session.begin_nested():
        raw_postings(session, book, 900002, [("101", 500), ("501", -500)])
        raw_entry(session, book, 900002)
    assert session.get(JournalEntry, 900002) is not None
    assert any("900002" in str(d) for d in verify_book(session, book))


def test_raw_sql_cannot_add_a_posting_to_a_posted_entry(session, book):
    entry = post(session, book)
    with pytest.raises(DB_ERRORS, match="posted entry"):
        with session.begin_nested():
            raw_postings(session, book, entry.id, [("101", 1), ("501", -1)])


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_postings SET amount = amount + 100 WHERE entry_id = :id",
    "DELETE FROM ledger_postings WHERE entry_id = :id",
    "UPDATE ledger_entries SET memo = 'changed' WHERE id = :id",
    "UPDATE ledger_entries SET date = '2025-04-01' WHERE id = :id",
    "DELETE FROM ledger_entries WHERE id = :id",
])
def test_raw_sql_cannot_change_a_posted_entry(session, book, statement):
    entry = post(session, book)
    with pytest.raises(DB_ERRORS, match="cannot be"):
        with session.begin_nested():
            session.execute(text(statement), {"id": entry.id})
    assert verify_book(session, book) == []


def test_postings_without_their_entry_cannot_be_committed(engine):
    """The posting → entry foreign key is checked at COMMIT: orphan postings never land."""
    with pytest.raises(DB_ERRORS):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO ledger_books (code, name, chart, head_hash, entry_count) "
                              "VALUES ('ORPHAN', 'x', 'fpc2021', '', 0)"))
            book_id = conn.scalar(text("SELECT id FROM ledger_books WHERE code = 'ORPHAN'"))
            conn.execute(text("INSERT INTO ledger_accounts (book_id, code, name, type, postable) "
                              "VALUES (:b, '101', 'x', 'asset', true)"), {"b": book_id})
            acc = conn.scalar(text("SELECT id FROM ledger_accounts WHERE book_id = :b"), {"b": book_id})
            for fen in (100, -100):
                conn.execute(text("INSERT INTO ledger_postings (entry_id, book_id, year, account_id, amount) "
                                  "VALUES (777777, :b, 2025, :a, :f)"), {"b": book_id, "a": acc, "f": fen})
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ledger_books WHERE code = 'ORPHAN'")) == 0


def _disable_guards(session):
    """What someone with database access could do: switch off the immutability triggers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        session.execute(text("ALTER TABLE ledger_postings DISABLE TRIGGER USER"))
        session.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))
    else:
        for name in ("postings_no_update", "entries_no_update", "postings_no_delete", "entries_no_delete"):
            session.execute(text(f"DROP TRIGGER ledger_{name}"))


@pytest.mark.parametrize("tamper", [
    # amount changed on both legs: still balanced, but not what was posted
    "UPDATE ledger_postings SET amount = amount * 2 WHERE entry_id = :id",
    "UPDATE ledger_entries SET date = '2025-03-09' WHERE id = :id",
    "UPDATE ledger_postings SET account_id = :other WHERE entry_id = :id AND amount > 0",
])
def test_verify_names_an_entry_edited_behind_the_ledgers_back(session, book, tamper):
    post(session, book, "5.00", "2025-02-01")
    target = post(session, book, "10.00")
    post(session, book, "7.00", "2025-03-05")
    assert verify_book(session, book) == []
    _disable_guards(session)
    session.execute(text(tamper), {"id": target.id, "other": account_id(session, book, "523")})
    diffs = verify_book(session, book)
    assert [d.where for d in diffs] == [f"entry 2025-0002 (id {target.id})"]
    assert "no longer matches its hash" in diffs[0].what


def test_verify_notices_a_removed_entry(session, book):
    post(session, book, "5.00")
    last = post(session, book, "6.00")
    _disable_guards(session)
    session.execute(text("DELETE FROM ledger_postings WHERE entry_id = :id"), {"id": last.id})
    session.execute(text("DELETE FROM ledger_entries WHERE id = :id"), {"id": last.id})
    whats = " ".join(str(d) for d in verify_book(session, book))
    assert "head of the hash chain" in whats and "2 entries were posted but 1 are stored" in whats


def test_posting_amounts_are_whole_fen_in_the_database(session, book):
    post(session, book, "12.34")
    raw = session.execute(text("SELECT amount FROM ledger_postings ORDER BY amount")).scalars().all()
    assert [int(v) for v in raw] == [-1234, 1234]
    assert session.scalars(select(Posting.amount).order_by(Posting.amount)).all() == [D("-12.34"), D("12.34")]


def test_verify_command_exits_1_naming_the_tampered_entry(session, book, cli):
    post(session, book, "5.00", "2025-02-01")
    target = post(session, book, "10.00")
    session.commit()
    assert cli("verify", "--entity", book.code).exit_code == 0
    _disable_guards(session)
    session.execute(text("UPDATE ledger_postings SET amount = amount + 100 WHERE entry_id = :id AND amount > 0"),
                    {"id": target.id})
    session.execute(text("UPDATE ledger_postings SET amount = amount - 100 WHERE entry_id = :id AND amount < 0"),
                    {"id": target.id})
    session.commit()
    result = cli("verify", "--entity", book.code)
    assert result.exit_code == 1
    assert f"entry 2025-0002 (id {target.id})" in result.stderr and "no longer matches its hash" in result.stderr

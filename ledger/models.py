"""Ledger tables: books, accounts, parties (member sub-ledgers), journal entries and postings.

A *book* is one entity's set of accounts and journal. Entries are append-only: the database itself
refuses an UPDATE or DELETE of an entry or posting, refuses postings added to an entry already
stored, and refuses an entry whose postings do not sum to zero (see ``ledger.ddl``). Postings are
written *before* their entry row; the foreign key from posting to entry is deferred to commit, so
postings without an entry can never be committed either.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger import ddl
from ledger.db import Base, Money

#: entry ids are drawn ahead of the insert (postings come first); a sequence on PostgreSQL
ENTRY_IDS = Sequence("ledger_entries_id_seq", metadata=Base.metadata)

#: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Book(Base):
    __tablename__ = "ledger_books"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: key of ledger.chart.CHARTS
    chart: Mapped[str] = mapped_column(String(20))
    #: 建账日期: nothing is dated before it but the opening balances (期初余额, kind ``opening``), dated the day
    #: before, so that every "balance at the start of a year" query finds them there. None: no start (a book
    #: of the ledger's own tests)
    books_start: Mapped[dt.date | None] = mapped_column(Date)
    #: hash of the last entry in the chain ("" before the first); updated under a row lock
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    #: the book this one continues (a collective's 2004 book carried over to the 2023 system): the years before
    #: this one's start are read from it
    previous_book_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_books.id"))
    previous: Mapped[Book | None] = relationship(remote_side="Book.id")
    #: the code its entries' hashes name, when the book was renamed after they were posted (a book carried over
    #: gives its code to the book that continues it); None: its code
    chain_code: Mapped[str | None] = mapped_column(String(40))

    def holding(self, year: int) -> Book:
        """The book that holds ``year``: this one, or for a year before it starts the book it continues."""
        book = self
        while book.previous_book_id is not None and book.books_start is not None and year < book.books_start.year:
            book = book.previous
        return book

    @property
    def hashed_code(self) -> str:
        """The code the hash chain covers (:func:`ledger.operations.hash_entry`)."""
        return self.chain_code or self.code
    head_entry_id: Mapped[int | None] = mapped_column(Id)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)

    accounts: Mapped[list[Account]] = relationship(back_populates="book", order_by="Account.code")


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("book_id", "code"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("ledger_books.id"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(String(20))
    #: a parent account (332) only aggregates its children and takes no posting
    postable: Mapped[bool] = mapped_column(default=True)

    book: Mapped[Book] = relationship(back_populates="accounts")


class Party(Base):
    """The holder of a sub-ledger: a member household or member entity of this book's entity."""

    __tablename__ = "ledger_parties"
    __table_args__ = (UniqueConstraint("book_id", "code"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("ledger_books.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))


class Period(Base):
    """A fiscal year of a book (calendar year); a year with no row is open.

    ``adjusting``: the year's profit and loss is closed; only year-end closing and distribution
    entries (``kind``) are accepted. ``closed``: no entry at all.
    """

    __tablename__ = "ledger_periods"
    __table_args__ = (CheckConstraint("status IN ('open', 'adjusting', 'closed')", name="status"),)

    book_id: Mapped[int] = mapped_column(ForeignKey("ledger_books.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(10), default="open")
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(Integer)


class VoucherCounter(Base):
    """Last voucher number used per book and year; incremented under a row lock, so gapless."""

    __tablename__ = "ledger_voucher_counters"

    book_id: Mapped[int] = mapped_column(ForeignKey("ledger_books.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_no: Mapped[int] = mapped_column(Integer, default=0)


class JournalEntry(Base):
    """A voucher (凭证). Immutable once stored; corrected only by a reversing entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("book_id", "year", "voucher_no"),
        UniqueConstraint("book_id", "source"),
        UniqueConstraint("reverses_id"),
        CheckConstraint("voucher_no > 0", name="voucher_positive"),
        CheckConstraint("kind IN ('ordinary', 'opening', 'closing', 'distribution', 'reversal', 'manual', "
                        "'accrual')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    book_id: Mapped[int] = mapped_column(ForeignKey("ledger_books.id"))
    year: Mapped[int] = mapped_column(Integer)
    voucher_no: Mapped[int] = mapped_column(Integer)
    date: Mapped[dt.date] = mapped_column(Date)
    memo: Mapped[str] = mapped_column(Text, default="")
    #: what produced it, e.g. "delivery:42" or "import:<digest>:deliveries:2025-03-01"; unique per book
    source: Mapped[str | None] = mapped_column(String(200))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    #: what it is (``ledger.entries.ENTRY_KINDS``): the year rules and the triggers test this, not the source
    kind: Mapped[str] = mapped_column(String(12), default="ordinary", server_default="ordinary")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry", order_by="Posting.id", viewonly=True,
        primaryjoin="JournalEntry.id == foreign(Posting.entry_id)",
    )

    @property
    def voucher(self) -> str:
        return f"{self.year}-{self.voucher_no:04d}"


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        Index("ix_ledger_postings_book_account", "book_id", "year", "account_id", "party_id", "amount"),
        #: the trial balance's: a whole book grouped by account, read in order from the index alone
        Index("ix_ledger_postings_book_account_year", "book_id", "account_id", "year", "amount"),
        Index("ix_ledger_postings_entry_id", "entry_id"),
        Index("ix_ledger_postings_party", "party_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: deferred: postings are written before their entry, checked at commit
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_entries.id", deferrable=True, initially="DEFERRED"))
    #: copies of the entry's, so balances need no join; the entry trigger checks they match
    book_id: Mapped[int] = mapped_column(ForeignKey("ledger_books.id"))
    year: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_parties.id"))
    #: signed; > 0 debit, < 0 credit
    amount: Mapped[Decimal] = mapped_column(Money)

    entry: Mapped[JournalEntry] = relationship(
        back_populates="postings", viewonly=True,
        primaryjoin="JournalEntry.id == foreign(Posting.entry_id)",
    )
    account: Mapped[Account] = relationship(viewonly=True)
    party: Mapped[Party | None] = relationship(viewonly=True)


for _table, _ddl in ddl.triggers_for(Base.metadata):
    event.listen(_table, "after_create", _ddl)

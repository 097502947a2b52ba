"""Export a book in Beancount syntax, so an independent tool (``bean-check``) can check it.

Accounts become ``<Root>:C<code>`` (``Assets:C114``), member sub-ledgers ``Assets:C114:H001``; the
Chinese account name rides along as metadata. Every amount is written exactly, in CNY.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ledger.models import Account, Book, JournalEntry, Party, Posting

ROOTS = {"asset": "Assets", "cost": "Assets", "liability": "Liabilities", "equity": "Equity",
         "income": "Income", "expense": "Expenses"}
_BAD = re.compile(r"[^A-Za-z0-9-]")


def account_name(account_type: str, code: str, party: str | None = None) -> str:
    name = f"{ROOTS[account_type]}:C{code}"
    if party:
        component = _BAD.sub("-", party.upper())
        if not component[:1].isalnum():
            component = "M" + component
        name += f":{component}"
    return name


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', "'").replace("\n", " ") + '"'


def export_beancount(session: Session, book: Book) -> Iterator[str]:
    """Lines of a Beancount file for ``book`` (streamed; a county's books need not fit in memory)."""
    party = aliased(Party)
    yield f'option "title" {_quote(book.name + " (" + book.code + ")")}'
    yield 'option "operating_currency" "CNY"'
    yield ""
    used = session.execute(
        select(Account.type, Account.code, Account.name, party.code).distinct()
        .join(Posting, Posting.account_id == Account.id).outerjoin(party, party.id == Posting.party_id)
        .where(Account.book_id == book.id).order_by(Account.code, party.code))
    first = session.scalar(select(JournalEntry.date).where(JournalEntry.book_id == book.id)
                           .order_by(JournalEntry.date).limit(1))
    opened = first.isoformat() if first else "2000-01-01"
    for account_type, code, name, party_code in used:
        yield f"{opened} open {account_name(account_type, code, party_code)} CNY"
        yield f"  name: {_quote(name)}"
    yield ""
    stmt = (
        select(JournalEntry, Account.type, Account.code, party.code, Posting.amount)
        .join(Posting, Posting.entry_id == JournalEntry.id).join(Account, Account.id == Posting.account_id)
        .outerjoin(party, party.id == Posting.party_id)
        .where(JournalEntry.book_id == book.id).order_by(JournalEntry.date, JournalEntry.id, Posting.id)
        .execution_options(yield_per=5000)
    )
    current = None
    for entry, account_type, code, party_code, amount in session.execute(stmt):
        if entry.id != current:
            if current is not None:
                yield ""
            current = entry.id
            yield f"{entry.date.isoformat()} * {_quote(entry.memo or entry.source or '')}"
            yield f'  voucher: "{entry.voucher}"'
        yield f"  {account_name(account_type, code, party_code)}  {amount} CNY"
    yield ""

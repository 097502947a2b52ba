"""Ledger pages: trial balance and journal of an entity's book."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ledger.models import JournalEntry, Posting
from ledger.queries import trial_balance
from ledger.web.bounds import page_arg, year_arg
from ledger.web.support import STAFF, book_or_404, get_session, rule

bp = Blueprint("ledger", __name__, url_prefix="/e/<code>")
PAGE = 50


@bp.get("/trial-balance", endpoint="trial_balance")
@rule(*STAFF, scope="entity")
def trial_balance_page(code: str):
    year = year_arg()
    book = book_or_404(code)
    book = book.holding(year) if year is not None else book     # a year before a carry-over: the old book's
    rows = trial_balance(get_session(), book, year)
    totals = {k: sum((getattr(r, k) for r in rows), Decimal("0.00")) for k in ("opening", "debit", "credit", "closing")}
    return render_template("ledger/trial_balance.html", book=book, code=code, rows=rows, totals=totals, year=year)


@bp.get("/journal")
@rule(*STAFF, scope="entity")
def journal(code: str):
    book = book_or_404(code)
    page = page_arg()
    entries = get_session().scalars(
        select(JournalEntry).options(selectinload(JournalEntry.postings).joinedload(Posting.account),
                                     selectinload(JournalEntry.postings).joinedload(Posting.party))
        .where(JournalEntry.book_id == book.id)
        .order_by(JournalEntry.year.desc(), JournalEntry.voucher_no.desc())
        .limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template("ledger/journal.html", book=book, code=code, entries=entries, page=page, page_size=PAGE)


"""Ledger pages: trial balance and journal of an entity's book."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, jsonify, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ledger.books import (
    RECONCILIATION_INPUTS,
    Reconciliation,
    account_ledger,
    balance_table,
    direction,
    money_codes,
    money_journal,
    period,
)
from ledger.chart import ROLES
from ledger.clock import china_today
from ledger.i18n import N_
from ledger.models import Account, JournalEntry, Posting
from ledger.money import D
from ledger.queries import trial_balance
from ledger.web.bounds import page_arg, year_arg
from ledger.web.support import STAFF, book_or_404, get_session, rule

#: the 方向 column in the page's language (the JSON and the prints keep 借/贷/平)
DIRECTION_WORDS = {"借": N_("Dr"), "贷": N_("Cr"), "平": N_("Nil")}


def shown_direction(balance: Decimal) -> str:
    from flask_babel import gettext

    return gettext(DIRECTION_WORDS[direction(balance)])

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



def period_args(book) -> tuple[int, int | None, int | None]:
    """(year, month, quarter) of ``?year=&month=&quarter=``: the year defaults to the book's latest with an
    entry; a month outside 1–12 or a quarter outside 1–4 is a 404."""
    year = year_arg() or get_session().scalar(select(func.max(JournalEntry.year)).where(
        JournalEntry.book_id == book.id)) or china_today().year
    month, quarter = request.args.get("month", type=int), request.args.get("quarter", type=int)
    if (month is not None and not 1 <= month <= 12) or (quarter is not None and not 1 <= quarter <= 4):
        abort(404)
    return year, month, quarter


def _money(value) -> str:
    return f"{value:.2f}"


@bp.get("/balances", endpoint="balances")
@bp.get("/balances.json", endpoint="balances_json")
@rule(*STAFF, scope="entity")
def balances_page(code: str):
    """科目余额表 for a year, a quarter or a month: 期初 借/贷, 本期借方, 本期贷方, 期末 借/贷, by account and member."""
    book = book_or_404(code)
    year, month, quarter = period_args(book)
    book = book.holding(year)
    table = balance_table(get_session(), book, *period(year, month, quarter))
    if request.path.endswith(".json"):
        return jsonify({"entity": code, "start": table.start.isoformat(), "end": table.end.isoformat(),
                        "totals": {k: _money(v) for k, v in table.totals().items()},
                        "rows": [{"code": r.code, "name": r.name, "member": r.member,
                                  "opening": {"direction": direction(r.opening), "amount": _money(abs(r.opening))},
                                  "debit": _money(r.debit), "credit": _money(r.credit),
                                  "closing": {"direction": direction(r.closing), "amount": _money(abs(r.closing))}}
                                 for r in table.rows]})
    return render_template("ledger/balances.html", book=book, code=code, table=table, totals=table.totals(),
                           year=year, month=month, quarter=quarter, direction=shown_direction)


@bp.get("/money-journal", endpoint="money_journal")
@rule(*STAFF, scope="entity")
def money_journal_page(code: str):
    """日记账 of 库存现金, 银行存款 or 其他货币资金 (``?account=``) for a year or a month, a balance after each line
    and each day."""
    book = book_or_404(code)
    year, month, quarter = period_args(book)
    book = book.holding(year)
    roles = ROLES.get(book.chart, {})
    accounts = money_codes(get_session(), book, tuple(roles[r] for r in ("cash", "bank", "mobile") if r in roles))
    chosen = request.args.get("account") or (accounts[0][0] if accounts else "")
    if chosen not in {c for c, _ in accounts}:
        abort(404)
    journal = money_journal(get_session(), book, chosen, *period(year, month, quarter))
    reconciliation, wrong = reconciliation_of(journal, roles)
    return render_template("ledger/money_journal.html", book=book, code=code, journal=journal, accounts=accounts,
                           year=year, month=month, quarter=quarter, direction=shown_direction, bank=roles.get("bank"),
                           reconciliation=reconciliation, wrong=wrong, inputs=RECONCILIATION_INPUTS,
                           print_args={k: request.args[k] for k in RECONCILIATION_INPUTS if request.args.get(k)})


def reconciliation_of(journal, roles: dict) -> tuple[Reconciliation | None, list[str]]:
    """The 银行存款余额调节表 of the bank's 日记账 from ``?bank_balance=&bank_in=&bank_out=&book_in=&book_out=`` (only
    the bank statement's balance is needed; the differences default to 0), or None when no balance is given; and
    the names of the inputs that are not amounts."""
    if journal.code != roles.get("bank") or not request.args.get("bank_balance", "").strip():
        return None, []
    values, wrong = {}, []
    for name in RECONCILIATION_INPUTS:
        text = request.args.get(name, "").strip() or "0"
        try:
            amount = D(text)
        except ValueError:
            wrong.append(name)
            continue
        if abs(amount) >= Decimal(10) ** 13 or amount != amount.quantize(Decimal("0.01")):
            wrong.append(name)
        values[name] = amount
    if wrong:
        return None, wrong
    return Reconciliation(journal.closing, **values), []


@bp.get("/ledger", endpoint="account_ledger")
@bp.get("/general-ledger", endpoint="general_ledger")
@rule(*STAFF, scope="entity")
def account_ledger_page(code: str):
    """明细账 of an account (``?account=``, and ``?member=`` for one member's sub-account) for a year, each entry
    with its balance, 本月合计 and 本年累计; or its 总账 (``/general-ledger``: the months only)."""
    book = book_or_404(code)
    year, _, _ = period_args(book)
    book = book.holding(year)
    general = request.path.endswith("/general-ledger")
    member = None if general else request.args.get("member")
    chosen = request.args.get("account") or get_session().scalar(     # default: its first account with a posting
        select(func.min(Account.code)).join(Posting, Posting.account_id == Account.id)
        .where(Account.book_id == book.id)) or "101"
    try:
        ledger = account_ledger(get_session(), book, chosen, year, member=member, lines=not general)
    except LookupError:
        abort(404)
    return render_template("ledger/account_ledger.html", book=book, code=code, ledger=ledger, year=year,
                           general=general, direction=shown_direction)

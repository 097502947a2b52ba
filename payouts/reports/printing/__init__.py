"""The books and the statements printed: each a ledger or report query laid out by a template of the document
module (:mod:`payouts.statements.render`, one WeasyPrint path and font set for everything printed). No Flask: the
pages (:mod:`payouts.reports.printing.web`), the archive (:mod:`payouts.reports.archive`) and the CLI print the same.

* :func:`statements_pdf` — 会农社01–03表 (or the collective's forms) and the 附注, one section each;
* :func:`balances_pdf` — 科目余额表 of a year, quarter or month, by account and member;
* :func:`money_journal_pdf` — 现金/银行存款/其他货币资金日记账;
* :func:`ledger_pdf` — 明细账 or 总账 of one account, or of every account with a movement in the year;
* :func:`vouchers_pdf` — 记账凭证, one page each (:func:`voucher_pages` gives them with 附件 and 制单).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.models import ManualVoucher, User
from ledger.books import (
    Reconciliation,
    account_ledger,
    balance_table,
    money_codes,
    money_journal,
    period,
    vouchers,
)
from ledger.chart import ROLES
from ledger.models import Account, Party, Posting
from payouts.reports import statutory
from payouts.statements.render import document_pdf

#: the statements printed together, in the order the system lists them (the 成员账户 print on their own)
STATEMENTS = ("balance-sheet", "surplus", "equity-changes", "notes")


def _entity(entity) -> dict:
    return {"code": entity.code, "name": entity.name}


def printed_at() -> str:
    """When a book is printed (打印时间, under it), to the minute, in China's time (the server's clock may be UTC)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def party_names(session: Session, book) -> dict[str, str]:
    """``sub-ledger code -> name`` of ``book`` (a member's name beside its code in the printed books)."""
    return dict(session.execute(select(Party.code, Party.name).where(Party.book_id == book.id)).all())


def statements(session: Session, entity, year: int, names: tuple[str, ...] = STATEMENTS) -> list:
    """The reports of ``names`` the entity's system has for ``year`` (a system without one leaves it out)."""
    found = (statutory.build(session, entity, year, name) for name in names)
    return [report for report in found if report is not None]


def statements_pdf(session: Session, entity, year: int, names: tuple[str, ...] = STATEMENTS) -> bytes:
    """The year's statements and their 附注 in one PDF, each starting a page, with the form's number, the
    编制单位, the period, the unit and the signature lines."""
    return reports_pdf(entity, year, statements(session, entity, year, names))


def reports_pdf(entity, year: int, reports: list) -> bytes:
    """``reports`` (:func:`statements`) printed."""
    return document_pdf("report.html", reports=reports, entity=_entity(entity), year=year)


def balances_pdf(session: Session, entity, year: int, month: int | None = None, quarter: int | None = None) -> bytes:
    """科目余额表 of the book that holds ``year``, for the year, a quarter or a month."""
    book = entity.book.holding(year)
    table = balance_table(session, book, *period(year, month, quarter))
    return document_pdf("balance_table.html", table=table, totals=table.totals(), entity=_entity(entity),
                        members=party_names(session, book), printed=printed_at())


def money_accounts(session: Session, entity, year: int) -> list[tuple[str, str]]:
    """(code, name) of the money accounts (库存现金, 银行存款, 其他货币资金) of the book that holds ``year``."""
    book = entity.book.holding(year)
    roles = ROLES.get(book.chart, {})
    return money_codes(session, book, tuple(roles[r] for r in ("cash", "bank", "mobile") if r in roles))


def money_journal_pdf(session: Session, entity, code: str, year: int, month: int | None = None,
                      quarter: int | None = None, *, reconcile: dict | None = None) -> bytes:
    """The 日记账 of money account ``code``: each line with its balance, 本日合计, 本期合计; with ``reconcile`` (the
    bank statement's balance and the differences, :class:`ledger.books.Reconciliation`'s fields but the book's
    balance) the 银行存款余额调节表 at the period's end under it."""
    journal = money_journal(session, entity.book.holding(year), code, *period(year, month, quarter))
    reconciliation = Reconciliation(journal.closing, **reconcile) if reconcile else None
    return document_pdf("money_journal.html", journal=journal, entity=_entity(entity), printed=printed_at(),
                        reconciliation=reconciliation)


def ledger_accounts(session: Session, entity, year: int) -> list[str]:
    """The codes of the accounts with a balance or a movement up to ``year`` in the book that holds it."""
    book = entity.book.holding(year)
    return list(session.scalars(select(Account.code).join(Posting, Posting.account_id == Account.id).where(
        Account.book_id == book.id, Posting.year <= year).group_by(Account.code).order_by(Account.code)))


def ledger_pdf(session: Session, entity, year: int, codes: list[str] | None = None, *, member: str | None = None,
               general: bool = False) -> bytes:
    """明细账 (or 总账 with ``general``) of the accounts ``codes`` (every account with a balance or a movement by
    default), one after another, each starting a page; ``member``: that member's sub-account only."""
    book = entity.book.holding(year)
    codes = codes if codes is not None else ledger_accounts(session, entity, year)
    ledgers = [account_ledger(session, book, code, year, member=member, lines=not general) for code in codes]
    return document_pdf("account_ledger.html", ledgers=ledgers, general=general, year=year, entity=_entity(entity),
                        members=party_names(session, book), printed=printed_at())


def books_of(entity) -> list:
    """The entity's book and the books it continues (a collective carried over: its 2004 book), newest first."""
    out, book = [entity.book], entity.book
    while book.previous_book_id is not None:
        book = book.previous
        out.append(book)
    return out


def voucher_pages(session: Session, entity, year: int, first: int, last: int, *, book=None) -> list[dict]:
    """Vouchers ``first`` … ``last`` of ``year`` to print (:func:`ledger.books.vouchers`) from ``book`` (one of
    :func:`books_of`); by default from the book that holds the year, else from the entity's own (a carried-over
    book's opening voucher is numbered in the year before it starts, which the old book holds); each with 附件张数
    and 制单 from a typed voucher, else who posted it."""
    if book is not None:
        found = vouchers(session, book, year, first, last)
    else:
        found = vouchers(session, entity.book.holding(year), year, first, last)
        if not found and entity.book.holding(year) is not entity.book:
            found = vouchers(session, entity.book, year, first, last)
    ids = [v["id"] for v in found]
    typed = {entry_id: (attachments, name) for entry_id, attachments, name in session.execute(
        select(ManualVoucher.entry_id, ManualVoucher.attachments, User.display_name)
        .outerjoin(User, User.id == ManualVoucher.made_by).where(ManualVoucher.entry_id.in_(ids)))} if ids else {}
    actors = {v["actor_id"] for v in found if v["actor_id"] is not None}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(actors)))) if actors else {}
    for v in found:
        v["attachments"], v["made_by"] = typed.get(v["id"], (None, names.get(v["actor_id"])))
    return found


def vouchers_pdf(entity, found: list[dict]) -> bytes:
    """记账凭证 ``found`` (:func:`voucher_pages`), one A4 page each."""
    return document_pdf("voucher.html", vouchers=found, entity=_entity(entity))


def voucher_range(session: Session, entity, year: int, *, book=None) -> tuple[int, int] | None:
    """(first, last) voucher number of ``year`` in ``book`` (by default the book that holds it; None: no voucher)."""
    from ledger.models import JournalEntry

    book = book if book is not None else entity.book.holding(year)
    first, last = session.execute(select(func.min(JournalEntry.voucher_no), func.max(JournalEntry.voucher_no)).where(
        JournalEntry.book_id == book.id, JournalEntry.year == year)).one()
    return None if first is None else (first, last)

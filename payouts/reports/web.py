"""The statutory statements of an entity and year as pages, JSON and Excel downloads.

``/e/<code>/reports/<year>`` lists them; ``…/<name>`` shows one, ``…/<name>.json`` and ``…/<name>.xlsx``
download it, for ``name`` in :data:`payouts.reports.statutory.NAMES`; ``…/member-accounts.pdf`` prints the 成员账户. Staff only, within their scope: an entity
outside it answers 404. Views load, build the report (``payouts.reports.statutory``), and render it.
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, jsonify, render_template, request, send_file
from sqlalchemy import func, select

from cooperatives.web.access import entity_or_404
from ledger.models import JournalEntry, Posting
from ledger.web.bounds import year_arg
from ledger.web.support import STAFF, get_session, rule
from payouts.reports import printing
from payouts.reports import statutory as reports
from payouts.statements.render import html_to_pdf, render_document

bp = Blueprint("reports", __name__, url_prefix="/e/<code>/reports")
#: a plain placeholder, checked by :func:`year_or_404` after the access rule has run (an anonymous visitor is sent
#: to sign in whatever the year looks like)
YEAR = "<year>"
#: members' accounts shown per page of the 成员账户 page (the Excel and JSON downloads hold every member)
MEMBERS_PER_PAGE = 20
#: members' accounts in one printed 成员账户 (``?page=N`` for the next ones; ``?member=CODE`` prints one)
MEMBERS_PER_PRINT = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.context_processor
def _helpers():
    return {"REPORT_NAMES": reports.NAMES, "report_form": reports.form_of, "PRINTED": printing.STATEMENTS}


def year_or_404(text: str) -> int:
    """The fiscal year in the URL; 404 unless it is four ASCII digits from 1949 to 2999."""
    if not (len(text) == 4 and text.isascii() and text.isdigit() and 1949 <= int(text) <= 2999):
        abort(404)
    return int(text)


def _report(code: str, year: str, name: str):
    """(entity, year, report or None) — 404 for an unknown report or year, or an entity outside the user's
    scope."""
    if name not in reports.NAMES:
        abort(404)
    year_ = year_or_404(year)
    entity = entity_or_404(code)
    return entity, year_, reports.build(get_session(), entity, year_, name)


def books_years(entity) -> list[int]:
    """The years the entity's books (the current ones and any carried over from) have entries in, newest first."""
    books, book = [], entity.book
    while book is not None:
        books.append(book.id)
        book = book.previous if book.previous_book_id is not None else None
    return sorted({int(y) for y in get_session().scalars(
        select(Posting.year).where(Posting.book_id.in_(books)).distinct())}, reverse=True)


@bp.get("")
@rule(*STAFF, scope="entity")
def years(code: str):
    """Which year's statements: every year the books have entries in (the reports' entrance from the navigation)."""
    entity = entity_or_404(code)
    return render_template("payouts/reports/years.html", entity=entity, years=books_years(entity))


@bp.get(f"/{YEAR}")
@rule(*STAFF, scope="entity")
def index(code: str, year: str):
    year = year_or_404(year)
    entity = entity_or_404(code)
    chart = reports.chart_in(entity, year)
    available = [{"name": name, "form": reports.form_of(name, chart), "statutory": reports.any_form_of(name)}
                 for name in reports.NAMES]
    return render_template("payouts/reports/index.html", entity=entity, year=year, name=None, available=available,
                           chart=chart)


@bp.get(f"/{YEAR}/<name>")
@rule(*STAFF, scope="entity")
def show(code: str, year: str, name: str):
    entity, year, report = _report(code, year, name)
    chart = reports.chart_in(entity, year)
    if report is None:
        return render_template("payouts/reports/unavailable.html", entity=entity, year=year, name=name, chart=chart)
    if isinstance(report, reports.MemberAccounts):
        # one account per member, as the form is: ``?member=CODE`` shows one, else a page of them
        member = request.args.get("member", "")
        shown, page, pages = _members_shown(report, member, MEMBERS_PER_PAGE)
        prints = max(-(-len(report.members) // MEMBERS_PER_PRINT), 1)
        return render_template("payouts/reports/member_accounts.html", entity=entity, year=year, name=name,
                               report=report, members=shown, member=member, page=page, pages=pages,
                               prints=prints, per_print=MEMBERS_PER_PRINT, chart=chart)
    if not isinstance(report, reports.Statement):         # the 附注
        return render_template("payouts/reports/notes.html", entity=entity, year=year, name=name, report=report,
                               chart=chart)
    return render_template("payouts/reports/statement.html", entity=entity, year=year, name=name, report=report,
                           chart=chart)


def _members_shown(report, member: str, per_page: int):
    """(the members' accounts to show, page, pages): ``member`` alone (404 if not one of the year's members),
    else page ``?page=`` of ``per_page`` accounts."""
    if member:
        shown = [m for m in report.members if m.code == member]
        if not shown:
            abort(404)
        return shown, 1, 1
    pages = max(-(-len(report.members) // per_page), 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return report.members[(page - 1) * per_page:page * per_page], page, pages


@bp.get(f"/{YEAR}/<name>.json")
@rule(*STAFF, scope="entity")
def as_json(code: str, year: str, name: str):
    _, _, report = _report(code, year, name)
    if report is None:
        abort(404)
    return jsonify(reports.to_dict(report))


@bp.get(f"/{YEAR}/<name>.xlsx")
@rule(*STAFF, scope="entity")
def as_xlsx(code: str, year: str, name: str):
    entity, year, report = _report(code, year, name)
    if report is None:
        abort(404)
    return send_file(BytesIO(reports.to_xlsx(report)), mimetype=XLSX, as_attachment=True,
                     download_name=f"{entity.code}-{year}-{name}.xlsx")


@bp.get(f"/{YEAR}/member-accounts.pdf")
@rule(*STAFF, scope="entity")
def member_accounts_pdf(code: str, year: str):
    """成员账户 printed, A4 landscape: each member's account from a new page under the form's head (成员账户, the
    year, 成员姓名（名称）, 联系地址, 第 N 页 of that account). ``?member=CODE`` prints one member's; otherwise the
    year's members, :data:`MEMBERS_PER_PRINT` to a print (``?page=2`` the next ones). A collective has none: 404."""
    entity, year, report = _report(code, year, "member-accounts")
    if report is None:
        abort(404)
    member = request.args.get("member", "")
    members, page, pages = _members_shown(report, member, MEMBERS_PER_PRINT)
    pdf = html_to_pdf(render_document("member_accounts.html", report=report, members=members))
    part = f"-{member}" if member else (f"-{page}" if pages > 1 else "")
    return send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{entity.code}-{year}-member-accounts{part}.pdf")


@bp.get("/vouchers.pdf")
@rule(*STAFF, scope="entity")
def vouchers_pdf(code: str):
    """记账凭证 printed, one A4 page each: ``?voucher=2025-0007``, or ``?year=2025&from=1&to=40`` (at most
    :data:`ledger.books.VOUCHERS_PER_PRINT`; by default the first voucher of the latest year)."""
    entity = entity_or_404(code)
    session = get_session()
    given = request.args.get("voucher", "")
    if given:
        year_text, _, number = given.partition("-")
        if not (year_text.isascii() and year_text.isdecimal() and number.isascii() and number.isdecimal()
                and len(year_text) == 4 and len(number) <= 9):
            abort(404)
        year, first = int(year_text), int(number)
        last = first
    else:
        year = year_arg() or session.scalar(select(func.max(JournalEntry.year)).where(
            JournalEntry.book_id == entity.book_id))
        first = min(max(request.args.get("from", 1, type=int), 1), 10**9)
        last = min(max(request.args.get("to", first, type=int), first), 10**9)
    if year is None:
        abort(404)
    book = None
    if request.args.get("book"):            # one of the entity's books (the journal's links name theirs)
        book = next((b for b in printing.books_of(entity) if b.code == request.args["book"]), None)
        if book is None:
            abort(404)
    found = printing.voucher_pages(session, entity, year, first, last, book=book)
    if not found:
        abort(404)
    pdf = printing.vouchers_pdf(entity, found)
    return send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{entity.code}-vouchers-{year}-{first:04d}-{found[-1]['number']:04d}.pdf")

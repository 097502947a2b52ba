"""The statutory statements of an entity and year as pages, JSON and Excel downloads.

``/e/<code>/reports/<year>`` lists them; ``…/<name>`` shows one, ``…/<name>.json`` and ``…/<name>.xlsx``
download it, for ``name`` in :data:`payouts.reports.statutory.NAMES`. Staff only, within their scope: an entity
outside it answers 404. Views load, build the report (``payouts.reports.statutory``), and render it.
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, jsonify, render_template, request, send_file
from sqlalchemy import func, select

from cooperatives.models import ManualVoucher, User
from cooperatives.web.access import entity_or_404
from ledger.books import vouchers
from ledger.models import JournalEntry
from ledger.web.bounds import year_arg
from ledger.web.support import STAFF, get_session, rule
from payouts.reports import statutory as reports
from payouts.statements.render import html_to_pdf, render_vouchers_html

bp = Blueprint("reports", __name__, url_prefix="/e/<code>/reports")
#: a plain placeholder, checked by :func:`_year` after the access rule has run (an anonymous visitor is sent
#: to sign in whatever the year looks like)
YEAR = "<year>"
#: members shown per page of the 成员账户 page (the downloads hold every member)
MEMBERS_PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.context_processor
def _helpers():
    return {"REPORT_NAMES": reports.NAMES, "report_form": reports.form_of}


def _year(text: str) -> int:
    """The fiscal year in the URL; 404 unless it is four ASCII digits from 1949 to 2999."""
    if not (len(text) == 4 and text.isascii() and text.isdigit() and 1949 <= int(text) <= 2999):
        abort(404)
    return int(text)


def _report(code: str, year: str, name: str):
    """(entity, year, report or None) — 404 for an unknown report or year, or an entity outside the user's
    scope."""
    if name not in reports.NAMES:
        abort(404)
    year_ = _year(year)
    entity = entity_or_404(code)
    return entity, year_, reports.build(get_session(), entity, year_, name)


@bp.get(f"/{YEAR}")
@rule(*STAFF, scope="entity")
def index(code: str, year: str):
    year = _year(year)
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
        page = max(request.args.get("page", 1, type=int), 1)
        shown = report.members[(page - 1) * MEMBERS_PER_PAGE:page * MEMBERS_PER_PAGE]
        pages = max(-(-len(report.members) // MEMBERS_PER_PAGE), 1)
        return render_template("payouts/reports/member_accounts.html", entity=entity, year=year, name=name,
                               report=report, members=shown, page=page, pages=pages, chart=chart)
    if not isinstance(report, reports.Statement):         # the 附注
        return render_template("payouts/reports/notes.html", entity=entity, year=year, name=name, report=report,
                               chart=chart)
    return render_template("payouts/reports/statement.html", entity=entity, year=year, name=name, report=report,
                           chart=chart)


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
    # the entity's book first (its opening voucher is numbered in the year before it starts), then the book that
    # holds the year (a collective's 2004 book before its carry-over)
    found = vouchers(session, entity.book, year, first, last)
    if not found and entity.book.holding(year) is not entity.book:
        found = vouchers(session, entity.book.holding(year), year, first, last)
    if not found:
        abort(404)
    ids = [v["id"] for v in found]
    typed = {entry_id: (attachments, name) for entry_id, attachments, name in session.execute(
        select(ManualVoucher.entry_id, ManualVoucher.attachments, User.display_name)
        .outerjoin(User, User.id == ManualVoucher.made_by).where(ManualVoucher.entry_id.in_(ids)))}
    actors = {v["actor_id"] for v in found if v["actor_id"] is not None}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(actors)))) if actors else {}
    for v in found:
        v["attachments"], v["made_by"] = typed.get(v["id"], (None, names.get(v["actor_id"])))
    pdf = html_to_pdf(render_vouchers_html(found, entity={"code": entity.code, "name": entity.name}))
    return send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{entity.code}-vouchers-{year}-{first:04d}-{found[-1]['number']:04d}.pdf")

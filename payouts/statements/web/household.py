"""The household's own pages: ``/my``, ``/s/<code>`` (cached whole per worker), its PDF, "I received it"
and an objection to one line during the notice period."""

from __future__ import annotations

import functools
from decimal import Decimal
from io import BytesIO

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from cooperatives.access import may
from cooperatives.models import Household, Member
from cooperatives.privacy import mask_phone
from cooperatives.web.access import can_write_entity
from ledger.errors import field_errors
from ledger.web.support import get_session
from payouts.batches.operations import failure_message, failures_of
from payouts.models import Objection, PayoutBatch, PayoutBatchLine, PayoutMember, PayoutRun, Receipt, StatementSnapshot
from payouts.statements.cache import RenderedCache, statement_bodies
from payouts.statements.operations import (
    OBJECTION_MAX,
    StatementError,
    confirm_receipt,
    in_notice_period,
    record_objection,
    set_pin,
)
from payouts.statements.render import html_to_pdf, render_statement_body, render_statement_html
from payouts.statements.web import bp
from payouts.statements.web.support import (
    HOUSEHOLD_STATUSES,
    PIN_KEY,
    Viewer,
    household_rule,
    household_statements,
    normal_code,
    page_locale,
    paid_of,
    payment_state,
    statement_or_404,
    verify_url_of,
    viewer,
)

# --------------------------------------------------------------------------------------- household pages


@bp.get("/my")
@household_rule()
def mine():
    who = viewer()
    if who.staff:
        return redirect(url_for("home.index"))
    db = get_session()
    household = db.get(Household, who.household_id, options=[joinedload(Household.village)])
    if household is None:                      # a PIN session of a household since removed
        session.pop(PIN_KEY, None)
        return redirect(url_for(".pin"))
    statements = household_statements(household.id)
    memberships = db.scalars(select(Member).options(joinedload(Member.entity))
                             .where(Member.household_id == household.id).order_by(Member.joined_on)).all()
    return render_template("payouts/statements/mine.html", household=household, statements=statements,
                           memberships=memberships, by_pin=not current_user.is_authenticated)


def _statement_page(snap: StatementSnapshot, who: Viewer, *, status: int = 200, errors=None, form=None):
    db = get_session()
    run, data = snap.run, snap.content
    net = Decimal(data["net"])
    paid = paid_of(snap)
    receipts = db.scalars(select(Receipt).where(Receipt.statement_id == snap.id).order_by(Receipt.date, Receipt.id)).all()
    objections = db.scalars(select(Objection).where(Objection.statement_id == snap.id)
                            .order_by(Objection.created_at, Objection.id)).all()
    lines = [ln["pool"] for ln in data["lines"]]
    bases = {ln["pool"]: ln["basis_kind"] for ln in data["lines"]}
    if data["deductions"]:
        lines.append("deductions")
    lines += ["total", "contributed"]
    household = None          # the PIN form: for those the PIN operation's rule allows (the registering entity's)
    if who.staff and snap.household_id is not None and can_write_entity(current_user, run.entity):
        household = db.get(Household, snap.household_id)
        if not may(db, who.actor, set_pin, household):
            household = None
    failed = failures_of(db, [snap.id]).get(snap.id)       # the bank could not pay it: say why and what to do
    failure = failure_message(failed[0]).translate(_) if failed else None
    locale, verify_url = page_locale(), verify_url_of(snap.code)
    body = Markup(statement_bodies.get((snap.digest, locale, verify_url), lambda: render_statement_body(
        data, locale=locale, verify_url=verify_url)))
    return render_template(
        "payouts/statements/show.html", snap=snap, run=run, data=data, body=body, net=net, paid=paid,
        state=payment_state(net, paid), receipts=receipts, objections=objections, lines=lines, bases=bases,
        notice_open=in_notice_period(run), staff=who.staff, household=household,
        household_phone=mask_phone(household.phone) if household is not None else None,
        errors=errors or {}, form=form or {}, OBJECTION_MAX=OBJECTION_MAX, failure=failure), status


@bp.get("/s/<code>")
@household_rule()
def show(code: str):
    who = viewer()
    key = None if who.staff or session.get("_flashes") else _household_page_key(code, who)
    if key is None:                 # staff, a message to show, or not this household's: the page as it is
        return _statement_page(statement_or_404(code, who), who)
    token = generate_csrf()         # the page's forms carry this visitor's own token, cached page or not

    def render() -> str:
        page, _status = _statement_page(statement_or_404(code, who), who)
        return page.replace(token, _TOKEN)

    return current_app.extensions[PAGES].get(key, render).replace(_TOKEN, token)


#: a household's whole statement page, kept per app (so per worker): payout day brings every household to
#: its page at once (bench/README.md, "Statement page"). Keyed by everything the page shows besides the
#: frozen snapshot; pages are ~10 KB, so a full cache costs a worker ~20 MB.
PAGES = "coop.statement_pages"
_TOKEN = "\x00csrf-token\x00"
bp.record_once(lambda state: state.app.extensions.setdefault(PAGES, RenderedCache(maxsize=2048)))


@functools.cache
def _page_state_query():
    """The one statement behind :func:`_household_page_key`, built once (its SQL and cache key reused)."""
    s = StatementSnapshot

    def of_statement(model, *columns):          # one correlated subquery per figure of the statement's rows
        return [select(c).where(model.statement_id == s.id).scalar_subquery() for c in columns]

    return (select(s.id, s.household_id, s.digest, s.confirmed_at, PayoutRun.status, PayoutRun.notice_until,
                   PayoutMember.paid,
                   *of_statement(Receipt, func.count(Receipt.id), func.max(Receipt.id), func.sum(Receipt.amount)),
                   *of_statement(Objection, func.count(Objection.id), func.max(Objection.id),
                                 func.count(Objection.answered_at), func.max(Objection.answered_at)),
                   # its bank batch lines: a new one, a failure, a batch cancelled or closed (failures_of reads them)
                   *of_statement(PayoutBatchLine, func.count(PayoutBatchLine.id), func.max(PayoutBatchLine.id),
                                 func.count(PayoutBatchLine.id).filter(PayoutBatchLine.status == "failed")),
                   select(func.count(PayoutBatch.id)).join(PayoutBatchLine, PayoutBatchLine.batch_id == PayoutBatch.id)
                   .where(PayoutBatchLine.statement_id == s.id, PayoutBatch.status == "cancelled").scalar_subquery())
            .join(PayoutRun, PayoutRun.id == s.run_id)
            .outerjoin(PayoutMember, (PayoutMember.run_id == s.run_id) & (PayoutMember.code == s.member_code))
            .where(s.code == bindparam("code")))


def _household_page_key(code: str, who: Viewer) -> tuple | None:
    """Everything a household's statement page depends on, read in one statement — the snapshot (by its
    digest), the run's state and notice period, what has been paid, receipts, confirmation, objections
    and their answers, the language, the path and the signed-in member — or None when the page is not
    this visitor's to read (the uncached path then answers 404) or the amount paid is not stored."""
    row = get_session().execute(_page_state_query(), {"code": normal_code(code)}).one_or_none()
    if row is None or row.household_id != who.household_id or row.status not in HOUSEHOLD_STATUSES \
            or row.paid is None:
        return None
    user = (current_user.id, current_user.display_name) if current_user.is_authenticated else None
    return (*row, in_notice_period(row), page_locale(), request.full_path, user)      # the row has status, notice_until


@bp.get("/s/<code>.pdf")
@household_rule()
def pdf(code: str):
    snap = statement_or_404(code, viewer())
    data = snap.content
    html = render_statement_html(data, locale=page_locale(), verify_url=verify_url_of(snap.code))
    response = send_file(BytesIO(html_to_pdf(html)), mimetype="application/pdf", as_attachment=True,
                         download_name=f"statement-{data['year']}-{snap.member_code}-{snap.code}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/s/<code>/confirm")
@household_rule(write=True)
def confirm(code: str):
    who = viewer()
    snap = statement_or_404(code, who)
    db = get_session()
    try:
        confirm_receipt(db, snap, actor=who.actor)
    except StatementError as exc:            # no payment recorded yet: nothing is written, the page says why
        db.rollback()
        return _statement_page(snap, who, status=409, errors=field_errors(exc.problems, _))
    db.commit()
    flash(_("Thank you. Your household's confirmation of receipt is recorded."))
    return redirect(url_for(".show", code=snap.code))


@bp.post("/s/<code>/object")
@household_rule(write=True)
def object_to_line(code: str):
    who = viewer()
    snap = statement_or_404(code, who)
    db = get_session()
    form = {"line": request.form.get("line", ""), "text": request.form.get("text", "").strip()}
    try:
        record_objection(db, snap, line=form["line"], text=form["text"], actor=who.actor)
        db.commit()
    except StatementError as exc:
        db.rollback()
        return _statement_page(snap, who, status=422, errors=field_errors(exc.problems, _), form=form)
    flash(_("Your objection is recorded. The accountant will answer it here."))
    return redirect(url_for(".show", code=snap.code, _anchor="objections"))

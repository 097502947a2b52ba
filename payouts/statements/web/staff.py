"""Staff pages of statements: a run's statements and payments, the entity's objections and answers, a
township's open objections for its auditor, and a new PIN for a household."""

from __future__ import annotations

import datetime as dt

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload

from cooperatives.models import Entity, Household, Member
from cooperatives.privacy import mask_phone
from cooperatives.web.access import can_write_entity, current_actor, entity_or_404
from cooperatives.web.display import safe_next
from ledger.clock import china_today
from ledger.errors import field_errors
from ledger.web.support import STAFF, get_session, rule
from payouts.batches.operations import failures_of
from payouts.models import IN_FORCE, Objection, PayoutMember, PayoutRun, StatementSnapshot
from payouts.statements.operations import (
    StatementError,
    answer_objection,
    open_objections,
    record_receipt,
    set_pin,
)
from payouts.statements.web import bp
from payouts.statements.web.support import (
    RECEIPT_METHODS,
    STATEMENTS_PER_PAGE,
    WRITERS,
    parse_amount,
    payment_state,
)


def id_or_404(text: str) -> int:
    """A numeric id from the URL. Ids are plain placeholders, parsed after the access rule has run, so an
    anonymous visitor is sent to sign in and an auditor refused a write whatever the id looks like."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        abort(404)
    return int(text)


def _run_or_404(entity: Entity, run_id: str) -> PayoutRun:
    run = get_session().scalar(select(PayoutRun).options(defer(PayoutRun.input_json), defer(PayoutRun.result_json))
                               .where(PayoutRun.id == id_or_404(run_id), PayoutRun.entity_id == entity.id))
    if run is None:
        abort(404)
    return run


def _run_page(entity: Entity, run: PayoutRun, *, status: int = 200, errors=None, form=None):
    db = get_session()
    total = db.scalar(select(func.count(StatementSnapshot.id)).where(StatementSnapshot.run_id == run.id))
    pages = max(-(-total // STATEMENTS_PER_PAGE), 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    rows = db.execute(
        select(StatementSnapshot.id, StatementSnapshot.code, StatementSnapshot.member_code,
               StatementSnapshot.confirmed_at, PayoutMember.net, PayoutMember.paid, Member)
        .join(PayoutMember, (PayoutMember.run_id == StatementSnapshot.run_id)
              & (PayoutMember.code == StatementSnapshot.member_code))
        .join(Member, Member.id == StatementSnapshot.member_id)
        .options(joinedload(Member.household), joinedload(Member.member_entity))
        .where(StatementSnapshot.run_id == run.id).order_by(Member.member_no)
        .limit(STATEMENTS_PER_PAGE).offset((page - 1) * STATEMENTS_PER_PAGE)).all()
    open_counts = dict(db.execute(
        select(Objection.statement_id, func.count(Objection.id))
        .where(Objection.run_id == run.id, Objection.status == "open").group_by(Objection.statement_id)).all())
    failures = failures_of(db, [r.id for r in rows])      # the bank's reason where the latest batch failed
    statements = [{"code": r.code, "member": r.member_code, "member_no": r.Member.member_no,
                   "name": r.Member.display_name, "net": r.net, "paid": r.paid, "owed": r.net - r.paid,
                   "state": payment_state(r.net, r.paid), "confirmed_at": r.confirmed_at,
                   "open_objections": open_counts.get(r.id, 0), "failure": failures.get(r.id)} for r in rows]
    can_write = can_write_entity(current_user, entity)
    if form is None:
        form = {"date": china_today().isoformat(), "method": "bank"}
        chosen = request.args.get("member")
        if chosen:
            row = db.execute(select(PayoutMember.net, PayoutMember.paid).where(
                PayoutMember.run_id == run.id, PayoutMember.code == chosen)).first()
            if row is not None:
                owed = row.net - row.paid
                form.update(member=chosen, amount=str(owed) if owed > 0 else "")
    return render_template(
        "payouts/statements/run.html", entity=entity, run=run, statements=statements, total=total, page=page,
        pages=pages, can_write=can_write, may_pay=can_write and run.status in IN_FORCE, errors=errors or {},
        form=form, today=china_today().isoformat()), status


@bp.get("/e/<code>/runs/<run_id>/statements")
@rule(*STAFF, scope="entity")
def run_statements(code: str, run_id: str):
    entity = entity_or_404(code)
    return _run_page(entity, _run_or_404(entity, run_id))


def _receipt_form() -> tuple[dict, dict, dict]:
    """(values, shown form, errors) of the receipt form, with messages the accountant can act on."""
    form = {k: request.form.get(k, "").strip() for k in ("member", "amount", "method", "reference", "date")}
    form["signed"] = request.form.get("signed") in ("on", "yes", "1")
    errors: dict[str, list[str]] = {}
    amount = parse_amount(form["amount"])
    if amount is None or amount <= 0:
        errors["amount"] = [_("An amount in yuan greater than zero, such as 1200.00.")]
    if form["method"] not in RECEIPT_METHODS:
        errors["method"] = [_("Choose bank, cash or mobile.")]
    elif form["method"] == "cash" and not form["signed"]:
        errors["signed"] = [_("Cash is paid against the household's signature or thumbprint on the roll: tick "
                              "the box once it is signed.")]
    try:
        on = dt.date.fromisoformat(form["date"])
    except ValueError:
        on = None
        errors["date"] = [_("A date such as 2026-04-01.")]
    if len(form["reference"]) > 100:
        errors["reference"] = [_("At most 100 characters.")]
    return {"amount": amount, "method": form["method"], "on": on, "reference": form["reference"] or None,
            "signed": form["signed"]}, form, errors


@bp.post("/e/<code>/runs/<run_id>/receipts")
@rule(*WRITERS, write=True, scope="entity")
def add_receipt(code: str, run_id: str):
    entity = entity_or_404(code, write=True)
    run = _run_or_404(entity, run_id)
    db = get_session()
    values, form, errors = _receipt_form()
    snap = db.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id,
                                                     StatementSnapshot.member_code == form["member"]))
    if snap is None:
        errors["member"] = [_("No statement of this run has member code %(code)s.", code=form["member"] or "—")]
    if not errors:              # what may be paid (the run, the method, what is still owed): the operation says
        try:
            record_receipt(db, snap, actor=current_actor(), **values)
            db.commit()
        except StatementError as exc:
            db.rollback()
            errors = field_errors(exc.problems, _)
    if errors:
        return _run_page(entity, run, status=422, errors=errors, form=form)
    flash(_("Payment of %(amount)s to %(member)s recorded and posted.", amount=values["amount"], member=snap.member_code))
    return redirect(url_for(".run_statements", code=code, run_id=run.id))


def _objection_rows(objections: list[Objection]) -> list[dict]:
    """Objections with what a reader needs (statement code, member, entity, run) — one query, no lazy loads."""
    if not objections:
        return []
    db = get_session()
    ids = {o.statement_id for o in objections}
    snaps = {s.id: s for s in db.execute(
        select(StatementSnapshot.id, StatementSnapshot.code, StatementSnapshot.member_code, PayoutRun.year,
               Entity.code.label("entity_code"), Entity.name.label("entity_name"))
        .join(PayoutRun, PayoutRun.id == StatementSnapshot.run_id).join(Entity, Entity.id == PayoutRun.entity_id)
        .where(StatementSnapshot.id.in_(ids))).all()}
    return [{"o": o, "s": snaps[o.statement_id]} for o in objections]


def _objections_page(entity: Entity, *, status: int = 200, errors=None, form=None):
    db = get_session()
    runs = db.execute(
        select(PayoutRun.id, PayoutRun.year, PayoutRun.status, func.count(StatementSnapshot.id))
        .join(StatementSnapshot, StatementSnapshot.run_id == PayoutRun.id)
        .where(PayoutRun.entity_id == entity.id).group_by(PayoutRun.id, PayoutRun.year, PayoutRun.status)
        .order_by(PayoutRun.year.desc(), PayoutRun.id.desc())).all()
    base = (select(Objection).join(PayoutRun, PayoutRun.id == Objection.run_id)
            .where(PayoutRun.entity_id == entity.id))
    pending = db.scalars(base.where(Objection.status == "open").order_by(Objection.created_at, Objection.id)).all()
    answered = db.scalars(base.where(Objection.status == "answered")
                          .order_by(Objection.answered_at.desc(), Objection.id.desc()).limit(100)).all()
    return render_template(
        "payouts/statements/objections.html", entity=entity, runs=runs, pending=_objection_rows(pending),
        answered=_objection_rows(answered), can_write=can_write_entity(current_user, entity),
        errors=errors or {}, form=form or {}), status


@bp.get("/e/<code>/objections")
@rule(*STAFF, scope="entity")
def objections(code: str):
    return _objections_page(entity_or_404(code))


@bp.post("/e/<code>/objections/<objection_id>/answer")
@rule(*WRITERS, write=True, scope="entity")
def answer(code: str, objection_id: str):
    entity = entity_or_404(code, write=True)
    db = get_session()
    objection_id = id_or_404(objection_id)
    objection = db.scalar(select(Objection).join(PayoutRun, PayoutRun.id == Objection.run_id)
                          .where(Objection.id == objection_id, PayoutRun.entity_id == entity.id))
    if objection is None:
        abort(404)
    text = request.form.get("answer", "").strip()
    try:
        answer_objection(db, objection, answer=text, actor=current_actor())
        db.commit()
    except StatementError as exc:
        db.rollback()
        return _objections_page(entity, status=422, form={"id": objection_id, "answer": text},
                                errors={objection_id: [exc.problem.text(_)]})
    flash(_("Answer recorded: the household sees it on its statement."))
    return redirect(url_for(".objections", code=code))


@bp.get("/objections")
@rule("auditor", "admin", scope="township")
def township_objections():
    db = get_session()
    entity_ids = None
    if current_user.role == "auditor":
        entity_ids = list(db.scalars(select(Entity.id).where(Entity.township_id == current_user.township_id)))
    return render_template("payouts/statements/township_objections.html",
                           rows=_objection_rows(open_objections(db, entity_ids)))


@bp.post("/e/<code>/households/<hh_code>/pin")
@rule(*WRITERS, write=True, scope="entity")
def new_pin(code: str, hh_code: str):
    entity = entity_or_404(code, write=True)
    db = get_session()
    household = db.scalar(select(Household).join(Member, Member.household_id == Household.id)
                          .where(Member.entity_id == entity.id, Household.code == hh_code))
    if household is None:
        abort(404)
    pin_code = set_pin(db, household, actor=current_actor())
    db.commit()
    response = current_app.make_response(render_template(
        "payouts/statements/new_pin.html", entity=entity, household=household, pin=pin_code,
        phone=mask_phone(household.phone), back=safe_next(request.form.get("next"))))
    response.headers["Cache-Control"] = "no-store"
    return response

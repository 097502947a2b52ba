"""The pages of bank batches: a run's batches with the preview of the next (``/e/<code>/runs/<run_id>/batches``),
one batch with what may be done to it in its state (``/e/<code>/batches/<batch_id>``), and the township's batches
and the failures still owed for its auditor (``/batches``). The accountant writes; the auditor reads the same pages
without the forms. Views load, call an operation, commit once (rollback when refused), redirect."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import quote

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, defer

from cooperatives.models import Entity, User
from cooperatives.privacy import mask_name
from cooperatives.web.access import can_write_entity, current_actor, entity_or_404
from cooperatives.web.idempotency import never_kept
from ledger.clock import china_date, china_minute, china_today
from ledger.errors import Problem, field_errors
from ledger.i18n import as_message
from ledger.web.bounds import page_arg
from ledger.web.support import STAFF, get_session, rule
from payouts.batches.labels import BATCH_STATUS_LABELS, LINE_STATUS_LABELS
from payouts.batches.layouts import LAYOUT_LABELS
from payouts.batches.operations import (
    BatchError,
    apart_reason,
    batch_file,
    batch_title,
    cancel_batch,
    close_batch,
    create_batch,
    mark_sent,
    plan_batch,
    read_results,
    sms_file,
)
from payouts.batches.web import bp
from payouts.models import PayoutBatch, PayoutBatchLine, PayoutMember, PayoutRun, SmsExport, StatementSnapshot

WRITERS = ("admin", "accountant")
LINES_PER_PAGE = 500
#: a refusal for the batch's (or the run's) state rather than for what was sent: 409, not 422
STATE_CODES = {"batch_state", "batch_cancelled", "batch_results_in", "batch_run_not_published",
               "batch_account_changed"}
FORMATS = ("xlsx", "csv")
MAX_RETURN_FILE = 20 * 1024 * 1024


class Refused(Exception):
    """An operation refused: ``errors`` ``{field: [messages]}``, ``problems`` as the operation gave them (a return
    file's sheet, row and column), ``status`` 409 (the state) or 422 (what was sent)."""

    def __init__(self, status: int, errors: dict[str, list[str]], problems: list[Problem] | None = None):
        self.status, self.errors, self.problems = status, errors, problems or []
        super().__init__(errors)


def perform(session: Session, operation, *args, **kwargs):
    """Call ``operation`` and commit; on a :class:`BatchError` roll back and raise :class:`Refused`."""
    try:
        outcome = operation(session, *args, **kwargs)
        session.commit()
    except BatchError as exc:
        session.rollback()
        status = 409 if any(p.code in STATE_CODES for p in exc.problems) else 422
        raise Refused(status, field_errors(exc.problems, _), exc.problems) from None
    return outcome


def number_or_404(text: str | int) -> int:
    """A numeric id from the URL, parsed after the access rule has run."""
    if isinstance(text, int):
        return text
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        abort(404)
    return int(text)


def run_or_404(entity: Entity, run_id: str | int) -> PayoutRun:
    run = get_session().scalar(select(PayoutRun).options(defer(PayoutRun.input_json), defer(PayoutRun.result_json))
                               .where(PayoutRun.id == number_or_404(run_id), PayoutRun.entity_id == entity.id))
    if run is None:
        abort(404)
    return run


def batch_or_404(entity: Entity, batch_id: str | int) -> PayoutBatch:
    batch = get_session().scalar(select(PayoutBatch).where(PayoutBatch.id == number_or_404(batch_id),
                                                           PayoutBatch.entity_id == entity.id))
    if batch is None:
        abort(404)
    return batch


def parse_day(text: str | None) -> tuple[dt.date | None, list[str]]:
    """(the date, errors): empty is today in China."""
    text = (text or "").strip()
    if not text:
        return china_today(), []
    try:
        return dt.date.fromisoformat(text), []
    except ValueError:
        return None, [_("A date such as 2026-04-01.")]


def file_name(entity: Entity, run: PayoutRun, batch: PayoutBatch, suffix: str) -> str:
    """``JGP-TEA-2025-代发第1批.xlsx``: sent with an RFC 5987 ``filename*`` (werkzeug does it for a non-ASCII name)."""
    return f"{entity.code}-{run.year}-代发第{batch.number}批{suffix}"


def send_bytes(data: bytes, name: str, mimetype: str) -> Response:
    """The file as an attachment, its Chinese name in an RFC 5987 ``filename*`` (an ASCII one beside it). A plain
    response, not ``send_file``'s passthrough: the API's idempotency layer keeps a write's answer to replay it."""
    fallback = name.encode("ascii", "ignore").decode() or "file"
    return never_kept(Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"}))


MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8"}


@bp.context_processor
def _template_helpers():
    return {"local_date": lambda moment: "" if moment is None else china_date(moment).isoformat(),
            "local_minute": lambda moment: "" if moment is None else china_minute(moment)}


# ------------------------------------------------------------------------------------------ a run's batches


def run_batches(session: Session, run: PayoutRun) -> list[PayoutBatch]:
    return list(session.scalars(select(PayoutBatch).where(PayoutBatch.run_id == run.id)
                                .order_by(PayoutBatch.number)))


def _run_page(entity: Entity, run: PayoutRun, *, status: int = 200, errors=None, form=None):
    db = get_session()
    plan = plan_batch(db, run) if run.status == "published" else None
    apart = [{"p": p, "reason": apart_reason(p, _)} for p in plan.apart] if plan else []
    return render_template(
        "payouts/batches/run.html", entity=entity, run=run, batches=run_batches(db, run), plan=plan, apart=apart,
        not_corrected=sum(1 for p in (plan.apart if plan else []) if p.reason == "not_corrected"),
        can_write=can_write_entity(current_user, entity), errors=errors or {},
        form=form or {"layout": "generic"}, LAYOUT_LABELS=LAYOUT_LABELS,
        BATCH_STATUS_LABELS=BATCH_STATUS_LABELS), status


@bp.get("/e/<code>/runs/<run_id>/batches")
@rule(*STAFF, scope="entity")
def run_page(code: str, run_id: str):
    entity = entity_or_404(code)
    return _run_page(entity, run_or_404(entity, run_id))


@bp.post("/e/<code>/runs/<run_id>/batches")
@rule(*WRITERS, write=True, scope="entity")
def create(code: str, run_id: str):
    entity = entity_or_404(code, write=True)
    run = run_or_404(entity, run_id)
    form = {"layout": request.form.get("layout", "generic").strip(),
            "retry_uncorrected": request.form.get("retry_uncorrected") in ("on", "yes", "1")}
    try:
        batch = perform(get_session(), create_batch, run, layout=form["layout"],
                        retry_uncorrected=form["retry_uncorrected"], actor=current_actor())
    except Refused as exc:
        return _run_page(entity, run_or_404(entity, run.id), status=exc.status, errors=exc.errors, form=form)
    flash(_("Batch %(number)s made: %(count)s households, %(total)s yuan. Download its file for the bank.",
            number=batch.number, count=batch.count, total=batch.total))
    return redirect(url_for(".show", code=code, batch_id=batch.id))


# ---------------------------------------------------------------------------------------------- a batch


def _batch_page(entity: Entity, batch: PayoutBatch, *, status: int = 200, errors=None, problems=None, form=None):
    db = get_session()
    run = db.get(PayoutRun, batch.run_id)
    page = min(page_arg(), max(-(-batch.count // LINES_PER_PAGE), 1))
    lines = db.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id,
                                                     PayoutBatchLine.seq.is_not(None))
                       .order_by(PayoutBatchLine.seq).limit(LINES_PER_PAGE)
                       .offset((page - 1) * LINES_PER_PAGE)).all()
    failed = db.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id,
                                                      PayoutBatchLine.status == "failed")
                        .order_by(PayoutBatchLine.seq)).all()
    apart = db.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id,
                                                     PayoutBatchLine.seq.is_(None))
                       .order_by(PayoutBatchLine.member_code)).all()
    exports = db.scalars(select(SmsExport).where(SmsExport.batch_id == batch.id)
                         .order_by(SmsExport.created_at.desc(), SmsExport.id.desc())).all()
    by = {e.created_by for e in exports if e.created_by is not None}
    users = dict(db.execute(select(User.id, User.display_name).where(User.id.in_(by))).all()) if by else {}
    today = china_today().isoformat()
    return render_template(
        "payouts/batches/show.html", entity=entity, run=run, batch=batch,
        title=batch_title(entity, run, batch.number), lines=lines, failed=failed,
        apart=[{"line": ln, "reason": apart_reason(ln, _)} for ln in apart], exports=exports, users=users, page=page,
        pages=max(-(-batch.count // LINES_PER_PAGE), 1), can_write=can_write_entity(current_user, entity),
        errors=errors or {}, problems=problems or [], form=form or {}, today=today,
        BATCH_STATUS_LABELS=BATCH_STATUS_LABELS, LINE_STATUS_LABELS=LINE_STATUS_LABELS,
        LAYOUT_LABELS=LAYOUT_LABELS), status


def _refused_page(entity: Entity, batch: PayoutBatch, exc: Refused, form=None):
    located = [p for p in exc.problems if p.sheet is not None]
    errors = exc.errors if not located else field_errors([p for p in exc.problems if p.sheet is None], _)
    rows = [{"sheet": p.sheet, "row": p.row, "column": p.column or "",
             "reason": as_message(p.reason).translate(_)} for p in located]
    return _batch_page(entity, batch_or_404(entity, batch.id), status=exc.status, errors=errors, problems=rows,
                       form=form)


@bp.get("/e/<code>/batches/<batch_id>")
@rule(*STAFF, scope="entity")
def show(code: str, batch_id: str):
    entity = entity_or_404(code)
    return _batch_page(entity, batch_or_404(entity, batch_id))


@bp.post("/e/<code>/batches/<batch_id>/file")
@rule(*WRITERS, write=True, scope="entity")
def download(code: str, batch_id: str):
    entity = entity_or_404(code, write=True)
    batch = batch_or_404(entity, batch_id)
    form = {"format": request.form.get("format", "xlsx").strip(), "reason": request.form.get("reason", "").strip()}
    try:
        data = perform(get_session(), batch_file, batch, fmt=form["format"], reason=form["reason"],
                       actor=current_actor())
    except Refused as exc:
        return _refused_page(entity, batch, exc, form)
    run = get_session().get(PayoutRun, batch.run_id)
    return send_bytes(data, file_name(entity, run, batch, f".{form['format']}"), MIMETYPES[form["format"]])


@bp.post("/e/<code>/batches/<batch_id>/sent")
@rule(*WRITERS, write=True, scope="entity")
def sent(code: str, batch_id: str):
    entity = entity_or_404(code, write=True)
    batch = batch_or_404(entity, batch_id)
    on, problems = parse_day(request.form.get("on"))
    if problems:
        return _batch_page(entity, batch, status=422, errors={"on": problems}, form={"on": request.form.get("on")})
    try:
        perform(get_session(), mark_sent, batch, on=on, actor=current_actor())
    except Refused as exc:
        return _refused_page(entity, batch, exc)
    flash(_("Batch %(number)s marked sent to the bank on %(date)s.", number=batch.number, date=on.isoformat()))
    return redirect(url_for(".show", code=code, batch_id=batch.id))


def uploaded_return_file(missing: str) -> tuple[bytes, str, list[str]]:
    """(the bytes, the file's name, problems) of the upload in field ``file``, read to at most
    :data:`MAX_RETURN_FILE` (a page's form and the API's multipart alike); ``missing`` says what to send."""
    upload = request.files.get("file")
    data = upload.read(MAX_RETURN_FILE + 1) if upload is not None and upload.filename else b""
    if not data:
        return b"", "", [missing]
    if len(data) > MAX_RETURN_FILE:
        return b"", "", [_("The file is larger than %(mb)s MB.", mb=MAX_RETURN_FILE // (1024 * 1024))]
    return data, upload.filename, []


@bp.post("/e/<code>/batches/<batch_id>/results")
@rule(*WRITERS, write=True, scope="entity")
def results(code: str, batch_id: str):
    entity = entity_or_404(code, write=True)
    batch = batch_or_404(entity, batch_id)
    form = {"paid_on": request.form.get("paid_on", "")}
    on, problems = parse_day(form["paid_on"])
    errors = {"paid_on": problems} if problems else {}
    data, name, problems = uploaded_return_file(_("Choose the bank's return file (.xlsx or .csv)."))
    if problems:
        errors["file"] = problems
    if errors:
        return _batch_page(entity, batch, status=422, errors=errors, form=form)
    try:
        outcome = perform(get_session(), read_results, batch, data, name, on=on, actor=current_actor())
    except Refused as exc:
        return _refused_page(entity, batch, exc, form)
    if outcome.already:
        flash(_("This return file was already read: nothing changed."))
    else:
        flash(_("The bank's results are in: %(paid)s paid (%(paid_total)s yuan), %(failed)s failed (%(failed_total)s "
                "yuan).", paid=outcome.paid, paid_total=outcome.paid_total, failed=outcome.failed,
                failed_total=outcome.failed_total))
    return redirect(url_for(".show", code=code, batch_id=batch.id))


@bp.post("/e/<code>/batches/<batch_id>/close")
@rule(*WRITERS, write=True, scope="entity")
def close(code: str, batch_id: str):
    entity = entity_or_404(code, write=True)
    batch = batch_or_404(entity, batch_id)
    try:
        perform(get_session(), close_batch, batch, actor=current_actor())
    except Refused as exc:
        return _refused_page(entity, batch, exc)
    flash(_("Batch %(number)s closed.", number=batch.number))
    return redirect(url_for(".show", code=code, batch_id=batch.id))


@bp.post("/e/<code>/batches/<batch_id>/cancel")
@rule(*WRITERS, write=True, scope="entity")
def cancel(code: str, batch_id: str):
    entity = entity_or_404(code, write=True)
    batch = batch_or_404(entity, batch_id)
    if request.form.get("confirm") not in ("on", "yes", "1"):
        return _batch_page(entity, batch, status=422, errors={"confirm": [
            _("Tick the box to confirm: the bank has not paid this batch and will not pay it.")]})
    try:
        perform(get_session(), cancel_batch, batch, actor=current_actor())
    except Refused as exc:
        return _refused_page(entity, batch, exc)
    flash(_("Batch %(number)s cancelled: its households may go in a new batch.", number=batch.number))
    return redirect(url_for(".show", code=code, batch_id=batch.id))


@bp.post("/e/<code>/batches/<batch_id>/sms")
@rule(*WRITERS, write=True, scope="entity")
def sms(code: str, batch_id: str):
    entity = entity_or_404(code, write=True)
    batch = batch_or_404(entity, batch_id)
    public_url = current_app.extensions["coop.settings"].public_url
    try:
        data, _export = perform(get_session(), sms_file, batch, public_url=public_url, actor=current_actor())
    except Refused as exc:
        return _refused_page(entity, batch, exc)
    run = get_session().get(PayoutRun, batch.run_id)
    return send_bytes(data, file_name(entity, run, batch, "-短信.csv"), MIMETYPES["csv"])


# ----------------------------------------------------------------------------------------- the township


def township_rows(session: Session, entity_ids: list[int] | None) -> tuple[list, list]:
    """(every batch of these entities with its entity and run year, newest first; every failed line still owed —
    its batch the latest to carry it, its member not paid in full since), two queries."""
    scope = [] if entity_ids is None else [PayoutBatch.entity_id.in_(entity_ids)]
    batches = session.execute(
        select(PayoutBatch, Entity.code, Entity.name, PayoutRun.year)
        .join(Entity, Entity.id == PayoutBatch.entity_id).join(PayoutRun, PayoutRun.id == PayoutBatch.run_id)
        .where(*scope).order_by(Entity.code, PayoutBatch.number.desc()).limit(2000)).all()
    later_batch, later_line = aliased(PayoutBatch), aliased(PayoutBatchLine)
    later = exists().where(later_line.statement_id == PayoutBatchLine.statement_id,
                           later_line.seq.is_not(None), later_batch.id == later_line.batch_id,
                           later_batch.status != "cancelled", later_batch.number > PayoutBatch.number)
    failed = session.execute(
        select(PayoutBatchLine.id, PayoutBatchLine.name, PayoutBatchLine.amount, PayoutBatchLine.reason,
               PayoutBatchLine.member_code, PayoutBatch.id.label("batch_id"), PayoutBatch.number,
               Entity.code.label("entity_code"), Entity.name.label("entity_name"))
        .join(PayoutBatch, PayoutBatch.id == PayoutBatchLine.batch_id)
        .join(Entity, Entity.id == PayoutBatch.entity_id)
        .join(StatementSnapshot, StatementSnapshot.id == PayoutBatchLine.statement_id)
        .join(PayoutMember, and_(PayoutMember.run_id == StatementSnapshot.run_id,
                                 PayoutMember.code == StatementSnapshot.member_code))
        .where(*scope, PayoutBatchLine.status == "failed", PayoutBatch.status != "cancelled",
               PayoutMember.paid < PayoutMember.net, ~later)
        .order_by(Entity.code, PayoutBatch.number, PayoutBatchLine.seq).limit(2000)).all()
    return batches, failed


@bp.get("/batches")
@rule("auditor", "admin", scope="township")
def township():
    db = get_session()
    entity_ids = None
    if current_user.role == "auditor":
        entity_ids = list(db.scalars(select(Entity.id).where(Entity.township_id == current_user.township_id)))
    batches, failed = township_rows(db, entity_ids)
    owed = sum((f.amount for f in failed), Decimal("0.00"))
    return render_template("payouts/batches/township.html", batches=batches, failed=failed, owed=owed,
                           mask_name=mask_name, BATCH_STATUS_LABELS=BATCH_STATUS_LABELS)

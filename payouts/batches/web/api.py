"""Bank batches in the JSON API (``/api/v1``, flask-smorest; documented in ``/api/v1/openapi.json``).

* ``GET /runs/<id>/batches`` — the run's batches (summaries), first to last;
* ``POST /runs/<id>/batches`` ``{layout?, retry_uncorrected?}`` — a new batch of what the run still owes (201);
* ``GET /batches/<id>`` — the batch with its lines (masked accounts only) and the households listed apart;
* ``POST /batches/<id>/file`` ``{format, reason}`` — the file for the bank (the bytes; a logged reveal);
* ``POST /batches/<id>/sent`` ``{on?}``, ``…/close``, ``…/cancel`` — the batch's life (its JSON back);
* ``POST /batches/<id>/results`` — the bank's return file as multipart field ``file`` (and ``on``, the day the
  bank paid; today in China by default): the batch's JSON and ``results`` (``already`` when this very file was
  read before: nothing changed);
* ``POST /batches/<id>/sms`` — the texts to households (.csv), recorded in the send log.

Authentication, CSRF exemption and the error shape are those of :mod:`cooperatives.web.api`: a bearer token,
``{"errors": {field: [messages]}}``; 422 for invalid input or a refused return file (each problem with its sheet,
row and column), 409 when the batch's (or the run's) state does not allow the action, 404 outside the token's
scope, 403 for auditors on writes. The write paths are the pages' (:func:`payouts.batches.web.pages.perform`).
"""

from __future__ import annotations

from flask import abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from cooperatives.models import Entity
from cooperatives.web.access import can_read_entity, can_write_entity, current_actor
from cooperatives.web.api import _authenticate, error, errors_doc
from cooperatives.web.idempotency import protect as idempotent_writes
from ledger.db import utc
from ledger.i18n import as_message
from ledger.money import fmt
from ledger.web.support import STAFF, get_session, rule
from payouts.batches.layouts import LAYOUTS
from payouts.batches.operations import (
    apart_reason,
    batch_file,
    batch_title,
    cancel_batch,
    close_batch,
    create_batch,
    mark_sent,
    read_results,
    sms_file,
)
from payouts.batches.web.pages import (
    FORMATS,
    MIMETYPES,
    WRITERS,
    Refused,
    file_name,
    parse_day,
    perform,
    run_batches,
    send_bytes,
    uploaded_return_file,
)
from payouts.models import PayoutBatch, PayoutBatchLine, PayoutRun

blp = Blueprint("batches_api", __name__, url_prefix="/api/v1", description="Bank batches (代发)")
blp.before_request(_authenticate)
blp.before_request(lambda: _scope_first())      # a run or batch out of scope is 404 before its body is read
idempotent_writes(blp)


# --------------------------------------------------------------------------------------------- schemas


class BatchLineSchema(Schema):
    seq = fields.Integer(allow_none=True, metadata={"description": "序号 in the file; null for a line listed apart"})
    member = fields.String()
    name = fields.String(metadata={"description": "户名 as sent to the bank"})
    account = fields.String(allow_none=True, metadata={"description": "masked account number"})
    amount = fields.String(metadata={"description": "yuan, two decimals"})
    status = fields.String(metadata={"description": "pending, paid, failed or apart"})
    reason = fields.String(allow_none=True, metadata={"description": "the bank's reason (failed), or why apart"})
    reason_code = fields.String(allow_none=True, metadata={"description": "apart: the reason's code"})


class BatchSchema(Schema):
    batch = fields.Integer()
    entity = fields.String()
    run = fields.Integer()
    year = fields.Integer()
    number = fields.Integer(metadata={"description": "第 n 批 of the entity"})
    title = fields.String()
    layout = fields.String()
    status = fields.String(metadata={"description": "created, sent, results_in, closed or cancelled"})
    count = fields.Integer()
    total = fields.String()
    paid_count = fields.Integer()
    paid_total = fields.String()
    failed_count = fields.Integer()
    failed_total = fields.String()
    created_at = fields.DateTime()
    sent_on = fields.Date(allow_none=True)
    paid_on = fields.Date(allow_none=True)
    results_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(BatchLineSchema), metadata={"description": "GET /batches/<id> only"})


class CreateSchema(Schema):
    layout = fields.String(load_default="generic", validate=validate.OneOf(sorted(LAYOUTS)))
    retry_uncorrected = fields.Boolean(load_default=False, metadata={
        "description": "also send again the failures whose account was not corrected since"})


class FileSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "why the full account numbers are revealed (audit log)"})


class SentSchema(Schema):
    on = fields.Date(load_default=None, allow_none=True, metadata={"description": "default: today in China"})


class ResultsFileSchema(Schema):
    file = Upload(metadata={"description": "the bank's return file (.xlsx or .csv)"})


# ----------------------------------------------------------------------------------------------- views


def _entity_in_scope(entity_id: int, *, write: bool) -> Entity:
    entity = get_session().get(Entity, entity_id)
    if entity is None or not can_read_entity(current_user, entity):
        abort(404)
    if write and not can_write_entity(current_user, entity):
        abort(403)
    return entity


def _run_in_scope(run_id: int, *, write: bool = False) -> PayoutRun:
    run = get_session().get(PayoutRun, run_id)
    if run is None:
        abort(404)
    _entity_in_scope(run.entity_id, write=write)
    return run


def _batch_in_scope(batch_id: int, *, write: bool = False) -> PayoutBatch:
    batch = get_session().get(PayoutBatch, batch_id)
    if batch is None:
        abort(404)
    _entity_in_scope(batch.entity_id, write=write)
    return batch


def _scope_first() -> None:
    args = request.view_args or {}
    declared = getattr(current_app.view_functions.get(request.endpoint), "access_rule", None)
    write = bool(declared and declared.write)
    if args.get("run_id") is not None:
        _run_in_scope(args["run_id"], write=write)
    if args.get("batch_id") is not None:
        _batch_in_scope(args["batch_id"], write=write)


def batch_json(batch: PayoutBatch, *, lines: bool = False) -> dict:
    session = get_session()
    run = session.get(PayoutRun, batch.run_id)
    entity = session.get(Entity, batch.entity_id)
    out = {"batch": batch.id, "entity": entity.code, "run": run.id, "year": run.year, "number": batch.number,
           "title": batch_title(entity, run, batch.number), "layout": batch.layout, "status": batch.status,
           "count": batch.count, "total": fmt(batch.total), "paid_count": batch.paid_count,
           "paid_total": fmt(batch.paid_total), "failed_count": batch.failed_count,
           "failed_total": fmt(batch.failed_total), "created_at": _iso(utc(batch.created_at)),
           "sent_on": _iso(batch.sent_on), "paid_on": _iso(batch.paid_on), "results_at": _iso(utc(batch.results_at)),
           "closed_at": _iso(utc(batch.closed_at))}
    if lines:
        rows = session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id)
                               .order_by(PayoutBatchLine.seq.is_(None), PayoutBatchLine.seq,
                                         PayoutBatchLine.member_code))
        out["lines"] = [{"seq": ln.seq, "member": ln.member_code, "name": ln.name, "account": ln.account_masked,
                         "amount": fmt(ln.amount), "status": ln.status,
                         "reason": apart_reason(ln, _) if ln.status == "apart" else ln.reason,
                         "reason_code": ln.reason if ln.status == "apart" else None} for ln in rows]
    return out


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def _answer(batch: PayoutBatch, status: int = 200, **extra):
    response = jsonify({**batch_json(batch, lines=True), **extra})
    response.status_code = status
    return response


def _refused(exc: Refused):
    response = error(exc.status, exc.errors)
    located = [p for p in exc.problems if p.sheet is not None]
    if located:
        body = response.get_json()
        body["problems"] = [{"sheet": p.sheet, "row": p.row, "column": p.column or "",
                             "reason": as_message(p.reason).translate(_)} for p in located]
        response = jsonify(body)
        response.status_code = exc.status
    return response


@blp.route("/runs/<id:run_id>/batches", methods=["GET"])
@blp.response(200, BatchSchema(many=True))
@errors_doc(403, 404)
@rule(*STAFF, scope="entity")
def list_batches(run_id: int):
    """The run's bank batches, first to last (without their lines)."""
    run = _run_in_scope(run_id)
    return jsonify([batch_json(b) for b in run_batches(get_session(), run)])


@blp.route("/runs/<id:run_id>/batches", methods=["POST"])
@blp.arguments(CreateSchema)
@blp.response(201, BatchSchema)
@blp.alt_response(409, schema=BatchSchema, description="the run is not published")
@errors_doc(403, 404, 422)
@rule(*WRITERS, write=True, scope="entity")
def create(data: dict, run_id: int):
    """A new batch of every household the run still owes with a valid account; the others listed apart."""
    run = _run_in_scope(run_id, write=True)
    try:
        batch = perform(get_session(), create_batch, run, layout=data["layout"],
                        retry_uncorrected=data["retry_uncorrected"], actor=current_actor())
    except Refused as exc:
        return _refused(exc)
    return _answer(batch, 201)


@blp.route("/batches/<id:batch_id>", methods=["GET"])
@blp.response(200, BatchSchema)
@errors_doc(403, 404)
@rule(*STAFF, scope="entity")
def get_batch(batch_id: int):
    """The batch and its lines (masked accounts), the households listed apart with the reason."""
    return _answer(_batch_in_scope(batch_id))


@blp.route("/batches/<id:batch_id>/file", methods=["POST"])
@blp.arguments(FileSchema)
@blp.alt_response(200, description="the file for the bank (.xlsx or .csv), as an attachment", success=True)
@errors_doc(403, 404, 409, 422)
@rule(*WRITERS, write=True, scope="entity")
def download(data: dict, batch_id: int):
    """The file for the bank: the one place the full account numbers are decrypted (logged with ``reason``)."""
    batch = _batch_in_scope(batch_id, write=True)
    try:
        content = perform(get_session(), batch_file, batch, fmt=data["format"], reason=data["reason"],
                          actor=current_actor())
    except Refused as exc:
        return _refused(exc)
    run = get_session().get(PayoutRun, batch.run_id)
    entity = get_session().get(Entity, batch.entity_id)
    return send_bytes(content, file_name(entity, run, batch, f".{data['format']}"), MIMETYPES[data["format"]])


@blp.route("/batches/<id:batch_id>/sent", methods=["POST"])
@blp.arguments(SentSchema)
@blp.response(200, BatchSchema)
@errors_doc(403, 404, 409, 422)
@rule(*WRITERS, write=True, scope="entity")
def sent(data: dict, batch_id: int):
    """The file was handed to the bank on ``on`` (today in China by default)."""
    batch = _batch_in_scope(batch_id, write=True)
    try:
        perform(get_session(), mark_sent, batch, on=data["on"], actor=current_actor())
    except Refused as exc:
        return _refused(exc)
    return _answer(batch)


@blp.route("/batches/<id:batch_id>/results", methods=["POST"])
@blp.arguments(ResultsFileSchema, location="files")
@blp.response(200, BatchSchema)
@errors_doc(403, 404, 409, 422)
@rule(*WRITERS, write=True, scope="entity")
def results(_files: dict, batch_id: int):
    """Read the bank's return file (multipart ``file``; form field ``on``, the day the bank paid): each success
    paid and posted, each failure kept owed with the bank's reason. All or nothing: a refused file posts nothing
    and lists each problem with its sheet, row and column. The same file again changes nothing."""
    batch = _batch_in_scope(batch_id, write=True)
    on, problems = parse_day(request.form.get("on"))
    errors = {"on": problems} if problems else {}
    content, name, problems = uploaded_return_file(_("Send the bank's return file as multipart field 'file'."))
    if problems:
        errors["file"] = problems
    if errors:
        return error(422, errors)
    try:
        outcome = perform(get_session(), read_results, batch, content, name, on=on, actor=current_actor())
    except Refused as exc:
        return _refused(exc)
    return _answer(batch, results={"paid": outcome.paid, "paid_total": fmt(outcome.paid_total),
                                   "failed": outcome.failed, "failed_total": fmt(outcome.failed_total),
                                   "already": outcome.already})


def _state_route(name: str, operation, doc: str) -> None:
    @rule(*WRITERS, write=True, scope="entity")
    def view(batch_id: int):
        batch = _batch_in_scope(batch_id, write=True)
        try:
            perform(get_session(), operation, batch, actor=current_actor())
        except Refused as exc:
            return _refused(exc)
        return _answer(batch)

    view.__name__ = name
    view.__doc__ = doc
    blp.route(f"/batches/<id:batch_id>/{name}", methods=["POST"], endpoint=name)(
        blp.response(200, BatchSchema)(errors_doc(403, 404, 409)(view)))


_state_route("close", close_batch, "Close a batch whose results are in: its failures stay owed on the run.")
_state_route("cancel", cancel_batch, "Cancel a batch the bank has not paid and will not pay (created or sent).")


@blp.route("/batches/<id:batch_id>/sms", methods=["POST"])
@blp.alt_response(200, description="the texts to households (.csv: phone, text)", success=True)
@errors_doc(403, 404, 409)
@rule(*WRITERS, write=True, scope="entity")
def sms(batch_id: int):
    """A text to each household of the batch with a phone on record (.csv for the township's SMS platform),
    recorded in the batch's send log; the site itself sends nothing."""
    batch = _batch_in_scope(batch_id, write=True)
    try:
        content, _export = perform(get_session(), sms_file, batch,
                                   public_url=current_app.extensions["coop.settings"].public_url,
                                   actor=current_actor())
    except Refused as exc:
        return _refused(exc)
    run = get_session().get(PayoutRun, batch.run_id)
    entity = get_session().get(Entity, batch.entity_id)
    return send_bytes(content, file_name(entity, run, batch, "-短信.csv"), MIMETYPES["csv"])


def init_batches_api(app, csrf) -> None:
    """Register the batches API on the app's flask-smorest Api (created by ``cooperatives.web.api.init_api``)."""
    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    api.register_blueprint(blp)
    csrf.exempt(blp)

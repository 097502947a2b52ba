"""The JSON API under /api/v1 (flask-smorest, OpenAPI at /api/v1/openapi.json).

Scripts authenticate with ``Authorization: Bearer <token>`` (tokens from ``coopledger token issue`` or
``/account/tokens``; a token past its expiry or revoked is refused, its last use noted to the hour);
session cookies are not accepted here, which is why the API needs no CSRF token. Errors are
``{"errors": {field: [messages]}}`` with a 4xx status. Bodies are validated by the import workbook's
rules and written through the same functions as the pages (:mod:`cooperatives.web.writes`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import abort, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Api, Blueprint
from flask_smorest.fields import Upload
from marshmallow import RAISE, Schema, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload
from werkzeug import exceptions as werkzeug_exceptions
from werkzeug.exceptions import HTTPException

from cooperatives.access import Forbidden as OperationForbidden
from cooperatives.imports import job_problems, job_result
from cooperatives.kinds import KINDS, VOIDABLE
from cooperatives.models import ImportJob, Member
from cooperatives.queries import opening_lines, voucher_list
from cooperatives.records import list_records
from cooperatives.schemas import (
    RECORD_INPUT_SCHEMAS,
    DisposedSchema,
    DisposeSchema,
    EntitySchema,
    ErrorSchema,
    ImportArgsSchema,
    ImportJobSchema,
    InUsedSchema,
    InUseSchema,
    MemberInputSchema,
    MemberSchema,
    MeSchema,
    OpeningBodySchema,
    OpeningSchema,
    PageArgsSchema,
    TrialBalanceRowSchema,
    VoidedSchema,
    VoidSchema,
    VoucherBodySchema,
    VoucherPageSchema,
    VoucherSchema,
    YearArgsSchema,
    _raw,
    json_type_errors,
    record_output_schema,
    record_page_schema,
)
from cooperatives.users import note_token_use, token_for
from cooperatives.web.access import (
    check_declared_rule,
    current_actor,
    entity_or_404,
    record_or_404,
    visible_entities,
)
from cooperatives.web.display import MONEY_COLUMNS, PRICE_COLUMNS
from cooperatives.web.idempotency import document as document_idempotency
from cooperatives.web.idempotency import protect as idempotent_writes
from cooperatives.web.writes import (
    Refused,
    dispose,
    enrol,
    parse_member,
    post_opening,
    post_values,
    post_voucher,
    put_in_use,
    start_import,
    void,
)
from ledger.db import utc
from ledger.i18n import N_, msg
from ledger.models import JournalEntry
from ledger.money import fmt
from ledger.queries import trial_balance
from ledger.schema_text import words
from ledger.web.support import ALL_USERS, STAFF, get_session, rule

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="coopledger API")
PAGE = 100
WRITERS = ("admin", "accountant")
HIDDEN_COLUMNS = ("entity_id", "import_id", "member_id", "entry_id", "from_member_id")


#: what each documented error status means (every error body is ``{"errors": {field: [messages]}}``)
ERROR_DOCS = {
    401: "no bearer token, or an unknown, expired or revoked one",
    403: "the token's user may not do this (an auditor writing, a member reading books)",
    404: "no such entity or run, or not in the token's scope",
    409: "the state of the books or of the run does not allow this",
    422: "invalid input: every problem listed by field",
}


class ImportFileSchema(Schema):
    workbook = Upload(metadata={"description": "the .xlsx workbook (or .csv files, one per sheet)"})


def errors_doc(*codes: int):
    """Document the error responses ``codes`` of a view (401 on every one: a token is required)."""
    def decorate(view):
        for code in sorted({401, *codes}, reverse=True):
            view = blp.alt_response(code, schema=ErrorSchema, description=ERROR_DOCS[code])(view)
        return view

    return decorate


def error(status: int, errors: dict):
    response = jsonify({"errors": errors})
    response.status_code = status
    return response


@blp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return error(401, {"auth": [_("a bearer token is required (Authorization: Bearer <token>)")]})
    db = get_session()
    token = token_for(db, header[7:].strip())
    if token is None:
        return error(401, {"auth": [_("unknown, expired or revoked token")]})
    user = token.user
    db.commit()                      # ends the read; the use is noted in a transaction of its own
    if note_token_use(db, token):
        db.commit()
    g._login_user = user
    check_declared_rule(user)        # role, write and entity scope before the body is parsed
    return None


idempotent_writes(blp)      # Idempotency-Key on every write (after authentication: keys are per user)


def _json_value(column: str, value):
    """Amounts as strings with two decimals; unit prices with at least two; other numbers exact."""
    if isinstance(value, Decimal):
        if column in MONEY_COLUMNS:
            return fmt(value)
        if column in PRICE_COLUMNS:
            return fmt(value) if value == value.quantize(Decimal("0.01")) else format(value.normalize(), "f")
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        return utc(value).isoformat()
    return value.isoformat() if hasattr(value, "isoformat") else value


def _dump_record(kind: str, row, vouchers: dict[int, str]) -> dict:
    out = {c: _json_value(c, getattr(row, c)) for c in row.__table__.columns.keys() if c not in HIDDEN_COLUMNS}
    if getattr(row, "member", None) is not None:
        out["member"] = row.member.code
    if "from_member_id" in row.__table__.columns:          # (a share register row: who the shares came from)
        out["from_member"] = row.from_member.code if row.from_member is not None else None
    out["entry_id"] = row.entry_id
    out["voucher"] = vouchers.get(row.entry_id)
    out["kind"] = kind
    return out


def _vouchers(session, rows) -> dict[int, str]:
    ids = [r.entry_id for r in rows if r.entry_id]
    if not ids:
        return {}
    return {e.id: e.voucher for e in session.scalars(select(JournalEntry).where(JournalEntry.id.in_(ids)))}


@blp.route("/entities")
@blp.response(200, EntitySchema(many=True))
@errors_doc(403)
@rule(*STAFF, scope="any")
def list_entities():
    """Entities the token's user may see."""
    return visible_entities(current_user)


@blp.route("/entities/<code>")
@blp.response(200, EntitySchema)
@errors_doc(403, 404)
@rule(*STAFF, scope="entity")
def get_entity(code: str):
    return entity_or_404(code)


@blp.route("/entities/<code>/members", methods=["GET"])
@blp.response(200, MemberSchema(many=True))
@errors_doc(403, 404)
@rule(*STAFF, scope="entity")
def list_members(code: str):
    entity = entity_or_404(code)
    return get_session().scalars(
        select(Member).options(joinedload(Member.household), joinedload(Member.member_entity))
        .where(Member.entity_id == entity.id).order_by(Member.member_no)).all()


class MemberBodySchema(MemberInputSchema):
    """A household and its membership, validated by the import rules of the households and members sheets."""

    def load(self, data, *, many=None, partial=None, unknown=None, **kwargs):  # noqa: D102
        if not isinstance(data, dict):
            raise ValidationError({"_schema": [msg(N_("expected a JSON object"))]})
        errors = json_type_errors(self, data)           # JSON types, lengths, choices, unknown fields
        raw = _raw(data, self.fields, skip=errors)
        for field, messages in parse_member(raw)[1].items():
            errors.setdefault(field, messages)
        if errors:
            raise ValidationError(errors)
        return raw


@blp.route("/entities/<code>/members", methods=["POST"])
@blp.arguments(MemberBodySchema)
@blp.response(201, MemberSchema)
@errors_doc(403, 404, 422)
@rule(*WRITERS, write=True, scope="entity")
def create_member(data, code: str):
    """Register a household (unless already registered in this township) and make it a member."""
    entity = entity_or_404(code, write=True)
    try:
        return enrol(get_session(), entity, data, actor=current_actor())
    except Refused as exc:
        abort(error(422, exc.errors))


def _opening_json(entity) -> dict:
    voucher, lines = opening_lines(get_session(), entity)
    return {"entity": entity.code, "books_start": entity.books_start, "voucher": voucher, "lines": [
        {**line, "debit": fmt(line["debit"]) if line["debit"] else None,
         "credit": fmt(line["credit"]) if line["credit"] else None} for line in lines]}


@blp.route("/entities/<code>/opening", methods=["GET"])
@blp.response(200, OpeningSchema)
@errors_doc(403, 404)
@rule(*STAFF, scope="entity")
def get_opening(code: str):
    """The opening balances (期初余额) of an entity's books: empty lines until they are posted."""
    return _opening_json(entity_or_404(code))


@blp.route("/entities/<code>/opening", methods=["POST"])
@blp.arguments(OpeningBodySchema)
@blp.alt_response(201, schema=OpeningSchema, success=True)
@errors_doc(403, 404, 422)
@rule(*WRITERS, write=True, scope="entity")
def create_opening(data: dict, code: str):
    """Post the opening balances (期初余额) of an entity's books: one voucher dated the day before the books
    start, by account and by member; only while the book has no entry, once; they must balance."""
    entity = entity_or_404(code, write=True)
    try:
        post_opening(get_session(), entity, list(enumerate(data["lines"], 1)), actor=current_actor())
    except Refused as exc:
        abort(error(422, exc.errors))
    return OpeningSchema().dump(_opening_json(entity)), 201


def _record_routes(kind: str) -> None:
    schema = RECORD_INPUT_SCHEMAS[kind]
    model = KINDS[kind].model

    @rule(*STAFF, scope="entity")
    def list_view(args: dict, code: str):
        entity = entity_or_404(code)
        page = args["page"]
        session = get_session()
        stmt = select(model).where(model.entity_id == entity.id)
        if hasattr(model, "member"):
            stmt = stmt.options(joinedload(model.member))
        if hasattr(model, "from_member"):
            stmt = stmt.options(joinedload(model.from_member))
        rows = session.scalars(stmt.order_by(model.id).limit(PAGE).offset((page - 1) * PAGE)).all()
        total = session.scalar(select(func.count(model.id)).where(model.entity_id == entity.id))
        vouchers = _vouchers(session, rows)
        return {"records": [_dump_record(kind, r, vouchers) for r in rows], "page": page, "total": total}

    @rule(*WRITERS, write=True, scope="entity")
    def create_view(data, code: str):
        entity = entity_or_404(code, write=True)
        session = get_session()
        try:
            row = post_values(session, entity, kind, data, actor=current_actor())
        except Refused as exc:
            abort(error(422, exc.errors))
        return _dump_record(kind, row, _vouchers(session, [row])), 201

    list_view.__name__, create_view.__name__ = f"list_{kind}", f"create_{kind}"
    list_view.__doc__ = f"List {kind} records of an entity ({PAGE} per page, ``?page=``)."
    create_view.__doc__ = f"Record one {kind} entry and post it to the ledger."
    blp.route(f"/entities/<code>/{kind}", methods=["GET"], endpoint=f"list_{kind}")(
        blp.arguments(PageArgsSchema, location="query", unknown=RAISE)(
            blp.alt_response(200, schema=record_page_schema(kind, model), success=True)(
                errors_doc(403, 404, 422)(list_view))))
    blp.route(f"/entities/<code>/{kind}", methods=["POST"], endpoint=f"create_{kind}")(
        blp.arguments(schema)(blp.alt_response(201, schema=record_output_schema(kind, model), success=True)(
            errors_doc(403, 404, 422)(create_view))))


def _void_route(kind: str) -> None:
    @rule(*WRITERS, write=True, scope="record")
    def void_view(data, record_id: int):
        entity, _row = record_or_404(kind, record_id, write=True)
        session = get_session()
        try:
            void(session, entity, kind, record_id, data["reason"], actor=current_actor())
        except Refused as exc:
            abort(error(422, exc.errors))
        [row] = list_records(session, entity, kind, record_id=record_id)
        return {"entity": entity.code, "kind": kind, **row}

    void_view.record_kind = kind
    void_view.__name__ = f"void_{kind}"
    void_view.__doc__ = (f"Void one {kind} record (红字冲销): the exact reversal of what it posted, dated the record's "
                         "own date; the record is kept, marked voided with who, when and why.")
    blp.route(f"/{kind}/<id:record_id>/void", methods=["POST"], endpoint=f"void_{kind}")(
        blp.arguments(VoidSchema)(blp.alt_response(200, schema=VoidedSchema, success=True)(
            errors_doc(403, 404, 422)(void_view))))


@blp.route("/assets/<id:record_id>/dispose", methods=["POST"], endpoint="dispose_asset")
@rule(*WRITERS, write=True, scope="record")
@blp.arguments(DisposeSchema)
@blp.alt_response(200, schema=DisposedSchema, success=True)
@errors_doc(403, 404, 422)
def dispose_view(data, record_id: int):
    """Dispose of a fixed asset (固定资产清理): its depreciation through the month of disposal, its net book value to
    固定资产清理, the proceeds less that value to other income or other costs."""
    entity, asset = record_or_404("assets", record_id, write=True)
    session = get_session()
    try:
        ids = dispose(session, entity, record_id, data, actor=current_actor())
    except Refused as exc:
        abort(error(422, exc.errors))
    entries = session.scalars(select(JournalEntry).where(JournalEntry.id.in_(ids)).order_by(JournalEntry.id))
    return {"entity": entity.code, "id": asset.id, "code": asset.code, "disposed_on": asset.disposed_on.isoformat(),
            "proceeds": fmt(asset.disposal_proceeds), "entries": [e.voucher for e in entries]}


dispose_view.record_kind = "assets"


@blp.route("/assets/<id:record_id>/in-use", methods=["POST"], endpoint="asset_in_use")
@rule(*WRITERS, write=True, scope="record")
@blp.arguments(InUseSchema)
@blp.alt_response(200, schema=InUsedSchema, success=True)
@errors_doc(403, 404, 422)
def in_use_view(data, record_id: int):
    """An asset recorded under construction (在建工程) comes into use: Dr 151 / Cr 153 on that date, depreciated
    from the month after."""
    entity, asset = record_or_404("assets", record_id, write=True)
    session = get_session()
    try:
        entry_id = put_in_use(session, entity, record_id, data, actor=current_actor())
    except Refused as exc:
        abort(error(422, exc.errors))
    return {"entity": entity.code, "id": asset.id, "code": asset.code, "in_use_on": asset.in_use_on.isoformat(),
            "entry": session.get(JournalEntry, entry_id).voucher}


in_use_view.record_kind = "assets"

for _kind in RECORD_INPUT_SCHEMAS:
    _record_routes(_kind)
for _kind in VOIDABLE:
    _void_route(_kind)


def _voucher_json(entity, voucher: dict) -> dict:
    return {"entity": entity.code, **voucher, "lines": [
        {**line, "debit": fmt(line["debit"]) if line["debit"] else None,
         "credit": fmt(line["credit"]) if line["credit"] else None} for line in voucher["lines"]]}


@blp.route("/entities/<code>/vouchers", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
@blp.response(200, VoucherPageSchema)
@errors_doc(403, 404, 422)
@rule(*STAFF, scope="entity")
def list_vouchers(args: dict, code: str):
    """The vouchers typed as such (记账凭证) of an entity, newest first, with their lines (``?page=``)."""
    entity = entity_or_404(code)
    vouchers, total = voucher_list(get_session(), entity, limit=PAGE, offset=(args["page"] - 1) * PAGE)
    return {"vouchers": [_voucher_json(entity, v) for v in vouchers], "page": args["page"], "total": total}


@blp.route("/entities/<code>/vouchers", methods=["POST"])
@blp.arguments(VoucherBodySchema)
@blp.alt_response(201, schema=VoucherSchema, success=True)
@errors_doc(403, 404, 422)
@rule(*WRITERS, write=True, scope="entity")
def create_voucher(data: dict, code: str):
    """Post a voucher (记账凭证): any balanced entry on the entity's chart, by account and member, with its memo
    (摘要) and attachments (附件张数); who made it (制单) is kept. Voided, never edited."""
    entity = entity_or_404(code, write=True)
    session = get_session()
    head = {f: data.get(f) for f in ("date", "memo", "attachments")}
    try:
        voucher = post_voucher(session, entity, head, list(enumerate(data["lines"], 1)), actor=current_actor())
    except Refused as exc:
        abort(error(422, exc.errors))
    [row] = voucher_list(session, entity, voucher_id=voucher.id)[0]
    return VoucherSchema().dump(_voucher_json(entity, row)), 201


@blp.route("/entities/<code>/trial-balance")
@blp.arguments(YearArgsSchema, location="query", unknown=RAISE)
@blp.response(200, TrialBalanceRowSchema(many=True))
@errors_doc(403, 404, 422)
@rule(*STAFF, scope="entity")
def get_trial_balance(args: dict, code: str):
    """Trial balance of the entity, all time or ``?year=``."""
    entity = entity_or_404(code)
    year = args.get("year")
    return trial_balance(get_session(), entity.book.holding(year) if year is not None else entity.book, year)


def _job_json(entity, job) -> dict:
    """An import job as the API shows it: its state, and once finished what it imported or every problem
    (``errors.workbook``, in the reader's language)."""
    problems, total = job_problems(job)
    out = {"job": job.id, "entity": entity.code, "status": job.state(), "dry_run": job.dry_run,
           "url": url_for("api.get_import", code=entity.code, job_id=job.id)}
    result = job_result(job)
    if result is not None:
        out.update({"import": result["import"], "counts": result["counts"], "vouchers": result["vouchers"]})
    if problems:
        out["errors"] = {"workbook": [p.text(_) for p in problems]}
        out["problems"] = total
    return out


@blp.route("/entities/<code>/imports", methods=["POST"])
@blp.arguments(ImportArgsSchema, location="query", unknown=RAISE)
@blp.arguments(ImportFileSchema, location="files")
@blp.alt_response(202, schema=ImportJobSchema, success=True,
                  description="accepted: the workbook is imported by a job; GET its url until the status is done or failed")
@errors_doc(403, 404, 422)
@rule(*WRITERS, write=True, scope="entity")
def create_import(args: dict, _files: dict, code: str):
    """Import an .xlsx workbook (or .csv files) sent as multipart field ``workbook``; ``?dry_run=1`` checks
    only. The import runs as a job: the answer (202) gives its url to poll."""
    entity = entity_or_404(code, write=True)
    files = [f for f in request.files.getlist("workbook") if f.filename]
    if not files:
        return error(422, {"workbook": [_("Send the .xlsx file as multipart field 'workbook'.")]})
    job = start_import(get_session(), entity, files, actor=current_actor(), dry_run=args.get("dry_run") == "1")
    job = get_session().get(ImportJob, job.id)
    response = jsonify(_job_json(entity, job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_import", code=entity.code, job_id=job.id)
    return response


@blp.route("/entities/<code>/imports/<id:job_id>")
@blp.alt_response(200, schema=ImportJobSchema, success=True)
@errors_doc(403, 404)
@rule(*STAFF, scope="entity")
def get_import(code: str, job_id: int):
    """An import job: queued, reading, writing, then done (what was imported) or failed (every problem)."""
    entity = entity_or_404(code)
    job = get_session().scalar(select(ImportJob).options(defer(ImportJob.upload))
                               .where(ImportJob.id == job_id, ImportJob.entity_id == entity.id))
    if job is None:
        abort(error(404, {"_schema": [_("There is no such import.")]}))
    return _job_json(entity, job)


@blp.route("/me")
@blp.alt_response(200, schema=MeSchema, success=True)
@errors_doc()
@rule(*ALL_USERS, scope="any")
def me():
    """Who the token belongs to."""
    return {"username": current_user.username, "role": current_user.role}


def init_api(app, csrf) -> None:
    api = CoopApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    document_idempotency(api)           # the Idempotency-Key header on every write operation
    api.register_blueprint(blp)
    csrf.exempt(blp)
    for status in (400, 401, 403, 404, 405, 409, 413, 422, 429):
        app.register_error_handler(status, _json_or_page)
    app.register_error_handler(OperationForbidden, _operation_forbidden)


def _operation_forbidden(exc: OperationForbidden):
    """An operation's own rule refused the actor (``cooperatives.access``): the route's checks let the request
    through, the operation did not. Nothing was written (the request's session is rolled back at its end);
    the answer is the same 403 as a route's."""
    get_session().rollback()
    return _json_or_page(werkzeug_exceptions.Forbidden())


class CoopApi(Api):
    """flask-smorest's Api with this API's error shape, documented and answered for every status."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):     # statuses without a handler of their own
        return _json_or_page(error)


def _flatten(messages) -> dict[str, list[str]]:
    """webargs' ``{location: {field: [messages]}}`` (or ``{location: [messages]}``) as ``{field: [messages]}``,
    each message in the reader's language (``ledger.schema_text.words``)."""
    flat: dict[str, list[str]] = {}
    for location in messages.values():
        items = location.items() if isinstance(location, dict) else [("_schema", location)]
        for field, msgs in items:
            _walk(flat, str(field), msgs)
    return flat


def _walk(flat: dict[str, list[str]], key: str, msgs) -> None:
    """Nested messages (a list's items, a nested object's fields) under dotted keys: ``lines.2.debit`` — a
    list's items numbered from 1, as people count lines."""
    if isinstance(msgs, dict):
        for k, inner in msgs.items():
            _walk(flat, f"{key}.{k + 1 if isinstance(k, int) else k}", inner)
        return
    flat.setdefault(key, []).extend(words(m, _) for m in (msgs if isinstance(msgs, list) else [msgs]))


PAGE_ERRORS = {
    400: (N_("Bad request"),
          N_("The form could not be accepted (it may have expired). Go back, reload the page and try again.")),
    401: (N_("Please sign in"), N_("Sign in to see this page.")),
    403: (N_("Not allowed"), N_("Your account may not do this.")),
    404: (N_("Not found"), N_("There is no such page, or it is not yours to see.")),
    405: (N_("Not allowed"), N_("This page cannot be used that way.")),
    409: (N_("Conflict"), N_("This was done already.")),
    413: (N_("File too large"), N_("The file is too large to upload.")),
    422: (N_("Please check the input"), N_("Some values are not right.")),
    429: (N_("Too many attempts"), N_("Too many attempts. Please wait a minute and try again.")),
}


def _json_or_page(exc: HTTPException):
    if request.path.startswith("/api/"):
        messages = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
        if messages:
            return error(exc.code, _flatten(messages))
        return error(exc.code, {"_schema": [exc.description or exc.name]})
    title, message = PAGE_ERRORS.get(exc.code, (exc.name, exc.description or ""))
    response = exc.get_response()
    response.set_data(render_template("error.html", code=exc.code, title=_(title), message=_(message)))
    response.content_type = "text/html; charset=utf-8"
    return response


__all__ = ["init_api", "ValidationError"]

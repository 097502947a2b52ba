"""The JSON API under /api/v1 (flask-smorest, OpenAPI at /api/v1/openapi.json).

Scripts authenticate with ``Authorization: Bearer <token>`` (tokens from ``coopledger`` or the admin);
session cookies are not accepted here, which is why the API needs no CSRF token. Errors are
``{"errors": {field: [messages]}}`` with a 4xx status.
"""

from __future__ import annotations

from flask import abort, g, jsonify, request
from flask_login import current_user
from flask_smorest import Api, Blueprint
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from cooperatives.importer import ImportRefused, import_workbook
from cooperatives.models import LandContract, Member
from cooperatives.operations import (
    RECORD_MODELS,
    RecordError,
    ensure_village,
    record,
    record_land_contract,
    register_household,
    register_member,
)
from cooperatives.schemas import (
    RECORD_INPUT_SCHEMAS,
    EntitySchema,
    MemberInputSchema,
    MemberSchema,
    TrialBalanceRowSchema,
)
from cooperatives.users import user_for_token
from cooperatives.web.access import entity_or_404, visible_entities
from cooperatives.workbook import WorkbookError, read_workbook
from ledger.errors import LedgerError
from ledger.money import fmt
from ledger.queries import trial_balance
from ledger.web.support import ALL_USERS, STAFF, get_session, rule

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="coopledger API")
PAGE = 100


def error(status: int, errors: dict):
    response = jsonify({"errors": errors})
    response.status_code = status
    return response


@blp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return error(401, {"auth": ["a bearer token is required (Authorization: Bearer <token>)"]})
    user = user_for_token(get_session(), header[7:].strip())
    if user is None:
        return error(401, {"auth": ["unknown or revoked token"]})
    g._login_user = user
    return None


def _dump_record(kind: str, row) -> dict:
    out = {}
    for column in row.__table__.columns.keys():
        if column in ("entity_id", "import_id", "member_id", "entry_id"):
            continue
        value = getattr(row, column)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif value.__class__.__name__ == "Decimal":
            value = fmt(value) if column in ("amount", "rate", "base_rent_per_mu") else str(value.normalize())
        out[column] = value
    if getattr(row, "member", None) is not None:
        out["member"] = row.member.code
    out["entry_id"] = row.entry_id if kind != "land" else None
    out["kind"] = kind
    return out


@blp.route("/entities")
@blp.response(200, EntitySchema(many=True))
@rule(*STAFF, scope="any")
def list_entities():
    """Entities the token's user may see."""
    return visible_entities(current_user)


@blp.route("/entities/<code>")
@blp.response(200, EntitySchema)
@rule(*STAFF, scope="entity")
def get_entity(code: str):
    return entity_or_404(code)


@blp.route("/entities/<code>/members", methods=["GET"])
@blp.response(200, MemberSchema(many=True))
@rule(*STAFF, scope="entity")
def list_members(code: str):
    entity = entity_or_404(code)
    return get_session().scalars(select(Member).where(Member.entity_id == entity.id).order_by(Member.member_no)).all()


@blp.route("/entities/<code>/members", methods=["POST"])
@blp.arguments(MemberInputSchema)
@blp.response(201, MemberSchema)
@rule("admin", "accountant", write=True, scope="entity")
def create_member(data, code: str):
    entity = entity_or_404(code, write=True)
    session = get_session()
    try:
        village = ensure_village(session, entity.township, data["village"])
        from cooperatives.models import Household

        if session.scalar(select(Household.id).where(Household.code == data["code"])) is None:
            register_household(session, code=data["code"], head_name=data["head_name"], village=village,
                               phone=data.get("phone"), id_number=data.get("id_number"),
                               bank_account=data.get("bank_account"), monitoring=data.get("monitoring") or "none",
                               actor_id=current_user.id)
        member = register_member(session, entity, code=data["code"], member_no=data["member_no"],
                                 joined_on=data["joined_on"], left_on=data.get("left_on"),
                                 farmer=data.get("farmer", True), actor_id=current_user.id)
        session.commit()
    except RecordError as exc:
        session.rollback()
        abort(error(422, {exc.field: [str(exc)]}))
    except IntegrityError:
        session.rollback()
        abort(error(409, {"member_no": ["member number or household already registered"]}))
    return member


def _record_routes(kind: str) -> None:
    schema = RECORD_INPUT_SCHEMAS[kind]
    model = LandContract if kind == "land" else RECORD_MODELS[kind]

    @rule(*STAFF, scope="entity")
    def list_view(code: str):
        entity = entity_or_404(code)
        page = max(request.args.get("page", 1, type=int), 1)
        session = get_session()
        rows = session.scalars(select(model).where(model.entity_id == entity.id).order_by(model.id)
                               .limit(PAGE).offset((page - 1) * PAGE)).all()
        total = session.scalar(select(func.count(model.id)).where(model.entity_id == entity.id))
        return {"records": [_dump_record(kind, r) for r in rows], "page": page, "total": total}

    @rule("admin", "accountant", write=True, scope="entity")
    def create_view(data, code: str):
        entity = entity_or_404(code, write=True)
        session = get_session()
        try:
            row = (record_land_contract(session, entity, data, actor_id=current_user.id) if kind == "land"
                   else record(session, entity, kind, data, actor_id=current_user.id))
            session.commit()
        except RecordError as exc:
            session.rollback()
            abort(error(422, {exc.field: [str(exc)]}))
        except (LedgerError, IntegrityError) as exc:
            session.rollback()
            abort(error(409, {"_schema": [str(exc).splitlines()[0]]}))
        return _dump_record(kind, row), 201

    list_view.__name__, create_view.__name__ = f"list_{kind}", f"create_{kind}"
    list_view.__doc__ = f"List {kind} records of an entity (100 per page)."
    create_view.__doc__ = f"Record one {kind} entry and post it to the ledger."
    blp.route(f"/entities/<code>/{kind}", methods=["GET"], endpoint=f"list_{kind}")(list_view)
    blp.route(f"/entities/<code>/{kind}", methods=["POST"], endpoint=f"create_{kind}")(
        blp.arguments(schema)(create_view))


for _kind in RECORD_INPUT_SCHEMAS:
    _record_routes(_kind)


@blp.route("/entities/<code>/trial-balance")
@blp.response(200, TrialBalanceRowSchema(many=True))
@rule(*STAFF, scope="entity")
def get_trial_balance(code: str):
    """Trial balance of the entity, all time or ``?year=``."""
    entity = entity_or_404(code)
    return trial_balance(get_session(), entity.book, request.args.get("year", type=int))


@blp.route("/entities/<code>/imports", methods=["POST"])
@rule("admin", "accountant", write=True, scope="entity")
def create_import(code: str):
    """Import an .xlsx workbook sent as multipart field ``workbook``; ``?dry_run=1`` checks only."""
    import tempfile
    from pathlib import Path

    entity = entity_or_404(code, write=True)
    upload = request.files.get("workbook")
    if upload is None:
        return error(422, {"workbook": ["send the .xlsx file as multipart field 'workbook'"]})
    session = get_session()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.xlsx"
        upload.save(path)
        try:
            result = import_workbook(session, read_workbook(path), entity_code=entity.code,
                                     actor_id=current_user.id, dry_run=request.args.get("dry_run") == "1")
        except WorkbookError as exc:
            session.rollback()
            return error(422, {"workbook": [str(p) for p in exc.problems]})
        except ImportRefused as exc:
            session.rollback()
            return error(409, {"workbook": [str(exc)]})
    if result.dry_run:
        session.rollback()
    else:
        session.commit()
    return {"entity": result.entity_code, "import": result.import_id, "counts": result.counts,
            "vouchers": result.entries, "dry_run": result.dry_run}, (200 if result.dry_run else 201)


@blp.route("/me")
@rule(*ALL_USERS, scope="any")
def me():
    """Who the token belongs to."""
    return {"username": current_user.username, "role": current_user.role}


def init_api(app, csrf) -> None:
    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    api.register_blueprint(blp)
    csrf.exempt(blp)

    @app.errorhandler(422)
    @app.errorhandler(400)
    def _validation_error(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        messages = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
        if messages:
            flat: dict[str, list[str]] = {}
            for location in messages.values():
                for field, msgs in location.items():
                    flat.setdefault(field, []).extend(msgs if isinstance(msgs, list) else [str(msgs)])
            return error(exc.code, flat)
        return error(exc.code, {"_schema": [exc.description or exc.name]})

    for status in (401, 403, 404, 405, 409, 413):
        app.register_error_handler(status, _json_or_page)


def _json_or_page(exc: HTTPException):
    if request.path.startswith("/api/"):
        return error(exc.code, {"_schema": [exc.description or exc.name]})
    return exc


__all__ = ["init_api", "ValidationError"]

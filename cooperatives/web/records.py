"""Entity pages for the accountant (and, read-only, the auditor): overview, members, every record kind,
and workbook upload. Views load, parse, call an operation, commit once, redirect."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from cooperatives.forms import parse_form
from cooperatives.importer import ImportRefused, import_workbook
from cooperatives.labels import COLUMN_LABELS, RECORD_LABELS
from cooperatives.models import ENTITY_KINDS, MONITORING, Household, LandContract, Member
from cooperatives.operations import (
    RECORD_MODELS,
    RecordError,
    ensure_village,
    record,
    record_land_contract,
    register_household,
    register_member,
)
from cooperatives.queries import entity_summary, member_account
from cooperatives.web.access import can_write_entity, entity_or_404
from cooperatives.workbook import SHEETS, WorkbookError, read_workbook
from ledger.errors import LedgerError
from ledger.web.support import STAFF, get_session, rule

bp = Blueprint("entities", __name__, url_prefix="/e/<code>")
RECORD_KINDS = ("capital", "land", "labor", "deliveries", "inputs", "sales", "expenses", "subsidies", "advances",
                "payments", "income")
PAGE = 50


@bp.context_processor
def _labels():
    return {"RECORD_KINDS": RECORD_KINDS, "RECORD_LABELS": RECORD_LABELS, "COLUMN_LABELS": COLUMN_LABELS,
            "ENTITY_KINDS": ENTITY_KINDS, "MONITORING": MONITORING}


def _page(entity, template, **context):
    return render_template(template, entity=entity, can_write=can_write_entity(current_user, entity), **context)


@bp.get("/")
@rule(*STAFF, scope="entity")
def show(code: str):
    entity = entity_or_404(code)
    return _page(entity, "cooperatives/entity.html", summary=entity_summary(get_session(), entity))


@bp.get("/members")
@rule(*STAFF, scope="entity")
def members(code: str):
    entity = entity_or_404(code)
    rows = get_session().scalars(select(Member).options(joinedload(Member.household).joinedload(Household.village),
                                                        joinedload(Member.member_entity))
                                 .where(Member.entity_id == entity.id).order_by(Member.member_no)).all()
    return _page(entity, "cooperatives/members.html", members=rows, errors={}, form={})


@bp.post("/members")
@rule("admin", "accountant", write=True, scope="entity")
def add_member(code: str):
    entity = entity_or_404(code, write=True)
    session = get_session()
    values, problems = parse_form("households", request.form)
    member_values, member_problems = parse_form("members", {**request.form, "member": request.form.get("code", "")})
    errors = _errors(problems + member_problems)
    if not errors:
        try:
            village = ensure_village(session, entity.township, values["village"])
            if session.scalar(select(Household.id).where(Household.code == values["code"])) is None:
                register_household(session, village=village, actor_id=current_user.id,
                                   **{k: values[k] for k in ("code", "head_name", "phone", "id_number", "bank_account",
                                                             "monitoring", "poverty_exited")})
            register_member(session, entity, code=values["code"], member_no=member_values["member_no"],
                            joined_on=member_values["joined_on"], left_on=member_values["left_on"],
                            farmer=member_values["farmer"], actor_id=current_user.id)
            session.commit()
            flash(_("Member %(code)s registered.", code=values["code"]))
            return redirect(url_for(".members", code=code))
        except (RecordError, LedgerError) as exc:
            session.rollback()
            errors = {getattr(exc, "field", "code"): [str(exc)]}
        except Exception as exc:  # an integrity error: member no. or code taken
            from sqlalchemy.exc import IntegrityError

            if not isinstance(exc, IntegrityError):
                raise
            session.rollback()
            errors = {"member_no": [_("This member number or household is already registered.")]}
    rows = session.scalars(select(Member).where(Member.entity_id == entity.id).order_by(Member.member_no)).all()
    return _page(entity, "cooperatives/members.html", members=rows, errors=errors, form=request.form), 422


@bp.get("/members/<member_code>")
@rule(*STAFF, scope="entity")
def member(code: str, member_code: str):
    entity = entity_or_404(code)
    account = member_account(get_session(), entity, member_code)
    if account is None:
        abort(404)
    return _page(entity, "cooperatives/member.html", account=account)


def _errors(problems) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for p in problems:
        errors.setdefault(p.column, []).append(p.reason)
    return errors


def _records_page(entity, kind, *, errors=None, form=None, status=200):
    model = LandContract if kind == "land" else RECORD_MODELS[kind]
    session = get_session()
    page = max(request.args.get("page", 1, type=int), 1)
    stmt = select(model).where(model.entity_id == entity.id)
    if hasattr(model, "member"):
        stmt = stmt.options(joinedload(model.member))
    order = model.start_on if kind == "land" else model.date
    rows = session.scalars(stmt.order_by(order.desc(), model.id.desc()).limit(PAGE).offset((page - 1) * PAGE)).all()
    total = session.scalar(select(func.count(model.id)).where(model.entity_id == entity.id))
    columns = [c for c in SHEETS[kind].columns]
    return _page(entity, "cooperatives/records.html", kind=kind, rows=rows, columns=columns, page=page,
                 pages=max((total + PAGE - 1) // PAGE, 1), total=total, errors=errors or {},
                 form=form or {}), status


@bp.get("/records/<kind>")
@rule(*STAFF, scope="entity")
def records(code: str, kind: str):
    if kind not in RECORD_KINDS:
        abort(404)
    return _records_page(entity_or_404(code), kind)


@bp.post("/records/<kind>")
@rule("admin", "accountant", write=True, scope="entity")
def add_record(code: str, kind: str):
    if kind not in RECORD_KINDS:
        abort(404)
    entity = entity_or_404(code, write=True)
    session = get_session()
    values, problems = parse_form(kind, request.form)
    if problems:
        return _records_page(entity, kind, errors=_errors(problems), form=request.form, status=422)
    try:
        if kind == "land":
            record_land_contract(session, entity, values, actor_id=current_user.id)
        else:
            record(session, entity, kind, values, actor_id=current_user.id)
        session.commit()
    except RecordError as exc:
        session.rollback()
        return _records_page(entity, kind, errors={exc.field: [str(exc)]}, form=request.form, status=422)
    except LedgerError as exc:
        session.rollback()
        return _records_page(entity, kind, errors={"date": [str(exc)]}, form=request.form, status=422)
    flash(_("Recorded and posted to the ledger."))
    return redirect(url_for(".records", code=code, kind=kind))


@bp.route("/import", methods=["GET", "POST"], endpoint="import_workbook")
@rule("admin", "accountant", write=True, scope="entity")
def import_workbook_page(code: str):
    entity = entity_or_404(code, write=True)
    if request.method == "GET":
        return _page(entity, "cooperatives/import.html", problems=None, result=None)
    upload = request.files.get("workbook")
    if upload is None or not upload.filename:
        return _page(entity, "cooperatives/import.html", problems=[_("Choose a file to upload.")], result=None), 422
    session = get_session()
    dry_run = request.form.get("dry_run") == "1"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("upload.xlsx" if upload.filename.lower().endswith(".xlsx") else Path(upload.filename).name)
        upload.save(path)
        try:
            result = import_workbook(session, read_workbook(path), entity_code=entity.code,
                                     actor_id=current_user.id, dry_run=dry_run)
        except WorkbookError as exc:
            session.rollback()
            return _page(entity, "cooperatives/import.html", problems=[str(p) for p in exc.problems], result=None), 422
        except ImportRefused as exc:
            session.rollback()
            return _page(entity, "cooperatives/import.html", problems=[str(exc)], result=None), 409
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return _page(entity, "cooperatives/import.html", problems=None, result=result)


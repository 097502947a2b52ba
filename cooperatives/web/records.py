"""Entity pages for the accountant (and, read-only, the auditor): overview, members, every record kind,
and workbook upload. Views load, parse, call an operation, commit once, redirect."""

from __future__ import annotations

from io import BytesIO

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload

from cooperatives.imports import JOB_STATUSES, RUNNING, job_problems, job_result
from cooperatives.kinds import KINDS, VOIDABLE
from cooperatives.models import FixedAsset, Household, ImportJob, Member
from cooperatives.monitoring import periods_in_force
from cooperatives.operations import RecordError, correct_account
from cooperatives.queries import entity_summary, member_account, opening_lines, share_register, voucher_list
from cooperatives.schemas import DisposeSchema, InUseSchema
from cooperatives.web import display
from cooperatives.web.access import can_write_entity, current_actor, entity_or_404
from cooperatives.web.audit import china_time
from cooperatives.web.writes import (
    Refused,
    dispose,
    enrol,
    post_opening_form,
    post_record,
    post_voucher_form,
    put_in_use,
    start_import,
    void,
)
from ledger.clock import china_today
from ledger.errors import field_errors
from ledger.i18n import N_, as_message
from ledger.models import JournalEntry
from ledger.queries import book_has_entries
from ledger.web.bounds import page_arg
from ledger.web.support import STAFF, get_session, rule

bp = Blueprint("entities", __name__, url_prefix="/e/<code>")
bp.record_once(lambda state: display.init_app(state.app))
PAGE = 50
MAX_PROBLEMS_SHOWN = 500
RECENT_IMPORTS = 10
WRITERS = ("admin", "accountant")


def _page(entity, template, status=200, **context):
    return render_template(template, entity=entity, can_write=can_write_entity(current_user, entity),
                           **context), status


def _model(kind: str):
    if kind not in KINDS:
        abort(404)
    return KINDS[kind].model


@bp.get("/")
@rule(*STAFF, scope="entity")
def show(code: str):
    entity = entity_or_404(code)
    return _page(entity, "cooperatives/entity.html", summary=entity_summary(get_session(), entity))


# ----------------------------------------------------------------------------------------------- members


def _monitored_now(household_ids) -> set[int]:
    """Those of ``household_ids`` on the county's monitoring list today (China's date): the members pages mark them
    discreetly, with no category (these pages are the entity's staff's only — never a member's or the public's)."""
    ids = [h for h in household_ids if h is not None]
    return set(periods_in_force(get_session(), ids, china_today())) if ids else set()


def _members_page(entity, *, errors=None, form=None, status=200):
    rows = get_session().scalars(
        select(Member).options(joinedload(Member.household).joinedload(Household.village),
                               joinedload(Member.member_entity))
        .where(Member.entity_id == entity.id).order_by(Member.member_no)).all()
    return _page(entity, "cooperatives/members.html", status, members=rows, fields=display.member_fields(),
                 errors=errors or {}, form=form or {}, monitored=_monitored_now(m.household_id for m in rows))


@bp.get("/members")
@rule(*STAFF, scope="entity")
def members(code: str):
    return _members_page(entity_or_404(code))


@bp.post("/members")
@rule(*WRITERS, write=True, scope="entity")
def add_member(code: str):
    entity = entity_or_404(code, write=True)
    try:
        member = enrol(get_session(), entity, request.form, actor=current_actor())
    except Refused as exc:
        return _members_page(entity, errors=exc.errors, form=display.shown_form(request.form), status=422)
    flash(_("Member %(code)s registered.", code=member.code))
    return redirect(url_for(".members", code=code))


@bp.get("/members/<member_code>")
@rule(*STAFF, scope="entity")
def member(code: str, member_code: str):
    return _member_page(entity_or_404(code), member_code)


def _member_page(entity, member_code: str, *, status: int = 200, errors=None, form=None):
    account = member_account(get_session(), entity, member_code)
    if account is None:
        abort(404)
    return _page(entity, "cooperatives/member.html", status, account=account, errors=errors or {}, form=form or {},
                 monitored=_monitored_now([account.member.household_id]))


@bp.post("/members/<member_code>/account")
@rule(*WRITERS, write=True, scope="entity")
def correct_bank_account(code: str, member_code: str):
    """Correct the bank account (and the head's name as the bank knows it) after the bank returned a payment."""
    entity = entity_or_404(code, write=True)
    db = get_session()
    member = db.scalar(select(Member).where(Member.entity_id == entity.id, Member.code == member_code))
    if member is None:
        abort(404)
    form = {"bank_account": request.form.get("bank_account", "").strip(),
            "head_name": request.form.get("head_name", "").strip()}
    try:
        correct_account(db, entity, member, bank_account=form["bank_account"], head_name=form["head_name"] or None,
                        actor=current_actor())
        db.commit()
    except RecordError as exc:
        db.rollback()
        return _member_page(entity, member_code, status=422, errors=field_errors(exc.problems, _),
                            form={"head_name": form["head_name"]})
    flash(_("Bank account of %(member)s corrected: the next bank batch pays it.", member=member_code))
    return redirect(url_for(".member", code=code, member_code=member_code))


# ----------------------------------------------------------------------------------------------- records


def _records_page(entity, kind, *, errors=None, form=None, status=200):
    model, session = _model(kind), get_session()
    page = page_arg()
    stmt = select(model).where(model.entity_id == entity.id)
    if hasattr(model, "member"):
        stmt = stmt.options(joinedload(model.member).joinedload(Member.household))
    if hasattr(model, "from_member"):
        stmt = stmt.options(joinedload(model.from_member).joinedload(Member.household))
    order = model.start_on if kind == "land" else model.date
    rows = session.scalars(stmt.order_by(order.desc(), model.id.desc()).limit(PAGE).offset((page - 1) * PAGE)).all()
    total = session.scalar(select(func.count(model.id)).where(model.entity_id == entity.id))
    entry_ids = [r.entry_id for r in rows if r.entry_id]
    vouchers = {e.id: e.voucher for e in session.scalars(
        select(JournalEntry).where(JournalEntry.id.in_(entry_ids)))} if entry_ids else {}
    fields = display.record_fields(kind)
    return _page(entity, "cooperatives/records.html", status, kind=kind, rows=rows, vouchers=vouchers,
                 lookups=_lookups(session, entity, {f.name for f in fields}), LOOKUP_FIELDS=LOOKUP_FIELDS,
                 fields=fields, columns=[f for f in fields if f.name not in display.FORM_ONLY], page=page,
                 pages=max((total + PAGE - 1) // PAGE, 1), total=total, errors=errors or {}, form=form or {},
                 today=china_today(), register=share_register(session, entity) if kind == "shares" else None)


#: form fields offered a list to pick from (<datalist>): the entity's members, the products it already trades
LOOKUP_FIELDS = {"member": "members", "from_member": "members", "product": "products"}


def _lookups(session, entity, names: set[str]) -> dict[str, list[tuple[str, str]]]:
    """The <datalist> choices of a record form: ``{"members": [(code, name)], "products": [(name, "")]}`` for the
    fields it has — one query each, whatever the number of members or records (a typed value not in the list is
    still accepted, and checked as any other)."""
    from cooperatives.models import Delivery, Entity, Sale, StockCount

    wanted = {LOOKUP_FIELDS[n] for n in names if n in LOOKUP_FIELDS}
    found: dict[str, list[tuple[str, str]]] = {}
    if "members" in wanted:
        member_entity = Entity.__table__.alias("member_entity")
        found["members"] = [(code, head or name or "") for code, head, name in session.execute(
            select(Member.code, Household.head_name, member_entity.c.name)
            .outerjoin(Household, Household.id == Member.household_id)
            .outerjoin(member_entity, member_entity.c.id == Member.member_entity_id)
            .where(Member.entity_id == entity.id).order_by(Member.member_no))]
    if "products" in wanted:
        used = (select(Delivery.product.label("product")).where(Delivery.entity_id == entity.id)
                .union(select(Sale.product).where(Sale.entity_id == entity.id),
                       select(StockCount.product).where(StockCount.entity_id == entity.id))).subquery()
        found["products"] = [(name, "") for name in session.scalars(select(used.c.product).order_by(used.c.product))]
    return found


@bp.get("/records/<kind>")
@rule(*STAFF, scope="entity")
def records(code: str, kind: str):
    return _records_page(entity_or_404(code), kind)


@bp.post("/records/<kind>")
@rule(*WRITERS, write=True, scope="entity")
def add_record(code: str, kind: str):
    entity = entity_or_404(code, write=True)
    _model(kind)
    try:
        post_record(get_session(), entity, kind, request.form, actor=current_actor())
    except Refused as exc:
        return _records_page(entity, kind, errors=exc.errors, form=display.shown_form(request.form), status=422)
    flash(_("Recorded and posted to the ledger.") if KINDS[kind].posts or kind == "land" else
          _("Recorded in the register (nothing is posted)."))
    return redirect(url_for(".records", code=code, kind=kind))


@bp.post("/records/<kind>/<id:record_id>/void")
@rule(*WRITERS, write=True, scope="entity")
def void_record(code: str, kind: str, record_id: int):
    entity = entity_or_404(code, write=True)
    if kind not in VOIDABLE:
        abort(404)
    row = get_session().get(VOIDABLE[kind], record_id)
    if row is None or row.entity_id != entity.id:
        abort(404)                          # another tenant's record is as absent as a missing one
    back = url_for(".vouchers", code=code) if kind == "journal" else url_for(".records", code=code, kind=kind)
    try:
        void(get_session(), entity, kind, record_id, request.form.get("reason"), actor=current_actor())
    except Refused as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(back)
    flash(_("Record %(id)s voided; its reversal is posted.", id=record_id))
    return redirect(back)


#: the disposal form's fields, as its labels name them
#: the fields of the forms on an asset's row, as their labels name them
ASSET_FORM_LABELS = {"date": N_("Date"), "proceeds": N_("Proceeds (yuan)"), "method": N_("Received by")}


def _on_asset(code: str, record_id: int, schema, act, done) -> Response:
    """A form on an asset's row: load it with ``schema`` (blank fields left out), ``act(session, entity, id,
    values)`` (one of :mod:`cooperatives.web.writes`, which commits), flash ``done(asset)`` or every problem, and go
    back to the assets page. Another entity's asset is as absent as a missing one."""
    entity = entity_or_404(code, write=True)
    row = get_session().get(FixedAsset, record_id)
    if row is None or row.entity_id != entity.id:
        abort(404)
    try:
        values = schema().load({k: v for k, v in request.form.items() if k in schema().fields and v != ""})
        act(get_session(), entity, record_id, values, actor=current_actor())
    except ValidationError as exc:
        for field, messages in exc.normalized_messages().items():
            for message in messages:
                flash(f"{_(ASSET_FORM_LABELS.get(field, field))}: {as_message(message).translate(_)}", "error")
    except Refused as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
    else:
        flash(done(row))
    return redirect(url_for(".records", code=code, kind="assets"))


@bp.post("/records/assets/<id:record_id>/dispose")
@rule(*WRITERS, write=True, scope="entity")
def dispose_asset(code: str, record_id: int):
    """Dispose of a fixed asset (固定资产清理) from its row: :func:`cooperatives.operations.dispose_asset`."""
    return _on_asset(code, record_id, DisposeSchema, dispose, lambda row: _(
        "Asset %(code)s disposed of; its depreciation, 清理 and result are posted.", code=row.code))


@bp.post("/records/assets/<id:record_id>/in-use")
@rule(*WRITERS, write=True, scope="entity")
def asset_in_use(code: str, record_id: int):
    """An asset under construction comes into use, from its row: :func:`cooperatives.operations.put_asset_in_use`."""
    return _on_asset(code, record_id, InUseSchema, put_in_use, lambda row: _(
        "Asset %(code)s is in use; it is depreciated from next month.", code=row.code))


# ------------------------------------------------------------------------------------------ vouchers (记账凭证)

#: lines the voucher form offers (more: the workbook's ``journal`` sheet)
VOUCHER_FORM_LINES = 8
VOUCHERS_PER_PAGE = 50


def _vouchers_page(entity, status=200, *, errors=None, typed=None, head=None):
    from ledger.chart import CHARTS

    page = page_arg()
    vouchers, total = voucher_list(get_session(), entity, limit=VOUCHERS_PER_PAGE,
                                   offset=(page - 1) * VOUCHERS_PER_PAGE)
    accounts = [(s.code, s.name) for s in CHARTS[entity.chart] if s.postable]
    return _page(entity, "cooperatives/vouchers.html", status, vouchers=vouchers, total=total, page=page,
                 pages=max(1, -(-total // VOUCHERS_PER_PAGE)), accounts=accounts, errors=errors or {},
                 rows=typed or [{}] * VOUCHER_FORM_LINES, head=head or {}, china_time=china_time)


@bp.get("/vouchers")
@rule(*STAFF, scope="entity")
def vouchers(code: str):
    return _vouchers_page(entity_or_404(code))


@bp.post("/vouchers")
@rule(*WRITERS, write=True, scope="entity")
def post_voucher_page(code: str):
    entity = entity_or_404(code, write=True)
    columns = ("account", "member", "debit", "credit")
    typed = [{c: request.form.get(f"lines-{n}-{c}", "") for c in columns} for n in range(1, VOUCHER_FORM_LINES + 1)]
    head = {f: request.form.get(f, "") for f in ("date", "memo", "attachments")}
    try:
        voucher = post_voucher_form(get_session(), entity, head, typed, actor=current_actor())
    except Refused as exc:
        return _vouchers_page(entity, 422, errors=exc.errors, typed=typed, head=head)
    flash(_("Voucher %(id)s is posted.", id=get_session().get(JournalEntry, voucher.entry_id).voucher))
    return redirect(url_for(".vouchers", code=code))


# ------------------------------------------------------------------------------------------------ import


@bp.route("/import", methods=["GET", "POST"], endpoint="import_workbook")
@rule(*WRITERS, write=True, scope="entity")
def import_workbook_page(code: str):
    entity = entity_or_404(code, write=True)
    if request.method == "GET":
        return _import_page(entity)
    files = [f for f in request.files.getlist("workbook") if f.filename]
    if not files:
        return _import_page(entity, 422, error=_("Choose a file to upload."))
    job = start_import(get_session(), entity, files, actor=current_actor(), dry_run=request.form.get("dry_run") == "1")
    return redirect(url_for(".import_job", code=code, job_id=job.id))


@bp.get("/import/template.xlsx")
@rule(*WRITERS, scope="entity")
def import_template(code: str):
    """The import template (导入模板) for this entity: every sheet, Chinese headers, validations, the column notes
    (in the reader's language) and example rows (:mod:`cooperatives.template`)."""
    from cooperatives.template import EntityFacts, build_template

    entity, session = entity_or_404(code), get_session()
    last_no = session.scalar(select(func.max(Member.member_no)).where(Member.entity_id == entity.id)) or 0
    facts = EntityFacts(entity.code, entity.name, entity.kind, entity.township.name,
                        entity.village.name if entity.village else None, entity.credit_code, entity.books_start,
                        has_entries=book_has_entries(session, entity.book_id), next_member_no=last_no + 1)
    return send_file(BytesIO(build_template(_, facts)), as_attachment=True, download_name=f"导入模板-{entity.code}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _import_page(entity, status=200, *, error=None):
    jobs = get_session().scalars(select(ImportJob).options(defer(ImportJob.upload))
                                 .where(ImportJob.entity_id == entity.id)
                                 .order_by(ImportJob.id.desc()).limit(RECENT_IMPORTS)).all()
    settings = current_app.extensions["coop.settings"]
    limits = {"rows": f"{settings.import_max_rows:,}", "mib": settings.import_max_unzipped_mb,
              "upload": current_app.config["MAX_CONTENT_LENGTH"] // (1 << 20)}
    return _page(entity, "cooperatives/import.html", status, jobs=jobs, error=error, JOB_STATUSES=JOB_STATUSES,
                 limits=limits, china_time=china_time)


@bp.get("/imports/<id:job_id>")
@rule(*STAFF, scope="entity")
def import_job(code: str, job_id: int):
    """An import's progress, then what it imported or every problem (in the reader's language); the page
    refreshes itself while the job runs (a meta refresh: no JavaScript)."""
    entity = entity_or_404(code)
    job = get_session().scalar(select(ImportJob).options(defer(ImportJob.upload))
                               .where(ImportJob.id == job_id, ImportJob.entity_id == entity.id))
    if job is None:
        abort(404)
    problems, total = job_problems(job)
    shown = [p.text(_) for p in problems[:MAX_PROBLEMS_SHOWN]]
    return _page(entity, "cooperatives/import_job.html", job=job, result=job_result(job), problems=shown,
                 more=total - len(shown), refresh=job.state() in RUNNING, JOB_STATUSES=JOB_STATUSES)


# ----------------------------------------------------------------------------------------- opening balances

#: blank lines the opening-balances form offers (more: the workbook's ``opening`` sheet)
OPENING_FORM_LINES = 20


def _opening_page(entity, status=200, *, errors=None, typed=None):
    session = get_session()
    voucher, lines = opening_lines(session, entity)
    has_entries = voucher is not None or book_has_entries(session, entity.book_id)
    rows = typed or [{}] * OPENING_FORM_LINES
    return _page(entity, "cooperatives/opening.html", status, voucher=voucher, lines=lines, has_entries=has_entries,
                 errors=errors or {}, rows=rows)


@bp.get("/opening")
@rule(*STAFF, scope="entity")
def opening(code: str):
    return _opening_page(entity_or_404(code))


@bp.post("/opening")
@rule(*WRITERS, write=True, scope="entity")
def post_opening_page(code: str):
    entity = entity_or_404(code, write=True)
    columns = ("account", "member", "debit", "credit", "note")
    typed = [{c: request.form.get(f"lines-{n}-{c}", "") for c in columns} for n in range(1, OPENING_FORM_LINES + 1)]
    try:
        post_opening_form(get_session(), entity, typed, actor=current_actor())
    except Refused as exc:
        return _opening_page(entity, 422, errors=exc.errors, typed=typed)
    flash(_("The opening balances are posted."))
    return redirect(url_for(".opening", code=code))

"""Statements on the web: the household's phone pages, the public verification page, and the staff pages.

Households (DESIGN §7, INTERFACES §6):

* ``/my`` — the household's statements, newest first, paid or not, notice period;
* ``/s/<code>`` — one statement (the stored snapshot, rendered in the page's language), paid status,
  the notice period, the PDF (``/s/<code>.pdf``), "I received it", and an objection to one line while
  the notice period is open; ``/s/pin`` lets a household in by phone number + PIN.

A household reaches a statement as the household's member user, or through phone number + PIN (the
household id is then kept in the signed session), and only once the run is published. Staff who may read
the entity see every statement of a posted run, read only. Anyone else gets 404 — the same answer as for
a code that does not exist — so codes and households leak nothing.

``/verify/<code>`` (public, no sign-in) says whether a printed statement or notice list matches the
ledger and whether its run is still in force, reversed, or superseded; it shows no more than the paper
notice list does (entity, year, masked name, net).

Staff: the statements of a run with payments (receipts), the entity's objections and their answers, a
township's open objections for its auditor, and a new PIN for a household. Pages use no JavaScript; the
household pages stay well under 50 KB.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_url
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import defer, joinedload

from cooperatives.models import Entity, Household, Member
from cooperatives.privacy import mask_phone
from cooperatives.web.access import can_read_entity, can_write_entity, entity_or_404
from cooperatives.web.auth import limiter
from cooperatives.web.display import safe_next
from ledger.i18n import N_
from ledger.money import D, to_fen
from ledger.web.support import PUBLIC, STAFF, Rule, get_session, rule
from payouts.models import IN_FORCE, Objection, PayoutMember, PayoutRun, Receipt, StatementSnapshot
from payouts.statements.cache import RenderedCache, statement_bodies
from payouts.statements.operations import (
    StatementError,
    answer_objection,
    confirm_receipt,
    household_by_phone_and_pin,
    in_notice_period,
    open_objections,
    paid_so_far,
    record_objection,
    record_receipt,
    set_pin,
    verify_code,
)
from payouts.statements.render import POOL_LABELS, html_to_pdf, render_statement_body, render_statement_html

bp = Blueprint("statements", __name__)
WRITERS = ("admin", "accountant")
#: a household sees the statements of these runs; staff also see posted (not yet published) and reversed ones
HOUSEHOLD_STATUSES = ("published", "paid")
STAFF_STATUSES = ("posted", "published", "paid", "reversed")
#: the Flask session key holding the household that entered its phone number and PIN
PIN_KEY = "pin_household"
#: a phone + PIN visit lasts this long (a shared phone does not stay open on a household's pages for days)
PIN_SESSION_SECONDS = 8 * 3600
#: failed PIN attempts, per client address and per phone number (a 6-digit PIN must not be guessable)
PIN_LIMIT = "10 per minute;50 per hour"
PIN_PHONE_LIMIT = "20 per day"
VERIFY_LIMIT = "60 per minute"
OBJECTION_MAX = 500
STATEMENTS_PER_PAGE = 100
RECEIPT_METHODS = {"bank": N_("bank transfer"), "cash": N_("cash (signed or thumb-printed roll)"),
                   "mobile": N_("mobile payment")}
STATUS_LABELS = {"posted": N_("posted, not yet published"), "published": N_("published"), "paid": N_("paid out"),
                 "reversed": N_("reversed")}
LINE_LABELS = {"deductions": N_("Deductions"), "total": N_("Total payable"), "contributed": N_("What we contributed")}
_CODE_CHARS = re.compile(r"[^0-9A-Z]")
#: dates of confirmations and answers are shown as the villager's calendar day (China has one time zone)
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


# ------------------------------------------------------------------------------------------------ helpers


def normal_code(text: str) -> str:
    """A verification code as printed (``ABCD-EFGH-JKMN``) from what was typed: any case, spaces or none."""
    raw = _CODE_CHARS.sub("", unicodedata.normalize("NFKC", text or "").upper())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


def parse_amount(text: str) -> Decimal | None:
    """A yuan amount typed from paper (``3,500.00``, ``￥3500``, ``３５００元``), or None if it is not one."""
    cleaned = unicodedata.normalize("NFKC", text or "").replace(" ", "").strip("¥￥元")
    if not cleaned:
        return None
    try:
        amount = D(cleaned)
        to_fen(amount)
    except (ValueError, ArithmeticError):
        return None
    return amount if amount >= 0 else None


def _locale() -> str:
    return str(get_locale() or "zh_Hans_CN")


def _verify_url(code: str) -> str:
    return f"{current_app.extensions['coop.settings'].public_url}/verify/{code}"


def pool_label(name: str) -> str:
    """The name of a distribution line in the page's language (the statement's own labels)."""
    if name in LINE_LABELS:
        return _(LINE_LABELS[name])
    lang = "zh" if _locale().startswith("zh") else "en"
    return POOL_LABELS[lang].get(name, POOL_LABELS["en"].get(name, name))


def local_date(moment: dt.datetime | None) -> str:
    """The calendar day in China of a stored moment (UTC; naive on SQLite)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(CHINA).date().isoformat()


@bp.context_processor
def _template_helpers():
    return {"pool_label": pool_label, "local_date": local_date, "RECEIPT_METHODS": RECEIPT_METHODS,
            "STATEMENT_STATUS": STATUS_LABELS}


def pin_household_id() -> int | None:
    """The household whose phone number and PIN this browser entered (within the last few hours), if any."""
    value = session.get(PIN_KEY)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        return None
    household_id, since = value
    return household_id if 0 <= _now() - since < PIN_SESSION_SECONDS else None


def _now() -> float:
    return time.time()


def _refuse_staff() -> None:
    """Households write here (PIN, confirm, object); staff never do so on a household's behalf."""
    if current_user.is_authenticated and current_user.role in STAFF:
        abort(403)


def household_rule(*, write: bool = False):
    """Declare a household page: the household's member user, a phone + PIN session, or (read only)
    staff of the entity. Anyone else is sent to sign in; *which* household is checked by the view,
    with :func:`statement_or_404`."""
    roles = frozenset({"anonymous", "member", *STAFF})

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated and pin_household_id() is None:
                return redirect(login_url("auth.login", next_url=request.full_path.rstrip("?")))
            if write:
                _refuse_staff()
            return view(*args, **kwargs)

        wrapped.access_rule = Rule(roles, write, "household")
        return wrapped

    return decorate


@dataclass(frozen=True)
class Viewer:
    household_id: int | None      # the household this visitor acts for (member user or PIN); None for staff
    staff: bool
    actor_id: int | None


def viewer() -> Viewer:
    if current_user.is_authenticated:
        if current_user.role == "member":
            return Viewer(current_user.household_id, False, current_user.id)
        return Viewer(None, True, current_user.id)
    return Viewer(pin_household_id(), False, None)


def statement_or_404(code: str, who: Viewer) -> StatementSnapshot:
    """The statement printed with ``code`` if ``who`` may read it; else 404 (as for an unknown code)."""
    snap = get_session().scalar(
        select(StatementSnapshot)
        .options(joinedload(StatementSnapshot.run).options(defer(PayoutRun.input_json), defer(PayoutRun.result_json),
                                                           joinedload(PayoutRun.entity)))
        .where(StatementSnapshot.code == normal_code(code)))
    if snap is None:
        abort(404)
    run = snap.run
    if who.staff:
        if not can_read_entity(current_user, run.entity) or run.status not in STAFF_STATUSES:
            abort(404)
    elif who.household_id is None or snap.household_id != who.household_id or run.status not in HOUSEHOLD_STATUSES:
        abort(404)
    return snap


def _paid(snap: StatementSnapshot) -> Decimal:
    paid = get_session().scalar(select(PayoutMember.paid).where(PayoutMember.run_id == snap.run_id,
                                                                PayoutMember.code == snap.member_code))
    return paid if paid is not None else paid_so_far(get_session(), snap)


def payment_state(net: Decimal, paid: Decimal) -> str:
    """``paid``, ``partly``, ``unpaid`` or ``nothing`` (all of it went to deductions)."""
    if net <= 0:
        return "nothing"
    if paid >= net:
        return "paid"
    return "partly" if paid > 0 else "unpaid"


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
    rows = db.execute(
        select(StatementSnapshot.code, StatementSnapshot.confirmed_at, PayoutRun.year, PayoutRun.status,
               PayoutRun.notice_until, Entity.name, PayoutMember.net, PayoutMember.paid)
        .join(PayoutRun, PayoutRun.id == StatementSnapshot.run_id)
        .join(Entity, Entity.id == PayoutRun.entity_id)
        .join(PayoutMember, (PayoutMember.run_id == StatementSnapshot.run_id)
              & (PayoutMember.code == StatementSnapshot.member_code))
        .where(StatementSnapshot.household_id == household.id, PayoutRun.status.in_(HOUSEHOLD_STATUSES))
        .order_by(PayoutRun.year.desc(), PayoutRun.id.desc())).all()
    today = dt.date.today()
    statements = [{"code": r.code, "entity": r.name, "year": r.year, "net": r.net, "paid": r.paid,
                   "state": payment_state(r.net, r.paid), "confirmed": r.confirmed_at is not None,
                   "notice_until": r.notice_until,
                   "notice_open": r.status == "published" and r.notice_until is not None and today <= r.notice_until}
                  for r in rows]
    memberships = db.scalars(select(Member).options(joinedload(Member.entity))
                             .where(Member.household_id == household.id).order_by(Member.joined_on)).all()
    return render_template("payouts/statements/mine.html", household=household, statements=statements,
                           memberships=memberships, by_pin=not current_user.is_authenticated)


def _statement_page(snap: StatementSnapshot, who: Viewer, *, status: int = 200, errors=None, form=None):
    db = get_session()
    run, data = snap.run, snap.content
    net = Decimal(data["net"])
    paid = _paid(snap)
    receipts = db.scalars(select(Receipt).where(Receipt.statement_id == snap.id).order_by(Receipt.date, Receipt.id)).all()
    objections = db.scalars(select(Objection).where(Objection.statement_id == snap.id)
                            .order_by(Objection.created_at, Objection.id)).all()
    lines = [ln["pool"] for ln in data["lines"]]
    if data["deductions"]:
        lines.append("deductions")
    lines += ["total", "contributed"]
    household = None
    if who.staff and snap.household_id is not None and can_write_entity(current_user, run.entity):
        household = db.get(Household, snap.household_id)
    locale, verify_url = _locale(), _verify_url(snap.code)
    body = Markup(statement_bodies.get((snap.digest, locale, verify_url), lambda: render_statement_body(
        data, locale=locale, verify_url=verify_url)))
    return render_template(
        "payouts/statements/show.html", snap=snap, run=run, data=data, body=body, net=net, paid=paid,
        state=payment_state(net, paid), receipts=receipts, objections=objections, lines=lines,
        notice_open=in_notice_period(run), staff=who.staff, household=household,
        household_phone=mask_phone(household.phone) if household is not None else None,
        errors=errors or {}, form=form or {}, OBJECTION_MAX=OBJECTION_MAX), status


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
                                 func.count(Objection.answered_at), func.max(Objection.answered_at)))
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
    return (*row, in_notice_period(row), _locale(), request.full_path, user)      # the row has status, notice_until


@bp.get("/s/<code>.pdf")
@household_rule()
def pdf(code: str):
    snap = statement_or_404(code, viewer())
    data = snap.content
    html = render_statement_html(data, locale=_locale(), verify_url=_verify_url(snap.code))
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
    confirm_receipt(db, snap, actor_id=who.actor_id)
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
    errors: dict[str, list[str]] = {}
    if not in_notice_period(snap.run):
        errors["_schema"] = [_("Objections are taken during the notice period only. Please speak to the "
                               "cooperative's accountant.")]
    if not form["text"] or len(form["text"]) > OBJECTION_MAX:
        errors["text"] = [_("Write what is wrong in a few words (at most %(n)s characters).", n=OBJECTION_MAX)]
    if not errors:
        try:
            record_objection(db, snap, line=form["line"], text=form["text"], actor_id=who.actor_id)
            db.commit()
        except StatementError:
            db.rollback()
            errors["line"] = [_("Choose the line of the statement you object to.")]
    if errors:
        return _statement_page(snap, who, status=422, errors=errors, form=form)
    flash(_("Your objection is recorded. The accountant will answer it here."))
    return redirect(url_for(".show", code=snap.code, _anchor="objections"))


# ------------------------------------------------------------------------------------------- phone + PIN


def _pin_phone_key() -> str:
    return "pin-phone:" + "".join(ch for ch in request.form.get("phone", "") if ch.isdigit())


@bp.get("/s/pin")
@rule(*PUBLIC, scope="public")
def pin():
    return render_template("payouts/statements/pin.html", form={}, next=safe_next(request.args.get("next")))


@bp.post("/s/pin")
@rule(*PUBLIC, write=True, scope="public")
@limiter.limit(PIN_LIMIT, methods=["POST"], deduct_when=lambda response: response.status_code == 401)
@limiter.limit(PIN_PHONE_LIMIT, methods=["POST"], key_func=_pin_phone_key,
               deduct_when=lambda response: response.status_code == 401)
def pin_enter():
    _refuse_staff()
    phone = request.form.get("phone", "").strip()[:30]
    code = request.form.get("pin", "").strip()[:12]
    target = safe_next(request.form.get("next"))
    household = household_by_phone_and_pin(get_session(), phone, code) if phone and code else None
    if household is None:
        flash(_("That phone number and PIN do not match. Check the PIN printed on your household's slip."), "error")
        return render_template("payouts/statements/pin.html", form={"phone": phone}, next=target), 401
    session.clear()                               # rotate: nothing from before survives (and no user signed in)
    session[PIN_KEY] = [household.id, int(_now())]
    return redirect(target if target and target.startswith("/s/") else url_for(".mine"))


@bp.post("/s/leave")
@rule(*PUBLIC, write=True, scope="public")
def leave():
    """End a phone + PIN visit (on a shared phone)."""
    _refuse_staff()
    session.pop(PIN_KEY, None)
    flash(_("You have left the household's pages."))
    return redirect(url_for(".pin"))


# --------------------------------------------------------------------------------------------- verify


@bp.get("/verify")
@rule(*PUBLIC, scope="public")
def verify_form():
    typed = request.args.get("code", "")
    if typed.strip():
        args = {"amount": request.args["amount"]} if request.args.get("amount") else {}
        return redirect(url_for(".verify", code=normal_code(typed), **args))
    return render_template("payouts/statements/verify.html", result=None, code="", amount_text="")


@bp.get("/verify/<code>")
@rule(*PUBLIC, scope="public")
@limiter.limit(VERIFY_LIMIT)
def verify(code: str):
    db = get_session()
    code = normal_code(code)
    amount_text = request.args.get("amount", "").strip()[:40]
    amount = parse_amount(amount_text) if amount_text else None
    result = verify_code(db, code, amount=amount)
    if not result.found:
        return render_template("payouts/statements/verify.html", result=None, code=code, amount_text=amount_text,
                               not_found=True), 404
    reversal = False
    if result.superseded_by is not None:
        newer = db.get(PayoutRun, result.superseded_by, options=[defer(PayoutRun.input_json),
                                                                 defer(PayoutRun.result_json)])
        reversal = newer is not None and newer.reverses_id == result.run_id
    standing = ("superseded" if result.superseded_by is not None and not reversal
                else "reversed" if result.status == "reversed" or reversal
                else "in_force" if result.status in IN_FORCE else "not_in_force")
    return render_template("payouts/statements/verify.html", result=result, code=code, amount_text=amount_text,
                           amount=amount, amount_invalid=bool(amount_text) and amount is None, standing=standing,
                           reversal=reversal)


# ------------------------------------------------------------------------------------------ staff pages


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
    statements = [{"code": r.code, "member": r.member_code, "member_no": r.Member.member_no,
                   "name": r.Member.display_name, "net": r.net, "paid": r.paid, "owed": r.net - r.paid,
                   "state": payment_state(r.net, r.paid), "confirmed_at": r.confirmed_at,
                   "open_objections": open_counts.get(r.id, 0)} for r in rows]
    can_write = can_write_entity(current_user, entity)
    if form is None:
        form = {"date": dt.date.today().isoformat(), "method": "bank"}
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
        form=form, today=dt.date.today().isoformat()), status


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
    elif not errors:
        owed = Decimal(snap.content["net"]) - paid_so_far(db, snap)
        if values["amount"] > owed:
            errors["amount"] = [_("%(amount)s is more than the %(owed)s still owed to this household.",
                                  amount=values["amount"], owed=owed)]
    if run.status not in IN_FORCE:
        errors["_schema"] = [_("Only a run in force is paid out; this run is %(status)s.",
                               status=_(STATUS_LABELS.get(run.status, run.status)))]
    if not errors:
        try:
            record_receipt(db, snap, actor_id=current_user.id, **values)
            db.commit()
        except StatementError as exc:
            db.rollback()
            errors["_schema"] = [str(exc)]
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
    if not text or len(text) > 2000:
        return _objections_page(entity, status=422, form={"id": objection_id, "answer": text}, errors={
            objection_id: [_("Write the answer the household will read (at most 2000 characters).")]})
    answer_objection(db, objection, answer=text, actor_id=current_user.id)
    db.commit()
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
    pin_code = set_pin(db, household, actor_id=current_user.id)
    db.commit()
    response = current_app.make_response(render_template(
        "payouts/statements/new_pin.html", entity=entity, household=household, pin=pin_code,
        phone=mask_phone(household.phone), back=safe_next(request.form.get("next"))))
    response.headers["Cache-Control"] = "no-store"
    return response

"""What every statements page shares: who the visitor is (a household by its member user or by phone +
PIN, or staff), the access rule of household pages, statement lookup, and how figures are shown."""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from flask import (
    abort,
    current_app,
    g,
    redirect,
    request,
    session,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_url
from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload

from cooperatives.access import Principal
from cooperatives.models import Entity
from cooperatives.web.access import can_read_entity
from ledger.clock import china_date, china_today
from ledger.i18n import N_
from ledger.money import D, to_fen
from ledger.web.support import STAFF, Rule, get_session
from payouts.models import PayoutMember, PayoutRun, StatementSnapshot
from payouts.statements.context import pool_label as statement_pool_label
from payouts.statements.operations import (
    paid_so_far,
)
from payouts.statements.visits import PIN_VISIT_SECONDS, household_of_visit
from payouts.statements.web import bp

WRITERS = ("admin", "accountant")
#: a household sees the statements of these runs; staff also see posted (not yet published) and reversed ones
HOUSEHOLD_STATUSES = ("published", "paid")
STAFF_STATUSES = ("posted", "published", "paid", "reversed")
#: the Flask session key holding the id of this browser's phone + PIN visit (payouts.statements.visits)
PIN_KEY = "pin_household"
#: a phone + PIN visit lasts this long (a shared phone does not stay open on a household's pages for days)
PIN_SESSION_SECONDS = PIN_VISIT_SECONDS
#: PIN attempts, per client address and per phone number (a 6-digit PIN must not be guessable): each is
#: counted before the PIN is checked, and a right PIN gives its attempt back (cooperatives.web.ratelimit)
PIN_LIMIT = "10 per minute;50 per hour"
PIN_PHONE_LIMIT = "20 per day"
VERIFY_LIMIT = "60 per minute"
STATEMENTS_PER_PAGE = 100
RECEIPT_METHODS = {"bank": N_("bank transfer"), "cash": N_("cash (signed or thumb-printed roll)"),
                   "mobile": N_("mobile payment")}
STATUS_LABELS = {"posted": N_("posted, not yet published"), "published": N_("published"), "paid": N_("paid out"),
                 "reversed": N_("reversed")}
LINE_LABELS = {"deductions": N_("Deductions"), "total": N_("Total payable"), "contributed": N_("What we contributed")}
_CODE_CHARS = re.compile(r"[^0-9A-Z]")
#: dates of confirmations and answers are shown as the villager's calendar day (China has one time zone)


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


def page_locale() -> str:
    return str(get_locale() or "zh_Hans_CN")


def verify_url_of(code: str) -> str:
    return f"{current_app.extensions['coop.settings'].public_url}/verify/{code}"


def pool_label(name: str, basis: str | None = None) -> str:
    """The name of a distribution line in the page's language (the statement's own labels: never a pool's code)."""
    if name in LINE_LABELS:
        return _(LINE_LABELS[name])
    named = statement_pool_label(name, basis)
    return _(named["text"]) if named["translate"] else named["text"]


def local_date(moment: dt.datetime | None) -> str:
    """The calendar day in China of a stored moment (UTC; naive on SQLite)."""
    return "" if moment is None else china_date(moment).isoformat()


@bp.context_processor
def _template_helpers():
    return {"pool_label": pool_label, "local_date": local_date, "RECEIPT_METHODS": RECEIPT_METHODS,
            "STATEMENT_STATUS": STATUS_LABELS}


def household_statements(household_id: int) -> list[dict]:
    """The statements a household may read (of runs published or paid), newest year first: code, entity, year,
    net, paid, payment state, confirmed, notice period — ``/my`` lists them, the household page counts them."""
    rows = get_session().execute(
        select(StatementSnapshot.code, StatementSnapshot.confirmed_at, PayoutRun.year, PayoutRun.status,
               PayoutRun.notice_until, Entity.name, PayoutMember.net, PayoutMember.paid)
        .join(PayoutRun, PayoutRun.id == StatementSnapshot.run_id)
        .join(Entity, Entity.id == PayoutRun.entity_id)
        .join(PayoutMember, (PayoutMember.run_id == StatementSnapshot.run_id)
              & (PayoutMember.code == StatementSnapshot.member_code))
        .where(StatementSnapshot.household_id == household_id, PayoutRun.status.in_(HOUSEHOLD_STATUSES))
        .order_by(PayoutRun.year.desc(), PayoutRun.id.desc())).all()
    today = china_today()
    return [{"code": r.code, "entity": r.name, "year": r.year, "net": r.net, "paid": r.paid,
             "state": payment_state(r.net, r.paid), "confirmed": r.confirmed_at is not None,
             "notice_until": r.notice_until,
             "notice_open": r.status == "published" and r.notice_until is not None and today <= r.notice_until}
            for r in rows]


#: the household page (``/household``, cooperatives.web.home) says whether statements are published
bp.add_app_template_global(household_statements, "household_statements")


def pin_household_id() -> int | None:
    """The household whose phone number and PIN this browser entered (within the last few hours), if any:
    the visit id in the session must name a visit the server has not ended (left, a new PIN). Looked up
    once per request."""
    if PIN_KEY not in session:
        return None
    if "pin_visit" not in g:
        g.pin_visit = household_of_visit(get_session(), session.get(PIN_KEY), now=now_utc(),
                                         max_seconds=PIN_SESSION_SECONDS)
    return g.pin_visit


def now_seconds() -> float:
    return time.time()


def now_utc() -> dt.datetime:
    """:func:`now_seconds` as an aware UTC time (the clock of PIN visits)."""
    return dt.datetime.fromtimestamp(now_seconds(), dt.UTC)


def refuse_staff() -> None:
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
                refuse_staff()
            return view(*args, **kwargs)

        wrapped.access_rule = Rule(roles, write, "household")
        return wrapped

    return decorate


@dataclass(frozen=True)
class Viewer:
    household_id: int | None      # the household this visitor acts for (member user or PIN); None for staff
    staff: bool
    actor_id: int | None

    @property
    def actor(self) -> Principal:
        """Who acts for this visitor in an operation: its signed-in user, or its household's phone + PIN visit."""
        if current_user.is_authenticated:
            return Principal.of_user(current_user)
        return Principal.of_household(self.household_id)


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


def paid_of(snap: StatementSnapshot) -> Decimal:
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

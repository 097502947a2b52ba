"""Phone number + PIN: how a household without a user account opens its statements on a phone, and
leaves again on a shared phone. A visit is kept on the server (:mod:`payouts.statements.visits`): leaving
ends it for every copy of the cookie.

Guessing is limited per client address and per phone number: each attempt is counted before the PIN is
checked (atomically in the limiter's storage) and a right PIN gives its attempt back
(:mod:`cooperatives.web.ratelimit`)."""

from __future__ import annotations

from flask import (
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from cooperatives.web import sessions
from cooperatives.web.auth import limiter
from cooperatives.web.display import safe_next
from cooperatives.web.ratelimit import forgive_attempt
from ledger.web.support import PUBLIC, get_session, rule
from payouts.statements.operations import (
    household_by_phone_and_pin,
)
from payouts.statements.visits import end_visit, start_visit
from payouts.statements.web import bp
from payouts.statements.web.support import (
    PIN_KEY,
    PIN_LIMIT,
    PIN_PHONE_LIMIT,
    now_utc,
    refuse_staff,
)


def _pin_phone_key() -> str:
    return "pin-phone:" + "".join(ch for ch in request.form.get("phone", "") if ch.isdigit())


@bp.get("/s/pin")
@rule(*PUBLIC, scope="public")
def pin():
    return render_template("payouts/statements/pin.html", form={}, next=safe_next(request.args.get("next")))


@bp.post("/s/pin")
@rule(*PUBLIC, write=True, scope="public")
@limiter.limit(PIN_LIMIT, methods=["POST"])
@limiter.limit(PIN_PHONE_LIMIT, methods=["POST"], key_func=_pin_phone_key)
def pin_enter():
    refuse_staff()
    phone = request.form.get("phone", "").strip()[:30]
    code = request.form.get("pin", "").strip()[:12]
    target = safe_next(request.form.get("next"))
    db = get_session()
    household = household_by_phone_and_pin(db, phone, code) if phone and code else None
    if household is None:
        flash(_("That phone number and PIN do not match. Check the PIN printed on your household's slip."), "error")
        return render_template("payouts/statements/pin.html", form={"phone": phone}, next=target), 401
    forgive_attempt(limiter)
    visit = start_visit(db, household.id, now=now_utc())
    db.commit()
    session.clear()                               # rotate: nothing from before survives (and no user signed in)
    session[PIN_KEY] = visit
    sessions.mark_active()
    return redirect(target if target and target.startswith("/s/") else url_for(".mine"))


@bp.post("/s/leave")
@rule(*PUBLIC, write=True, scope="public")
def leave():
    """End a phone + PIN visit (on a shared phone): on the server too, so a copy of the cookie stops working."""
    refuse_staff()
    visit = session.pop(PIN_KEY, None)
    session.pop(sessions.SEEN_KEY, None)
    if visit is not None:
        db = get_session()
        end_visit(db, visit, now=now_utc())
        db.commit()
    flash(_("You have left the household's pages."))
    return redirect(url_for(".pin"))

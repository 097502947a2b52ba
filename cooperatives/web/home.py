"""The landing page for each role, and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from cooperatives.models import ENTITY_KINDS, Household, Member
from cooperatives.web.access import visible_entities
from cooperatives.web.display import safe_next
from ledger.web.support import ALL_USERS, PUBLIC, get_session, rule

bp = Blueprint("home", __name__)


@bp.app_context_processor
def _page_language():
    """``html_lang`` for ``<html lang>`` on every page (zh-CN unless the chosen locale is English)."""
    locale = str(get_locale() or "zh_Hans_CN")
    return {"html_lang": "zh-CN" if locale.startswith("zh") else "en"}


@bp.get("/")
@rule(*ALL_USERS, scope="any")
def index():
    if current_user.role == "member":
        return redirect(url_for("statements.mine"))      # the household's payout statements (payouts.web)
    entities = visible_entities(current_user)
    if current_user.role == "accountant" and len(entities) == 1:
        return redirect(url_for("entities.show", code=entities[0].code))
    return render_template("home/index.html", entities=entities, ENTITY_KINDS=ENTITY_KINDS)


@bp.get("/household")
@rule("member", scope="household")
def household():
    session = get_session()
    hh = session.get(Household, current_user.household_id, options=[joinedload(Household.village)])
    memberships = session.scalars(select(Member).options(joinedload(Member.entity))
                                  .where(Member.household_id == hh.id).order_by(Member.joined_on)).all()
    return render_template("home/household.html", household=hh, memberships=memberships)


@bp.get("/lang/<code>")
@rule(*PUBLIC, scope="public")
def set_language(code: str):
    response = redirect(safe_next(request.args.get("next")) or "/")
    if code in current_app.extensions["coop.settings"].supported_locales:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response

"""The distribution policy of an entity (the articles' distribution clause, INTERFACES §4) as a page.

``/e/<code>/policy`` shows the current version as TOML and as a table, the history of versions
(``?version=N`` shows an older one), and — for the accountant and the admin — a form to save a new
version: the TOML is validated by :func:`payouts.runs.policy.load_policy_text` and every problem is listed
(422) before anything is stored. Auditors read only.
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from cooperatives.models import User
from cooperatives.web.access import can_write_entity, current_actor, entity_or_404
from ledger.i18n import as_message
from ledger.web.support import STAFF, get_session, rule
from payouts.models import PolicyVersion
from payouts.runs.labels import (
    BASIS_DESCRIPTIONS,
    MEASURE_LABELS,
    POLICY_DEDUCTION_LABELS,
    QUANTIFY_LABELS,
    TRADE_LABELS,
)
from payouts.runs.operations import save_policy
from payouts.runs.policy import DEFAULT_FPC_POLICY, PolicyError, load_policy_text
from payouts.runs.rules import COOPERATIVE_LAW_KINDS

bp = Blueprint("policies", __name__, url_prefix="/e/<code>")
WRITERS = ("admin", "accountant")
#: the longest policy text accepted from the form (a real policy is well under 2 KB)
MAX_TEXT = 20_000

DEFAULT_INCLUDE = ["deliveries", "sales"]


# ------------------------------------------------------------------------------------------------ TOML


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)      # a TOML basic string (JSON escapes are valid TOML)


def _toml_key(key: str) -> str:
    bare = key and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def policy_toml(data: dict) -> str:
    """A stored policy (``Policy.to_dict()``) written back as the TOML an accountant edits.

    ``load_policy_text(policy_toml(d)).to_dict() == d`` for every valid policy.
    """
    lines = [f"reserve_pct = {_toml_value(data['reserve_pct'])}",
             f"reserve_quantify = {_toml_value(data['reserve_quantify'])}"]
    for key in ("funds", "preferred"):
        if data.get(key):
            lines.append(f"{key} = {_toml_value(data[key])}")
    lines += [f"deduct = {_toml_value(list(data.get('deduct', [])))}",
              f"prorate_partial_year = {_toml_value(bool(data.get('prorate_partial_year')))}",
              f"notice_days = {_toml_value(data.get('notice_days', 7))}"]
    if data.get("land_as_trade"):
        lines.append("land_as_trade = true")
    for pool in data["pools"]:
        lines += ["", "[[pools]]", f"name = {_toml_value(pool['name'])}", f"pct = {_toml_value(pool['pct'])}",
                  f"basis = {_toml_value(pool['basis'])}"]
        if pool["basis"] == "transactions":
            if pool.get("measure", "amount") != "amount":
                lines.append(f"measure = {_toml_value(pool['measure'])}")
            if pool.get("products"):
                lines.append(f"products = {_toml_value(pool['products'])}")
            if list(pool.get("include", DEFAULT_INCLUDE)) != DEFAULT_INCLUDE:
                lines.append(f"include = {_toml_value(list(pool['include']))}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- views


def _page(entity, *, text: str | None = None, problems: list[str] | None = None, status: int = 200):
    session = get_session()
    versions = session.scalars(select(PolicyVersion).where(PolicyVersion.entity_id == entity.id)
                               .order_by(PolicyVersion.version.desc())).all()
    current = versions[0] if versions else None
    wanted = request.args.get("version", type=int)
    shown = current
    if wanted is not None:
        shown = next((v for v in versions if v.version == wanted), None)
        if shown is None:
            abort(404)
    actor_ids = {v.actor_id for v in versions if v.actor_id is not None}
    actors = ({u.id: u.display_name or u.username
               for u in session.scalars(select(User).where(User.id.in_(actor_ids)))} if actor_ids else {})
    data = shown.data if shown is not None else None
    trade_pct = None
    if data is not None and entity.kind in COOPERATIVE_LAW_KINDS:
        by_trade = ("transactions", "land") if data.get("land_as_trade") else ("transactions",)
        trade_pct = sum((Decimal(p["pct"]) for p in data["pools"] if p["basis"] in by_trade), Decimal(0))
    if text is None:
        text = policy_toml(current.data) if current is not None else DEFAULT_FPC_POLICY
    return render_template(
        "payouts/policies/show.html", entity=entity, can_write=can_write_entity(current_user, entity),
        versions=versions, current=current, shown=shown, policy=data,
        toml=policy_toml(data) if data is not None else None, text=text, problems=problems or [],
        actors=actors, trade_pct=trade_pct, BASIS_LABELS=BASIS_DESCRIPTIONS, MEASURE_LABELS=MEASURE_LABELS,
        QUANTIFY_LABELS=QUANTIFY_LABELS, DEDUCTION_LABELS=POLICY_DEDUCTION_LABELS, TRADE_LABELS=TRADE_LABELS,
        DEFAULT_INCLUDE=DEFAULT_INCLUDE), status


@bp.get("/policy")
@rule(*STAFF, scope="entity")
def show(code: str):
    return _page(entity_or_404(code))


@bp.post("/policy")
@rule(*WRITERS, write=True, scope="entity")
def update(code: str):
    entity = entity_or_404(code, write=True)
    text = request.form.get("policy", "")
    if not text.strip():
        return _page(entity, text=text, problems=[_("Write the policy (TOML) in the box.")], status=422)
    if len(text) > MAX_TEXT:
        return _page(entity, text=text[:MAX_TEXT],
                     problems=[_("The policy is too long (at most %(n)s characters).", n=MAX_TEXT)], status=422)
    try:
        policy = load_policy_text(text.replace("\r\n", "\n"))
    except PolicyError as exc:
        return _page(entity, text=text, problems=[as_message(p).translate(_) for p in exc.problems], status=422)
    session = get_session()
    before = current_policy_number(session, entity)
    version = save_policy(session, entity, policy, actor=current_actor())
    session.commit()
    if version.version == before:
        flash(_("The policy is unchanged (version %(n)s).", n=version.version))
    else:
        flash(_("Policy version %(n)s saved. New distribution runs use it.", n=version.version))
    return redirect(url_for(".show", code=code))


def current_policy_number(session, entity) -> int | None:
    return session.scalar(select(PolicyVersion.version).where(PolicyVersion.entity_id == entity.id)
                          .order_by(PolicyVersion.version.desc()).limit(1))

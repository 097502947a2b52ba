"""The distribution policy of an entity (the articles' distribution clause, INTERFACES §4) as a page.

``/e/<code>/policy`` shows the current version, the history of versions (``?version=N`` shows an older one),
the 60 % check and a preview of the pools on a year's books (``?year=Y``; by default last year), computed by the
run's own code (:func:`payouts.runs.operations.gather_input`, :func:`payouts.runs.rules.compute_run`) without
writing anything. For the accountant and the admin it is a form with every key of the policy: "Check" shows the
problems by their fields, the 60 % check and the preview of what was typed; "Save" stores a new version through
:func:`payouts.runs.operations.save_policy`. The form builds the dict the TOML parser builds and passes it through
the same :func:`payouts.runs.policy.parse_policy` and :func:`payouts.runs.policy.law_problems`, as the TOML import
under it does (a pasted text or an uploaded file), so neither can save what the other refuses.
``/e/<code>/policy.toml`` downloads a version as TOML (:func:`payouts.runs.policy.policy_toml`). Auditors read only.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from cooperatives.models import Delivery, Sale, User
from cooperatives.web.access import can_write_entity, current_actor, entity_or_404
from ledger.i18n import N_, Message, as_message
from ledger.web.support import STAFF, get_session, rule
from payouts.models import PolicyVersion
from payouts.runs.labels import (
    BASIS_DESCRIPTIONS,
    MEASURE_LABELS,
    POLICY_DEDUCTION_LABELS,
    QUANTIFY_LABELS,
    RULE_LABELS,
    TRADE_LABELS,
)
from payouts.runs.operations import gather_input, save_policy
from payouts.runs.policy import (
    BASES,
    CAPITAL_FORMS,
    DEDUCTIONS,
    DEFAULT_FPC_POLICY,
    DEFAULT_INCLUDE,
    MEASURES,
    POOL_NAME_LABELS,
    RESERVE_QUANTIFY,
    TRADE_KINDS,
    Policy,
    PolicyError,
    law_problems,
    load_policy_text,
    parse_policy,
    policy_toml,
)
from payouts.runs.rules import COOPERATIVE_LAW_KINDS, PATRONAGE_FLOOR_PCT, compute_run, patronage_meets_law

__all__ = ["bp", "policy_toml", "current_policy_number"]

bp = Blueprint("policies", __name__, url_prefix="/e/<code>")
WRITERS = ("admin", "accountant")
#: the longest policy text accepted from the form (a real policy is well under 2 KB)
MAX_TEXT = 20_000
#: rows of a kind the form accepts (funds, preferred shares, pools, a pool's products)
MAX_ROWS = 20
#: empty rows the form offers after the filled ones (pages work without script: no "add a row" button)
SPARE = {"funds": 1, "preferred": 1, "pools": 1, "products": 1}
CHINA = ZoneInfo("Asia/Shanghai")
OTHER = "other"

#: the form's own words for a problem of the policy (by its code); the TOML import shows the parser's, which name
#: the TOML keys the accountant wrote
FORM_MESSAGES = {
    "policy_not_a_number": N_("Not a number: %(value)s."),
    "policy_range": N_("Out of range: %(number)s."),
    "policy_choice": N_("Choose one of the offered values."),
    "policy_fund": N_("Give the fund a name."),
    "policy_preferred": N_("Give the preferred share a name."),
    "policy_no_pool": N_("At least one pool is needed: give a pool a share."),
    "policy_pool_sum": N_("The pools' shares must add up to 100 %%, not %(sum)s %%."),
    "policy_name_twice": N_("The name %(name)s is used twice."),
    "policy_notice_days": N_("A whole number of days from 1 to 90."),
    "policy_reserve_over": N_("The reserve and the other funds together exceed 100 %%."),
    "policy_include": N_("Tick at least one kind of trade."),
    "policy_products": N_("Each product needs a name and a weight."),
}
RANGE_MESSAGES = {True: N_("Must be from %(lo)s to %(hi)s."), False: N_("Must be at least %(lo)s.")}
#: a reserve or fund as the run names it
RESERVE_LABEL = N_("Reserve")

#: problems of a pool whose ``where`` names the pool only: the field they are about
_POOL_CODES = {"policy_pool_name": "other", "policy_include": "include", "policy_products": "products",
               "policy_transactions_only": "basis"}
_WHERE = re.compile(r"^(funds|preferred|pools)\[(\d+)\](?:\.(pct|rate|form|basis|measure|include|products)\b.*)?$")


# ------------------------------------------------------------------------------------------------ form


def _number(raw: str) -> str:
    """What was typed in a number field, as the policy's string: full-width digits and a trailing % allowed."""
    text = unicodedata.normalize("NFKC", raw or "").strip().replace(",", "")
    return text[:-1].strip() if text.endswith("%") else text


def _rows(form, prefix: str) -> list[int]:
    """The row numbers of ``prefix-N-…`` fields in the form, in order (at most MAX_ROWS)."""
    found = set()
    for key in form:
        m = re.match(rf"^{prefix}-(\d{{1,3}})-", key)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)[:MAX_ROWS]


def form_to_policy_data(form) -> tuple[dict, dict]:
    """The form as the dict the TOML parser builds (INTERFACES §4 keys) and as what was typed (to show back).
    Empty rows are left out; a pool without a share is removed."""
    data: dict = {"reserve_pct": _number(form.get("reserve_pct", "")) or "0",
                  "reserve_quantify": form.get("reserve_quantify", "transactions")}
    typed: dict = {"reserve_pct": form.get("reserve_pct", ""), "reserve_quantify": data["reserve_quantify"],
                   "funds": [], "preferred": [], "pools": []}
    funds = []
    for i in _rows(form, "funds"):
        name, pct = form.get(f"funds-{i}-name", "").strip(), form.get(f"funds-{i}-pct", "").strip()
        if not name and not pct:
            continue
        funds.append({"pct": _number(pct), **({"name": name} if name else {})})
        typed["funds"].append({"name": name, "pct": pct})
    data["funds"] = funds
    preferred = []
    for i in _rows(form, "preferred"):
        name, rate = form.get(f"preferred-{i}-name", "").strip(), form.get(f"preferred-{i}-rate", "").strip()
        kind = form.get(f"preferred-{i}-form", "poverty_asset")
        if not name and not rate:
            continue
        preferred.append({"rate": _number(rate), "form": kind, **({"name": name} if name else {})})
        typed["preferred"].append({"name": name, "rate": rate, "form": kind})
    data["preferred"] = preferred
    pools = []
    for i in _rows(form, "pools"):
        pct = form.get(f"pools-{i}-pct", "").strip()
        if not pct:
            continue
        choice = form.get(f"pools-{i}-name", "")
        other = form.get(f"pools-{i}-other", "").strip()
        name = other if choice == OTHER or choice not in POOL_NAME_LABELS else choice
        basis = form.get(f"pools-{i}-basis", "")
        pool = {"name": name, "pct": _number(pct), "basis": basis}
        row = {"name": name, "choice": choice if choice in POOL_NAME_LABELS else OTHER, "other": other, "pct": pct,
               "basis": basis, "measure": form.get(f"pools-{i}-measure", "amount"),
               "include": [k for k in form.getlist(f"pools-{i}-include") if k in TRADE_KINDS], "products": []}
        products = {}
        for j in _rows(form, f"pools-{i}-product"):
            product = form.get(f"pools-{i}-product-{j}-name", "").strip()
            weight = form.get(f"pools-{i}-product-{j}-weight", "").strip()
            if not product and not weight:
                continue
            row["products"].append((product, weight))
            products[product] = _number(weight)
        if basis == "transactions":
            pool.update(measure=row["measure"], include=row["include"], products=products)
            if any(not name for name in products):
                pool["products"] = []           # not a table: the parser says what a products table is
        pools.append(pool)
        typed["pools"].append(row)
    data["pools"] = pools
    data["deduct"] = [d for d in form.getlist("deduct") if d in DEDUCTIONS]
    data["prorate_partial_year"] = form.get("prorate_partial_year") == "yes"
    data["land_as_trade"] = form.get("land_as_trade") == "yes"
    notice = _number(form.get("notice_days", ""))
    data["notice_days"] = int(notice) if notice.isdigit() and len(notice) <= 4 else notice
    typed.update(deduct=data["deduct"], prorate_partial_year=data["prorate_partial_year"],
                 land_as_trade=data["land_as_trade"], notice_days=form.get("notice_days", ""))
    return data, typed


def typed_from(data: dict) -> dict:
    """A stored policy (``Policy.to_dict()``) as the form shows it."""
    pools = []
    for p in data["pools"]:
        known = p["name"] in POOL_NAME_LABELS
        pools.append({"name": p["name"], "choice": p["name"] if known else OTHER, "other": "" if known else p["name"],
                      "pct": p["pct"], "basis": p["basis"], "measure": p.get("measure", "amount"),
                      "include": list(p.get("include", DEFAULT_INCLUDE)),
                      "products": list((p.get("products") or {}).items())})
    return {"reserve_pct": data["reserve_pct"], "reserve_quantify": data["reserve_quantify"],
            "funds": [dict(f) for f in data.get("funds", [])], "preferred": [dict(p) for p in data.get("preferred", [])],
            "pools": pools, "deduct": list(data.get("deduct", [])),
            "prorate_partial_year": bool(data.get("prorate_partial_year")),
            "land_as_trade": bool(data.get("land_as_trade")), "notice_days": str(data.get("notice_days", 7))}


def _field_of(problem: Message) -> str:
    """The form field a problem of :func:`parse_policy` or :func:`law_problems` is about (``_schema``: the whole)."""
    params, code = problem.params, problem.code
    where = str(params.get("where", ""))
    m = _WHERE.match(where)
    if m and code in _POOL_CODES:
        return f"pools-{m.group(2)}-{_POOL_CODES[code]}"
    if m:
        section, i, key = m.group(1), int(m.group(2)), m.group(3)
        key = {"funds": "pct", "preferred": "rate", "pools": "pct"}[section] if key is None else key
        return f"{section}-{i}-{key}"
    if where in ("reserve_pct", "reserve_quantify", "deduct"):
        return where
    if code in ("policy_fund", "policy_preferred"):
        return f"{'funds' if code == 'policy_fund' else 'preferred'}-{params.get('i')}-name"
    if code in ("shares_collective", "residual_capital_only"):
        return f"pools-{params.get('pool')}-basis"
    return {"policy_pool_sum": "pools", "policy_no_pool": "pools", "policy_name_twice": "pools",
            "patronage_min_60": "pools", "policy_notice_days": "notice_days", "policy_reserve_over": "reserve_pct",
            "policy_prorate": "prorate_partial_year", "policy_land_as_trade": "land_as_trade",
            "land_as_trade_land_coop": "land_as_trade"}.get(code, "_schema")


def _form_message(problem: Message) -> str:
    """A problem in the form's words, in the reader's language."""
    params = dict(problem.params)
    if problem.code == "policy_range":
        template = RANGE_MESSAGES["hi" in params]
    else:
        template = FORM_MESSAGES.get(problem.code, problem.template)
    return Message(template, params, code=problem.code).translate(_)


def field_errors(problems: list[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        problem = as_message(problem)
        field = _field_of(problem)
        text = _form_message(problem)
        if text not in errors.get(field, []):
            errors.setdefault(field, []).append(text)
    return errors


def check_policy(data: dict, kind: str) -> tuple[Policy | None, list[str]]:
    """The one validation of a policy from the form or from TOML: the parser's problems, else the law's for an
    entity of ``kind``. Returns the policy (None when it does not parse) and every problem. The form names every
    pool (the parser would call a nameless one ``pool1``, a name no statement should print)."""
    unnamed = [Message(N_("Choose a name or write one."), {"where": f"pools[{i}]"}, code="policy_pool_name")
               for i, pool in enumerate(data.get("pools", []), 1) if not pool.get("name")]
    try:
        policy = parse_policy(data)
    except PolicyError as exc:
        return None, unnamed + exc.problems
    return (None, unnamed) if unnamed else (policy, law_problems(policy, kind))


# ------------------------------------------------------------------------------------------- the preview


def default_year() -> int:
    """The year a distribution is usually drafted for: the last one (as the runs page offers)."""
    return dt.datetime.now(CHINA).year - 1


def _year(raw) -> int:
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    year = int(text) if text.isascii() and text.isdigit() and len(text) == 4 else None
    return year if year is not None and 1949 <= year <= 2999 else default_year()


def preview(session, entity, policy: Policy, year: int) -> dict:
    """The pools ``policy`` gives on ``year``'s books as they stand, by the run's own code; nothing is written."""
    data = gather_input(session, entity, year, policy)
    result = compute_run(data, policy)
    trade = sum((p[2] for p in result.pools if p[0] in result.patronage_pools), Decimal(0))
    law = entity.kind in COOPERATIVE_LAW_KINDS
    ds = result.distributable
    pcts = [p.pct for p in policy.pools]
    return {
        "year": year, "result": result, "members": len(data.members),
        "pools": [{"name": name, "basis": basis, "amount": amount, "basis_total": total, "pct": pct,
                   "by_trade": name in result.patronage_pools}
                  for (name, basis, amount, total), pct in zip(result.pools, pcts, strict=True)],
        "reserves": [(RESERVE_LABEL if i == 0 else name, amount, pct) for i, ((name, amount), pct) in enumerate(
            zip(result.reserves, [policy.reserve_pct, *(f.pct for f in policy.funds)], strict=True))],
        "trade": trade, "trade_share": (trade / ds * 100).quantize(Decimal("0.01"), rounding="ROUND_FLOOR")
        if ds > 0 else None,
        "meets": patronage_meets_law(trade, ds) if law else None,
        "failed": [RULE_LABELS.get(c.rule, c.rule) for c in result.checks if not c.ok],
    }


def trade_check(entity, policy: Policy | None, typed: dict) -> dict:
    """The share of the pools returned by member trade, and whether it meets law Art. 44's 60 % (None: the law
    sets no floor for this kind of entity, or the shares typed are not numbers)."""
    if policy is not None:
        pct = policy.trade_pct
    else:
        by_trade = ("transactions", "land") if typed.get("land_as_trade") else ("transactions",)
        try:
            pct = sum((Decimal(_number(p["pct"])) for p in typed["pools"] if p["basis"] in by_trade), Decimal(0))
        except (InvalidOperation, ValueError):
            pct = None
    law = entity.kind in COOPERATIVE_LAW_KINDS
    return {"pct": pct, "law": law, "ok": pct >= PATRONAGE_FLOOR_PCT if law and pct is not None else None}


# ----------------------------------------------------------------------------------------------- views


def _products(session, entity) -> list[str]:
    """The products of the entity's deliveries and sales (offered when weighing products)."""
    names = set()
    for model in (Delivery, Sale):
        names.update(session.scalars(select(model.product).where(model.entity_id == entity.id,
                                                                 model.voided_at.is_(None)).distinct().limit(200)))
    return sorted(names)


def _page(entity, *, typed: dict | None = None, policy: Policy | None = None, errors: dict | None = None,
          problems: list[str] | None = None, text: str | None = None, year: int | None = None,
          checked: bool = False, status: int = 200):
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
    can_write = can_write_entity(current_user, entity)
    editing = can_write and shown is current
    if typed is None:
        source = current.data if current is not None else load_policy_text(DEFAULT_FPC_POLICY).to_dict()
        typed = typed_from(source)
    if policy is None and not errors and not problems:
        policy = parse_policy(data) if data is not None else None
        if policy is None and editing:
            policy = load_policy_text(DEFAULT_FPC_POLICY)
    year = year if year is not None else _year(request.args.get("year"))
    shown_preview = preview(session, entity, policy, year) if policy is not None else None
    if text is None:
        text = policy_toml(current.data) if current is not None else DEFAULT_FPC_POLICY
    bases = [b for b in BASES if b != "shares" or entity.kind == "collective"
             or any(p["basis"] == "shares" for p in typed["pools"])]
    return render_template(
        "payouts/policies/show.html", entity=entity, can_write=can_write, editing=editing,
        versions=versions, current=current, shown=shown, policy=data, typed=typed, errors=errors or {},
        problems=problems or [], checked=checked, toml=policy_toml(data) if data is not None else None, text=text,
        actors=actors, check=trade_check(entity, policy, typed), preview=shown_preview, year=year,
        products=_products(session, entity) if editing else [], spare=SPARE, OTHER=OTHER,
        BASES=bases, MEASURES=MEASURES, RESERVE_QUANTIFY=RESERVE_QUANTIFY, DEDUCTIONS=DEDUCTIONS,
        TRADE_KINDS=TRADE_KINDS, CAPITAL_FORMS=CAPITAL_FORMS, POOL_NAME_LABELS=POOL_NAME_LABELS,
        BASIS_LABELS=BASIS_DESCRIPTIONS, MEASURE_LABELS=MEASURE_LABELS,
        QUANTIFY_LABELS=QUANTIFY_LABELS, DEDUCTION_LABELS=POLICY_DEDUCTION_LABELS, TRADE_LABELS=TRADE_LABELS,
        DEFAULT_INCLUDE=list(DEFAULT_INCLUDE), land_option=entity.kind == "land_coop" or typed.get("land_as_trade"),
        law=entity.kind in COOPERATIVE_LAW_KINDS), status


@bp.get("/policy")
@rule(*STAFF, scope="entity")
def show(code: str):
    return _page(entity_or_404(code))


@bp.get("/policy.toml")
@rule(*STAFF, scope="entity")
def download(code: str):
    """A version of the policy as TOML (the current one; ``?version=N``); before any is saved, the policy the
    form starts from."""
    entity = entity_or_404(code)
    session = get_session()
    query = select(PolicyVersion).where(PolicyVersion.entity_id == entity.id)
    wanted = request.args.get("version", type=int)
    if wanted is not None:
        query = query.where(PolicyVersion.version == wanted)
    version = session.scalar(query.order_by(PolicyVersion.version.desc()).limit(1))
    if version is None and wanted is not None:
        abort(404)
    body = policy_toml(version.data) if version is not None else DEFAULT_FPC_POLICY
    name = f"{entity.code}-policy-v{version.version}.toml" if version is not None else f"{entity.code}-policy.toml"
    # send_file writes the name as RFC 6266 asks (filename*=UTF-8''…): an entity's code may be Chinese
    return send_file(io.BytesIO(body.encode("utf-8")), mimetype="application/toml", as_attachment=True,
                     download_name=name)


@bp.post("/policy")
@rule(*WRITERS, write=True, scope="entity")
def update(code: str):
    entity = entity_or_404(code, write=True)
    if "policy" in request.form or "policy_file" in request.files:
        return _import(entity)
    data, typed = form_to_policy_data(request.form)
    policy, problems = check_policy(data, entity.kind)
    year = _year(request.form.get("year"))
    if request.form.get("action") == "check" or problems:
        errors = field_errors(problems)
        return _page(entity, typed=typed, policy=policy, errors=errors, year=year, checked=True,
                     status=422 if problems else 200)
    return _save(entity, policy)


def _import(entity):
    """The TOML (or JSON) pasted in the box or uploaded as a file: the same validation as the form."""
    upload = request.files.get("policy_file")
    filename = "policy.toml"
    text = request.form.get("policy", "")
    if upload is not None and upload.filename:
        filename = upload.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:100] or filename
        raw = upload.read(MAX_TEXT + 1)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _page(entity, text="", problems=[_("The file is not UTF-8 text (save it as UTF-8).")],
                         status=422)
    if not text.strip():
        return _page(entity, text=text, problems=[_("Write the policy (TOML) in the box, or choose a file.")],
                     status=422)
    if len(text) > MAX_TEXT:
        return _page(entity, text=text[:MAX_TEXT],
                     problems=[_("The policy is too long (at most %(n)s characters).", n=MAX_TEXT)], status=422)
    try:
        policy = load_policy_text(text.replace("\r\n", "\n"), filename=filename)
    except PolicyError as exc:
        return _page(entity, text=text, problems=[as_message(p).translate(_) for p in exc.problems], status=422)
    refused = law_problems(policy, entity.kind)
    if refused:
        return _page(entity, text=text, problems=[as_message(p).translate(_) for p in refused], status=422)
    return _save(entity, policy)


def _save(entity, policy: Policy):
    session = get_session()
    before = current_policy_number(session, entity)
    version = save_policy(session, entity, policy, actor=current_actor())
    session.commit()
    if version.version == before:
        flash(_("The policy is unchanged (version %(n)s).", n=version.version))
    else:
        flash(_("Policy version %(n)s saved. New distribution runs use it.", n=version.version))
    return redirect(url_for(".show", code=entity.code))


def current_policy_number(session, entity) -> int | None:
    return session.scalar(select(PolicyVersion.version).where(PolicyVersion.entity_id == entity.id)
                          .order_by(PolicyVersion.version.desc()).limit(1))

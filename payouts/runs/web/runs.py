"""Distribution runs as pages: the list of an entity's runs, drafting one, and the run's preview with
its checks, every household's lines explained in words, the members' meeting, and the actions of its
state (approve, post, publish, reverse). Auditors read, and may re-run a run from its snapshot.

The run page reads the stored result (one JSON document) and shows the households a page at a time:
its queries do not grow with the number of members. The write paths here are shared with the JSON
API (:mod:`payouts.runs.web.api`): :func:`perform` runs an action, commits once, or rolls back and raises
:class:`ActionRefused` with ``{field: [messages]}`` and the HTTP status to answer.
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload

from cooperatives.access import Principal
from cooperatives.models import Entity
from cooperatives.web.access import can_write_entity, current_actor, entity_or_404
from cooperatives.web.display import FormField
from ledger.clock import china_today
from ledger.errors import LedgerError, field_errors
from ledger.i18n import N_, Message
from ledger.schema_text import field_words
from ledger.web.support import STAFF, get_session, rule
from payouts.models import PayoutRun, PolicyVersion
from payouts.runs.explain import explain_line, explain_preferred
from payouts.runs.labels import (
    ACTION_DONE,
    ACTION_LABELS,
    BASIS_LABELS,
    POOL_NAME_LABELS,
    RULE_LABELS,
    STATUS_LABELS,
)
from payouts.runs.operations import (
    RunRefused,
    approve_run,
    create_run,
    current_policy_version,
    post_run,
    publish_run,
    rerun,
    reverse_run,
)
from payouts.runs.snapshot import check_detail
from payouts.runs.transitions import TRANSITIONS, InvalidTransition

bp = Blueprint("runs", __name__, url_prefix="/e/<code>")
#: run ids in page URLs are a plain path segment, checked by :func:`_run_or_404` (404 unless digits)
WRITERS = ("admin", "accountant")
MEMBERS_PER_PAGE = 100
ACTIONS = ("approve", "post", "publish", "reverse")

#: line bases whose figures are money (the others are kg, shares or days)
MONEY_BASES = frozenset({("transactions", "amount"), ("capital", "amount")})
APPROVE_FIELDS = (
    FormField("meeting_date", N_("Date of the members' meeting"), True, "date"),
    FormField("attended", N_("Members attending"), True, "number", inputmode="numeric"),
    FormField("votes_for", N_("Votes for"), True, "number", inputmode="numeric"),
    FormField("minutes", N_("Minutes reference"), False),
)


# ----------------------------------------------------------------------------------- shared write paths


class MeetingSchema(Schema):
    """The members' meeting that approves a run (as recorded by ``coopledger run approve``)."""

    class Meta:
        unknown = EXCLUDE

    meeting_date = fields.Date(required=True, metadata={"description": "YYYY-MM-DD"})
    attended = fields.Integer(required=True, validate=validate.Range(min=0),
                              metadata={"description": "members present at the meeting"})
    votes_for = fields.Integer(required=True, validate=validate.Range(min=0),
                               metadata={"description": "members voting for the distribution"})
    minutes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                            metadata={"description": "reference of the meeting minutes"})


class ActionRefused(Exception):
    """A run action refused: ``errors`` is ``{field: [messages]}``; ``status`` 409 (the run's state or
    the books conflict) or 422 (a check or the meeting's quorum fails)."""

    def __init__(self, status: int, errors: dict[str, list[str]]):
        self.status, self.errors = status, errors
        super().__init__(errors)


def perform(session: Session, run: PayoutRun, action: str, *, actor: Principal, meeting: dict | None = None):
    """Run ``action`` on ``run`` and commit; returns what the operation returned (the reversing run for
    ``reverse``, False for a ``post`` of a run already posted). Raises :class:`ActionRefused` after a
    rollback."""
    try:
        if action == "approve":
            outcome = approve_run(session, run, actor=actor, **(meeting or {}))
        elif action == "post":
            outcome = post_run(session, run, actor=actor)
        elif action == "publish":
            outcome = publish_run(session, run, actor=actor)
        elif action == "reverse":
            outcome = reverse_run(session, run, actor=actor)
        else:
            raise ValueError(action)
        session.commit()
    except InvalidTransition as exc:
        session.rollback()
        raise ActionRefused(409, {"status": [_message_of(exc)]}) from None
    except RunRefused as exc:
        session.rollback()
        raise ActionRefused(422 if action == "approve" else 409, field_errors(exc.problems, _)) from None
    except LedgerError as exc:
        session.rollback()
        raise ActionRefused(409, field_errors(exc.problems, _)) from None
    except IntegrityError:
        session.rollback()
        raise ActionRefused(409, {"_schema": [_("Another run of this year is already in force; reverse it first.")]}) from None
    return outcome


def _message_of(exc: InvalidTransition) -> str:
    allowed = sorted(a for (s, a) in TRANSITIONS if s == exc.state and a in ACTIONS)
    text = _("This run is %(state)s: it cannot be %(done)s.", state=_(STATUS_LABELS.get(exc.state, exc.state)),
             done=_(ACTION_DONE.get(exc.action, exc.action)))
    if allowed:
        text += " " + _("Possible now: %(actions)s.", actions=", ".join(_(ACTION_LABELS[a]) for a in allowed))
    return text


def draft(session: Session, entity: Entity, year: int, version: PolicyVersion, *, replaces: int | None = None,
          actor: Principal) -> PayoutRun:
    """Compute a draft run of ``year`` under policy ``version`` and commit (shared with the API)."""
    try:
        run = create_run(session, entity, year, policy_version=version, replaces=replaces, actor=actor)
        session.commit()
    except LedgerError as exc:
        session.rollback()
        raise ActionRefused(409, field_errors(exc.problems, _)) from None
    except RunRefused as exc:
        session.rollback()
        raise ActionRefused(422, field_errors(exc.problems, _)) from None
    return run


def say_pool(name: str) -> str | None:
    """A usual pool's label in the page's language (None: a name the policy wrote in words, shown as written)."""
    label = POOL_NAME_LABELS.get(name)
    return _(label) if label else None


def say(text: Message | str) -> str:
    return text.translate(_) if isinstance(text, Message) else text


def _verdicts(result: dict) -> dict:
    """A result with its checks reduced to their verdicts: a check's wording may change between versions, its
    figures are in the result's own keys."""
    return {**result, "checks": [(c["rule"], c["ok"]) for c in result.get("checks", [])]}


def rerun_check(run: PayoutRun) -> dict:
    """Recompute ``run`` from its stored snapshot and policy and compare with the stored result."""
    stored = _verdicts(run.result)
    recomputed = _verdicts(json.loads(json.dumps(rerun(run), ensure_ascii=False)))
    differs = sorted(k for k in stored.keys() | recomputed.keys()
                     if k != "members" and stored.get(k) != recomputed.get(k))
    old = {m["member"]: m for m in stored.get("members", [])}
    new = {m["member"]: m for m in recomputed.get("members", [])}
    members = sorted(code for code in old.keys() | new.keys() if old.get(code) != new.get(code))
    return {"matches": stored == recomputed, "keys": differs, "members": members[:50],
            "more_members": max(len(members) - 50, 0)}


# ------------------------------------------------------------------------------------------ list, draft


def _runs_of(session: Session, entity: Entity) -> list[PayoutRun]:
    return list(session.scalars(
        select(PayoutRun).options(defer(PayoutRun.input_json), defer(PayoutRun.result_json),
                                  joinedload(PayoutRun.policy).defer(PolicyVersion.body))
        .where(PayoutRun.entity_id == entity.id).order_by(PayoutRun.year.desc(), PayoutRun.id.desc())))


def _list_page(entity: Entity, *, errors=None, form=None, status=200):
    session = get_session()
    policy = current_policy_version(session, entity)
    return render_template(
        "payouts/runs/index.html", entity=entity, can_write=can_write_entity(current_user, entity),
        runs=_runs_of(session, entity), policy=policy, errors=errors or {},
        form=form or {"year": str(china_today().year - 1)}, STATUS_LABELS=STATUS_LABELS), status


@bp.get("/runs")
@rule(*STAFF, scope="entity")
def index(code: str):
    return _list_page(entity_or_404(code))


@bp.post("/runs")
@rule(*WRITERS, write=True, scope="entity")
def create(code: str):
    entity = entity_or_404(code, write=True)
    session = get_session()
    raw = request.form.get("year", "").strip()
    named = request.form.get("replaces", "").strip()
    form = {"year": raw, "replaces": named}
    year = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else None
    if year is None or not 1949 <= year <= 2999:
        return _list_page(entity, errors={"year": [_("A year such as 2025.")]}, form=form, status=422)
    replaces = int(named) if named.isascii() and named.isdigit() and len(named) <= 18 else None
    if named and replaces is None:
        return _list_page(entity, errors={"replaces": [_("A run number such as 12.")]}, form=form, status=422)
    version = current_policy_version(session, entity)
    if version is None:
        return _list_page(entity, errors={"_schema": [_("Save a distribution policy first.")]}, form=form,
                          status=422)
    try:
        run = draft(session, entity, year, version, replaces=replaces, actor=current_actor())
    except ActionRefused as exc:
        return _list_page(entity, errors=exc.errors, form=form, status=exc.status)
    flash(_("Draft run %(id)s for %(year)s computed. Check it, then record the members' meeting.",
            id=run.id, year=year))
    return redirect(url_for(".show", code=code, run_id=run.id))


# -------------------------------------------------------------------------------------------- the run


def _run_or_404(session: Session, entity: Entity, run_id: str) -> PayoutRun:
    if not (run_id.isascii() and run_id.isdigit()) or len(run_id) > 18:
        abort(404)
    run = session.scalar(select(PayoutRun).options(defer(PayoutRun.input_json))
                         .where(PayoutRun.id == int(run_id), PayoutRun.entity_id == entity.id))
    if run is None:
        abort(404)
    return run


def _amount(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def household_rows(pools: list[dict], measures: dict[str, str], members: list[dict], locale: str) -> list[dict]:
    """The household table's rows for ``members`` (a slice of the stored result): per pool the basis,
    the amount and the formula sentence (None where the member has no line), the preferred returns
    with their sentences, total, deductions and net."""
    rows = []
    for m in members:
        by_pool = {}
        for ln in m["lines"]:
            measure = measures.get(ln["pool"], "amount")
            kind = ln["basis_kind"]
            by_pool[ln["pool"]] = {
                "basis": Decimal(ln["basis"]), "amount": Decimal(ln["amount"]),
                "money": (kind, measure if kind == "transactions" else "amount") in MONEY_BASES,
                "sentence": explain_line({**ln, "measure": measure}, locale=locale, pool_label=say_pool(ln["pool"]))}
        preferred = [(Decimal(p["amount"]), explain_preferred(p["name"], p["amount"], locale=locale))
                     for p in m.get("preferred", [])]
        rows.append({"member": m["member"], "member_no": m.get("member_no"), "name": m.get("name", ""),
                     "pools": [by_pool.get(p["name"]) for p in pools], "preferred": preferred,
                     "total": Decimal(m["total"]), "deductions": Decimal(m["deductions"]), "net": Decimal(m["net"])})
    return rows


def _run_page(entity: Entity, run: PayoutRun, *, status: int = 200, errors=None, form=None, action_errors=None):
    session = get_session()
    result = run.result
    members = result.get("members", [])
    pages = max(-(-len(members) // MEMBERS_PER_PAGE), 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    shown = members[(page - 1) * MEMBERS_PER_PAGE:page * MEMBERS_PER_PAGE]
    policy = session.get(PolicyVersion, run.policy_id)
    measures = {p["name"]: p.get("measure", "amount") for p in policy.data["pools"]} if policy else {}
    pools = result.get("pools", [])
    reversed_by = None
    if run.status == "reversed" and run.reverses_id is None:
        reversed_by = session.scalar(select(PayoutRun.id).where(PayoutRun.reverses_id == run.id))
    check = rerun_check(run) if request.args.get("rerun") == "1" else None
    checks = [{**c, "detail": say(check_detail(c))} for c in result.get("checks", [])]
    failed = [c for c in checks if not c["ok"]]
    can_write = can_write_entity(current_user, entity)
    allowed = sorted({a for (s, a) in TRANSITIONS if s == run.status and a in ACTIONS}) if can_write else []
    if run.reverses_id is not None:          # a reversing run is a record of the reversal, not to be acted on
        allowed = []
    return render_template(
        "payouts/runs/show.html", entity=entity, run=run, result=result, policy=policy, pools=pools,
        amount=_amount, reserves=[(r["name"], Decimal(r["amount"])) for r in result.get("reserves", [])],
        preferred=[(p["name"], Decimal(p["amount"])) for p in result.get("preferred", [])],
        rows=household_rows(pools, measures, shown, str(get_locale() or "zh_Hans_CN")),
        member_count=len(members), page=page, pages=pages, checks=checks, failed=failed, allowed=allowed,
        can_write=can_write, reversed_by=reversed_by, check=check, errors=errors or {}, form=form or {},
        action_errors=action_errors or [], approve_fields=APPROVE_FIELDS, STATUS_LABELS=STATUS_LABELS,
        RULE_LABELS=RULE_LABELS, BASIS_LABELS=BASIS_LABELS, POOL_NAME_LABELS=POOL_NAME_LABELS), status


@bp.get("/runs/<run_id>")
@rule(*STAFF, scope="entity")
def show(code: str, run_id: str):
    entity = entity_or_404(code)
    return _run_page(entity, _run_or_404(get_session(), entity, run_id))


@bp.post("/runs/<run_id>/approve")
@rule(*WRITERS, write=True, scope="entity")
def approve(code: str, run_id: str):
    entity = entity_or_404(code, write=True)
    session = get_session()
    run = _run_or_404(session, entity, run_id)
    form = {f.name: request.form.get(f.name, "") for f in APPROVE_FIELDS}
    try:
        meeting = MeetingSchema().load({k: v for k, v in form.items() if v != "" or k != "minutes"})
    except ValidationError as exc:
        errors = field_words(exc.messages, _)
        return _run_page(entity, run, status=422, errors=errors, form=form)
    try:
        perform(session, run, "approve", actor=current_actor(), meeting=meeting)
    except ActionRefused as exc:
        if exc.status == 409:           # not a draft (any more): no approval form to show the reason in
            return _run_page(entity, run, status=409, action_errors=[m for ms in exc.errors.values() for m in ms])
        return _run_page(entity, run, status=exc.status, errors=exc.errors, form=form)
    flash(_("Run %(id)s approved by the members' meeting of %(date)s.", id=run.id,
            date=meeting["meeting_date"].isoformat()))
    return redirect(url_for(".show", code=code, run_id=run.id))


def _action_view(action: str):
    done = {"post": N_("Run %(id)s posted to the ledger."),
            "publish": N_("Run %(id)s published: the notice period runs until %(until)s."),
            "reverse": N_("Run %(id)s reversed by run %(other)s.")}[action]

    @rule(*WRITERS, write=True, scope="entity")
    def view(code: str, run_id: str):
        entity = entity_or_404(code, write=True)
        session = get_session()
        run = _run_or_404(session, entity, run_id)
        try:
            outcome = perform(session, run, action, actor=current_actor())
        except ActionRefused as exc:
            messages = [m for ms in exc.errors.values() for m in ms]
            return _run_page(entity, run, status=exc.status, action_errors=messages)
        if action == "post" and outcome is False:
            flash(_("Run %(id)s was already posted; nothing was posted again.", id=run.id))
        else:
            flash(_(done, id=run.id, until=run.notice_until.isoformat() if run.notice_until else "",
                    other=getattr(outcome, "id", "")))
        return redirect(url_for(".show", code=code, run_id=run.id))

    view.__name__ = f"{action}_run"
    view.__doc__ = f"{action.capitalize()} the run (POST, with the form's CSRF token)."
    bp.post(f"/runs/<run_id>/{action}", endpoint=action)(view)


for _action in ("post", "publish", "reverse"):
    _action_view(_action)

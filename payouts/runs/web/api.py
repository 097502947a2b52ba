"""Distribution runs in the JSON API (``/api/v1``, flask-smorest; documented in ``/api/v1/openapi.json``).

* ``GET /runs/<id>`` — the run exactly as ``coopledger distribute --json`` prints it (INTERFACES §5);
* ``GET /entities/<code>/runs`` — the entity's runs, newest year first (a summary each);
* ``POST /entities/<code>/runs`` ``{year, policy?}`` — draft a run (201); ``policy``, a TOML/JSON string or
  an object, first becomes the entity's policy, as ``distribute --policy`` does;
* ``POST /runs/<id>/approve`` ``{meeting_date, attended, votes_for, minutes?}``, ``POST /runs/<id>/post``,
  ``…/publish``, ``…/reverse`` — the run's life (the run's JSON back; ``reverse`` adds ``reversed_by``).

Authentication, CSRF exemption and the error shape are those of :mod:`cooperatives.web.api`: a bearer
token, ``{"errors": {field: [messages]}}``; 422 for invalid input, a failed check or a short quorum,
409 when the run's state (or the books) does not allow the action, 404 outside the token's scope, 403
for auditors on writes. The write paths are the pages' (:func:`payouts.runs.web.runs.perform`).
"""

from __future__ import annotations

from flask import abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from cooperatives.web.access import can_read_entity, can_write_entity, current_actor, entity_or_404
from cooperatives.web.api import _authenticate, error, errors_doc
from cooperatives.web.idempotency import protect as idempotent_writes
from ledger.db import utc
from ledger.i18n import N_, as_message, msg
from ledger.money import fmt
from ledger.web.support import STAFF, get_session, rule
from payouts.models import PayoutRun
from payouts.runs.operations import current_policy_version, save_policy
from payouts.runs.policy import PolicyError, load_policy_text, parse_policy
from payouts.runs.snapshot import run_json
from payouts.runs.web.runs import ActionRefused, MeetingSchema, _runs_of, draft, perform

blp = Blueprint("runs_api", __name__, url_prefix="/api/v1", description="Distribution runs")
blp.before_request(_authenticate)
blp.before_request(lambda: _run_scope_first())      # a run out of scope is 404 before its body is read
idempotent_writes(blp)      # Idempotency-Key on every write (cooperatives.web.idempotency)
WRITERS = ("admin", "accountant")


# --------------------------------------------------------------------------------------------- schemas


class RunAmountSchema(Schema):
    name = fields.String()
    amount = fields.String(metadata={"description": "yuan, two decimals"})


class RunPoolSchema(Schema):
    name = fields.String()
    basis = fields.String(metadata={"description": "transactions, capital, land, labor, shares (collectives) or equal"})
    amount = fields.String()
    basis_total = fields.String()
    patronage = fields.Boolean(metadata={"description": "returns surplus by members' trade (盈余返还, 221); "
                                                        "otherwise residual (222)"})


class RunLineSchema(Schema):
    pool = fields.String()
    basis_kind = fields.String()
    basis = fields.String()
    basis_total = fields.String()
    pool_amount = fields.String()
    amount = fields.String()


class RunSourceSchema(Schema):
    from_ = fields.String(data_key="from")
    amount = fields.String()


class RunMemberSchema(Schema):
    member = fields.String(metadata={"description": "member code (a household, or an entity for a cluster project)"})
    member_no = fields.Integer()
    name = fields.String()
    lines = fields.List(fields.Nested(RunLineSchema))
    preferred = fields.List(fields.Nested(RunAmountSchema))
    total = fields.String()
    deductions = fields.String()
    net = fields.String()
    reserve_share = fields.String()
    subsidy_share = fields.String()
    sources = fields.List(fields.Nested(RunSourceSchema))


class RunCheckSchema(Schema):
    rule = fields.String()
    ok = fields.Boolean()
    detail = fields.String()


class RunSchema(Schema):
    """A run as ``coopledger distribute --json`` prints it (INTERFACES §5); amounts are strings."""

    run = fields.Integer()
    entity = fields.String()
    year = fields.Integer()
    status = fields.String(metadata={"description": "draft, approved, posted, published, paid, reversed"})
    surplus = fields.String()
    prior_loss = fields.String()
    brought_forward = fields.String()
    reserves = fields.List(fields.Nested(RunAmountSchema))
    distributable = fields.String()
    preferred = fields.List(fields.Nested(RunAmountSchema))
    pools = fields.List(fields.Nested(RunPoolSchema))
    members = fields.List(fields.Nested(RunMemberSchema), metadata={"description": "by member code"})
    checks = fields.List(fields.Nested(RunCheckSchema))
    reversed_by = fields.Integer(metadata={"description": "after reverse: the reversing run"})


class RunSummarySchema(Schema):
    run = fields.Integer()
    entity = fields.String()
    year = fields.Integer()
    status = fields.String()
    distributable = fields.String()
    policy_version = fields.Integer()
    created_at = fields.DateTime()
    meeting_date = fields.Date(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    posted_at = fields.DateTime(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    notice_until = fields.Date(allow_none=True)
    reverses = fields.Integer(allow_none=True)


class PolicyField(fields.Field):
    """A policy as TOML (or JSON) text, or as a JSON object with the same keys (INTERFACES §4)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str | dict):
            raise ValidationError(msg(N_("a TOML or JSON policy as a string, or a JSON object")))
        try:
            return load_policy_text(value) if isinstance(value, str) else parse_policy(value)
        except PolicyError as exc:
            raise ValidationError([as_message(p) for p in exc.problems]) from None


class RunDraftSchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=1949, max=2999))
    replaces = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**53), metadata={
        "description": "the run in force for the year that this one replaces (required while there is one)"})
    policy = PolicyField(metadata={
        "description": "optional: the policy (TOML/JSON text or an object); it becomes the entity's policy",
        "oneOf": [{"type": "string"}, {"type": "object"}]})


class RunMeetingSchema(MeetingSchema):
    """The members' meeting that approved the run."""


class RunErrorsSchema(Schema):
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


# ----------------------------------------------------------------------------------------------- views


def _run_in_scope(run_id: int, *, write: bool = False) -> PayoutRun:
    """The run ``run_id`` if the token's user may see (with ``write``: change) its entity; else 404/403."""
    run = get_session().scalar(select(PayoutRun).options(joinedload(PayoutRun.entity), )
                               .where(PayoutRun.id == run_id))
    if run is None or not can_read_entity(current_user, run.entity):
        abort(404)
    if write and not can_write_entity(current_user, run.entity):
        abort(403)
    return run


def _run_scope_first() -> None:
    run_id = (request.view_args or {}).get("run_id")
    if run_id is not None:
        declared = getattr(current_app.view_functions.get(request.endpoint), "access_rule", None)
        _run_in_scope(run_id, write=bool(declared and declared.write))


def _run_response(run: PayoutRun, status: int = 200, **extra):
    response = jsonify({**run_json(run), **extra})
    response.status_code = status
    return response


@blp.route("/runs/<id:run_id>")
@blp.response(200, RunSchema)
@blp.alt_response(404, schema=RunErrorsSchema, description="no such run, or not in the token's scope")
@errors_doc(403)
@rule(*STAFF, scope="entity")
def get_run(run_id: int):
    """A distribution run, exactly as ``coopledger distribute --json`` prints it."""
    return _run_response(_run_in_scope(run_id))


@blp.route("/entities/<code>/runs", methods=["GET"])
@blp.response(200, RunSummarySchema(many=True))
@errors_doc(403, 404)
@rule(*STAFF, scope="entity")
def list_runs(code: str):
    """The entity's runs, newest year first (summaries; ``GET /runs/<id>`` for the figures)."""
    entity = entity_or_404(code)
    return [{"run": r.id, "entity": entity.code, "year": r.year, "status": r.status,
             "distributable": fmt(r.distributable), "policy_version": r.policy.version if r.policy else None,
             "created_at": utc(r.created_at), "meeting_date": r.meeting_date, "approved_at": utc(r.approved_at),
             "posted_at": utc(r.posted_at), "published_at": utc(r.published_at), "notice_until": r.notice_until,
             "reverses": r.reverses_id} for r in _runs_of(get_session(), entity)]


@blp.route("/entities/<code>/runs", methods=["POST"])
@blp.arguments(RunDraftSchema)
@blp.response(201, RunSchema)
@blp.alt_response(422, schema=RunErrorsSchema, description="invalid year or policy (every problem listed)")
@errors_doc(403, 404)
@rule(*WRITERS, write=True, scope="entity")
def create_run(data: dict, code: str):
    """Draft a run of ``year`` from the books as they stand, under the entity's policy — or under
    ``policy``, which is saved as the entity's new policy version first."""
    entity = entity_or_404(code, write=True)
    session = get_session()
    if data.get("policy") is not None:
        version = save_policy(session, entity, data["policy"], actor=current_actor())
    else:
        version = current_policy_version(session, entity)
        if version is None:
            return error(422, {"policy": [_("%(code)s has no distribution policy yet: send one as 'policy'",
                                              code=entity.code)]})
    try:
        run = draft(session, entity, data["year"], version, replaces=data["replaces"], actor=current_actor())
    except ActionRefused as exc:
        return error(exc.status, exc.errors)
    return _run_response(run, 201)


@blp.route("/runs/<id:run_id>/approve", methods=["POST"])
@blp.arguments(RunMeetingSchema)
@blp.response(200, RunSchema)
@blp.alt_response(409, schema=RunErrorsSchema, description="the run is not a draft")
@blp.alt_response(422, schema=RunErrorsSchema, description="a check fails or the meeting's quorum is short")
@errors_doc(403, 404)
@rule(*WRITERS, write=True, scope="entity")
def approve_run(data: dict, run_id: int):
    """Record the members' meeting that approved the run (refused when a check or the quorum fails)."""
    run = _run_in_scope(run_id, write=True)
    try:
        perform(get_session(), run, "approve", actor=current_actor(), meeting=data)
    except ActionRefused as exc:
        return error(exc.status, exc.errors)
    return _run_response(run)


def _action_route(action: str, doc: str) -> None:
    @rule(*WRITERS, write=True, scope="entity")
    def view(run_id: int):
        run = _run_in_scope(run_id, write=True)
        try:
            outcome = perform(get_session(), run, action, actor=current_actor())
        except ActionRefused as exc:
            return error(exc.status, exc.errors)
        if action == "reverse":
            return _run_response(run, reversed_by=outcome.id)
        return _run_response(run)

    view.__name__ = f"{action}_run"
    view.__doc__ = doc
    blp.route(f"/runs/<id:run_id>/{action}", methods=["POST"], endpoint=f"{action}_run")(
        blp.alt_response(409, schema=RunErrorsSchema, description="the run's state does not allow this")(
            blp.response(200, RunSchema)(errors_doc(403, 404)(view))))


_action_route("post", "Post the approved run to the ledger, once (posting it again posts nothing).")
_action_route("publish", "Open the notice period: households see their statements.")
_action_route("reverse", "Post a reversing run that undoes every entry of the run (``reversed_by`` names it).")


def init_runs_api(app, csrf) -> None:
    """Register the runs API on the app's flask-smorest Api (created by ``cooperatives.web.api.init_api``)."""
    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    api.register_blueprint(blp)
    csrf.exempt(blp)

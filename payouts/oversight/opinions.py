"""Audit opinions (审计意见): the township auditor's verdict on an entity's year — no issue, or issues
described in words. Never edited: a new opinion on the same entity and year supersedes the earlier one,
and the history stays."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from cooperatives.access import Principal, audits, operation
from cooperatives.models import Entity, User
from cooperatives.operations import audit
from ledger.i18n import N_, msg
from payouts.models import AuditOpinion
from payouts.oversight.integrity import stamp
from payouts.oversight.tables import Column, Table

VERDICTS = {"no_issue": N_("No issue found"), "issues": N_("Issues found")}
HISTORY = 200

COLUMNS = (
    Column("created_at", N_("Recorded at")),
    Column("entity_code", N_("Code")),
    Column("entity_name", N_("Entity")),
    Column("year", N_("Year"), "int"),
    Column("verdict", N_("Opinion")),
    Column("text", N_("Issues")),
    Column("auditor", N_("Auditor")),
)


class OpinionSchema(Schema):
    """The opinion form: entity code, year, verdict, and the issues in words (required when there are)."""

    class Meta:
        unknown = EXCLUDE

    entity = fields.String(required=True, validate=validate.Length(min=1, max=40))
    year = fields.Integer(required=True, strict=False, validate=validate.Range(min=1949, max=2999))
    verdict = fields.String(required=True, validate=validate.OneOf(tuple(VERDICTS)))
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))

    @validates_schema
    def _issues_need_words(self, data, **_kwargs):
        text = (data.get("text") or "").strip()
        data["text"] = text or None
        if data.get("verdict") == "issues" and not text:
            raise ValidationError(msg(N_("Describe the issues found.")), "text")


@operation(audits())
def record_opinion(session: Session, entity: Entity, *, year: int, verdict: str, text: str | None,
                   actor: Principal) -> AuditOpinion:
    """Store a new opinion (flushes; the caller commits) and log it."""
    opinion = AuditOpinion(entity_id=entity.id, year=year, verdict=verdict, text=text, auditor_id=actor.user_id)
    session.add(opinion)
    audit(session, actor_id=actor.user_id, action="audit_opinion", target=f"entity:{entity.code}:{year}",
          entity_id=entity.id, detail=verdict)
    session.flush()
    return opinion


def latest_opinions(session: Session, entity_ids: list[int]) -> dict[tuple[int, int], AuditOpinion]:
    """``(entity id, year) -> the opinion in force`` (the latest recorded), one statement."""
    if not entity_ids:
        return {}
    newest = (select(func.max(AuditOpinion.id)).where(AuditOpinion.entity_id.in_(entity_ids))
              .group_by(AuditOpinion.entity_id, AuditOpinion.year))
    return {(o.entity_id, o.year): o for o in session.scalars(select(AuditOpinion).where(AuditOpinion.id.in_(newest)))}


def opinions_table(session: Session, township_id: int, *, verdict_label, entity_id: int | None = None,
                   superseded_label: str = "") -> Table:
    """Every opinion of the township, newest first; one superseded by a later one is marked so."""
    stmt = (select(AuditOpinion, User.display_name).options(joinedload(AuditOpinion.entity))
            .join(Entity, Entity.id == AuditOpinion.entity_id).join(User, User.id == AuditOpinion.auditor_id)
            .where(Entity.township_id == township_id).order_by(AuditOpinion.id.desc()).limit(HISTORY))
    if entity_id is not None:
        stmt = stmt.where(AuditOpinion.entity_id == entity_id)
    rows, seen = [], set()
    for opinion, auditor in session.execute(stmt):
        key = (opinion.entity_id, opinion.year)
        current = key not in seen
        seen.add(key)
        label = verdict_label(opinion.verdict) + ("" if current else f" ({superseded_label})")
        rows.append({"created_at": stamp(opinion.created_at), "entity_code": opinion.entity.code,
                     "entity_name": opinion.entity.name, "year": opinion.year, "verdict": label,
                     "text": opinion.text or "", "auditor": auditor, "_current": current,
                     "_verdict": opinion.verdict})
    return Table(COLUMNS, rows)

"""Run review: every distribution run of a township with its policy version, compliance checks, members'
meeting, posting, notice period and objections — one row per run, three statements in all."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, load_only

from cooperatives.models import Entity
from ledger.i18n import N_
from payouts.models import IN_FORCE, Objection, PayoutRun, PolicyVersion
from payouts.oversight.tables import Column, Table

COLUMNS = (
    Column("entity_code", N_("Code")),
    Column("entity_name", N_("Entity")),
    Column("year", N_("Year"), "int"),
    Column("run", N_("Run"), "int"),
    Column("status", N_("Status")),
    Column("policy", N_("Policy version"), "int"),
    Column("checks", N_("Checks")),
    Column("meeting_date", N_("Members' meeting"), "date"),
    Column("attendance", N_("Attended / members")),
    Column("votes_for", N_("Votes for"), "int"),
    Column("posted_on", N_("Posted on"), "date"),
    Column("notice_until", N_("Notice period until"), "date"),
    Column("objections_open", N_("Open objections"), "int", total=True),
    Column("objections", N_("Objections"), "int", total=True),
    Column("distributable", N_("Distributable surplus"), "money", total=True),
)


def runs_table(session: Session, township_id: int, *, year: int | None = None, entity_id: int | None = None,
               status_label=lambda s: s, checks_label=lambda passed, total: f"{passed}/{total}") -> Table:
    """The township's runs (newest year first), drafts and reversed runs included — an auditor sees what
    was tried as well as what is in force."""
    stmt = (select(PayoutRun)
            .options(load_only(PayoutRun.id, PayoutRun.entity_id, PayoutRun.year, PayoutRun.status,
                               PayoutRun.policy_id, PayoutRun.result_json, PayoutRun.meeting_date,
                               PayoutRun.attended, PayoutRun.members_count, PayoutRun.votes_for,
                               PayoutRun.posted_at, PayoutRun.notice_until, PayoutRun.distributable,
                               PayoutRun.reverses_id),
                     joinedload(PayoutRun.entity).load_only(Entity.code, Entity.name),
                     joinedload(PayoutRun.policy).load_only(PolicyVersion.version))
            .join(Entity, Entity.id == PayoutRun.entity_id)
            .where(Entity.township_id == township_id)
            .order_by(PayoutRun.year.desc(), Entity.code, PayoutRun.id))
    if year is not None:
        stmt = stmt.where(PayoutRun.year == year)
    if entity_id is not None:
        stmt = stmt.where(PayoutRun.entity_id == entity_id)
    runs = list(session.scalars(stmt))
    counts = _objection_counts(session, [r.id for r in runs])
    rows = []
    for run in runs:
        checks = json.loads(run.result_json).get("checks", [])
        failed = [c["rule"] for c in checks if not c["ok"]]
        opened, total = counts.get(run.id, (0, 0))
        rows.append({
            "entity_code": run.entity.code, "entity_name": run.entity.name, "year": run.year, "run": run.id,
            "status": status_label(run.status), "policy": run.policy.version if run.policy else None,
            "checks": checks_label(len(checks) - len(failed), len(checks)),
            "meeting_date": run.meeting_date,
            "attendance": f"{run.attended}/{run.members_count}" if run.attended is not None else "",
            "votes_for": run.votes_for, "posted_on": run.posted_at.date() if run.posted_at else None,
            "notice_until": run.notice_until, "objections_open": opened, "objections": total,
            "distributable": run.distributable,
            "_failed": failed, "_status": run.status, "_reverses": run.reverses_id})
    return standing_totals(Table(COLUMNS, rows, total_label=TOTAL_LABEL))


#: the totals row's label: what it adds up
TOTAL_LABEL = N_("Total of the runs in force (drafts, discarded and reversed runs not counted)")


def standing_totals(table: Table) -> Table:
    """Totals over the runs that stand — posted, published or paid — only: a draft, a discarded run and a run
    reversed (replaced) are listed but add nothing, or the same distribution would be counted twice."""
    standing = Table(table.columns, [r for r in table.rows if r["_status"] in IN_FORCE]).with_totals()
    table.totals = standing.totals
    return table


def _objection_counts(session: Session, run_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not run_ids:
        return {}
    rows = session.execute(select(Objection.run_id, Objection.status, func.count())
                           .where(Objection.run_id.in_(run_ids)).group_by(Objection.run_id, Objection.status))
    out: dict[int, list[int]] = {}
    for run_id, status, n in rows:
        counts = out.setdefault(run_id, [0, 0])
        counts[1] += n
        if status == "open":
            counts[0] += n
    return {k: (v[0], v[1]) for k, v in out.items()}

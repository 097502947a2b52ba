"""The audit log page (who did what, when) and the one door to a full ID or bank number.

* ``/audit`` — the township auditor reads the log of every entity of their township (the admin: all of
  it, including sign-ins and password changes of users without an entity), newest first, filtered by
  entity or action. Read only: nothing here changes the log.
* ``POST /e/<code>/members/<member_code>/reveal`` — the entity's accountant (or the admin) sees a
  household's full ID and bank numbers, for a stated reason (e.g. a bank transfer); the reveal is logged
  with who, when, which household, which fields and why. Auditors and members see masked numbers only.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from cooperatives import privacy
from cooperatives.labels import RECORD_LABELS
from cooperatives.models import AuditLog, Entity, Household, Member, User
from cooperatives.web.access import current_actor, entity_or_404
from cooperatives.web.display import SHEET_LABELS
from ledger.i18n import N_
from ledger.web.support import get_session, rule

bp = Blueprint("audit", __name__)
PER_PAGE = 100
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
ACTION_LABELS = {
    "login": N_("Signed in"), "password": N_("Changed own password"), "reset-password": N_("Reset a password"),
    "reveal": N_("Viewed full ID or bank number"), "rotate-keys": N_("Re-encrypted personal data"),
    "create": N_("Registered"), "record": N_("Recorded"), "import": N_("Imported a workbook"),
    "policy": N_("Saved the distribution policy"), "close-year": N_("Closed the year"),
    "draft-run": N_("Drafted a run"), "approve-run": N_("Approved a run"), "post-run": N_("Posted a run"),
    "publish-run": N_("Published a run"), "reverse-run": N_("Reversed a run"), "object": N_("Objection"),
    "publish-disclosure": N_("Published a financial disclosure"),
    "answer": N_("Answered an objection"), "receipt": N_("Recorded a payment"), "confirm": N_("Confirmed receipt"),
    "set-pin": N_("Gave a new PIN"),
    "issue-token": N_("Issued an API token"), "revoke-token": N_("Revoked an API token"),
    "link": N_("Linked an entity to a cluster project"), "audit_opinion": N_("Recorded an audit opinion"),
    "integrity_check": N_("Verified the books"), "final-year": N_("Closed the final year of the books"),
    "voucher": N_("Posted a voucher"), "opening": N_("Posted the opening balances"), "void": N_("Voided a record"),
    "carry_over": N_("Carried the books over to the new system"), "in-use": N_("Put an asset in use"),
    "dispose": N_("Disposed of an asset"), "create-township": N_("Created a township"),
    "create-village": N_("Created a village"), "create-user": N_("Created a user"),
    "enable-user": N_("Enabled a user"), "disable-user": N_("Disabled a user"),
    "finding_handled": N_("Marked a finding handled"),
    "correct-account": N_("Corrected a bank account"), "batch-create": N_("Made a bank batch"),
    "batch-sent": N_("Handed a bank batch to the bank"), "batch-results": N_("Read the bank's return file"),
    "batch-close": N_("Closed a bank batch"), "batch-cancel": N_("Cancelled a bank batch"),
    "batch-sms": N_("Made the texts to households"), "monitoring-import": N_("Imported the county's monitoring list"),
}
#: what a log entry's target names, by the word before its colon ("run:12" is run 12)
TARGET_LABELS = {
    "run": N_("run"), "entity": N_("entity"), "import": N_("import"), "objection": N_("objection"),
    "entry": N_("voucher"), "journal": N_("voucher"), "policy": N_("policy version"),
    "disclosure": N_("disclosure"), "receipt": N_("payment"), "user": N_("user"), "household": N_("household"),
    "member": N_("member"), "township": N_("township"), "village": N_("village"), "finding": N_("finding"),
    "statement": N_("statement"), "book": N_("book"), "households": N_("households"), "batch": N_("bank batch"),
    "monitoring-list": N_("monitoring list"),
    **RECORD_LABELS,
}
#: notes the code writes in fixed words (an audit opinion's verdict is one of payouts' VERDICTS)
DETAILS = {"confirmed over a plausibility warning (确认)": N_("confirmed over a plausibility warning (确认)"),
           "no_issue": N_("No issue found"), "issues": N_("Issues found"),
           # a new user's role (the log of create-user)
           "admin": N_("Administrator"), "accountant": N_("Accountant"), "auditor": N_("Township auditor"),
           "member": N_("Member household")}
#: counts of an import's rows that are not sheets: rows confirmed over a warning, opening balance lines
COUNT_WORDS = {"confirmed": N_("confirmed over a warning"), "opening": N_("opening balances"),
               # a bank batch: its households, those listed apart; its results; its texts
               "lines": N_("households in the batch"), "apart": N_("listed apart"), "paid": N_("paid"),
               "failed": N_("failed"), "texts": N_("texts"), "without_phone": N_("without a phone"),
               # a county monitoring list: its rows, matched or not, periods opened and closed, conflicts
               "rows": N_("rows"), "matched": N_("matched"), "unmatched": N_("unmatched"),
               "opened": N_("periods opened"), "closed": N_("periods closed"), "conflicts": N_("conflicts")}
#: personal numbers a reveal shows, or a correction changes (cooperatives.privacy.REVEALABLE, correct_account)
FIELD_WORDS = {"id_number": N_("ID number"), "bank_account": N_("bank account"), "head_name": N_("head of household")}
_FIELDS = re.compile(r"^((?:id_number|bank_account|head_name|-)(?:,(?:id_number|bank_account|head_name))*)"
                     r"(?: ×(\d+) \((xlsx|csv)\))?(?:: (.*))?$", re.S)
_COUNTS = re.compile(r"^[a-z_]+=\d+(, [a-z_]+=\d+)*$")
_LINES = re.compile(r"^(\d+) lines$")
_REPLACES = re.compile(r"^replaces run:(\d+)$")


def describe_target(target: str) -> tuple[str, str]:
    """``run:12`` as ("run", "12") in the reader's words; a code or a period (``JGP-TEA:2025``) as it is. A user's
    target is (label, username): the page marks the username as a name not to translate."""
    kind, sep, rest = target.partition(":")
    if sep and kind in TARGET_LABELS:
        return _(TARGET_LABELS[kind]), rest
    return target, ""


_PROBLEMS = re.compile(r"^(\d+)( problem\(s\))?$")


def describe_detail(detail: str | None, action: str = "") -> str:
    """A log entry's note in the reader's words where it has a known shape (counts of an import's rows, lines of
    a voucher, the run a draft replaces, a verdict); anything else (a reason typed by a person) as written."""
    if not detail:
        return ""
    if detail in DETAILS:
        return _(DETAILS[detail])
    if action == "integrity_check":          # the differences found ("ok" and "N problem(s)" in older entries)
        if detail == "ok":
            return _("no difference")
        if found := _PROBLEMS.match(detail):
            return _("%(n)s differences", n=found.group(1))
    if _COUNTS.match(detail):
        counts = (part.split("=") for part in detail.split(", "))
        words = {**SHEET_LABELS, **COUNT_WORDS}
        return "，".join(f"{_(words[k]) if k in words else k} {n}" for k, n in counts)
    if found := _FIELDS.match(detail):      # a reveal (fields [× count (file)]: the reason typed) or a correction
        fields = "、".join(_(FIELD_WORDS[f]) for f in found.group(1).split(",") if f in FIELD_WORDS) or "—"
        if found.group(2):
            fields = _("%(fields)s × %(n)s (%(format)s file)", fields=fields, n=found.group(2), format=found.group(3))
        return f"{fields}: {found.group(4)}" if found.group(4) is not None else fields
    if found := _LINES.match(detail):
        return _("%(n)s lines", n=found.group(1))
    if found := _REPLACES.match(detail):
        return _("replaces run %(run)s", run=found.group(1))
    return detail


def china_time(moment: dt.datetime | None) -> str:
    """A stored moment (UTC; naive on SQLite) as the time in China, to the second."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


@bp.get("/audit")
@rule("auditor", "admin", scope="township")
def log():
    db = get_session()
    stmt = (select(AuditLog, User.username, User.display_name, Entity.code, Entity.name)
            .outerjoin(User, User.id == AuditLog.actor_id).outerjoin(Entity, Entity.id == AuditLog.entity_id))
    if current_user.role == "auditor":
        stmt = stmt.where(Entity.township_id == current_user.township_id)
    entity = None
    if request.args.get("entity"):
        entity = entity_or_404(request.args["entity"])
        stmt = stmt.where(AuditLog.entity_id == entity.id)
    action = request.args.get("action", "")
    if action:
        stmt = stmt.where(AuditLog.action == action[:40])
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    pages = max(-(-total // PER_PAGE), 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    rows = db.execute(stmt.order_by(AuditLog.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    entries = [{"id": r.AuditLog.id, "at": china_time(r.AuditLog.at), "who": r.display_name or "",
                "username": r.username or "", "action": r.AuditLog.action,
                "label": _(ACTION_LABELS[r.AuditLog.action]) if r.AuditLog.action in ACTION_LABELS
                else r.AuditLog.action, "target": describe_target(r.AuditLog.target), "user_target": r.AuditLog.target.startswith("user:"), "entity": r.code or "",
                "detail": describe_detail(r.AuditLog.detail, r.AuditLog.action)} for r in rows]
    return render_template("cooperatives/audit_log.html", entries=entries, entity=entity, action=action,
                           actions=ACTION_LABELS, page=page, pages=pages, total=total)


@bp.post("/e/<code>/members/<member_code>/reveal")
@rule("admin", "accountant", write=True, scope="entity")
def reveal(code: str, member_code: str):
    entity = entity_or_404(code, write=True)
    db = get_session()
    row = db.execute(select(Member, Household).join(Household, Household.id == Member.household_id)
                     .where(Member.entity_id == entity.id, Member.code == member_code)).first()
    if row is None:
        abort(404)
    member, household = row
    back = url_for("entities.member", code=entity.code, member_code=member_code)
    try:
        values = privacy.reveal(db, entity, member, actor=current_actor(), reason=request.form.get("reason", ""))
    except ValueError:
        db.rollback()
        return render_template("cooperatives/reveal.html", entity=entity, household=household, values=None,
                               back=back, error=_("Say why the full numbers are needed (at most 200 characters), "
                                                  "e.g. 'bank transfer of the 2025 payout'.")), 422
    db.commit()
    response = current_app.make_response(render_template(
        "cooperatives/reveal.html", entity=entity, household=household, values=values, back=back, error=None))
    response.headers["Cache-Control"] = "no-store"
    return response

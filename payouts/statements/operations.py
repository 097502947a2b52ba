"""What households and accountants do with statements: verify a printed one, object to a line,
answer, record a payout receipt (posting it to the ledger), confirm receipt, set a household's PIN.
Each takes a Session, flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.access import Principal, is_household, keeps_books, keeps_household, operation
from cooperatives.models import Entity, Household, Member
from cooperatives.operations import audit
from cooperatives.privacy import mask_name
from cooperatives.users import HASHER, verify_secret
from ledger.chart import account_for_role
from ledger.clock import china_today
from ledger.db import money_sum
from ledger.entries import EntryDraft, PostingDraft
from ledger.errors import Problem
from ledger.i18n import N_, label, msg
from ledger.models import JournalEntry, Party, Posting
from ledger.operations import post_entry
from payouts.models import (
    IN_FORCE,
    OPEN_BATCH,
    Objection,
    PayoutBatch,
    PayoutBatchLine,
    PayoutMember,
    PayoutRun,
    Receipt,
    StatementSnapshot,
)
from payouts.statements.context import digest_of
from payouts.statements.visits import end_visits


class StatementError(ValueError):
    """Refused for a reason the user can fix (outside the notice period, more than is owed…): ``problem``
    names the field and says why, translatably."""

    def __init__(self, column: str | None, template: str, *, code: str, **params):
        self.problem = Problem.of(msg(template, code=code, **params), column)
        self.problems = [self.problem]
        super().__init__(str(self.problem.reason))


# ------------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Verification:
    found: bool
    kind: str = ""                  # "statement" or "notice"
    entity: str = ""
    entity_code: str = ""
    year: int = 0
    name: str = ""                  # masked
    net: Decimal | None = None
    matches_ledger: bool = False
    amount_matches: bool | None = None   # when the printed amount was given
    status: str = ""                # the run's status
    superseded_by: int | None = None
    run_id: int | None = None


def superseding_run(session: Session, run: PayoutRun) -> int | None:
    """The run now in force for the same entity and year, when it is not ``run`` itself."""
    current = session.scalar(select(PayoutRun.id).where(
        PayoutRun.entity_id == run.entity_id, PayoutRun.year == run.year, PayoutRun.status.in_(IN_FORCE),
        PayoutRun.id != run.id))
    if current is None and run.status == "reversed":
        return session.scalar(select(PayoutRun.id).where(PayoutRun.reverses_id == run.id))
    return current


def verify_code(session: Session, code: str, *, amount: Decimal | None = None) -> Verification:
    """Does the statement or notice list printed with ``code`` match the ledger? Public: reveals
    only the entity, the year, the masked name and the net."""
    code = code.strip().upper()
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.code == code))
    if snap is not None:
        run = snap.run
        data = snap.content
        net = Decimal(data["net"])
        intact = digest_of(snap.data) == snap.digest and data["run_digest"] == run.digest
        posted = _posted_total(session, run, snap.member_code)
        stored = session.scalar(select(PayoutMember.net).where(PayoutMember.run_id == run.id,
                                                               PayoutMember.code == snap.member_code))
        matches = intact and stored == net and (posted is None or posted == Decimal(data["total"]))
        return Verification(True, "statement", run.entity.name, run.entity.code, run.year,
                            mask_name(data["member"]["name"]), net, matches,
                            None if amount is None else amount == net, run.status,
                            superseding_run(session, run), run.id)
    run = session.scalar(select(PayoutRun).where(PayoutRun.notice_code == code))
    if run is not None:
        total = Decimal(run.result["distributable"])
        return Verification(True, "notice", run.entity.name, run.entity.code, run.year, "", total,
                            run.digest is not None, None if amount is None else amount == total, run.status,
                            superseding_run(session, run), run.id)
    return Verification(False)


def _posted_total(session: Session, run: PayoutRun, party: str) -> Decimal | None:
    """What the run's posted entries credited to the member (pools and preferred), or None if unposted."""
    if run.status not in (*IN_FORCE, "reversed"):
        return None
    credited = session.scalar(
        select(money_sum(Posting.__table__.c.amount)).join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Party, Party.id == Posting.party_id)
        .where(JournalEntry.book_id == run.entity.book_id, Party.code == party,
               JournalEntry.source.like(f"run:{run.id}:pool:%") | (JournalEntry.source == f"run:{run.id}:preferred")))
    return -credited


# ---------------------------------------------------------------------------------------- objections


def in_notice_period(run: PayoutRun, today: dt.date | None = None) -> bool:
    today = today or china_today()
    return run.status == "published" and run.notice_until is not None and today <= run.notice_until


def _statement_household(session, snap, *args, **kwargs):
    return snap.household_id


def _statement_entity(session, snap, *args, **kwargs):
    return snap.run.entity


def _objection_entity(session, objection, *args, **kwargs):
    return objection.statement.run.entity


#: the longest objection a household may write (the page says so, and so does this operation)
OBJECTION_MAX = 500


@operation(is_household(_statement_household))
def record_objection(session: Session, snap: StatementSnapshot, *, line: str, text: str, actor: Principal,
                     today: dt.date | None = None) -> Objection:
    """A household objects to one line of its statement; only while the notice period is open."""
    if not in_notice_period(snap.run, today):
        raise StatementError("_schema", N_("Objections are taken during the notice period only. Please speak to "
                                           "the cooperative's accountant."), code="notice_closed")
    text = (text or "").strip()
    if not text or len(text) > OBJECTION_MAX:
        raise StatementError("text", N_("Write what is wrong in a few words (at most %(n)s characters)."),
                             n=OBJECTION_MAX, code="objection_length")
    lines = {ln["pool"] for ln in snap.content["lines"]} | {"deductions", "total", "contributed"}
    if line not in lines:
        raise StatementError("line", N_("Choose the line of the statement you object to."), code="no_such_line")
    objection = Objection(statement_id=snap.id, run_id=snap.run_id, line=line, text=text, created_by=actor.user_id)
    session.add(objection)
    session.flush()
    audit(session, actor_id=actor.user_id, action="object", target=f"objection:{objection.id}",
          entity_id=snap.run.entity_id)
    return objection


#: the longest answer to an objection
ANSWER_MAX = 2000


@operation(keeps_books(_objection_entity))
def answer_objection(session: Session, objection: Objection, *, answer: str, actor: Principal) -> Objection:
    """The accountant's answer. A correction is a new run, never an edit of this one."""
    answer = (answer or "").strip()
    if not answer or len(answer) > ANSWER_MAX:
        raise StatementError("answer", N_("Write the answer the household will read (at most %(n)s characters)."),
                             n=ANSWER_MAX, code="answer_length")
    objection.answer, objection.status = answer, "answered"
    objection.answered_at, objection.answered_by = dt.datetime.now(dt.UTC), actor.user_id
    audit(session, actor_id=actor.user_id, action="answer", target=f"objection:{objection.id}",
          entity_id=objection.statement.run.entity_id)
    session.flush()
    return objection


def open_objections(session: Session, entity_ids: list[int] | None = None) -> list[Objection]:
    stmt = select(Objection).join(PayoutRun, PayoutRun.id == Objection.run_id).where(Objection.status == "open")
    if entity_ids is not None:
        stmt = stmt.where(PayoutRun.entity_id.in_(entity_ids))
    return list(session.scalars(stmt.order_by(Objection.created_at)))


# ------------------------------------------------------------------------------------------ receipts


def paid_so_far(session: Session, snap: StatementSnapshot) -> Decimal:
    return session.scalar(select(money_sum(Receipt.amount)).where(Receipt.statement_id == snap.id))


def in_open_batch(session: Session, snap: StatementSnapshot) -> bool:
    """Whether the household is in a bank batch of the run still open (created or sent): the bank may pay it."""
    return session.scalar(
        select(PayoutBatchLine.id).join(PayoutBatch, PayoutBatch.id == PayoutBatchLine.batch_id)
        .where(PayoutBatchLine.statement_id == snap.id, PayoutBatchLine.seq.is_not(None),
               PayoutBatch.status.in_(OPEN_BATCH)).limit(1)) is not None


def has_payment(session: Session, snap: StatementSnapshot) -> bool:
    """Whether a payment to the household has been recorded against this statement (a receipt, of any amount)."""
    return session.scalar(select(Receipt.id).where(Receipt.statement_id == snap.id)
                          .limit(1)) is not None


@operation(keeps_books(_statement_entity))
def record_receipt(session: Session, snap: StatementSnapshot, *, amount: Decimal, method: str, on: dt.date,
                   reference: str | None = None, signed: bool = False, actor: Principal) -> Receipt:
    """Record a payout to the household and post it: Dr 221/222 (what the run owes it) / Cr bank or cash."""
    from payouts.runs.labels import STATUS_LABELS

    run = snap.run
    if run.status not in IN_FORCE:
        raise StatementError("_schema", N_("Only a run in force is paid out; this run is %(status)s."),
                             status=label(STATUS_LABELS.get(run.status, run.status)), code="run_not_in_force")
    if method not in ("bank", "cash", "mobile"):
        raise StatementError("method", N_("Choose bank, cash or mobile."), code="method")
    if method == "cash" and not signed:
        raise StatementError("signed", N_("Cash is paid against the household's signature or thumbprint on the roll: "
                                          "tick the box once it is signed."), code="cash_unsigned")
    if in_open_batch(session, snap):
        raise StatementError("_schema", N_("This household is in a bank batch not yet answered: record its payment "
                                           "from the bank's return file, or cancel the batch first."),
                             code="in_open_batch")
    net = Decimal(snap.content["net"])
    already = paid_so_far(session, snap)
    if amount <= 0 or already + amount > net:
        raise StatementError("amount", N_("%(amount)s is more than the %(owed)s still owed to this household."),
                             amount=amount, owed=net - already, code="more_than_owed")
    entity = session.get(Entity, run.entity_id)
    receipt = Receipt(statement_id=snap.id, run_id=run.id, date=on, amount=amount, method=method,
                      reference=reference, signed=signed, recorded_by=actor.user_id)
    session.add(receipt)
    session.flush()
    legs = receipt_legs(entity, snap.content, snap.member_code, amount, already)
    legs.append(PostingDraft(account_for_role(entity.chart, "cash" if method == "cash" else "bank"), -amount))
    receipt.entry_id = post_entry(session, entity.book, EntryDraft(
        date=on, memo=f"支付{run.year}年收益分配 {snap.member_code}", source=f"receipt:{receipt.id}",
        postings=tuple(legs)), actor_id=actor.user_id).id
    session.execute(PayoutMember.__table__.update().where(
        PayoutMember.run_id == run.id, PayoutMember.code == snap.member_code).values(paid=already + amount))
    if entity.kind == "cluster_project":
        received_by_member_entity(session, entity, snap.member_code, amount, on, method, actor)
    mark_paid_when_done(session, run)
    audit(session, actor_id=actor.user_id, action="receipt", target=f"receipt:{receipt.id}", entity_id=entity.id)
    session.flush()
    return receipt


def received_by_member_entity(session: Session, project: Entity, code: str, amount: Decimal, on: dt.date,
                               method: str, actor: Principal) -> None:
    """A cluster project paying a member entity: the same money received in that entity's own book, against the
    receivable the project's run booked there (:func:`cooperatives.operations.receive_project_share`)."""
    from cooperatives.operations import RecordError, receive_project_share

    member = session.scalar(select(Member).where(Member.entity_id == project.id, Member.code == code))
    if member is None or member.member_entity_id is None:
        return
    try:
        receive_project_share(session, project, session.get(Entity, member.member_entity_id), amount=amount, on=on,
                              method=method, actor=actor)
    except RecordError as exc:
        raise StatementError("_schema", N_("%(member)s cannot book this payment in its books: %(reason)s"),
                             member=code, reason=exc.problems[0].reason, code="member_books_refuse") from None


def receipt_legs(entity: Entity, data: dict, member_code: str, amount: Decimal, already: Decimal) -> list[PostingDraft]:
    """The debit legs of paying ``amount`` to a member whose statement content is ``data`` and who was paid
    ``already``: the patronage payable (221) first, then the residual payable (222), net of deductions — by hand
    or from a bank batch alike."""
    returns = {p["name"] for p in data["policy_pools"] if p.get("patronage", p["basis"] == "transactions")}
    patronage = sum((Decimal(ln["amount"]) for ln in data["lines"] if ln["pool"] in returns), Decimal(0))
    patronage_net = max(patronage - Decimal(data["deductions_total"]), Decimal(0))
    from_patronage = max(min(amount, patronage_net - already), Decimal(0))
    legs = []
    for role, part in (("patronage_payable", from_patronage), ("residual_payable", amount - from_patronage)):
        if part:
            legs.append(PostingDraft(account_for_role(entity.chart, role), part, member_code))
    return legs


def mark_paid_when_done(session: Session, run: PayoutRun) -> None:
    if run.status != "published":
        return
    owing = session.scalar(select(func.count(PayoutMember.id)).where(
        PayoutMember.run_id == run.id, PayoutMember.paid < PayoutMember.net))
    if owing == 0:
        run.status = "paid"


@operation(is_household(_statement_household))
def confirm_receipt(session: Session, snap: StatementSnapshot, *, actor: Principal) -> None:
    """The household confirms, on its phone, that it received the payout: only once the cooperative has recorded
    a payment to it for this statement (one tap, no undo — confirming money that has not been paid would say
    the opposite of the page's "not paid yet")."""
    if snap.confirmed_at is None and not has_payment(session, snap):
        raise StatementError("_schema", N_("There is nothing to confirm yet: the cooperative has not recorded a "
                                           "payment to your household for this statement. Confirm once the money "
                                           "has reached you and the payment is shown here."), code="no_payment_yet")
    if snap.confirmed_at is None:
        snap.confirmed_at = dt.datetime.now(dt.UTC)
        audit(session, actor_id=actor.user_id, action="confirm", target=f"statement:{snap.id}",
              entity_id=snap.run.entity_id)
        session.flush()


# ----------------------------------------------------------------------------------------------- PINs


@operation(keeps_household())
def set_pin(session: Session, household: Household, *, actor: Principal) -> str:
    """Give the household a new 6-digit PIN (printed on its paper slip); returns it, stores its hash."""
    pin = f"{secrets.randbelow(10**6):06d}"
    household.pin_hash = HASHER.hash(pin)
    end_visits(session, household.id)          # a copy of an old visit's cookie no longer opens its pages
    audit(session, actor_id=actor.user_id, action="set-pin", target=f"household:{household.code}",
          entity_id=household.owner_entity_id)      # the owner's township auditor sees it
    session.flush()
    return pin


def household_by_phone_and_pin(session: Session, phone: str, pin: str) -> Household | None:
    """The household with this phone number and PIN, or None. One Argon2 verification whether the number
    is unknown, has no PIN or has one (a fixed dummy hash stands in), so the time taken does not tell which
    numbers have a PIN; a number shared by several households with PINs costs one per household."""
    phone = "".join(ch for ch in phone if ch.isdigit())
    candidates = session.scalars(select(Household).where(Household.phone == phone, Household.pin_hash.is_not(None))
                                 .order_by(Household.id)).all()
    if not candidates:
        verify_secret(None, pin)
        return None
    for household in candidates:
        if verify_secret(household.pin_hash, pin):
            return household
    return None

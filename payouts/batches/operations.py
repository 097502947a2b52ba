"""Bank batches (代发): what a published run still owes its households, paid through the bank.

A batch is created from a published run: every member still owed goes in it with the account the entity
recorded for it — unless it has no valid account (none, or a card number failing its check digit), its
membership is closed, it was paid by hand, it is in another open batch, or an earlier batch failed to pay it and
neither its account nor its name has been corrected since: those are listed apart with the reason, never silently
left out. Its file for the bank (:func:`batch_file`) is the one place the full account numbers are decrypted, and
each time it is made the reveal is logged with who and why. The bank's return file (:func:`read_results`) is
checked row by row against the batch — an unknown account, another amount, a duplicate, a missing line refuse the
whole file with nothing posted — then each success is paid exactly as a payment recorded by hand (Dr 221/222 /
Cr 102, :func:`payouts.statements.operations.receipt_legs`) and each failure stays owed with the bank's reason,
ready for the next batch once the account is corrected. Reading the same return file again changes nothing; two
processes reading it at once post each payment once (the batch's state moves under a conditional UPDATE, and a
payment's batch line and its entry's source are unique in the database).

Each operation takes a Session, flushes, never commits.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select, true, update
from sqlalchemy.orm import Session

from cooperatives.access import Principal, keeps_books, operation
from cooperatives.models import Entity, Household, Member
from cooperatives.operations import audit
from cooperatives.privacy import decrypt, digest
from cooperatives.workbook import valid_account
from ledger.cells import csv_field
from ledger.chart import account_for_role
from ledger.clock import china_today
from ledger.db import keyed_in
from ledger.entries import EntryDraft, PostingDraft
from ledger.errors import LedgerError, Problem
from ledger.i18n import N_, Message, format_money, label, msg, translations_for
from ledger.operations import post_entries
from payouts.batches.labels import BATCH_STATUS_LABELS
from payouts.batches.layouts import LAYOUTS, ApartLine, OutLine, ReturnFileError, read_returns
from payouts.batches.layouts import batch_file as write_file
from payouts.models import (
    OPEN_BATCH,
    PayoutBatch,
    PayoutBatchLine,
    PayoutMember,
    PayoutRun,
    Receipt,
    SmsExport,
    StatementSnapshot,
)
from payouts.statements.operations import mark_paid_when_done, receipt_legs, received_by_member_entity

#: why a household owed by the run is not in a batch (stored as the code on its ``apart`` line)
APART_REASONS: dict[str, str] = {
    "no_account": N_("No bank account on record: record the household's account (or pay in cash against its "
                     "signature)."),
    "bad_account": N_("The account number on record is not a valid card number (its check digit fails): correct "
                      "it."),
    "left": N_("The membership is closed: pay in cash against the signature once the account is confirmed."),
    "paid_by_hand": N_("Already paid by a payment recorded by hand."),
    "in_open_batch": N_("Already in an open batch (created or sent, its results not yet read)."),
    "not_corrected": N_("An earlier batch failed to pay it and neither the account nor the name has been corrected "
                        "since."),
}
#: the bank's reason when its return file gives none
NO_REASON = "银行未注明原因"
MEMO = "%(year)s年收益分配"


class BatchError(ValueError):
    """Refused for a reason the accountant can fix; ``problems`` say what and where (the return file's rows)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(p.text() for p in problems[:5]))

    @classmethod
    def of(cls, column: str | None, template: str, *, code: str, **params) -> BatchError:
        return cls([Problem.of(msg(template, code=code, **params), column)])


def _run_entity(session, run, *args, **kwargs):
    return run.entity


def _batch_entity(session, batch, *args, **kwargs):
    return session.get(Entity, batch.entity_id)


def batch_title(entity: Entity, run: PayoutRun, number: int) -> str:
    """The batch's name on its file and pages, in Chinese (it is the bank's and the village's paper)."""
    return f"{entity.name} {run.year}年收益分配 代发第{number}批"


# ------------------------------------------------------------------------------------------------- plan


@dataclass
class Planned:
    statement_id: int
    member_id: int
    member_code: str
    member_no: int
    name: str
    owed: Decimal
    account_digest: str | None
    account_masked: str | None
    reason: str | None = None        # an APART_REASONS code; None: it goes in the batch


@dataclass
class Plan:
    """Who a new batch of ``run`` would pay (``lines``) and who it would list apart (``apart``), and why."""

    run_id: int
    lines: list[Planned] = field(default_factory=list)
    apart: list[Planned] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((p.owed for p in self.lines), Decimal("0.00"))


def _accounts(member: Member, household: Household | None) -> tuple[bytes | None, str | None, str | None]:
    """(encrypted, digest, masked) of the account this entity pays ``member`` into: the household's own when the
    entity registered it, else the membership's (cooperatives.privacy.recorded_numbers); a member entity's on its
    membership."""
    if household is not None and household.owner_entity_id == member.entity_id:
        return household.bank_account_enc, household.bank_account_digest, household.bank_account_masked
    return member.bank_account_enc, member.bank_account_digest, member.bank_account_masked


def plan_batch(session: Session, run: PayoutRun, *, retry_uncorrected: bool = False) -> Plan:
    """Who a batch of ``run`` made now would pay, and who it would list apart with the reason. Reads only."""
    rows = session.execute(
        select(StatementSnapshot.id, PayoutMember.net, PayoutMember.paid, Member, Household, Entity.name)
        .join(PayoutMember, (PayoutMember.run_id == StatementSnapshot.run_id)
              & (PayoutMember.code == StatementSnapshot.member_code))
        .join(Member, Member.id == StatementSnapshot.member_id)
        .outerjoin(Household, Household.id == Member.household_id)
        .outerjoin(Entity, Entity.id == Member.member_entity_id)
        .where(StatementSnapshot.run_id == run.id).order_by(Member.member_no)).all()
    by_hand = set(session.scalars(select(Receipt.statement_id).where(
        Receipt.run_id == run.id, Receipt.batch_line_id.is_(None))))
    in_open = set(session.scalars(
        select(PayoutBatchLine.statement_id).join(PayoutBatch, PayoutBatch.id == PayoutBatchLine.batch_id)
        .where(PayoutBatch.run_id == run.id, PayoutBatch.status.in_(OPEN_BATCH), PayoutBatchLine.seq.is_not(None))))
    last_failed = {}       # statement -> (name, account digest) of its latest line, when that line failed
    for statement_id, status, name, account in session.execute(
            select(PayoutBatchLine.statement_id, PayoutBatchLine.status, PayoutBatchLine.name,
                   PayoutBatchLine.account_digest)
            .join(PayoutBatch, PayoutBatch.id == PayoutBatchLine.batch_id)
            .where(PayoutBatch.run_id == run.id, PayoutBatch.status != "cancelled", PayoutBatchLine.seq.is_not(None))
            .order_by(PayoutBatch.number)):
        if status == "failed":
            last_failed[statement_id] = (name, account)
        else:
            last_failed.pop(statement_id, None)
    plan = Plan(run.id)
    for statement_id, net, paid, member, household, entity_name in rows:
        owed = net - paid
        if owed <= 0 and statement_id not in by_hand:
            continue                                      # nothing owed, or paid in a batch: nothing to say
        encrypted, account_digest, masked = _accounts(member, household)
        name = household.head_name if household is not None else entity_name
        item = Planned(statement_id, member.id, member.code, member.member_no, name, owed, account_digest, masked)
        if owed <= 0:
            item.reason = "paid_by_hand"
        elif statement_id in in_open:
            item.reason = "in_open_batch"
        elif member.left_on is not None:
            item.reason = "left"
        elif encrypted is None:
            item.reason = "no_account"
        elif not valid_account(decrypt(encrypted), card=household is not None):
            item.reason = "bad_account"
        elif not retry_uncorrected and last_failed.get(statement_id) == (name, account_digest):
            item.reason = "not_corrected"
        (plan.apart if item.reason else plan.lines).append(item)
    return plan


# --------------------------------------------------------------------------------------------- create


@operation(keeps_books(_run_entity))
def create_batch(session: Session, run: PayoutRun, *, layout: str = "generic", retry_uncorrected: bool = False,
                 actor: Principal) -> PayoutBatch:
    """A new batch of every household ``run`` still owes (:func:`plan_batch`), numbered 第 n 批 in the entity."""
    if layout not in LAYOUTS:
        raise BatchError.of("layout", N_("Choose one of the layouts: %(layouts)s."), layouts=", ".join(LAYOUTS),
                            code="batch_layout")
    # one batch at a time per run: two accountants creating at once must not put a household in both
    session.execute(update(PayoutRun).where(PayoutRun.id == run.id).values(status=PayoutRun.status)
                    .execution_options(synchronize_session=False))
    session.refresh(run)
    if run.status != "published":
        from payouts.runs.labels import STATUS_LABELS

        raise BatchError.of("_schema", N_("A batch pays a published run (its notice period opened); this run is "
                                          "%(status)s."), status=label(STATUS_LABELS.get(run.status, run.status)),
                            code="batch_run_not_published")
    plan = plan_batch(session, run, retry_uncorrected=retry_uncorrected)
    if not plan.lines:
        raise BatchError.of("_schema", N_("No household can go in a batch: %(apart)s owed are listed apart with "
                                          "the reason, the others are paid or in an open batch."),
                            apart=len(plan.apart), code="batch_empty")
    number = (session.scalar(select(func.max(PayoutBatch.number)).where(PayoutBatch.entity_id == run.entity_id))
              or 0) + 1
    batch = PayoutBatch(run_id=run.id, entity_id=run.entity_id, number=number, layout=layout, status="created",
                        count=len(plan.lines), total=plan.total, created_by=actor.user_id)
    session.add(batch)
    session.flush()
    rows = [{"batch_id": batch.id, "seq": seq, "statement_id": p.statement_id, "member_id": p.member_id,
             "member_code": p.member_code, "name": p.name, "account_digest": p.account_digest,
             "account_masked": p.account_masked, "amount": p.owed, "status": "pending", "reason": None}
            for seq, p in enumerate(plan.lines, 1)]
    rows += [{"batch_id": batch.id, "seq": None, "statement_id": p.statement_id, "member_id": p.member_id,
              "member_code": p.member_code, "name": p.name, "account_digest": p.account_digest,
              "account_masked": p.account_masked, "amount": p.owed, "status": "apart", "reason": p.reason}
             for p in plan.apart]
    session.execute(insert(PayoutBatchLine.__table__), rows)
    audit(session, actor_id=actor.user_id, action="batch-create", target=f"batch:{batch.id}", entity_id=run.entity_id,
          detail=f"lines={len(plan.lines)}, apart={len(plan.apart)}")
    session.flush()
    return batch


# ----------------------------------------------------------------------------------------------- file


def apart_reason(line: PayoutBatchLine | Planned, gettext=None) -> str:
    code = line.reason or ""
    return msg(APART_REASONS[code], code=code).translate(gettext) if code in APART_REASONS else code


@operation(keeps_books(_batch_entity))
def batch_file(session: Session, batch: PayoutBatch, *, fmt: str, reason: str, locale: str = "zh_Hans_CN",
               actor: Principal) -> bytes:
    """The file for the bank (``fmt`` ``xlsx`` or ``csv``, in the batch's layout), the only place the full account
    numbers are decrypted. Each call is a reveal, logged with who and ``reason``. Refused when an account was
    changed since the batch was made (the bank would pay another account than the batch says)."""
    if fmt not in ("xlsx", "csv"):
        raise BatchError.of("format", N_("Choose xlsx or csv."), code="batch_format")
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > 200:
        raise BatchError.of("reason", N_("Say why the full account numbers are revealed (1 to 200 characters)."),
                            code="batch_reason")
    if batch.status == "cancelled":
        raise BatchError.of("_schema", N_("This batch was cancelled: make a new one."), code="batch_cancelled")
    run = session.get(PayoutRun, batch.run_id)
    entity = session.get(Entity, batch.entity_id)
    lines = session.execute(
        select(PayoutBatchLine, Member, Household)
        .join(Member, Member.id == PayoutBatchLine.member_id).outerjoin(Household, Household.id == Member.household_id)
        .where(PayoutBatchLine.batch_id == batch.id).order_by(PayoutBatchLine.seq.is_(None), PayoutBatchLine.seq,
                                                               PayoutBatchLine.member_code)).all()
    out, apart, changed = [], [], []
    gettext = translations_for(locale)
    memo = MEMO % {"year": run.year}
    for line, member, household in lines:
        if line.seq is None:
            apart.append(ApartLine(line.member_code, line.name, line.amount, apart_reason(line, gettext)))
            continue
        number = decrypt(_accounts(member, household)[0])
        if number is None or digest(number) != line.account_digest:
            changed.append(line.member_code)
            continue
        out.append(OutLine(line.seq, line.name, "".join(number.split()), line.amount, memo))
    if changed:
        raise BatchError.of("_schema", N_("The account of %(members)s was changed after this batch was made: cancel "
                                          "the batch and make a new one, so the bank pays the account on record."),
                            members=", ".join(changed[:20]), code="batch_account_changed")
    data = write_file(batch.layout, fmt, out, apart, title=batch_title(entity, run, batch.number), payer=entity.name)
    audit(session, actor_id=actor.user_id, action="reveal", target=f"batch:{batch.id}", entity_id=batch.entity_id,
          detail=f"bank_account ×{len(out)} ({fmt}): {reason}")
    session.flush()
    return data


# ------------------------------------------------------------------------------------------ sent, close


def _move(session: Session, batch: PayoutBatch, allowed: tuple[str, ...], to: str, **values) -> None:
    """Move ``batch`` to state ``to`` if it is in one of ``allowed`` — a conditional UPDATE, so of two processes
    moving it at once exactly one does; the other is refused with the state it found."""
    done = session.execute(update(PayoutBatch).where(PayoutBatch.id == batch.id, PayoutBatch.status.in_(allowed))
                           .values(status=to, **values).execution_options(synchronize_session=False)).rowcount
    session.refresh(batch)
    if not done:
        raise BatchError.of("_schema", N_("This batch is %(status)s: it cannot be %(action)s."),
                            status=label(BATCH_STATUS_LABELS[batch.status]),
                            action=label(BATCH_ACTIONS[to]), code="batch_state")


BATCH_ACTIONS = {"sent": N_("marked sent"), "closed": N_("closed"), "cancelled": N_("cancelled"),
                 "results_in": N_("given the bank's results")}


@operation(keeps_books(_batch_entity))
def mark_sent(session: Session, batch: PayoutBatch, *, on: dt.date | None = None, actor: Principal) -> None:
    """The file was handed to the bank (网银 upload or counter) on ``on``."""
    _move(session, batch, ("created",), "sent", sent_on=on or china_today(), sent_by=actor.user_id)
    audit(session, actor_id=actor.user_id, action="batch-sent", target=f"batch:{batch.id}", entity_id=batch.entity_id)
    session.flush()


@operation(keeps_books(_batch_entity))
def close_batch(session: Session, batch: PayoutBatch, *, actor: Principal) -> None:
    """Done with a batch whose results are in: its failures stay owed on the run, for a later batch or cash."""
    _move(session, batch, ("results_in",), "closed", closed_at=dt.datetime.now(dt.UTC), closed_by=actor.user_id)
    audit(session, actor_id=actor.user_id, action="batch-close", target=f"batch:{batch.id}", entity_id=batch.entity_id)
    session.flush()


@operation(keeps_books(_batch_entity))
def cancel_batch(session: Session, batch: PayoutBatch, *, actor: Principal) -> None:
    """A batch the bank has not paid and will not pay (never sent, or refused whole at the counter): its households
    are free for a new batch or a payment by hand."""
    _move(session, batch, ("created", "sent"), "cancelled", closed_at=dt.datetime.now(dt.UTC),
          closed_by=actor.user_id)
    audit(session, actor_id=actor.user_id, action="batch-cancel", target=f"batch:{batch.id}",
          entity_id=batch.entity_id)
    session.flush()


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Results:
    """What reading a return file did: ``already`` when this very file had been read (nothing changed)."""

    batch_id: int
    paid: int
    paid_total: Decimal
    failed: int
    failed_total: Decimal
    already: bool = False


def _where(sheet: str, row: int, column: str, template: str, /, *, code: str, **params) -> Problem:
    return Problem(sheet, row, column, msg(template, code=code, **params))


def match_returns(lines: list[PayoutBatchLine], returns: list, sheet: str) -> tuple[list[tuple], list[Problem]]:
    """Pair each row of the bank's return file with the batch line it answers: by 序号 when the file has it (and
    then the account and the amount must be that line's), else by account (and amount). Every row that answers no
    line, answers one already answered, or gives another amount — and every line no row answers — is a problem.
    Returns ([(line, row)], problems)."""
    by_seq = {ln.seq: ln for ln in lines}
    by_account: dict[str | None, list[PayoutBatchLine]] = {}
    for ln in lines:
        by_account.setdefault(ln.account_digest, []).append(ln)
    answered: dict[int, int] = {}          # line id -> file row
    pairs, problems = [], []
    for r in returns:
        account = digest(r.account)
        if r.seq is not None:
            line = by_seq.get(r.seq)
            if line is None:
                problems.append(_where(sheet, r.row, "序号", N_("No line of this batch has 序号 %(seq)s."), seq=r.seq,
                                       code="return_unknown_seq"))
                continue
            if line.account_digest != account:
                problems.append(_where(sheet, r.row, "账号", N_("Line %(seq)s of the batch (%(member)s) was sent to "
                                                              "another account (%(masked)s)."), seq=line.seq,
                                       member=line.member_code, masked=line.account_masked or "—",
                                       code="return_other_account"))
                continue
        else:
            candidates = [ln for ln in by_account.get(account, []) if ln.id not in answered]
            if not by_account.get(account):
                problems.append(_where(sheet, r.row, "账号", N_("No line of this batch was sent to this account."),
                                       code="return_unknown_account"))
                continue
            line = next((ln for ln in candidates if ln.amount == r.amount), candidates[0] if candidates else
                        by_account[account][0])
        if line.amount != r.amount:
            problems.append(_where(sheet, r.row, "金额", N_("Line %(seq)s of the batch (%(member)s) sent %(sent)s, "
                                                          "not %(amount)s."), seq=line.seq, member=line.member_code,
                                   sent=line.amount, amount=r.amount, code="return_other_amount"))
            continue
        if line.id in answered:
            problems.append(_where(sheet, r.row, "账号", N_("Line %(seq)s of the batch (%(member)s) is answered twice: "
                                                          "also in row %(row)s."), seq=line.seq,
                                   member=line.member_code, row=answered[line.id], code="return_duplicate"))
            continue
        answered[line.id] = r.row
        pairs.append((line, r))
    missing = [ln for ln in lines if ln.id not in answered]
    for ln in missing[:50]:
        problems.append(_where(sheet, 0, "", N_("Line %(seq)s of the batch (%(member)s, %(amount)s) has no row in "
                                                "the return file."), seq=ln.seq, member=ln.member_code,
                               amount=ln.amount, code="return_missing_line"))
    return pairs, problems


@operation(keeps_books(_batch_entity))
def read_results(session: Session, batch: PayoutBatch, data: bytes, filename: str, *, on: dt.date | None = None,
                 actor: Principal) -> Results:
    """Read the bank's return file of ``batch``: pay each success (dated ``on``, the day the bank paid; today by
    default), keep each failure owed with the bank's reason. All or nothing; the same file twice changes nothing."""
    file_digest = hashlib.sha256(data).hexdigest()
    if batch.results_digest is not None:
        return _already(batch, file_digest)
    if batch.status not in OPEN_BATCH:
        raise BatchError.of("_schema", N_("This batch was cancelled: its households are paid in another batch or "
                                          "by hand."), code="batch_cancelled")
    sheet = filename.rsplit("/", 1)[-1]
    try:
        returns = read_returns(data, filename)
    except ReturnFileError as exc:
        raise BatchError(exc.problems) from None
    lines = list(session.scalars(select(PayoutBatchLine).where(
        PayoutBatchLine.batch_id == batch.id, PayoutBatchLine.seq.is_not(None)).order_by(PayoutBatchLine.seq)))
    pairs, problems = match_returns(lines, returns, sheet)
    if problems:
        raise BatchError(problems)
    on = on or china_today()
    # the batch's state moves first, under a conditional UPDATE: of two processes reading results at once, the
    # second waits for the first's commit (PostgreSQL's row lock, SQLite's write lock) and then finds it read
    moved = session.execute(update(PayoutBatch).where(PayoutBatch.id == batch.id,
                                                      PayoutBatch.status.in_(OPEN_BATCH))
                            .values(status="results_in", results_digest=file_digest, paid_on=on,
                                    results_at=dt.datetime.now(dt.UTC), results_by=actor.user_id)
                            .execution_options(synchronize_session=False)).rowcount
    session.refresh(batch)
    if not moved:
        return _already(batch, file_digest)
    paid = [(line, r) for line, r in pairs if r.ok]
    failed = [(line, r) for line, r in pairs if not r.ok]
    paid_total = sum((line.amount for line, _r in paid), Decimal("0.00"))
    failed_total = sum((line.amount for line, _r in failed), Decimal("0.00"))
    try:
        _pay(session, batch, paid, {line.seq for line, _r in failed}, on, actor)
    except LedgerError as exc:
        raise BatchError(exc.problems) from None
    if failed:
        table = PayoutBatchLine.__table__
        session.execute(update(table).where(table.c.id == bindparam("_id"))
                        .values(status="failed", reason=bindparam("_reason")),
                        [{"_id": line.id, "_reason": (r.reason or NO_REASON)[:200]} for line, r in failed])
    for held in [*lines, *(o for o in session.identity_map.values() if isinstance(o, PayoutMember))]:
        session.expire(held)         # (written through Core above: what the session holds says so too)
    session.execute(update(PayoutBatch).where(PayoutBatch.id == batch.id).values(
        paid_count=len(paid), paid_total=paid_total, failed_count=len(failed), failed_total=failed_total,
        **({} if failed else {"status": "closed", "closed_at": dt.datetime.now(dt.UTC), "closed_by": actor.user_id}))
        .execution_options(synchronize_session=False))
    session.refresh(batch)
    audit(session, actor_id=actor.user_id, action="batch-results", target=f"batch:{batch.id}",
          entity_id=batch.entity_id, detail=f"paid={len(paid)}, failed={len(failed)}")
    session.flush()
    return Results(batch.id, len(paid), paid_total, len(failed), failed_total)


def _already(batch: PayoutBatch, file_digest: str) -> Results:
    if batch.results_digest != file_digest:
        raise BatchError.of("_schema", N_("The bank's results of this batch were already read from another file: a "
                                          "second return file changes nothing. Make a new batch for what is still "
                                          "owed."), code="batch_results_in")
    return Results(batch.id, batch.paid_count, batch.paid_total, batch.failed_count, batch.failed_total, already=True)


def _pay(session: Session, batch: PayoutBatch, paid: list[tuple], failed_seqs: set[int], on: dt.date,
         actor: Principal) -> None:
    """Each success paid as a receipt recorded by hand would be — its entry Dr 221/222 / Cr 102 (one bulk post),
    its receipt (tied to its batch line), the member's paid amount — and the run marked paid once nothing is owed."""
    if not paid:
        return
    run = session.get(PayoutRun, batch.run_id)
    entity = session.get(Entity, batch.entity_id)
    snaps = keyed_in(session, StatementSnapshot.id, StatementSnapshot.data, [line.statement_id for line, _r in paid])
    so_far = keyed_in(session, PayoutMember.code, PayoutMember.paid, [line.member_code for line, _r in paid],
                      PayoutMember.run_id == run.id)
    bank = account_for_role(entity.chart, "bank")
    drafts = []
    for line, _r in paid:
        legs = receipt_legs(entity, json.loads(snaps[line.statement_id]), line.member_code, line.amount,
                            so_far[line.member_code])
        drafts.append(EntryDraft(date=on, memo=f"支付{run.year}年收益分配 {line.member_code}（代发第{batch.number}批）",
                                 source=f"batch:{batch.id}:{line.seq}", postings=(*legs, PostingDraft(bank, -line.amount))))
    entry_ids = post_entries(session, entity.book, drafts, actor_id=actor.user_id)
    session.execute(insert(Receipt.__table__), [
        {"statement_id": line.statement_id, "run_id": run.id, "date": on, "amount": line.amount, "method": "bank",
         "reference": f"代发第{batch.number}批 序号{line.seq}", "signed": False, "entry_id": entry_id,
         "recorded_by": actor.user_id, "batch_line_id": line.id}
        for (line, _r), entry_id in zip(paid, entry_ids, strict=True)])
    # set-based: every line answered is paid but the failures (written after), and each member's paid amount
    # grows by its paid line's (one line per member in a batch)
    lines = PayoutBatchLine.__table__
    session.execute(update(lines).where(lines.c.batch_id == batch.id, lines.c.status == "pending",
                                        lines.c.seq.not_in(failed_seqs) if failed_seqs else true())
                    .values(status="paid"))
    members = PayoutMember.__table__
    session.execute(update(members).where(members.c.run_id == run.id, members.c.code == lines.c.member_code,
                                          lines.c.batch_id == batch.id, lines.c.status == "paid")
                    .values(paid=members.c.paid + lines.c.amount))          # (UPDATE … FROM: a join, not a scan)
    if entity.kind == "cluster_project":
        for line, _r in paid:
            received_by_member_entity(session, entity, line.member_code, line.amount, on, "bank", actor)
    session.expire(run)
    mark_paid_when_done(session, run)


# ----------------------------------------------------------------------------------------------- texts


SMS_PAID = N_("[%(entity)s] Your %(year)s distribution of %(amount)s yuan was paid on %(date)s to your account "
              "ending %(tail)s. Details: %(link)s")
SMS_FAILED = N_("[%(entity)s] Your %(year)s distribution of %(amount)s yuan could not be paid: %(reason)s. Please "
                "come to the village committee to correct your account. Details: %(link)s")
SMS_PENDING = N_("[%(entity)s] Your %(year)s distribution of %(amount)s yuan has been sent to the bank for your "
                 "account ending %(tail)s. Details: %(link)s")


def sms_text(entity: Entity, run: PayoutRun, batch: PayoutBatch, line: PayoutBatchLine, link: str,
             gettext=None) -> str:
    """The text to a household's phone about its line of ``batch``: short, in its language, with its statement
    link."""
    template = {"paid": SMS_PAID, "failed": SMS_FAILED}.get(line.status, SMS_PENDING)
    tail = (line.account_masked or "")[-4:]
    short = entity.name if len(entity.name) <= 12 else entity.code
    return msg(template, entity=short, year=run.year, amount=format_money(line.amount),
               date=(batch.paid_on or china_today()).isoformat(), tail=tail, reason=line.reason or NO_REASON,
               link=link, code="sms").translate(gettext)


@operation(keeps_books(_batch_entity))
def sms_file(session: Session, batch: PayoutBatch, *, public_url: str, actor: Principal) -> tuple[bytes, SmsExport]:
    """A ``.csv`` (phone, text) of a text to each household of ``batch`` with a phone on record, for the township's
    SMS platform — recorded in the send log (the product sends nothing). Households without a phone are counted."""
    run = session.get(PayoutRun, batch.run_id)
    entity = session.get(Entity, batch.entity_id)
    rows = session.execute(
        select(PayoutBatchLine, StatementSnapshot.code, Household.phone, Household.locale)
        .join(StatementSnapshot, StatementSnapshot.id == PayoutBatchLine.statement_id)
        .join(Member, Member.id == PayoutBatchLine.member_id).outerjoin(Household, Household.id == Member.household_id)
        .where(PayoutBatchLine.batch_id == batch.id, PayoutBatchLine.seq.is_not(None))
        .order_by(PayoutBatchLine.seq)).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["phone", "text"])
    count = without = 0
    for line, code, phone, locale in rows:
        if not phone:
            without += 1
            continue
        text = sms_text(entity, run, batch, line, f"{public_url.rstrip('/')}/s/{code}",
                        translations_for(locale or "zh_Hans_CN"))
        writer.writerow([csv_field(phone), csv_field(text)])
        count += 1
    export = SmsExport(batch_id=batch.id, count=count, without_phone=without, created_by=actor.user_id)
    session.add(export)
    audit(session, actor_id=actor.user_id, action="batch-sms", target=f"batch:{batch.id}", entity_id=batch.entity_id,
          detail=f"texts={count}, without_phone={without}")
    session.flush()
    return out.getvalue().encode("utf-8-sig"), export


# ------------------------------------------------------------------------------------------ what is owed


def failures_of(session: Session, statement_ids: list[int]) -> dict[int, tuple[str, int]]:
    """The bank's reason, and the batch's number, of each statement whose latest batch line failed and that is
    still owed (a later payment, by hand or in a batch, clears it)."""
    found: dict[int, tuple[str, int] | None] = {}
    if not statement_ids:
        return {}
    for statement_id, status, reason, number in session.execute(
            select(PayoutBatchLine.statement_id, PayoutBatchLine.status, PayoutBatchLine.reason, PayoutBatch.number)
            .join(PayoutBatch, PayoutBatch.id == PayoutBatchLine.batch_id)
            .join(StatementSnapshot, StatementSnapshot.id == PayoutBatchLine.statement_id)
            .join(PayoutMember, (PayoutMember.run_id == StatementSnapshot.run_id)
                  & (PayoutMember.code == StatementSnapshot.member_code))
            .where(PayoutBatchLine.statement_id.in_(statement_ids), PayoutBatchLine.seq.is_not(None),
                   PayoutBatch.status != "cancelled", PayoutMember.paid < PayoutMember.net)
            .order_by(PayoutBatch.number)):
        found[statement_id] = (reason or NO_REASON, number) if status == "failed" else None
    return {k: v for k, v in found.items() if v is not None}


def failure_message(reason: str) -> Message:
    """What a household's statement page says when the bank could not pay it."""
    return msg(N_("Payment failed: %(reason)s. Please come to the village committee to correct your account."),
               reason=reason, code="payment_failed")

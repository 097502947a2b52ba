"""Distribution policies (versioned) and runs, with the snapshot each run was computed from.

A run stores its input snapshot and its result as JSON text: statements are rendered from the stored
result, so a statement re-rendered years later is identical whatever happened to master data since.
At most one run per entity and year is in force (posted, published or paid): a partial unique index
makes a second one impossible even for two processes racing.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperatives.models import Entity
from ledger.db import Base, Money
from ledger.models import Id
from payouts import ddl

RUN_STATES = ("draft", "approved", "posted", "published", "paid", "reversed", "discarded")
IN_FORCE = ("posted", "published", "paid")


class PolicyVersion(Base):
    __tablename__ = "payout_policies"
    __table_args__ = (UniqueConstraint("entity_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    version: Mapped[int] = mapped_column(Integer)
    #: the policy as normalised JSON (decimals as strings)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(Integer)

    @property
    def data(self) -> dict:
        return json.loads(self.body)


class PayoutRun(Base):
    __tablename__ = "payout_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATES}", name="status"),
        Index("uq_payout_runs_in_force", "entity_id", "year", unique=True,
              sqlite_where=text(f"status IN {IN_FORCE}"), postgresql_where=text(f"status IN {IN_FORCE}")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    policy_id: Mapped[int] = mapped_column(ForeignKey("payout_policies.id"))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    #: sha256 of result_json: what statements' verification codes are derived from
    digest: Mapped[str] = mapped_column(String(64))
    distributable: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(Integer)
    meeting_date: Mapped[dt.date | None] = mapped_column(Date)
    attended: Mapped[int | None] = mapped_column(Integer)
    votes_for: Mapped[int | None] = mapped_column(Integer)
    members_count: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[int | None] = mapped_column(Integer)
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    posted_by: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    notice_until: Mapped[dt.date | None] = mapped_column(Date)
    #: verification code printed on the public notice list (公示表)
    notice_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    #: set on a reversing run: the run it undoes
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payout_runs.id"), unique=True)
    #: the frozen input the computation ran on, and its result (JSON; megabytes for a county-sized run).
    #: Last in the row: SQLite reads a column that follows them only by walking their overflow pages
    #: (2.4 ms for a 10,000-household run, on every page that shows the run; migration 0005)
    input_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)

    entity: Mapped[Entity] = relationship()
    policy: Mapped[PolicyVersion] = relationship()

    @property
    def result(self) -> dict:
        return json.loads(self.result_json)

    @property
    def input(self) -> dict:
        return json.loads(self.input_json)



class RunReplacement(Base):
    """A run drafted while another run of its year was in force names the run it replaces (issue 13 §4): the
    members' meeting and the township see which figures the new ones correct. (Its own table: a column of
    ``payout_runs`` would follow the run's JSON, which SQLite reads only by walking its overflow pages.)"""

    __tablename__ = "payout_run_replacements"

    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), primary_key=True)
    replaces_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)

class PayoutMember(Base):
    """One member's outcome of a run (for lists, payment status and the auditor's queries)."""

    __tablename__ = "payout_members"
    __table_args__ = (UniqueConstraint("run_id", "code"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    total: Mapped[Decimal] = mapped_column(Money)
    deductions: Mapped[Decimal] = mapped_column(Money)
    net: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))


class StatementSnapshot(Base):
    """One household's statement of one run, frozen when the run is posted.

    ``data`` holds every figure and sentence the statement shows (household and entity as they were,
    contributions by channel, each line with its formula in Chinese and English, deductions, net, the
    net in capital numerals), so the statement renders the same years later whatever changes since.
    ``digest`` is sha256 of ``data``; ``code`` is the verification code printed on the statement.
    """

    __tablename__ = "payout_statements"
    __table_args__ = (UniqueConstraint("run_id", "member_code"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    member_code: Mapped[str] = mapped_column(String(40))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("coop_households.id"), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    data: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: the household confirmed receipt (on the phone page)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    run: Mapped[PayoutRun] = relationship()

    @property
    def content(self) -> dict:
        return json.loads(self.data)


class Objection(Base):
    """A household's objection to a line of its statement during the notice period, and the answer."""

    __tablename__ = "payout_objections"
    __table_args__ = (CheckConstraint("status IN ('open', 'answered')", name="status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("payout_statements.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    line: Mapped[str] = mapped_column(String(100))       # pool name, "deductions" or "total"
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[int | None] = mapped_column(Integer)

    statement: Mapped[StatementSnapshot] = relationship()


class Receipt(Base):
    """A payout paid to a household: bank transfer, cash against signature/thumbprint, or mobile."""

    __tablename__ = "payout_receipts"
    __table_args__ = (CheckConstraint("method IN ('bank', 'cash', 'mobile')", name="method"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("payout_statements.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str | None] = mapped_column(String(100))
    #: for cash: the paper roll was signed or thumb-printed (签字/手印)
    signed: Mapped[bool] = mapped_column(default=False)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: the line of a bank batch this payment is the bank's success of: at most one payment per line, whatever
    #: reads the bank's return file and however often (``payouts.batches``)
    batch_line_id: Mapped[int | None] = mapped_column(ForeignKey("payout_batch_lines.id"), unique=True)


BATCH_STATES = ("created", "sent", "results_in", "closed", "cancelled")
#: a batch whose lines the bank may still pay: its households go in no other batch and take no payment by hand
OPEN_BATCH = ("created", "sent")
LINE_STATES = ("pending", "paid", "failed", "apart")


class PayoutBatch(Base):
    """A bank batch transfer (代发) of what a run still owes its households: created (the file exported) → sent
    (handed to the bank) → results in (the bank's return file read: each success paid and posted, each failure
    kept owed with the bank's reason) → closed. A batch not yet sent may be cancelled."""

    __tablename__ = "payout_batches"
    __table_args__ = (
        CheckConstraint(f"status IN {BATCH_STATES}", name="status"),
        UniqueConstraint("entity_id", "number"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"), index=True)
    #: 第 n 批 of the entity, from 1
    number: Mapped[int] = mapped_column(Integer)
    layout: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="created")
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(Integer)
    sent_on: Mapped[dt.date | None] = mapped_column(Date)
    sent_by: Mapped[int | None] = mapped_column(Integer)
    #: the day the bank paid (the payments' date in the books) and the sha256 of the return file read
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    results_digest: Mapped[str | None] = mapped_column(String(64))
    results_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    results_by: Mapped[int | None] = mapped_column(Integer)
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    paid_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(Integer)

    run: Mapped[PayoutRun] = relationship()


class PayoutBatchLine(Base):
    """One household of a batch: paid in it (``seq`` its 序号 in the file), or listed apart with the reason
    (``apart``: no valid account, membership closed, already paid or in an open batch, a failure not yet
    corrected). The account is kept as its keyed digest and masked copy: the full number is decrypted only into
    the file."""

    __tablename__ = "payout_batch_lines"
    __table_args__ = (
        CheckConstraint(f"status IN {LINE_STATES}", name="status"),
        UniqueConstraint("batch_id", "statement_id"),
        UniqueConstraint("batch_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    seq: Mapped[int | None] = mapped_column(Integer)
    statement_id: Mapped[int] = mapped_column(ForeignKey("payout_statements.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"))
    member_code: Mapped[str] = mapped_column(String(40))
    #: 户名 as it went to the bank
    name: Mapped[str] = mapped_column(String(100))
    account_digest: Mapped[str | None] = mapped_column(String(64))
    account_masked: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    #: why it is apart (a code of ``payouts.batches.operations.APART_REASONS``), or the bank's reason it failed
    reason: Mapped[str | None] = mapped_column(String(200))


class SmsExport(Base):
    """The send log of the texts to households' phones (短信通知): each file of texts produced for the township's
    SMS platform — which batch, how many texts, who, when. The product itself sends nothing."""

    __tablename__ = "payout_sms_exports"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    without_phone: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(Integer)


class RenderJob(Base):
    """A batch of statement PDFs being rendered (started from the web or the CLI), with its progress."""

    __tablename__ = "payout_render_jobs"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans_CN")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    out_dir: Mapped[str] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(Integer)


class AuditOpinion(Base):
    """A township auditor's opinion on one entity's year (乡镇审计意见): no issue, or issues with their text.

    Never edited: a later opinion on the same entity and year supersedes the earlier one (the latest is
    shown; the history stays)."""

    __tablename__ = "oversight_audit_opinions"
    __table_args__ = (CheckConstraint("verdict IN ('no_issue', 'issues')", name="verdict"),
                      Index("ix_oversight_audit_opinions_entity_year", "entity_id", "year"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    year: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(10))
    text: Mapped[str | None] = mapped_column(Text)
    auditor_id: Mapped[int] = mapped_column(ForeignKey("coop_users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    entity: Mapped[Entity] = relationship()


class IntegrityCheck(Base):
    """One run of ``verify`` over an entity's book, started from the township pages: who, when, how long,
    and what it found (``problems`` is None when the book verified)."""

    __tablename__ = "oversight_integrity_checks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("coop_users.id"))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: wall-clock time the verification took
    duration_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column()
    #: entries read back and verified
    entries: Mapped[int] = mapped_column(Integer, default=0)
    #: one difference per line, as ``verify`` names it
    problems: Mapped[str | None] = mapped_column(Text)

    entity: Mapped[Entity] = relationship()


class PinVisit(Base):
    """A household's phone + PIN visit (``payouts.statements.operations``). The browser's signed session
    holds a random id; only its SHA-256 is kept here, so a visit can be ended on the server ("leave", a new
    PIN for the household) and every copy of its cookie stops working."""

    __tablename__ = "payout_pin_visits"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("coop_households.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


for _table, _ddl in ddl.triggers_for(Base.metadata):     # opinions and integrity checks: append-only
    event.listen(_table, "after_create", _ddl)


class DisclosurePublication(Base):
    """One publication of an entity's 财务公开 for a quarter or a month (``payouts.reports.disclosure``): the
    figures as they were read from the books (``data``, JSON; ``digest`` its hash, which the public page compares
    with the books as they stand), when and by whom, and the public code of its page (``/d/<code>``).

    Never edited (append-only in the database): publishing the period again after a correction supersedes it
    (``supersedes_id`` on the new one); the newest of a period is current, the earlier ones stay. Two unique
    indexes keep the chain a line even for two publishers racing: one first publication per period, and each
    publication superseded at most once."""

    __tablename__ = "payout_disclosures"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="period_dates"),
        Index("ix_payout_disclosures_entity_period", "entity_id", "period"),
        Index("uq_payout_disclosures_first", "entity_id", "period", unique=True,
              sqlite_where=text("supersedes_id IS NULL"), postgresql_where=text("supersedes_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    #: ``2025-Q1`` (a quarter) or ``2025-03`` (a month), and its first and last day
    period: Mapped[str] = mapped_column(String(7))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    #: the code printed with the QR code: the public page is ``/d/<code>``
    code: Mapped[str] = mapped_column(String(20), unique=True)
    #: sha256 of the figures (``payouts.reports.disclosure.build.digest_of_data``)
    digest: Mapped[str] = mapped_column(String(64))
    #: 公开日期: when it was published
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: the user who published it (None: the console)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("coop_users.id"))
    #: the publication of the same period it corrects
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("payout_disclosures.id"), unique=True)
    #: the figures and the entity as published (``build.to_data`` plus the entity's particulars); last in the row
    data: Mapped[str] = mapped_column(Text)

    entity: Mapped[Entity] = relationship()

    @property
    def content(self) -> dict:
        return json.loads(self.data)


from payouts.reports.disclosure import ddl as _disclosure_ddl  # noqa: E402  (publications: append-only)

for _table, _ddl in _disclosure_ddl.triggers_for(Base.metadata):
    event.listen(_table, "after_create", _ddl)


class FindingNote(Base):
    """A township finding marked handled (``payouts.oversight.handling``): which finding (its stable key: rule,
    entity, year and the records it is about), what was done, who, when. Never edited (append-only in the
    database): a later note on the same finding is added after it, and the history stays."""

    __tablename__ = "oversight_finding_notes"
    __table_args__ = (Index("ix_oversight_finding_notes_entity_key", "entity_id", "finding_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    #: ``rule:ENTITY:year:record…`` (``payouts.oversight.anomalies.Finding.key``)
    finding_key: Mapped[str] = mapped_column(String(300))
    rule: Mapped[str] = mapped_column(String(40))
    year: Mapped[int | None] = mapped_column(Integer)
    #: what was done
    note: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("coop_users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


from payouts.oversight import ddl as _oversight_ddl  # noqa: E402  (finding notes: append-only)

for _table, _ddl in _oversight_ddl.triggers_for(Base.metadata):
    event.listen(_table, "after_create", _ddl)

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
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperatives.models import Entity
from ledger.db import Base, Money
from ledger.models import Id

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
    #: the frozen input the computation ran on, and its result (JSON)
    input_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)
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
    #: set on a reversing run: the run it undoes
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payout_runs.id"), unique=True)

    entity: Mapped[Entity] = relationship()
    policy: Mapped[PolicyVersion] = relationship()

    @property
    def result(self) -> dict:
        return json.loads(self.result_json)

    @property
    def input(self) -> dict:
        return json.loads(self.input_json)


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

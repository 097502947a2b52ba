"""The read API of cooperatives: what pages, the API and the distribution read. Aggregates in SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from cooperatives.models import (
    Advance,
    CapitalContribution,
    Delivery,
    Entity,
    Household,
    InputSupply,
    LaborRecord,
    LandContract,
    Member,
    Payment,
    Sale,
)
from cooperatives.operations import RECORD_MODELS
from ledger.db import money_sum
from ledger.models import JournalEntry
from ledger.queries import account_balances, member_balances


def entity_summary(session: Session, entity: Entity) -> dict:
    """Counts and totals for an entity's overview page: a handful of aggregate queries."""
    members = session.scalar(select(func.count(Member.id)).where(Member.entity_id == entity.id))
    farmers = session.scalar(select(func.count(Member.id)).where(Member.entity_id == entity.id, Member.farmer))
    totals = {}
    for kind, model in RECORD_MODELS.items():
        count, amount = session.execute(select(func.count(model.id), money_sum(model.amount))
                                        .where(model.entity_id == entity.id)).one()
        totals[kind] = {"count": count, "amount": amount}
    land = session.execute(select(func.count(LandContract.id), func.coalesce(func.sum(LandContract.area_mu), 0))
                           .where(LandContract.entity_id == entity.id)).one()
    balances = account_balances(session, entity.book)
    entries = session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.book_id == entity.book_id))
    return {"members": members, "farmers": farmers, "totals": totals, "land_contracts": land[0],
            "land_area": Decimal(int(land[1])).scaleb(-4), "entries": entries,
            "cash": balances.get("101", Decimal("0.00")) + balances.get("102", Decimal("0.00"))}


@dataclass
class MemberAccount:
    member: Member
    balances: dict[str, Decimal]
    deliveries: list = field(default_factory=list)   # (product, unit, quantity, amount)
    labor: tuple = (Decimal(0), Decimal(0))          # (days, amount)
    capital: list = field(default_factory=list)
    land: list = field(default_factory=list)
    inputs: Decimal = Decimal("0.00")
    advances: Decimal = Decimal("0.00")
    payments: Decimal = Decimal("0.00")
    sales: Decimal = Decimal("0.00")

    @property
    def owed(self) -> Decimal:
        """What the entity owes the member on current accounts (114/113, 213 and payouts): credit balances."""
        return -sum(self.balances.values(), Decimal("0.00"))


def member_account(session: Session, entity: Entity, code: str) -> MemberAccount | None:
    member = session.scalar(select(Member).options(joinedload(Member.household).joinedload(Household.village))
                            .where(Member.entity_id == entity.id, Member.code == code))
    if member is None:
        return None
    balances = {acc: amount for acc, amount in member_balances(session, entity.book).get(code, {}).items()
                if acc not in ("301",)}
    account = MemberAccount(member=member, balances=balances)
    account.deliveries = session.execute(
        select(Delivery.product, Delivery.unit, func.sum(Delivery.quantity), money_sum(Delivery.amount))
        .where(Delivery.member_id == member.id).group_by(Delivery.product, Delivery.unit)
        .order_by(Delivery.product)).all()
    account.deliveries = [(p, u, Decimal(int(q)).scaleb(-3), a) for p, u, q, a in account.deliveries]
    days, wages = session.execute(select(func.coalesce(func.sum(LaborRecord.days), 0), money_sum(LaborRecord.amount))
                                  .where(LaborRecord.member_id == member.id)).one()
    account.labor = (Decimal(int(days)).scaleb(-3), wages)
    account.capital = session.scalars(select(CapitalContribution).where(CapitalContribution.member_id == member.id)
                                      .order_by(CapitalContribution.date)).all()
    account.land = session.scalars(select(LandContract).where(LandContract.member_id == member.id)).all()
    for attr, model in (("inputs", InputSupply), ("advances", Advance), ("payments", Payment), ("sales", Sale)):
        setattr(account, attr, session.scalar(select(money_sum(model.amount)).where(model.member_id == member.id)))
    return account

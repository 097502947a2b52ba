"""The read API of cooperatives: what pages, the API and the distribution read. Aggregates in SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import false, func, select, true
from sqlalchemy.orm import Session, joinedload

from cooperatives.kinds import RECORD_MODELS
from cooperatives.models import (
    Advance,
    CapitalContribution,
    Delivery,
    Entity,
    FixedAsset,
    Household,
    InputSupply,
    InvestmentIncome,
    LaborRecord,
    LandContract,
    Member,
    Payment,
    Sale,
    ShareHolding,
    Subsidy,
)
from cooperatives.postings import SUBSIDIES_WAIT
from ledger.chart import account_for_role
from ledger.db import fixed_sum, money_sum
from ledger.models import JournalEntry
from ledger.queries import account_balances, member_balances, opening_balances


def entity_summary(session: Session, entity: Entity) -> dict:
    """Counts and totals for an entity's overview page: a handful of aggregate queries."""
    members = session.scalar(select(func.count(Member.id)).where(Member.entity_id == entity.id))
    farmers = session.scalar(select(func.count(Member.id)).where(Member.entity_id == entity.id, Member.farmer))
    totals = {}
    for kind, model in RECORD_MODELS.items():
        count, amount = session.execute(select(func.count(model.id), money_sum(model.amount))
                                        .where(model.entity_id == entity.id, model.live())).one()
        totals[kind] = {"count": count, "amount": amount}
    land = session.execute(select(func.count(LandContract.id), fixed_sum(LandContract.area_mu))
                           .where(LandContract.entity_id == entity.id, LandContract.live())).one()
    balances = account_balances(session, entity.book)
    entries = session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.book_id == entity.book_id))
    return {"members": members, "farmers": farmers, "totals": totals, "land_contracts": land[0],
            "land_area": land[1], "entries": entries,
            "cash": sum((balances.get(code, Decimal("0.00")) for code in
                         {account_for_role(entity.chart, role) for role in ("cash", "bank", "mobile")}), Decimal("0.00"))}


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
    #: the share register's rows that gave the member shares or took them from them (份额登记簿), and what they hold
    shares: list = field(default_factory=list)
    share_holding: Decimal = Decimal(0)

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
        select(Delivery.product, Delivery.unit, fixed_sum(Delivery.quantity), money_sum(Delivery.amount))
        .where(Delivery.member_id == member.id, Delivery.live()).group_by(Delivery.product, Delivery.unit)
        .order_by(Delivery.product)).all()
    account.deliveries = [tuple(row) for row in account.deliveries]
    days, wages = session.execute(select(fixed_sum(LaborRecord.days), money_sum(LaborRecord.amount))
                                  .where(LaborRecord.member_id == member.id, LaborRecord.live())).one()
    account.labor = (days, wages)
    account.capital = session.scalars(select(CapitalContribution).where(CapitalContribution.member_id == member.id,
                                                                        CapitalContribution.live())
                                      .order_by(CapitalContribution.date)).all()
    account.land = session.scalars(select(LandContract).where(LandContract.member_id == member.id,
                                                                  LandContract.live())).all()
    account.shares = session.scalars(select(ShareHolding).options(
        joinedload(ShareHolding.member), joinedload(ShareHolding.from_member)).where(
        ShareHolding.live(), (ShareHolding.member_id == member.id) | (ShareHolding.from_member_id == member.id))
        .order_by(ShareHolding.date, ShareHolding.id)).all()
    account.share_holding = sum((r.shares if r.member_id == member.id else -r.shares for r in account.shares),
                                Decimal(0))
    for attr, model in (("inputs", InputSupply), ("advances", Advance), ("payments", Payment), ("sales", Sale)):
        setattr(account, attr, session.scalar(select(money_sum(model.amount)).where(model.member_id == member.id,
                                                                                          model.live())))
    return account


def share_holdings(session: Session, entity: Entity, *, until: dt.date | None = None) -> dict[int, Decimal]:
    """Member id -> the shares of the collective's assets they hold (份额登记簿): what the register's live rows dated
    up to ``until`` (all of them by default) gave them, less what they gave others. Members holding none are left
    out. Two aggregate queries."""
    dated = (ShareHolding.entity_id == entity.id) & ShareHolding.live()
    if until is not None:
        dated = dated & (ShareHolding.date <= until)
    held: dict[int, Decimal] = {}
    for column, sign in ((ShareHolding.member_id, 1), (ShareHolding.from_member_id, -1)):
        for mid, shares in session.execute(select(column, fixed_sum(ShareHolding.shares)).where(
                dated, column.is_not(None)).group_by(column)):
            held[mid] = held.get(mid, Decimal(0)) + sign * shares
    return {mid: shares for mid, shares in held.items() if shares}


def share_register(session: Session, entity: Entity, *, until: dt.date | None = None) -> dict:
    """The share register's totals (份额登记簿) as at ``until`` (today's by default): ``{"members": [(code, name,
    shares)], "total": Decimal}``, members by member number."""
    held = share_holdings(session, entity, until=until)
    rows = session.execute(select(Member.id, Member.code, Household.head_name, Entity.name)
                           .outerjoin(Household, Household.id == Member.household_id)
                           .outerjoin(Entity, Entity.id == Member.member_entity_id)
                           .where(Member.id.in_(list(held))).order_by(Member.member_no)).all() if held else []
    members = [(code, hname or ename or code, held[mid]) for mid, code, hname, ename in rows]
    return {"members": members, "total": sum((s for _, _, s in members), Decimal(0))}


def _days(start: dt.date, end: dt.date | None, year: int) -> int:
    lo, hi = max(start, dt.date(year, 1, 1)), min(end or dt.date(year, 12, 31), dt.date(year, 12, 31))
    return max((hi - lo).days + 1, 0)


def _kg(quantity: Decimal | None, unit: str | None) -> Decimal:
    if quantity is None:
        return Decimal(0)
    return quantity / 2 if unit == "jin" else quantity if unit == "kg" else Decimal(0)


def opening_lines(session: Session, entity: Entity) -> tuple[str | None, list[dict]]:
    """The voucher of ``entity``'s opening balances (None: not posted) and its lines — account, name, member,
    debit, credit (Decimal or None) — in one query."""
    from sqlalchemy.orm import aliased

    from ledger.models import Account, Party, Posting

    party = aliased(Party)
    rows = session.execute(
        select(JournalEntry.year, JournalEntry.voucher_no, Account.code, Account.name, party.code, Posting.amount)
        .join(Posting, Posting.entry_id == JournalEntry.id).join(Account, Account.id == Posting.account_id)
        .outerjoin(party, party.id == Posting.party_id)
        .where(JournalEntry.book_id == entity.book_id, JournalEntry.kind == "opening").order_by(Posting.id)).all()
    if not rows:
        return None, []
    return f"{rows[0][0]}-{rows[0][1]:04d}", [
        {"account": code, "name": name, "member": member, "debit": amount if amount > 0 else None,
         "credit": -amount if amount < 0 else None} for _, _, code, name, member, amount in rows]


def voucher_list(session: Session, entity: Entity, *, limit: int = 100, offset: int = 0,
                 voucher_id: int | None = None) -> tuple[list[dict], int]:
    """The vouchers typed as such (记账凭证) of ``entity`` (or only ``voucher_id``), newest first, and how many there
    are: each with its voucher number, date, memo, attachments, who made it (制单), whether voided, and its lines
    (account, name, member, debit, credit) — in three queries whatever their number."""
    from sqlalchemy.orm import aliased

    from cooperatives.models import ManualVoucher, User
    from ledger.models import Account, Party, Posting

    total = session.scalar(select(func.count(ManualVoucher.id)).where(ManualVoucher.entity_id == entity.id))
    rows = session.execute(
        select(ManualVoucher, JournalEntry.year, JournalEntry.voucher_no, User.display_name)
        .outerjoin(JournalEntry, JournalEntry.id == ManualVoucher.entry_id)
        .outerjoin(User, User.id == ManualVoucher.made_by)
        .where(ManualVoucher.entity_id == entity.id,
               *([ManualVoucher.id == voucher_id] if voucher_id is not None else []))
        .order_by(ManualVoucher.date.desc(), ManualVoucher.id.desc()).limit(limit).offset(offset)).all()
    party = aliased(Party)
    lines: dict[int, list[dict]] = {}
    entry_ids = [v.entry_id for v, *_ in rows if v.entry_id is not None]
    if entry_ids:
        for entry_id, code, name, member, amount in session.execute(
                select(Posting.entry_id, Account.code, Account.name, party.code, Posting.amount)
                .join(Account, Account.id == Posting.account_id).outerjoin(party, party.id == Posting.party_id)
                .where(Posting.entry_id.in_(entry_ids)).order_by(Posting.id)):
            lines.setdefault(entry_id, []).append({
                "account": code, "name": name, "member": member, "debit": amount if amount > 0 else None,
                "credit": -amount if amount < 0 else None})
    out = [{"id": v.id, "voucher": f"{year}-{number:04d}" if number is not None else None, "date": v.date,
            "memo": v.memo, "attachments": v.attachments, "made_by": made_by, "voided_at": v.voided_at,
            "void_reason": v.void_reason, "lines": lines.get(v.entry_id, [])}
           for v, year, number, made_by in rows]
    return out, total


def _add_opening(session: Session, entity: Entity, year: int, members: dict[int, dict]) -> None:
    """A member's capital (301) and fund share (311) brought in with the opening balances (期初余额) count as
    theirs: capital as contributed in cash before the books start, the fund share as quantified to them."""
    capital, fund = account_for_role(entity.chart, "capital"), account_for_role(entity.chart, "special_fund")
    if fund == account_for_role(entity.chart, "reserve"):   # a collective's 311 公积公益金: its member part is the
        fund = None                                          # reserve share the run reads already, not a fund share
    by_code = {m["code"]: m for m in members.values()}
    opened, balances = opening_balances(session, entity.book_id, (capital,) if fund is None else (capital, fund))
    for (code, party), amount in balances.items():
        member = by_code.get(party)
        if member is None or opened > year:
            continue
        if code == capital:
            member["capital"].append(("cash", -amount))
        else:
            member["fund_share"] += -amount


def funds_formed(session: Session, entity: Entity, *, until: dt.date, since: dt.date | None = None,
                 quantified: bool = True) -> dict[str, Decimal]:
    """``{"fiscal": …, "donation": …}``: what of the entity's subsidies reached 311 专项基金 from ``since`` to ``until``
    — what the residual basis, the 03表 and the 成员账户 count (law Art. 44: the property *formed* from them;
    books-review W2). A donation reaches it when received; a fiscal subsidy that waits in 235 as an asset paid out
    of its project is acquired (an expense paid out of it never does); one recorded before it waited, or in a
    chart where it does not, when received. ``quantified``: only what is quantified to members."""
    def dated(column):
        return (column <= until) & (column >= since) if since is not None else column <= until

    waits = Subsidy.held if entity.chart in SUBSIDIES_WAIT else false()
    ours = (Subsidy.entity_id == entity.id) & Subsidy.live() & (Subsidy.quantify if quantified else true())
    formed = dict(session.execute(select(Subsidy.kind, money_sum(Subsidy.amount)).where(
        ours, dated(Subsidy.date), (Subsidy.kind == "donation") | ~waits).group_by(Subsidy.kind)).all())
    if entity.chart in SUBSIDIES_WAIT:
        projects = select(Subsidy.project).where(ours, Subsidy.kind == "fiscal", Subsidy.held)
        by_assets = session.scalar(select(money_sum(FixedAsset.cost)).where(
            FixedAsset.entity_id == entity.id, FixedAsset.live(), dated(FixedAsset.acquired_on),
            FixedAsset.project.in_(projects)))
        formed["fiscal"] = formed.get("fiscal", Decimal("0.00")) + by_assets
    return formed


def year_contributions(session: Session, entity: Entity, year: int, *, prorate_land: bool = False) -> dict:
    """What every member of ``entity`` put in during ``year``, aggregated in SQL: the input of a
    distribution run. Returns ``{"members": [...], "subsidy_fund": Decimal, "sources": [...]}``.

    Members are those whose membership overlaps the year. Trade is kept per kind and product, with
    quantities in kg (斤 halved). Capital and land are as at the year's end.
    """
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    rows = session.execute(
        select(Member, Household.head_name, Entity.name)
        .outerjoin(Household, Household.id == Member.household_id)
        .outerjoin(Entity, Entity.id == Member.member_entity_id)
        .where(Member.entity_id == entity.id, Member.joined_on <= end,
               (Member.left_on.is_(None)) | (Member.left_on >= start))
        .order_by(Member.member_no)).all()
    members = {m.id: {"member_id": m.id, "code": m.code, "member_no": m.member_no, "name": hname or ename or m.code,
                      "farmer": m.farmer, "days": _days(m.joined_on, m.left_on, year), "trade": [], "capital": [],
                      "land_shares": Decimal(0), "labor_days": Decimal(0), "land_consent": m.land_deduction_consent,
                      "fund_share": Decimal(0), "shares": Decimal(0)}
               for m, hname, ename in rows}
    _add_opening(session, entity, year, members)
    year_filter = lambda model: ((model.entity_id == entity.id) & (model.date >= start) & (model.date <= end)  # noqa: E731
                                 & model.live())
    for mid, product, unit, qty, amount in session.execute(
            select(Delivery.member_id, Delivery.product, Delivery.unit, fixed_sum(Delivery.quantity),
                   money_sum(Delivery.amount))
            .where(year_filter(Delivery)).group_by(Delivery.member_id, Delivery.product, Delivery.unit)):
        if mid in members:
            members[mid]["trade"].append(("deliveries", product, _kg(qty, unit), amount))
    for mid, product, unit, qty, amount in session.execute(
            select(Sale.member_id, Sale.product, Sale.unit, fixed_sum(Sale.quantity), money_sum(Sale.amount))
            .where(year_filter(Sale), Sale.member_id.is_not(None)).group_by(Sale.member_id, Sale.product, Sale.unit)):
        if mid in members:
            members[mid]["trade"].append(("sales", product, _kg(qty, unit), amount))
    for mid, item, amount in session.execute(
            select(InputSupply.member_id, InputSupply.item, money_sum(InputSupply.amount))
            .where(year_filter(InputSupply)).group_by(InputSupply.member_id, InputSupply.item)):
        if mid in members:
            members[mid]["trade"].append(("inputs", item, Decimal(0), amount))
    for mid, form, amount in session.execute(
            select(CapitalContribution.member_id, CapitalContribution.form, money_sum(CapitalContribution.amount))
            .where(CapitalContribution.entity_id == entity.id, CapitalContribution.date <= end,
                   CapitalContribution.live())
            .group_by(CapitalContribution.member_id, CapitalContribution.form)):
        if mid in members:
            members[mid]["capital"].append((form, amount))
    for mid, days in session.execute(
            select(LaborRecord.member_id, fixed_sum(LaborRecord.days)).where(year_filter(LaborRecord))
            .group_by(LaborRecord.member_id)):
        if mid in members:
            members[mid]["labor_days"] = days
    year_days = (end - start).days + 1
    for contract in session.scalars(select(LandContract).where(
            LandContract.entity_id == entity.id, LandContract.start_on <= end, LandContract.live(),
            (LandContract.end_on.is_(None)) | (LandContract.end_on >= start))):
        if contract.member_id in members:
            shares = contract.shares
            if prorate_land:
                shares = shares * _days(contract.start_on, contract.end_on, year) / year_days
            members[contract.member_id]["land_shares"] += shares
    for mid, shares in share_holdings(session, entity, until=end).items():     # 份额登记簿, at the year's end
        if mid in members:
            members[mid]["shares"] = shares
    subsidy_fund = sum(funds_formed(session, entity, until=end).values(), Decimal("0.00"))
    sources = session.execute(
        select(InvestmentIncome.source, InvestmentIncome.source_ref, InvestmentIncome.amount)
        .where(year_filter(InvestmentIncome), InvestmentIncome.source_ref.is_not(None))
        .order_by(InvestmentIncome.id)).all()
    return {"members": list(members.values()), "subsidy_fund": subsidy_fund, "year_days": year_days,
            "sources": [(f"{source} ({ref})", amount) for source, ref, amount in sources]}

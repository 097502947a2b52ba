"""Recording what happens in a cooperative. Each function takes a Session, flushes, never commits.

A source record and the journal entry it posts are written in the same transaction: the record
first (for its id, which becomes the entry's ``source``), then the entry, then the link back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cooperatives import privacy
from cooperatives.models import (
    CHART_FOR_KIND,
    Advance,
    AuditLog,
    CapitalContribution,
    Delivery,
    Entity,
    Expense,
    Household,
    InputSupply,
    InvestmentIncome,
    LaborRecord,
    LandAccrual,
    LandContract,
    Member,
    Payment,
    Sale,
    Subsidy,
    Township,
    Village,
)
from cooperatives.postings import RECORD_MEMOS, land_rent_for_year, legs_for, merge_legs
from ledger.entries import EntryDraft
from ledger.money import quantize
from ledger.operations import create_book, ensure_parties, is_closed, post_entries, post_entry

#: record kind (the import sheet name) -> model
RECORD_MODELS = {
    "capital": CapitalContribution, "labor": LaborRecord, "deliveries": Delivery, "inputs": InputSupply,
    "sales": Sale, "expenses": Expense, "subsidies": Subsidy, "advances": Advance, "payments": Payment,
    "income": InvestmentIncome,
}
#: kinds whose record belongs to one member (the ``member`` column is required)
MEMBER_KINDS = {"capital", "labor", "deliveries", "inputs", "advances", "payments"}


class RecordError(ValueError):
    """A record refused for a reason the user can fix; ``field`` names the column."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def audit(session: Session, *, actor_id: int | None, action: str, target: str, entity_id: int | None = None,
          detail: str | None = None) -> AuditLog:
    """Append an event to the audit log's hash chain: :func:`cooperatives.audit.audit`, the one writer."""
    from cooperatives.audit import audit as append

    return append(session, actor_id=actor_id, action=action, target=target, entity_id=entity_id, detail=detail)


def ensure_township(session: Session, name: str) -> Township:
    township = session.scalar(select(Township).where(Township.name == name))
    if township is None:
        township = Township(name=name)
        session.add(township)
        session.flush()
    return township


def ensure_village(session: Session, township: Township, name: str) -> Village:
    village = session.scalar(select(Village).where(Village.township_id == township.id, Village.name == name))
    if village is None:
        village = Village(township_id=township.id, name=name)
        session.add(village)
        session.flush()
    return village


def create_entity(session: Session, *, code: str, name: str, kind: str, township: str, village: str | None = None,
                  credit_code: str | None = None, first_year: int | None = None,
                  actor_id: int | None = None) -> Entity:
    """Register an entity and open its book on the chart its kind keeps."""
    if kind not in CHART_FOR_KIND:
        raise RecordError("kind", f"unknown entity kind {kind!r}")
    ts = ensure_township(session, township)
    vil = ensure_village(session, ts, village) if village else None
    book = create_book(session, code=code, name=name, chart=CHART_FOR_KIND[kind])
    entity = Entity(code=code, name=name, kind=kind, township_id=ts.id, village_id=vil.id if vil else None,
                    credit_code=credit_code, book_id=book.id, first_year=first_year or dt.date.today().year)
    session.add(entity)
    session.flush()
    audit(session, actor_id=actor_id, action="create", target=f"entity:{code}", entity_id=entity.id)
    return entity


def household_fields(id_number: str | None = None, bank_account: str | None = None) -> dict:
    """The stored form of the sensitive fields: ciphertext, masked copy, keyed digest."""
    return {
        "id_number_enc": privacy.encrypt(id_number), "id_number_masked": privacy.mask(id_number),
        "bank_account_enc": privacy.encrypt(bank_account), "bank_account_masked": privacy.mask(bank_account),
        "bank_account_digest": privacy.digest(bank_account),
    }


def register_household(session: Session, *, code: str, head_name: str, village: Village, phone: str | None = None,
                       id_number: str | None = None, bank_account: str | None = None, monitoring: str = "none",
                       poverty_exited: bool = False, actor_id: int | None = None) -> Household:
    household = Household(code=code, head_name=head_name, village_id=village.id, phone=phone,
                          monitoring=monitoring, poverty_exited=poverty_exited,
                          **household_fields(id_number, bank_account))
    session.add(household)
    session.flush()
    audit(session, actor_id=actor_id, action="create", target=f"household:{code}")
    return household


def register_member(session: Session, entity: Entity, *, code: str, member_no: int, joined_on: dt.date,
                    left_on: dt.date | None = None, farmer: bool = True, actor_id: int | None = None) -> Member:
    """Make the household (or, for a cluster project, the entity) with ``code`` a member of ``entity``."""
    household = session.scalar(select(Household).where(Household.code == code))
    member_entity = None
    if household is None:
        member_entity = session.scalar(select(Entity).where(Entity.code == code))
        if member_entity is None or entity.kind != "cluster_project":
            raise RecordError("member", f"no household {code!r}")
    if left_on is not None and left_on < joined_on:
        raise RecordError("left_on", "left_on is before joined_on")
    member = Member(entity_id=entity.id, code=code, member_no=member_no, joined_on=joined_on, left_on=left_on,
                    farmer=farmer, household_id=household.id if household else None,
                    member_entity_id=member_entity.id if member_entity else None)
    session.add(member)
    session.flush()
    name = household.head_name if household else member_entity.name
    ensure_parties(session, entity.book, {code: name})
    audit(session, actor_id=actor_id, action="create", target=f"member:{code}", entity_id=entity.id)
    return member


def find_member(session: Session, entity: Entity, code: str) -> Member | None:
    return session.scalar(select(Member).where(Member.entity_id == entity.id, Member.code == code))


def prepare_values(kind: str, values: dict) -> dict:
    """Fill in derived values (amounts of labour days and deliveries) the way the import does.
    Returns ``values`` itself when nothing is missing (the bulk import calls this per row)."""
    if kind == "labor" and values.get("amount") is None:
        return dict(values, amount=quantize(values["days"] * values["rate"]))
    if kind == "deliveries" and values.get("amount") is None:
        return dict(values, amount=quantize(values["quantity"] * values["unit_price"]))
    return values


def record(session: Session, entity: Entity, kind: str, values: dict, *, actor_id: int | None = None):
    """Record one source document of ``kind`` and post its journal entry. Returns the record.

    ``values`` are the import sheet's columns, typed (Decimal amounts, dates); ``member`` is a member code.
    Raises RecordError for an unknown member, ledger errors for a closed period.
    """
    model = RECORD_MODELS[kind]
    values = dict(prepare_values(kind, values))
    member_code = values.pop("member", None)
    member = None
    if member_code:
        member = find_member(session, entity, member_code)
        if member is None:
            raise RecordError("member", f"{member_code!r} is not a member of {entity.code}")
    elif kind in MEMBER_KINDS:
        raise RecordError("member", "a member is required")
    columns = model.__table__.columns.keys()
    row = model(entity_id=entity.id, **{k: v for k, v in values.items() if k in columns},
                **({"member_id": member.id} if member else {}))
    session.add(row)
    session.flush()
    party = member.code if member and kind in MEMBER_KINDS else None
    draft = EntryDraft(date=values["date"], memo=_memo(kind, values, member_code),
                       source=f"{kind}:{row.id}", postings=tuple(legs_for(kind, entity.chart, values, party)))
    row.entry_id = post_entry(session, entity.book, draft, actor_id=actor_id).id
    audit(session, actor_id=actor_id, action="record", target=f"{kind}:{row.id}", entity_id=entity.id)
    session.flush()
    return row


def _memo(kind: str, values: dict, member: str | None) -> str:
    detail = values.get("product") or values.get("item") or values.get("source") or values.get("buyer") or ""
    return " ".join(x for x in (RECORD_MEMOS[kind], member or "", detail) if x)


def record_land_contract(session: Session, entity: Entity, values: dict, *, through_year: int | None = None,
                         actor_id: int | None = None) -> LandContract:
    """Record a land-share contract and accrue its base rent for each open year it covers so far."""
    member = find_member(session, entity, values["member"])
    if member is None:
        raise RecordError("member", f"{values['member']!r} is not a member of {entity.code}")
    contract = LandContract(entity_id=entity.id, member_id=member.id, contract_no=values["contract_no"],
                            area_mu=values["area_mu"], shares=values.get("shares") or values["area_mu"],
                            base_rent_per_mu=values.get("base_rent_per_mu") or Decimal("0.00"),
                            start_on=values["start_on"], end_on=values.get("end_on"))
    session.add(contract)
    session.flush()
    last = min((contract.end_on or dt.date.max).year, through_year or dt.date.today().year)
    for year in range(max(contract.start_on.year, entity.first_year), last + 1):
        accrue_land_rent(session, entity, year, actor_id=actor_id)
    audit(session, actor_id=actor_id, action="record", target=f"land:{contract.id}", entity_id=entity.id)
    return contract


def accrue_land_rent(session: Session, entity: Entity, year: int, *, actor_id: int | None = None) -> int | None:
    """Book ``year``'s base rent of every contract not yet accrued for it, as one summary voucher.

    Idempotent (one accrual per contract and year, enforced by a unique key). Returns the entry id,
    or None when there was nothing to accrue or the year is closed.
    """
    if is_closed(session, entity.book, year):
        return None
    done = select(LandAccrual.contract_id).where(LandAccrual.year == year)
    contracts = session.execute(
        select(LandContract, Member.code).join(Member, Member.id == LandContract.member_id)
        .where(LandContract.entity_id == entity.id, LandContract.id.not_in(done),
               LandContract.start_on <= dt.date(year, 12, 31))
        .order_by(LandContract.id)).all()
    rows, legs = [], []
    for contract, code in contracts:
        if contract.end_on is not None and contract.end_on < dt.date(year, 1, 1):
            continue
        rent = land_rent_for_year(contract.area_mu, contract.base_rent_per_mu, contract.start_on, contract.end_on, year)
        rows.append({"contract_id": contract.id, "year": year, "amount": rent})
        if rent:
            legs += legs_for("land_rent", entity.chart, {"amount": rent}, code)
    if not rows:
        return None
    entry_id = None
    if legs:
        (entry_id,) = post_entries(session, entity.book, [EntryDraft(
            date=dt.date(year, 12, 31), memo=f"{RECORD_MEMOS['land_rent']} {year}",
            source=f"land-rent:{year}:{rows[0]['contract_id']}:{len(rows)}", postings=merge_legs(legs))],
            actor_id=actor_id)
    session.execute(insert(LandAccrual), [{**r, "entry_id": entry_id} for r in rows])
    return entry_id

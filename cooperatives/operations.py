"""Recording what happens in a cooperative. Each function takes a Session, flushes, never commits.

Every public function that writes is an :func:`~cooperatives.access.operation` with one access rule,
and takes the acting principal as ``actor``: a page, the API, a workbook import, the command line and a
job reach the books through these same functions and meet the same rule (``cooperatives.access``).

A source record and the journal entry it posts are written in the same transaction: the record first
(for its id, which becomes the entry's ``source``), then the entry, then the link back. What a record
is checked against in the books (its member, its year, its contract number) is
:func:`cooperatives.kinds.check_records`, shared with the bulk import; what it posts is
:func:`cooperatives.postings.legs_for`, shared likewise.

Households are shared between entities without sharing what each recorded (docs/SECURITY.md §4): the
entity that registers a household owns it (its PIN, its size, the numbers it recorded); another entity
enrols it only by typing its ID number, matched against the keyed digest, and keeps its own bank
account for the member on the membership. A cluster project's members are entities the township's
auditor or the admin linked to it; its run writes into a member entity's book only along such a link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from cooperatives import privacy
from cooperatives.access import (
    Principal,
    administers,
    keeps_books,
    linked,
    links_entities,
    operation,
)
from cooperatives.kinds import (
    KINDS,
    MEMBER_KINDS,
    PARTY_KINDS,
    RECORD_MODELS,
    RecordContext,
    ShareRow,
    check_records,
    kind_label,
    plain_shares,
    share_overdrawn,
    unspent_projects,
)
from cooperatives.models import (
    CHART_FOR_KIND,
    COLLECTIVE2023_FROM,
    Amortisation,
    AssetAccrual,
    AuditLog,
    CapitalContribution,
    Entity,
    EntityLink,
    FixedAsset,
    Household,
    InvestmentIncome,
    LandAccrual,
    LandContract,
    ManualVoucher,
    Member,
    ShareHolding,
    Township,
    Village,
    chart_for,
)
from cooperatives.postings import (
    MONEY_ROLES,
    RECORD_MEMOS,
    SUBSIDIES_WAIT,
    depreciation_for_year,
    land_rent_for_year,
    legs_for,
    merge_legs,
    months_through,
    straight_line_to,
)
from ledger.chart import (
    CARRY_OVER_2004_2023,
    CARRY_OVER_RESULT,
    CARRY_OVER_WAGES_OWED,
    PROFIT_AND_LOSS,
    ROLES,
    account_for_role,
    account_named,
    spec_by_code,
)
from ledger.clock import china_today
from ledger.db import money_sum
from ledger.entries import EntryDraft, PostingDraft
from ledger.errors import Problem
from ledger.i18n import N_, msg
from ledger.models import Account, JournalEntry, Party, Posting
from ledger.operations import (
    create_book,
    draft_of,
    ensure_parties,
    is_closed,
    period_status,
    post_entries,
    post_entry,
)
from ledger.queries import book_has_entries, party_balances

__all__ = ["MEMBER_KINDS", "RECORD_MODELS"]          # re-exported: the record kinds live in cooperatives.kinds


class RecordError(ValueError):
    """Refused for reasons the user can fix: ``problems`` name the fields and why (nothing was written)."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def field(self) -> str | None:
        return self.problems[0].column


def refuse(column: str | None, template: str, *, code: str, **params) -> RecordError:
    return RecordError(Problem.of(msg(template, code=code, **params), column))


def audit(session: Session, *, actor_id: int | None, action: str, target: str, entity_id: int | None = None,
          detail: str | None = None) -> AuditLog:
    """Append an event to the audit log's hash chain: :func:`cooperatives.audit.audit`, the one writer."""
    from cooperatives.audit import audit as append

    return append(session, actor_id=actor_id, action=action, target=target, entity_id=entity_id, detail=detail)


def ensure_township(session: Session, name: str) -> Township:
    """The township called ``name``, created when new (a part of the operations that name one)."""
    township = session.scalar(select(Township).where(Township.name == name))
    if township is None:
        township = Township(name=name)
        session.add(township)
        session.flush()
    return township


def ensure_village(session: Session, township: Township, name: str) -> Village:
    """The village of ``township`` called ``name``, created when new (a part of registering a household)."""
    village = session.scalar(select(Village).where(Village.township_id == township.id, Village.name == name))
    if village is None:
        village = Village(township_id=township.id, name=name)
        session.add(village)
        session.flush()
    return village


# -------------------------------------------------------------------------------------------- entities


@operation(administers())
def create_entity(session: Session, *, code: str, name: str, kind: str, township: str, village: str | None = None,
                  credit_code: str | None = None, books_start: dt.date | None = None, first_year: int | None = None,
                  actor: Principal) -> Entity:
    """Register an entity and open its book on the chart its kind keeps, starting on ``books_start`` (建账日期;
    by default 1 January of ``first_year``, or of this year)."""
    if kind not in CHART_FOR_KIND:
        raise refuse("kind", N_("Unknown kind of entity: %(kind)s."), kind=kind, code="unknown_kind")
    ts = ensure_township(session, township)
    vil = ensure_village(session, ts, village) if village else None
    start = books_start or dt.date(first_year or china_today().year, 1, 1)
    if (start.month, start.day) != (1, 1):      # so that each year's opening figures hold the opening balances
        raise refuse("books_start", N_("The books start on 1 January of a year, not %(date)s."), date=start,
                     code="books_start_not_january")
    book = create_book(session, code=code, name=name, chart=chart_for(kind, start), books_start=start)
    entity = Entity(code=code, name=name, kind=kind, township_id=ts.id, village_id=vil.id if vil else None,
                    credit_code=credit_code, book_id=book.id)
    session.add(entity)
    session.flush()
    audit(session, actor_id=actor.user_id, action="create", target=f"entity:{code}", entity_id=entity.id)
    return entity


@operation(links_entities())
def link_member_entity(session: Session, project: Entity, member: Entity, *, actor: Principal) -> EntityLink:
    """Link ``member`` (an entity of the project's township) to the cluster project ``project``: it may then
    be the project's member, and the project's runs book its share in its books. Idempotent."""
    if project.kind != "cluster_project":
        raise refuse("project", N_("%(entity)s is not a cluster project."), entity=project.code, code="not_a_project")
    if member.id == project.id or member.township_id != project.township_id:
        raise refuse("member", N_("Only another entity of the project's township can be linked to it."),
                     code="link_outside_township")
    existing = session.scalar(select(EntityLink).where(EntityLink.project_id == project.id,
                                                       EntityLink.member_entity_id == member.id))
    if existing is not None:
        return existing
    link = EntityLink(project_id=project.id, member_entity_id=member.id, created_by=actor.user_id)
    session.add(link)
    session.flush()
    audit(session, actor_id=actor.user_id, action="link", target=f"entity:{member.code}", entity_id=project.id,
          detail=f"{member.code} -> {project.code}")
    return link


# ------------------------------------------------------------------------------- households and members


def household_fields(id_number: str | None = None, bank_account: str | None = None) -> dict:
    """The stored form of the sensitive fields: ciphertext, masked copy, keyed digest."""
    return {"id_number_enc": privacy.encrypt(id_number), "id_number_masked": privacy.mask(id_number),
            "id_number_digest": privacy.digest(id_number), **member_bank_fields(bank_account)}


def member_bank_fields(bank_account: str | None) -> dict:
    """A bank account's stored form: a household's, or a membership's own (an entity that did not register
    the household pays into it)."""
    return {"bank_account_enc": privacy.encrypt(bank_account), "bank_account_masked": privacy.mask(bank_account),
            "bank_account_digest": privacy.digest(bank_account)}


@dataclass
class KnownHousehold:
    id: int
    township_id: int
    owner_entity_id: int | None
    id_number_digest: str | None
    persons: int | None = None


@dataclass
class EnrolmentContext:
    """What :func:`check_enrolment` compares registrations with, loaded once (one row or a workbook)."""

    entity: Entity | None
    entity_code: str
    township_id: int | None
    kind: str
    households: dict[str, KnownHousehold] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)         # this entity's member code -> member no.
    linked: dict[str, int] = field(default_factory=dict)          # linked member entity code -> entity id

    @classmethod
    def load(cls, session: Session, entity: Entity | None, codes, *, entity_code: str = "", township_id=None,
             kind: str = "") -> EnrolmentContext:
        from ledger.db import keyed_rows

        context = cls(entity, entity.code if entity else entity_code,
                      entity.township_id if entity else township_id, entity.kind if entity else kind)
        found = keyed_rows(session, Household.code, (Household.id, Village.township_id, Household.owner_entity_id,
                                                     Household.id_number_digest, Household.persons),
                           set(codes), Village.id == Household.village_id)
        context.households = {code: KnownHousehold(*row) for code, row in found.items()}
        if entity is not None:
            context.members = dict(session.execute(select(Member.code, Member.member_no)
                                                   .where(Member.entity_id == entity.id)).all())
            if entity.kind == "cluster_project":
                context.linked = dict(session.execute(
                    select(Entity.code, Entity.id).join(EntityLink, EntityLink.member_entity_id == Entity.id)
                    .where(EntityLink.project_id == entity.id)).all())
        return context


def check_enrolment(context: EnrolmentContext, code: str, id_number: str | None, *, root: bool = False
                    ) -> tuple[str, str] | None:
    """Whether the household (or, for a cluster project, the entity) ``code`` may become a member:
    ``None`` when it may, else ``(column, reason)``. A household registered in another township is never
    enrolled; one registered by another entity of the township only with its ID number, as recorded there
    (matched against the keyed digest) — unless the admin or the console (``root``) enrols it; a member
    entity only when it is linked to the project."""
    if context.kind == "cluster_project" and code not in context.households:
        if code in context.linked:
            return None
        return "member", msg(N_("%(member)s is not linked to this project: the township's auditor or the admin "
                                "links the entities that own it."), member=code, code="not_linked")
    known = context.households.get(code)
    if known is None or code in context.members:
        return None
    if known.township_id != context.township_id:
        # household codes are global: never reveal (or enrol) a household of another township
        return "code", msg(N_("The household code %(household)s is already used in another township."),
                           household=code, code="household_other_township")
    if root or (context.entity is not None and known.owner_entity_id == context.entity.id):
        return None
    if id_number and known.id_number_digest and privacy.digest(id_number) == known.id_number_digest:
        return None
    return "id_number", msg(N_("Household %(household)s was registered by another entity: type its ID number, as "
                               "recorded there, to enrol it here."), household=code, code="household_not_proved")


@operation(keeps_books())
def register_household(session: Session, entity: Entity, *, code: str, head_name: str, village: str,
                       phone: str | None = None, id_number: str | None = None, bank_account: str | None = None,
                       monitoring: str = "none", poverty_exited: bool = False, persons: int | None = None,
                       actor: Principal) -> Household:
    """Register a new household in a village of the entity's township; the entity owns it (its PIN, its
    size, its numbers). A code registered already is refused: enrol that household instead."""
    if session.scalar(select(Household.id).where(Household.code == code)) is not None:
        raise refuse("code", N_("The household code %(household)s is already registered."), household=code,
                     code="household_exists")
    place = ensure_village(session, entity.township, village)
    household = Household(code=code, head_name=head_name, village_id=place.id, phone=phone, monitoring=monitoring,
                          poverty_exited=poverty_exited, persons=persons, owner_entity_id=entity.id,
                          **household_fields(id_number, bank_account))
    session.add(household)
    session.flush()
    audit(session, actor_id=actor.user_id, action="create", target=f"household:{code}", entity_id=entity.id)
    return household


@operation(keeps_books())
def correct_account(session: Session, entity: Entity, member: Member, *, bank_account: str,
                    head_name: str | None = None, actor: Principal) -> None:
    """Correct the bank account ``entity`` pays ``member`` into (after the bank returned a payment: 户名与账号不符,
    card closed…), and for a household the entity registered, the head's name as the bank knows it. A household
    another entity registered keeps its name there; only the account of this membership changes. Logged (never
    the number). The next bank batch pays the corrected account."""
    from cooperatives.workbook import valid_account

    if member.entity_id != entity.id:
        raise refuse("member", N_("%(member)s is not a member of %(entity)s"), member=member.code, entity=entity.code,
                     code="not_member")
    bank_account = "".join((bank_account or "").split())
    household = session.get(Household, member.household_id) if member.household_id else None
    if not valid_account(bank_account, card=household is not None):
        raise refuse("bank_account", N_("A bank account number of 12 to 30 digits; a card number (16 to 19 digits) "
                                        "must pass its check digit."), code="bad_bank_account")
    head_name = " ".join((head_name or "").split()) or None
    if head_name is not None and len(head_name) > 100:
        raise refuse("head_name", N_("At most 100 characters."), code="too_long")
    owner = household is not None and household.owner_entity_id == entity.id
    if head_name is not None and not owner and (household is None or head_name != household.head_name):
        raise refuse("head_name", N_("Only the entity that registered the household changes its head's name."),
                     code="name_not_owner")
    target = household if owner else member
    for name, value in member_bank_fields(bank_account).items():
        setattr(target, name, value)
    changed = ["bank_account"]
    if owner and head_name is not None and head_name != household.head_name:
        household.head_name = head_name
        changed.append("head_name")
    audit(session, actor_id=actor.user_id, action="correct-account", target=f"{'household' if household else 'member'}:"
          f"{member.code}", entity_id=entity.id, detail=",".join(changed))
    session.flush()


@operation(keeps_books())
def register_member(session: Session, entity: Entity, *, code: str, member_no: int, joined_on: dt.date,
                    left_on: dt.date | None = None, farmer: bool = True, land_consent: bool = False,
                    id_number: str | None = None, bank_account: str | None = None, actor: Principal) -> Member:
    """Make the household — or, for a cluster project, the linked entity — ``code`` a member of ``entity``,
    as :func:`check_enrolment` allows. For a household another entity registered, ``id_number`` proves it
    and ``bank_account`` is where this entity pays the member."""
    context = EnrolmentContext.load(session, entity, [code])
    found = check_enrolment(context, code, id_number, root=actor.is_root)
    if found is not None:
        raise RecordError(Problem.of(found[1], found[0]))
    if code in context.members:
        raise refuse("code", N_("%(member)s is already member no. %(n)s."), member=code, n=context.members[code],
                     code="already_member")
    if code not in context.households and code not in context.linked:
        raise refuse("code", N_("Unknown household %(member)s."), member=code, code="unknown_member")
    taken = session.scalar(select(Member.code).where(Member.entity_id == entity.id, Member.member_no == member_no))
    if taken is not None:
        raise refuse("member_no", N_("Member no. %(n)s is already %(member)s."), n=member_no, member=taken,
                     code="member_no_taken")
    if left_on is not None and left_on < joined_on:
        raise refuse("left_on", N_("The leaving date is before the joining date."), code="left_before_joined")
    known = context.households.get(code)
    owner = known is not None and known.owner_entity_id == entity.id
    member = Member(entity_id=entity.id, code=code, member_no=member_no, joined_on=joined_on, left_on=left_on,
                    farmer=farmer, land_deduction_consent=land_consent,
                    household_id=known.id if known else None, member_entity_id=context.linked.get(code),
                    id_recorded=known is not None and (owner or bool(id_number)),
                    **({} if owner or known is None else member_bank_fields(bank_account)))
    session.add(member)
    session.flush()
    ensure_parties(session, entity.book, {code: _holder_name(session, member)})
    audit(session, actor_id=actor.user_id, action="create", target=f"member:{code}", entity_id=entity.id)
    return member


@operation(keeps_books())
def enrol(session: Session, entity: Entity, values: Mapping, *, actor: Principal) -> Member:
    """The registration form's action: register the household when its code is new, then make it (or, for a
    cluster project, the linked entity ``code``) a member — :func:`register_household` and
    :func:`register_member`, in one transaction.

    ``values`` are the registration's typed columns (the households and members sheets: code, head_name,
    village, phone, id_number, bank_account, monitoring, poverty_exited, persons, member_no, joined_on,
    left_on, farmer, land_consent). Raises RecordError naming the field.
    """
    code = values["code"]
    new = session.scalar(select(Household.id).where(Household.code == code)) is None and not (
        entity.kind == "cluster_project" and session.scalar(select(Entity.id).where(Entity.code == code)))
    if new:
        register_household(session, entity, code=code, head_name=values["head_name"], village=values["village"],
                           phone=values.get("phone"), id_number=values.get("id_number"),
                           bank_account=values.get("bank_account"), monitoring=values.get("monitoring") or "none",
                           poverty_exited=bool(values.get("poverty_exited")), persons=values.get("persons"),
                           actor=actor)
    return register_member(session, entity, code=code, member_no=values["member_no"], joined_on=values["joined_on"],
                           left_on=values.get("left_on"), farmer=values.get("farmer", True),
                           land_consent=bool(values.get("land_consent")), id_number=values.get("id_number"),
                           bank_account=None if new else values.get("bank_account"), actor=actor)


def _holder_name(session: Session, member: Member) -> str:
    if member.household_id is not None:
        return session.get(Household, member.household_id).head_name
    return session.get(Entity, member.member_entity_id).name


def find_member(session: Session, entity: Entity, code: str) -> Member | None:
    return session.scalar(select(Member).where(Member.entity_id == entity.id, Member.code == code))


# --------------------------------------------------------------------------------------------- records


@operation(keeps_books())
def record(session: Session, entity: Entity, kind: str, values: dict, *, actor: Principal):
    """Record one source document of ``kind`` and post its journal entry (a land contract: its yearly base
    rent, accrued). Returns the record.

    ``values`` are the kind's sheet columns, typed (Decimal amounts, dates; defaults applied by the sheet);
    ``member`` is a member code. Raises RecordError (nothing written) for what :func:`check_records` finds,
    ledger errors for what the books refuse.
    """
    spec = KINDS[kind]
    values = spec.derive(dict(values))
    problems = check_records(kind, [values], RecordContext.load(session, entity, contracts=kind == "land",
                                                                 wages=kind == "payments",
                                                                 receivables=kind == "receipts",
                                                                 projects=kind in ("assets", "expenses", "subsidies"),
                                                                 shares=kind == "shares"))
    if problems:
        raise RecordError(problems)
    if kind == "land":
        return _record_land_contract(session, entity, values, actor)
    if kind == "shares":
        return _record_shares(session, entity, values, actor)
    if kind == "assets":
        return _record_asset(session, entity, values, actor)
    settle_books_start(session, entity, values["date"])
    member_code = values.pop("member", None)
    member = find_member(session, entity, member_code) if member_code else None
    if kind == "capital" and entity.kind == "cluster_project" and member is not None:     # before anything is written
        _investor(session, entity, member, values["date"], values.get("form") or "cash")
    columns = spec.model.__table__.columns.keys()
    row = spec.model(entity_id=entity.id, **{k: v for k, v in values.items() if k in columns},
                     **({"member_id": member.id} if member else {}))
    session.add(row)
    session.flush()
    party = member.code if member and kind in PARTY_KINDS else None
    draft = EntryDraft(date=values["date"], memo=_memo(kind, values, member_code),
                       source=f"{kind}:{row.id}", postings=tuple(spec.legs(entity.chart, values, party)))
    row.entry_id = post_entry(session, entity.book, draft, actor_id=actor.user_id).id
    if kind == "stock":             # 期初转回: the count's cost comes back to the next year's costs on 1 January
        post_entry(session, entity.book, EntryDraft(
            date=values["date"] + dt.timedelta(days=1), memo=_memo("stock_back", values, None),
            source=f"stock-back:{row.id}", kind="accrual",
            postings=tuple(legs_for("stock_back", entity.chart, values, None))), actor_id=actor.user_id)
    if kind == "capital" and entity.kind == "cluster_project":
        book_investments(session, entity, [row], actor=actor)
    audit(session, actor_id=actor.user_id, action="record", target=f"{kind}:{row.id}", entity_id=entity.id,
          detail="confirmed over a plausibility warning (确认)" if values.get("confirm") else None)
    session.flush()
    return row


@operation(keeps_books())
def void_record(session: Session, entity: Entity, kind: str, record_id: int, *, reason: str,
                actor: Principal) -> list[JournalEntry]:
    """Void a record (红字冲销): post the exact reversal of what it posted — its own legs, even when the bulk
    import summed it into a day's voucher with others — dated the record's own date, and mark it voided with
    who, when and why. A land contract's reversals are those of each year's base rent it accrued, and it
    accrues no more. Nothing is edited or deleted; a voided record counts for nothing from then on (runs,
    member accounts, reports). Refused (RecordError) when the record is not the entity's, is voided
    already, its year no longer takes entries, no reason is given, or it is a cluster project's share
    (reversed with the project's run). Returns the reversal entries."""
    spec = KINDS.get(kind)
    row = session.get(spec.model if spec else ManualVoucher, record_id)
    if row is None or row.entity_id != entity.id:
        raise refuse(None, N_("%(entity)s has no such record (%(kind)s %(id)s)."), code="no_record",
                     entity=entity.code, kind=kind_label(kind), id=record_id)
    reason = (reason or "").strip()
    if not reason:
        raise refuse("reason", N_("Say why the record is voided."), code="void_reason_required")
    if len(reason) > 300:
        raise refuse("reason", N_("at most %(limit)s characters"), code="at_most", limit=300)
    if row.voided_at is not None:
        raise refuse(None, N_("This record was voided already."), code="voided_already")
    if kind == "income" and row.source_ref is not None:
        raise refuse(None, N_("A cluster project's share is reversed by reversing the project's run."),
                     code="project_share")
    if kind == "labor":                 # wages already paid out of 213 stay paid: void the payment first
        owed = -party_balances(session, entity.book, account_for_role(entity.chart, "labor_payable")).get(
            session.get(Member, row.member_id).code, Decimal(0))
        if owed < row.amount:
            raise refuse(None, N_("Only %(owed)s of these wages is still owed (the rest was paid): void the payment "
                                  "first."), owed=owed, code="wages_paid")
    member = session.get(Member, row.member_id) if getattr(row, "member_id", None) else None
    party = member.code if member is not None and kind in PARTY_KINDS else None
    if kind == "journal":               # a voucher's lines are its entry's postings
        dated = [(row.date, f"void:journal:{row.id}", list(draft_of(session.get(JournalEntry, row.entry_id)).postings))]
    elif kind == "assets":          # its purchase, coming into use, depreciation and, if disposed of, disposal
        values = spec.derive({c: getattr(row, c) for c in spec.model.__table__.columns.keys()})
        dated = [(on, f"void:{source}", legs) for on, source, _, legs in _asset_drafts(entity.chart, values, row.id)]
        dated += [(dt.date(year, 12, 31), f"void:depreciation:{row.id}:{year}",
                   legs_for("depreciation", entity.chart, {"amount": amount}, None))
                  for year, amount in _booked(session, "depreciation", row.id) if amount]
        for entry in session.scalars(select(JournalEntry).where(
                JournalEntry.book_id == entity.book_id,
                JournalEntry.source.in_((f"disposal:{row.id}", f"disposal-result:{row.id}"))).order_by(JournalEntry.id)):
            dated.append((entry.date, f"void:{entry.source}", list(draft_of(entry).postings)))
    elif kind == "shares":          # a register row posted nothing; what others were given from it stays theirs
        _check_share_void(session, entity, row)
        dated = []
    elif kind == "land":
        accrued = session.execute(select(LandAccrual.year, LandAccrual.amount).where(
            LandAccrual.contract_id == row.id, LandAccrual.amount != 0).order_by(LandAccrual.year)).all()
        dated = [(dt.date(year, 12, 31), f"void:land:{row.id}:{year}",
                  legs_for("land_rent", entity.chart, {"amount": amount}, party)) for year, amount in accrued]
    else:
        values = spec.derive({c: getattr(row, c) for c in spec.model.__table__.columns.keys()})
        dated = [(values[spec.date_column], f"void:{kind}:{row.id}", spec.legs(entity.chart, values, party))]
        if kind == "capital" and row.form == "land":        # and the amortisation its land right booked
            dated += [(dt.date(year, 12, 31), f"void:amortisation:{row.id}:{year}",
                       legs_for("amortisation", entity.chart, {"amount": amount}, None))
                      for year, amount in _booked(session, "amortisation", row.id) if amount]
        if kind == "stock":         # and what came back on 1 January
            dated.append((row.date + dt.timedelta(days=1), f"void:stock-back:{row.id}",
                          legs_for("stock_back", entity.chart, values, None)))
    if dated:                       # (a book carried over: the old book is kept as it was)
        in_these_books(entity, min(on for on, _, _ in dated))
    closed = sorted({on.year for on, _, _ in dated if is_closed(session, entity.book, on.year)})
    if closed:
        raise refuse(None, N_("%(year)s is closed in the books of %(entity)s."), code="closed_year",
                     year=closed[0], entity=entity.code)
    if kind == "subsidies" and row.kind == "fiscal" and row.held and entity.chart in SUBSIDIES_WAIT:
        unspent = unspent_projects(session, entity).get(row.project, Decimal("0.00"))
        if unspent < row.amount:            # what its project paid for stays paid for: void that first
            raise refuse(None, N_("Only %(left)s of project %(project)s is unspent: void the assets and expenses paid "
                                  "out of it first."), left=unspent, project=row.project, code="project_used")
    if kind == "sales" and row.paid_by == "credit" and row.member_id is None:   # what was received stays received
        owed = RecordContext.load(session, entity, receivables=True).receivables.get(row.buyer, Decimal(0))
        if owed < row.amount:
            raise refuse(None, N_("Only %(owed)s of this sale is still owed (the rest was received): void the receipt "
                                  "first."), owed=owed, code="sale_received")
    memo = f"冲销 {RECORD_MEMOS.get(kind if kind != 'land' else 'land_rent', kind)} #{row.id} {reason}"
    drafts = [EntryDraft(date=on, memo=memo, source=source, kind="reversal",
                         postings=merge_legs([PostingDraft(leg.account, -leg.amount, leg.party) for leg in legs]))
              for on, source, legs in dated]
    drafts = [d for d in drafts if d.postings]
    ids = post_entries(session, entity.book, drafts, actor_id=actor.user_id)
    for what, (model, key) in ACCRUALS.items():     # what it booked each year now sums to nothing
        undone = [{key: row.id, "year": d.date.year, "entry_id": i,
                   "amount": -sum(p.amount for p in d.postings if p.amount > 0)}
                  for d, i in zip(drafts, ids, strict=True) if d.source.startswith(f"void:{what}:")]
        if undone:
            session.execute(insert(model), undone)
    if kind == "capital" and entity.kind == "cluster_project":
        _void_investment(session, entity, row, actor)
    row.voided_at, row.voided_by, row.void_reason = dt.datetime.now(dt.UTC), actor.user_id, reason
    audit(session, actor_id=actor.user_id, action="void", target=f"{kind}:{row.id}", entity_id=entity.id,
          detail=reason)
    session.flush()
    return [session.get(JournalEntry, i) for i in ids]


OPENING_SOURCE = "opening"


def settle_books_start(session: Session, entity: Entity, earliest: dt.date | None) -> None:
    """While the books have no entry, their start follows the earliest record brought in (1 January of its
    year: an entity registered this year catching up on last year's books); once anything is posted it is
    fixed, and nothing may be dated before it. Part of the operation that posts the records."""
    if earliest is not None and earliest < entity.books_start and not book_has_entries(session, entity.book_id):
        entity.book.books_start = dt.date(earliest.year, 1, 1)
        session.flush()


def voucher_postings(chart: str, lines: list[dict], members: set[str], entity_code: str, *, opening: bool = False,
                     locate=lambda index, column, reason: Problem("lines", index + 1, column, reason)
                     ) -> tuple[tuple[PostingDraft, ...], list[Problem]]:
    """The postings of a voucher's ``lines`` — each ``account`` (a code, a name as in the chart, or both as
    "101 库存现金"; 332/322 mean their 未分配 part), ``member``, ``debit`` or ``credit`` — and every problem of them:
    an account the chart does not have or that takes no postings, an unknown member, both or neither side, and
    debits that differ from credits. The ``opening`` balances (期初余额) take no income or cost account (a year's
    result is brought in as 未分配盈余). ``locate`` places a problem (a workbook row; by default the line's number,
    from 1, as its ``row``)."""
    specs = spec_by_code(chart)
    undistributed = account_for_role(chart, "undistributed")
    postings, problems = [], []
    debits = credits = Decimal("0.00")
    for index, line in enumerate(lines):
        given = str(line.get("account") or "").strip()
        spec = account_named(chart, given)
        if spec is not None and spec.code == specs[undistributed].parent:
            spec = specs[undistributed]                 # 332 (322): its 未分配 part
        if spec is None or not spec.postable:
            problems.append(locate(index, "account", msg(N_("%(account)s is not an account of this chart that takes "
                                                          "postings."), account=given, code="unknown_account")))
            continue
        if opening and spec.type in PROFIT_AND_LOSS:
            problems.append(locate(index, "account", msg(N_("%(account)s %(name)s is an income or cost account: "
                                                          "bring a year's result in as 未分配盈余 (%(undistributed)s)."),
                                                      account=spec.code, name=spec.name, undistributed=undistributed,
                                                      code="opening_profit_and_loss")))
            continue
        member = line.get("member") or None
        if member is not None and member not in members:
            problems.append(locate(index, "member", msg(N_("%(member)s is not a member of %(entity)s."),
                                                        member=member, entity=entity_code, code="not_a_member")))
            continue
        debit, credit = line.get("debit") or Decimal(0), line.get("credit") or Decimal(0)
        if (debit > 0) == (credit > 0) or debit < 0 or credit < 0:
            problems.append(locate(index, "debit", msg(N_("Give a debit or a credit balance (one, above zero)."),
                                                       code="one_side")))
            continue
        debits, credits = debits + debit, credits + credit
        postings.append(PostingDraft(spec.code, debit - credit, member))
    if not problems and debits != credits:
        problems.append(Problem.of(
            msg(N_("The opening balances do not balance: debits %(debit)s, credits %(credit)s."), debit=debits,
                credit=credits, code="opening_unbalanced") if opening else
            msg(N_("The voucher does not balance: debits %(debit)s, credits %(credit)s."), debit=debits,
                credit=credits, code="voucher_unbalanced")))
    return merge_legs(postings), problems


@operation(keeps_books())
def post_opening(session: Session, entity: Entity, lines: list[dict], *, actor: Principal) -> JournalEntry:
    """Post the opening balances (期初余额) of ``entity``'s books (MOF transition rules: the balances at the
    books' start, by account and by member): one entry of kind ``opening``, dated the day before the books
    start, so that every year's opening balance includes it. Only while the book has no entry at all, once.
    Capital (301), reserve shares (322) and fund shares (311) by member carry into the 成员账户 and the
    residual basis. Raises RecordError naming every problem."""
    if book_has_entries(session, entity.book_id):
        raise refuse(None, N_("%(entity)s already has entries: opening balances come before anything else."),
                     entity=entity.code, code="opening_after_entries")
    members = set(session.scalars(select(Member.code).where(Member.entity_id == entity.id)))
    postings, problems = voucher_postings(entity.chart, lines, members, entity.code, opening=True,
                                          locate=lambda i, column, reason: Problem("opening", i + 1, column, reason))
    if not problems and not postings:
        problems.append(Problem.of(msg(N_("There are no opening balances to post."), code="opening_empty")))
    if problems:
        raise RecordError(problems)
    entry = post_entry(session, entity.book, EntryDraft(
        date=entity.books_start - dt.timedelta(days=1), memo="期初余额", source=OPENING_SOURCE, kind="opening",
        postings=postings), actor_id=actor.user_id)
    audit(session, actor_id=actor.user_id, action="opening", target=f"entry:{entry.id}", entity_id=entity.id,
          detail=f"{len(postings)} lines")
    return entry


@dataclass(frozen=True)
class CarriedLine:
    """One line of the 转账工作底稿: a 2004 balance and where it went."""

    old_code: str
    old_name: str
    member: str | None
    amount: Decimal                 # signed, > 0 debit
    new_code: str
    new_name: str
    rule: str


@dataclass(frozen=True)
class CarryOver:
    lines: tuple[CarriedLine, ...]
    entry_id: int                   # the new book's opening entry
    old_book: str                   # the 2004 book's code, kept as it was


CARRY_OVER_ON = COLLECTIVE2023_FROM        # 财会〔2023〕20号: the new books open the day the 2023 system comes in


@operation(keeps_books())
def carry_over(session: Session, entity: Entity, *, remap: Mapping[str, str] | None = None,
               actor: Principal) -> CarryOver:
    """Carry a collective's 2004-chart book over to the 2023 system at 2024-01-01 (财会〔2023〕20号 一(二): the
    2023-12-31 balances transferred into a new book by :data:`ledger.chart.CARRY_OVER_2004_2023`, by meaning and
    by member, as its opening balances). ``remap`` names another 2023 account for a 2004 one whose rule splits it
    by what is in it (``{"132": "134"}``). The old book is kept as it was, its years read from it; the entity keeps
    the new one. Land rights' amortisation to 2023-12-31, never booked on the 2004 chart, is booked (补提摊销). Refused
    unless the book is on the 2004 chart and starts before 2024, holds nothing dated 2024 or later, has its years
    closed (their accruals and result in the balances) and balances."""
    old = entity.book
    if old.chart != "collective2004":
        raise refuse(None, N_("%(entity)s does not keep the 2004 collective chart: there is nothing to carry over."),
                     entity=entity.code, code="not_2004")
    if old.books_start is not None and old.books_start >= CARRY_OVER_ON:
        raise refuse(None, N_("The books of %(entity)s start on %(start)s, when the 2023 system was already in force: "
                              "there are no 2023-12-31 balances to carry over (books that start in 2024 or later "
                              "are opened on the 2023 chart)."), entity=entity.code, start=old.books_start,
                     code="starts_after_2023")
    later = session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.book_id == old.id,
                                                                     JournalEntry.date >= CARRY_OVER_ON))
    if later:
        raise refuse(None, N_("%(entity)s has %(count)s entries dated 2024 or later in its 2004 books: the books "
                              "are carried over from their 2023-12-31 balances, before anything of 2024 is "
                              "recorded (void those records first)."), entity=entity.code, count=later,
                     code="entries_after_2023")
    first = old.books_start.year if old.books_start is not None else CARRY_OVER_ON.year - 1
    still_open = [y for y in range(first, CARRY_OVER_ON.year) if period_status(session, old, y) == "open"]
    if still_open:      # 20号 一(二)1: the old books' 2023 closing is done first (and its year-end accruals with it)
        raise refuse(None, N_("%(year)s is not closed in the 2004 books of %(entity)s: close it first (coopledger "
                              "close-year), so that its year-end accruals and result are in the balances carried "
                              "over."), year=still_open[0], entity=entity.code, code="year_open")
    rows = session.execute(
        select(Account.code, Account.name, Account.type, Party.code, money_sum(Posting.__table__.c.amount))
        .join(Account, Account.id == Posting.account_id).outerjoin(Party, Party.id == Posting.party_id)
        .where(Posting.book_id == old.id).group_by(Account.code, Account.name, Account.type, Party.code)
        .order_by(Account.code, Party.code)).all()
    total = sum((amount for *_, amount in rows), Decimal("0.00"))
    if total:
        raise refuse(None, N_("The 2004 books of %(entity)s do not balance (debits exceed credits by %(amount)s): "
                              "they cannot be carried over."), entity=entity.code, amount=total, code="unbalanced")
    new_chart = spec_by_code("collective2023")
    targets = dict(CARRY_OVER_2004_2023)
    for old_code, new_code in (remap or {}).items():
        spec = account_named("collective2023", new_code)
        if old_code not in targets or spec is None or not spec.postable or spec.type in PROFIT_AND_LOSS:
            raise refuse("map", N_("%(old)s=%(new)s: name a 2004 account and a 2023 account that is not income or "
                                   "expense."), old=old_code, new=new_code, code="bad_map")
        targets[old_code] = (spec.code, f"{targets[old_code][1]}（按实际转入 {spec.code} {spec.name}）")
    carried = []
    for code, name, kind, member, amount in rows:
        if not amount:
            continue
        if kind in PROFIT_AND_LOSS:
            (new_code, rule), member = CARRY_OVER_RESULT, None
        elif code == "211" and member is not None and "211" not in (remap or {}):
            new_code, rule = CARRY_OVER_WAGES_OWED      # what the labour records owe a member: 临时用工
        else:
            new_code, rule = targets[code]
        carried.append(CarriedLine(code, name, member, amount, new_code, new_chart[new_code].name, rule))
    amortised = _amortised_before(session, entity, CARRY_OVER_ON.year - 1)
    if amortised:       # 补提摊销 (20号 四, our reading): the land rights' amortisation to 2023-12-31, never booked
        rule = "补提摊销：土地经营权按月平均摊销至2023年12月31日的累计数，原制度未摊销，调整未分配收益"
        total_amortised = sum(amortised.values(), Decimal("0.00"))
        carried += [CarriedLine("", "补提摊销", None, total_amortised, "32202", new_chart["32202"].name, rule),
                    CarriedLine("", "补提摊销", None, -total_amortised, "162", new_chart["162"].name, rule)]
    merged: dict[tuple, Decimal] = {}
    for line in carried:
        key = (line.new_code, line.member)
        merged[key] = merged.get(key, Decimal("0.00")) + line.amount
    opening = [{"account": a, "member": m, "debit": v if v > 0 else None, "credit": -v if v < 0 else None}
               for (a, m), v in merged.items() if v]
    code = old.code             # the entity's book keeps its code; the old one is renamed, its hashes unchanged
    old.chain_code, old.code = old.hashed_code, f"{code}@2004"[:40]
    session.flush()
    new = create_book(session, code=code, name=old.name, chart="collective2023", books_start=CARRY_OVER_ON)
    new.previous_book_id = old.id
    ensure_parties(session, new, {c: name for c, name in session.execute(
        select(Party.code, Party.name).where(Party.book_id == old.id))})
    entity.book_id = new.id
    session.flush()
    session.expire(entity, ["book"])
    entry = post_opening.__wrapped__(session, entity, opening, actor=actor)
    if amortised:
        session.execute(insert(Amortisation), [{"capital_id": cid, "year": CARRY_OVER_ON.year - 1, "amount": amount,
                                                "entry_id": entry.id} for cid, amount in amortised.items()])
    audit(session, actor_id=actor.user_id, action="carry_over", target=f"book:{new.id}", entity_id=entity.id,
          detail=f"from {old.code}: {len(carried)} balances")
    return CarryOver(tuple(carried), entry.id, old.code)


def _amortised_before(session: Session, entity: Entity, year: int) -> dict[int, Decimal]:
    """Each land right put in as capital -> its amortisation due to the end of ``year`` (none was booked on the 2004
    chart, which has no 162)."""
    due = {cid: straight_line_to(right.amount, months, right.date, year)
           for cid, (right, months) in land_right_terms(session, entity).items() if right.date.year <= year}
    return {cid: amount for cid, amount in due.items() if amount}


VOUCHER_SOURCE = "voucher:{id}"


def voucher_problems(values: dict, context: RecordContext, chart: str, *, locate=None
                     ) -> tuple[tuple[PostingDraft, ...], list[Problem]]:
    """A voucher's postings and every problem of it (pure, against ``context``): its lines
    (:func:`voucher_postings`), a date before the books start or in a year that no longer takes entries, a
    blank memo, fewer than two postings."""
    where = locate or (lambda i, column, reason: Problem("lines", i + 1, column, reason))
    postings, problems = voucher_postings(chart, values.get("lines") or [], context.members, context.entity_code,
                                          locate=where)
    on = values.get("date")
    if on is None:
        problems.append(Problem.of(msg(N_("A date is required."), code="required"), "date"))
    elif (reason := context.date_problem(on)) is not None:
        problems.append(Problem.of(reason, "date"))
    if not str(values.get("memo") or "").strip():
        problems.append(Problem.of(msg(N_("A memo (摘要) is required."), code="required"), "memo"))
    if not problems and len(postings) < 2:
        problems.append(Problem.of(msg(N_("A voucher needs at least two lines that do not cancel out."),
                                       code="too_few_postings")))
    return postings, problems


@operation(keeps_books())
def post_vouchers(session: Session, entity: Entity, vouchers: list[dict], *, actor: Principal,
                  import_id: int | None = None) -> list[ManualVoucher]:
    """Post vouchers (记账凭证) typed as such — one from a page or the API, a workbook's ``journal`` sheet at
    once: each has its ``date``, ``memo`` (摘要), ``attachments`` (附件张数) and ``lines`` (account, member, debit,
    credit), which must balance on the entity's chart. One entry of kind ``manual`` each, all posted in one
    call; each voucher keeps who made it (制单). All or nothing: raises RecordError naming every problem."""
    settle_books_start(session, entity, min((v["date"] for v in vouchers if v.get("date")), default=None))
    context = RecordContext.load(session, entity)
    checked, problems = [], []
    for values in vouchers:
        postings, found = voucher_problems(values, context, entity.chart)
        checked.append(postings)
        problems += found
    if problems:
        raise RecordError(problems)
    rows = [ManualVoucher(entity_id=entity.id, import_id=import_id, date=values["date"],
                          memo=str(values["memo"]).strip(), attachments=values.get("attachments") or 0,
                          key=values.get("voucher"), made_by=actor.user_id) for values in vouchers]
    session.add_all(rows)
    session.flush()
    ids = post_entries(session, entity.book, [
        EntryDraft(date=row.date, memo=row.memo, source=VOUCHER_SOURCE.format(id=row.id), kind="manual",
                   postings=postings) for row, postings in zip(rows, checked, strict=True)], actor_id=actor.user_id)
    for row, entry_id, postings in zip(rows, ids, checked, strict=True):
        row.entry_id = entry_id
        audit(session, actor_id=actor.user_id, action="voucher", target=f"journal:{row.id}", entity_id=entity.id,
              detail=f"{len(postings)} lines")
    session.flush()
    return rows


def _memo(kind: str, values: dict, member: str | None) -> str:
    detail = values.get("product") or values.get("item") or values.get("source") or values.get("buyer") or ""
    return " ".join(x for x in (RECORD_MEMOS[kind], member or "", detail) if x)


@operation(keeps_books())
def record_land_contract(session: Session, entity: Entity, values: dict, *, through_year: int | None = None,
                         actor: Principal) -> LandContract:
    """A land-share contract, and its base rent accrued for each open year it covers so far (up to
    ``through_year``, this year by default). :func:`record` of kind ``land`` comes here."""
    problems = check_records("land", [values], RecordContext.load(session, entity, contracts=True))
    if problems:
        raise RecordError(problems)
    return _record_land_contract(session, entity, values, actor, through_year)


def _record_land_contract(session: Session, entity: Entity, values: dict, actor: Principal,
                          through_year: int | None = None) -> LandContract:
    member = find_member(session, entity, values["member"])
    contract = LandContract(entity_id=entity.id, member_id=member.id, contract_no=values["contract_no"],
                            area_mu=values["area_mu"], shares=values["shares"],
                            base_rent_per_mu=values["base_rent_per_mu"], start_on=values["start_on"],
                            end_on=values.get("end_on"))
    session.add(contract)
    session.flush()
    last = min((contract.end_on or dt.date.max).year, through_year or china_today().year)
    for year in range(max(contract.start_on.year, entity.first_year), last + 1):
        accrue_land_rent(session, entity, year, actor=actor)
    audit(session, actor_id=actor.user_id, action="record", target=f"land:{contract.id}", entity_id=entity.id)
    return contract


def _record_shares(session: Session, entity: Entity, values: dict, actor: Principal) -> ShareHolding:
    """A row of the share register (份额登记簿): written, never posted — quantified shares are not money (INTERFACES
    §3.1). Checked by :func:`check_records` (a collective's; no member gives more than they hold)."""
    member = find_member(session, entity, values["member"])
    source = find_member(session, entity, values["from_member"]) if values.get("from_member") else None
    row = ShareHolding(entity_id=entity.id, member_id=member.id, date=values["date"], shares=values["shares"],
                       share_kind=values.get("kind") or "member", from_member_id=source.id if source else None,
                       note=values.get("note"))
    session.add(row)
    session.flush()
    audit(session, actor_id=actor.user_id, action="record", target=f"shares:{row.id}", entity_id=entity.id)
    return row


def _check_share_void(session: Session, entity: Entity, row: ShareHolding) -> None:
    """A row of the share register may be voided only when, without it, no member has given away more shares than
    they held (void the later transfer or inheritance first); nor in a year that no longer takes entries."""
    if is_closed(session, entity.book, row.date.year):
        raise refuse(None, N_("%(year)s is closed in the books of %(entity)s."), code="closed_year",
                     year=row.date.year, entity=entity.code)
    context = RecordContext.load(session, entity, shares=True)
    holder = session.get(Member, row.member_id).code
    left = list(context.share_rows)
    left.remove(ShareRow(row.date, holder, session.get(Member, row.from_member_id).code if row.from_member_id else None,
                         row.shares))
    found = share_overdrawn(left)
    if found is not None:
        _, member, on, held = found
        raise refuse(None, N_("Without this row %(member)s would have given away more shares than they held on "
                              "%(date)s (%(held)s): void the later inheritance or transfer first."), member=member,
                     date=on, held=plain_shares(held), code="shares_given_away")


@operation(keeps_books())
def accrue_land_rent(session: Session, entity: Entity, year: int, *, actor: Principal) -> int | None:
    """Book ``year``'s base rent of every contract not yet accrued for it, as one summary voucher.

    Idempotent (one accrual per contract and year, enforced by a unique key). Returns the entry id,
    or None when there was nothing to accrue or the year is closed.
    """
    start = entity.books_start
    if is_closed(session, entity.book, year) or year < start.year:
        return None                         # (a contract signed before the books start costs only from then)
    done = select(LandAccrual.contract_id).where(LandAccrual.year == year)
    contracts = session.execute(
        select(LandContract, Member.code).join(Member, Member.id == LandContract.member_id)
        .where(LandContract.entity_id == entity.id, LandContract.id.not_in(done),
               LandContract.start_on <= dt.date(year, 12, 31), LandContract.live())
        .order_by(LandContract.id)).all()
    rows, legs = [], []
    for contract, code in contracts:
        if contract.end_on is not None and contract.end_on < dt.date(year, 1, 1):
            continue
        rent = land_rent_for_year(contract.area_mu, contract.base_rent_per_mu, max(contract.start_on, start),
                                  contract.end_on, year)
        rows.append({"contract_id": contract.id, "year": year, "amount": rent})
        if rent:
            legs += legs_for("land_rent", entity.chart, {"amount": rent}, code)
    if not rows:
        return None
    entry_id = None
    if legs:
        (entry_id,) = post_entries(session, entity.book, [EntryDraft(
            date=dt.date(year, 12, 31), memo=f"{RECORD_MEMOS['land_rent']} {year}",
            source=f"land-rent:{year}:{rows[0]['contract_id']}:{len(rows)}", kind="accrual",
            postings=merge_legs(legs))],
            actor_id=actor.user_id)
    session.execute(insert(LandAccrual), [{**r, "entry_id": entry_id} for r in rows])
    return entry_id


# --------------------------------------------------------------------------------------------- fixed assets


def _asset_drafts(chart: str, values: dict, asset_id: int) -> list[tuple[dt.date, str, str, list]]:
    """(date, source, memo key, legs) of what recording an asset posts: its acquisition (with the subsidy it uses),
    and, for one built and finished, its coming into use (在建工程转入固定资产)."""
    out = [(values["acquired_on"], f"assets:{asset_id}", "assets", legs_for("assets", chart, values, None))]
    if values.get("under_construction") and values.get("in_use_on"):
        out.append((values["in_use_on"], f"asset-in-use:{asset_id}", "asset_in_use",
                    legs_for("asset_in_use", chart, values, None)))
    return [draft for draft in out if draft[3]]


def _record_asset(session: Session, entity: Entity, values: dict, actor: Principal) -> FixedAsset:
    """:func:`record` of kind ``assets`` (checked): the card, and what it posts (:func:`_asset_drafts`)."""
    settle_books_start(session, entity, values["acquired_on"])
    columns = FixedAsset.__table__.columns.keys()
    row = FixedAsset(entity_id=entity.id, **{k: v for k, v in values.items() if k in columns})
    session.add(row)
    session.flush()
    drafts = [EntryDraft(date=on, memo=f"{RECORD_MEMOS[memo]} {row.code} {row.name}", source=source,
                         postings=merge_legs(legs))
              for on, source, memo, legs in _asset_drafts(entity.chart, values, row.id)]
    ids = post_entries(session, entity.book, drafts, actor_id=actor.user_id)
    if drafts and drafts[0].source == f"assets:{row.id}":
        row.entry_id = ids[0]
    audit(session, actor_id=actor.user_id, action="record", target=f"assets:{row.id}", entity_id=entity.id)
    session.flush()
    return row


#: what a year-end accrual of a record books: (its table, the column naming the record, the memo and legs' kind)
ACCRUALS = {"depreciation": (AssetAccrual, "asset_id"), "amortisation": (Amortisation, "capital_id")}


def _booked(session: Session, what: str, record_id: int) -> list[tuple[int, Decimal]]:
    """(year, ``what`` — depreciation, amortisation — booked for the record in it), oldest first."""
    model, key = ACCRUALS[what]
    column = getattr(model, key)
    return session.execute(select(model.year, money_sum(model.amount)).where(column == record_id)
                           .group_by(model.year).order_by(model.year)).all()


def _book_accrual(session: Session, entity: Entity, what: str, year: int, due: dict[int, Decimal], on: dt.date,
                  actor: Principal) -> int | None:
    """Book what is still ``due`` of ``year``'s ``what`` (record id -> the year's figure) less what each record
    booked for the year already, one entry dated ``on`` (kind accrual). Returns its id, None when nothing was due."""
    model, key = ACCRUALS[what]
    column = getattr(model, key)
    booked = dict(session.execute(select(column, money_sum(model.amount)).where(
        column.in_(list(due)), model.year == year).group_by(column)).all())
    rows = [{key: record_id, "year": year, "amount": amount - booked.get(record_id, 0)}
            for record_id, amount in due.items() if amount != booked.get(record_id, 0)]
    if not rows:
        return None
    total = sum((r["amount"] for r in rows), Decimal("0.00"))
    done = session.scalar(select(func.count(JournalEntry.id)).where(
        JournalEntry.book_id == entity.book_id, JournalEntry.source.like(f"{what}:{year}:%")))
    entry_id = None
    if total:
        (entry_id,) = post_entries(session, entity.book, [EntryDraft(
            date=on, memo=f"{RECORD_MEMOS[what]} {year}", source=f"{what}:{year}:{done + 1}", kind="accrual",
            postings=tuple(legs_for(what, entity.chart, {"amount": total}, None)))], actor_id=actor.user_id)
    session.execute(insert(model), [{**r, "entry_id": entry_id} for r in rows])
    return entry_id


def _depreciation_due(assets: list[FixedAsset], year: int) -> dict[int, Decimal]:
    return {a.id: depreciation_for_year(a.cost, a.salvage_pct, a.life_years, a.use_from, year, a.disposed_on)
            for a in assets}


@operation(keeps_books())
def accrue_depreciation(session: Session, entity: Entity, year: int, *, actor: Principal) -> int | None:
    """Book ``year``'s depreciation (计提折旧) of every fixed asset in use, as one summary voucher dated 31 December
    (Dr 经营支出 / Cr 累计折旧): straight-line by month (:func:`cooperatives.postings.depreciation_for_year`).
    Idempotent: what an asset already booked for the year counts. Returns the entry id, or None when nothing was
    due or the year no longer takes entries."""
    if is_closed(session, entity.book, year) or year < entity.books_start.year:
        return None
    assets = [a for a in session.scalars(select(FixedAsset).where(
        FixedAsset.entity_id == entity.id, FixedAsset.live()).order_by(FixedAsset.id))
        if a.use_from is not None and a.use_from.year <= year
        and (a.disposed_on is None or a.disposed_on.year >= year)]
    return _book_accrual(session, entity, "depreciation", year, _depreciation_due(assets, year),
                         dt.date(year, 12, 31), actor) if assets else None


def land_right_terms(session: Session, entity: Entity) -> dict[int, tuple[CapitalContribution, int]]:
    """Each land right put in as capital (161: a live capital record of form ``land``) -> (the record, the months it
    is amortised over): from the month after it was put in to the end month of the member's land contract that it
    falls in (the latest one ending after it). One with no such contract has no term and is not amortised."""
    rights = session.scalars(select(CapitalContribution).where(
        CapitalContribution.entity_id == entity.id, CapitalContribution.form == "land",
        CapitalContribution.live()).order_by(CapitalContribution.id)).all()
    if not rights:
        return {}
    ends: dict[int, list[tuple[dt.date, dt.date]]] = {}
    for member_id, start, end in session.execute(select(
            LandContract.member_id, LandContract.start_on, LandContract.end_on).where(
            LandContract.entity_id == entity.id, LandContract.live(), LandContract.end_on.is_not(None))):
        ends.setdefault(member_id, []).append((start, end))
    out = {}
    for right in rights:
        end = max((e for s, e in ends.get(right.member_id, []) if s <= right.date <= e), default=None)
        if end is not None and months_through(right.date, end):
            out[right.id] = (right, months_through(right.date, end))
    return out


@operation(keeps_books())
def accrue_amortisation(session: Session, entity: Entity, year: int, *, actor: Principal) -> int | None:
    """Book ``year``'s amortisation (无形资产摊销, Dr 经营支出 / Cr 162 累计摊销) of the land rights put in as capital
    (161), straight-line by month over the rest of the member's contract (:func:`land_right_terms`), as one
    summary voucher dated 31 December. Idempotent, like :func:`accrue_depreciation`. None in a chart without 162
    (the 2004 collective system) or a year that no longer takes entries."""
    if (is_closed(session, entity.book, year) or year < entity.books_start.year
            or "accumulated_amortisation" not in ROLES[entity.chart]):
        return None
    terms = land_right_terms(session, entity)
    earlier = dict(session.execute(select(Amortisation.capital_id, money_sum(Amortisation.amount)).where(
        Amortisation.capital_id.in_(list(terms)), Amortisation.year < year).group_by(Amortisation.capital_id)).all())
    # the cumulative amount due to the year's end less all that earlier years booked: a term that changed (the
    # contract replaced) is caught up in the first open year, and the years still add up to the right's value
    due = {cid: straight_line_to(right.amount, months, right.date, year) - earlier.get(cid, Decimal("0.00"))
           for cid, (right, months) in terms.items() if right.date.year <= year}
    return _book_accrual(session, entity, "amortisation", year, due, dt.date(year, 12, 31), actor) if due else None


@operation(keeps_books())
def put_asset_in_use(session: Session, entity: Entity, asset_id: int, *, on: dt.date, actor: Principal) -> int:
    """在建工程完工交付使用: an asset recorded under construction comes into use on ``on`` (Dr 151 / Cr 153, source
    ``asset-in-use:<id>``, as when ``in_use_on`` is given with it) and is depreciated from the month after. Once;
    refused (RecordError) for an asset not the entity's, voided, not under construction or in use already, a date
    before it was acquired or in a year that no longer takes entries. Returns the entry id."""
    asset = session.get(FixedAsset, asset_id)
    if asset is None or asset.entity_id != entity.id or asset.voided_at is not None:
        raise refuse(None, N_("%(entity)s has no such record (%(kind)s %(id)s)."), code="no_record",
                     entity=entity.code, kind=kind_label("assets"), id=asset_id)
    if asset.use_from is not None:
        raise refuse(None, N_("Asset %(asset)s is in use since %(date)s."), asset=asset.code, date=asset.use_from,
                     code="in_use_already")
    if on < asset.acquired_on:
        raise refuse("date", N_("%(date)s is before asset %(asset)s was acquired (%(acquired)s)."), date=on,
                     asset=asset.code, acquired=asset.acquired_on, code="before_acquired")
    if (reason := RecordContext.load(session, entity).date_problem(on)) is not None:
        raise RecordError(Problem.of(reason, "date"))
    asset.in_use_on = on
    session.flush()
    (entry_id,) = post_entries(session, entity.book, [EntryDraft(
        date=on, memo=f"{RECORD_MEMOS['asset_in_use']} {asset.code} {asset.name}", source=f"asset-in-use:{asset.id}",
        postings=merge_legs(legs_for("asset_in_use", entity.chart, {"amount": asset.cost}, None)))],
        actor_id=actor.user_id)
    audit(session, actor_id=actor.user_id, action="in-use", target=f"assets:{asset.id}", entity_id=entity.id,
          detail=on.isoformat())
    session.flush()
    return entry_id


@operation(keeps_books())
def dispose_asset(session: Session, entity: Entity, asset_id: int, *, on: dt.date, proceeds: Decimal = Decimal("0.00"),
                  method: str = "bank", actor: Principal) -> list[int]:
    """Dispose of a fixed asset (固定资产清理) on ``on``, for ``proceeds`` received by ``method``: its depreciation
    of that year is booked through the month of disposal (当月减少的当月照提), then its net book value goes to 154
    固定资产清理 (Dr 154, Dr 152 accumulated, Cr 151 cost), and the proceeds less that value to 其他收入 (a gain) or
    其他支出 (a loss). Once; refused (RecordError) for an asset not the entity's, voided, not yet in use or
    disposed of already, a date before it came into use or in a year that no longer takes entries.
    Returns the entry ids."""
    asset = session.get(FixedAsset, asset_id)
    if asset is None or asset.entity_id != entity.id or asset.voided_at is not None:
        raise refuse(None, N_("%(entity)s has no such record (%(kind)s %(id)s)."), code="no_record",
                     entity=entity.code, kind=kind_label("assets"), id=asset_id)
    if asset.disposed_on is not None:
        raise refuse(None, N_("Asset %(asset)s was disposed of on %(date)s."), asset=asset.code,
                     date=asset.disposed_on, code="disposed_already")
    if asset.use_from is None or on < asset.use_from:
        raise refuse("date", N_("Asset %(asset)s is not in use on %(date)s: it cannot be disposed of then."),
                     asset=asset.code, date=on, code="not_in_use")
    if proceeds < 0:
        raise refuse("proceeds", N_("at least %(limit)s"), limit=0, code="at_least")
    if method not in MONEY_ROLES:
        raise refuse("method", N_("unknown value %(value)s (expected %(expected)s)"), value=method,
                     expected=", ".join(MONEY_ROLES), code="unknown_value")
    context = RecordContext.load(session, entity)
    if (reason := context.date_problem(on)) is not None:
        raise RecordError(Problem.of(reason, "date"))
    asset.disposed_on, asset.disposal_proceeds, asset.disposal_method = on, proceeds, method
    session.flush()
    # what is due up to the disposal: the earlier years still open first (their year end has not booked them yet),
    # the disposal year to the disposal date; a later year a draft already booked gives its depreciation back
    later = max((year for year, _ in _booked(session, "depreciation", asset.id)), default=on.year)
    ids = []
    for year in range(asset.use_from.year, max(later, on.year) + 1):
        if is_closed(session, entity.book, year):
            continue
        booked = _book_accrual(session, entity, "depreciation", year, _depreciation_due([asset], year),
                               on if year == on.year else dt.date(year, 12, 31), actor)
        ids += [booked] if booked is not None else []
    accumulated = sum((amount for _, amount in _booked(session, "depreciation", asset.id)), Decimal("0.00"))
    net = asset.cost - accumulated
    L = lambda role, amount: PostingDraft(account_for_role(entity.chart, role), amount)  # noqa: E731
    into = [L("disposal", net), L("accumulated_depreciation", accumulated), L("fixed_asset", -asset.cost)]
    result = [L(MONEY_ROLES[method], proceeds), L("disposal", -net)]
    if proceeds != net:       # a gain is other income, a loss an other cost
        result.append(L("other_income" if proceeds > net else "other_cost", net - proceeds))
    memo = f"{RECORD_MEMOS['disposal']} {asset.code} {asset.name}"
    drafts = [EntryDraft(date=on, memo=f"{memo} 转入清理", source=f"disposal:{asset.id}", postings=merge_legs(into)),
              EntryDraft(date=on, memo=f"{memo} 清理净损益", source=f"disposal-result:{asset.id}",
                         postings=merge_legs(result))]
    ids += post_entries(session, entity.book, [d for d in drafts if d.postings], actor_id=actor.user_id)
    audit(session, actor_id=actor.user_id, action="dispose", target=f"assets:{asset.id}", entity_id=entity.id,
          detail=f"{on.isoformat()} {proceeds}")
    session.flush()
    return ids


#: what a year end books before the year's result is taken (close-year, a run's draft), in this order; each is
#: idempotent and books only what is still due (books-review: base rent, depreciation, amortisation)
YEAR_END_ACCRUALS = (accrue_land_rent, accrue_depreciation, accrue_amortisation)


def accrue_year_end(session: Session, entity: Entity, year: int, *, actor: Principal) -> None:
    """Book :data:`YEAR_END_ACCRUALS` for ``year`` (each an operation with its own rule)."""
    for accrue in YEAR_END_ACCRUALS:
        accrue(session, entity, year, actor=actor)


def _investment_source(project: Entity, capital_id: int) -> str:
    return f"investment:{project.code}:{capital_id}"


def book_investments(session: Session, project: Entity, rows: list, *, actor: Principal) -> None:
    """Capital a member entity puts into the cluster project ``project`` is 长期投资 in its own book (INTERFACES §3.2:
    one record, two entries — 股金 in the project's, Dr 141 / Cr 银行存款 in the member's), dated as the project's
    record; before the member's books start, its opening balances hold it. Only along a link, as the project's
    run's shares are; a year closed in the member's books refuses it. Part of the operation recording the capital
    (:func:`record`, the workbook import)."""
    for row in rows:
        investor = _investor(session, project, session.get(Member, row.member_id), row.date, row.form)
        if investor is None:
            continue
        post_entry(session, investor.book, EntryDraft(
            date=row.date, memo=f"投资 {project.name}", source=_investment_source(project, row.id),
            postings=(PostingDraft(account_for_role(investor.chart, "investment"), row.amount),
                      PostingDraft(account_for_role(investor.chart, "bank"), -row.amount))), actor_id=actor.user_id)


def _investor(session: Session, project: Entity, member: Member | None, on: dt.date, form: str) -> Entity | None:
    """The member entity whose books take the 长期投资 of capital ``member`` puts into ``project`` on ``on`` (None:
    a household, capital in kind, or a date before its books start); refused when that year is closed there."""
    if member is None or member.member_entity_id is None or form != "cash":
        return None
    investor = session.get(Entity, member.member_entity_id)
    if on < investor.books_start:
        in_these_books(investor, on)       # its opening balances hold it — unless they were carried over since
        return None
    _require_link(session, project, investor)
    if (problem := investment_problem(session, project.code, investor, on)) is not None:
        raise RecordError([Problem.of(problem, "member")])
    return investor


def investment_problem(session: Session, project_code: str, investor: Entity, on: dt.date):
    """Why ``investor``'s books cannot take the 长期投资 of capital put into the project on ``on`` (its year is
    closed there), or None. Checked by :func:`record` and by the import, at the row."""
    if not is_closed(session, investor.book, on.year):
        return None
    return msg(N_("The books of %(member)s for %(year)s are closed: its capital put into %(project)s cannot be "
                  "booked there."), member=investor.code, year=on.year, project=project_code,
               code="member_year_closed")


def _void_investment(session: Session, project: Entity, row, actor: Principal) -> None:
    """Reverse in the member entity's book the 长期投资 the voided capital record booked there."""
    member = session.get(Member, row.member_id)
    if member is None or member.member_entity_id is None:
        return
    investor = session.get(Entity, member.member_entity_id)
    in_these_books(investor, row.date)
    originals = session.scalars(select(JournalEntry).where(
        JournalEntry.book_id == investor.book_id, JournalEntry.source == _investment_source(project, row.id))).all()
    for original in originals:
        if is_closed(session, investor.book, original.date.year):
            raise refuse(None, N_("%(year)s is closed in the books of %(entity)s."), code="closed_year",
                         year=original.date.year, entity=investor.code)
    post_entries(session, investor.book, [reversal(e, f"void:capital:{row.id}", kind="reversal") for e in originals],
                 actor_id=actor.user_id)


def _project_share_target(session, project, member, **kwargs):
    return project


def _require_link(session: Session, project: Entity, member: Entity) -> None:
    """A project writes into a member entity's book only along a link (:func:`link_member_entity`)."""
    if project.kind != "cluster_project" or not linked(session, project.id, member.id):
        raise refuse("member", N_("%(member)s is not linked to %(project)s: its share cannot be booked in its books."),
                     member=member.code, project=project.code, code="not_linked")


@operation(keeps_books(_project_share_target))
def book_project_share(session: Session, project: Entity, member: Entity, *, amount, year: int, source: str,
                       actor: Principal):
    """Book a member entity's share of the cluster project's posted run in the member's own book, as
    investment income receivable dated the last day of ``year`` (INTERFACES §3.2). Only along a link the
    admin or the township made (:func:`link_member_entity`): the project's accountant writes into no other
    book. Returns the member's income record."""
    _require_link(session, project, member)
    if is_closed(session, member.book, year):
        raise refuse("member", N_("The books of %(member)s for %(year)s are closed: its share of %(project)s's "
                                  "surplus cannot be booked there."), member=member.code, year=year,
                     project=project.code, code="member_year_closed")
    return record.__wrapped__(session, member, "income", {
        "date": dt.date(year, 12, 31), "source": f"{project.name} {year}年收益分配", "amount": amount,
        "source_ref": source, "receivable": True}, actor=actor)


@operation(keeps_books(_project_share_target))
def receive_project_share(session: Session, project: Entity, member: Entity, *, amount: Decimal, on: dt.date,
                          method: str, actor: Principal):
    """The cluster project paying a member entity its share is money received in the member's book against the
    investment income receivable its run booked there (INTERFACES §3.2: Dr 银行存款 / Cr 应收款, a ``receipts``
    record whose buyer is the project). Only along a link. Returns the member's receipt record."""
    _require_link(session, project, member)
    return record.__wrapped__(session, member, "receipts", {"date": on, "buyer": project.code, "amount": amount,
                                                            "method": method}, actor=actor)


@operation(keeps_books(_project_share_target))
def reverse_project_share(session: Session, project: Entity, member: Entity, *, source: str, reversing: str,
                          actor: Principal) -> list[int]:
    """Reverse, in the member entity's book, the shares booked there from the project's run ``source`` (the
    run being reversed by ``reversing``). Only along a link, as they were booked. Returns the entry ids."""
    _require_link(session, project, member)
    shares = session.scalars(select(InvestmentIncome).where(
        InvestmentIncome.entity_id == member.id, InvestmentIncome.source_ref == source, InvestmentIncome.live())
        .order_by(InvestmentIncome.id)).all()
    for share in shares:
        in_these_books(member, share.date)
    originals = [session.get(JournalEntry, share.entry_id) for share in shares]
    ids = post_entries(session, member.book, [reversal(e, reversing) for e in originals], actor_id=actor.user_id)
    for share in shares:        # no longer owed by the project: its receipts count against the run that replaces it
        share.voided_at, share.voided_by = dt.datetime.now(dt.UTC), actor.user_id
        share.void_reason = f"{project.name}收益分配方案冲销（{reversing}）"[:300]
    session.flush()
    return ids


def in_these_books(entity: Entity, on: dt.date) -> None:
    """Refuse (RecordError) what would change ``entity``'s books before they start when they continue earlier ones (a
    collective carried over to the 2023 system: its years before 2024 stay in its 2004 book, read and never
    changed). Records, voids, project capital and shares, and the year-end and run operations all ask it."""
    if on < entity.books_start and entity.book.previous_book_id is not None:
        raise refuse(None, N_("%(date)s is before the books of %(entity)s start (%(start)s): what was recorded in "
                              "earlier books stays as it was."), code="before_books", date=on, entity=entity.code,
                     start=entity.books_start)


def reversal(original: JournalEntry, reversing: str, *, kind: str = "distribution") -> EntryDraft:
    """The entry undoing ``original`` when ``reversing`` (a run reversing the run that posted it; a void) undoes it."""
    draft = draft_of(original)
    return EntryDraft(date=original.date, memo=f"冲销 {original.voucher} {original.memo}",
                      source=f"{reversing}:reverses:{original.id}", kind=kind,
                      postings=tuple(PostingDraft(p.account, -p.amount, p.party) for p in draft.postings))

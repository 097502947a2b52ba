"""Who keeps books and who takes part: townships, villages, entities, households, members — and the
source records accountants think in (capital, land contracts, labour, deliveries, inputs, sales,
expenses, subsidies, advances, payments, investment income).

Every source record points at the journal entry it produced (``entry_id``); a record and its entry
are written in the same transaction. Records are append-only by convention: a mistake is corrected
by a reversing entry and a new record, as in the ledger.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from cooperatives import ddl
from ledger.db import Area, Base, Money, Quantity, Rate, utc
from ledger.i18n import N_
from ledger.models import Book, Id

ENTITY_KINDS = {
    "farmer_coop": N_("Farmer professional cooperative"),
    "land_coop": N_("Land-share cooperative"),
    "collective": N_("Village collective economic organisation"),
    "cluster_project": N_("Cluster project"),
}
#: which chart of accounts each kind keeps (a collective: the 2004 one for books that start before 2024, see
#: :func:`chart_for`)
CHART_FOR_KIND = {"farmer_coop": "fpc2021", "land_coop": "fpc2021", "cluster_project": "fpc2021",
                  "collective": "collective2004"}
#: 财会〔2023〕14号 is in force from this day; a collective's books that start on or after it keep its chart
COLLECTIVE2023_FROM = dt.date(2024, 1, 1)


def chart_for(kind: str, books_start: dt.date | None) -> str:
    """The chart a new book of an entity of ``kind`` keeps when it starts on ``books_start`` (INTERFACES §3.1:
    a collective's books from 2024 on keep the 2023 system; None: no start given, so this year's)."""
    if kind == "collective" and (books_start is None or books_start >= COLLECTIVE2023_FROM):
        return "collective2023"
    return CHART_FOR_KIND[kind]
MONITORING = {"none": N_("Not monitored"), "unstable": N_("Unstable after exiting poverty"),
              "marginal": N_("Marginal, at risk of poverty"), "hardship": N_("Sudden severe hardship")}
CAPITAL_FORMS = {"cash": N_("Cash"), "land": N_("Land-use right"), "in_kind": N_("In kind"),
                 "poverty_asset": N_("Poverty-alleviation asset share")}
EXPENSE_CATEGORIES = {"operating": N_("Operating"), "management": N_("Management"), "finance": N_("Finance"),
                      "tax": N_("Taxes and surcharges"), "other": N_("Other"),
                      "public": N_("Public welfare (collectives)")}
PAYMENT_METHODS = {"bank": N_("Bank transfer"), "cash": N_("Cash"), "mobile": N_("Mobile payment")}
#: where money is paid from or into (库存现金 101, 银行存款 102, 其他货币资金 109), and a sale left owed
MONEY_ACCOUNTS = {"cash": N_("Cash"), "bank": N_("Bank"), "mobile": N_("Mobile payment (其他货币资金)")}
SALE_PAID_BY = {**MONEY_ACCOUNTS, "credit": N_("On credit (应收款)")}
#: what paid for a fixed asset: money, or a member's capital in kind (the capital record booked it)
ASSET_PAID_BY = {**MONEY_ACCOUNTS, "in_kind": N_("Capital in kind (实物出资)")}
PAYMENT_FOR = {"account": N_("Current account (成员往来)"), "labor": N_("Wages owed (应付劳务费)")}
UNITS = {"kg": N_("kg"), "jin": N_("jin (0.5 kg)")}


class Township(Base):
    __tablename__ = "coop_townships"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)

    villages: Mapped[list[Village]] = relationship(back_populates="township", order_by="Village.name")


class Village(Base):
    __tablename__ = "coop_villages"
    __table_args__ = (UniqueConstraint("township_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("coop_townships.id"))
    name: Mapped[str] = mapped_column(String(100))

    township: Mapped[Township] = relationship(back_populates="villages")


class Entity(Base):
    """Anything that keeps its own books: cooperative, land-share cooperative, collective, cluster project."""

    __tablename__ = "coop_entities"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    township_id: Mapped[int] = mapped_column(ForeignKey("coop_townships.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("coop_villages.id"))
    credit_code: Mapped[str | None] = mapped_column(String(40))
    book_id: Mapped[int] = mapped_column(ForeignKey("ledger_books.id"), unique=True)

    township: Mapped[Township] = relationship()
    village: Mapped[Village | None] = relationship()
    book: Mapped[Book] = relationship()

    @property
    def chart(self) -> str:
        """The chart its book keeps (:func:`chart_for` chose it when the book was opened)."""
        return self.book.chart

    def book_in(self, year: int) -> Book:
        """The book that holds ``year``: its own, or for a year before its start the book it continues (a
        collective's 2004 book carried over to the 2023 system)."""
        return self.book.holding(year)

    @property
    def books_start(self) -> dt.date:
        """建账日期 (its book's): nothing is dated before it; land base rent accrues from it."""
        return self.book.books_start

    @property
    def first_year(self) -> int:
        """The first year kept in coopledger: the year the books start."""
        return self.book.books_start.year


class Household(Base):
    """A member household (户). ID and bank numbers are stored encrypted, with a masked copy for display."""

    __tablename__ = "coop_households"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    head_name: Mapped[str] = mapped_column(String(100))
    village_id: Mapped[int] = mapped_column(ForeignKey("coop_villages.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_masked: Mapped[str | None] = mapped_column(String(30))
    bank_account_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    bank_account_masked: Mapped[str | None] = mapped_column(String(40))
    #: keyed hash of the bank account, to find accounts shared by several households without decrypting
    bank_account_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    monitoring: Mapped[str] = mapped_column(String(10), default="none")
    poverty_exited: Mapped[bool] = mapped_column(default=False)
    #: people in the household (家庭人口), for per-capita benefit figures; unknown when None
    persons: Mapped[int | None] = mapped_column(Integer)
    #: keyed hash of the ID number: an entity enrolling a household another entity registered proves it
    #: knows the household by typing its ID number (matched here, never by decrypting)
    id_number_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    #: the entity that registered the household: it keeps its PIN, its size and the numbers it recorded
    #: (other entities that enrol the household keep only their own membership; docs/SECURITY.md §4)
    owner_entity_id: Mapped[int | None] = mapped_column(ForeignKey("coop_entities.id"), index=True)
    #: argon2 hash of the statement PIN
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans_CN")

    village: Mapped[Village] = relationship()


class Member(Base):
    """A membership of a household — or, for a cluster project, of another entity — in an entity."""

    __tablename__ = "coop_members"
    __table_args__ = (
        UniqueConstraint("entity_id", "member_no"),
        UniqueConstraint("entity_id", "code"),
        CheckConstraint("(household_id IS NULL) <> (member_entity_id IS NULL)", name="one_holder"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    #: the household code or member entity code; also the member's sub-ledger (party) code
    code: Mapped[str] = mapped_column(String(40))
    member_no: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("coop_households.id"), index=True)
    member_entity_id: Mapped[int | None] = mapped_column(ForeignKey("coop_entities.id"))
    joined_on: Mapped[dt.date] = mapped_column(Date)
    left_on: Mapped[dt.date | None] = mapped_column(Date)
    farmer: Mapped[bool] = mapped_column(default=True)
    #: consent on record to net deductions against land income (土地承包法 Art. 39)
    land_deduction_consent: Mapped[bool] = mapped_column(default=False)
    #: this entity recorded the household's ID number (it registered the household, or proved the number
    #: when it enrolled a household another entity registered): only then may it reveal it
    id_recorded: Mapped[bool] = mapped_column(default=False)
    #: the bank account this entity pays the member into, when it is not the household's registering entity
    #: (that one's account is on the household); encrypted, masked and digested like the household's
    bank_account_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    bank_account_masked: Mapped[str | None] = mapped_column(String(40))
    bank_account_digest: Mapped[str | None] = mapped_column(String(64))

    entity: Mapped[Entity] = relationship(foreign_keys=[entity_id])
    household: Mapped[Household | None] = relationship()
    member_entity: Mapped[Entity | None] = relationship(foreign_keys=[member_entity_id])

    @property
    def display_name(self) -> str:
        if self.household is not None:
            return self.household.head_name
        return self.member_entity.name if self.member_entity else self.code


class EntityLink(Base):
    """A member entity linked to a cluster project by the admin or the township's auditor. Only a linked
    entity can be the project's member, and the project's run writes into a member entity's book only
    along such a link (its investment income): the project's accountant cannot pick whose books it writes."""

    __tablename__ = "coop_entity_links"
    __table_args__ = (UniqueConstraint("project_id", "member_entity_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    member_entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class _Record:
    """Columns every source record has."""

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    #: the import that brought it in, if any
    import_id: Mapped[int | None] = mapped_column(ForeignKey("coop_imports.id"))
    #: voided (红字冲销, :func:`cooperatives.operations.void_record`): when, by whom and why. A voided record
    #: stays (its reversal entry, source ``void:<kind>:<id>``, undoes what it posted) and counts for nothing
    voided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    voided_by: Mapped[int | None] = mapped_column(Integer)
    void_reason: Mapped[str | None] = mapped_column(String(300))

    @classmethod
    def live(cls):
        """The condition selecting the records that count (not voided)."""
        return cls.voided_at.is_(None)


class Import(Base):
    """One imported workbook. Its content digest is unique per entity: the same workbook twice is refused."""

    __tablename__ = "coop_imports"
    __table_args__ = (UniqueConstraint("entity_id", "digest"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"))
    digest: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(300))
    rows: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ImportJob(Base):
    """A workbook uploaded on a page or through the API, imported by a job (``cooperatives.imports``): the
    request that uploads it only stores it, so no request holds the database's write lock while a large
    workbook is read and checked, and the page shows how far the job has got. The upload is kept in the
    row (workers need no shared disk) and removed once the job has finished."""

    __tablename__ = "coop_import_jobs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("coop_entities.id"), index=True)
    #: who uploaded it: the job acts as this user, under the same access rule as the upload itself
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("coop_users.id"))
    #: queued, reading, writing, done, failed
    status: Mapped[str] = mapped_column(String(10), default="queued")
    dry_run: Mapped[bool] = mapped_column(default=False)
    #: the uploaded file's name (a folder of CSV files: the first file's)
    filename: Mapped[str] = mapped_column(String(300))
    #: "xlsx", or "csv" (a zip of the uploaded CSV files, one per sheet)
    form: Mapped[str] = mapped_column(String(5))
    upload: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: what was imported: {"entity", "import", "counts", "vouchers"} (JSON)
    result_json: Mapped[str | None] = mapped_column(Text)
    #: why nothing was imported: the problems, each with its code, template and parameters (JSON), so they
    #: are shown in the reader's language whoever reads them later
    problems_json: Mapped[str | None] = mapped_column(Text)

    #: a job reading or writing for longer than this has lost its process (a killed worker, a restarted
    #: server): it is shown as failed — truthfully, since an import and its "done" are one transaction
    LOST_AFTER = dt.timedelta(hours=1)

    def state(self, now: dt.datetime | None = None) -> str:
        """The status as people are shown it: ``failed`` for a job that lost its process."""
        started = utc(self.started_at)                                  # (SQLite returns it without its zone)
        if self.status in ("reading", "writing") and started is not None:
            if started < (now or dt.datetime.now(dt.UTC)) - self.LOST_AFTER:
                return "failed"
        return self.status


class CapitalContribution(_Record, Base):
    __tablename__ = "coop_capital"
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    form: Mapped[str] = mapped_column(String(20), default="cash")
    note: Mapped[str | None] = mapped_column(Text)
    #: put in kind (``in_kind``, ``poverty_asset``): the asset account of what was put in (121 产品物资, 142 生产性
    #: 生物资产, 151 固定资产 …; None: 151)
    account: Mapped[str | None] = mapped_column(String(10))
    member: Mapped[Member] = relationship()


class LandContract(_Record, Base):
    __tablename__ = "coop_land_contracts"
    __table_args__ = (UniqueConstraint("entity_id", "contract_no"),)
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    contract_no: Mapped[str] = mapped_column(String(60))
    area_mu: Mapped[Decimal] = mapped_column(Area)
    shares: Mapped[Decimal] = mapped_column(Area)
    base_rent_per_mu: Mapped[Decimal] = mapped_column(Money)
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date | None] = mapped_column(Date)
    member: Mapped[Member] = relationship()


class LaborRecord(_Record, Base):
    __tablename__ = "coop_labor"
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    worker: Mapped[str | None] = mapped_column(String(100))
    days: Mapped[Decimal] = mapped_column(Quantity)
    rate: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    task: Mapped[str | None] = mapped_column(String(200))
    member: Mapped[Member] = relationship()


class Delivery(_Record, Base):
    """Produce a member delivered to the entity (member trade: the patronage basis)."""

    __tablename__ = "coop_deliveries"
    __table_args__ = (Index("ix_coop_deliveries_entity_date", "entity_id", "date", "member_id"),)
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    product: Mapped[str] = mapped_column(String(100))
    grade: Mapped[str | None] = mapped_column(String(40))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(5))
    unit_price: Mapped[Decimal] = mapped_column(Rate)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[bool] = mapped_column(default=True)
    #: where a paid delivery is paid from (``MONEY_ACCOUNTS``)
    paid_by: Mapped[str] = mapped_column(String(10), default="cash", server_default="cash")
    member: Mapped[Member] = relationship()


class InputSupply(_Record, Base):
    """An input (fertiliser, seedlings…) bought for a member at cost (代购), on credit or paid."""

    __tablename__ = "coop_inputs"
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    item: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Money)
    on_credit: Mapped[bool] = mapped_column(default=True)
    member: Mapped[Member] = relationship()


class Sale(_Record, Base):
    """A sale to a buyer. ``member_id`` is set when the buyer is a member (member trade, law Art. 41)."""

    __tablename__ = "coop_sales"
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    buyer: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    unit: Mapped[str | None] = mapped_column(String(5))
    amount: Mapped[Decimal] = mapped_column(Money)
    invoice_no: Mapped[str | None] = mapped_column(String(60))
    #: where the money came in (``SALE_PAID_BY``); ``credit``: still owed (113 应收款, or the member's 114)
    paid_by: Mapped[str] = mapped_column(String(10), default="bank", server_default="bank")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("coop_members.id"))
    member: Mapped[Member | None] = relationship()


class Expense(_Record, Base):
    __tablename__ = "coop_expenses"
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    category: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)
    payee: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    #: where it was paid from (``MONEY_ACCOUNTS``)
    paid_by: Mapped[str] = mapped_column(String(10), default="bank", server_default="bank")
    #: the fiscal subsidy project (``Subsidy.project``) it is paid out of: its 专项应付款 is used up, it is not a
    #: cost of the year
    project: Mapped[str | None] = mapped_column(String(200))


class Subsidy(_Record, Base):
    """A fiscal subsidy or donation. A donation is 专项基金 at once; a fiscal subsidy waits in 235 专项应付款 until
    it is used (books-review W2): an asset it pays for (``FixedAsset.project``) moves that much to 311, an
    expense it pays for (``Expense.project``) uses it up. Quantified equally to members when ``quantify`` — only
    what reached 311."""

    __tablename__ = "coop_subsidies"
    date: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money)
    quantify: Mapped[bool] = mapped_column(default=True)
    poverty_asset: Mapped[bool] = mapped_column(default=False)
    #: 项目名称: what assets and expenses paid out of it name (default: the source)
    project: Mapped[str | None] = mapped_column(String(200))
    #: the fiscal money waits in 235 until used; False for subsidies recorded before migration 0018, which were
    #: moved to 311 when received (their void reverses that)
    held: Mapped[bool] = mapped_column(default=True, server_default=true())


class Advance(_Record, Base):
    __tablename__ = "coop_advances"
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)
    member: Mapped[Member] = relationship()


class Payment(_Record, Base):
    __tablename__ = "coop_payments"
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(String(10), default="bank")
    reference: Mapped[str | None] = mapped_column(String(100))
    #: what it settles: ``account`` (成员往来 114) or ``labor`` (the wages owed on 应付劳务费 213)
    paid_for: Mapped[str] = mapped_column(String(10), default="account", server_default="account")
    member: Mapped[Member] = relationship()


class SaleReceipt(_Record, Base):
    """Money received against what a sale on credit left owed (收款: Dr 102/101/109 / Cr 113 应收款), or a member
    entity's share of a cluster project's surplus paid by the project (``buyer``: the project's code or name)."""

    __tablename__ = "coop_receipts"
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    buyer: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(String(10), default="bank")


class StockCount(_Record, Base):
    """Unsold produce counted at a year's end (期末盘点): its cost leaves the year's operating costs for 121 (Dr 121 /
    Cr 521 on 31 December) and comes back to them on 1 January (期初转回), when the produce is sold or used."""

    __tablename__ = "coop_stock_counts"
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    product: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(5))
    value: Mapped[Decimal] = mapped_column(Money)
    #: what summaries of records add up (every record kind's ``amount``)
    amount = synonym("value")


class Transfer(_Record, Base):
    """Money moved between the entity's own accounts (提现 bank → cash, 存现 cash → bank, a payment platform's
    balance paid into the bank): ``MONEY_ACCOUNTS`` on both sides, never the same."""

    __tablename__ = "coop_transfers"
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    from_account: Mapped[str] = mapped_column(String(10))
    to_account: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)


class FixedAsset(_Record, Base):
    """A fixed asset (固定资产卡片): bought (Dr 151 / Cr money), built (Dr 153 在建工程 until ``in_use_on``, then
    151), or put in as capital in kind (``paid_by`` ``in_kind``: the capital record posted it; this is its card).
    Paid for by a fiscal subsidy ``project``, it moves that much of the project's 235 to 311 专项基金. Depreciated
    straight-line by month from the month after it comes into use, to ``salvage_pct`` of its cost over
    ``life_years`` (:func:`cooperatives.postings.depreciation_for_year`); disposed of (清理) once."""

    __tablename__ = "coop_fixed_assets"
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    acquired_on: Mapped[dt.date] = mapped_column(Date, index=True)
    cost: Mapped[Decimal] = mapped_column(Money)
    life_years: Mapped[int] = mapped_column(Integer)
    salvage_pct: Mapped[Decimal] = mapped_column(Rate)
    paid_by: Mapped[str] = mapped_column(String(10), default="bank")
    project: Mapped[str | None] = mapped_column(String(200))
    #: 扶贫项目资产 (备查簿, S2 Art 33)
    poverty_asset: Mapped[bool] = mapped_column(default=False)
    under_construction: Mapped[bool] = mapped_column(default=False)
    #: the day it came into use (finished, for one built); None: in use from ``acquired_on`` unless under construction
    in_use_on: Mapped[dt.date | None] = mapped_column(Date)
    disposed_on: Mapped[dt.date | None] = mapped_column(Date)
    disposal_proceeds: Mapped[Decimal | None] = mapped_column(Money)
    disposal_method: Mapped[str | None] = mapped_column(String(10))
    #: what every record kind is dated and summed by
    date = synonym("acquired_on")
    amount = synonym("cost")

    @property
    def use_from(self) -> dt.date | None:
        """The day it came into use (None: still being built)."""
        if self.in_use_on is not None:
            return self.in_use_on
        return None if self.under_construction else self.acquired_on


class AssetAccrual(Base):
    """Depreciation booked for an asset in a year (计提折旧). A year may take more than one (a disposal books its
    year's months at once; the year end books what is still due): what is due less what these sum to."""

    __tablename__ = "coop_asset_accruals"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("coop_fixed_assets.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class Amortisation(Base):
    """Amortisation booked for a land right put in as capital (``CapitalContribution`` of form ``land``, 161) in a
    year (无形资产摊销, Dr 521 / Cr 162): what is due less what these sum to, as for :class:`AssetAccrual`."""

    __tablename__ = "coop_amortisations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    capital_id: Mapped[int] = mapped_column(ForeignKey("coop_capital.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class ManualVoucher(_Record, Base):
    """A voucher typed as such (记账凭证): any balanced entry on the entity's chart, for what no record kind covers —
    loans and interest, taxes payable and paid, non-member purchases, reserve used to cover a loss, surplus turned
    into capital, capital refunded to a member who leaves. Its lines are its entry's postings (kind ``manual``);
    it keeps who made it (制单), how many attachments it has (附件张数) and its memo (摘要)."""

    __tablename__ = "coop_vouchers"
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    memo: Mapped[str] = mapped_column(String(200))
    attachments: Mapped[int] = mapped_column(Integer, default=0)
    #: the key that grouped its lines in the workbook it came from (the ``journal`` sheet's ``voucher``)
    key: Mapped[str | None] = mapped_column(String(60))
    #: 制单: the user who made it (None: the console)
    made_by: Mapped[int | None] = mapped_column(Integer)


class InvestmentIncome(_Record, Base):
    __tablename__ = "coop_investment_income"
    date: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    #: set when the income is this entity's share of a cluster project's posted run (cascade)
    source_ref: Mapped[str | None] = mapped_column(String(100))


#: how a row of the share register (份额登记簿) came to the member: quantified to them (成员份额, the default), in the
#: 2020 property-rights reform (改革量化), or from another member of the collective by inheritance or transfer
SHARE_KINDS = {"member": N_("Member shares (成员份额)"), "reform": N_("Quantified in the 2020 reform (改革量化)"),
               "inherited": N_("Inherited (继承)"), "transferred": N_("Transferred within the collective (转让)")}
#: the kinds that move shares from one member (``from_member``) to another
SHARE_MOVES = frozenset({"inherited", "transferred"})


class ShareHolding(_Record, Base):
    """A row of a village collective's share register (份额登记簿, 集体经济组织法 Art 40; 财农〔2021〕121号 Art 30): the
    quantified shares of the collective's assets a member holds — not money, never booked (no entry, nothing in 资本
    or 银行存款). Rows of kind ``inherited`` or ``transferred`` move ``shares`` from ``from_member`` to ``member``; a
    member's holding on a day is what came to them less what went from them, rows dated up to that day. A run's
    ``shares`` pools weigh the holdings at the year's end."""

    __tablename__ = "coop_shares"
    __table_args__ = (Index("ix_coop_shares_entity_date", "entity_id", "date"),)
    member_id: Mapped[int] = mapped_column(ForeignKey("coop_members.id"), index=True)
    #: the day the shares came to the member (default: the day the books start)
    date: Mapped[dt.date] = mapped_column(Date)
    shares: Mapped[Decimal] = mapped_column(Area)
    #: ``SHARE_KINDS`` (the sheet's ``kind``: the model's ``kind`` names the record kind in the API)
    share_kind: Mapped[str] = mapped_column(String(12), default="member")
    from_member_id: Mapped[int | None] = mapped_column(ForeignKey("coop_members.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    member: Mapped[Member] = relationship(foreign_keys=[member_id])
    from_member: Mapped[Member | None] = relationship(foreign_keys=[from_member_id])
    kind = synonym("share_kind")


class User(Base):
    """A person who signs in. ``role`` decides what they may do; the scope columns decide where."""

    __tablename__ = "coop_users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'accountant', 'auditor', 'member')", name="role"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12))
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("coop_entities.id"))       # accountant
    township_id: Mapped[int | None] = mapped_column(ForeignKey("coop_townships.id"))   # auditor
    household_id: Mapped[int | None] = mapped_column(ForeignKey("coop_households.id"))  # member
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    #: bumped at password change and logout-everywhere; part of the session identity
    session_version: Mapped[int] = mapped_column(Integer, default=1)

    entity: Mapped[Entity | None] = relationship()
    township: Mapped[Township | None] = relationship()
    household: Mapped[Household | None] = relationship()

    # the interface Flask-Login expects, without importing Flask here
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class ApiToken(Base):
    """A bearer token of the API (``cooperatives.users``): valid until ``expires_at`` unless revoked."""

    __tablename__ = "coop_api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("coop_users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: sha256 of the token; the token itself is shown once
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: when a request last authenticated with it (to the hour: it is written at most once an hour)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class AuditHead(Base):
    """The last row of one audit chain. Moved by the database itself when a row is inserted (``cooperatives.ddl``);
    writers lock it (a no-op ``UPDATE … RETURNING``) so that one transaction at a time extends a chain."""

    __tablename__ = "coop_audit_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: the last row's sequence number (0 before the first) and hash ("" before the first)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditLog(Base):
    """Every write and every reveal of personal data: who, when, what. Append-only, written only by
    :func:`cooperatives.audit.audit`: one hash chain per entity (``entity:<id>``; rows of no entity on
    ``global``), numbered 1, 2, 3 … in ``seq``, each row's ``hash`` covering its content and ``prev_hash``."""

    __tablename__ = "coop_audit_log"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    chain: Mapped[str] = mapped_column(ForeignKey("coop_audit_heads.chain"))
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LandAccrual(Base):
    """A land contract's base rent booked for one year (at most once: the key makes accrual idempotent)."""

    __tablename__ = "coop_land_accruals"

    contract_id: Mapped[int] = mapped_column(ForeignKey("coop_land_contracts.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    amount: Mapped[Decimal] = mapped_column(Money)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class IdempotencyKey(Base):
    """An API write sent with an ``Idempotency-Key`` header (:mod:`cooperatives.web.idempotency`).

    The row is claimed in the same transaction as the write it guards, so it exists only when the
    write took effect; the response is kept so that a retry with the same key and the same request
    gets the same answer and changes nothing. One row per user and key (the unique constraint is what
    makes concurrent retries safe).
    """

    __tablename__ = "coop_idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("coop_users.id"))
    key: Mapped[str] = mapped_column(String(255))
    #: sha256 of method, path, query and body (JSON canonicalised; uploaded files by their digest)
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    #: the response to replay; NULL between the write's commit and the response being kept
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))



# ------------------------------------------------------------------------------- monitoring (防止返贫动态监测)

#: the categories of a monitored household (防止返贫监测对象): the households sheet's ``monitoring`` values but none
MONITORING_CATEGORIES = ("unstable", "marginal", "hardship")


class MonitoringList(Base):
    """One county list of monitored households imported (``cooperatives.monitoring``): the file, who imported it,
    what it did, and the rows that matched no household of the township (listed for the township, never refused)
    or contradicted a period already closed (listed as conflicts, nothing changed)."""

    __tablename__ = "coop_monitoring_lists"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: the township it was imported for (its households only); None: the admin's, matched in every township
    township_id: Mapped[int | None] = mapped_column(ForeignKey("coop_townships.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    #: sha256 of the file's bytes
    sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    imported_by: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    #: [{"row", "who" (the ID number masked, or the household code), "category", "reason"}] (JSON)
    unmatched_json: Mapped[str] = mapped_column(Text, default="[]")
    #: [{"row", "household", "category", "identified_on", "eliminated_on", "reason"}] (JSON)
    conflicts_json: Mapped[str] = mapped_column(Text, default="[]")


class MonitoringPeriod(Base):
    """A period during which a household was monitored (identified on a day, eliminated — the risk removed — on
    another, or still open). History: a period is never deleted, its category and start never change, and its end
    is set once (``cooperatives.monitoring``). ``Household.monitoring`` is the current flag the households sheet
    sets; these periods are what was in force on each date."""

    __tablename__ = "coop_monitoring_periods"
    __table_args__ = (
        CheckConstraint("category IN ('unstable', 'marginal', 'hardship')", name="category"),
        CheckConstraint("eliminated_on IS NULL OR eliminated_on >= identified_on", name="dates"),
        Index("ix_coop_monitoring_periods_household", "household_id", "identified_on"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("coop_households.id"))
    category: Mapped[str] = mapped_column(String(10))
    identified_on: Mapped[dt.date] = mapped_column(Date)
    eliminated_on: Mapped[dt.date | None] = mapped_column(Date)
    #: how it was identified (农户自主申报, 干部排查, 部门筛查预警…) as the list says, or the households sheet
    source: Mapped[str | None] = mapped_column(String(100))
    #: the household's people when identified (家庭人口), as the list says
    persons: Mapped[int | None] = mapped_column(Integer)
    #: the list that recorded it (None: the households sheet of an import workbook)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("coop_monitoring_lists.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    household: Mapped[Household] = relationship()


for _table, _ddl in ddl.triggers_for(Base.metadata):
    event.listen(_table, "after_create", _ddl)

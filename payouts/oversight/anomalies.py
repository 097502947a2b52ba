"""Anomalies: named rules a township auditor (乡镇农经站 / 三资监管) runs over every entity of the township.

Each rule is a :class:`Rule` (a stable code, a short title and an explanation with its legal or
regulatory basis, both message ids); each thing it finds is a :class:`Finding` with a message id, its
parameters and links to the records behind it. Rules read what really can happen in these books:
the database refuses entries in a closed year, unbalanced entries and edits of posted entries, and a
run that fails its checks cannot be approved — so the rules look at what those guards let through
(books changed after a run was drafted, corrections after publication, records that contradict the
member register, cash, shared bank accounts…), not at what cannot be recorded at all.

:func:`find_anomalies` runs every rule with a fixed number of set-based queries (about twenty,
whatever the number of households, records or entities, and about twenty more for each year the county
list's warnings judge when the township has monitored households), so the township overview can count
findings on every page view. Cross-entity rules (a worker's days, a shared bank account, a monitored
household's benefits) always look at the whole township, also when the result is narrowed to one
entity or one year.

Translating a finding: ``gettext(finding.message) % finding.params`` (every parameter is already a
string: amounts as ``12,345.60``, dates ISO, percentages with their sign); the rule's title and
explanation are message ids too (``gettext(RULES[finding.rule].title)``). Parameters never hold a full
ID or bank number — a bank account appears only in its masked form.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cooperatives.models import (
    Advance,
    Delivery,
    Entity,
    Household,
    LaborRecord,
    LandContract,
    Member,
    Payment,
    Village,
)
from ledger.clock import china_today
from ledger.db import fixed_sum, money_sum
from ledger.entries import YEAR_END_KINDS
from ledger.i18n import N_, Message, msg
from ledger.models import Account, JournalEntry, Posting
from ledger.money import quantize
from payouts.models import (
    IN_FORCE,
    Objection,
    PayoutBatch,
    PayoutBatchLine,
    PayoutMember,
    PayoutRun,
    PolicyVersion,
    Receipt,
    StatementSnapshot,
)
from payouts.oversight.linkage import household_benefits
from payouts.oversight.monitoring import monitored_incomes, no_linkage_entities
from payouts.oversight.tables import Column, Table
from payouts.reports.disclosure import queries as disclosure_queries
from payouts.runs.labels import POOL_NAME_LABELS
from payouts.runs.rules import COOPERATIVE_LAW_KINDS, distributable_surplus, patronage_meets_law
from payouts.runs.snapshot import patronage_pools

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
#: the statutory floor of patronage returns, % of the distributable surplus (FPC law Art. 44)
PATRONAGE_FLOOR = Decimal(60)
DEFAULT_CASH_THRESHOLD = Decimal("5000.00")


@dataclass(frozen=True)
class Rule:
    code: str
    #: message id: a short title
    title: str
    #: message id: what the rule checks, why it matters and on what basis
    explanation: str
    #: message id: what to do about a finding of this rule (:data:`ACTIONS`)
    action: str = ""


@dataclass(frozen=True)
class Link:
    #: message id
    label: str
    #: a Flask endpoint readable by an auditor of the township: ``url_for(endpoint, **values)``
    endpoint: str
    values: dict = field(default_factory=dict, hash=False)
    #: parameters of ``label`` (``gettext(label) % params``)
    params: dict = field(default_factory=dict, hash=False)


def line_label(line: str) -> Message | str:
    """A statement's line as people call it: a usual pool by its label (translated where shown), else as named."""
    return msg(POOL_NAME_LABELS[line]) if line in POOL_NAME_LABELS else line


@dataclass(frozen=True)
class Finding:
    rule: str
    entity_id: int
    entity_code: str
    entity_name: str
    year: int | None
    #: message id with ``%(name)s`` placeholders, filled from ``params``
    message: str
    params: dict = field(hash=False)
    links: tuple[Link, ...] = ()
    #: the records the finding is about, e.g. ``run:12:member:H001`` or ``payments:345`` (part of :attr:`key`)
    record: str = ""

    @property
    def key(self) -> str:
        """Stable across page views and years: ``rule:ENTITY:year:record`` (``-`` for a standing record without a
        year) — what a note that marks the finding handled is filed under
        (:mod:`payouts.oversight.handling`)."""
        return f"{self.rule}:{self.entity_code}:{self.year if self.year is not None else '-'}:{self.record}"

    @property
    def action(self) -> str:
        """Message id: what to do about it (the rule's)."""
        return RULES[self.rule].action

    @property
    def detail(self) -> str:
        """The message filled in, untranslated (English): for logs and tests."""
        return self.message % self.params


RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("patronage_below_60", N_("Patronage returns below 60 per cent of the distributable surplus"),
         N_("A farmer cooperative must return at least 60 per cent of its distributable surplus to members in proportion "
            "to their trade with it (Farmer Professional Cooperatives Law Art. 44; 会农社02表 line 17 against "
            "line 16). A run is checked when it is drafted, but the books can change before it is posted: this "
            "rule measures the returns of the run in force against the distributable surplus the books show for "
            "that year, after the run's reserves.")),
    Rule("payout_to_non_member", N_("Payout to a household that was not a member"),
         N_("Distributions and member payments go to members only (law Arts. 21, 44): a household paid as a "
            "member before it joined, or a run line for a year in which the register shows no membership "
            "(for example after the register was corrected), means money left the entity on a footing it "
            "did not have. Payments up to the end of the year after a member left are exit settlements and "
            "are not listed.")),
    Rule("non_member_trade", N_("Deliveries by a non-member recorded as member trade"),
         N_("Member and non-member trade must be kept apart (law Art. 41): only member trade earns patronage "
            "returns. A delivery recorded for a member but dated before the household joined or after it "
            "left is non-member trade booked as member trade, and it enlarges that household's patronage "
            "basis at the expense of the real members.")),
    Rule("labor_days_beyond_period", N_("More labour days than the month has"),
         N_("Labour days are recorded per worker; one worker cannot work more days in a month than the month "
            "has, even across several entities of the township. More days point to made-up or doubled wage "
            "records (虚报冒领劳务费). A record without a worker's name counts as the household's one worker.")),
    Rule("land_shares_beyond_area", N_("Land shares beyond the contracted area"),
         N_("Land shares are counted per 亩 of the land-use right put in (1 亩 = 1 股 at most in the demo "
            "articles and in the usual grade weightings). A contract holding more shares than 亩 gives the "
            "household a larger part of the land pool than its land (土地承包法 Art. 36, 39); check the "
            "articles' valuation if they price land above one share per 亩.")),
    Rule("shared_bank_account", N_("One bank account for several households"),
         N_("Payouts go to the household's own account (often its 一卡通). The same account given for several "
            "households lets one person collect what others are owed — a classic pattern of false claims (冒领); collective "
            "funds must not pass through personal accounts (农村集体经济组织法 Art. 44). Found by a keyed hash "
            "of the account number, which is never shown in full.")),
    Rule("large_cash_payment", N_("Large cash payment"),
         N_("Village finance rules require bank transfers for large amounts; paying out cash taken in (坐支) "
            "escapes the bank's record. Every single cash payment — member payment, payout against signature, "
            "advance, delivery paid on the spot — at or above the cash payment threshold (5,000 yuan unless the "
            "server sets another) is listed.")),
    Rule("entries_after_close", N_("Entries after the year was closed"),
         N_("Once a year is closed only year-end entries are accepted, and the database refuses everything "
            "else. What it lets through after the first distribution are reversals and re-posted runs: "
            "corrections made after the books were closed and the result published. Each one changes "
            "figures the members already saw and must be explained to them.")),
    Rule("notice_too_short", N_("Notice period shorter than the policy"),
         N_("The distribution is put on public notice (公示) for the number of days the articles' policy sets, "
            "so that households can check and object (村务公开; 农村集体经济组织法 Art. 45–46). A run published "
            "for fewer days gave households less time than promised.")),
    Rule("objection_unanswered", N_("Objection unanswered after the notice period"),
         N_("A household's objection must be answered during the notice period; when the period is over and "
            "the objection is still open, the distribution stands without the household having been heard "
            "(村民委员会组织法 Art. 31; 农村集体经济组织法 Art. 56).")),
    Rule("monitored_household_benefit", N_("Monitored household lost out"),
         N_("Households under poverty-relapse monitoring (防止返贫监测对象) are the first the benefit-linkage "
            "duty is owed to (国乡振发〔2022〕9号). Listed: a monitored household that was a member of an "
            "entity in a year whose distribution is posted but received nothing from it (no dividend, wages, "
            "produce payments or land rent), and one whose total benefit from all entities of the township "
            "fell from one year to the next (compared once the later year's distributions are posted).")),
    Rule("missing_disclosure", N_("Quarter not disclosed"),
         N_("Village collectives disclose their income and spending by item at least every quarter, monthly where "
            "there is much business (农村集体经济组织财务公开规定 农经发〔2011〕13号; 村民委员会组织法 Art. 30), and "
            "cooperatives report their finances to their members (社务公开). Listed: a quarter in which the entity "
            "booked anything, ended more than 15 days ago (the disclosure is due by the 15th day after the quarter), "
            "with no financial disclosure (财务公开) published for it — neither the quarter nor each of its active months.")),
    Rule("owed_after_notice", N_("Household still owed after the notice period"),
         N_("Once its notice period is over a distribution is paid — without cash (非现金结算), by the bank's batch "
            "transfer (代发) to each household's own account —, and a transfer the bank returned is paid again once "
            "the account is corrected, not forgotten. Listed: a household a published distribution still owes after "
            "its notice period ended, that no bank batch is paying (none made, or the household listed apart), or "
            "whose latest bank batch the bank could not pay.")),
    Rule("nothing_received", N_("Monitored household received nothing all year"),
         N_("Households under poverty-relapse monitoring (防止返贫监测对象) on the county's list are the first the "
            "benefit-linkage duty is owed to (国乡振发〔2022〕9号). Listed, once a year is over: a household monitored "
            "during the year that was a member of some entity and received nothing from any cooperative or collective "
            "all year — no dividend, wages, produce payments or land rent. A household waits until every entity of "
            "the township it is a member of that distributed the year before has its run for the year in force.")),
    Rule("income_fell", N_("Monitored household's income fell"),
         N_("A monitored household whose income from the cooperatives and collectives falls risks falling back "
            "into poverty (防止返贫监测). Listed, once a year is over: a household monitored during the year whose "
            "total from every entity is down by the threshold or more (30 per cent unless the server sets another) "
            "from the year before; it waits, like the rule above, for the township's distributions of the year.")),
    Rule("no_linkage", N_("Supported entity reached no monitored household"),
         N_("Fiscal support to an entity comes with the duty to bring farm households along (联农带农), monitored "
            "households first (国乡振发〔2022〕9号: support is tied to benefit linkage). Listed, once a year is "
            "over: an entity that had received fiscal support by the end of the year, whose villages had monitored "
            "households during the year, none of whom it reached by any channel (dividends, also through a cluster "
            "project's villages, wages, produce payments or land rent).")),
)}
#: what to do about a finding, per rule (message ids): the next step an auditor or the accountant takes
ACTIONS = {
    "patronage_below_60": N_("Ask the accountant why income was booked to the year after the run was drafted; if "
                             "the books are right, draft a new run on them that returns at least 60 per cent, have "
                             "the members' meeting approve it, and post it in place of this one."),
    "payout_to_non_member": N_("Check the membership dates in the register against the application and the members' "
                               "meeting minutes. If the register is right, recover the amount or book it as a "
                               "non-member payment; if the register is wrong, correct it."),
    "non_member_trade": N_("Check the membership dates and the delivery records. Non-member deliveries are void and "
                           "recorded again as non-member trade so they earn no patronage return; or correct the "
                           "register if the household really was a member."),
    "labor_days_beyond_period": N_("Compare the labour records with the attendance sheets and the wage rolls signed by "
                                   "the worker; void the doubled or made-up records and recover wages paid on them."),
    "land_shares_beyond_area": N_("Compare the contract with the land-use certificate and the articles' valuation; "
                                  "correct the shares or the area, or attach the members' meeting decision that "
                                  "prices this land higher."),
    "shared_bank_account": N_("Ask each household for its own account (its 一卡通) and record it; until then pay "
                              "against the household's signature and check who collected the earlier payments."),
    "large_cash_payment": N_("Ask for the signed receipt and why the money was not paid by bank transfer; pay "
                             "amounts of this size by transfer from now on."),
    "entries_after_close": N_("Read the reversed and re-posted vouchers, make sure the members' meeting approved the "
                              "new run, and that the corrected figures were published to the members again."),
    "notice_too_short": N_("Put the distribution on notice again for the full period the policy sets, and answer "
                           "the objections raised in it before paying out."),
    "objection_unanswered": N_("The accountant answers the objection now (the statement's objections page); if it "
                               "shows a mistake, correct the run before it is paid."),
    "monitored_household_benefit": N_("Ask why the household received nothing or less (no trade, no labour, no "
                                      "shares?) and record how the entity will include it, as its benefit-linkage "
                                      "duty requires."),
    "missing_disclosure": N_("The accountant publishes the quarter's financial disclosure (财务公开) now and posts "
                             "it on the village notice board."),
    "owed_after_notice": N_("The accountant pays the household: if the bank returned the payment, correct its account "
                            "or name with the household, then put it in the next bank batch (or pay it against its "
                            "signature); the run's bank batches show what is still owed and why."),
    "nothing_received": N_("Ask the entities the household is a member of why it received nothing (no trade, no "
                           "labour, no shares?) and record how they will include it, as their benefit-linkage duty "
                           "requires; tell the county if the household's risk grew."),
    "income_fell": N_("Find out with the household and the entities why its income fell (less produce bought, "
                      "less work, a smaller dividend?) and whether its risk grew; record what the entities will do."),
    "no_linkage": N_("Ask the entity how it will reach the monitored households of its villages (work, produce "
                     "bought from them, shares) and record it; the county weighs it before further support."),
}
RULES = {code: replace(rule, action=ACTIONS[code]) for code, rule in RULES.items()}
RULE_ORDER = {code: n for n, code in enumerate(RULES)}

MESSAGES = {
    "patronage": N_("Run %(run)s for %(year)s returns %(patronage)s by member trade, %(share)s of the "
                    "distributable surplus of %(distributable)s the books show (the run was computed on "
                    "%(run_distributable)s)"),
    "run_line": N_("%(household)s receives %(amount)s in the %(year)s distribution but was not a member in "
                   "%(year)s (membership %(membership)s)"),
    "payment": N_("%(household)s was paid %(amount)s on %(date)s as a member, but its membership is %(membership)s"),
    "deliveries": N_("%(household)s: %(count)s deliveries worth %(amount)s from %(first)s to %(last)s recorded as "
                     "member trade, but its membership is %(membership)s"),
    "labor": N_("%(worker)s (%(household)s): %(days)s labour days recorded in %(month)s, which has %(limit)s days"),
    "labor_across": N_("%(worker)s (%(household)s): %(days)s labour days recorded in %(month)s in %(entities)s "
                       "together, which has %(limit)s days"),
    "land": N_("%(household)s: contract %(contract)s holds %(shares)s shares on %(area)s mu"),
    "bank": N_("Bank account %(account)s is given for %(count)s households: %(households)s"),
    "cash_payment": N_("%(household)s: member payment of %(amount)s in cash on %(date)s (threshold %(threshold)s)"),
    "cash_receipt": N_("%(household)s: payout of %(amount)s from run %(run)s in cash on %(date)s (threshold "
                       "%(threshold)s)"),
    "cash_advance": N_("%(household)s: advance of %(amount)s in cash on %(date)s (threshold %(threshold)s)"),
    "cash_delivery": N_("%(household)s: delivery of %(amount)s paid in cash on %(date)s (threshold %(threshold)s)"),
    "after_close": N_("%(count)s entries posted to %(year)s after its books were closed at voucher %(closing)s "
                      "(vouchers %(first)s to %(last)s): reversals and re-posted distributions"),
    "notice": N_("Run %(run)s for %(year)s was on notice for %(days)s days (%(start)s to %(until)s); its policy "
                 "sets %(policy_days)s days"),
    "objection": N_("%(household)s objected on %(filed)s to the line %(line)s of run %(run)s; still unanswered, "
                    "the notice period ended on %(until)s"),
    "benefit_nothing": N_("%(household)s, a monitored household, was a member in %(year)s but received nothing "
                          "from this entity"),
    "disclosure": N_("No financial disclosure published for %(quarter)s (%(entries)s entries in the quarter); it "
                     "was due by %(due)s"),
    "benefit_fell": N_("%(household)s, a monitored household: benefits from all entities of the township fell "
                       "from %(before)s in %(previous)s to %(now)s in %(year)s"),
    "owed_no_batch": N_("%(household)s is still owed %(amount)s from run %(run)s for %(year)s, %(days)s days after "
                        "its notice period ended on %(until)s; no bank batch is paying it"),
    "monitored_warning": N_("%(household)s, a monitored household: %(warning)s"),
    "owed_failed": N_("%(household)s is still owed %(amount)s from run %(run)s for %(year)s, %(days)s days after its "
                      "notice period ended on %(until)s; the bank could not pay it in batch %(batch)s: %(reason)s"),
}

LINK_MEMBER = N_("Member account")
LINK_RUN = N_("Distribution run")
LINK_JOURNAL = N_("Journal")
LINK_RUNS = N_("Distribution runs")
LINK_SURPLUS = N_("Surplus statement")
LINK_OBJECTIONS = N_("Objections")
LINK_STATEMENTS = N_("Statements and payments")
LINK_DISCLOSURE = N_("Financial disclosure")
LINK_VOUCHER = N_("Voucher %(voucher)s")
LINK_VOUCHERS = N_("Vouchers %(first)s to %(last)s")
LINK_RUN_LINE = N_("The household's lines in the run")
LINK_OBJECTION = N_("The objection")
LINK_BATCHES = N_("The run's bank batches")
LINK_LINKAGE = N_("The households it reached")

#: rules whose findings only the township's auditor reads, never an entity's accountant: they tell which households
#: of the township are monitored (防止返贫监测) and what they received from every entity
TOWNSHIP_ONLY_RULES = frozenset({"nothing_received", "income_fell", "no_linkage"})
RECORD_LINKS = {"payments": N_("Payments"), "deliveries": N_("Deliveries"), "labor": N_("Labour days"),
                "land": N_("Land contracts"), "advances": N_("Advances")}


# --------------------------------------------------------------------------------------- formatting


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _membership(joined: dt.date, left: dt.date | None) -> str:
    return f"{joined.isoformat()} ~ {left.isoformat() if left else ''}".rstrip()


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


def _local_date(moment: dt.datetime) -> dt.date:
    """The calendar date of a stored timestamp where the server is (notice periods are counted from the
    date ``publish`` used, ``date.today()``); naive timestamps are UTC (SQLite keeps no zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone().date()


# ------------------------------------------------------------------------------------------- context


@dataclass
class _Member:
    id: int
    entity_id: int
    code: str
    household_id: int | None
    joined_on: dt.date
    left_on: dt.date | None

    def covers_year(self, year: int) -> bool:
        return self.joined_on <= dt.date(year, 12, 31) and (self.left_on is None or self.left_on >= dt.date(year, 1, 1))


@dataclass
class _Household:
    id: int
    code: str
    head_name: str
    monitoring: str
    digest: str | None
    masked: str | None

    @property
    def label(self) -> str:
        return f"{self.code} {self.head_name}"


class _Context:
    """What every rule needs, loaded once: entities, members, households, runs in force."""

    def __init__(self, session: Session, township_id: int):
        self.session = session
        self.entities = {row.id: row for row in session.execute(
            select(Entity.id, Entity.code, Entity.name, Entity.kind, Entity.book_id)
            .where(Entity.township_id == township_id).order_by(Entity.code))}
        self.members: dict[int, _Member] = {}
        self.households: dict[int, _Household] = {}
        ids = list(self.entities)
        self.runs: list = []
        self.run_of: dict = {}
        if not ids:
            return
        for row in session.execute(
                select(Member.id, Member.entity_id, Member.code, Member.household_id, Member.joined_on, Member.left_on,
                       Household.code, Household.head_name, Household.monitoring, Household.bank_account_digest,
                       Household.bank_account_masked)
                .outerjoin(Household, Household.id == Member.household_id).where(Member.entity_id.in_(ids))):
            self.members[row[0]] = _Member(*row[:6])
            if row[3] is not None:
                self.households[row[3]] = _Household(row[3], *row[6:])
        self.runs = session.execute(
            select(PayoutRun.id, PayoutRun.entity_id, PayoutRun.year, PayoutRun.status, PayoutRun.published_at,
                   PayoutRun.notice_until, PolicyVersion.body)
            .join(PolicyVersion, PolicyVersion.id == PayoutRun.policy_id)
            .where(PayoutRun.entity_id.in_(ids), PayoutRun.status.in_(IN_FORCE))).all()
        self.run_of = {(r.entity_id, r.year): r for r in self.runs}
        self._benefits: dict = {}

    def benefits(self, years: list[int] | None) -> dict:
        """:func:`payouts.oversight.linkage.household_benefits` of the township's entities in ``years`` (all when
        None), read once for every rule that asks for the same years (four queries)."""
        key = None if years is None else tuple(years)
        if key not in self._benefits:
            self._benefits[key] = household_benefits(self.session, entity_ids=list(self.entities), years=years)
        return self._benefits[key]

    def finding(self, rule: str, entity_id: int, year: int | None, message: str, params: dict,
                links: list[Link], record: str) -> Finding:
        entity = self.entities[entity_id]
        return Finding(rule=rule, entity_id=entity_id, entity_code=entity.code, entity_name=entity.name, year=year,
                       message=MESSAGES[message], params=params, links=tuple(link for link in links if link),
                       record=record)

    def voucher_link(self, entity_id: int, year: int | None, number: int | None) -> Link | None:
        """The 记账凭证 a record was posted with (None when it posted nothing)."""
        if year is None or number is None:
            return None
        voucher = f"{int(year)}-{int(number):04d}"
        return Link(LINK_VOUCHER, "reports.vouchers_pdf", {"code": self.entities[entity_id].code, "voucher": voucher},
                    {"voucher": voucher})

    def run_line_link(self, entity_id: int, run_id: int, member: _Member) -> Link:
        """The household's lines on the run's page."""
        return Link(LINK_RUN_LINE, "runs.show", {"code": self.entities[entity_id].code, "run_id": run_id,
                                                 "_anchor": f"m-{member.code}"})

    def member_link(self, member: _Member) -> Link:
        return Link(LINK_MEMBER, "entities.member",
                    {"code": self.entities[member.entity_id].code, "member_code": member.code})

    def records_link(self, entity_id: int, kind: str) -> Link:
        return Link(RECORD_LINKS[kind], "entities.records", {"code": self.entities[entity_id].code, "kind": kind})

    def run_link(self, entity_id: int, run_id: int) -> Link:
        return Link(LINK_RUN, "runs.show", {"code": self.entities[entity_id].code, "run_id": run_id})

    def who(self, member: _Member) -> str:
        household = self.households.get(member.household_id)
        return household.label if household else member.code


# --------------------------------------------------------------------------------------------- rules


def _patronage(ctx: _Context, year: int | None) -> list[Finding]:
    """Runs in force of farmer cooperatives against the books' distributable surplus of their year:
    DS(books) = surplus(books) + the result brought forward − the run's reserves (none when not positive), with
    the year's surplus from the income and expense accounts (closing entries left out, like the run).
    When the books still equal what the run was computed on, this is the run's own check; it differs
    when income was booked to the year after the run was drafted."""
    runs = [r for r in ctx.runs if ctx.entities[r.entity_id].kind in COOPERATIVE_LAW_KINDS and year in (None, r.year)]
    if not runs:
        return []
    results = dict(ctx.session.execute(select(PayoutRun.id, PayoutRun.result_json)
                                       .where(PayoutRun.id.in_([r.id for r in runs]))).all())
    books = {ctx.entities[r.entity_id].book_id for r in runs}
    years = {r.year for r in runs}
    surplus = {(book, y): -amount for book, y, amount in ctx.session.execute(
        select(Posting.book_id, Posting.year, money_sum(Posting.__table__.c.amount))
        .join(Account, Account.id == Posting.account_id).join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.book_id.in_(books), Posting.year.in_(years), Account.type.in_(("income", "expense")),
               JournalEntry.kind != "closing")
        .group_by(Posting.book_id, Posting.year))}
    found = []
    for run in runs:
        result = json.loads(results[run.id])
        returns = set(patronage_pools(result))
        returned = sum((Decimal(p["amount"]) for p in result["pools"] if p["name"] in returns), ZERO)
        reserves = sum((Decimal(r["amount"]) for r in result["reserves"]), ZERO)
        books_surplus = surplus.get((ctx.entities[run.entity_id].book_id, run.year), ZERO)
        opening = Decimal(result["brought_forward"]) - Decimal(result["prior_loss"])
        distributable = distributable_surplus(books_surplus, opening, reserves)
        if distributable <= 0:
            continue
        share = quantize(returned / distributable * HUNDRED)
        if not patronage_meets_law(returned, distributable):
            code = ctx.entities[run.entity_id].code
            found.append(ctx.finding(
                "patronage_below_60", run.entity_id, run.year, "patronage",
                {"run": str(run.id), "year": str(run.year), "patronage": _money(returned), "share": f"{share:.2f}%",
                 "distributable": _money(distributable), "run_distributable": _money(Decimal(result["distributable"]))},
                [ctx.run_link(run.entity_id, run.id),
                 Link(LINK_SURPLUS, "reports.show", {"code": code, "year": run.year, "name": "surplus"})],
                f"run:{run.id}"))
    return found


def _non_member_payouts(ctx: _Context, year: int | None) -> list[Finding]:
    """Run lines (total > 0) of runs in force for a year the member's membership does not overlap, and
    member payments dated before the household joined or after the end of the year following the one it
    left (membership ends at a year's end; settlement follows)."""
    found = []
    lines = ctx.session.execute(
        select(PayoutRun.id, PayoutRun.entity_id, PayoutRun.year, PayoutMember.member_id, PayoutMember.total)
        .join(PayoutRun, PayoutRun.id == PayoutMember.run_id).join(Member, Member.id == PayoutMember.member_id)
        .where(PayoutRun.entity_id.in_(list(ctx.entities)), PayoutRun.status.in_(IN_FORCE), PayoutMember.total > 0,
               or_(func.extract("year", Member.joined_on) > PayoutRun.year,
                   func.extract("year", Member.left_on) < PayoutRun.year))
        .order_by(PayoutRun.id, PayoutMember.code)).all()
    for run_id, entity_id, run_year, member_id, total in lines:
        member = ctx.members[member_id]
        if year not in (None, run_year) or member.covers_year(run_year):
            continue
        found.append(ctx.finding("payout_to_non_member", entity_id, run_year, "run_line", {
            "household": ctx.who(member), "amount": _money(total), "year": str(run_year),
            "membership": _membership(member.joined_on, member.left_on)},
            [ctx.run_line_link(entity_id, run_id, member), ctx.member_link(member)], f"run:{run_id}:member:{member.code}"))
    payments = ctx.session.execute(
        select(Payment.entity_id, Payment.member_id, Payment.date, Payment.amount, Payment.id, JournalEntry.year,
               JournalEntry.voucher_no)
        .join(Member, Member.id == Payment.member_id).outerjoin(JournalEntry, JournalEntry.id == Payment.entry_id)
        .where(Payment.entity_id.in_(list(ctx.entities)), Payment.live(),
               or_(Payment.date < Member.joined_on, Payment.date > Member.left_on))
        .order_by(Payment.date, Payment.id)).all()
    for entity_id, member_id, on, amount, payment_id, entry_year, voucher_no in payments:
        member = ctx.members[member_id]
        if year not in (None, on.year):
            continue
        if on >= member.joined_on and (member.left_on is None or on.year <= member.left_on.year + 1):
            continue
        found.append(ctx.finding("payout_to_non_member", entity_id, on.year, "payment", {
            "household": ctx.who(member), "amount": _money(amount), "date": on.isoformat(),
            "membership": _membership(member.joined_on, member.left_on)},
            [ctx.voucher_link(entity_id, entry_year, voucher_no), ctx.member_link(member)], f"payments:{payment_id}"))
    return found


def _non_member_trade(ctx: _Context, year: int | None) -> list[Finding]:
    """Deliveries dated outside the member's membership, per member and year."""
    delivery_year = func.extract("year", Delivery.date)
    rows = ctx.session.execute(
        select(Delivery.entity_id, Delivery.member_id, delivery_year, func.count(Delivery.id),
               money_sum(Delivery.amount), func.min(Delivery.date), func.max(Delivery.date))
        .join(Member, Member.id == Delivery.member_id)
        .where(Delivery.entity_id.in_(list(ctx.entities)), Delivery.live(),
               or_(Delivery.date < Member.joined_on, Delivery.date > Member.left_on))
        .group_by(Delivery.entity_id, Delivery.member_id, delivery_year)
        .order_by(Delivery.entity_id, Delivery.member_id, delivery_year)).all()
    found = []
    for entity_id, member_id, on_year, count, amount, first, last in rows:
        if year not in (None, int(on_year)):
            continue
        member = ctx.members[member_id]
        found.append(ctx.finding("non_member_trade", entity_id, int(on_year), "deliveries", {
            "household": ctx.who(member), "count": str(count), "amount": _money(amount),
            "first": _as_date(first).isoformat(), "last": _as_date(last).isoformat(),
            "membership": _membership(member.joined_on, member.left_on)},
            [ctx.member_link(member), ctx.records_link(entity_id, "deliveries")], f"member:{member.code}:deliveries"))
    return found


def _labor_days(ctx: _Context, year: int | None) -> list[Finding]:
    """Days per worker and calendar month, summed over every entity of the township. The worker is the
    household and the name on the record (trimmed); no name stands for the household's one worker."""
    y, m = func.extract("year", LaborRecord.date), func.extract("month", LaborRecord.date)
    worker = func.coalesce(func.trim(LaborRecord.worker), "")
    rows = ctx.session.execute(
        select(Member.household_id, worker, y, m, LaborRecord.entity_id, func.min(LaborRecord.member_id),
               fixed_sum(LaborRecord.days))
        .join(Member, Member.id == LaborRecord.member_id)
        .where(LaborRecord.entity_id.in_(list(ctx.entities)), Member.household_id.is_not(None), LaborRecord.live())
        .group_by(Member.household_id, worker, y, m, LaborRecord.entity_id)).all()
    months: dict[tuple, dict[int, tuple[int, Decimal]]] = defaultdict(dict)
    for household_id, name, on_year, on_month, entity_id, member_id, days in rows:
        months[(household_id, name, int(on_year), int(on_month))][entity_id] = (member_id, days)
    found = []
    for (household_id, name, on_year, on_month), by_entity in sorted(months.items(), key=lambda kv: kv[0][1:]):
        if year not in (None, on_year):
            continue
        total = sum((days for _, days in by_entity.values()), Decimal(0))
        limit = calendar.monthrange(on_year, on_month)[1]
        if total <= limit:
            continue
        household = ctx.households[household_id]
        codes = sorted(ctx.entities[e].code for e in by_entity)
        params = {"worker": name or household.head_name, "household": household.code, "days": _number(total),
                  "month": f"{on_year}-{on_month:02d}", "limit": str(limit), "entities": "、".join(codes)}
        for entity_id, (member_id, _days) in sorted(by_entity.items()):
            found.append(ctx.finding("labor_days_beyond_period", entity_id, on_year,
                                     "labor_across" if len(by_entity) > 1 else "labor", params,
                                     [ctx.member_link(ctx.members[member_id]), ctx.records_link(entity_id, "labor")],
                                     f"household:{household.code}:worker:{name}:{on_year}-{on_month:02d}"))
    return found


def _land_shares(ctx: _Context, year: int | None) -> list[Finding]:
    """Contracts holding more shares than 亩 (in force in ``year`` when given)."""
    stmt = (select(LandContract.entity_id, LandContract.member_id, LandContract.contract_no, LandContract.area_mu,
                   LandContract.shares, LandContract.id)
            .where(LandContract.entity_id.in_(list(ctx.entities)), LandContract.shares > LandContract.area_mu,
                   LandContract.live())
            .order_by(LandContract.entity_id, LandContract.contract_no))
    if year is not None:
        stmt = stmt.where(LandContract.start_on <= dt.date(year, 12, 31),
                          or_(LandContract.end_on.is_(None), LandContract.end_on >= dt.date(year, 1, 1)))
    found = []
    for entity_id, member_id, contract_no, area, shares, contract_id in ctx.session.execute(stmt):
        member = ctx.members[member_id]
        found.append(ctx.finding("land_shares_beyond_area", entity_id, None, "land", {
            "household": ctx.who(member), "contract": contract_no, "shares": _number(shares), "area": _number(area)},
            [ctx.member_link(member), ctx.records_link(entity_id, "land")], f"land:{contract_id}"))
    return found


def _shared_accounts(ctx: _Context, township_id: int) -> list[Finding]:
    """Households of the township's villages sharing one account digest; one finding per entity where any
    of them is a member, linking each such member."""
    shared = (select(Household.bank_account_digest).join(Village, Village.id == Household.village_id)
              .where(Village.township_id == township_id, Household.bank_account_digest.is_not(None))
              .group_by(Household.bank_account_digest).having(func.count(Household.id) > 1))
    rows = ctx.session.execute(
        select(Household.bank_account_digest, Household.code, Household.head_name, Household.bank_account_masked)
        .join(Village, Village.id == Household.village_id)
        .where(Village.township_id == township_id, Household.bank_account_digest.in_(shared))
        .order_by(Household.bank_account_digest, Household.code)).all()
    groups: dict[str, list] = defaultdict(list)
    for digest, code, head, masked in rows:
        groups[digest].append((code, head, masked))
    members_by_digest: dict[str, dict[int, list[_Member]]] = defaultdict(lambda: defaultdict(list))
    for member in ctx.members.values():
        household = ctx.households.get(member.household_id)
        if household is not None and household.digest in groups:
            members_by_digest[household.digest][member.entity_id].append(member)
    found = []
    for digest, households in groups.items():
        params = {"account": households[0][2] or "", "count": str(len(households)),
                  "households": "、".join(f"{code} {head}" for code, head, _ in households)}
        for entity_id, members in sorted(members_by_digest[digest].items()):
            found.append(ctx.finding("shared_bank_account", entity_id, None, "bank", params,
                                     [ctx.member_link(m) for m in sorted(members, key=lambda m: m.code)],
                                     "households:" + ",".join(code for code, _, _ in households)))
    return found


def _cash(ctx: _Context, year: int | None, threshold: Decimal) -> list[Finding]:
    """Single cash payments at or above ``threshold``: member payments by cash, payouts by cash, advances
    (always cash), deliveries paid on the spot (cash)."""
    ids = list(ctx.entities)
    found = []
    params = lambda member, amount, on: {  # noqa: E731
        "household": ctx.who(member), "amount": _money(amount), "date": on.isoformat(), "threshold": _money(threshold)}
    for kind, model, message, extra in (
            ("payments", Payment, "cash_payment", Payment.method == "cash"),
            ("advances", Advance, "cash_advance", None),
            ("deliveries", Delivery, "cash_delivery", Delivery.paid)):
        stmt = (select(model.entity_id, model.member_id, model.date, model.amount, model.id, JournalEntry.year,
                       JournalEntry.voucher_no)
                .outerjoin(JournalEntry, JournalEntry.id == model.entry_id)
                .where(model.entity_id.in_(ids), model.amount >= threshold, model.live())
                .order_by(model.date, model.id))
        if extra is not None:
            stmt = stmt.where(extra)
        for entity_id, member_id, on, amount, record_id, entry_year, voucher_no in ctx.session.execute(stmt):
            if year in (None, on.year):
                member = ctx.members[member_id]
                found.append(ctx.finding("large_cash_payment", entity_id, on.year, message, params(member, amount, on),
                                         [ctx.voucher_link(entity_id, entry_year, voucher_no), ctx.member_link(member)],
                                         f"{kind}:{record_id}"))
    receipts = ctx.session.execute(
        select(PayoutRun.entity_id, PayoutRun.id, StatementSnapshot.member_id, Receipt.date, Receipt.amount, Receipt.id)
        .join(PayoutRun, PayoutRun.id == Receipt.run_id).join(StatementSnapshot, StatementSnapshot.id == Receipt.statement_id)
        .where(PayoutRun.entity_id.in_(ids), Receipt.method == "cash", Receipt.amount >= threshold)
        .order_by(Receipt.date, Receipt.id)).all()
    for entity_id, run_id, member_id, on, amount, receipt_id in receipts:
        if year in (None, on.year):
            member = ctx.members[member_id]
            found.append(ctx.finding("large_cash_payment", entity_id, on.year, "cash_receipt",
                                     {**params(member, amount, on), "run": str(run_id)},
                                     [Link(LINK_STATEMENTS, "statements.run_statements", {
                                         "code": ctx.entities[entity_id].code, "run_id": run_id,
                                         "_anchor": "statements"}), ctx.member_link(member)],
                                     f"receipts:{receipt_id}"))
    return found


def _run_id_of(source: str) -> str:
    """``run:12:pool:patronage`` -> ``12``."""
    return source.split(":")[1] if source.count(":") >= 1 else ""


def _after_close(ctx: _Context, year: int | None) -> list[Finding]:
    """Per book and year: the year-end entries posted after the year's closing entries (``close:…``) other
    than those of the first run posted after them (the year's distribution). Voucher numbers are handed
    out in posting order, so "after" needs no clock. A year closed without closing entries (nothing in
    its income and expense accounts) is not examined."""
    books = {e.book_id: e.id for e in ctx.entities.values()}
    if not books:
        return []
    stmt = (select(JournalEntry.book_id, JournalEntry.year, JournalEntry.voucher_no, JournalEntry.source)
            .where(JournalEntry.book_id.in_(list(books)), JournalEntry.kind.in_(YEAR_END_KINDS))
            .order_by(JournalEntry.book_id, JournalEntry.year, JournalEntry.voucher_no))
    if year is not None:
        stmt = stmt.where(JournalEntry.year == year)
    by_year: dict[tuple[int, int], list] = defaultdict(list)
    for book_id, entry_year, voucher_no, source in ctx.session.execute(stmt):
        by_year[(book_id, entry_year)].append((voucher_no, source))
    found = []
    for (book_id, entry_year), entries in sorted(by_year.items()):
        closing = max((no for no, source in entries if source.startswith("close:")), default=None)
        if closing is None:
            continue
        later = [(no, source) for no, source in entries if no > closing and source.startswith("run:")]
        if not later:
            continue
        first_run = _run_id_of(later[0][1])
        late = [no for no, source in later if _run_id_of(source) != first_run]
        if not late:
            continue
        entity_id = books[book_id]
        code = ctx.entities[entity_id].code
        voucher = lambda no, y=entry_year: f"{y}-{no:04d}"  # noqa: E731
        found.append(ctx.finding("entries_after_close", entity_id, entry_year, "after_close", {
            "count": str(len(late)), "year": str(entry_year), "closing": voucher(closing),
            "first": voucher(late[0]), "last": voucher(late[-1])},
            [Link(LINK_VOUCHERS, "reports.vouchers_pdf", {"code": code, "year": entry_year, "from": late[0],
                                                          "to": late[-1]},
                  {"first": voucher(late[0]), "last": voucher(late[-1])}),
             Link(LINK_JOURNAL, "ledger.journal", {"code": code}), Link(LINK_RUNS, "runs.index", {"code": code})],
            f"vouchers:{voucher(closing)}:{voucher(late[0])}-{voucher(late[-1])}"))
    return found


def _notice(ctx: _Context, year: int | None) -> list[Finding]:
    """Published runs in force whose notice period (publication date to ``notice_until``) is shorter than
    the ``notice_days`` of the policy the run was computed under."""
    found = []
    for run in sorted(ctx.runs, key=lambda r: r.id):
        if run.published_at is None or run.notice_until is None or year not in (None, run.year):
            continue
        start = _local_date(run.published_at)
        days = (run.notice_until - start).days
        policy_days = int(json.loads(run.body).get("notice_days", 7))
        if days < policy_days:
            found.append(ctx.finding("notice_too_short", run.entity_id, run.year, "notice", {
                "run": str(run.id), "year": str(run.year), "days": str(days), "start": start.isoformat(),
                "until": run.notice_until.isoformat(), "policy_days": str(policy_days)},
                [ctx.run_link(run.entity_id, run.id)], f"run:{run.id}"))
    return found


def _objections(ctx: _Context, year: int | None, today: dt.date) -> list[Finding]:
    """Open objections to runs in force whose notice period ended before ``today``."""
    rows = ctx.session.execute(
        select(Objection.id, Objection.line, Objection.created_at, PayoutRun.id, PayoutRun.entity_id, PayoutRun.year,
               PayoutRun.notice_until, StatementSnapshot.member_id)
        .join(PayoutRun, PayoutRun.id == Objection.run_id)
        .join(StatementSnapshot, StatementSnapshot.id == Objection.statement_id)
        .where(PayoutRun.entity_id.in_(list(ctx.entities)), PayoutRun.status.in_(IN_FORCE), Objection.status == "open",
               PayoutRun.notice_until < today)
        .order_by(Objection.id)).all()
    found = []
    for objection_id, line, created_at, run_id, entity_id, run_year, until, member_id in rows:
        if year not in (None, run_year):
            continue
        member = ctx.members[member_id]
        found.append(ctx.finding("objection_unanswered", entity_id, run_year, "objection", {
            "household": ctx.who(member), "filed": _as_date(created_at).isoformat(), "line": line_label(line), "run": str(run_id),
            "until": until.isoformat()},
            [Link(LINK_OBJECTION, "statements.objections", {"code": ctx.entities[entity_id].code,
                                                            "_anchor": f"objection-{objection_id}"}),
             ctx.run_line_link(entity_id, run_id, member)], f"objection:{objection_id}"))
    return found


def _monitored(ctx: _Context, year: int | None) -> list[Finding]:
    """Monitored households: (a) a member in a year of an entity whose run for that year is in force, with
    nothing from that entity that year; (b) total benefit from the township's entities lower than the
    year before (when the year before had some), compared once every entity the household is a member of
    in the later year has its run in force — otherwise the later year is not complete yet. When the later
    year brought nothing at all, (a) already lists it."""
    monitored = {h.id: h for h in ctx.households.values() if h.monitoring != "none"}
    if not monitored:
        return []
    benefits = ctx.benefits(None if year is None else [year - 1, year])
    by_entity: dict[tuple[int, int, int], Decimal] = {}
    totals: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for (entity_id, household_id, on_year), benefit in benefits.items():
        if household_id in monitored:
            by_entity[(entity_id, household_id, on_year)] = benefit.total
            totals[household_id][on_year] += benefit.total
    memberships: dict[int, list[_Member]] = defaultdict(list)
    for member in ctx.members.values():
        if member.household_id in monitored:
            memberships[member.household_id].append(member)
    run_years = sorted({r.year for r in ctx.runs})
    found = []
    for household_id, members in sorted(memberships.items(), key=lambda kv: monitored[kv[0]].code):
        household = monitored[household_id]
        for on_year in run_years:
            if year not in (None, on_year):
                continue
            current = [m for m in members if m.covers_year(on_year)]
            for member in current:
                run = ctx.run_of.get((member.entity_id, on_year))
                if run is not None and not by_entity.get((member.entity_id, household_id, on_year)):
                    found.append(ctx.finding("monitored_household_benefit", member.entity_id, on_year,
                                             "benefit_nothing", {"household": household.label, "year": str(on_year)},
                                             [ctx.member_link(member),
                                              ctx.run_line_link(member.entity_id, run.id, member)],
                                             f"member:{member.code}:nothing"))
            before, now = totals[household_id].get(on_year - 1, ZERO), totals[household_id].get(on_year, ZERO)
            complete = bool(current) and all((m.entity_id, on_year) in ctx.run_of for m in current)
            if not (complete and before > 0 and ZERO < now < before):
                continue
            # attributed to the entity whose benefit fell most (then by code)
            entity_id = min({m.entity_id for m in members}, key=lambda e, h=household_id, y=on_year: (
                by_entity.get((e, h, y), ZERO) - by_entity.get((e, h, y - 1), ZERO), ctx.entities[e].code))
            member = next(m for m in members if m.entity_id == entity_id)
            found.append(ctx.finding("monitored_household_benefit", entity_id, on_year, "benefit_fell", {
                "household": household.label, "before": _money(before), "previous": str(on_year - 1),
                "now": _money(now), "year": str(on_year)}, [ctx.member_link(member)], f"household:{household.code}:fell"))
    return found


def _warning_years(ctx: _Context, year: int | None, today: dt.date) -> list[int]:
    """The years the monitoring warnings judge — only years that are over: ``year`` when given; else (every year
    asked for) the latest year over with a run in force in the township, or the year before ``today``'s when none
    is. One year, so a page of every year makes no query per year; an earlier year's warnings are on its own page."""
    if year is not None:
        return [year] if year < today.year else []
    over = [r.year for r in ctx.runs if r.year < today.year]
    return [max(over) if over else today.year - 1]


def _pending(ctx: _Context, members: list[_Member], year: int) -> bool:
    """Whether an entity the household is a member of in ``year`` distributed the year before but has no run for
    ``year`` in force yet (its dividends are still to come: the year's income is not known)."""
    return any((m.entity_id, year - 1) in ctx.run_of and (m.entity_id, year) not in ctx.run_of
               for m in members if m.covers_year(year))


def _got(benefits: dict, entity_id: int, household_id: int, year: int) -> Decimal:
    benefit = benefits.get((entity_id, household_id, year))
    return benefit.total if benefit is not None else ZERO


def _monitoring(ctx: _Context, township_id: int, year: int | None, today: dt.date) -> list[Finding]:
    """The county list's monitored households (:mod:`payouts.oversight.monitoring`): ``nothing_received`` and
    ``income_fell`` per household and year (on the member page of the household in the township's entity it
    received most from the year before, then this year, then by code — nothing_received: among the entities it is
    a member of that year), ``no_linkage`` per supported entity and year. Households that are a member of no entity
    of the township are left to the monitoring report. About eight queries a year judged when the township has
    monitored households (one when it has none), and the four of the township's benefits when a warning needs
    them."""
    found = []
    members: dict[int, list[_Member]] = defaultdict(list)
    for member in ctx.members.values():
        if member.household_id is not None:
            members[member.household_id].append(member)
    for on_year in _warning_years(ctx, year, today):
        incomes = monitored_incomes(ctx.session, township_id=township_id, year=on_year)
        if not incomes:
            continue                    # no household monitored during the year: no_linkage has none either
        warned = [(row, w) for row in incomes for w in row.warnings
                  if members.get(row.household_id) and not _pending(ctx, members[row.household_id], on_year)]
        if warned:
            benefits = ctx.benefits(None if year is None else [year - 1, year])
            for row, warning in warned:
                candidates = members[row.household_id]
                if warning.rule == "nothing_received":
                    candidates = [m for m in candidates if m.covers_year(on_year)] or candidates
                member = min(candidates, key=lambda m, h=row.household_id, y=on_year, b=benefits: (
                    -_got(b, m.entity_id, h, y - 1), -_got(b, m.entity_id, h, y), ctx.entities[m.entity_id].code,
                    m.code))
                record = "nothing" if warning.rule == "nothing_received" else "fell"
                found.append(ctx.finding(warning.rule, member.entity_id, on_year, "monitored_warning", {
                    "household": f"{row.household} {row.head_name}", "warning": warning.message},
                    [ctx.member_link(member)], f"household:{row.household}:{record}"))
        for gap in no_linkage_entities(ctx.session, township_id=township_id, year=on_year):
            if gap.entity.id not in ctx.entities:
                continue
            message = gap.message
            found.append(Finding(
                rule="no_linkage", entity_id=gap.entity.id, entity_code=gap.entity.code, entity_name=gap.entity.name,
                year=on_year, message=message.template, params={k: str(v) for k, v in message.params.items()},
                links=(Link(LINK_LINKAGE, "oversight.linkage_entity", {"code": gap.entity.code, "year": on_year}),),
                record="entity"))
    return found


def _owed(ctx: _Context, year: int | None, today: dt.date) -> list[Finding]:
    """Households a published run in force still owes (paid below a positive net) after its notice period ended
    before ``today``, with no line of a bank batch (not cancelled) paying them or waiting for the bank — or whose
    latest such line failed (the bank's reason given). One finding per household and run. Two queries."""
    rows = ctx.session.execute(
        select(PayoutRun.id, PayoutRun.entity_id, PayoutRun.year, PayoutRun.notice_until, PayoutMember.member_id,
               PayoutMember.net, PayoutMember.paid)
        .join(PayoutRun, PayoutRun.id == PayoutMember.run_id)
        .where(PayoutRun.entity_id.in_(list(ctx.entities)), PayoutRun.status.in_(IN_FORCE),
               PayoutRun.published_at.is_not(None), PayoutRun.notice_until < today, PayoutMember.net > 0,
               PayoutMember.paid < PayoutMember.net)
        .order_by(PayoutRun.id, PayoutMember.code)).all()
    rows = [r for r in rows if year in (None, r[2])]
    if not rows:
        return []
    latest: dict[tuple[int, int], tuple[str, str | None, int]] = {}       # (run, member) -> its latest line
    for run_id, member_id, status, reason, number in ctx.session.execute(
            select(PayoutBatch.run_id, PayoutBatchLine.member_id, PayoutBatchLine.status, PayoutBatchLine.reason,
                   PayoutBatch.number)
            .join(PayoutBatch, PayoutBatch.id == PayoutBatchLine.batch_id)
            .where(PayoutBatch.run_id.in_(sorted({r[0] for r in rows})), PayoutBatch.status != "cancelled",
                   PayoutBatchLine.seq.is_not(None))
            .order_by(PayoutBatch.number, PayoutBatchLine.seq)):
        latest[(run_id, member_id)] = (status, reason, number)
    found = []
    for run_id, entity_id, run_year, until, member_id, net, paid in rows:
        line = latest.get((run_id, member_id))
        if line is not None and line[0] != "failed":
            continue                                  # with the bank now, or paid by a batch
        member = ctx.members[member_id]
        params = {"household": ctx.who(member), "amount": _money(net - paid), "run": str(run_id),
                  "year": str(run_year), "days": str((today - until).days), "until": until.isoformat()}
        if line is None:
            message = "owed_no_batch"
        else:
            message = "owed_failed"
            params.update(batch=f"第{line[2]}批", reason=line[1] or "")
        found.append(ctx.finding("owed_after_notice", entity_id, run_year, message, params,
                                 [Link(LINK_BATCHES, "batches.run_page", {"code": ctx.entities[entity_id].code,
                                                                          "run_id": run_id}),
                                  ctx.run_line_link(entity_id, run_id, member)],
                                 f"run:{run_id}:member:{member.code}:owed"))
    return found


def _disclosures(ctx: _Context, year: int | None, today: dt.date) -> list[Finding]:
    """Quarters with entries, due (``payouts.reports.disclosure.queries.GRACE_DAYS`` after their end) before
    ``today``, with no financial disclosure (财务公开) published on or before ``today`` that covers them. Two queries."""
    books = {entity_id: e.book_id for entity_id, e in ctx.entities.items()}
    active = disclosure_queries.activity(ctx.session, books, year=year)
    published = disclosure_queries.published_keys(ctx.session, list(books), today=today)
    found = []
    for missing in disclosure_queries.missing_quarters(active, published, today=today, year=year):
        quarter = missing.quarter
        found.append(ctx.finding("missing_disclosure", missing.entity_id, quarter.year, "disclosure", {
            "quarter": quarter.key, "entries": str(missing.entries), "due": missing.due.isoformat()},
            [Link(LINK_DISCLOSURE, "disclosure.index", {"code": ctx.entities[missing.entity_id].code,
                                                        "year": quarter.year})], f"quarter:{quarter.key}"))
    return found


# ---------------------------------------------------------------------------------------------- API


def find_anomalies(session: Session, *, township_id: int, year: int | None = None, entity_id: int | None = None,
                   cash_threshold: Decimal | None = None, today: dt.date | None = None) -> list[Finding]:
    """Every rule of :data:`RULES` over the township's entities (optionally one entity and/or one year),
    sorted by entity code, year (standing records without a year first) and rule. ``cash_threshold``
    defaults to 5,000.00 元 (the app passes ``Settings.cash_payment_threshold``); ``today`` (default: the
    date today in China) decides which notice periods are over and which quarters' disclosures are due."""
    ctx = _Context(session, township_id)
    if not ctx.entities or (entity_id is not None and entity_id not in ctx.entities):
        return []
    threshold = DEFAULT_CASH_THRESHOLD if cash_threshold is None else Decimal(cash_threshold)
    today = today or china_today()
    findings = [
        *_patronage(ctx, year), *_non_member_payouts(ctx, year), *_non_member_trade(ctx, year),
        *_labor_days(ctx, year), *_land_shares(ctx, year), *_shared_accounts(ctx, township_id),
        *_cash(ctx, year, threshold), *_after_close(ctx, year), *_notice(ctx, year),
        *_objections(ctx, year, today), *_monitored(ctx, year), *_disclosures(ctx, year, today),
        *_owed(ctx, year, today), *_monitoring(ctx, township_id, year, today),
    ]
    if entity_id is not None:
        findings = [f for f in findings if f.entity_id == entity_id]
    return sorted(findings, key=lambda f: (f.entity_code, f.year is not None, f.year or 0, RULE_ORDER[f.rule]))


FINDING_COLUMNS = (
    Column("entity", N_("Code")),
    Column("entity_name", N_("Entity")),
    Column("year", N_("Year"), "int"),
    Column("rule", N_("Rule")),
    Column("detail", N_("Detail")),
    Column("action", N_("What to do")),
    Column("handled", N_("Handled")),
)


def findings_table(findings: list[Finding], notes: dict | None = None) -> Table:
    """The findings as a table for pages and exports: entity, year, rule title, detail, what to do, and how it was
    handled (the latest note of ``notes``, ``(entity id, key) -> notes newest first``, as
    :func:`payouts.oversight.handling.handlings` gives them: date, who, what was done).

    ``rule`` holds the rule's title (a message id), ``action`` what to do (a message id) and ``detail`` the message
    filled in untranslated; to show them translated, each row also keeps ``rule_code``, ``message`` (the message
    id) and ``params``: ``gettext(row["rule"])`` and ``gettext(row["message"]) % row["params"]``."""
    table = Table(columns=FINDING_COLUMNS)
    notes = notes or {}
    for f in findings:
        latest = (notes.get((f.entity_id, f.key)) or [None])[0]
        handled = f"{latest.at} {latest.who}: {latest.note}" if latest else ""
        table.rows.append({"entity": f.entity_code, "entity_name": f.entity_name, "year": f.year,
                           "rule": RULES[f.rule].title, "detail": f.detail, "action": f.action, "handled": handled,
                           "rule_code": f.rule, "message": f.message, "params": dict(f.params), "key": f.key})
    return table

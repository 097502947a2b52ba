"""Distribution runs: draft from the books, approve at the members' meeting, post, publish, reverse.
Each function takes a Session, flushes, never commits.

Posting is idempotent and atomic: it takes the entity's book lock first, re-reads the run, and does
nothing if the run is no longer ``approved``; all of its entries (year-end closing, reserves, pools,
deductions, and for a cluster project each member entity's investment income) go in one transaction
with sources ``run:<id>:…`` that are unique per book. A partial unique index allows one run in force
per entity and year. Killed half-way, the transaction never commits and a retry posts it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.access import Principal, keeps_books, operation, run_entity
from cooperatives.models import Entity, Member
from cooperatives.operations import (
    RecordError,
    accrue_year_end,
    audit,
    book_project_share,
    in_these_books,
    reversal,
    reverse_project_share,
)
from cooperatives.queries import year_contributions
from ledger.chart import account_for_role
from ledger.clock import china_today
from ledger.entries import EntryDraft, PostingDraft
from ledger.errors import Problem
from ledger.i18n import N_, label, msg
from ledger.models import JournalEntry
from ledger.money import ZERO
from ledger.operations import begin_closing, close_period, lock_book, period_status, post_entries
from ledger.queries import party_balances, retained_before, year_profit
from payouts.models import IN_FORCE, PayoutMember, PayoutRun, PolicyVersion, RunReplacement
from payouts.runs.labels import BOOKS_POOL_WORDS, RULE_LABELS, STATUS_LABELS
from payouts.runs.policy import Policy, parse_policy
from payouts.runs.rules import MemberInput, RunInput, Trade, compute_run
from payouts.runs.snapshot import check_detail, input_to_json, result_from_json, result_to_json
from payouts.runs.transitions import next_state
from payouts.statements.context import build_statements


class RunRefused(ValueError):
    """A run operation refused for reasons the user can act on (a failed check, the quorum…): ``problems``,
    each with the field it is about (``checks``, ``meeting``) and a translatable reason."""

    def __init__(self, *problems: Problem):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in problems))


def role(entity: Entity, name: str) -> str:
    return account_for_role(entity.chart, name)


# -------------------------------------------------------------------------------------------- policies


@operation(keeps_books())
def save_policy(session: Session, entity: Entity, policy: Policy, *, actor: Principal) -> PolicyVersion:
    """Store ``policy`` as the entity's newest version (unless it equals the current one)."""
    body = json.dumps(policy.to_dict(), ensure_ascii=False, sort_keys=True)
    latest = current_policy_version(session, entity)
    if latest is not None and latest.body == body:
        return latest
    version = PolicyVersion(entity_id=entity.id, version=(latest.version + 1) if latest else 1, body=body,
                            actor_id=actor.user_id)
    session.add(version)
    session.flush()
    audit(session, actor_id=actor.user_id, action="policy", target=f"policy:{version.id}", entity_id=entity.id)
    return version


def current_policy_version(session: Session, entity: Entity) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(PolicyVersion.entity_id == entity.id)
                          .order_by(PolicyVersion.version.desc()).limit(1))


def policy_of(version: PolicyVersion) -> Policy:
    return parse_policy(version.data)


# ---------------------------------------------------------------------------------------- year closing


def surplus_of(session: Session, entity: Entity, year: int) -> Decimal:
    """本年盈余: the year's result from the books as they stand (closing entries left out)."""
    return -sum(year_profit(session, entity.book, year).values(), ZERO)


def _in_these_books(entity: Entity, year: int) -> None:
    """A year the entity keeps in earlier books (a collective carried over) is refused, as records there are
    (:func:`cooperatives.operations.in_these_books`)."""
    try:
        in_these_books(entity, dt.date(year, 12, 31))
    except RecordError as exc:
        raise RunRefused(*exc.problems) from None


@operation(keeps_books())
def close_year(session: Session, entity: Entity, year: int, *, actor: Principal) -> dict:
    """Close ``year``'s profit and loss into 331 本年盈余 and on to 332 未分配盈余 (MOF §2.3 steps 1–2).

    Books the year-end accruals first (``YEAR_END_ACCRUALS``: base rent, depreciation). From then on the year takes only year-end entries. Idempotent:
    a year already being closed is left as it is. Returns the surplus statement (盈余及盈余分配表 top).
    """
    _in_these_books(entity, year)
    book = entity.book
    if period_status(session, book, year) == "open":
        accrue_year_end(session, entity, year, actor=actor)
        profit = year_profit(session, book, year)
        net = -sum(profit.values(), ZERO)
        drafts = []
        if profit:
            postings = [PostingDraft(code, -amount) for code, amount in sorted(profit.items())]
            if net:       # the P&L balances reversed net to a credit (surplus) or debit (loss) on 331
                postings.append(PostingDraft(role(entity, "current_surplus"), -net))
            drafts.append(EntryDraft(date=dt.date(year, 12, 31), memo=f"结转本年损益 {year}",
                                     source=f"close:{year}:pl", kind="closing", postings=tuple(postings)))
        if net:
            drafts.append(EntryDraft(date=dt.date(year, 12, 31), memo=f"结转本年盈余 {year}",
                                     source=f"close:{year}:surplus", kind="closing", postings=(
                                         PostingDraft(role(entity, "current_surplus"), net),
                                         PostingDraft(role(entity, "undistributed"), -net))))
        post_entries(session, book, drafts, actor_id=actor.user_id)
        begin_closing(session, book, year, actor_id=actor.user_id)
        audit(session, actor_id=actor.user_id, action="close-year", target=f"{entity.code}:{year}", entity_id=entity.id)
    return closing_summary(session, entity, year)


@operation(keeps_books())
def finalize_year(session: Session, entity: Entity, year: int, *, actor: Principal) -> dict:
    """结账: lock ``year`` for good (``closed``): nothing more is posted in it by any path — no record, voucher,
    void, accrual or run entry — and the next year opens from its closing balances. Closes its profit and
    loss first if that was not done. Refused (RunRefused) while a run of the year is approved but not posted,
    or posted but not yet published: the members must have seen it. Idempotent."""
    _in_these_books(entity, year)
    status = period_status(session, entity.book, year)
    if status != "closed":
        waiting = session.scalar(select(PayoutRun).where(
            PayoutRun.entity_id == entity.id, PayoutRun.year == year, PayoutRun.status.in_(("approved", "posted")))
            .order_by(PayoutRun.id).limit(1))
        if waiting is not None:
            raise RunRefused(Problem.of(msg(
                N_("Run %(run)s for %(year)s is %(status)s but not published: publish it (or discard or reverse it) "
                   "before the year is closed for good."), run=waiting.id, year=year,
                status=label(STATUS_LABELS[waiting.status]), code="run_not_published"), "year"))
        if status == "open":
            close_year(session, entity, year, actor=actor)
        close_period(session, entity.book, year, actor_id=actor.user_id)
        audit(session, actor_id=actor.user_id, action="final-year", target=f"{entity.code}:{year}",
              entity_id=entity.id)
    return closing_summary(session, entity, year)


def closing_summary(session: Session, entity: Entity, year: int) -> dict:
    """What close-year prints: the year's income and costs per account, surplus, result brought forward."""
    profit = year_profit(session, entity.book, year)
    income = {c: -a for c, a in profit.items() if a < 0}
    costs = {c: a for c, a in profit.items() if a > 0}
    opening = retained_before(session, entity.book, year, _retained_codes(entity))
    return {"entity": entity.code, "year": year, "status": period_status(session, entity.book, year),
            "income": income, "costs": costs, "surplus": surplus_of(session, entity, year),
            "opening_undistributed": opening}


def _retained_codes(entity: Entity) -> tuple[str, ...]:
    return (role(entity, "current_surplus"), role(entity, "allocations"), role(entity, "undistributed"))


# ---------------------------------------------------------------------------------------------- drafts


def gather_input(session: Session, entity: Entity, year: int, policy: Policy) -> RunInput:
    """The frozen snapshot a run computes from: the year's books and records, as they stand."""
    found = year_contributions(session, entity, year, prorate_land=policy.prorate_partial_year)
    reserve_code = role(entity, "reserve")
    reserve_shares = party_balances(session, entity.book, reserve_code, before_year=year)
    current = party_balances(session, entity.book, role(entity, "member_current"), up_to_year=year)
    members = tuple(MemberInput(
        code=m["code"], member_no=m["member_no"], name=m["name"], farmer=m["farmer"], days=m["days"],
        trade=tuple(Trade(*t) for t in m["trade"]), capital=tuple(m["capital"]),
        reserve_share=-reserve_shares.get(m["code"], ZERO), land_shares=m["land_shares"],
        labor_days=m["labor_days"], debt=max(current.get(m["code"], ZERO), ZERO) if policy.deduct else ZERO,
        land_consent=m["land_consent"], fund_share=m["fund_share"], shares=m["shares"]) for m in found["members"])
    return RunInput(entity=entity.code, kind=entity.kind, year=year, surplus=surplus_of(session, entity, year),
                    opening_undistributed=retained_before(session, entity.book, year, _retained_codes(entity)),
                    # quantified equally to members only in cooperatives (law Art. 44): a collective's subsidies are
                    # its income (补助收入), and a cluster project's members hold unequal investment shares
                    subsidy_fund=ZERO if entity.kind in ("collective", "cluster_project") else found["subsidy_fund"],
                    members=members, sources=tuple(found["sources"]),
                    year_days=found["year_days"])


def _replaced(session: Session, entity: Entity, year: int, replaces: int | None) -> int | None:
    """The run a new draft of ``year`` replaces: the run in force for the year must be named (``replaces``);
    a run named must be one of the entity's for that year. Raises RunRefused."""
    in_force = session.scalar(select(PayoutRun.id).where(
        PayoutRun.entity_id == entity.id, PayoutRun.year == year, PayoutRun.status.in_(IN_FORCE)))
    if in_force is not None and replaces != in_force:
        raise RunRefused(Problem.of(msg(
            N_("Run %(run)s for %(year)s is in force: a new run for the year must say that it replaces run %(run)s."),
            run=in_force, year=year, code="replaces_required"), "replaces"))
    if replaces is not None and replaces != in_force and session.scalar(select(PayoutRun.id).where(
            PayoutRun.id == replaces, PayoutRun.entity_id == entity.id, PayoutRun.year == year,
            PayoutRun.reverses_id.is_(None))) is None:
        raise RunRefused(Problem.of(msg(N_("Run %(run)s is not a run of %(entity)s for %(year)s."), run=replaces,
                                        entity=entity.code, year=year, code="not_a_run_of_the_year"), "replaces"))
    return replaces


@operation(keeps_books())
def create_run(session: Session, entity: Entity, year: int, *, policy_version: PolicyVersion,
               replaces: int | None = None, actor: Principal) -> PayoutRun:
    """Compute a draft run from the books as they stand (no need to close the year first). While a run of the
    year is in force, the new draft must name it (``replaces``; it is still to be reversed before the new one
    is posted). Raises RunRefused."""
    _in_these_books(entity, year)
    replaces = _replaced(session, entity, year, replaces)
    policy = policy_of(policy_version)
    accrue_year_end(session, entity, year, actor=actor)      # the year's result includes its base rent, depreciation
    data = gather_input(session, entity, year, policy)
    result = compute_run(data, policy)
    result_json = json.dumps(result_to_json(result, entity=entity.code, year=year), ensure_ascii=False)
    run = PayoutRun(entity_id=entity.id, year=year, policy_id=policy_version.id, status="draft",
                    input_json=json.dumps({**input_to_json(data), "policy": policy.to_dict()}, ensure_ascii=False,
                                          sort_keys=True),
                    result_json=result_json, digest=hashlib.sha256(result_json.encode()).hexdigest(),
                    distributable=result.distributable, created_by=actor.user_id)
    session.add(run)
    session.flush()
    codes = {m.code: m.id for m in session.scalars(select(Member).where(Member.entity_id == entity.id))}
    session.add_all(PayoutMember(run_id=run.id, member_id=codes[m.code], code=m.code, total=m.total,
                                 deductions=m.deductions, net=m.net) for m in result.members)
    if replaces is not None:
        session.add(RunReplacement(run_id=run.id, replaces_id=replaces))
    audit(session, actor_id=actor.user_id, action="draft-run", target=f"run:{run.id}", entity_id=entity.id,
          detail=f"replaces run:{replaces}" if replaces is not None else None)
    session.flush()
    return run


def rerun(run: PayoutRun) -> dict:
    """Recompute the run from its stored snapshot and policy (the auditor's check); returns the JSON."""
    from payouts.runs.snapshot import input_from_json

    stored = run.input
    result = compute_run(input_from_json(stored), parse_policy(stored["policy"]))
    return result_to_json(result, entity=stored["entity"], year=stored["year"])


# ------------------------------------------------------------------------------------------- approve


def quorum_problems(kind: str, members: int, attended: int, votes_for: int) -> list[Problem]:
    """Members' meeting rules: FPC law Art. 30 (≥ 2/3 attend, > 1/2 of all votes); collective law
    Art. 27 (≥ 2/3 attend, ≥ 2/3 of all members in favour)."""
    problems = []
    two_thirds = -(-members * 2 // 3)

    def short(template: str, code: str, **params) -> None:
        problems.append(Problem.of(msg(template, code=code, members=members, **params), "meeting"))

    if attended > members or votes_for > attended:
        short(N_("Attendance %(attended)s and votes %(votes)s do not fit %(members)s members."), "meeting_impossible",
              attended=attended, votes=votes_for)
    if attended * 3 < members * 2:
        short(N_("Quorum: %(attended)s of %(members)s members attended; at least two thirds (%(needed)s) must."),
              "quorum", attended=attended, needed=two_thirds)
    if kind == "collective":
        if votes_for * 3 < members * 2:
            short(N_("%(votes)s of %(members)s members voted for; a collective needs two thirds of all members "
                     "(%(needed)s)."), "collective_votes", votes=votes_for, needed=two_thirds)
    elif votes_for * 2 <= members:
        short(N_("%(votes)s of %(members)s votes for; more than half of all votes (%(needed)s) are needed."),
              "majority", votes=votes_for, needed=members // 2 + 1)
    return problems


@operation(keeps_books(run_entity))
def approve_run(session: Session, run: PayoutRun, *, meeting_date: dt.date, attended: int, votes_for: int,
                minutes: str | None = None, actor: Principal) -> PayoutRun:
    """Record the members' meeting that approved ``run``. Refused when a check fails or the quorum is short."""
    next_state(run.status, "approve")
    failed = [c for c in run.result["checks"] if not c["ok"]]
    if failed:
        raise RunRefused(*(Problem.of(msg(N_("%(rule)s: %(detail)s"), rule=label(RULE_LABELS.get(c["rule"], c["rule"])),
                                          detail=check_detail(c), code=c["rule"]), "checks") for c in failed))
    members = len(run.result["members"])
    problems = quorum_problems(run.entity.kind, members, attended, votes_for)
    if problems:
        raise RunRefused(*problems)
    run.status = next_state(run.status, "approve")
    run.meeting_date, run.attended, run.votes_for, run.members_count, run.minutes = (
        meeting_date, attended, votes_for, members, minutes)
    run.approved_at, run.approved_by = dt.datetime.now(dt.UTC), actor.user_id
    audit(session, actor_id=actor.user_id, action="approve-run", target=f"run:{run.id}", entity_id=run.entity_id)
    session.flush()
    return run


# ---------------------------------------------------------------------------------------------- post


@operation(keeps_books(run_entity))
def post_run(session: Session, run: PayoutRun, *, actor: Principal) -> bool:
    """Post an approved run to the ledger, once. Returns False (and does nothing) if it was already posted."""
    entity = run.entity
    _in_these_books(entity, run.year)
    lock_book(session, entity.book)
    session.refresh(run)
    if run.status in IN_FORCE:
        return False
    next_state(run.status, "post")
    in_force = session.scalar(select(PayoutRun.id).where(
        PayoutRun.entity_id == entity.id, PayoutRun.year == run.year, PayoutRun.status.in_(IN_FORCE)))
    if in_force is not None:
        raise RunRefused(Problem.of(msg(N_("Run %(run)s for %(year)s is already in force; reverse it first."),
                                        run=in_force, year=run.year, code="run_in_force")))
    close_year(session, entity, run.year, actor=actor)
    result = result_from_json(run.result)
    drafts = run_entries(entity, run, result)
    post_entries(session, entity.book, drafts, actor_id=actor.user_id)
    _pause_for_crash_tests()
    if entity.kind == "cluster_project":
        _cascade(session, entity, run, result, actor)
    build_statements(session, run)
    run.status = next_state(run.status, "post")
    run.posted_at, run.posted_by = dt.datetime.now(dt.UTC), actor.user_id
    audit(session, actor_id=actor.user_id, action="post-run", target=f"run:{run.id}", entity_id=entity.id)
    session.flush()
    return True


def _pause_for_crash_tests() -> None:
    """The crash test kills the process here, after the entries are written and before the commit."""
    pause = os.environ.get("COOPLEDGER_TEST_PAUSE_IN_POST")
    if pause:
        print("POSTING-PAUSED", flush=True)
        time.sleep(int(pause))            # whole seconds: the crash test kills the process long before


def run_entries(entity: Entity, run: PayoutRun, result) -> list[EntryDraft]:
    """The run's journal entries (MOF §2.3 steps 4–8), all dated the last day of the year."""
    on = dt.date(run.year, 12, 31)
    alloc, undistributed = role(entity, "allocations"), role(entity, "undistributed")
    drafts: list[EntryDraft] = []

    def entry(key: str, memo: str, legs: list[PostingDraft]):
        legs = [leg for leg in legs if leg.amount]
        if legs:
            drafts.append(EntryDraft(date=on, memo=memo, source=f"run:{run.id}:{key}", kind="distribution",
                                     postings=tuple(legs)))

    reserve_total = sum((a for _, a in result.reserves), ZERO)
    reserve_legs = [PostingDraft(role(entity, "reserve"), -m.reserve_share, m.code) for m in result.members]
    funds = sum((a for n, a in result.reserves if n != "reserve"), ZERO)
    unquantified = reserve_total - funds - sum((m.reserve_share for m in result.members), ZERO)
    entry("reserve", f"提取公积金 {run.year}", [PostingDraft(alloc, reserve_total), *reserve_legs,
                                                 PostingDraft(role(entity, "reserve"), -(funds + unquantified))])
    patronage_pools = set(result.patronage_pools)
    for name, _basis, amount, _ in result.pools:
        payable = role(entity, "patronage_payable" if name in patronage_pools else "residual_payable")
        memo = f"{'盈余返还' if name in patronage_pools else '剩余盈余分配'} {books_word(name)} {run.year}"
        entry(f"pool:{name}", memo, [PostingDraft(alloc, amount)] + [
            PostingDraft(payable, -ln.amount, m.code) for m in result.members for ln in m.lines if ln.pool == name])
    preferred = sum((a for _, a in result.preferred), ZERO)
    entry("preferred", f"优先股固定收益 {run.year}", [PostingDraft(alloc, preferred)] + [
        PostingDraft(role(entity, "residual_payable"), -sum((a for _, a in m.preferred), ZERO), m.code)
        for m in result.members])
    allocated = reserve_total + preferred + sum((a for _, _, a, _ in result.pools), ZERO)
    entry("close-allocations", f"结转各项分配 {run.year}",
          [PostingDraft(undistributed, allocated), PostingDraft(alloc, -allocated)])
    drafts.extend(_deduction_entries(entity, run, result, on, patronage_pools))
    return drafts


def books_word(pool: str) -> str:
    """A pool as the books' memos name it: a usual code in Chinese, a name the policy wrote in words as written."""
    return BOOKS_POOL_WORDS.get(pool, pool)


def _deduction_entries(entity, run, result, on, patronage_pools) -> list[EntryDraft]:
    current = role(entity, "member_current")
    legs = []
    for m in result.members:
        if not m.deductions:
            continue
        patronage = sum((ln.amount for ln in m.lines if ln.pool in patronage_pools), ZERO)
        from_patronage = min(m.deductions, patronage)
        for name, amount in (("patronage_payable", from_patronage), ("residual_payable", m.deductions - from_patronage)):
            if amount and role(entity, name) != current:
                legs.append(PostingDraft(role(entity, name), amount, m.code))
                legs.append(PostingDraft(current, -amount, m.code))
    if not legs:
        return []
    return [EntryDraft(date=on, memo=f"扣还成员欠款 {run.year}", source=f"run:{run.id}:deductions", kind="distribution",
                       postings=tuple(legs))]


def _cascade(session: Session, project: Entity, run: PayoutRun, result, actor: Principal) -> None:
    """Book each member entity's share as investment income in that entity's own ledger — only along the
    links the township or the admin made (:func:`cooperatives.operations.book_project_share` refuses any
    other book)."""
    for member_entity, net in _member_entities(session, project, result):
        try:
            book_project_share(session, project, member_entity, amount=net, year=run.year, source=f"run:{run.id}",
                               actor=actor)
        except RecordError as exc:
            raise RunRefused(*exc.problems) from None


def _member_entities(session: Session, project: Entity, result) -> list[tuple[Entity, Decimal]]:
    """The project's members that are entities (its own membership rows, never a code looked up across
    townships), with what the run gives each."""
    nets = {m.code: m.net for m in result.members if m.net}
    rows = session.execute(select(Member.code, Entity).join(Entity, Entity.id == Member.member_entity_id)
                           .where(Member.entity_id == project.id).order_by(Member.member_no)).all()
    return [(entity, nets[code]) for code, entity in rows if code in nets]


# ------------------------------------------------------------------------------------ publish, reverse


@operation(keeps_books(run_entity))
def publish_run(session: Session, run: PayoutRun, *, notice_days: int | None = None, today: dt.date | None = None,
                actor: Principal) -> PayoutRun:
    """Open the notice period (公示期): statements become visible to households."""
    run.status = next_state(run.status, "publish")
    days = notice_days or parse_policy(run.input["policy"]).notice_days
    run.published_at = dt.datetime.now(dt.UTC)
    run.notice_until = (today or china_today()) + dt.timedelta(days=days)
    audit(session, actor_id=actor.user_id, action="publish-run", target=f"run:{run.id}", entity_id=run.entity_id)
    session.flush()
    return run


@operation(keeps_books(run_entity))
def reverse_run(session: Session, run: PayoutRun, *, actor: Principal) -> PayoutRun:
    """Post a reversing run: every entry of ``run`` mirrored (in the project's and member entities' books)."""
    entity = run.entity
    _in_these_books(entity, run.year)
    lock_book(session, entity.book)
    session.refresh(run)
    next_state(run.status, "reverse")
    reversing = PayoutRun(entity_id=run.entity_id, year=run.year, policy_id=run.policy_id, status="reversed",
                          input_json=run.input_json, result_json=run.result_json, digest=run.digest,
                          distributable=-run.distributable, created_by=actor.user_id, reverses_id=run.id,
                          posted_at=dt.datetime.now(dt.UTC), posted_by=actor.user_id)
    session.add(reversing)
    session.flush()
    originals = session.scalars(select(JournalEntry).where(
        JournalEntry.book_id == entity.book_id, JournalEntry.source.like(f"run:{run.id}:%"))
        .order_by(JournalEntry.id)).all()
    post_entries(session, entity.book, [reversal(original, f"run:{reversing.id}") for original in originals],
                 actor_id=actor.user_id)
    if entity.kind == "cluster_project":
        for member_entity, _net in _member_entities(session, entity, result_from_json(run.result)):
            reverse_project_share(session, entity, member_entity, source=f"run:{run.id}",
                                  reversing=f"run:{reversing.id}", actor=actor)
    run.status = next_state(run.status, "reverse")
    audit(session, actor_id=actor.user_id, action="reverse-run", target=f"run:{run.id}", entity_id=entity.id)
    session.flush()
    return reversing

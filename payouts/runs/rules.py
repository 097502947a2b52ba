"""The year-end distribution as a pure function: a frozen snapshot of the year in, every figure out.

Order (Farmer Professional Cooperatives Law Arts. 42–44; Collective Economic Organizations Law Art. 42;
MOF 盈余及盈余分配表):

    surplus S  →  make good prior losses L  →  reserve R and funds F, as % of (S − L)
    distributable DS = S − L − R − F (+ undistributed surplus brought forward)
    → fixed preferred returns (e.g. 5 % on poverty-asset shares) → pools by pct → members by basis

Every split is a largest-remainder allocation to the fen (``ledger.money.allocate``) with ties broken
by member number, so parts sum exactly to their whole at every level and the result does not depend
on the order members are given in. No database, no Flask: the same function runs in the CLI, the
web preview, the auditor's re-run and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from ledger.i18n import N_, Message, msg
from ledger.money import ZERO, allocate, quantize
from payouts.runs.labels import BASIS_LABELS, POOL_NAME_LABELS
from payouts.runs.policy import COOPERATIVE_LAW_KINDS, PATRONAGE_FLOOR_PCT, Policy

HUNDRED = Decimal(100)
CAPITAL_BASES = ("capital",)


@dataclass(frozen=True)
class Trade:
    kind: str          # deliveries | sales | inputs
    product: str
    quantity: Decimal  # kg (斤 converted); 0 when not recorded
    amount: Decimal


@dataclass(frozen=True)
class MemberInput:
    code: str
    member_no: int
    name: str
    farmer: bool = True
    days: int = 365            # days of membership in the year
    trade: tuple[Trade, ...] = ()
    capital: tuple[tuple[str, Decimal], ...] = ()   # (form, amount) contributed up to year end
    reserve_share: Decimal = ZERO     # reserve quantified to the member in earlier years
    land_shares: Decimal = ZERO
    labor_days: Decimal = ZERO
    debt: Decimal = ZERO              # what the member owes on 成员往来 at year end (≥ 0)
    land_consent: bool = False        # consent on record to deduct from land income
    fund_share: Decimal = ZERO        # special fund (311) quantified to the member before the books start
    shares: Decimal = ZERO            # a collective's quantified shares held at the year's end (份额登记簿)

    @property
    def capital_total(self) -> Decimal:
        return sum((a for _, a in self.capital), ZERO)


@dataclass(frozen=True)
class RunInput:
    entity: str
    kind: str                      # entity kind: farmer_coop | land_coop | collective | cluster_project
    year: int
    surplus: Decimal               # 本年盈余 S
    opening_undistributed: Decimal  # 年初未分配盈余 (negative: a loss brought forward)
    subsidy_fund: Decimal          # subsidy and donation fund quantified to members, up to year end
    members: tuple[MemberInput, ...]
    #: parts of S that came from elsewhere, e.g. (("TL-GRAPE run 3", 12345.00),): traced to households
    sources: tuple[tuple[str, Decimal], ...] = ()
    year_days: int = 365


@dataclass(frozen=True)
class Line:
    pool: str
    basis_kind: str
    basis: Decimal         # the member's basis (effective, after pro-rating)
    basis_total: Decimal
    pool_amount: Decimal
    amount: Decimal


@dataclass(frozen=True)
class MemberResult:
    code: str
    member_no: int
    name: str
    lines: tuple[Line, ...]
    preferred: tuple[tuple[str, Decimal], ...]
    total: Decimal
    deductions: Decimal
    net: Decimal
    reserve_share: Decimal        # this year's reserve quantified to the member
    subsidy_share: Decimal
    sources: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class Check:
    rule: str
    ok: bool
    detail: Message | str       # a Message (translatable, with its figures); a run stored before checks were one: text


@dataclass(frozen=True)
class RunResult:
    surplus: Decimal
    prior_loss: Decimal
    brought_forward: Decimal
    reserves: tuple[tuple[str, Decimal], ...]      # ("reserve", R), then funds
    distributable: Decimal
    preferred: tuple[tuple[str, Decimal], ...]
    pools: tuple[tuple[str, str, Decimal, Decimal], ...]   # (name, basis, amount, basis_total)
    members: tuple[MemberResult, ...]
    checks: tuple[Check, ...] = field(default_factory=tuple)
    #: the pools that return surplus by members' trade (盈余返还, posted to 221); the others are residual (222)
    patronage_pools: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)




def patronage_meets_law(patronage: Decimal, distributable: Decimal) -> bool:
    """The one test of law Art. 44's 60 %, exact to the fen (the run's check, the 02表's note and the township's
    rule all use it): what is returned by member trade is at least 60 % of the distributable surplus."""
    return distributable <= 0 or patronage * HUNDRED >= PATRONAGE_FLOOR_PCT * distributable


def distributable_surplus(surplus: Decimal, opening_undistributed: Decimal, reserves: Decimal) -> Decimal:
    """可分配盈余 (system Art. 54; 02表 line 16): 本年盈余 + 年初未分配盈余 − the reserves and funds drawn,
    nothing when that is not positive — a loss this year counts even when last year left surplus."""
    return max(surplus + opening_undistributed - reserves, ZERO)


def _pool_amounts(room: Decimal, pools, patronage: set[int]) -> dict[int, Decimal]:
    """``room`` shared among ``pools`` by their percentages, to the fen: the patronage pools (``patronage``:
    their indexes) together rounded *up*, so that 60 % means at least 60 % exactly, the rest by largest
    remainder."""
    if not room or not pools:
        return {i: ZERO for i in range(len(pools))}
    total_pct = sum((p.pct for p in pools), ZERO)
    back = sum((pools[i].pct for i in patronage), ZERO)
    if not patronage or back == total_pct:
        return allocate(room, {i: p.pct for i, p in enumerate(pools)})
    returned = min((room * back / total_pct).quantize(Decimal("0.01"), rounding=ROUND_CEILING), room)
    out = allocate(returned, {i: pools[i].pct for i in patronage}) if returned else {i: ZERO for i in patronage}
    rest = {i: p.pct for i, p in enumerate(pools) if i not in patronage}
    out.update(allocate(room - returned, rest) if room - returned else dict.fromkeys(rest, ZERO))
    return out


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    return quantize(part / whole * HUNDRED) if whole else ZERO


def _split(total: Decimal, weights: dict[str, Decimal], order: dict[str, int]) -> dict[str, Decimal]:
    """allocate(), but an all-zero basis gives all zeros instead of an error (the check reports it)."""
    if total == 0 or not any(weights.values()):
        return {k: ZERO for k in weights}
    return allocate(total, weights, order=lambda k: order[k])


def trade_basis(member: MemberInput, measure: str, products: tuple, include: tuple) -> Decimal:
    weights = dict(products)
    total = ZERO
    for t in member.trade:
        if t.kind not in include or (weights and t.product not in weights):
            continue
        value = t.amount if measure == "amount" else t.quantity
        total += value * weights.get(t.product, Decimal(1))
    return total


def compute_run(data: RunInput, policy: Policy) -> RunResult:
    """Pools and per-member lines for ``data`` under ``policy``. Pure and deterministic."""
    members = sorted(data.members, key=lambda m: m.member_no)
    order = {m.code: m.member_no for m in members}
    opening = data.opening_undistributed
    prior_loss = max(-opening, ZERO)
    brought_forward = max(opening, ZERO)
    base = data.surplus - prior_loss
    if base > 0:
        reserve = quantize(base * policy.reserve_pct / HUNDRED)
        funds = [(f.name, quantize(base * f.pct / HUNDRED)) for f in policy.funds]
    else:
        reserve, funds = ZERO, [(f.name, ZERO) for f in policy.funds]
    distributable = distributable_surplus(data.surplus, opening, reserve + sum((a for _, a in funds), ZERO))

    def prorated(m: MemberInput, value: Decimal) -> Decimal:
        return value * m.days / data.year_days if policy.prorate_partial_year else value

    # this year's reserve, quantified to members (Art. 42), then the capital-type basis (Art. 44)
    if policy.reserve_quantify == "transactions" and policy.land_as_trade:   # a land-share coop's trade is its land
        rq_weights = {m.code: m.land_shares for m in members}
    elif policy.reserve_quantify == "transactions":
        rq_weights = {m.code: trade_basis(m, "amount", (), ("deliveries", "sales")) for m in members}
    elif policy.reserve_quantify == "capital":
        rq_weights = {m.code: m.capital_total for m in members}
    elif policy.reserve_quantify == "equal":
        rq_weights = {m.code: Decimal(1) for m in members}
    else:                           # "none": the reserve stays collective property (collectives' 公积公益金)
        rq_weights = {m.code: ZERO for m in members}
    reserve_shares = _split(reserve, rq_weights, order)
    subsidy_shares = _split(data.subsidy_fund, {m.code: Decimal(1) for m in members}, order)

    # fixed preferred returns come first
    preferred: dict[str, list[tuple[str, Decimal]]] = {m.code: [] for m in members}
    preferred_totals = []
    room = distributable
    for spec in policy.preferred:
        due = {m.code: quantize(prorated(m, sum((a for f, a in m.capital if f == spec.form), ZERO))
                                * spec.rate / HUNDRED) for m in members}
        total_due = sum(due.values(), ZERO)
        paid = due if total_due <= room else _split(room, due, order)
        room -= sum(paid.values(), ZERO)
        preferred_totals.append((spec.name, sum(paid.values(), ZERO)))
        for code, amount in paid.items():
            if amount:
                preferred[code].append((spec.name, amount))

    pool_amounts = _pool_amounts(room, policy.pools,
                                 {i for i, p in enumerate(policy.pools) if policy.returns_by_trade(p.basis)})
    lines: dict[str, list[Line]] = {m.code: [] for m in members}
    pools_out, basis_totals = [], {}
    for i, pool in enumerate(policy.pools):
        bases = {m.code: _basis(m, pool, reserve_shares, subsidy_shares, prorated) for m in members}
        total_basis = sum(bases.values(), ZERO)
        basis_totals[pool.name] = total_basis
        shares = _split(pool_amounts[i], bases, order)
        pools_out.append((pool.name, pool.basis, pool_amounts[i], total_basis))
        for m in members:
            if bases[m.code] or shares[m.code]:
                lines[m.code].append(Line(pool.name, pool.basis, bases[m.code], total_basis, pool_amounts[i],
                                          shares[m.code]))

    results = []
    land_pools = {p.name for p in policy.pools if p.basis == "land"}
    for m in members:
        total = sum((ln.amount for ln in lines[m.code]), ZERO) + sum((a for _, a in preferred[m.code]), ZERO)
        deduction = ZERO
        if policy.deduct and m.debt > 0:
            protected = ZERO if m.land_consent else sum((ln.amount for ln in lines[m.code] if ln.pool in land_pools), ZERO)
            deduction = min(m.debt, max(total - protected, ZERO))
        results.append(MemberResult(
            code=m.code, member_no=m.member_no, name=m.name, lines=tuple(lines[m.code]),
            preferred=tuple(preferred[m.code]), total=total, deductions=deduction, net=total - deduction,
            reserve_share=reserve_shares[m.code], subsidy_share=subsidy_shares[m.code],
            sources=_trace(total, data.sources, data.surplus)))
    result = RunResult(
        surplus=data.surplus, prior_loss=prior_loss, brought_forward=brought_forward,
        reserves=(("reserve", reserve), *funds), distributable=distributable, preferred=tuple(preferred_totals),
        pools=tuple(pools_out), members=tuple(results),
        patronage_pools=tuple(p.name for p in policy.pools if policy.returns_by_trade(p.basis)))
    return RunResult(**{**result.__dict__, "checks": tuple(check_run(data, policy, result))})


def _basis(m: MemberInput, pool, reserve_shares, subsidy_shares, prorated) -> Decimal:
    if pool.basis == "transactions":
        return trade_basis(m, pool.measure, pool.products, pool.include)
    if pool.basis == "capital":
        return prorated(m, m.capital_total + m.reserve_share + reserve_shares[m.code] + subsidy_shares[m.code]
                        + m.fund_share)
    if pool.basis == "land":
        return prorated(m, m.land_shares)
    if pool.basis == "labor":
        return m.labor_days
    if pool.basis == "shares":      # the holding at the year's end, whatever the days of membership
        return m.shares
    return prorated(m, Decimal(1))


def _trace(total: Decimal, sources: tuple[tuple[str, Decimal], ...], surplus: Decimal) -> tuple:
    """Split a member's total over where the surplus came from (cascade), exactly to the fen."""
    if not sources or total <= 0 or surplus <= 0:
        return ()
    parts = {label: max(amount, ZERO) for label, amount in sources}
    parts["own"] = max(surplus - sum(parts.values(), ZERO), ZERO)
    if not any(parts.values()):
        return ()
    rank = {label: i for i, label in enumerate(parts)}
    return tuple((label, amount) for label, amount in allocate(total, parts, order=rank.get).items() if amount)


def pool_label(name: str) -> Message | str:
    """A pool in a check's words: the usual names by their label, a name the policy wrote in words as written."""
    return msg(POOL_NAME_LABELS[name]) if name in POOL_NAME_LABELS else name


def basis_label(basis: str) -> Message | str:
    return msg(BASIS_LABELS[basis]) if basis in BASIS_LABELS else basis


def listing(items: list) -> Message:
    """Several labels as one parameter, each translated where the message is (a template of placeholders only,
    which no catalog holds, so it stays as it is: "a, b")."""
    return msg(", ".join(f"%(i{n})s" for n in range(len(items))), **{f"i{n}": item for n, item in enumerate(items)})


def check_run(data: RunInput, policy: Policy, result: RunResult) -> list[Check]:
    """The rules a run must pass before it can be approved; each names its figures."""
    checks = []
    ds = result.distributable
    pooled = sum((p[2] for p in result.pools), ZERO)
    preferred = sum((a for _, a in result.preferred), ZERO)
    lines_ok = all(sum((ln.amount for m in result.members for ln in m.lines if ln.pool == name), ZERO) == amount
                   for name, _, amount, _ in result.pools)
    checks.append(Check("sums_exact", pooled + preferred == ds and lines_ok,
                        msg(N_("pools %(pooled)s + preferred %(preferred)s = distributable %(ds)s; "
                               "member lines sum to each pool"), pooled=pooled, preferred=preferred, ds=ds)))
    for name, basis, amount, total in result.pools:
        if amount and not total:
            checks.append(Check("pool_has_basis", False, msg(
                N_("pool %(pool)s (%(basis)s) has %(amount)s but no member has a basis"),
                pool=pool_label(name), basis=basis_label(basis), amount=amount)))
    if not data.members:
        checks.append(Check("has_members", False, msg(N_("the entity has no members in this year"))))
    if policy.land_as_trade and data.kind != "land_coop":
        checks.append(Check("land_as_trade_land_coop", False, msg(
            N_("counting land as trade is for a land-share cooperative's articles, not for this kind of entity"))))
    shared = [p.name for p in policy.pools if p.basis == "shares"]
    if shared and data.kind != "collective":
        checks.append(Check("shares_collective", False, msg(
            N_("pool %(pool)s goes by quantified shares, which only a village collective keeps (份额登记簿)"),
            pool=pool_label(shared[0]))))
    if data.kind in COOPERATIVE_LAW_KINDS:
        trade = sum((p[2] for p in result.pools if p[0] in result.patronage_pools), ZERO)
        if ds > 0:
            ok, share = patronage_meets_law(trade, ds), trade / ds * HUNDRED
        else:
            share = sum((p.pct for p in policy.pools if policy.returns_by_trade(p.basis)), ZERO)
            ok = share >= PATRONAGE_FLOOR_PCT
        shown = share.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)       # never shown as 60.00% when short
        if ds > 0:
            detail = msg(N_("%(share)s%% %(cmp)s 60%% of the distributable surplus returned by member trade "
                            "(%(trade)s of %(ds)s, exact to the fen) (law Art. 44)"),
                         share=f"{shown:.2f}", cmp=">=" if ok else "<", trade=trade, ds=ds)
        else:
            detail = msg(N_("%(share)s%% %(cmp)s 60%% of the distributable surplus returned by member trade "
                            "(law Art. 44)"), share=f"{shown:.2f}", cmp=">=" if ok else "<")
        checks.append(Check("patronage_min_60", ok, detail))
        others = sorted({p.basis for p in policy.pools if not policy.returns_by_trade(p.basis)} - set(CAPITAL_BASES))
        checks.append(Check("residual_capital_only", not others,
                            msg(N_("the remainder goes by capital, reserve and quantified subsidy shares"))
                            if not others else
                            msg(N_("the remainder may only go by capital-type bases (law Art. 44), not %(bases)s"),
                                bases=listing([basis_label(b) for b in others]))))
        farmers = sum(1 for m in data.members if m.farmer)
        count = len(data.members)
        share = _pct(Decimal(farmers), Decimal(count)) if count else ZERO
        checks.append(Check("farmer_members_80", share >= 80, msg(
            N_("%(farmers)s of %(count)s members are farmers (%(share)s%% %(cmp)s 80%%, law Art. 20)"),
            farmers=farmers, count=count, share=f"{share:.2f}", cmp=">=" if share >= 80 else "<")))
        reserve = result.reserves[0][1] if result.reserves else ZERO
        quantified = policy.reserve_quantify != "none" and (
            not reserve or sum((m.reserve_share for m in result.members), ZERO) == reserve)
        checks.append(Check("reserve_quantified", quantified,
                            msg(N_("the year's reserve %(reserve)s is quantified to the members (law Art. 42)"),
                                reserve=reserve) if quantified else
                            msg(N_("the year's reserve %(reserve)s must be quantified to the members (law Art. 42): "
                                   "the policy leaves it unassigned"), reserve=reserve)))
    return checks

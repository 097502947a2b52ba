"""The distribution clause of an entity's articles, as data (INTERFACES §4): parsed, validated, frozen.

A policy says how much of the surplus goes to reserves and funds, and how the distributable surplus
is split into pools, each shared out on a basis (member trade, capital, land, labour, a collective's quantified
shares, equal). It is
pure data: loading it never touches the database. ``parse_policy`` collects every problem.

A policy text nested deeper than :data:`ledger.nesting.MAX_NESTING` is refused before it is parsed (the
TOML and JSON parsers recurse once per level: 100,000 ``[`` were a RecursionError); a policy needs three.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

from ledger.i18n import N_, msg
from ledger.nesting import MAX_NESTING, too_deep
from payouts.runs.labels import POOL_NAME_LABELS as POOL_LABELS

#: ``shares``: the quantified shares of a village collective's share register (份额登记簿, INTERFACES §3.1)
BASES = ("transactions", "capital", "land", "labor", "shares", "equal")
MEASURES = ("amount", "quantity")
RESERVE_QUANTIFY = ("transactions", "capital", "equal", "none")
DEDUCTIONS = ("inputs", "advances")
TRADE_KINDS = ("deliveries", "sales", "inputs")
#: the trade a transactions pool counts when its ``include`` is not given
DEFAULT_INCLUDE = ("deliveries", "sales")
CAPITAL_FORMS = ("cash", "land", "in_kind", "poverty_asset")
#: the usual pool names the form offers, by the labels every page and statement shows them with (a pool's name is
#: free; "trade", a name some policies write for the patronage pool, is shown like it but not offered)
POOL_NAME_LABELS = {name: text for name, text in POOL_LABELS.items() if name != "trade"}
#: the bases a farmer cooperative's remainder may go by (law Art. 44; the run's ``residual_capital_only`` check)
REMAINDER_BASES = ("capital",)


#: the kinds the Farmer Professional Cooperatives Law governs: a land-share cooperative is one in law
COOPERATIVE_LAW_KINDS = ("farmer_coop", "land_coop")
#: the share of the distributable surplus a farmer cooperative returns by member trade, at least (law Art. 44)
PATRONAGE_FLOOR_PCT = Decimal(60)


class PolicyError(ValueError):
    """The policy cannot be used: ``problems`` lists every reason (translatable messages)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Pool:
    name: str
    pct: Decimal
    basis: str
    measure: str = "amount"
    #: product -> weight (transactions only); empty = every product, weight 1
    products: tuple[tuple[str, Decimal], ...] = ()
    #: which member trade counts (transactions only)
    include: tuple[str, ...] = ("deliveries", "sales")


@dataclass(frozen=True)
class Fund:
    name: str
    pct: Decimal


@dataclass(frozen=True)
class Preferred:
    """A fixed return paid before the pools: ``rate`` % a year on members' capital of ``form``
    (e.g. fiscal poverty-alleviation asset shares with a guaranteed 5 %)."""

    name: str
    rate: Decimal
    form: str = "poverty_asset"


@dataclass(frozen=True)
class Policy:
    reserve_pct: Decimal = Decimal("0")
    reserve_quantify: str = "transactions"
    funds: tuple[Fund, ...] = ()
    preferred: tuple[Preferred, ...] = ()
    pools: tuple[Pool, ...] = field(default_factory=tuple)
    deduct: tuple[str, ...] = ("inputs", "advances")
    prorate_partial_year: bool = False
    #: days the statements stay on public notice after publishing
    notice_days: int = 7
    #: a land-share cooperative whose articles count the land a member puts in as that member's trade: its
    #: land pools are returns by trade (盈余返还, 221) toward the 60 % (INTERFACES §4)
    land_as_trade: bool = False

    def returns_by_trade(self, basis: str) -> bool:
        """Whether a pool of ``basis`` returns surplus by members' trade (盈余返还), not by capital."""
        return basis == "transactions" or (basis == "land" and self.land_as_trade)

    @property
    def trade_pct(self) -> Decimal:
        """The pct of the pools that return surplus by members' trade (before preferred returns)."""
        return sum((p.pct for p in self.pools if self.returns_by_trade(p.basis)), Decimal(0))

    def to_dict(self) -> dict:
        """JSON-ready form with decimals as strings (what is stored and shown)."""
        def convert(value):
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [convert(v) for v in value]
            return value
        data = convert(asdict(self))
        for pool in data["pools"]:
            if pool["basis"] == "transactions":
                pool["products"] = {name: weight for name, weight in pool["products"]}
            else:
                del pool["measure"], pool["products"], pool["include"]
        return data


def _decimal(value, where: str, problems: list[str], *, lo: Decimal = Decimal(0), hi: Decimal | None = None):
    if isinstance(value, float):
        problems.append(msg(N_('%(where)s: write the number as a string ("%(value)s"): floats are not exact.'),
                            where=where, value=value, code="policy_float"))
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        problems.append(msg(N_("%(where)s: not a number: %(value)s."), where=where, value=repr(value),
                            code="policy_not_a_number"))
        return None
    if not number.is_finite() or number < lo or (hi is not None and number > hi):
        if hi is None:
            problems.append(msg(N_("%(where)s: must be at least %(lo)s, not %(number)s."), where=where, lo=lo,
                                number=number, code="policy_range"))
        else:
            problems.append(msg(N_("%(where)s: must be from %(lo)s to %(hi)s, not %(number)s."), where=where, lo=lo,
                                hi=hi, number=number, code="policy_range"))
        return None
    return number


def _choice(value, allowed, where, problems):
    if value not in allowed:
        problems.append(msg(N_("%(where)s: %(value)s is not one of %(allowed)s."), where=where, value=repr(value),
                            allowed=", ".join(allowed), code="policy_choice"))
        return None
    return value


def parse_policy(data: dict) -> Policy:
    """Validate a policy given as a dict (from TOML or JSON). Raises PolicyError with every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise PolicyError([msg(N_("A policy is a table of keys (TOML) or an object (JSON)."), code="policy_shape")])
    known = {"reserve_pct", "reserve_quantify", "funds", "preferred", "pools", "deduct", "prorate_partial_year",
             "notice_days", "land_as_trade"}
    for key in sorted(set(data) - known):
        problems.append(msg(N_("Unknown key %(key)s."), key=repr(key), code="policy_unknown_key"))
    reserve = _decimal(data.get("reserve_pct", "0"), "reserve_pct", problems, hi=Decimal(100))
    quantify = _choice(data.get("reserve_quantify", "transactions"), RESERVE_QUANTIFY, "reserve_quantify", problems)
    funds = []
    for i, f in enumerate(data.get("funds", []) or [], 1):
        if not isinstance(f, dict) or "name" not in f:
            problems.append(msg(N_("funds[%(i)s]: needs a name and a pct."), i=i, code="policy_fund"))
            continue
        pct = _decimal(f.get("pct"), f"funds[{i}].pct", problems, hi=Decimal(100))
        funds.append(Fund(str(f["name"]), pct or Decimal(0)))
    preferred = []
    for i, p in enumerate(data.get("preferred", []) or [], 1):
        if not isinstance(p, dict) or "name" not in p:
            problems.append(msg(N_("preferred[%(i)s]: needs a name and a rate."), i=i, code="policy_preferred"))
            continue
        rate = _decimal(p.get("rate"), f"preferred[{i}].rate", problems, hi=Decimal(100))
        form = _choice(p.get("form", "poverty_asset"), CAPITAL_FORMS, f"preferred[{i}].form", problems)
        preferred.append(Preferred(str(p["name"]), rate or Decimal(0), form or "poverty_asset"))
    raw_pools = data.get("pools", []) or []
    pools = [p for p in (_pool(i, p, problems) for i, p in enumerate(raw_pools, 1)) if p is not None]
    pcts = [_decimal(p.get("pct"), "", []) for p in raw_pools if isinstance(p, dict)]
    if not raw_pools:
        problems.append(msg(N_("pools: at least one pool is needed."), code="policy_no_pool"))
    elif None not in pcts and sum(pcts, Decimal(0)) != 100:
        problems.append(msg(N_("pools: the pct of the pools must sum to 100, not %(sum)s."), sum=sum(pcts, Decimal(0)),
                            code="policy_pool_sum"))
    names = [p.name for p in pools] + [f.name for f in funds] + [p.name for p in preferred]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(msg(N_("The name %(name)s is used twice."), name=repr(name), code="policy_name_twice"))
    deduct = data.get("deduct", ["inputs", "advances"])
    if not isinstance(deduct, list):
        problems.append(msg(N_('deduct: a list such as ["inputs", "advances"].'), code="policy_deduct"))
        deduct = []
    for d in deduct:
        _choice(d, DEDUCTIONS, "deduct", problems)
    prorate = data.get("prorate_partial_year", False)
    if not isinstance(prorate, bool):
        problems.append(msg(N_("prorate_partial_year: true or false."), code="policy_prorate"))
    notice = data.get("notice_days", 7)
    if not isinstance(notice, int) or isinstance(notice, bool) or not 1 <= notice <= 90:
        problems.append(msg(N_("notice_days: a whole number of days from 1 to 90."), code="policy_notice_days"))
        notice = 7
    land_as_trade = data.get("land_as_trade", False)
    if not isinstance(land_as_trade, bool):
        problems.append(msg(N_("land_as_trade: true or false."), code="policy_land_as_trade"))
    if reserve is not None and sum((f.pct for f in funds), reserve) > 100:
        problems.append(msg(N_("reserve_pct and funds together exceed 100 %%."), code="policy_reserve_over"))
    if problems:
        raise PolicyError(problems)
    return Policy(reserve_pct=reserve, reserve_quantify=quantify, funds=tuple(funds), preferred=tuple(preferred),
                  pools=tuple(pools), deduct=tuple(deduct), prorate_partial_year=bool(prorate), notice_days=notice,
                  land_as_trade=land_as_trade is True)


def _pool(i: int, p, problems: list[str]) -> Pool | None:
    where = f"pools[{i}]"
    if not isinstance(p, dict):
        problems.append(msg(N_("%(where)s: a table with name, pct and basis."), where=where, code="policy_pool_shape"))
        return None
    name = str(p.get("name") or f"pool{i}")
    pct = _decimal(p.get("pct"), f"{where}.pct", problems, hi=Decimal(100))
    basis = _choice(p.get("basis"), BASES, f"{where}.basis", problems)
    measure = _choice(p.get("measure", "amount"), MEASURES, f"{where}.measure", problems)
    products = p.get("products") or {}
    weights = []
    if not isinstance(products, dict):
        problems.append(msg(N_("%(where)s.products: a table of product = weight."), where=where,
                            code="policy_products"))
    else:
        for product, weight in products.items():
            w = _decimal(weight, f"{where}.products.{product}", problems)
            if w is not None:
                weights.append((str(product), w))
    include = p.get("include", ["deliveries", "sales"])
    if not isinstance(include, list) or not include:
        problems.append(msg(N_("%(where)s.include: a list from %(kinds)s."), where=where, kinds=", ".join(TRADE_KINDS),
                            code="policy_include"))
        include = ["deliveries"]
    for kind in include:
        _choice(kind, TRADE_KINDS, f"{where}.include", problems)
    if basis != "transactions" and (products or "measure" in p or "include" in p):
        problems.append(msg(N_("%(where)s: measure, products and include apply to transactions pools only."),
                            where=where, code="policy_transactions_only"))
    if pct is None or basis is None or measure is None:
        return None
    return Pool(name=name, pct=pct, basis=basis, measure=measure, products=tuple(sorted(weights)),
                include=tuple(include))


def law_problems(policy: Policy, kind: str) -> list[str]:
    """What the law forbids a policy of an entity of ``kind`` — the policy-level part of the checks a run of it must
    pass before approval (:func:`payouts.runs.rules.check_run`), said before the policy is saved. Each message has
    the code of its run check; a pool's has the pool's number ``pool`` (1-based). Empty: nothing is forbidden."""
    problems: list[str] = []
    if policy.land_as_trade and kind != "land_coop":
        problems.append(msg(N_("Land counts as member trade only in a land-share cooperative."),
                            code="land_as_trade_land_coop"))
    for i, pool in enumerate(policy.pools, 1):
        if pool.basis == "shares" and kind != "collective":
            problems.append(msg(N_("Pool %(pool)s: only a village collective distributes by quantified shares."),
                                pool=i, code="shares_collective"))
    if kind in COOPERATIVE_LAW_KINDS:
        if policy.pools and policy.trade_pct < PATRONAGE_FLOOR_PCT:
            problems.append(msg(N_("Member trade receives %(pct)s %% of the pools: a farmer cooperative must return "
                                   "at least 60 %% of the distributable surplus by member trade (law Art. 44)."),
                                pct=policy.trade_pct, code="patronage_min_60"))
        for i, pool in enumerate(policy.pools, 1):
            if not policy.returns_by_trade(pool.basis) and pool.basis not in REMAINDER_BASES and pool.basis != "shares":
                problems.append(msg(N_("Pool %(pool)s: in a farmer cooperative, what is not returned by member trade "
                                       "goes by capital, reserve share and quantified subsidies only (law Art. 44)."),
                                    pool=i, code="residual_capital_only"))
    return problems


def policy_toml(data: dict) -> str:
    """A stored policy (``Policy.to_dict()``) written as TOML (INTERFACES §4): what the policy page offers for
    download and shows; ``load_policy_text(policy_toml(d)).to_dict() == d`` for every valid policy."""
    lines = [f"reserve_pct = {_toml_value(data['reserve_pct'])}",
             f"reserve_quantify = {_toml_value(data['reserve_quantify'])}"]
    for key in ("funds", "preferred"):
        if data.get(key):
            lines.append(f"{key} = {_toml_value(data[key])}")
    lines += [f"deduct = {_toml_value(list(data.get('deduct', [])))}",
              f"prorate_partial_year = {_toml_value(bool(data.get('prorate_partial_year')))}",
              f"notice_days = {_toml_value(data.get('notice_days', 7))}"]
    if data.get("land_as_trade"):
        lines.append("land_as_trade = true")
    for pool in data["pools"]:
        lines += ["", "[[pools]]", f"name = {_toml_value(pool['name'])}", f"pct = {_toml_value(pool['pct'])}",
                  f"basis = {_toml_value(pool['basis'])}"]
        if pool["basis"] == "transactions":
            if pool.get("measure", "amount") != "amount":
                lines.append(f"measure = {_toml_value(pool['measure'])}")
            if pool.get("products"):
                lines.append(f"products = {_toml_value(pool['products'])}")
            if list(pool.get("include", DEFAULT_INCLUDE)) != list(DEFAULT_INCLUDE):
                lines.append(f"include = {_toml_value(list(pool['include']))}")
    return "\n".join(lines) + "\n"



def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)      # a TOML basic string (JSON escapes are valid TOML)


def _toml_key(key: str) -> str:
    bare = key and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def load_policy_text(text: str, *, filename: str = "policy.toml") -> Policy:
    """Parse TOML (or JSON, by extension or a leading ``{``). Raises PolicyError."""
    as_json = filename.endswith(".json") or text.lstrip().startswith("{")
    too_nested = msg(N_("The policy is nested more than %(limit)s levels deep; a policy needs three at most."),
                     limit=MAX_NESTING, code="policy_too_deep")
    if too_deep(text, toml=not as_json):
        raise PolicyError([too_nested])
    try:
        data = json.loads(text) if as_json else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError([msg(N_("%(file)s cannot be read: %(error)s"), file=filename, error=str(exc),
                               code="policy_syntax")]) from None
    except RecursionError:          # the depth check counts what the parsers nest; this is its safety net
        raise PolicyError([too_nested]) from None
    return parse_policy(data)


DEFAULT_FPC_POLICY = """\
reserve_pct = "10"
reserve_quantify = "transactions"

[[pools]]
name = "patronage"
pct = "60"
basis = "transactions"

[[pools]]
name = "residual"
pct = "40"
basis = "capital"
"""

"""The distribution clause of an entity's articles, as data (INTERFACES §4): parsed, validated, frozen.

A policy says how much of the surplus goes to reserves and funds, and how the distributable surplus
is split into pools, each shared out on a basis (member trade, capital, land, labour, equal). It is
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

BASES = ("transactions", "capital", "land", "labor", "equal")
MEASURES = ("amount", "quantity")
RESERVE_QUANTIFY = ("transactions", "capital", "equal", "none")
DEDUCTIONS = ("inputs", "advances")
TRADE_KINDS = ("deliveries", "sales", "inputs")
CAPITAL_FORMS = ("cash", "land", "in_kind", "poverty_asset")


class PolicyError(ValueError):
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
        problems.append(f"{where}: write the number as a string (\"{value}\"), floats are not exact")
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        problems.append(f"{where}: not a number: {value!r}")
        return None
    if not number.is_finite() or number < lo or (hi is not None and number > hi):
        bound = f" and at most {hi}" if hi is not None else ""
        problems.append(f"{where}: must be at least {lo}{bound}, got {number}")
        return None
    return number


def _choice(value, allowed, where, problems):
    if value not in allowed:
        problems.append(f"{where}: {value!r} is not one of {', '.join(allowed)}")
        return None
    return value


def parse_policy(data: dict) -> Policy:
    """Validate a policy given as a dict (from TOML or JSON). Raises PolicyError with every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise PolicyError(["a policy is a table of keys (TOML) or an object (JSON)"])
    known = {"reserve_pct", "reserve_quantify", "funds", "preferred", "pools", "deduct", "prorate_partial_year",
             "notice_days"}
    for key in sorted(set(data) - known):
        problems.append(f"unknown key {key!r}")
    reserve = _decimal(data.get("reserve_pct", "0"), "reserve_pct", problems, hi=Decimal(100))
    quantify = _choice(data.get("reserve_quantify", "transactions"), RESERVE_QUANTIFY, "reserve_quantify", problems)
    funds = []
    for i, f in enumerate(data.get("funds", []) or [], 1):
        if not isinstance(f, dict) or "name" not in f:
            problems.append(f"funds[{i}]: needs a name and a pct")
            continue
        pct = _decimal(f.get("pct"), f"funds[{i}].pct", problems, hi=Decimal(100))
        funds.append(Fund(str(f["name"]), pct or Decimal(0)))
    preferred = []
    for i, p in enumerate(data.get("preferred", []) or [], 1):
        if not isinstance(p, dict) or "name" not in p:
            problems.append(f"preferred[{i}]: needs a name and a rate")
            continue
        rate = _decimal(p.get("rate"), f"preferred[{i}].rate", problems, hi=Decimal(100))
        form = _choice(p.get("form", "poverty_asset"), CAPITAL_FORMS, f"preferred[{i}].form", problems)
        preferred.append(Preferred(str(p["name"]), rate or Decimal(0), form or "poverty_asset"))
    raw_pools = data.get("pools", []) or []
    pools = [p for p in (_pool(i, p, problems) for i, p in enumerate(raw_pools, 1)) if p is not None]
    pcts = [_decimal(p.get("pct"), "", []) for p in raw_pools if isinstance(p, dict)]
    if not raw_pools:
        problems.append("pools: at least one pool is needed")
    elif None not in pcts and sum(pcts, Decimal(0)) != 100:
        problems.append(f"pools: pct must sum to 100, got {sum(pcts, Decimal(0))}")
    names = [p.name for p in pools] + [f.name for f in funds] + [p.name for p in preferred]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"name {name!r} is used twice")
    deduct = data.get("deduct", ["inputs", "advances"])
    if not isinstance(deduct, list):
        problems.append("deduct: a list such as [\"inputs\", \"advances\"]")
        deduct = []
    for d in deduct:
        _choice(d, DEDUCTIONS, "deduct", problems)
    prorate = data.get("prorate_partial_year", False)
    if not isinstance(prorate, bool):
        problems.append("prorate_partial_year: true or false")
    notice = data.get("notice_days", 7)
    if not isinstance(notice, int) or isinstance(notice, bool) or not 1 <= notice <= 90:
        problems.append("notice_days: a whole number of days from 1 to 90")
        notice = 7
    if reserve is not None and sum((f.pct for f in funds), reserve) > 100:
        problems.append("reserve_pct and funds together exceed 100 %")
    if problems:
        raise PolicyError(problems)
    return Policy(reserve_pct=reserve, reserve_quantify=quantify, funds=tuple(funds), preferred=tuple(preferred),
                  pools=tuple(pools), deduct=tuple(deduct), prorate_partial_year=bool(prorate), notice_days=notice)


def _pool(i: int, p, problems: list[str]) -> Pool | None:
    where = f"pools[{i}]"
    if not isinstance(p, dict):
        problems.append(f"{where}: a table with name, pct and basis")
        return None
    name = str(p.get("name") or f"pool{i}")
    pct = _decimal(p.get("pct"), f"{where}.pct", problems, hi=Decimal(100))
    basis = _choice(p.get("basis"), BASES, f"{where}.basis", problems)
    measure = _choice(p.get("measure", "amount"), MEASURES, f"{where}.measure", problems)
    products = p.get("products") or {}
    weights = []
    if not isinstance(products, dict):
        problems.append(f"{where}.products: a table of product = weight")
    else:
        for product, weight in products.items():
            w = _decimal(weight, f"{where}.products.{product}", problems)
            if w is not None:
                weights.append((str(product), w))
    include = p.get("include", ["deliveries", "sales"])
    if not isinstance(include, list) or not include:
        problems.append(f"{where}.include: a list from {', '.join(TRADE_KINDS)}")
        include = ["deliveries"]
    for kind in include:
        _choice(kind, TRADE_KINDS, f"{where}.include", problems)
    if basis != "transactions" and (products or "measure" in p or "include" in p):
        problems.append(f"{where}: measure, products and include apply to transactions pools only")
    if pct is None or basis is None or measure is None:
        return None
    return Pool(name=name, pct=pct, basis=basis, measure=measure, products=tuple(sorted(weights)),
                include=tuple(include))


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
        raise PolicyError([f"{filename}: {exc}"]) from None
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

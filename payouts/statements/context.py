"""Build every household's statement snapshot of a run, in bulk, when the run is posted.

The snapshot is plain JSON: all the figures, names and sentences the statement shows. Rendering reads
only the snapshot, so a statement printed years later is the same, whatever happened since to the
household's record or the policy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.models import (
    Advance,
    Delivery,
    Entity,
    Household,
    InputSupply,
    LaborRecord,
    LandAccrual,
    LandContract,
    Member,
    ShareHolding,
    Village,
)
from ledger.clock import china_today
from ledger.db import fixed_sum, money_sum
from ledger.i18n import N_
from ledger.money import ZERO, fmt
from ledger.numerals import capital_numerals
from payouts.models import PayoutRun, StatementSnapshot
from payouts.runs.labels import POOL_NAME_LABELS
from payouts.runs.snapshot import patronage_pools

#: what a pool is called on a statement, by the names policies give their pools (a name a policy writes in words,
#: such as 茶叶二次返还, is shown as written; any other code by what the pool is shared on: BASIS_POOL_LABELS)
POOL_LABELS = POOL_NAME_LABELS
BASIS_POOL_LABELS = {"transactions": N_("Return by member trade"), "capital": N_("Distribution by capital"),
                     "land": N_("Land dividend"), "labor": N_("Labour dividend"),
                     "shares": N_("Dividend on the collective's quantified shares"), "equal": N_("Equal distribution")}
#: the reserve drawn from the surplus first (a collective's is its 公积公益金)
RESERVE_LABELS = {"collective": N_("Public reserve and welfare fund"), "": N_("Reserve fund")}
_CODE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
#: a share of a pool, as a percentage, shown with at most this many decimals
SHARE_DECIMALS = 10

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"     # no 0/O, 1/I/L: read aloud and typed from paper


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def digest_of(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


def build_statements(session: Session, run: PayoutRun) -> int:
    """Freeze one statement per member of ``run`` (flushes). Returns how many were written."""
    entity = run.entity
    result, snapshot = run.result, run.input
    year = run.year
    inputs = {m["code"]: m for m in snapshot["members"]}
    members = _members(session, entity)
    labor = _per_member(session, entity, year, LaborRecord, fixed_sum(LaborRecord.days), money_sum(LaborRecord.amount))
    credit = _per_member(session, entity, year, InputSupply, money_sum(InputSupply.amount),
                         where=InputSupply.on_credit)
    advances = _per_member(session, entity, year, Advance, money_sum(Advance.amount))
    land = _land(session, entity, year)
    produce = _produce(session, entity, year)
    share_kinds = _share_kinds(session, entity, year)
    returns = set(patronage_pools(result))            # the pools posted to 221 (盈余返还)
    base = {
        "run": run.id, "run_digest": run.digest, "year": year, "issued": china_today().isoformat(),
        "entity": {"code": entity.code, "name": entity.name, "kind": entity.kind,
                   "township": entity.township.name, "village": entity.village.name if entity.village else None},
        "policy_pools": [{"name": p["name"], "basis": p["basis"], "measure": p.get("measure", "amount"),
                          "patronage": p["name"] in returns} for p in snapshot["policy"]["pools"]],
        "distributable": result["distributable"],
        "path": _path(result, snapshot["policy"], entity.kind, returns),
    }
    measures = {p["name"]: p["measure"] for p in base["policy_pools"]}
    labels = {p["name"]: p["label"] for p in base["path"]["pools"]}
    rows = []
    for m in result["members"]:
        info = members[m["member"]]
        data = {**base, "member": {**info, "member_no": m["member_no"]},
                "contributed": _contributed(inputs.get(m["member"], {}), labor.get(info["member_id"]),
                                            land.get(info["member_id"], []), produce.get(info["member_id"], {}),
                                            share_kinds.get(info["member_id"], [])),
                "lines": [_line(ln, measures, labels) for ln in m["lines"]],
                "preferred": m["preferred"], "sources": m["sources"],
                "reserve_share": m["reserve_share"], "subsidy_share": m["subsidy_share"], "total": m["total"],
                "deductions": _deductions(Decimal(m["deductions"]), credit.get(info["member_id"]),
                                          advances.get(info["member_id"])),
                "deductions_total": m["deductions"], "net": m["net"],
                "net_words": capital_numerals(Decimal(m["net"]))}
        data["member"].pop("member_id")
        code = new_code()
        data["code"] = code
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        rows.append({"run_id": run.id, "member_id": info["member_id"], "member_code": m["member"],
                     "household_id": info["household_id"], "code": code, "data": text, "digest": digest_of(text)})
    if rows:
        session.execute(StatementSnapshot.__table__.insert(), rows)
    run.notice_code = run.notice_code or new_code()
    session.flush()
    return len(rows)


def pool_label(name: str, basis: str | None = None) -> dict:
    """How a pool is named to people: ``{"text": msgid, "translate": True}`` for a pool known by its code (or,
    failing that, by its basis), ``{"text": name, "translate": False}`` for a name the policy wrote in words."""
    if name in POOL_LABELS:
        return {"text": POOL_LABELS[name], "translate": True}
    if _CODE_NAME.match(name) and basis in BASIS_POOL_LABELS:
        return {"text": BASIS_POOL_LABELS[basis], "translate": True}
    return {"text": name, "translate": False}


def _path(result: dict, policy: dict, kind: str, returns: set[str]) -> dict:
    """The way from the year's surplus to the pools, as the run stored it: surplus, losses made good, the reserve
    and funds with their rates, the distributable surplus, fixed returns, each pool with its rate and amount."""
    rates = {"reserve": policy.get("reserve_pct", "0"), **{f["name"]: f["pct"] for f in policy.get("funds", ())}}
    pcts = {p["name"]: p["pct"] for p in policy["pools"]}
    reserves = []
    for r in result["reserves"]:
        if not Decimal(rates.get(r["name"]) or 0) and not Decimal(r["amount"]):
            continue                    # a policy without a reserve: no line of 0 % and 0.00
        if r["name"] == "reserve":
            name = {"text": RESERVE_LABELS.get(kind, RESERVE_LABELS[""]), "translate": True}
        else:
            name = {"text": r["name"], "translate": False}
        reserves.append({"name": r["name"], "label": name, "pct": rates.get(r["name"]), "amount": r["amount"]})
    pools = [{"name": p["name"], "label": pool_label(p["name"], p["basis"]), "basis": p["basis"],
              "pct": pcts.get(p["name"]), "amount": p["amount"], "basis_total": p["basis_total"],
              "patronage": p["name"] in returns} for p in result["pools"]]
    preferred = [{"name": p["name"], "amount": p["amount"]} for p in result["preferred"]]
    pooled = sum((Decimal(p["amount"]) for p in pools), ZERO)
    return {"surplus": result["surplus"], "prior_loss": result["prior_loss"],
            "brought_forward": result["brought_forward"], "reserves": reserves,
            "distributable": result["distributable"], "preferred": preferred, "pools": pools,
            "pooled": fmt(pooled)}


def share_of(basis: Decimal, total: Decimal, pool_amount: Decimal, amount: Decimal) -> dict:
    """A member's share of a pool in figures a calculator reproduces: the exact product ``pool × basis ÷ total``
    to four decimals, and the share as a percentage with the fewest decimals (at least two) that gives the
    amount to the fen — or, when the split to the fen gave this member the fen the exact product rounds away
    (largest remainder: a pool is shared out exactly), ``rounded`` says so."""
    if not total:
        return {"pct": "0.00", "exact": "0.0000", "rounded": False}
    exact = pool_amount * basis / total
    pct_exact = basis * 100 / total

    def to(places: int) -> Decimal:
        return pct_exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    pct = next((to(places) for places in range(2, SHARE_DECIMALS + 1)
                if (pool_amount * to(places) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == amount),
               to(4))                  # no rounding of the share gives the fen: the exact product says why
    return {"pct": format(pct, "f"), "exact": format(exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f"),
            "rounded": exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) != amount}


def _line(line: dict, measures: dict, labels: dict) -> dict:
    """A distribution line with what a reader needs: its pool's name, whether its basis is money, and the
    household's share of the pool worked out (:func:`share_of`)."""
    line = {**line, "measure": measures.get(line["pool"], "amount")}
    line["money_basis"] = line["basis_kind"] == "capital" or (
        line["basis_kind"] == "transactions" and line["measure"] == "amount")
    line["label"] = labels.get(line["pool"]) or pool_label(line["pool"], line["basis_kind"])
    line["share"] = share_of(Decimal(line["basis"]), Decimal(line["basis_total"]), Decimal(line["pool_amount"]),
                             Decimal(line["amount"]))
    return line


def _members(session: Session, entity: Entity) -> dict[str, dict]:
    rows = session.execute(
        select(Member.code, Member.id, Member.household_id, Household.head_name, Village.name, Entity.name)
        .outerjoin(Household, Household.id == Member.household_id)
        .outerjoin(Village, Village.id == Household.village_id)
        .outerjoin(Entity, Entity.id == Member.member_entity_id)
        .where(Member.entity_id == entity.id)).all()
    return {code: {"member_id": mid, "household_id": hid, "code": code, "name": hname or ename or code,
                   "village": village} for code, mid, hid, hname, village, ename in rows}


def _per_member(session, entity, year, model, *columns, where=None) -> dict[int, tuple]:
    stmt = (select(model.member_id, *columns).where(
        model.entity_id == entity.id, model.date >= dt.date(year, 1, 1), model.date <= dt.date(year, 12, 31),
        model.live()).group_by(model.member_id))
    if where is not None:
        stmt = stmt.where(where)
    return {row[0]: tuple(row[1:]) if len(columns) > 1 else row[1] for row in session.execute(stmt)}


def _land(session, entity, year) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    rows = session.execute(
        select(LandContract, LandAccrual.amount).outerjoin(
            LandAccrual, (LandAccrual.contract_id == LandContract.id) & (LandAccrual.year == year))
        .where(LandContract.entity_id == entity.id, LandContract.start_on <= dt.date(year, 12, 31), LandContract.live(),
               (LandContract.end_on.is_(None)) | (LandContract.end_on >= dt.date(year, 1, 1)))
        .order_by(LandContract.contract_no))
    for contract, rent in rows:
        out[contract.member_id].append({
            "contract_no": contract.contract_no, "area_mu": str(contract.area_mu.normalize()),
            "shares": str(contract.shares.normalize()), "rent_per_mu": fmt(contract.base_rent_per_mu),
            "base_rent": fmt(rent if rent is not None else ZERO)})
    return out


def _produce(session: Session, entity: Entity, year: int) -> dict[int, dict]:
    """Member id -> product -> [(quantity, unit, amount)]: the year's deliveries as traded (斤 stays 斤)."""
    out: dict[int, dict] = defaultdict(dict)
    for mid, product, unit, quantity, amount in session.execute(
            select(Delivery.member_id, Delivery.product, Delivery.unit, fixed_sum(Delivery.quantity),
                   money_sum(Delivery.amount))
            .where(Delivery.entity_id == entity.id, Delivery.date >= dt.date(year, 1, 1),
                   Delivery.date <= dt.date(year, 12, 31), Delivery.live())
            .group_by(Delivery.member_id, Delivery.product, Delivery.unit)
            .order_by(Delivery.member_id, Delivery.product, Delivery.unit)):
        out[mid].setdefault(product, []).append((quantity, unit, amount))
    return out


def _in_kg(quantity: Decimal, unit: str) -> Decimal:
    return quantity / 2 if unit == "jin" else quantity if unit == "kg" else ZERO


def _share_kinds(session: Session, entity: Entity, year: int) -> dict[int, list[tuple[str, Decimal]]]:
    """Member id -> [(kind, shares)]: the quantified shares held at the year's end (份额登记簿) by how they came —
    the 2020 reform, as members' shares, inherited, transferred in — and, as ``transferred_out``, what went to
    others. Rows dated up to the year's end, as the run's ``shares`` basis."""
    dated = ((ShareHolding.entity_id == entity.id) & ShareHolding.live()
             & (ShareHolding.date <= dt.date(year, 12, 31)))
    out: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for mid, kind, shares in session.execute(select(ShareHolding.member_id, ShareHolding.share_kind,
                                                    fixed_sum(ShareHolding.shares))
                                             .where(dated).group_by(ShareHolding.member_id, ShareHolding.share_kind)):
        out[mid][kind] = out[mid].get(kind, ZERO) + shares
    for mid, shares in session.execute(select(ShareHolding.from_member_id, fixed_sum(ShareHolding.shares))
                                       .where(dated, ShareHolding.from_member_id.is_not(None))
                                       .group_by(ShareHolding.from_member_id)):
        out[mid]["transferred_out"] = -shares
    return {mid: [(kind, n) for kind, n in kinds.items() if n] for mid, kinds in out.items()}


def _contributed(inputs: dict, labor: tuple | None, land: list, produce: dict | None = None,
                 share_kinds: list | None = None) -> dict:
    """What the household put in. Produce is shown as traded, by unit (``produce``: the deliveries' own sums) when
    those sums are the run's, else in kg as the run counted it; shares by how they came (``share_kinds``) when
    those add up to the run's holding."""
    delivered: dict[tuple[str, str], list] = {}
    for kind, product, quantity, amount in inputs.get("trade", []):
        if kind == "deliveries":
            entry = delivered.setdefault((kind, product), [Decimal(0), Decimal(0)])
            entry[0] += Decimal(quantity)
            entry[1] += Decimal(amount)
    rows = []
    for (_, product), (kg, amount) in sorted(delivered.items()):
        traded = (produce or {}).get(product, [])
        if traded and sum((_in_kg(q, u) for q, u, _a in traded), ZERO) == kg \
                and sum((a for _q, _u, a in traded), ZERO) == amount:
            rows += [{"product": product, "quantity": _plain(q), "unit": u, "amount": fmt(a)} for q, u, a in traded]
        else:
            rows.append({"product": product, "quantity": _plain(kg), "unit": "kg", "amount": fmt(amount)})
    shares = Decimal(inputs.get("shares", "0"))            # 份额登记簿: a collective's quantified shares, year end
    kinds = [{"kind": kind, "shares": _plain(n)} for kind, n in share_kinds or ()]
    if sum((n for _k, n in share_kinds or ()), ZERO) != shares:
        kinds = []
    return {
        **({"shares": _plain(shares)} if shares else {}),
        **({"share_kinds": kinds} if shares and kinds else {}),
        "produce": rows,
        "labor": {"days": _plain((labor or (ZERO, ZERO))[0]), "wages": fmt((labor or (ZERO, ZERO))[1])},
        "land": land,
        "capital": [{"form": form, "amount": fmt(amount)} for form, amount in _by_form(inputs.get("capital", []))],
    }


def _by_form(capital: list) -> list[tuple[str, Decimal]]:
    """Capital summed by form, in the order the forms first appear (capital brought in with the opening balances
    and contributed since are one line)."""
    out: dict[str, Decimal] = {}
    for form, amount in capital:
        out[form] = out.get(form, ZERO) + Decimal(amount)
    return list(out.items())


def _plain(number: Decimal) -> str:
    """A quantity as a plain decimal string, without exponent or trailing zeros: 2100, 2.5."""
    return format(number.normalize(), "f") if number else "0"


def _deductions(total: Decimal, credit: Decimal | None, advances: Decimal | None) -> list[dict]:
    """The deduction line by line: inputs on credit first, then advances, then older debts."""
    out, left = [], total
    for what, owed in (("inputs", credit or ZERO), ("advances", advances or ZERO)):
        part = min(left, owed)
        if part > 0:
            out.append({"what": what, "amount": fmt(part)})
            left -= part
    if left > 0:
        out.append({"what": "debt", "amount": fmt(left)})
    return out


def statement_count(session: Session, run: PayoutRun) -> int:
    return session.scalar(select(func.count(StatementSnapshot.id)).where(StatementSnapshot.run_id == run.id))

"""Build every household's statement snapshot of a run, in bulk, when the run is posted.

The snapshot is plain JSON: all the figures, names and sentences the statement shows. Rendering reads
only the snapshot, so a statement printed years later is the same, whatever happened since to the
household's record or the policy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.models import (
    Advance,
    Entity,
    Household,
    InputSupply,
    LaborRecord,
    LandAccrual,
    LandContract,
    Member,
    Village,
)
from ledger.db import fixed_sum, money_sum
from ledger.money import ZERO, fmt
from ledger.numerals import capital_numerals
from payouts.models import PayoutRun, StatementSnapshot
from payouts.runs.explain import explain_line
from payouts.runs.snapshot import patronage_pools

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
    returns = set(patronage_pools(result))            # the pools posted to 221 (盈余返还)
    base = {
        "run": run.id, "run_digest": run.digest, "year": year, "issued": dt.date.today().isoformat(),
        "entity": {"code": entity.code, "name": entity.name, "kind": entity.kind,
                   "township": entity.township.name, "village": entity.village.name if entity.village else None},
        "policy_pools": [{"name": p["name"], "basis": p["basis"], "measure": p.get("measure", "amount"),
                          "patronage": p["name"] in returns} for p in snapshot["policy"]["pools"]],
        "distributable": result["distributable"],
    }
    measures = {p["name"]: p["measure"] for p in base["policy_pools"]}
    rows = []
    for m in result["members"]:
        info = members[m["member"]]
        data = {**base, "member": {**info, "member_no": m["member_no"]},
                "contributed": _contributed(inputs.get(m["member"], {}), labor.get(info["member_id"]),
                                            land.get(info["member_id"], [])),
                "lines": [_line(ln, measures) for ln in m["lines"]],
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


def _line(line: dict, measures: dict) -> dict:
    """A distribution line with what a reader needs: whether its basis is money, and the sentence."""
    line = {**line, "measure": measures.get(line["pool"], "amount")}
    line["money_basis"] = line["basis_kind"] == "capital" or (
        line["basis_kind"] == "transactions" and line["measure"] == "amount")
    line["formula_zh"] = explain_line(line, locale="zh_Hans_CN")
    line["formula_en"] = explain_line(line, locale="en")
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


def _contributed(inputs: dict, labor: tuple | None, land: list) -> dict:
    produce: dict[tuple[str, str], list] = {}
    for kind, product, quantity, amount in inputs.get("trade", []):
        if kind == "deliveries":
            entry = produce.setdefault((kind, product), [Decimal(0), Decimal(0)])
            entry[0] += Decimal(quantity)
            entry[1] += Decimal(amount)
    shares = Decimal(inputs.get("shares", "0"))            # 份额登记簿: a collective's quantified shares, year end
    return {
        **({"shares": format(shares.normalize(), "f")} if shares else {}),
        "produce": [{"product": p, "quantity_kg": str(q.normalize()), "amount": fmt(a)}
                    for (_, p), (q, a) in sorted(produce.items())],
        "labor": {"days": str((labor or (ZERO, ZERO))[0].normalize()), "wages": fmt((labor or (ZERO, ZERO))[1])},
        "land": land,
        "capital": [{"form": form, "amount": amount}
                    for form, amount in inputs.get("capital", [])],
    }


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

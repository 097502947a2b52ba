"""Runs to and from JSON: the stored input snapshot and the result (INTERFACES §5).

Every amount is a string with exactly two decimals; bases keep their exact value (at least two
decimals). Members are listed by member code.
"""

from __future__ import annotations

from decimal import Decimal

from ledger.i18n import Message
from ledger.money import fmt
from payouts.runs.rules import Check, Line, MemberInput, MemberResult, RunInput, RunResult, Trade


def fmt_basis(value: Decimal) -> str:
    """Exact, with at least two decimals: 120000 -> "120000.00", 2.125 -> "2.125"."""
    value = value.normalize() if value != value.to_integral_value() else value.quantize(Decimal(1))
    return f"{value:.2f}" if -value.as_tuple().exponent <= 2 else format(value, "f")


def input_to_json(data: RunInput) -> dict:
    return {
        "entity": data.entity, "kind": data.kind, "year": data.year, "surplus": fmt(data.surplus),
        "opening_undistributed": fmt(data.opening_undistributed), "subsidy_fund": fmt(data.subsidy_fund),
        "year_days": data.year_days, "sources": [[label, fmt(amount)] for label, amount in data.sources],
        "members": [{
            "code": m.code, "member_no": m.member_no, "name": m.name, "farmer": m.farmer, "days": m.days,
            "trade": [[t.kind, t.product, str(t.quantity), fmt(t.amount)] for t in m.trade],
            "capital": [[form, fmt(amount)] for form, amount in m.capital],
            "reserve_share": fmt(m.reserve_share), "land_shares": str(m.land_shares),
            "labor_days": str(m.labor_days), "debt": fmt(m.debt), "land_consent": m.land_consent,
            **({"fund_share": fmt(m.fund_share)} if m.fund_share else {}),
            **({"shares": str(m.shares)} if m.shares else {}),
        } for m in data.members],
    }


def input_from_json(data: dict) -> RunInput:
    D = Decimal
    return RunInput(
        entity=data["entity"], kind=data["kind"], year=data["year"], surplus=D(data["surplus"]),
        opening_undistributed=D(data["opening_undistributed"]), subsidy_fund=D(data["subsidy_fund"]),
        year_days=data["year_days"], sources=tuple((label, D(a)) for label, a in data["sources"]),
        members=tuple(MemberInput(
            code=m["code"], member_no=m["member_no"], name=m["name"], farmer=m["farmer"], days=m["days"],
            trade=tuple(Trade(k, p, D(q), D(a)) for k, p, q, a in m["trade"]),
            capital=tuple((f, D(a)) for f, a in m["capital"]), reserve_share=D(m["reserve_share"]),
            land_shares=D(m["land_shares"]), labor_days=D(m["labor_days"]), debt=D(m["debt"]),
            land_consent=m["land_consent"], fund_share=D(m.get("fund_share", "0")),
            shares=D(m.get("shares", "0"))) for m in data["members"]))


def result_to_json(result: RunResult, *, entity: str, year: int) -> dict:
    return {
        "entity": entity, "year": year, "surplus": fmt(result.surplus), "prior_loss": fmt(result.prior_loss),
        "brought_forward": fmt(result.brought_forward),
        "reserves": [{"name": n, "amount": fmt(a)} for n, a in result.reserves],
        "distributable": fmt(result.distributable),
        "preferred": [{"name": n, "amount": fmt(a)} for n, a in result.preferred],
        "pools": [{"name": n, "basis": b, "amount": fmt(a), "basis_total": fmt_basis(t),
                   "patronage": n in result.patronage_pools} for n, b, a, t in result.pools],
        "members": [_member_json(m) for m in sorted(result.members, key=lambda m: m.code)],
        "checks": [_check_json(c) for c in result.checks],
    }


def _check_json(check: Check) -> dict:
    """A check as the run's JSON shows it (``detail`` in English); ``message`` keeps it translatable."""
    shown = {"rule": check.rule, "ok": check.ok, "detail": str(check.detail)}
    if isinstance(check.detail, Message):
        shown["message"] = check.detail.to_json()
    return shown


def check_detail(check: dict) -> Message | str:
    """A stored check's detail, translatable when the run kept its message (runs stored earlier: the text)."""
    return Message.from_json(check["message"]) if "message" in check else check["detail"]


def _member_json(m: MemberResult) -> dict:
    return {
        "member": m.code, "member_no": m.member_no, "name": m.name,
        "lines": [{"pool": ln.pool, "basis_kind": ln.basis_kind, "basis": fmt_basis(ln.basis),
                   "basis_total": fmt_basis(ln.basis_total), "pool_amount": fmt(ln.pool_amount),
                   "amount": fmt(ln.amount)} for ln in m.lines],
        "preferred": [{"name": n, "amount": fmt(a)} for n, a in m.preferred],
        "total": fmt(m.total), "deductions": fmt(m.deductions), "net": fmt(m.net),
        "reserve_share": fmt(m.reserve_share), "subsidy_share": fmt(m.subsidy_share),
        "sources": [{"from": label, "amount": fmt(a)} for label, a in m.sources],
    }


def result_from_json(data: dict) -> RunResult:
    """Rebuild a RunResult from stored JSON (for posting exactly what was approved)."""
    D = Decimal
    return RunResult(
        surplus=D(data["surplus"]), prior_loss=D(data["prior_loss"]), brought_forward=D(data["brought_forward"]),
        reserves=tuple((r["name"], D(r["amount"])) for r in data["reserves"]),
        distributable=D(data["distributable"]),
        preferred=tuple((p["name"], D(p["amount"])) for p in data["preferred"]),
        pools=tuple((p["name"], p["basis"], D(p["amount"]), D(p["basis_total"])) for p in data["pools"]),
        members=tuple(MemberResult(
            code=m["member"], member_no=m["member_no"], name=m["name"],
            lines=tuple(Line(ln["pool"], ln["basis_kind"], D(ln["basis"]), D(ln["basis_total"]), D(ln["pool_amount"]),
                             D(ln["amount"])) for ln in m["lines"]),
            preferred=tuple((p["name"], D(p["amount"])) for p in m["preferred"]), total=D(m["total"]),
            deductions=D(m["deductions"]), net=D(m["net"]), reserve_share=D(m["reserve_share"]),
            subsidy_share=D(m["subsidy_share"]), sources=tuple((s["from"], D(s["amount"])) for s in m["sources"]))
            for m in data["members"]),
        checks=tuple(Check(c["rule"], c["ok"], check_detail(c))
                     for c in data["checks"]),
        patronage_pools=patronage_pools(data))


def patronage_pools(data: dict) -> tuple[str, ...]:
    """The pools of a stored result that return surplus by members' trade (盈余返还): as the result says, or for
    one stored before it said so, the pools by transactions."""
    return tuple(p["name"] for p in data["pools"] if p.get("patronage", p["basis"] == "transactions"))


def run_json(run) -> dict:
    """A run as ``coopledger distribute --json`` and ``GET /api/v1/runs/<id>`` give it (INTERFACES §5)."""
    result = run.result
    checks = [{k: c[k] for k in ("rule", "ok", "detail")} for c in result.get("checks", [])]   # not the kept message
    return {"run": run.id, "status": run.status, **result, "checks": checks}

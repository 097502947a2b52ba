"""Each distribution line in words a villager can check with a calculator.

    你家交售额 12,000.00 元，占全体成员交售额 65,500.00 元的 18.32%，返还 39,096.00 × 18.32% ≈ 7,162.63 元

The percentage is shown to two decimals; the amount itself is computed from the exact proportion and
split to the fen by largest remainder, so "≈" is printed whenever the rounded percentage would not give
the amount exactly. Pure: a line (as stored in a run's JSON) and a locale in, a sentence out.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ledger.i18n import format_money

TEXTS = {
    "zh": {
        ("transactions", "amount"): "你家{what}交易额 {basis} 元，占全体成员交易额 {total} 元的 {pct}%",
        ("transactions", "quantity"): "你家{what}交易量 {basis} 公斤，占全体成员交易量 {total} 公斤的 {pct}%",
        ("capital", None): "你家出资、公积金份额和量化补助共 {basis} 元，占全体成员 {total} 元的 {pct}%",
        ("land", None): "你家土地股 {basis} 股，占全部 {total} 股的 {pct}%",
        ("labor", None): "你家出工 {basis} 天，占全体成员 {total} 天的 {pct}%",
        ("shares", None): "你家持有集体资产份额 {basis} 股，占全部 {total} 股的 {pct}%",
        ("equal", None): "全体成员平均分配，你家占 {basis} 份，共 {total} 份",
        "result": "，{pool}按此分配：{pool_amount} × {pct}% {eq} {amount} 元",
        "preferred": "{name}：按优先股固定收益分得 {amount} 元",
    },
    "en": {
        ("transactions", "amount"): "Your household's trade{what} was {basis} yuan, {pct}% of all members' {total} yuan",
        ("transactions", "quantity"): "Your household delivered{what} {basis} kg, {pct}% of all members' {total} kg",
        ("capital", None): "Your capital, reserve share and quantified subsidy share total {basis} yuan, {pct}% of all members' {total} yuan",
        ("land", None): "Your household holds {basis} land shares, {pct}% of all {total} shares",
        ("labor", None): "Your household worked {basis} days, {pct}% of all members' {total} days",
        ("shares", None): "Your household holds {basis} shares of the collective's assets, {pct}% of all {total} shares",
        ("equal", None): "Shared equally: your household holds {basis} of {total} shares",
        "result": "; {pool} shared accordingly: {pool_amount} × {pct}% {eq} {amount} yuan",
        "preferred": "{name}: fixed return on preferred shares {amount} yuan",
    },
}
POOL_NAMES = {"zh": {"patronage": "盈余返还", "residual": "剩余盈余", "land": "土地分红", "labor": "劳务分红",
                     "shares": "股份分红", "investment": "投资分红"}, "en": {}}


def _lang(locale: str) -> str:
    return "zh" if str(locale).startswith("zh") else "en"


def _number(value: Decimal, locale: str) -> str:
    """A quantity as written: 2.5, 1,230, 12.125 (no trailing zeros, thousands grouped)."""
    text = format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))
    if "." in text:
        whole, frac = text.split(".")
    else:
        whole, frac = text, ""
    grouped = f"{int(whole):,}" if whole.lstrip("-").isdigit() else whole
    return grouped + (f".{frac}" if frac else "")


def explain_line(line: dict, *, locale: str = "zh_Hans_CN", pool_label: str | None = None) -> str:
    """The sentence for one line of a member's distribution (a dict from the run's JSON)."""
    lang = _lang(locale)
    texts = TEXTS[lang]
    basis, total = Decimal(line["basis"]), Decimal(line["basis_total"])
    pool_amount, amount = Decimal(line["pool_amount"]), Decimal(line["amount"])
    kind = line["basis_kind"]
    measure = line.get("measure", "amount") if kind == "transactions" else None
    pct = (basis / total * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if total else Decimal("0.00")
    exact = (pool_amount * pct / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == amount
    def money(value: Decimal) -> str:
        return format_money(value, locale="zh_Hans_CN" if lang == "zh" else "en")

    what = line.get("products_text", "")
    is_money = kind in ("capital",) or (kind == "transactions" and measure == "amount")
    head = texts[(kind, measure)].format(
        what=what, basis=money(basis) if is_money else _number(basis, locale),
        total=money(total) if is_money else _number(total, locale), pct=pct)
    pool = pool_label or POOL_NAMES[lang].get(line["pool"], line["pool"])
    tail = texts["result"].format(pool=pool, pool_amount=money(pool_amount), pct=pct, eq="=" if exact else "≈",
                                  amount=money(amount))
    return head + tail


def explain_preferred(name: str, amount: str, *, locale: str = "zh_Hans_CN") -> str:
    lang = _lang(locale)
    return TEXTS[lang]["preferred"].format(name=name, amount=format_money(Decimal(amount), locale="en"))

"""What each source record posts: pure functions from a record's values to journal legs.

Legs name account *roles* resolved through the entity's chart (``ledger.chart``), so a delivery posts
Dr 521 / Cr 114 in a cooperative's books and Dr 502 / Cr 113 in a village collective's. The single-record
path and the bulk import path both build their entries from these legs, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledger.chart import account_for_role
from ledger.entries import PostingDraft
from ledger.money import quantize

EXPENSE_ROLES = {"operating": "operating_cost", "management": "management_cost", "finance": "finance_cost",
                 "tax": "tax_cost", "other": "other_cost", "public": "public_cost"}
CAPITAL_ROLES = {"cash": "bank", "land": "intangible", "in_kind": "investment_asset", "poverty_asset": "investment_asset"}
RECORD_MEMOS = {
    "capital": "股金", "labor": "用工", "deliveries": "交售", "inputs": "农资代购", "sales": "销售",
    "expenses": "费用", "subsidies": "补助", "advances": "借支", "payments": "付款", "income": "投资收益",
    "land_rent": "土地保底租金", "transfers": "提现存现", "journal": "记账凭证", "receipts": "收款", "stock": "期末盘点",
    "stock_back": "期初存货转回", "assets": "固定资产", "asset_in_use": "在建工程转固", "depreciation": "计提折旧", "amortisation": "无形资产摊销",
    "disposal": "固定资产清理",
}
#: where money is paid from or into (a record's ``paid_by``, ``method``, ``from_account``/``to_account``)
MONEY_ROLES = {"cash": "cash", "bank": "bank", "mobile": "mobile"}
#: charts whose fiscal subsidies wait in 专项应付款 until used (books-review W2: the 2021 system's acct 235 三 and
#: 311 二; a collective's project money in 241 until it forms assets, then 公积公益金 — collective2023.md §2 241,
#: books-review §2 W8). The 2004 collective chart books them as 补助收入 when received, as its books always did.
SUBSIDIES_WAIT = frozenset({"fpc2021", "collective2023"})


def _leg(chart: str, role: str, amount: Decimal, party: str | None = None) -> PostingDraft:
    if role == "investment_asset":      # in-kind and poverty-asset capital is a fixed asset
        code = "151"
    else:
        code = account_for_role(chart, role)
    return PostingDraft(code, amount, party)


def legs_for(kind: str, chart: str, values: dict, party: str | None) -> list[PostingDraft]:
    """The journal legs a record of ``kind`` with ``values`` posts (debits positive)."""
    amount: Decimal = values["amount"]
    L = lambda role, a, p=None: _leg(chart, role, a, p)  # noqa: E731
    if kind == "capital":     # put in kind: on the account of what was put in (121, 142, 151 …; default 151)
        form = values.get("form") or "cash"
        if form in ("in_kind", "poverty_asset") and values.get("account"):
            return [PostingDraft(values["account"], amount), L("capital", -amount, party)]
        return [L(CAPITAL_ROLES[form], amount), L("capital", -amount, party)]
    if kind == "labor":
        return [L("operating_cost", amount), L("labor_payable", -amount, party)]
    if kind == "deliveries":
        legs = [L("operating_cost", amount), L("member_current", -amount, party)]
        if values.get("paid", True):
            legs += [L("member_current", amount, party), L(MONEY_ROLES[values.get("paid_by") or "cash"], -amount)]
        return legs
    if kind == "inputs":
        legs = [L("member_current", amount, party), L("bank", -amount)]
        if not values.get("on_credit", True):
            legs += [L("cash", amount), L("member_current", -amount, party)]
        return legs
    if kind == "sales":       # on credit: owed by the buyer (应收款), or by the member who bought (成员往来)
        paid_by = values.get("paid_by") or "bank"
        if paid_by == "credit":
            owed = L("member_current", amount, party) if party else L("receivable", amount)
        else:
            owed = L(MONEY_ROLES[paid_by], amount)
        return [owed, L("sales_income", -amount)]
    if kind == "expenses":    # paid out of a subsidy project: its 专项应付款 is used up, not a cost of the year
        spent = "special_payable" if values.get("project") and chart in SUBSIDIES_WAIT else EXPENSE_ROLES[values["category"]]
        return [L(spent, amount), L(MONEY_ROLES[values.get("paid_by") or "bank"], -amount)]
    if kind == "assets":      # bought or being built; one a subsidy paid for moves that much of 235 to 311
        legs = []
        if values.get("paid_by") != "in_kind":          # (put in as capital: the capital record posted it)
            legs = [L("construction" if values.get("under_construction") else "fixed_asset", amount),
                    L(MONEY_ROLES[values.get("paid_by") or "bank"], -amount)]
        if values.get("project") and chart in SUBSIDIES_WAIT:
            legs += [L("special_payable", amount), L("special_fund", -amount)]
        return legs
    if kind == "asset_in_use":     # 在建工程 finished: 转入固定资产
        return [L("fixed_asset", amount), L("construction", -amount)]
    if kind == "depreciation":
        return [L("operating_cost", amount), L("accumulated_depreciation", -amount)]
    if kind == "amortisation":     # a land right put in as capital (161), over the contract's remaining term
        return [L("operating_cost", amount), L("accumulated_amortisation", -amount)]
    if kind == "stock":           # unsold at the year end: not a cost of this year (121), back on 1 January
        return [L("inventory", amount), L("operating_cost", -amount)]
    if kind == "stock_back":
        return [L("operating_cost", amount), L("inventory", -amount)]
    if kind == "receipts":
        return [L(MONEY_ROLES[values.get("method") or "bank"], amount), L("receivable", -amount)]
    if kind == "transfers":
        return [L(MONEY_ROLES[values["to_account"]], amount), L(MONEY_ROLES[values["from_account"]], -amount)]
    if kind == "subsidies":   # a fiscal subsidy waits in 235 until it is used (above); before 0018 it did not
        if values.get("kind") == "fiscal" and chart in SUBSIDIES_WAIT and values.get("held", True):
            return [L("bank", amount), L("special_payable", -amount)]
        if values.get("kind") == "fiscal":
            return [L("bank", amount), L("special_payable", -amount),
                    L("special_payable", amount), L("special_fund", -amount)]
        return [L("bank", amount), L("special_fund", -amount)]
    if kind == "advances":
        return [L("member_current", amount, party), L("cash", -amount)]
    if kind == "payments":     # wages are paid out of what 应付劳务费 owes (books-review W3), the rest out of 114
        owed = "labor_payable" if values.get("paid_for") == "labor" else "member_current"
        return [L(owed, amount, party), L(MONEY_ROLES[values.get("method") or "bank"], -amount)]
    if kind == "income":      # receivable: a member entity's share of a cluster project's run, not yet paid
        return [L("receivable" if values.get("receivable") else "bank", amount), L("investment_income", -amount)]
    if kind == "land_rent":
        return [L("operating_cost", amount), L("member_current", -amount, party)]
    raise ValueError(f"no postings defined for record kind {kind!r}")


#: the values legs_for looks at besides the amount: records alike in these post to the same accounts
SHAPE_KEYS = ("form", "paid", "on_credit", "category", "kind", "method", "receivable", "paid_for", "paid_by",
              "from_account", "to_account", "project", "account")


def leg_shape(kind: str, chart: str, values: dict, party: str | None, _cache: dict = {}) -> tuple:  # noqa: B006
    """``((account, sign, party), …)``: where a record like ``values`` posts, whatever its amount.

    The bulk import sums amounts per (account, member) through this instead of building legs per row.
    """
    get = values.get
    key = (kind, chart, party, get("form"), get("paid"), get("on_credit"), get("category"), get("kind"), get("method"),
           get("receivable"), get("paid_for"), get("paid_by"), get("from_account"), get("to_account"), bool(get("project")),
           get("account"))
    shape = _cache.get(key)
    if shape is None:
        unit = dict(values, amount=Decimal(1))
        shape = _cache[key] = tuple((leg.account, int(leg.amount), leg.party)
                                    for leg in legs_for(kind, chart, unit, party))
    return shape


def merge_legs(legs: list[PostingDraft]) -> tuple[PostingDraft, ...]:
    """Net legs per (account, member) for a summary voucher (汇总凭证); legs that net to zero drop out
    (a delivery paid in cash on the spot leaves Dr 521 / Cr 101 and nothing on the member's account).
    The member's trade itself stays in the source records, which the voucher's records point to."""
    totals: dict[tuple[str, str | None], Decimal] = {}
    for leg in legs:
        key = (leg.account, leg.party)
        totals[key] = totals.get(key, Decimal(0)) + leg.amount
    return legs_of(totals)


def legs_of(totals: dict[tuple[str, str | None], Decimal]) -> tuple[PostingDraft, ...]:
    """The legs of ``{(account, member): net amount}``, as :func:`merge_legs` orders them (debits first)."""
    ordered = sorted(totals.items(), key=lambda kv: (kv[1] < 0, kv[0][0], kv[0][1] or ""))
    return tuple(PostingDraft(account, amount, party) for (account, party), amount in ordered if amount != 0)


def year_fraction_days(start: dt.date, end: dt.date | None, year: int) -> tuple[int, int]:
    """(days the contract covers in ``year``, days in ``year``)."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    lo, hi = max(start, first), min(end or last, last)
    return max((hi - lo).days + 1, 0), (last - first).days + 1


def land_rent_for_year(area_mu: Decimal, rent_per_mu: Decimal, start: dt.date, end: dt.date | None,
                       year: int) -> Decimal:
    """The base rent a contract costs in ``year``: area × rent per 亩, pro-rated by days for part-years."""
    covered, days = year_fraction_days(start, end, year)
    return quantize(area_mu * rent_per_mu * covered / days)


def _month(on: dt.date) -> int:
    return on.year * 12 + on.month - 1


def depreciation_for_year(cost: Decimal, salvage_pct: Decimal, life_years: int, use_from: dt.date | None, year: int,
                          disposed_on: dt.date | None = None) -> Decimal:
    """An asset's depreciation in ``year`` (平均年限法, by month): (cost − salvage) spread evenly over
    ``life_years`` × 12 months from the month after it came into use (当月增加的固定资产当月不提折旧), up to the
    month it is disposed of (当月减少的当月照提). Each year's figure is the cumulative amount to its end less the
    cumulative amount before it, both to the fen, so the years add up to the depreciable amount exactly."""
    if use_from is None:
        return Decimal("0.00")
    return straight_line_for_year(cost - quantize(cost * salvage_pct / 100), life_years * 12, use_from, year,
                                  disposed_on)


def months_through(start: dt.date, end: dt.date) -> int:
    """The months from the month after ``start`` to ``end``'s month, both included (0 when none)."""
    return max(_month(end) - _month(start), 0)


def straight_line_for_year(amount: Decimal, months: int, start: dt.date, year: int,
                           stop: dt.date | None = None) -> Decimal:
    """``year``'s part of ``amount`` spread evenly over ``months`` months from the month after ``start`` (up to
    ``stop``'s month): the cumulative amount to the year's end less that before it, both to the fen."""
    if months <= 0:
        return Decimal("0.00")
    first = _month(start) + 1
    last = first + months - 1
    if stop is not None:
        last = min(last, _month(stop))

    def through(month: int) -> Decimal:             # the part of the months first … month
        n = min(max(month - first + 1, 0), max(last - first + 1, 0))
        return quantize(amount * n / months)

    return through(year * 12 + 11) - through(year * 12 - 1)


def straight_line_to(amount: Decimal, months: int, start: dt.date, year: int) -> Decimal:
    """What :func:`straight_line_for_year` gives for all the years up to ``year``'s end."""
    if months <= 0:
        return Decimal("0.00")
    n = min(max(year * 12 + 11 - _month(start), 0), months)
    return quantize(amount * n / months)

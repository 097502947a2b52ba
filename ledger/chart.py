"""Charts of accounts, and the roles record-keeping code posts to.

Three charts ship:

* ``fpc2021`` — 农民专业合作社会计制度 (财会〔2021〕37号), all 48 accounts, with 332 盈余分配 split into
  its two statutory sub-accounts 33201 各项分配 and 33202 未分配盈余. Used by farmer cooperatives,
  land-share cooperatives (legally farmer cooperatives) and cluster projects.
* ``collective2004`` — 村集体经济组织会计制度 (财会〔2004〕12号), with 322 收益分配 split into 32201 各项分配
  and 32202 未分配收益, plus the common local variants 161 无形资产 and 241 专项应付款.

Code that records activity never names an account code: it names a *role* ("member_current",
"sales_income", …) and :func:`account_for_role` maps the role to the chart's code, so the same
operation posts correctly in a cooperative's books and in a village collective's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from ledger.i18n import N_


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    COST = "cost"
    INCOME = "income"
    EXPENSE = "expense"


ACCOUNT_TYPE_LABELS = {
    AccountType.ASSET: N_("Assets"),
    AccountType.LIABILITY: N_("Liabilities"),
    AccountType.EQUITY: N_("Owners' equity"),
    AccountType.COST: N_("Costs"),
    AccountType.INCOME: N_("Income"),
    AccountType.EXPENSE: N_("Expenses"),
}


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    type: AccountType
    parent: str | None = None
    postable: bool = True


# short names keep the chart tables below readable
A, L, E, C, I, X = (AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY,  # noqa: E741
                    AccountType.COST, AccountType.INCOME, AccountType.EXPENSE)

FPC2021: tuple[AccountSpec, ...] = tuple(AccountSpec(*row) for row in (
    ("101", "库存现金", A), ("102", "银行存款", A), ("109", "其他货币资金", A), ("113", "应收款", A), ("114", "成员往来", A),
    ("121", "产品物资", A), ("124", "委托加工物资", A), ("125", "委托代销商品", A), ("127", "受托代购商品", A),
    ("128", "受托代销商品", A), ("131", "对外投资", A), ("141", "消耗性生物资产", A), ("142", "生产性生物资产", A),
    ("143", "生产性生物资产累计折旧", A), ("144", "公益性生物资产", A), ("151", "固定资产", A), ("152", "累计折旧", A),
    ("153", "在建工程", A), ("154", "固定资产清理", A), ("161", "无形资产", A), ("162", "累计摊销", A),
    ("171", "长期待摊费用", A), ("181", "待处理财产损溢", A),
    ("201", "短期借款", L), ("211", "应付款", L), ("212", "应付工资", L), ("213", "应付劳务费", L),
    ("214", "应交税费", L), ("215", "应付利息", L), ("221", "应付盈余返还", L), ("222", "应付剩余盈余", L),
    ("231", "长期借款", L), ("235", "专项应付款", L),
    ("301", "股金", E), ("311", "专项基金", E), ("321", "资本公积", E), ("322", "盈余公积", E),
    ("331", "本年盈余", E), ("332", "盈余分配", E, None, False),
    ("33201", "盈余分配—各项分配", E, "332"), ("33202", "盈余分配—未分配盈余", E, "332"),
    ("401", "生产成本", C),
    ("501", "经营收入", I), ("502", "其他收入", I), ("511", "投资收益", I),
    ("521", "经营支出", X), ("522", "税金及附加", X), ("523", "管理费用", X), ("524", "财务费用", X),
    ("529", "其他支出", X), ("531", "所得税费用", X),
))

COLLECTIVE2004: tuple[AccountSpec, ...] = tuple(AccountSpec(*row) for row in (
    ("101", "现金", A), ("102", "银行存款", A), ("111", "短期投资", A), ("112", "应收款", A),
    ("113", "内部往来", A), ("121", "库存物资", A), ("131", "牲畜(禽)资产", A), ("132", "林木资产", A),
    ("141", "长期投资", A), ("151", "固定资产", A), ("152", "累计折旧", A), ("153", "固定资产清理", A),
    ("154", "在建工程", A), ("161", "无形资产", A),
    ("201", "短期借款", L), ("202", "应付款", L), ("211", "应付工资", L), ("212", "应付福利费", L),
    ("221", "长期借款及应付款", L), ("231", "一事一议资金", L), ("241", "专项应付款", L),
    ("301", "资本", E), ("311", "公积公益金", E), ("321", "本年收益", E), ("322", "收益分配", E, None, False),
    ("32201", "收益分配—各项分配", E, "322"), ("32202", "收益分配—未分配收益", E, "322"),
    ("401", "生产(劳务)成本", C),
    ("501", "经营收入", I), ("511", "发包及上交收入", I), ("521", "农业税附加返还收入", I), ("522", "补助收入", I),
    ("531", "其他收入", I), ("561", "投资收益", I),
    ("502", "经营支出", X), ("541", "管理费用", X), ("551", "其他支出", X),
))

#: 财会〔2023〕14号, the 42 accounts (collective2023.md §1: code, name, class; contra accounts 133/152/162 are
#: asset accounts with credit balances, as the 2021 cooperative chart keeps them)
COLLECTIVE2023: tuple[AccountSpec, ...] = tuple(AccountSpec(*row) for row in (
    ("101", "库存现金", A), ("102", "银行存款", A), ("111", "短期投资", A), ("112", "应收款", A),
    ("113", "内部往来", A), ("121", "库存物资", A), ("131", "消耗性生物资产", A), ("132", "生产性生物资产", A),
    ("133", "生产性生物资产累计折旧", A), ("134", "公益性生物资产", A), ("141", "长期投资", A),
    ("151", "固定资产", A), ("152", "累计折旧", A), ("153", "在建工程", A), ("154", "固定资产清理", A),
    ("161", "无形资产", A), ("162", "累计摊销", A), ("171", "长期待摊费用", A), ("181", "待处理财产损溢", A),
    ("201", "短期借款", L), ("211", "应付款", L), ("212", "应付工资", L), ("213", "应付劳务费", L),
    ("214", "应交税费", L), ("221", "长期借款及应付款", L), ("231", "一事一议资金", L), ("241", "专项应付款", L),
    ("301", "资本", E), ("311", "公积公益金", E), ("321", "本年收益", E), ("322", "收益分配", E, None, False),
    ("32201", "收益分配—各项分配", E, "322"), ("32202", "收益分配—未分配收益", E, "322"),
    ("401", "生产（劳务）成本", C),
    ("501", "经营收入", I), ("502", "投资收益", I), ("503", "补助收入", I), ("504", "其他收入", I),
    ("511", "经营支出", X), ("512", "税金及附加", X), ("513", "管理费用", X), ("514", "公益支出", X),
    ("515", "其他支出", X), ("521", "所得税费用", X),
))

CHARTS: dict[str, tuple[AccountSpec, ...]] = {"fpc2021": FPC2021, "collective2004": COLLECTIVE2004,
                                              "collective2023": COLLECTIVE2023}

#: role -> account code, per chart. Roles are what operations post to.
ROLES: dict[str, dict[str, str]] = {
    "fpc2021": {
        "cash": "101", "bank": "102", "mobile": "109", "receivable": "113", "member_current": "114", "inventory": "121",
        "investment": "131", "intangible": "161", "payable": "211", "labor_payable": "213", "tax_payable": "214",
        "patronage_payable": "221", "residual_payable": "222", "special_payable": "235",
        "capital": "301", "special_fund": "311", "reserve": "322", "current_surplus": "331",
        "allocations": "33201", "undistributed": "33202", "production_cost": "401",
        "sales_income": "501", "other_income": "502", "investment_income": "511",
        "operating_cost": "521", "tax_cost": "522", "management_cost": "523", "finance_cost": "524",
        "other_cost": "529", "income_tax": "531",
        "fixed_asset": "151", "accumulated_depreciation": "152", "construction": "153", "disposal": "154",
        "accumulated_amortisation": "162",
    },
    "collective2004": {
        # (the 2004 system has no 其他货币资金: money on a payment platform is kept with the bank's)
        "cash": "101", "bank": "102", "mobile": "102", "receivable": "112", "member_current": "113", "inventory": "121",
        "investment": "141", "intangible": "161", "payable": "202", "labor_payable": "211", "tax_payable": "202",
        "patronage_payable": "113", "residual_payable": "113", "special_payable": "241",
        "capital": "301", "special_fund": "522", "reserve": "311", "current_surplus": "321",
        "allocations": "32201", "undistributed": "32202", "production_cost": "401",
        "sales_income": "501", "other_income": "531", "investment_income": "561",
        "operating_cost": "502", "tax_cost": "551", "management_cost": "541", "finance_cost": "541",
        "other_cost": "551", "income_tax": "551",
        # (the 2004 system numbers 153 固定资产清理 and 154 在建工程 the other way round from the 2021 one)
        "fixed_asset": "151", "accumulated_depreciation": "152", "construction": "154", "disposal": "153",
        # Kept as they were when these books were written, so that a record voids exactly as it posted: the 2004
        # system is repealed, its books are carried over to the 2023 chart, whose roles are right (books-review
        # W8: a donation is 公积公益金, project money waits in 241, interest is 其他支出). A 公益 expense: 其他支出.
        "public_cost": "551", "subsidy_income": "522",
    },
    "collective2023": {      # collective2023.md §2: the reconstruction of the 2023 entries, each with its source
        "cash": "101", "bank": "102", "mobile": "102", "receivable": "112", "member_current": "113",
        "inventory": "121", "investment": "141", "intangible": "161", "payable": "211", "labor_payable": "213",
        "tax_payable": "214", "patronage_payable": "113", "residual_payable": "113", "special_payable": "241",
        "capital": "301", "special_fund": "311", "reserve": "311", "current_surplus": "321",
        "allocations": "32201", "undistributed": "32202", "production_cost": "401",
        "sales_income": "501", "other_income": "504", "investment_income": "502", "subsidy_income": "503",
        "operating_cost": "511", "tax_cost": "512", "management_cost": "513", "public_cost": "514",
        "finance_cost": "515", "other_cost": "515", "income_tax": "521",
        "fixed_asset": "151", "accumulated_depreciation": "152", "construction": "153", "disposal": "154",
        "accumulated_amortisation": "162",
    },
}

#: the income accounts a township counts as a book's operating income (经营收入; in 2004 also 发包及上交收入) — the
#: rest of its income is investment income (the ``investment_income`` role), subsidies or other income
OPERATING_INCOME: dict[str, tuple[str, ...]] = {"fpc2021": ("501",), "collective2004": ("501", "511"),
                                                "collective2023": ("501",)}

#: Income and expense accounts are closed into the year's surplus at year end.
PROFIT_AND_LOSS = (AccountType.INCOME, AccountType.EXPENSE)


def account_for_role(chart: str, role: str) -> str:
    """The account code playing ``role`` in ``chart``; KeyError names both if there is none."""
    try:
        return ROLES[chart][role]
    except KeyError:
        raise KeyError(f"chart {chart!r} has no account for role {role!r}") from None


@functools.cache
def spec_by_code(chart: str) -> dict[str, AccountSpec]:
    return {spec.code: spec for spec in CHARTS[chart]}


@functools.cache
def _spec_by_name(chart: str) -> dict[str, AccountSpec]:
    return {spec.name: spec for spec in CHARTS[chart]}


def account_named(chart: str, given: str) -> AccountSpec | None:
    """The account of ``chart`` that ``given`` names as people write it: its code, its name, or both
    ("101 库存现金"); None when it names none."""
    specs = spec_by_code(chart)
    return specs.get(given) or _spec_by_name(chart).get(given) or specs.get(given.split(" ", 1)[0])


#: 财会〔2023〕20号 (collective2023.md 衔接 §3): each 2004 account -> (the 2023 account its 2023-12-31 balance goes to,
#: the rule as the 转账工作底稿 states it). By meaning, never by code: ten codes mean something else in 2023. Where the
#: rule splits an account by what is in it (131, 132, 202, 212), the default is the usual case and the accountant
#: names another target (``--map``). Income and expense accounts have no balance once a year is closed; one not
#: closed carries its result into 未分配收益.
CARRY_OVER_2004_2023: dict[str, tuple[str, str]] = {
    "101": ("101", "直接转入（现金更名为库存现金）"), "102": ("102", "直接转入"), "111": ("111", "直接转入"),
    "112": ("112", "直接转入"), "113": ("113", "直接转入，按成员明细借、贷方余额分别转入，不相抵"),
    "121": ("121", "直接转入"),
    "131": ("131", "牲畜（禽）资产：幼畜及育肥畜转入消耗性生物资产；产役畜应转入 132 生产性生物资产"),
    "132": ("132", "林木资产：经济林、薪炭林转入生产性生物资产；用材林应转入 131，防护林应转入 134"),
    "141": ("141", "直接转入"), "151": ("151", "直接转入"), "152": ("152", "直接转入"),
    "153": ("154", "固定资产清理：编号由 153 改为 154"), "154": ("153", "在建工程：编号由 154 改为 153"),
    "161": ("161", "直接转入"), "201": ("201", "直接转入"),
    "202": ("211", "应付款：编号由 202 改为 211（应付临时用工报酬应转入 213，应交税费转入 214）"),
    "211": ("212", "应付工资：编号由 211 改为 212"),
    "212": ("211", "应付福利费已取消：余额转入应付款（超支部分可转入 311 公积公益金）"),
    "221": ("221", "直接转入"), "231": ("231", "直接转入"), "241": ("241", "直接转入"), "301": ("301", "直接转入"),
    "311": ("311", "直接转入"), "321": ("32202", "本年收益：余额转入收益分配—未分配收益"),
    "32201": ("32202", "各项分配：余额转入收益分配—未分配收益"), "32202": ("32202", "直接转入"),
    "401": ("401", "直接转入"),
}
#: what a 2004 211 应付工资 balance kept by member carries to: wages a member's labour records still owe (临时用工,
#: paid out of 213 on the 2023 chart), by member
CARRY_OVER_WAGES_OWED = ("213", "应付工资中欠成员的劳务报酬（临时性用工）：转入应付劳务费，按成员")
#: what the 2004 income and expense accounts carry to (a year not closed: its result is 未分配收益)
CARRY_OVER_RESULT = ("32202", "损益类：年末应无余额；未结转的收益转入收益分配—未分配收益")

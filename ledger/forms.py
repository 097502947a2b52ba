"""The statutory statements of each chart, as data: which forms a chart's system has, and each form's lines
with the formula that fills them. :mod:`payouts.reports.statutory` reads the books and evaluates these; it holds
no account code of its own, so a chart added later brings its forms here as tables, not as code
(``reference/house-review.md`` §2.3).

A line is ``(label, 行次, style, formula)`` with an optional fifth item, its key (default: the 行次, or for a line
without one its label). ``style``: ``heading`` (no values), ``item``, ``sub`` or ``total``. A formula is terms
joined by `` + `` and `` - ``:

* balance sheets (科目期末余额): ``dr:101,102`` the balances as a debit-side figure, ``cr:201`` as a credit-side
  one, ``members_dr`` / ``members_cr`` the members' debit / credit balances on the current account (应收款项 /
  应付款项 take them apart, not netted), ``retained:321,32201,32202`` 未分配盈余/收益 (those plus every income and
  expense balance not yet closed);
* income statements (本年发生额): ``income:501``, ``cost:511``, ``opening`` 年初未分配, ``other`` 其他转入,
  ``dist:311`` what the run in force credited to the account from 各项分配, ``dist_rest`` what it credited to
  any account no ``dist:`` of the form names;
* ``[key]`` another line's figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class FormLine:
    key: str
    label: str
    no: int | None
    style: str
    formula: str


@dataclass(frozen=True)
class Form:
    number: str                         # 会农社01表; "" where the form's number is not known
    title: str
    period: str                         # "{}年12月31日", "{}年度"
    columns: tuple[tuple[str, str], ...]   # (heading, which: closing | opening | this | last)
    lines: tuple[FormLine, ...]
    #: one line printed under the form, e.g. that its layout is our reading of a text we could not read
    note: str = ""


def _lines(*rows) -> tuple[FormLine, ...]:
    out = []
    for label, no, style, formula, *key in rows:
        out.append(FormLine(key[0] if key else (str(no) if no is not None else label), label, no, style, formula))
    keys = [line.key for line in out if line.style != "heading"]
    assert len(keys) == len(set(keys)), f"two lines share a key in {keys}"
    return tuple(out)


def _sum(*keys) -> str:
    return " + ".join(f"[{k}]" for k in keys)


H = ""          # a heading has no formula
BS_COLUMNS = (("期末余额", "closing"), ("年初余额", "opening"))
IS_COLUMNS = (("本年金额", "this"), ("上年金额", "last"))

# ----------------------------------------------------------------------------- fpc2021 (财会〔2021〕37号)

#: 会农社01表 lines 1–42 (domain.md §2.4; 应收/应付款项 and 存货 per §2.2)
FPC_BALANCE_SHEET = _lines(
    ("流动资产：", None, "heading", H), ("货币资金", 1, "item", "dr:101,102,109"),
    ("应收款项", 2, "item", "dr:113 + members_dr"), ("存货", 3, "item", "dr:121,124,125,127,128,401"),
    ("消耗性生物资产", 4, "item", "dr:141"), ("流动资产合计", 5, "total", _sum(1, 2, 3, 4)),
    ("非流动资产：", None, "heading", H), ("对外投资", 6, "item", "dr:131"),
    ("生产性生物资产原值", 7, "item", "dr:142"), ("减：生产性生物资产累计折旧", 8, "item", "cr:143"),
    ("生产性生物资产净值", 9, "item", "[7] - [8]"),
    ("固定资产原值", 10, "item", "dr:151"), ("减：累计折旧", 11, "item", "cr:152"), ("固定资产净值", 12, "item", "[10] - [11]"),
    ("在建工程", 13, "item", "dr:153"), ("固定资产清理", 14, "item", "dr:154"), ("固定资产小计", 15, "item", _sum(12, 13, 14)),
    ("无形资产原值", 16, "item", "dr:161"), ("减：累计摊销", 17, "item", "cr:162"), ("无形资产净值", 18, "item", "[16] - [17]"),
    ("公益性生物资产", 19, "item", "dr:144"), ("长期待摊费用", 20, "item", "dr:171"),
    ("非流动资产合计", 21, "total", _sum(6, 9, 15, 18, 19, 20)), ("资产总计", 22, "total", _sum(5, 21)),
    ("流动负债：", None, "heading", H), ("短期借款", 23, "item", "cr:201"), ("应付款项", 24, "item", "cr:211 + members_cr"),
    ("应付工资", 25, "item", "cr:212"), ("应付劳务费", 26, "item", "cr:213"), ("应交税费", 27, "item", "cr:214"),
    ("应付利息", 28, "item", "cr:215"), ("应付盈余返还", 29, "item", "cr:221"), ("应付剩余盈余", 30, "item", "cr:222"),
    ("流动负债合计", 31, "total", _sum(*range(23, 31))),
    ("非流动负债：", None, "heading", H), ("长期借款", 32, "item", "cr:231"), ("专项应付款", 33, "item", "cr:235"),
    ("非流动负债合计", 34, "total", _sum(32, 33)), ("负债合计", 35, "total", _sum(31, 34)),
    ("所有者权益：", None, "heading", H), ("股金", 36, "item", "cr:301"), ("专项基金", 37, "item", "cr:311"),
    ("资本公积", 38, "item", "cr:321"), ("盈余公积", 39, "item", "cr:322"),
    ("未分配盈余", 40, "item", "retained:331,33201,33202"), ("所有者权益合计", 41, "total", _sum(*range(36, 41))),
    ("负债和所有者权益总计", 42, "total", _sum(35, 41)),
)

#: 会农社02表 lines 1–20 (本年盈余 per system Art. 52, 可分配盈余 per Art. 54)
FPC_SURPLUS = _lines(
    ("一、经营收入", 1, "total", "income:501"), ("加：投资收益", 2, "item", "income:511"),
    ("减：经营支出", 3, "item", "cost:521"), ("税金及附加", 4, "item", "cost:522"), ("管理费用", 5, "item", "cost:523"),
    ("财务费用", 6, "item", "cost:524"), ("二、经营收益", 7, "total", "[1] + [2] - [3] - [4] - [5] - [6]"),
    ("加：其他收入", 8, "item", "income:502"), ("减：其他支出", 9, "item", "cost:529"),
    ("三、盈余总额", 10, "total", "[7] + [8] - [9]"), ("减：所得税费用", 11, "item", "cost:531"),
    ("四、本年盈余", 12, "total", "[10] - [11]"), ("加：年初未分配盈余", 13, "item", "opening"),
    ("其他转入", 14, "item", "other"), ("减：提取盈余公积", 15, "item", "dist:322"),
    ("五、可分配盈余", 16, "total", "[12] + [13] + [14] - [15]"), ("减：盈余返还", 17, "item", "dist:221"),
    ("剩余盈余分配", 18, "item", "dist_rest"), ("转为成员出资", 19, "item", "dist:301"),
    ("六、年末未分配盈余", 20, "total", "[16] - [17] - [18] - [19]"),
)

# ----------------------------------------------------------------------- collective2004 (财会〔2004〕12号)

#: 村会01表 (collective2023.md §4.1, read from the form's image). 无形资产 and 专项应付款 are the common local
#: additions to the chart (no 行次 on the form).
COLLECTIVE2004_BALANCE_SHEET = _lines(
    ("流动资产：", None, "heading", H), ("货币资金", 1, "item", "dr:101,102"), ("短期投资", 2, "item", "dr:111"),
    ("应收款项", 5, "item", "dr:112 + members_dr"), ("存货", 8, "item", "dr:121,401"),
    ("流动资产合计", 9, "total", _sum(1, 2, 5, 8)),
    ("农业资产：", None, "heading", H), ("牲畜（禽）资产", 10, "item", "dr:131"), ("林木资产", 11, "item", "dr:132"),
    ("农业资产合计", 15, "total", _sum(10, 11)),
    ("长期资产：", None, "heading", H), ("长期投资", 16, "item", "dr:141"),
    ("固定资产原价", 19, "item", "dr:151"), ("减：累计折旧", 20, "item", "cr:152"), ("固定资产净值", 21, "item", "[19] - [20]"),
    ("固定资产清理", 22, "item", "dr:153"), ("在建工程", 23, "item", "dr:154"), ("固定资产合计", 26, "total", _sum(21, 22, 23)),
    ("无形资产", None, "item", "dr:161", "161"), ("资产总计", 32, "total", _sum(9, 15, 16, 26, 161)),
    ("流动负债：", None, "heading", H), ("短期借款", 35, "item", "cr:201"), ("应付款项", 36, "item", "cr:202 + members_cr"),
    ("应付工资", 37, "item", "cr:211"), ("应付福利费", 38, "item", "cr:212"), ("流动负债合计", 41, "total", _sum(35, 36, 37, 38)),
    ("长期负债：", None, "heading", H), ("长期借款及应付款", 42, "item", "cr:221"), ("一事一议资金", 43, "item", "cr:231"),
    ("专项应付款", None, "item", "cr:241", "241"), ("长期负债合计", 46, "total", _sum(42, 43, 241)),
    ("负债合计", 49, "total", _sum(41, 46)),
    ("所有者权益：", None, "heading", H), ("资本", 50, "item", "cr:301"), ("公积公益金", 51, "item", "cr:311"),
    ("未分配收益", 52, "item", "retained:321,32201,32202"), ("所有者权益合计", 53, "total", _sum(50, 51, 52)),
    ("负债和所有者权益总计", 56, "total", _sum(49, 53)),
)

#: 村会02表 (collective2023.md §4.2: 经营收益 = 经营收入 + 发包及上交收入 + 投资收益 − 经营支出 − 管理费用;
#: 本年收益 = 经营收益 + 农业税附加返还收入 + 补助收入 + 其他收入 − 其他支出)
COLLECTIVE2004_INCOME = _lines(
    ("本年收益：", None, "heading", H), ("经营收入", 1, "item", "income:501"), ("加：发包及上交收入", 2, "item", "income:511"),
    ("投资收益", 3, "item", "income:561"), ("减：经营支出", 6, "item", "cost:502"), ("管理费用", 7, "item", "cost:541"),
    ("经营收益", 10, "total", "[1] + [2] + [3] - [6] - [7]"),
    ("加：农业税附加返还收入", 11, "item", "income:521"), ("补助收入", 12, "item", "income:522"),
    ("其他收入", 13, "item", "income:531"), ("减：其他支出", 16, "item", "cost:551"),
    ("本年收益", 20, "total", "[10] + [11] + [12] + [13] - [16]"),
    ("收益分配：", None, "heading", H), ("本年收益", 21, "item", "[20]"), ("加：年初未分配收益", 22, "item", "opening"),
    ("其他转入", 23, "item", "other"), ("可分配收益", 26, "total", _sum(21, 22, 23)),
    ("减：提取公积公益金", 27, "item", "dist:311"), ("提取应付福利费", 28, "item", "dist:212"),
    ("外来投资分利", 29, "item", "dist:202"), ("农户分配", 30, "item", "dist:113"), ("其他", 31, "item", "dist_rest"),
    ("年末未分配收益", 35, "total", "[26] - [27] - [28] - [29] - [30] - [31]"),
)

# ----------------------------------------------------------------------- collective2023 (财会〔2023〕14号)

#: The official 2023 forms could not be read (collective2023.md, 报表 §0): these are its reconstruction (§1, §2),
#: line keys A1…/L1…/E1…/I1… are ours, not the form's 行次, and each form says so in one line.
RECONSTRUCTED_2023 = ("本表格式按《农村集体经济组织会计制度》（财会〔2023〕14号）及其科目使用说明编排；财政部原表未能取得，"
                      "行次从略，待核对原表")

#: 资产负债表 (2023), collective2023.md 报表 §1
COLLECTIVE2023_BALANCE_SHEET = _lines(
    ("流动资产：", None, "heading", H), ("货币资金", None, "item", "dr:101,102", "A1"),
    ("短期投资", None, "item", "dr:111", "A2"), ("应收款项", None, "item", "dr:112 + members_dr", "A3"),
    ("存货", None, "item", "dr:121,401", "A4"), ("消耗性生物资产", None, "item", "dr:131", "A5"),
    ("流动资产合计", None, "total", _sum("A1", "A2", "A3", "A4", "A5"), "A6"),
    ("非流动资产：", None, "heading", H), ("长期投资", None, "item", "dr:141", "A8"),
    ("生产性生物资产原值", None, "item", "dr:132", "A9"), ("减：生产性生物资产累计折旧", None, "item", "cr:133", "A10"),
    ("生产性生物资产净值", None, "item", "[A9] - [A10]", "A11"),
    ("固定资产原值", None, "item", "dr:151", "A12"), ("减：累计折旧", None, "item", "cr:152", "A13"),
    ("固定资产净值", None, "item", "[A12] - [A13]", "A14"), ("在建工程", None, "item", "dr:153", "A15"),
    ("固定资产清理", None, "item", "dr:154", "A16"), ("固定资产小计", None, "item", _sum("A14", "A15", "A16"), "A17"),
    ("无形资产原值", None, "item", "dr:161", "A18"), ("减：累计摊销", None, "item", "cr:162", "A19"),
    ("无形资产净值", None, "item", "[A18] - [A19]", "A20"), ("公益性生物资产", None, "item", "dr:134", "A21"),
    ("长期待摊费用", None, "item", "dr:171", "A22"),
    ("非流动资产合计", None, "total", _sum("A8", "A11", "A17", "A20", "A21", "A22"), "A23"),
    ("资产总计", None, "total", _sum("A6", "A23"), "A24"),
    ("流动负债：", None, "heading", H), ("短期借款", None, "item", "cr:201", "L1"),
    ("应付款项", None, "item", "cr:211 + members_cr", "L2"), ("应付工资", None, "item", "cr:212", "L3"),
    ("应付劳务费", None, "item", "cr:213", "L4"), ("应交税费", None, "item", "cr:214", "L5"),
    ("流动负债合计", None, "total", _sum("L1", "L2", "L3", "L4", "L5"), "L6"),
    ("非流动负债：", None, "heading", H), ("长期借款及应付款", None, "item", "cr:221", "L8"),
    ("一事一议资金", None, "item", "cr:231", "L9"), ("专项应付款", None, "item", "cr:241", "L10"),
    ("非流动负债合计", None, "total", _sum("L8", "L9", "L10"), "L11"), ("负债合计", None, "total", _sum("L6", "L11"), "L12"),
    ("所有者权益：", None, "heading", H), ("资本", None, "item", "cr:301", "E1"), ("公积公益金", None, "item", "cr:311", "E2"),
    ("未分配收益", None, "item", "retained:321,32201,32202", "E3"),
    ("所有者权益合计", None, "total", _sum("E1", "E2", "E3"), "E4"),
    ("负债和所有者权益总计", None, "total", _sum("L12", "E4"), "E5"),
)

#: 收益及收益分配表 (2023), collective2023.md 报表 §2
COLLECTIVE2023_INCOME = _lines(
    ("一、经营收入", None, "total", "income:501", "I1"), ("加：投资收益", None, "item", "income:502", "I2"),
    ("减：经营支出", None, "item", "cost:511", "I3"), ("税金及附加", None, "item", "cost:512", "I4"),
    ("管理费用", None, "item", "cost:513", "I5"),
    ("二、经营收益", None, "total", "[I1] + [I2] - [I3] - [I4] - [I5]", "I6"),
    ("加：补助收入", None, "item", "income:503", "I7"), ("其他收入", None, "item", "income:504", "I8"),
    ("减：公益支出", None, "item", "cost:514", "I9"), ("其他支出", None, "item", "cost:515", "I10"),
    ("三、收益总额", None, "total", "[I6] + [I7] + [I8] - [I9] - [I10]", "I11"),
    ("减：所得税费用", None, "item", "cost:521", "I12"), ("四、本年收益", None, "total", "[I11] - [I12]", "I13"),
    ("加：年初未分配收益", None, "item", "opening", "I14"), ("其他转入", None, "item", "other", "I15"),
    ("五、可分配收益", None, "total", _sum("I13", "I14", "I15"), "I16"),
    ("减：提取公积公益金", None, "item", "dist:311", "I17"), ("向成员分配", None, "item", "dist:113", "I18"),
    ("外来投资分利", None, "item", "dist:211", "I18b"), ("其他", None, "item", "dist_rest", "I18c"),
    ("六、年末未分配收益", None, "total", "[I16] - [I17] - [I18] - [I18b] - [I18c]", "I19"),
)

#: chart -> report name -> the form. A report a chart's system lacks is absent (the 2004 and 2023 collective
#: systems have no 成员权益变动表 or 成员账户).
FORMS: dict[str, dict[str, Form]] = {
    "fpc2021": {
        "balance-sheet": Form("会农社01表", "资产负债表", "{}年12月31日", BS_COLUMNS, FPC_BALANCE_SHEET),
        "surplus": Form("会农社02表", "盈余及盈余分配表", "{}年度", IS_COLUMNS, FPC_SURPLUS),
        # the items and their order are the system's own (第五十八条; 附录 (四) 附注及编制说明); payouts.reports.notes
        "notes": Form("", "会计报表附注", "{}年度", (), ()),
    },
    "collective2004": {
        "balance-sheet": Form("村会01表", "资产负债表", "{}年12月31日", (("年初数", "opening"), ("年末数", "closing")),
                              COLLECTIVE2004_BALANCE_SHEET),
        "surplus": Form("村会02表", "收益及收益分配表", "{}年度", (("本年数", "this"), ("上年数", "last")),
                        COLLECTIVE2004_INCOME),
    },
    "collective2023": {
        "balance-sheet": Form("", "资产负债表", "{}年12月31日", BS_COLUMNS, COLLECTIVE2023_BALANCE_SHEET,
                              RECONSTRUCTED_2023),
        "surplus": Form("", "收益及收益分配表", "{}年度", IS_COLUMNS, COLLECTIVE2023_INCOME, RECONSTRUCTED_2023),
        # (payouts.reports.notes fills it: text and small tables, no lines)
        "notes": Form("", "会计报表附注", "{}年度", (), (),
                      "附注各项按我们对《农村集体经济组织会计制度》（财会〔2023〕14号）的理解列示；财政部附注格式未能取得，待核对原文"),
    },
}


# ------------------------------------------------------------------------------------------ evaluating

_TERM = re.compile(r"\s*([+-])?\s*(\[[^\]]+\]|[a-z_]+(?::[0-9,]+)?)")


def _terms(formula: str) -> list[tuple[int, str, str]]:
    """``[(sign, name, argument)]``: ``"dr:101,102 - [7]"`` → ``[(1, "dr", "101,102"), (-1, "ref", "7")]``."""
    out, pos = [], 0
    while pos < len(formula):
        m = _TERM.match(formula, pos)
        if m is None:
            raise ValueError(f"cannot read formula {formula!r} at {pos}")
        sign = -1 if m.group(1) == "-" else 1
        term = m.group(2)
        if term.startswith("["):
            out.append((sign, "ref", term[1:-1]))
        else:
            name, _, arg = term.partition(":")
            out.append((sign, name, arg))
        pos = m.end()
    return out


def dist_codes(lines: tuple[FormLine, ...]) -> frozenset[str]:
    """The accounts a form's ``dist:`` terms name (``dist_rest`` is what the run credited to the others)."""
    return frozenset(code for line in lines for _, name, arg in _terms(line.formula) if name == "dist"
                     for code in arg.split(","))


def evaluate(lines: tuple[FormLine, ...], source) -> dict[str, Decimal]:
    """``line key -> figure`` for every line of a form but its headings, reading the books through ``source``:
    an object with a method per term (``dr(*codes)``, ``members_dr()``, ``income(code)``, ``dist_rest(named)``…)."""
    by_key = {line.key: line for line in lines if line.style != "heading"}
    named = dist_codes(lines)
    values: dict[str, Decimal] = {}

    def value(key: str, seen: tuple = ()) -> Decimal:
        if key in values:
            return values[key]
        if key in seen:
            raise ValueError(f"line {key} refers to itself through {seen}")
        total = Decimal("0.00")
        for sign, name, arg in _terms(by_key[key].formula):
            if name == "ref":
                figure = value(arg, (*seen, key))
            elif name == "dist_rest":
                figure = source.dist_rest(named)
            elif arg:
                figure = getattr(source, name)(*arg.split(","))
            else:                   # a method (members_dr) or a figure (opening)
                found = getattr(source, name)
                figure = found() if callable(found) else found
            total += sign * figure
        values[key] = total
        return total

    for key in by_key:
        value(key)
    return values

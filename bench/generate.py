"""A county, generated: households across villages and entities, a year of records, and a 1M-transaction ledger.

    .venv/bin/python bench/generate.py --out DIR [--households 10000] [--deliveries 1000000]
                                       [--transactions 1000000] [--entities 3] [--seed 2025]

Deterministic: the same arguments give byte-identical files. Writes under DIR:

``workbooks/<CODE>/*.csv``
    one import workbook per entity (a CSV folder, INTERFACES.md §3): ``entity``, ``households``,
    ``members``, ``capital``, ``land``, ``deliveries``, ``sales``, ``expenses``. Entity 0 (``CTY-UNION``, a
    county union of farmer cooperatives) has every household as a member and ~70 % of the deliveries; the
    other entities (``CTY-P1`` …) are produce cooperatives of a share of the villages, with the rest. Sales
    are ~1.25× the deliveries so every entity has a surplus to distribute.
``ledger/``
    the trial-balance contest: the *same* ``--transactions`` transactions (2 or 3 postings each, 2.7 on
    average, on accounts of the farmer-cooperative chart) as
    ``tb.csv`` (bare: ``txn,date,account,amount_fen`` — also what bench/run.py posts into coopledger
    through the bulk path ``ledger.operations.post_entries``), ``tb.journal`` (read by both hledger and
    ledger-cli) and ``tb.beancount``.
``manifest.json``
    the arguments and the counts of everything written.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "国建明华军平志文海玉秀英兰芳桂梅德福贵春山林云"
PRODUCTS = (("藤茶鲜叶", 300, 900), ("猕猴桃", 400, 1200), ("葡萄", 500, 1500), ("脐橙", 250, 600))
YEAR = 2025
VILLAGE_SIZE = 100
TOWNSHIP = "示范县联合乡"

#: the trial-balance ledger's transaction shapes: (memo, [(account type, code, share of the amount)]) with the
#: debits positive and the credit last; 70 % of transactions have three postings, 30 % two (2.7 on average)
TB_ACCOUNTS = {"101": "asset", "102": "asset", "113": "asset", "121": "asset", "211": "liability",
               "501": "income", "502": "income", "521": "expense", "523": "expense", "524": "expense"}
TB_SHAPES3 = (("sale", ("102", "113"), "501"), ("purchase", ("521", "121"), "102"),
              ("costs", ("523", "524"), "101"), ("other", ("101", "102"), "502"))
TB_SHAPES2 = (("fee", ("523",), "211"), ("cash", ("101",), "102"))
ROOTS = {"asset": "Assets", "liability": "Liabilities", "income": "Income", "expense": "Expenses"}


def tb_account(code: str) -> str:
    """The peer tools' name of a coopledger account (the same names ``coopledger export beancount`` writes)."""
    return f"{ROOTS[TB_ACCOUNTS[code]]}:C{code}"


def _writer(path: Path, header: list[str]):
    fh = open(path, "w", newline="", encoding="utf-8")
    w = csv.writer(fh)
    w.writerow(header)
    return fh, w


def _day(rng: random.Random, start: int = dt.date(YEAR, 1, 1).toordinal()) -> str:
    return dt.date.fromordinal(start + rng.randrange(365)).isoformat()


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def generate_county(out: Path, *, households: int, deliveries: int, entities: int, seed: int) -> dict:
    rng = random.Random(seed)
    villages = max(1, households // VILLAGE_SIZE)
    codes = [f"H{i:05d}" for i in range(households)]
    village_of = [i * villages // households for i in range(households)]
    heads = [rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) for _ in codes]
    phones = [f"1{rng.randint(30, 99)}{rng.randint(0, 99999999):08d}" for _ in codes]
    specs = [("CTY-UNION", "示范县茶果专业合作社联合社", list(range(households)))]
    for j in range(1, entities):
        members = [i for i in range(households) if village_of[i] % (entities - 1) == j - 1]
        specs.append((f"CTY-P{j}", f"示范县第{j}果蔬专业合作社", members))
    # 70 % of deliveries to the union, the rest shared by the produce cooperatives
    shares = [deliveries if entities == 1 else deliveries * 7 // 10]
    rest = deliveries - shares[0]
    for j in range(1, entities):
        shares.append(rest // (entities - 1) + (1 if j <= rest % (entities - 1) else 0))
    counts: dict = {}
    for (code, name, members), n_deliveries in zip(specs, shares, strict=True):
        folder = out / "workbooks" / code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "entity.csv").write_text(f"code,name,kind,township\n{code},{name},farmer_coop,{TOWNSHIP}\n",
                                           encoding="utf-8")
        fh, w = _writer(folder / "households.csv", ["code", "head_name", "village", "phone"])
        w.writerows([codes[i], heads[i], f"第{village_of[i] + 1:03d}村", phones[i]] for i in members)
        fh.close()
        fh, w = _writer(folder / "members.csv", ["member", "member_no", "joined_on"])
        w.writerows([codes[i], n + 1, "2019-03-01"] for n, i in enumerate(members))
        fh.close()
        fh, w = _writer(folder / "capital.csv", ["date", "member", "amount", "form"])
        w.writerows(["2025-01-10", codes[i], f"{rng.randint(1, 50) * 100}", rng.choice(("cash", "cash", "land"))]
                    for i in members)
        fh.close()
        land = members[::2]
        fh, w = _writer(folder / "land.csv", ["member", "contract_no", "area_mu", "base_rent_per_mu", "start_on"])
        w.writerows([codes[i], f"{code}-T{i:05d}", f"{rng.randint(5, 60) / 10:.1f}", "500", "2025-01-01"]
                    for i in land)
        fh.close()
        total_fen = 0
        fh, w = _writer(folder / "deliveries.csv", ["date", "member", "product", "grade", "quantity", "unit",
                                                     "unit_price", "paid", "paid_by"])
        for _ in range(n_deliveries):
            product, low, high = PRODUCTS[rng.randrange(len(PRODUCTS))]
            quantity, price = rng.randint(10, 300), rng.randint(low, high)
            total_fen += quantity * price
            w.writerow((_day(rng), codes[members[rng.randrange(len(members))]], product, rng.choice(("一级", "二级")),
                        quantity, rng.choice(("kg", "jin")), _yuan(price), "no" if rng.random() < 0.05 else "yes",
                        "bank"))     # 代发: paid into the members' accounts (cash would need its 提现 first)
        fh.close()
        n_sales = max(1, n_deliveries // 1000)
        per_sale = total_fen * 5 // 4 // n_sales + 100 * households
        fh, w = _writer(folder / "sales.csv", ["date", "buyer", "product", "amount"])
        w.writerows([_day(rng), rng.choice(("省农产品集团", "县供销社", "电商平台")), "加工品",
                     _yuan(per_sale - per_sale % 100)] for _ in range(n_sales))
        fh.close()
        fh, w = _writer(folder / "expenses.csv", ["date", "category", "amount", "payee"])
        w.writerows([_day(rng), rng.choice(("operating", "management", "finance")),
                     f"{rng.randint(10, 500) * 100}", "供应商"] for _ in range(max(12, n_deliveries // 10000)))
        fh.close()
        counts[code] = {"members": len(members), "deliveries": n_deliveries, "land": len(land), "sales": n_sales}
    return counts


def generate_ledger(out: Path, *, transactions: int, seed: int) -> dict:
    """The trial-balance contest's transactions, the same in every format."""
    rng = random.Random(seed + 1)
    folder = out / "ledger"
    folder.mkdir(parents=True, exist_ok=True)
    postings = 0
    with open(folder / "tb.csv", "w", encoding="utf-8") as bare, \
            open(folder / "tb.journal", "w", encoding="utf-8") as journal, \
            open(folder / "tb.beancount", "w", encoding="utf-8") as bean:
        bare.write("txn,date,account,amount_fen\n")
        bean.write('option "operating_currency" "CNY"\n\n')
        for code in sorted(TB_ACCOUNTS):
            bean.write(f"2024-12-31 open {tb_account(code)} CNY\n")
        bean.write("\n")
        start = dt.date(YEAR, 1, 1).toordinal()
        # dates in order, as a year of books is kept (the peers sort anyway)
        days = sorted(rng.randrange(365) for _ in range(transactions))
        for txn in range(1, transactions + 1):
            day = dt.date.fromordinal(start + days[txn - 1]).isoformat()
            memo, debits, credit = _shape(rng)
            amounts = [rng.randint(100, 500000) for _ in debits]
            legs = [*zip(debits, amounts, strict=True), (credit, -sum(amounts))]
            postings += len(legs)
            bare.write("".join(f"{txn},{day},{code},{fen}\n" for code, fen in legs))
            body = "".join(f"    {tb_account(code)}  {_signed(fen)} CNY\n" for code, fen in legs)
            journal.write(f"{day} * {memo} {txn}\n{body}\n")
            bean.write(f'{day} * "{memo} {txn}"\n{body}\n')
    return {"transactions": transactions, "postings": postings}


def _shape(rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    shapes = TB_SHAPES3 if rng.random() < 0.7 else TB_SHAPES2
    return shapes[rng.randrange(len(shapes))]


def _signed(fen: int) -> str:
    return ("-" if fen < 0 else "") + _yuan(abs(fen))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {"households": args.households, "deliveries": args.deliveries, "transactions": args.transactions,
                "entities": args.entities, "seed": args.seed,
                "workbooks": generate_county(args.out, households=args.households, deliveries=args.deliveries,
                                             entities=args.entities, seed=args.seed),
                "ledger": generate_ledger(args.out, transactions=args.transactions, seed=args.seed)}
    (args.out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))

"""The demo cooperative: a vine-tea farmer cooperative with a full year of activity, loaded through the
real import path (a generated CSV workbook), plus one login per role.

Deterministic (fixed seed) and idempotent (an entity that exists is not loaded again). The whole demo
world — this cooperative's distribution, a cluster project owned by nine village collectives and a
land-share cooperative — is ``payouts.admin.demo.load_demo_world``, which builds on the helpers here.

金果坪藤茶种植专业合作社 (JGP-TEA), 金果坪乡: 80 households in 茶园村 and 溪口村, about 230 亩 of
land-share contracts at 600 元/亩, a year (2025) of fresh-leaf deliveries in 斤, labour days, fertiliser
bought on credit, sales of processed tea to outside buyers, a fiscal subsidy, advances and payments.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import tempfile
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.importer import ImportResult, import_workbook
from cooperatives.models import Entity, Household, Township
from cooperatives.users import create_user
from cooperatives.workbook import id_check_digit, luhn_digit, read_workbook

YEAR = 2025
TEA = "JGP-TEA"
TOWNSHIP = "金果坪乡"
VILLAGES = ("茶园村", "溪口村")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐向覃田彭"
GIVEN = ("大山", "秀英", "建国", "桂兰", "志强", "春花", "德明", "玉梅", "国华", "小红", "长生", "金凤", "永福",
         "翠花", "海军", "冬梅", "开明", "水生", "光荣", "丽华", "世平", "爱民", "家旺", "满仓")

#: (role, username, password, what it shows)
DEMO_LOGINS = (
    ("admin", "admin", "demo-admin-2025", "manages users and entities"),
    ("accountant", "kuaiji", "demo-kuaiji-2025", f"keeps the books of {TEA}"),
    ("auditor", "nongjing", "demo-audit-2025", f"reads every entity of {TOWNSHIP}"),
    ("member", "JGP-H001", "demo-member-2025", "household JGP-H001 (statement pages)"),
)


def id_number(birth: dt.date, seq: int, county: str = "430821") -> str:
    """A well-formed 18-digit resident ID number (GB 11643 check digit) for a made-up person."""
    body = f"{county}{birth:%Y%m%d}{seq % 1000:03d}"
    return body + id_check_digit(body)


def bank_card(number: int) -> str:
    """A made-up 19-digit UnionPay debit card number that passes its Luhn check (from a 13-digit draw)."""
    body = f"621799{number}"[:18]
    return body + luhn_digit(body)


def person_name(rng: random.Random, used: set[str], surnames: str = SURNAMES) -> str:
    """A household head's name not yet in ``used`` (and added to it)."""
    while True:
        name = rng.choice(surnames) + rng.choice(GIVEN)
        if name not in used:
            used.add(name)
            return name


def day(rng: random.Random, start_month: int, end_month: int) -> dt.date:
    start = dt.date(YEAR, start_month, 1).toordinal()
    end = dt.date(YEAR, end_month, 28).toordinal()
    return dt.date.fromordinal(rng.randint(start, end))


def tea_workbook(rng: random.Random) -> dict[str, list[dict]]:
    """The demo cooperative's year as sheets of rows (what an accountant would put in Excel)."""
    sheets: dict[str, list[dict]] = {k: [] for k in (
        "entity", "households", "members", "capital", "land", "labor", "deliveries", "inputs", "sales",
        "expenses", "subsidies", "advances", "payments")}
    sheets["entity"].append({"code": TEA, "name": "金果坪藤茶种植专业合作社", "kind": "farmer_coop",
                             "township": TOWNSHIP, "village": VILLAGES[0], "credit_code": "93430821MA4L0TEA1X"})
    used_names = set()
    people = random.Random(20250101)        # 家庭人口: its own stream, so the year's figures stay as they were
    for i in range(1, 81):
        code = f"JGP-H{i:03d}"
        name = person_name(rng, used_names)
        if i == 1:
            name = "王大山"
        birth = dt.date(rng.randint(1950, 1990), rng.randint(1, 12), rng.randint(1, 28))
        monitoring = rng.choices(["none", "unstable", "marginal", "hardship"], [88, 6, 4, 2])[0]
        sheets["households"].append({
            "code": code, "head_name": name, "village": VILLAGES[i % 2], "phone": f"13{rng.randint(100000000, 999999999)}",
            "id_number": id_number(birth, i), "bank_account": bank_card(rng.randint(10**12, 10**13 - 1)),
            "monitoring": monitoring, "poverty_exited": "yes" if rng.random() < 0.2 else "no",
            "persons": people.randint(1, 6)})
        sheets["members"].append({"member": code, "member_no": i, "joined_on": "2019-03-15" if i <= 60 else "2023-02-01",
                                  "farmer": "no" if i in (79, 80) else "yes"})
        sheets["capital"].append({"date": "2025-01-10", "member": code, "amount": f"{rng.choice([500, 1000, 2000, 3000, 5000])}.00",
                                  "form": "cash", "note": "2025年入股"})
    area_left = Decimal("230")
    for i in range(1, 61):
        area = Decimal(rng.choice(["2.5", "3", "3.5", "4", "4.5", "5"])) if i < 60 else area_left
        area_left -= area
        sheets["land"].append({"member": f"JGP-H{i:03d}", "contract_no": f"JGP-TD-{i:03d}", "area_mu": str(area),
                               "shares": str(area), "base_rent_per_mu": "600", "start_on": "2025-01-01",
                               "end_on": "2029-12-31"})
    for i in range(1, 81):
        code = f"JGP-H{i:03d}"
        for _ in range(rng.randint(12, 24)):
            qty = Decimal(rng.randint(30, 240))
            grade, price = rng.choice([("一级", "5.60"), ("二级", "4.20")])
            sheets["deliveries"].append({"date": day(rng, 4, 10).isoformat(), "member": code, "product": "藤茶鲜叶",
                                         "grade": grade, "quantity": str(qty), "unit": "jin", "unit_price": price,
                                         "paid": "no" if rng.random() < 0.1 else "yes"})
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 4)):
                sheets["labor"].append({"date": day(rng, 3, 11).isoformat(), "member": code, "worker": "",
                                        "days": str(rng.randint(2, 8)), "rate": "120", "task": rng.choice(["采茶", "制茶", "除草"])})
        if rng.random() < 0.6:
            sheets["inputs"].append({"date": day(rng, 2, 5).isoformat(), "member": code, "item": "有机肥",
                                     "amount": f"{rng.randint(3, 15) * 100}.00", "on_credit": "yes"})
        if rng.random() < 0.1:
            sheets["advances"].append({"date": day(rng, 6, 9).isoformat(), "member": code,
                                       "amount": f"{rng.randint(5, 20) * 100}.00", "note": "农忙借支"})
    buyers = ("湘西茶业有限公司", "张家界土家风情食品公司", "长沙绿源商贸", "电商直播渠道")
    for n in range(1, 41):
        sheets["sales"].append({"date": day(rng, 5, 12).isoformat(), "buyer": rng.choice(buyers), "product": "藤茶干茶",
                                "quantity": str(rng.randint(300, 900)), "unit": "kg",
                                "amount": f"{rng.randint(32000, 52000)}.00", "invoice_no": f"FP2025{n:04d}"})
    for month in range(1, 13):
        sheets["expenses"].append({"date": f"{YEAR}-{month:02d}-25", "category": "management", "amount": "5200.00",
                                   "payee": "管理人员工资", "note": ""})
        sheets["expenses"].append({"date": f"{YEAR}-{month:02d}-26", "category": "operating", "amount": "6800.00",
                                   "payee": "加工厂电费燃料", "note": ""})
    sheets["expenses"].append({"date": "2025-12-20", "category": "finance", "amount": "1350.00", "payee": "银行手续费"})
    sheets["expenses"].append({"date": "2025-12-20", "category": "tax", "amount": "4800.00", "payee": "税务局"})
    sheets["subsidies"].append({"date": "2025-06-18", "source": "县农业农村局 2025年产业发展资金", "kind": "fiscal",
                                "amount": "200000.00", "quantify": "yes", "poverty_asset": "no"})
    # the subsidy buys the processing line (235 → 311: property formed, quantified to the members), in use from
    # August: depreciated from September, 190,000 over 120 months
    sheets["assets"] = [{"code": "JGP-GD-01", "name": "藤茶加工生产线（杀青、揉捻、烘干）", "acquired_on": "2025-07-20",
                         "cost": "200000.00", "life_years": "10", "salvage_pct": "5",
                         "project": "县农业农村局 2025年产业发展资金", "in_use_on": "2025-08-01"}]
    # the bank lends the working capital the summer's purchases need (短期借款), repaid with interest in December:
    # two vouchers (记账凭证) of the journal sheet
    sheets["journal"] = [
        {"voucher": "J01", "date": "2025-04-01", "memo": "向县农商行借入流动资金贷款", "account": "102",
         "debit": "300000.00", "attachments": "2"},
        {"voucher": "J01", "date": "2025-04-01", "memo": "向县农商行借入流动资金贷款", "account": "201",
         "credit": "300000.00"},
        {"voucher": "J02", "date": "2025-12-20", "memo": "归还流动资金贷款本息", "account": "201", "debit": "300000.00",
         "attachments": "1"},
        {"voucher": "J02", "date": "2025-12-20", "memo": "归还流动资金贷款本息", "account": "524", "debit": "9787.50"},
        {"voucher": "J02", "date": "2025-12-20", "memo": "归还流动资金贷款本息", "account": "102",
         "credit": "309787.50"}]
    # the books start on 1 January 2025 from the balances the members' earlier years left (期初余额): the first
    # sixty members' capital of 2019 and their reserve shares, in the bank and the cash box
    sheets["opening"] = [{"account": "101", "debit": "3000.00", "note": "库存现金"},
                         {"account": "102", "debit": "87000.00", "note": "银行存款"}]
    for i in range(1, 61):
        code = f"JGP-H{i:03d}"
        sheets["opening"] += [{"account": "301", "member": code, "credit": "1000.00", "note": "2019年股金"},
                              {"account": "322", "member": code, "credit": "500.00", "note": "公积金份额"}]
    sheets["payments"] += wages_paid(sheets["labor"], "2025-12-15", "LW2025")
    for i in range(1, 81, 3):
        # 年终预付: 500 元 before the distribution, to some more than the current account owes them (the rest is
        # deducted from their payout): confirmed over the warning (确认)
        sheets["payments"].append({"date": "2025-12-28", "member": f"JGP-H{i:03d}", "amount": "500.00",
                                   "method": "bank", "reference": f"YH2025{i:04d}", "confirm": "yes"})
    return {k: v for k, v in sheets.items() if v}


def wages_paid(labor: list[dict], on: str, reference: str) -> list[dict]:
    """The payments (``for`` labour, by bank on ``on``) that pay each member the wages ``labor`` rows owe them:
    应付劳务费 paid out at the year's end (books-review W3)."""
    wages: dict[str, Decimal] = {}
    for row in labor:
        wages[row["member"]] = wages.get(row["member"], Decimal(0)) + Decimal(row["days"]) * Decimal(row["rate"])
    return [{"date": on, "member": code, "amount": f"{amount:.2f}", "method": "bank", "for": "labor",
             "reference": f"{reference}{code[-3:]}"} for code, amount in sorted(wages.items())]


def write_csv_workbook(sheets: dict[str, list[dict]], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return folder


def _cash_moves(sheets: dict[str, list[dict]]) -> dict[str, Decimal]:
    """``{day: net cash in (+) or out (−)}`` of the records in ``sheets`` that touch 库存现金."""
    moves: dict[str, Decimal] = {}

    def add(on: str, amount: Decimal) -> None:
        moves[on] = moves.get(on, Decimal(0)) + amount

    for row in sheets.get("deliveries", []):
        if row.get("paid", "yes") == "yes" and row.get("paid_by", "cash") == "cash":
            add(row["date"], -Decimal(row.get("amount") or Decimal(row["quantity"]) * Decimal(row["unit_price"]))
                .quantize(Decimal("0.01"), ROUND_HALF_UP))
    for row in sheets.get("advances", []):
        add(row["date"], -Decimal(row["amount"]))
    for row in sheets.get("inputs", []):
        if row.get("on_credit", "yes") == "no":
            add(row["date"], Decimal(row["amount"]))
    for sheet, column, default in (("payments", "method", "bank"), ("expenses", "paid_by", "bank"),
                                   ("sales", "paid_by", "bank")):
        for row in sheets.get(sheet, []):
            if row.get(column, default) == "cash":
                add(row["date"], Decimal(row["amount"]) * (1 if sheet == "sales" else -1))
    return moves


def with_cash_withdrawals(sheets: dict[str, list[dict]], *, unit: Decimal = Decimal(1000)) -> dict[str, list[dict]]:
    """``sheets`` with the bank withdrawals (提现, the ``transfers`` sheet) an accountant makes so that cash is
    in hand before it is paid out: on each day that would leave 库存现金 short, the shortfall rounded up to
    ``unit`` yuan is drawn from the bank that morning (books-review W1; 库存现金 never ends a day below zero)."""
    in_hand, withdrawals = Decimal(0), []
    for on, change in sorted(_cash_moves(sheets).items()):
        in_hand += change
        if in_hand < 0:
            draw = (-in_hand / unit).to_integral_value(ROUND_CEILING) * unit
            withdrawals.append({"date": on, "from": "bank", "to": "cash", "amount": f"{draw:.2f}", "note": "提现备用金"})
            in_hand += draw
    if not withdrawals:
        return sheets
    return {**sheets, "transfers": sheets.get("transfers", []) + withdrawals}


def import_sheets(session: Session, sheets: dict[str, list[dict]], name: str) -> ImportResult:
    """Import ``sheets`` the way an accountant would: written as a CSV workbook folder, read and checked
    by ``read_workbook``, loaded by ``import_workbook``, with the cash withdrawals its payments in cash need
    (:func:`with_cash_withdrawals`). Flushes only."""
    sheets = with_cash_withdrawals(sheets)
    with tempfile.TemporaryDirectory() as tmp:
        return import_workbook(session, read_workbook(write_csv_workbook(sheets, Path(tmp) / name)), actor=CONSOLE)


def load_demo(session: Session) -> bool:
    """Load the demo cooperative unless it is there already. Returns whether anything was loaded."""
    if session.scalar(select(Entity.id).where(Entity.code == TEA)) is not None:
        return False
    import_sheets(session, tea_workbook(random.Random(20251231)), "jgp-tea-2025")
    _create_logins(session)
    return True


def _create_logins(session: Session) -> None:
    tea = session.scalar(select(Entity).where(Entity.code == TEA))
    township = session.scalar(select(Township).where(Township.name == TOWNSHIP))
    household = session.scalar(select(Household).where(Household.code == "JGP-H001"))
    scopes = {"admin": {}, "accountant": {"entity_id": tea.id}, "auditor": {"township_id": township.id},
              "member": {"household_id": household.id}}
    names = {"admin": "系统管理员", "accountant": "李会计", "auditor": "金果坪乡农经站", "member": household.head_name}
    for role, username, password, _ in DEMO_LOGINS:
        create_user(session, username=username, password=password, role=role, display_name=names[role],
                    actor=CONSOLE, **scopes[role])

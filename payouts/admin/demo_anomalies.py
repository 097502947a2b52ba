"""The demo's anomaly cooperative: a small farmer cooperative in 金果坪乡 with one instance of every
anomaly rule (``payouts.oversight.anomalies.RULES``), seeded on purpose through the normal operations
— a workbook import, single records, runs drafted, approved, posted, published, reversed — so the
township auditor (``nongjing``) has something to find beside the clean tea cooperative ``JGP-TEA``.
``docs/DEMO.md`` lists each seeded anomaly: rule, record, why.

金果坪乡溪口村高山蔬菜专业合作社 ``JGP-VEG``: twelve households, two years (2024, 2025) of vegetable
deliveries in 斤, capital, land, labour; 60 % returned by trade, 40 % by capital. Each distribution is paid by bank
transfer recorded by hand after its notice period, but for one household (``owed_after_notice``).

The demo's time line is in the past (a 2024 distribution published in March 2025, the 2025 one in March
2026); ``publish_run`` stamps the moment it runs, so the demo dates ``published_at`` to the day it
passes as ``today`` — the one place the demo writes a field an operation set (not a ledger row).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.demo import TOWNSHIP, bank_card, id_number, import_sheets
from cooperatives.models import Entity
from cooperatives.operations import record
from payouts.models import PayoutRun, StatementSnapshot
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, reverse_run, save_policy
from payouts.runs.policy import parse_policy
from payouts.statements.operations import record_objection, record_receipt

VEG = "JGP-VEG"
VILLAGE = "溪口村"

VEG_POLICY = {"reserve_pct": "10", "reserve_quantify": "transactions", "deduct": ["inputs", "advances"],
              "notice_days": 7,
              "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                        {"name": "residual", "pct": "40", "basis": "capital"}]}
#: the corrected 2025 clause: the meeting raised the reserve to 15 % (the reason run 1 was reversed)
VEG_POLICY_2 = {**VEG_POLICY, "reserve_pct": "15"}

#: code, head, persons, monitoring, joined, capital (元, 2024-01-10), shared bank account
HOUSEHOLDS = (
    ("VEG-H001", "向德明", 4, "none", "2022-03-01", 3000),
    ("VEG-H002", "田桂兰", 3, "hardship", "2022-03-01", 2000),
    ("VEG-H003", "彭志强", 5, "none", "2022-03-01", 2000),
    ("VEG-H004", "覃玉梅", 4, "none", "2022-03-01", 1000),
    ("VEG-H005", "向长生", 2, "unstable", "2022-03-01", 1000),    # monitored: benefit falls in 2025
    ("VEG-H006", "田翠花", 1, "marginal", "2025-01-01", 0),       # monitored: joins 2025, gets nothing
    ("VEG-H007", "彭开明", 6, "none", "2022-03-01", 3000),
    ("VEG-H008", "覃水生", 3, "none", "2022-03-01", 2000),        # same bank account as VEG-H009
    ("VEG-H009", "覃光荣", 2, "none", "2022-03-01", 1000),
    ("VEG-H010", "向丽华", 4, "none", "2022-03-01", 2000),
    ("VEG-H011", "田世平", 3, "none", "2025-07-01", 1000),        # delivered before joining
    ("VEG-H012", "彭家旺", 5, "none", "2026-01-01", 0),           # paid before joining
)
SHARED_ACCOUNT = "6217991234567890124"
#: 斤 of 高山白菜 delivered per household in 2024 and in 2025 (several deliveries each)
DELIVERED = {"VEG-H001": (4200, 4600), "VEG-H002": (3000, 7500), "VEG-H003": (3600, 3800), "VEG-H004": (2600, 2800),
             "VEG-H005": (5200, 900), "VEG-H007": (3900, 4100), "VEG-H008": (2800, 3000), "VEG-H009": (2400, 2500),
             "VEG-H010": (3300, 3500), "VEG-H011": (0, 2600)}
PRICE = "1.20"


def veg_workbook() -> dict[str, list[dict]]:
    """The cooperative as its accountant would upload it: 2024 and 2025 in one workbook."""
    sheets: dict[str, list[dict]] = {
        "entity": [{"code": VEG, "name": "金果坪乡溪口村高山蔬菜专业合作社", "kind": "farmer_coop", "township": TOWNSHIP,
                    "village": VILLAGE, "credit_code": "93430821MA4L0VEG2Y"}],
        "households": [], "members": [], "capital": [], "land": [], "labor": [], "deliveries": [], "sales": [],
        "expenses": [], "payments": []}
    for n, (code, head, persons, monitoring, joined, capital) in enumerate(HOUSEHOLDS, 1):
        # a 12-digit draw: bank_card keeps 18 digits before the check digit (a 13-digit draw lost its last one, and
        # the households before the tenth shared one number)
        account = SHARED_ACCOUNT if code in ("VEG-H008", "VEG-H009") else bank_card(55 * 10**10 + n)
        sheets["households"].append({
            "code": code, "head_name": head, "village": VILLAGE, "phone": f"1397440{n:04d}",
            "id_number": id_number(dt.date(1960 + n, n % 12 + 1, 10 + n), 500 + n), "bank_account": account,
            "monitoring": monitoring, "poverty_exited": "yes" if code in ("VEG-H002", "VEG-H005") else "no",
            "persons": persons})
        sheets["members"].append({"member": code, "member_no": n, "joined_on": joined})
        if capital:
            on = "2024-01-10" if joined < "2024" else joined
            sheets["capital"].append({"date": on, "member": code, "amount": f"{capital}.00", "form": "cash",
                                      "note": "入股"})
    for code, (y2024, y2025) in DELIVERED.items():
        for year, total in ((2024, y2024), (2025, y2025)):
            if not total:
                continue
            if code == "VEG-H011":           # 2,600 斤 in 2025: half of it in spring, before joining on 07-01
                dates = ("2025-04-12", "2025-05-20", "2025-08-18", "2025-09-22")
            else:
                dates = (f"{year}-05-15", f"{year}-07-10", f"{year}-08-20", f"{year}-09-25")
            for on, part in zip(dates, _split(total, 4), strict=True):
                sheets["deliveries"].append({"date": on, "member": code, "product": "高山白菜", "grade": "一级",
                                             "quantity": str(part), "unit": "jin", "unit_price": PRICE,
                                             "paid": "no" if code == "VEG-H002" and year == 2025 else "yes",
                                             # the accountant confirmed the warning (before joining) away
                                             "confirm": "yes" if code == "VEG-H011" and on < "2025-07-01" else "no"})
    sheets["land"] += [
        {"member": "VEG-H001", "contract_no": "VEG-TD-001", "area_mu": "3", "shares": "3", "base_rent_per_mu": "500",
         "start_on": "2024-01-01", "end_on": "2028-12-31"},
        # six shares on four 亩: more shares than land (land_shares_beyond_area)
        {"member": "VEG-H004", "contract_no": "VEG-TD-004", "area_mu": "4", "shares": "6", "base_rent_per_mu": "500",
         "start_on": "2024-01-01", "end_on": "2028-12-31"},
    ]
    sheets["labor"] += [
        {"date": "2024-08-30", "member": "VEG-H003", "worker": "彭志强", "days": "12", "rate": "110", "task": "分拣装车"},
        {"date": "2025-07-31", "member": "VEG-H007", "worker": "彭开明", "days": "9", "rate": "120", "task": "分拣装车"},
        # 20 + 16 = 36 days in August for one worker (labor_days_beyond_period)
        {"date": "2025-08-15", "member": "VEG-H003", "worker": "彭志强", "days": "20", "rate": "120", "task": "分拣装车"},
        {"date": "2025-08-31", "member": "VEG-H003", "worker": "彭志强", "days": "16", "rate": "120", "task": "冷库值守"},
    ]
    for year, amounts in ((2024, (62000, 58000, 49000)), (2025, (66000, 61000, 52000))):
        for n, amount in enumerate(amounts, 1):
            sheets["sales"].append({"date": f"{year}-{6 + 2 * n:02d}-28", "buyer": "长沙红星农产品批发市场客商",
                                    "product": "高山白菜", "quantity": str(amount // 3), "unit": "kg",
                                    "amount": f"{amount}.00", "invoice_no": f"VEG{year}{n:04d}"})
        sheets["expenses"] += [
            {"date": f"{year}-06-30", "category": "operating", "amount": "18000.00", "payee": "种苗农膜"},
            {"date": f"{year}-10-31", "category": "operating", "amount": "16500.00", "payee": "运输冷藏"},
            {"date": f"{year}-12-20", "category": "management", "amount": "9600.00", "payee": "管理人员补贴"}]
    sheets["payments"] += [
        # paid as a member on 2025-11-20, but the household joins only on 2026-01-01 (payout_to_non_member)
        # (the warning that nothing is owed to it was confirmed away: 确认)
        {"date": "2025-11-20", "member": "VEG-H012", "amount": "2000.00", "method": "bank", "reference": "VEGYH0012",
         "confirm": "yes"},
        # 8,600 元 of unpaid deliveries settled in cash (large_cash_payment)
        {"date": "2025-12-30", "member": "VEG-H002", "amount": "8600.00", "method": "cash", "reference": "现金付讫"},
    ]
    # the village lends the first summer's seedlings and film money, interest-free, repaid after the harvest sold
    # (记账凭证: Dr 102 / Cr 211 应付款 and back), so the bank never goes below zero
    loan = "溪口村村集体无息借款"
    sheets["journal"] = [
        {"voucher": "J01", "date": "2024-05-01", "memo": loan, "account": "102", "debit": "40000.00"},
        {"voucher": "J01", "date": "2024-05-01", "memo": loan, "account": "211", "credit": "40000.00"},
        {"voucher": "J02", "date": "2024-11-30", "memo": f"归还{loan}", "account": "211", "debit": "40000.00"},
        {"voucher": "J02", "date": "2024-11-30", "memo": f"归还{loan}", "account": "102", "credit": "40000.00"}]
    return sheets


def _split(total: int, parts: int) -> list[int]:
    base = total // parts
    return [base + (total - base * parts if i == parts - 1 else 0) for i in range(parts)]


def _published(run: PayoutRun, on: dt.date) -> None:
    """Date the publication to the demo's time line (see the module docstring)."""
    run.published_at = dt.datetime.combine(on, dt.time(9, 0), tzinfo=dt.UTC)


def _meeting(session: Session, run: PayoutRun, on: dt.date, minutes: str) -> None:
    members = len(run.result["members"])
    attended = members - members // 7
    approve_run(session, run, meeting_date=on, attended=attended, votes_for=attended - 1, minutes=minutes, actor=CONSOLE)


def load_anomaly_coop(session: Session) -> Entity:
    """Import the cooperative and play its two years (see docs/DEMO.md). Flushes only."""
    import_sheets(session, veg_workbook(), VEG.lower())
    veg = session.scalar(select(Entity).where(Entity.code == VEG))
    version = save_policy(session, veg, parse_policy(VEG_POLICY), actor=CONSOLE)

    # 2024: drafted on the books as they stood; a 60,000 元 sale is booked to 2024 afterwards and the stale
    # run is approved and posted anyway (patronage_below_60: the books' distributable surplus is larger)
    run_2024 = create_run(session, veg, 2024, policy_version=version, actor=CONSOLE)
    record(session, veg, "sales", {"date": dt.date(2024, 12, 28), "buyer": "县城学校食堂（年末补记）",
                                   "product": "高山白菜", "quantity": Decimal("20000"), "unit": "kg",
                                   "amount": Decimal("60000.00"), "invoice_no": "VEG20240099"}, actor=CONSOLE)
    _meeting(session, run_2024, dt.date(2025, 2, 26), "溪口村高山蔬菜合作社2025年成员大会决议")
    post_run(session, run_2024, actor=CONSOLE)
    publish_run(session, run_2024, today=dt.date(2025, 3, 1), actor=CONSOLE)
    _published(run_2024, dt.date(2025, 3, 1))
    _pay_by_hand(session, run_2024, dt.date(2025, 3, 20))

    # 2025: run 1 posted and published, then reversed after the meeting raised the reserve; run 2 posted
    # after the year was closed (entries_after_close), on notice for 3 days instead of 7 (notice_too_short);
    # 向德明's objection is never answered (objection_unanswered)
    first = create_run(session, veg, 2025, policy_version=version, actor=CONSOLE)
    _meeting(session, first, dt.date(2026, 3, 8), "溪口村高山蔬菜合作社2026年第1次成员大会决议")
    post_run(session, first, actor=CONSOLE)
    publish_run(session, first, today=dt.date(2026, 3, 10), actor=CONSOLE)
    _published(first, dt.date(2026, 3, 10))
    reverse_run(session, first, actor=CONSOLE)
    corrected = save_policy(session, veg, parse_policy(VEG_POLICY_2), actor=CONSOLE)
    second = create_run(session, veg, 2025, policy_version=corrected, actor=CONSOLE)
    _meeting(session, second, dt.date(2026, 3, 25), "溪口村高山蔬菜合作社2026年第2次成员大会决议（更正）")
    post_run(session, second, actor=CONSOLE)
    publish_run(session, second, notice_days=3, today=dt.date(2026, 3, 26), actor=CONSOLE)
    _published(second, dt.date(2026, 3, 26))
    statement = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == second.id,
                                                               StatementSnapshot.member_code == "VEG-H001"))
    objection = record_objection(session, statement, line="patronage", text="我家9月25日交的白菜没有算进交易量，请核实。",
                                 today=dt.date(2026, 3, 27), actor=CONSOLE)
    objection.created_at = dt.datetime(2026, 3, 27, 10, 30, tzinfo=dt.UTC)       # on the demo's time line
    # paid by bank transfer after the notice period, but for 向德明, whose objection is waiting (owed_after_notice)
    _pay_by_hand(session, second, dt.date(2026, 4, 10), keep=("VEG-H001",))
    session.flush()
    return veg


def _pay_by_hand(session: Session, run: PayoutRun, on: dt.date, keep: tuple[str, ...] = ()) -> None:
    """Each household the run owes paid by bank transfer recorded by hand on ``on``, but those of ``keep``."""
    for snap in session.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id)
                                .order_by(StatementSnapshot.member_code)):
        owed = Decimal(snap.content["net"])
        if owed > 0 and snap.member_code not in keep:
            record_receipt(session, snap, amount=owed, method="bank", on=on,
                           reference=f"{run.year}年收益分配 {snap.member_code}", actor=CONSOLE)

"""The demo world: every journey of DESIGN.md §2 with real figures, loaded through the real code paths.

Each entity's year comes in as a generated CSV workbook through ``cooperatives.importer`` (what an
accountant would upload), and each distribution goes draft → approved → posted → published through
``payouts.runs.operations``, so the demo exercises exactly what users do. Deterministic (fixed seeds);
idempotent (each part is loaded only if it is not there yet, each login only if its name is free).
Names of people and of the villages of 百乐乡 are made up.

* 金果坪藤茶种植专业合作社 ``JGP-TEA`` (``cooperatives.demo``): 80 households, and its 2025 distribution —
  10 % reserve, 60 % returned by member trade, 40 % by capital, input credit and advances deducted —, published on
  2026-03-15 and paid through the bank (代发, ``payouts.batches``) in April 2026: batch 1 of all 80, two of them
  returned failed (a name the bank does not know for the card, a closed card); the name corrected, batch 2 pays
  that household; the closed card's household is still owed.
* 百乐乡九村联建葡萄大棚项目 ``TL-GRAPE`` (田林县百乐乡): 24 greenhouses built in 2024 with
  东西部协作资金 (a fiscal subsidy that formed the greenhouses: 在建工程, in use from September 2024 and
  depreciated; the project's fund, not quantified), owned by the nine village
  collectives ``TL-V01``…``TL-V09`` through unequal capital contributions. 2025: ¥3,500,000 of grape
  sales. The villages keep the 2023 system (财会〔2023〕14号) from 2025, with their stakes as 长期投资 in their
  opening balances and their households' quantified shares in a 份额登记簿 (not money). The project's run,
  posted first, books each village's share as investment income receivable in the village's own books (the
  cascade), and the project pays it in January 2026, received in each village's bank; each village then
  distributes its year — that income plus its own — to its 15–30 households by their shares (份额), after
  20–30 % 公积公益金. A household's statement traces its yuan back through the village to the project.
* 五星村土地股份合作社 ``WX-LAND`` (青铜峡市青铜峡镇): 40 households, 300 亩 leased in at 保底 800 元/亩
  (a cost), a year of 稻蟹共养, and 二次分红 of the surplus by land shares after a 10 % reserve quantified to
  the members by land — its articles count the land put in as each member's trade (盈余返还, ≥ 60 %).
* 金果坪乡溪口村高山蔬菜专业合作社 ``JGP-VEG`` (``payouts.admin.demo_anomalies``): twelve households, 2024 and
  2025, with one instance of every anomaly rule seeded on purpose for the township auditor; ``JGP-TEA``
  beside it shows one only: its household the bank could not pay (``owed_after_notice``). ``docs/DEMO.md`` lists
  each seeded anomaly.
* The county's lists of monitored households (防止返贫监测对象) for 金果坪乡 and 百乐乡
  (``payouts.admin.demo_monitoring``), imported as the county sends them — 百乐乡's twice, so its history shows —
  with one household whose income fell (``VEG-H005``), one member that received nothing (``VEG-H006``) and one
  supported entity that reached no monitored household (``JGP-TEA``); ``docs/DEMO.md`` says which rows and why.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.access import CONSOLE
from cooperatives.demo import (
    DEMO_LOGINS,
    TEA,
    YEAR,
    bank_card,
    day,
    id_number,
    import_sheets,
    load_demo,
    person_name,
    wages_paid,
)
from cooperatives.models import Entity, Household, Member, Township, User
from cooperatives.operations import create_entity, link_member_entity
from cooperatives.users import create_user
from ledger.money import allocate, quantize
from payouts.admin.demo_anomalies import VEG as ANOMALIES
from payouts.admin.demo_anomalies import load_anomaly_coop
from payouts.admin.demo_monitoring import load_monitoring_lists
from payouts.models import IN_FORCE, PayoutBatch, PayoutBatchLine, PayoutRun, StatementSnapshot
from payouts.runs.operations import approve_run, create_run, finalize_year, post_run, publish_run, save_policy
from payouts.runs.policy import parse_policy
from payouts.statements.operations import record_receipt

CLUSTER = "TL-GRAPE"
CLUSTER_TOWNSHIP = "田林县百乐乡"
#: code, village, capital contributed to the project (元), households, 公积公益金 %
VILLAGES = (
    ("TL-V01", "百乐村", 360000, 28, "30"),
    ("TL-V02", "那拉村", 280000, 24, "25"),
    ("TL-V03", "弄瓦村", 240000, 22, "25"),
    ("TL-V04", "平林村", 220000, 26, "20"),
    ("TL-V05", "六合村", 200000, 19, "20"),
    ("TL-V06", "者卡村", 180000, 17, "25"),
    ("TL-V07", "坡皿村", 160000, 21, "20"),
    ("TL-V08", "八龙村", 140000, 15, "30"),
    ("TL-V09", "那洪村", 120000, 18, "20"),
)
LAND = "WX-LAND"
LAND_TOWNSHIP = "青铜峡市青铜峡镇"
LAND_RENT = Decimal("800")
LAND_AREA = Decimal("300")

#: (role, username, password, what it shows): the cooperative's four, then the rest of the world's
WORLD_LOGINS = DEMO_LOGINS + (
    ("accountant", "tl-kuaiji", "demo-tl-2025", f"keeps the books of the grape cluster project {CLUSTER}"),
    ("accountant", "bl-kuaiji", "demo-bl-2025", "keeps the books of village collective TL-V01 百乐村"),
    ("accountant", "wx-kuaiji", "demo-wx-2025", f"keeps the books of the land-share cooperative {LAND}"),
    ("auditor", "bl-nongjing", "demo-audit-2025", f"reads every entity of {CLUSTER_TOWNSHIP}"),
    ("member", "TL-V01-H001", "demo-member-2025", "household TL-V01-H001 of 百乐村 (traced to the project)"),
)

TEA_POLICY = {
    "reserve_pct": "10", "reserve_quantify": "transactions", "deduct": ["inputs", "advances"],
    "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
              {"name": "residual", "pct": "40", "basis": "capital"}],
}
CLUSTER_POLICY = {      # 15 % kept for greenhouse upkeep and risk; the rest by investment
    "reserve_pct": "15", "reserve_quantify": "none", "deduct": [],
    "pools": [{"name": "investment", "pct": "100", "basis": "capital"}],
}
LAND_POLICY = {         # 10 % reserve quantified by land, then 二次分红 by land shares (1 亩 = 1 股): its articles
    # count the land a member puts in as the member's trade, so it is 盈余返还 under law Art. 44 (INTERFACES §4)
    "reserve_pct": "10", "reserve_quantify": "transactions", "land_as_trade": True, "deduct": [],
    "pools": [{"name": "land", "pct": "100", "basis": "land"}],
}


def village_policy(reserve_pct: str) -> dict:
    """A village collective's clause (集体经济组织法 Art. 42): 公积公益金 first, the rest by shares (份额)."""
    return {"reserve_pct": reserve_pct, "reserve_quantify": "none", "deduct": [],
            "pools": [{"name": "shares", "pct": "100", "basis": "shares"}]}


def load_demo_world(session: Session) -> bool:
    """Load whatever part of the demo world is missing. Flushes only. Returns whether anything was loaded."""
    loaded = load_demo(session)
    tea = _entity(session, TEA)
    if not _has_run(session, tea):
        distribute(session, tea, TEA_POLICY, dt.date(2026, 3, 15), "金果坪藤茶合作社2026年第1次成员大会决议",
                   published_on=dt.date(2026, 3, 15))
        loaded = True
    if not _has_batch(session, tea):
        loaded = pay_tea_by_bank(session, tea) or loaded
    if _entity(session, CLUSTER) is None:
        load_cluster(session)
        loaded = True
    if _entity(session, LAND) is None:
        load_land_coop(session)
        loaded = True
    if _entity(session, ANOMALIES) is None:
        load_anomaly_coop(session)
        loaded = True
    loaded = load_monitoring_lists(session, CLUSTER_TOWNSHIP) or loaded     # the county's lists (防止返贫监测对象)
    from payouts.reports.disclosure.demo import publish_demo_disclosures  # 财务公开: every ended quarter but one

    loaded = publish_demo_disclosures(session, [TEA, CLUSTER, LAND, ANOMALIES, *(v[0] for v in VILLAGES)]) or loaded
    return _create_logins(session) or loaded


def _entity(session: Session, code: str) -> Entity | None:
    return session.scalar(select(Entity).where(Entity.code == code))


def _has_run(session: Session, entity: Entity) -> bool:
    return session.scalar(select(PayoutRun.id).where(
        PayoutRun.entity_id == entity.id, PayoutRun.year == YEAR, PayoutRun.status.in_(IN_FORCE))) is not None


def meeting(members: int) -> tuple[int, int]:
    """A members' meeting as villages hold them: most attend, a few vote against or abstain.
    Meets the collective rule (≥ 2/3 attend, ≥ 2/3 of all members for) and so the cooperatives' too."""
    attended = members - members // 7
    return attended, attended - max(1, members // 15)


def distribute(session: Session, entity: Entity, policy: dict, meeting_date: dt.date, minutes: str, *,
               published_on: dt.date | None = None) -> PayoutRun:
    """Save the policy, draft the year's run, approve it at the meeting, post it and publish it (today, or on
    ``published_on`` of the demo's time line: ``publish_run`` stamps the moment it runs, so its ``published_at`` is
    dated to that day — a field an operation set, not a ledger row)."""
    version = save_policy(session, entity, parse_policy(policy), actor=CONSOLE)
    run = create_run(session, entity, YEAR, policy_version=version, actor=CONSOLE)
    attended, votes_for = meeting(len(run.result["members"]))
    approve_run(session, run, meeting_date=meeting_date, attended=attended, votes_for=votes_for, minutes=minutes, actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, today=published_on, actor=CONSOLE)
    if published_on is not None:
        run.published_at = dt.datetime.combine(published_on, dt.time(1, 0), tzinfo=dt.UTC)     # 09:00 in China
        session.flush()
    return run


# ------------------------------------------------------------------------------- the tea coop's bank batches


#: the household whose name the bank does not know for its card (the register had 光 for 广), corrected after
#: batch 1 and paid by batch 2; the household whose card was closed (销户), still owed
TEA_WRONG_NAME = ("JGP-H017", "郭广荣")
TEA_CLOSED_CARD = "JGP-H042"
#: the banks' words on the return file (状态, 失败原因)
RETURN_FAILED = {TEA_WRONG_NAME[0]: "户名与账号不符", TEA_CLOSED_CARD: "账户已销户"}
#: batch 1 handed to the bank, its results back; batch 2 the same (the notice period ended on 2026-03-22)
TEA_BATCH_DAYS = ((dt.date(2026, 4, 1), dt.date(2026, 4, 3)), (dt.date(2026, 4, 8), dt.date(2026, 4, 10)))


def _has_batch(session: Session, entity: Entity) -> bool:
    return session.scalar(select(PayoutBatch.id).where(PayoutBatch.entity_id == entity.id).limit(1)) is not None


def return_file(session: Session, batch: PayoutBatch, failed: dict[str, str]) -> bytes:
    """The bank's return file of ``batch`` as the bank hands it back (回单): the batch's own file (its 序号, 户名,
    账号, 金额) read back, with 状态 成功 on every line but those of ``failed`` (member code -> the bank's reason),
    失败 with their 失败原因. Nothing is written to disk."""
    import io

    import openpyxl

    from ledger.cells import save_workbook
    from payouts.batches.operations import batch_file

    data = batch_file(session, batch, fmt="xlsx", reason=f"银行代发 第{batch.number}批（演示：回单按代发文件生成）",
                      actor=CONSOLE)
    codes = dict(session.execute(select(PayoutBatchLine.seq, PayoutBatchLine.member_code).where(
        PayoutBatchLine.batch_id == batch.id, PayoutBatchLine.seq.is_not(None))).all())
    rows = list(openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True))
    header = next(n for n, row in enumerate(rows) if row and row[0] == "序号")
    back = openpyxl.Workbook()
    sheet = back.active
    sheet.title = "代发回单"
    sheet.append(["序号", "户名", "账号", "金额", "状态", "失败原因"])
    for row in rows[header + 1:]:
        if not isinstance(row[0], int):
            continue                                      # the summary line
        reason = failed.get(codes[row[0]])
        sheet.append([row[0], row[1], row[2], row[3], "失败" if reason else "成功", reason])
    return save_workbook(back)


def pay_tea_by_bank(session: Session, tea: Entity) -> bool:
    """Pay the tea cooperative's 2025 run through the bank, after its notice period (docs/DEMO.md): batch 1 of every
    household owed, sent, its results read (two failures); the wrong name corrected; batch 2 of that household
    alone (the closed card is listed apart: not corrected), sent, paid. Flushes only. Returns whether it paid."""
    from cooperatives.operations import correct_account
    from cooperatives.privacy import decrypt
    from payouts.batches.operations import create_batch, mark_sent, read_results, sms_file

    run = session.scalar(select(PayoutRun).where(PayoutRun.entity_id == tea.id, PayoutRun.year == YEAR,
                                                 PayoutRun.status == "published"))
    (sent_1, paid_1), (sent_2, paid_2) = TEA_BATCH_DAYS
    if run is None or run.notice_until is None or run.notice_until >= sent_1:
        return False                # an older demo's run, published on the day it was loaded: left to be paid
    first = create_batch(session, run, layout="generic", actor=CONSOLE)
    back = return_file(session, first, RETURN_FAILED)
    mark_sent(session, first, on=sent_1, actor=CONSOLE)
    read_results(session, first, back, "代发第1批回单.xlsx", on=paid_1, actor=CONSOLE)
    sms_file(session, first, public_url="http://127.0.0.1:5000", actor=CONSOLE)     # the texts' send log
    code, bank_name = TEA_WRONG_NAME
    member = session.scalar(select(Member).where(Member.entity_id == tea.id, Member.code == code))
    household = session.get(Household, member.household_id)
    correct_account(session, tea, member, bank_account=decrypt(household.bank_account_enc), head_name=bank_name,
                    actor=CONSOLE)
    second = create_batch(session, run, layout="generic", actor=CONSOLE)
    back = return_file(session, second, {})
    mark_sent(session, second, on=sent_2, actor=CONSOLE)
    read_results(session, second, back, "代发第2批回单.xlsx", on=paid_2, actor=CONSOLE)
    return True


def pay_all_by_bank(session: Session, run: PayoutRun, *, sent_on: dt.date, paid_on: dt.date) -> None:
    """One bank batch of every household ``run`` owes, sent on ``sent_on``, the bank's return file all 成功 and read
    on ``paid_on``: every household paid, posted as each payment is (Dr 221/222 / Cr 102)."""
    from payouts.batches.operations import create_batch, mark_sent, read_results

    batch = create_batch(session, run, layout="generic", actor=CONSOLE)
    back = return_file(session, batch, {})
    mark_sent(session, batch, on=sent_on, actor=CONSOLE)
    read_results(session, batch, back, f"代发第{batch.number}批回单.xlsx", on=paid_on, actor=CONSOLE)


# ------------------------------------------------------------------------------------ the cluster project


ZHUANG_SURNAMES = "黄韦罗陆农覃梁蒙岑潘李杨王卢莫"


def village_workbook(rng: random.Random, index: int, code: str, village: str, households: int, stake: int = 0) -> dict:
    """A village collective on the 2023 system (its books from 1 January 2025): its opening balances — its ``stake``
    in the cluster project put in in 2024 (长期投资) and its money in the bank, both out of its accumulated
    公积公益金 —, its households, their shares in the 份额登记簿 (one per person, quantified in the 2020 reform: a
    register, not money), and for most villages some income and costs of their own in 2025."""
    sheets: dict[str, list[dict]] = {"entity": [{"code": code, "name": f"{village}股份经济合作社", "kind": "collective",
                                                 "township": CLUSTER_TOWNSHIP, "village": village,
                                                 "books_start": f"{YEAR}-01-01"}],
                                     "households": [], "members": [], "shares": [], "sales": [], "expenses": []}
    used: set[str] = set()
    cash = 20000 + 5000 * index
    sheets["opening"] = [
        {"account": "141", "debit": f"{stake}.00", "note": "对百乐乡九村联建葡萄大棚项目的投资（2024年入股）"},
        {"account": "102", "debit": f"{cash}.00", "note": "银行存款"},
        {"account": "311", "credit": f"{stake + cash}.00", "note": "历年公积公益金"}]
    for i in range(1, households + 1):
        hcode = f"{code}-H{i:03d}"
        birth = dt.date(rng.randint(1948, 1992), rng.randint(1, 12), rng.randint(1, 28))
        monitoring = rng.choices(["none", "unstable", "marginal", "hardship"], [80, 9, 8, 3])[0]
        sheets["households"].append({
            "code": hcode, "head_name": person_name(rng, used, ZHUANG_SURNAMES), "village": village,
            "phone": f"13{rng.randint(100000000, 999999999)}", "id_number": id_number(birth, index * 100 + i, "451029"),
            "bank_account": bank_card(rng.randint(10**12, 10**13 - 1)), "monitoring": monitoring,
            "poverty_exited": "yes" if i == 1 or rng.random() < 0.35 else "no"})
        sheets["members"].append({"member": hcode, "member_no": i, "joined_on": "2020-06-30"})
        persons = rng.randint(1, 6)
        sheets["households"][-1]["persons"] = persons        # one share per person (家庭人口)
        sheets["shares"].append({"date": "2020-06-30", "member": hcode, "shares": str(persons), "kind": "reform",
                                 "note": f"集体经营性资产收益权份额 {persons} 股（2020年产权制度改革量化）"})
    if index % 3 != 0:          # six villages have income of their own; three live on the project alone
        for what in rng.sample(["集体林地发包", "村集体铺面出租", "砂糖橘基地土地发包", "农机具出租"], 2):
            sheets["sales"].append({"date": day(rng, 3, 11).isoformat(), "buyer": f"{rng.choice(ZHUANG_SURNAMES)}某（承包方）",
                                    "product": what, "amount": f"{rng.randint(8, 45) * 1000}.00"})
        sheets["expenses"].append({"date": f"{YEAR}-12-20", "category": "management", "amount": "4800.00",
                                   "payee": "村级报账员补贴", "note": ""})
        sheets["expenses"].append({"date": day(rng, 4, 10).isoformat(), "category": "operating",
                                   "amount": f"{rng.randint(20, 90) * 100}.00", "payee": "集体资产维修"})
    return {k: v for k, v in sheets.items() if v}


def cluster_workbook(rng: random.Random) -> dict:
    """The project: members are the nine collectives; 2024 capital and subsidy, 2025 sales and costs."""
    sheets: dict[str, list[dict]] = {
        "entity": [{"code": CLUSTER, "name": "百乐乡九村联建葡萄大棚项目", "kind": "cluster_project",
                    "township": CLUSTER_TOWNSHIP, "village": VILLAGES[0][1]}],
        "members": [{"member": code, "member_no": n, "joined_on": "2024-03-01"}
                    for n, (code, *_rest) in enumerate(VILLAGES, 1)],
        "capital": [{"date": "2024-03-01", "member": code, "amount": f"{amount}.00", "form": "cash",
                     "note": "衔接资金及村集体积累入股"} for code, _v, amount, _h, _r in VILLAGES],
        "subsidies": [{"date": "2024-03-20", "source": "深圳市东西部协作资金（建设24座葡萄避雨大棚）", "kind": "fiscal",
                       "amount": "4800000.00", "quantify": "no", "poverty_asset": "yes"}],
        # the funds build the 24 greenhouses: 在建工程 from March, in use from 31 August 2024 (235 → 311 when built),
        # then depreciated over 15 years from September: 4,560,000 / 180 = 25,333.33 a month
        "assets": [{"code": "TL-DP-01", "name": "葡萄避雨大棚（24座）", "acquired_on": "2024-03-25", "cost": "4800000.00",
                    "life_years": "15", "salvage_pct": "5", "project": "深圳市东西部协作资金（建设24座葡萄避雨大棚）",
                    "poverty_asset": "yes", "under_construction": "yes", "in_use_on": "2024-08-31"}],
        "sales": [], "expenses": []}
    grapes = [("阳光玫瑰葡萄", Decimal(rng.randint(1400, 2200)) / 100) for _ in range(34)]
    grapes += [("夏黑葡萄", Decimal(rng.randint(800, 1200)) / 100) for _ in range(14)]
    amounts = allocate(Decimal("3500000"), {i: rng.randint(40, 100) for i in range(len(grapes))}, unit=Decimal(1))
    buyers = ("深圳布吉农批市场客商（消费帮扶）", "南宁海吉星果蔬批发市场", "百色市电商直播中心", "游客采摘",
              "广东果品连锁超市")
    for n, ((product, price), amount) in enumerate(zip(grapes, amounts.values(), strict=True), 1):
        sheets["sales"].append({"date": day(rng, 6, 10).isoformat(), "buyer": rng.choice(buyers), "product": product,
                                "quantity": str(int(amount / price)), "unit": "kg", "amount": f"{amount}.00",
                                "invoice_no": f"TLPT2025{n:04d}"})
    costs = (("operating", "肥料农药套袋等农资", 65000), ("operating", "大棚务工工资（周边农户）", 85000),
             ("operating", "水电费", 5000), ("operating", "包装物流费", 12500), ("management", "项目管理人员工资", 12000))
    for month in range(1, 13):
        for category, payee, base in costs:
            sheets["expenses"].append({"date": f"{YEAR}-{month:02d}-25", "category": category,
                                       "amount": f"{base + rng.randint(-20, 20) * 100}.00", "payee": payee})
    sheets["expenses"] += [
        {"date": "2025-01-10", "category": "operating", "amount": "240000.00", "payee": "土地流转租金（240亩，1000元/亩）"},
        {"date": "2025-11-15", "category": "operating", "amount": "45000.00", "payee": "大棚膜及骨架维修"},
        {"date": "2025-04-30", "category": "other", "amount": "24000.00", "payee": "设施农业保险"},
        {"date": "2025-12-20", "category": "finance", "amount": "2600.00", "payee": "银行手续费"}]
    return sheets


def load_cluster(session: Session) -> None:
    """The nine villages, the project, the project's run (cascading into the villages), the villages' runs."""
    rng = random.Random(20250924)
    for index, (code, village, amount, households, _reserve) in enumerate(VILLAGES, 1):
        import_sheets(session, village_workbook(rng, index, code, village, households, amount), code.lower())
    # as in a county: the admin creates the project, the township links the villages that own it, then the
    # project's accountant imports its books (whose members sheet may name only linked villages)
    project = create_entity(session, code=CLUSTER, name="百乐乡九村联建葡萄大棚项目", kind="cluster_project",
                            township=CLUSTER_TOWNSHIP, village=VILLAGES[0][1], books_start=dt.date(2024, 1, 1),
                            actor=CONSOLE)
    for code, *_rest in VILLAGES:
        link_member_entity(session, project, _entity(session, code), actor=CONSOLE)
    import_sheets(session, cluster_workbook(rng), CLUSTER.lower())
    # 2024 — the greenhouses built, four months of depreciation, no sales yet — is closed for good (结账) before
    # 2025 is distributed: its loss is brought forward into 2025's distributable surplus
    finalize_year(session, _entity(session, CLUSTER), 2024, actor=CONSOLE)
    project_run = distribute(session, _entity(session, CLUSTER), CLUSTER_POLICY, dt.date(2026, 1, 20),
                             "九村联建葡萄大棚项目2026年股东代表会议决议", published_on=dt.date(2026, 1, 20))
    # the project pays each village its share by bank: received in the village's books against the receivable
    for snap in session.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == project_run.id)
                                .order_by(StatementSnapshot.member_code)):
        record_receipt(session, snap, amount=Decimal(snap.content["net"]), method="bank", on=dt.date(2026, 1, 28),
                       reference=f"百乐乡九村联建项目2025年收益分配 {snap.member_code}", actor=CONSOLE)
    # each village distributes at its members' meeting in February and, once its notice period is over, pays every
    # household through the bank in one batch the bank pays whole
    for index, (code, village, _amount, _households, reserve) in enumerate(VILLAGES, 1):
        meeting_day = dt.date(2026, 2, 2 + index)
        village_run = distribute(session, _entity(session, code), village_policy(reserve), meeting_day,
                                 f"{village}2026年成员大会决议（收益分配方案）", published_on=meeting_day)
        pay_all_by_bank(session, village_run, sent_on=dt.date(2026, 3, 2), paid_on=dt.date(2026, 3, 4))


# ---------------------------------------------------------------------------------- the land-share coop


HUI_SURNAMES = "马王李张刘杨丁海田赵周金"


def land_workbook(rng: random.Random) -> dict:
    """40 households leasing in 300 亩 for ten years at 保底 800 元/亩; a year of rice and crabs."""
    sheets: dict[str, list[dict]] = {
        "entity": [{"code": LAND, "name": "五星村土地股份合作社", "kind": "land_coop", "township": LAND_TOWNSHIP,
                    "village": "五星村"}],
        "households": [], "members": [], "land": [], "labor": [], "sales": [], "expenses": []}
    used: set[str] = set()
    people = random.Random(20250602)        # 家庭人口, drawn apart so the year's figures stay as they were
    areas = allocate(LAND_AREA, {i: rng.randint(11, 19) for i in range(1, 41)}, unit=Decimal("0.5"))
    for i, area in areas.items():
        code = f"WX-H{i:03d}"
        birth = dt.date(rng.randint(1950, 1990), rng.randint(1, 12), rng.randint(1, 28))
        sheets["households"].append({
            "code": code, "head_name": person_name(rng, used, HUI_SURNAMES), "village": "五星村",
            "phone": f"13{rng.randint(100000000, 999999999)}", "id_number": id_number(birth, i, "640381"),
            "bank_account": bank_card(rng.randint(10**12, 10**13 - 1)),
            "monitoring": rng.choices(["none", "unstable", "marginal"], [90, 6, 4])[0],
            "persons": people.randint(2, 6)})
        sheets["members"].append({"member": code, "member_no": i, "joined_on": "2024-12-20"})
        sheets["land"].append({"member": code, "contract_no": f"WX-TD-{i:03d}", "area_mu": str(area),
                               "shares": str(area), "base_rent_per_mu": str(LAND_RENT), "start_on": "2025-01-01",
                               "end_on": "2034-12-31"})
        if rng.random() < 0.5:
            for task, months in (("插秧", (5, 5)), ("田间管理", (6, 8)), ("收割", (9, 10))):
                sheets["labor"].append({"date": day(rng, *months).isoformat(), "member": code, "worker": "",
                                        "days": str(rng.randint(3, 8)), "rate": "130", "task": task})
    for n in range(1, 31):
        rice = n <= 22
        qty = rng.randint(4300, 5500) if rice else rng.randint(150, 300)
        price = Decimal(rng.randint(520, 580)) / 100 if rice else Decimal(rng.randint(40, 52))
        sheets["sales"].append({"date": day(rng, 9, 12).isoformat(), "buyer": rng.choice(
                                    ("银川新华百货超市", "宁夏塞上粮油公司", "电商平台", "吴忠市农贸市场")),
                                "product": "稻蟹米" if rice else "河蟹", "quantity": str(qty), "unit": "kg",
                                "amount": f"{quantize(qty * price)}", "invoice_no": f"WX2025{n:04d}"})
    for on, category, amount, payee in (
            ("2025-04-10", "operating", "66000.00", "稻种化肥"), ("2025-05-20", "operating", "36000.00", "蟹苗"),
            ("2025-05-08", "operating", "36000.00", "农机作业服务（耕整插秧）"),
            ("2025-10-05", "operating", "42000.00", "农机作业服务（收割）"),
            ("2025-08-30", "operating", "18000.00", "灌溉水费"),
            ("2025-11-20", "operating", "60000.00", "大米加工包装"), ("2025-12-25", "management", "36000.00", "管理人员补贴"),
            ("2025-12-25", "finance", "900.00", "银行手续费")):
        sheets["expenses"].append({"date": on, "category": category, "amount": amount, "payee": payee})
    # no capital: the spring is paid for with a loan from the rural credit union (春耕贷款), repaid with interest
    # once the rice is sold (记账凭证); the labour is paid out of 应付劳务费 at the year's end
    loan = "县农村信用社春耕贷款"
    sheets["journal"] = [
        {"voucher": "J01", "date": "2025-04-01", "memo": loan, "account": "102", "debit": "300000.00",
         "attachments": "2"},
        {"voucher": "J01", "date": "2025-04-01", "memo": loan, "account": "201", "credit": "300000.00"},
        {"voucher": "J02", "date": "2025-12-20", "memo": f"归还{loan}本息", "account": "201", "debit": "300000.00",
         "attachments": "1"},
        {"voucher": "J02", "date": "2025-12-20", "memo": f"归还{loan}本息", "account": "524", "debit": "9532.50"},
        {"voucher": "J02", "date": "2025-12-20", "memo": f"归还{loan}本息", "account": "102", "credit": "309532.50"}]
    sheets["payments"] = wages_paid(sheets["labor"], "2025-12-10", "WXLW")
    return sheets


def load_land_coop(session: Session) -> None:
    import_sheets(session, land_workbook(random.Random(20250601)), LAND.lower())
    distribute(session, _entity(session, LAND), LAND_POLICY, dt.date(2026, 1, 25),
               "五星村土地股份合作社2026年成员大会决议（二次分红）")


# ------------------------------------------------------------------------------------------------ logins


def _create_logins(session: Session) -> bool:
    """The logins beyond the cooperative's four (created by ``load_demo``); those taken are left alone."""
    taken = set(session.scalars(select(User.username)))
    scopes = {
        "tl-kuaiji": {"entity_id": _entity(session, CLUSTER).id},
        "bl-kuaiji": {"entity_id": _entity(session, "TL-V01").id},
        "wx-kuaiji": {"entity_id": _entity(session, LAND).id},
        "bl-nongjing": {"township_id": session.scalar(select(Township.id).where(Township.name == CLUSTER_TOWNSHIP))},
        "TL-V01-H001": {"household_id": session.scalar(select(Household.id).where(Household.code == "TL-V01-H001"))},
    }
    names = {"tl-kuaiji": "黄会计（葡萄项目）", "bl-kuaiji": "韦会计（百乐村）", "wx-kuaiji": "马会计（五星村）",
             "bl-nongjing": "百乐乡农经站"}
    created = False
    for role, username, password, _ in WORLD_LOGINS:
        if username in taken or username not in scopes:
            continue
        display = names.get(username) or session.get(Household, scopes[username]["household_id"]).head_name
        create_user(session, username=username, password=password, role=role, display_name=display, actor=CONSOLE,
                    **scopes[username])
        created = True
    return created


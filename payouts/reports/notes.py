"""会计报表附注, from the books and the records.

* A farmer cooperative (财会〔2021〕37号 第五十五条: the 财务报表 are the 会计报表 and their 附注): the nine items of
  第五十八条 in its order, each with what the 附录's 编制说明 (（四）附注及编制说明) lists under it — members and
  farmer members with their share, each member's capital and reserve share, joining and leaving, trade with members
  and with non-members kept apart (law Art. 41), the reserve rate, the distribution plan, state support, assets at a
  nominal amount. What the books cannot know (the board's names, lawsuits) is printed as a blank to fill or as
  "none recorded", never guessed.
* A village collective on the 2023 system (财会〔2023〕14号 第七章: the annual report is the 资产负债表, the
  收益及收益分配表 and the 附注). The official list of the 附注's items could not be read (collective2023.md 报表
  §3); these are the items of our reading — the 2021 cooperative system's 附注 and the 2004 system's disclosure of
  losses not yet written off — each filled from the books and the records, and the report says so in one line.

Every figure is an aggregate query; the sections are text, and small tables of text and Decimals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from cooperatives.kinds import unspent_projects
from cooperatives.models import Delivery, Entity, FixedAsset, Household, InputSupply, Member, Sale, Subsidy
from cooperatives.queries import share_register
from ledger.db import Quantity, money_sum
from ledger.forms import FORMS
from ledger.money import fmt
from ledger.queries import account_balances, party_balances
from payouts.models import IN_FORCE, PayoutRun, PolicyVersion

Z = Decimal("0.00")


@dataclass(frozen=True)
class NoteSection:
    title: str
    paragraphs: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple, ...] = ()         # text and Decimal amounts


@dataclass(frozen=True)
class Notes:
    name: str
    form: str
    title: str
    entity: str
    entity_name: str
    year: int
    period: str
    sections: tuple[NoteSection, ...]
    notes: tuple[str, ...] = ()


def notes(session: Session, entity, year: int, sheet, income) -> Notes:
    """The 附注 of ``entity``'s ``year`` (its book keeps the 2021 cooperative or the 2023 collective system): what its
    资产负债表 ``sheet`` and 收益及收益分配表 or 盈余及盈余分配表 ``income`` (:mod:`payouts.reports.statutory`) do not
    show."""
    if entity.chart == "fpc2021":
        return cooperative_notes(session, entity, year, sheet, income)
    form = FORMS[entity.chart]["notes"]
    book = entity.book
    end = dt.date(year, 12, 31)

    def both(key: str) -> tuple[Decimal, Decimal]:
        values = sheet.line(key).values
        return values[0], values[1]

    balances = account_balances(session, book, up_to_year=year)

    def bal(code: str) -> Decimal:
        return balances.get(code, Z)

    sections = [_compliance(entity, year), _basics(session, entity, year, end)]
    # 三、重要项目的进一步说明
    items = [("货币资金", *both("A1")), ("其中：库存现金", bal("101"), None), ("银行存款", bal("102"), None),
             ("应收款项", *both("A3")), ("长期投资", *both("A8")), ("固定资产原值", *both("A12")),
             ("累计折旧", *both("A13")), ("专项应付款", *both("L10")), ("公积公益金", *both("E2")),
             ("未分配收益", *both("E3"))]
    sections.append(NoteSection("三、会计报表重要项目的进一步说明", headers=("项目", "期末余额", "年初余额"),
                                rows=tuple(items)))
    investments = _investments(session, entity, year)
    if investments:
        sections.append(NoteSection("（一）长期投资明细", headers=("被投资单位", "本组织账面长期投资", "对方账面股金"),
                                    rows=tuple(investments)))
    projects = [(name, left) for name, left in sorted(unspent_projects(session, entity).items()) if left]
    if projects:
        sections.append(NoteSection("（二）专项应付款（尚未使用的财政项目资金）", headers=("项目", "余额"),
                                    rows=tuple(projects)))
    assets = session.execute(select(func.count(FixedAsset.id)).where(
        FixedAsset.entity_id == entity.id, FixedAsset.live(), FixedAsset.acquired_on <= end)).scalar()
    sections.append(NoteSection("（三）固定资产", (f"固定资产卡片 {assets} 张，原值 {fmt(both('A12')[0])} 元，"
                                              f"累计折旧 {fmt(both('A13')[0])} 元，净值 {fmt(both('A14')[0])} 元；"
                                              "按月平均年限法计提折旧。",)))
    # 四、五: losses not yet written off, assets at a nominal amount
    pending = bal("181")
    sections.append(NoteSection("四、已发生损失但尚未批准核销的各项资产", (
        "无。" if not pending else f"待处理财产损溢余额 {fmt(pending)} 元，尚待按程序批准处理。",)))
    sections.append(NoteSection("五、以名义金额计量的资产", ("无。",)))
    sections.append(_other_matters(session, entity, year, income))
    sections.append(NoteSection("七、会计政策、会计估计变更和差错更正", (
        ("本组织自2024年1月1日起执行《农村集体经济组织会计制度》（财会〔2023〕14号），按《农村集体经济组织新旧会计制度"
         "有关衔接问题的处理规定》（财会〔2023〕20号）将2023年12月31日原账各科目余额按新旧科目对照转入新账。")
        if book.previous_book_id is not None and year == 2024 else "本年无会计政策、会计估计变更，无前期差错更正。",)))
    sections.append(NoteSection("八、与所得税纳税调整相关的说明", (
        f"本年所得税费用 {fmt(income.line('I12').values[0])} 元。",)))
    register = share_register(session, entity, until=end)
    sections.append(NoteSection("九、其他需要说明的事项", (
        f"份额登记簿：年末 {len(register['members'])} 户成员持有集体资产份额 {register['total']} 份；份额是成员享有集体"
        "资产收益分配的依据，不是出资，不计入资本。",)))
    return Notes(name="notes", form=form.number, title=form.title, entity=entity.code, entity_name=entity.name,
                 year=year, period=form.period.format(year), sections=tuple(sections), notes=(form.note,))


def _compliance(entity: Entity, year: int) -> NoteSection:
    return NoteSection("一、遵循《农村集体经济组织会计制度》的声明", (
        f"本组织按照《农村集体经济组织会计制度》（财会〔2023〕14号）进行会计核算，编制的{year}年度会计报表真实、完整地"
        f"反映了本组织{year}年12月31日的财务状况和{year}年度的收益及收益分配情况。",))


def _basics(session: Session, entity: Entity, year: int, end: dt.date) -> NoteSection:
    members = session.scalar(select(func.count(Member.id)).where(
        Member.entity_id == entity.id, Member.joined_on <= end,
        (Member.left_on.is_(None)) | (Member.left_on >= dt.date(year, 1, 1))))
    products = session.scalars(select(Sale.product).where(
        Sale.entity_id == entity.id, Sale.live(), func.extract("year", Sale.date) == year)
        .group_by(Sale.product).order_by(func.sum(Sale.amount).desc()).limit(5)).all()
    rows = [("名称", entity.name), ("统一社会信用代码", entity.credit_code or "—"),
            ("所在乡镇", entity.township.name), ("所在村", entity.village.name if entity.village else "—"),
            ("成员（户）", str(members)), ("主要经营项目", "、".join(products) or "—")]
    return NoteSection("二、基本情况", headers=("项目", "内容"), rows=tuple(rows))


def _investments(session: Session, entity: Entity, year: int) -> list[tuple]:
    """Each cluster project ``entity`` holds a stake in: the 长期投资 in its books beside the project's 股金 from it."""
    stake = account_balances(session, entity.book, up_to_year=year).get("141", Z)
    projects = session.scalars(select(Entity).join(Member, Member.entity_id == Entity.id)
                               .where(Member.member_entity_id == entity.id).order_by(Entity.code)).all()
    rows = []
    for project in projects:
        member = session.scalar(select(Member.code).where(Member.entity_id == project.id,
                                                          Member.member_entity_id == entity.id))
        held = -party_balances(session, project.book, "301", up_to_year=year).get(member, Z)
        rows.append((project.name, stake if len(projects) == 1 else None, held))
    return rows


def _other_matters(session: Session, entity: Entity, year: int, income) -> NoteSection:
    paragraphs = []
    for kind, label in (("donation", "接受捐赠"), ("fiscal", "国家财政支持")):
        found = session.execute(select(Subsidy.date, Subsidy.source, Subsidy.amount).where(
            Subsidy.entity_id == entity.id, Subsidy.live(), Subsidy.kind == kind,
            func.extract("year", Subsidy.date) == year).order_by(Subsidy.date)).all()
        if found:
            paragraphs.append(f"{label}：" + "；".join(f"{on.isoformat()} {source} {fmt(amount)} 元"
                                                     for on, source, amount in found) + "。")
    drawn, shared = income.line("I17").values[0], income.line("I18").values[0]
    run = session.scalar(select(PayoutRun).where(PayoutRun.entity_id == entity.id, PayoutRun.year == year,
                                                 PayoutRun.status.in_(IN_FORCE)))
    if run is None:
        paragraphs.append("收益分配方案：本年尚无经成员（代表）大会通过并已入账的分配方案。")
    else:
        paragraphs.append(f"收益分配方案：第 {run.id} 号方案经 {run.meeting_date.isoformat()} 成员（代表）大会通过"
                          f"（应到 {run.members_count} 人，实到 {run.attended} 人，赞成 {run.votes_for} 人）；"
                          f"提取公积公益金 {fmt(drawn)} 元，向成员分配 {fmt(shared)} 元。")
    return NoteSection("六、其他重要事项", tuple(paragraphs))


# ------------------------------------------------------------------------------ farmer cooperatives (2021 system)

COOPERATIVE_SYSTEM = "《农民专业合作社会计制度》（财会〔2021〕37号）"
#: how a traded quantity's unit is printed (the unit as traded: 斤 stays 斤)
UNIT_NAMES = {"kg": "公斤", "jin": "斤"}
#: a fixed asset carried at this cost is at its nominal amount (名义金额, 人民币 1 元: 制度 第二十二条、第二十五条)
NOMINAL = Decimal("1.00")
BLANK = "＿＿＿＿＿＿＿＿"


def cooperative_notes(session: Session, entity, year: int, sheet, income) -> Notes:
    """The 附注 of a farmer cooperative's ``year``: 第五十八条's nine items in its order, the contents of each as
    the 附录's 编制说明 lists them, from the 01表 ``sheet``, the 02表 ``income``, the ledger and the records."""
    form = FORMS["fpc2021"]["notes"]
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    members = _cooperative_members(session, entity, end)
    run = session.scalar(select(PayoutRun).where(PayoutRun.entity_id == entity.id, PayoutRun.year == year,
                                                 PayoutRun.status.in_(IN_FORCE)))
    trade = _trade_with(session, entity, start, end)
    sections = [
        NoteSection("一、遵循农民专业合作社会计制度的声明", (
            f"本社按照{COOPERATIVE_SYSTEM}进行会计核算，编制的{year}年度财务报表符合农民专业合作社会计制度的要求，"
            f"真实、完整地反映了本社{year}年12月31日的财务状况和{year}年度的经营成果等有关信息。",)),
        _cooperative_basics(entity, year, sheet, members, trade, end),
        *_member_equity(session, entity, year, sheet, members, start, end),
        *_important_items(session, entity, year, sheet),
        NoteSection("五、已发生损失但尚未批准核销的相关资产", (
            "账簿中未记录已发生损失、尚待批准核销的应收款项、对外投资、固定资产、在建工程、无形资产或其他资产；"
            "年度终了清查发现的，应在此列明名称、金额和情况。",)),
        _nominal_assets(session, entity, end),
        *_cooperative_matters(session, entity, year, income, run, trade, start, end),
        NoteSection("八、纳税调整", (
            f"本年所得税费用 {fmt(income.line(11).values[0])} 元（会农社02表第11行）。账簿未记录会计盈余与企业所得税法"
            "规定之间的差异，未作纳税调整。",)),
        NoteSection("九、其他需要说明的事项", ("无。",)),
    ]
    return Notes(name="notes", form=form.number, title=form.title, entity=entity.code, entity_name=entity.name,
                 year=year, period=form.period.format(year), sections=tuple(sections),
                 notes=(form.note,) if form.note else ())


@dataclass(frozen=True)
class _Member:
    code: str
    no: int
    name: str
    farmer: bool
    organisation: bool          # an enterprise, institution or social organisation (a member entity)
    joined: dt.date
    left: dt.date | None


def _cooperative_members(session: Session, entity, end: dt.date) -> list[_Member]:
    """Every member who joined by ``end``, by member number (one query)."""
    member_entity = aliased(Entity)
    rows = session.execute(
        select(Member.code, Member.member_no, func.coalesce(Household.head_name, member_entity.name, Member.code),
               Member.farmer, Member.member_entity_id.is_not(None), Member.joined_on, Member.left_on)
        .outerjoin(Household, Household.id == Member.household_id)
        .outerjoin(member_entity, member_entity.id == Member.member_entity_id)
        .where(Member.entity_id == entity.id, Member.joined_on <= end).order_by(Member.member_no)).all()
    return [_Member(*row) for row in rows]


def _pct(part, whole) -> str:
    return f"{(Decimal(part) * 100 / Decimal(whole)).quantize(Decimal('0.01'))}%" if whole else "—"


def _cooperative_basics(entity, year: int, sheet, members: list[_Member], trade: dict, end: dt.date) -> NoteSection:
    """2. 合作社的基本情况: 股金总额, 成员总数, 农民成员数及所占的比例, 主要服务对象, 主要经营项目."""
    here = [m for m in members if m.left is None or m.left > end]
    farmers = sum(1 for m in here if m.farmer and not m.organisation)
    served = {kind: len(trade["members"].get(kind, ())) for kind in ("delivery", "input", "sale")}
    service = "、".join(text for kind, text in (("delivery", "交售产品"), ("input", "购买农资"), ("sale", "购买产品"))
                       if served[kind] for text in [f"{text} {served[kind]} 户"])
    products = sorted(trade["products"].items(), key=lambda item: -item[1])[:5]
    rows = (("名称", entity.name), ("统一社会信用代码", entity.credit_code or "—"),
            ("所在乡镇", entity.township.name), ("股金总额（元）", fmt(sheet.line(36).values[0])),
            ("年末成员总数（个）", str(len(here))), ("其中：农民成员（个）", str(farmers)),
            ("农民成员占成员总数的比例", _pct(farmers, len(here))),
            ("主要服务对象", f"本社成员（{service}）" if service else "本社成员"),
            ("主要经营项目", "、".join(name for name, _ in products) or "—"))
    return NoteSection("二、合作社的基本情况", headers=("项目", "内容"), rows=rows)


def _member_equity(session: Session, entity, year: int, sheet, members: list[_Member], start: dt.date,
                   end: dt.date) -> list[NoteSection]:
    """3. 成员权益结构: the board (not kept in the books: blanks to fill), each member's 出资额 and 公积金份额 from
    their sub-accounts of 股金 and 盈余公积, joining and leaving, member organisations, the 03表's movement."""
    book = entity.book
    capital = party_balances(session, book, "301", up_to_year=year)
    reserve = party_balances(session, book, "322", up_to_year=year)
    here = [m for m in members if m.left is None or m.left > end]
    present = {m.code for m in here}
    shares = [(str(m.no), m.name, -capital.get(m.code, Z), -reserve.get(m.code, Z))
              for m in members if m.code in present or capital.get(m.code) or reserve.get(m.code)]
    total_capital, total_reserve = sheet.line(36).values[0], sheet.line(39).values[0]
    rows = list(shares)
    unassigned = (total_capital - sum((r[2] for r in shares), Z), total_reserve - sum((r[3] for r in shares), Z))
    if any(unassigned):
        rows.append(("", "未量化到成员的部分", unassigned[0], unassigned[1]))
    rows.append(("", "合计", total_capital, total_reserve))
    joined = [m for m in members if start <= m.joined <= end]
    left = [m for m in members if m.left is not None and start <= m.left <= end]
    movement = [f"本年入社 {len(joined)} 个" + (f"：{'、'.join(f'{m.name}（{m.joined.isoformat()}）' for m in joined)}"
                                             if joined else ""),
                f"本年退社 {len(left)} 个" + (f"：{'、'.join(f'{m.name}（{m.left.isoformat()}）' for m in left)}"
                                           if left else "")]
    organisations = sum(1 for m in here if m.organisation)
    equity = [(sheet.line(n).label, sheet.line(n).values[1], sheet.line(n).values[0]) for n in range(36, 42)]
    return [
        NoteSection("三、成员权益结构"),
        NoteSection("（一）理事长、理事、执行监事、监事会名单及变动情况", (
            f"理事长：{BLANK}　理事：{BLANK}　执行监事（监事会成员）：{BLANK}",
            "（名单及本年变动按成员（代表）大会选举结果填写；本系统不登记。）")),
        NoteSection("（二）各成员的出资额、量化到各成员的公积金份额，成员入社和退社情况",
                    ("出资额、公积金份额为年末股金、盈余公积各成员明细账余额（元）。", *movement),
                    headers=("成员编号", "成员", "出资额", "公积金份额"), rows=tuple(rows)),
        NoteSection("（三）企业、事业单位或者社会组织成员", (
            f"年末企业、事业单位或者社会组织成员 {organisations} 个，占成员总数的 {_pct(organisations, len(here))}。",)),
        NoteSection("（四）成员权益变动情况", ("本年增减变动的项目详见会农社03表成员权益变动表。",),
                    headers=("项目", "年初余额", "年末余额"), rows=tuple(equity)),
    ]


def _important_items(session: Session, entity, year: int, sheet) -> list[NoteSection]:
    """4. 会计报表重要项目的进一步说明: the 01表's main lines with their 其中, projects' unspent funds, the fixed
    assets."""
    balances = account_balances(session, entity.book, up_to_year=year)
    opening = account_balances(session, entity.book, up_to_year=year - 1)
    rows = []
    for no, parts in ((1, ("101", "102", "109")), (2, ()), (3, ()), (6, ()), (10, ()), (11, ()), (13, ()), (23, ()),
                      (24, ()), (26, ()), (29, ()), (30, ()), (32, ()), (33, ())):
        line = sheet.line(no)
        if not any(line.values):
            continue
        rows.append((line.label, line.values[0], line.values[1]))
        for code, label in (("101", "其中：库存现金"), ("102", "银行存款"), ("109", "其他货币资金")):
            if code in parts and (balances.get(code) or opening.get(code)):
                rows.append((label, balances.get(code, Z), opening.get(code, Z)))
    out = [NoteSection("四、会计报表重要项目的进一步说明", headers=("项目", "期末余额", "年初余额"), rows=tuple(rows))]
    projects = [(name, left) for name, left in sorted(unspent_projects(session, entity).items()) if left]
    if projects:
        out.append(NoteSection("（一）专项应付款（尚未使用的财政补助项目资金，按项目）", headers=("项目", "余额"),
                               rows=tuple(projects)))
    end = dt.date(year, 12, 31)
    assets = session.execute(select(func.count(FixedAsset.id), money_sum(FixedAsset.cost)).where(
        FixedAsset.entity_id == entity.id, FixedAsset.live(), FixedAsset.acquired_on <= end,
        (FixedAsset.disposed_on.is_(None)) | (FixedAsset.disposed_on > end))).one()
    out.append(NoteSection(f"（{'二' if projects else '一'}）固定资产", (
        f"年末固定资产卡片 {assets[0]} 张，原值 {fmt(sheet.line(10).values[0])} 元，累计折旧 "
        f"{fmt(sheet.line(11).values[0])} 元，净值 {fmt(sheet.line(12).values[0])} 元；按月平均年限法计提折旧。",)))
    return out


def _nominal_assets(session: Session, entity, end: dt.date) -> NoteSection:
    """6. 以名义金额计量的资产: the fixed assets carried at 1 元 and still held."""
    found = session.execute(select(FixedAsset.code, FixedAsset.name, FixedAsset.acquired_on).where(
        FixedAsset.entity_id == entity.id, FixedAsset.live(), FixedAsset.cost == NOMINAL,
        FixedAsset.acquired_on <= end, (FixedAsset.disposed_on.is_(None)) | (FixedAsset.disposed_on > end))
        .order_by(FixedAsset.code)).all()
    if not found:
        return NoteSection("六、以名义金额计量的资产", ("无。",))
    return NoteSection("六、以名义金额计量的资产", (
        "以下资产系接受国家财政直接补助或他人捐赠，无相关凭据、无法评估或比照市价计价，按名义金额（人民币1元）入账，"
        "并在备查簿中登记（制度 第二十二条、第二十五条）。",),
        headers=("卡片编号", "名称", "取得日期", "数量"),
        rows=tuple((code, name, on.isoformat(), "1") for code, name, on in found))


def _trade_with(session: Session, entity, start: dt.date, end: dt.date) -> dict:
    """The year's trade with members and with non-members, kept apart (law Art. 41): ``rows`` (who, business,
    product, unit, quantity, amount), the members each business served, the amount per product. Trade is a member's
    when it is dated within the membership; a household's deliveries before it joined (or after it left) are trade
    with a non-member who used the cooperative's services; sales to buyers who are not members are the cooperative's
    sales to outside customers."""
    rows: list[tuple] = []
    products: dict[str, Decimal] = {}

    def within(model):
        return (model.entity_id == entity.id, model.live(), model.date >= start, model.date <= end)

    def member_then(model):
        return case((and_(Member.joined_on <= model.date, or_(Member.left_on.is_(None), Member.left_on >= model.date)),
                     True), else_=False)

    for business, model, extra in (("交售产品（本社收购）", Delivery, ()),
                                   ("购买本社产品", Sale, (Sale.member_id.is_not(None),))):
        flag = member_then(model)
        for then, product, unit, quantity, amount in session.execute(
                select(flag, model.product, model.unit, type_coerce(func.sum(model.quantity), Quantity),
                       money_sum(model.amount))
                .join(Member, Member.id == model.member_id).where(*within(model), *extra)
                .group_by(flag, model.product, model.unit).order_by(flag.desc(), model.product, model.unit)):
            rows.append(("members" if then else "others", ("成员" if then else "非成员") + business, product, unit,
                         quantity, amount))
            products[product] = products.get(product, Z) + amount
    for product, unit, quantity, amount in session.execute(
            select(Sale.product, Sale.unit, type_coerce(func.sum(Sale.quantity), Quantity), money_sum(Sale.amount))
            .where(*within(Sale), Sale.member_id.is_(None)).group_by(Sale.product, Sale.unit)
            .order_by(Sale.product, Sale.unit)):
        rows.append(("customers", "向外部客户销售产品", product, unit, quantity, amount))
        products[product] = products.get(product, Z) + amount
    flag = member_then(InputSupply)
    for then, item, amount in session.execute(
            select(flag, InputSupply.item, money_sum(InputSupply.amount)).join(Member, Member.id == InputSupply.member_id)
            .where(*within(InputSupply)).group_by(flag, InputSupply.item).order_by(flag.desc(), InputSupply.item)):
        rows.append(("members" if then else "others", ("向成员" if then else "向非成员") + "供应农资", item, None, None,
                     amount))
    served: dict[str, set] = {}
    for kind, model, extra in (("delivery", Delivery, ()), ("sale", Sale, (Sale.member_id.is_not(None),)),
                               ("input", InputSupply, ())):
        served[kind] = set(session.scalars(select(model.member_id).join(Member, Member.id == model.member_id).where(
            *within(model), *extra, member_then(model).is_(True)).distinct()))
    return {"rows": rows, "members": served, "products": products}


def _quantity(quantity, unit) -> str:
    if quantity is None:
        return "—"
    number = Decimal(quantity)
    text = f"{int(number):,}" if number == number.to_integral_value() else f"{number.normalize():,f}"
    return f"{text} {UNIT_NAMES.get(unit, unit or '')}".strip()


def _cooperative_matters(session: Session, entity, year: int, income, run, trade: dict, start: dt.date,
                         end: dt.date) -> list[NoteSection]:
    """7. 其他重要事项: what the books and records show of each of its nine items, trade with members and
    non-members as a table."""
    paragraphs = ["变更主要生产经营项目、从事进出口贸易、对外担保、未决诉讼和仲裁：账簿和记录中均无。"]
    disposed = session.execute(select(FixedAsset.name, FixedAsset.disposed_on, FixedAsset.cost,
                                      FixedAsset.disposal_proceeds).where(
        FixedAsset.entity_id == entity.id, FixedAsset.live(), FixedAsset.disposed_on >= start,
        FixedAsset.disposed_on <= end).order_by(FixedAsset.disposed_on)).all()
    if disposed:
        paragraphs.append("重大财产处理：" + "；".join(
            f"{on.isoformat()} 处置{name}（原值 {fmt(cost)} 元，收入 {fmt(proceeds or Z)} 元）"
            for name, on, cost, proceeds in disposed) + "。")
    balances = account_balances(session, entity.book, up_to_year=year)
    debts = [(label, -balances.get(code, Z)) for code, label in (("201", "短期借款"), ("231", "长期借款"))]
    if any(amount for _, amount in debts):
        paragraphs.append("举债：年末" + "，".join(f"{label} {fmt(amount)} 元" for label, amount in debts if amount) + "。")
    if balances.get("131"):
        paragraphs.append(f"对外投资：年末对外投资 {fmt(balances['131'])} 元。")
    for kind, label in (("donation", "接受捐赠"), ("fiscal", "国家财政支持")):
        found = session.execute(select(Subsidy.date, Subsidy.source, Subsidy.amount).where(
            Subsidy.entity_id == entity.id, Subsidy.live(), Subsidy.kind == kind, Subsidy.date >= start,
            Subsidy.date <= end).order_by(Subsidy.date)).all()
        paragraphs.append(f"{label}：" + ("；".join(f"{on.isoformat()} {source} {fmt(amount)} 元"
                                                    for on, source, amount in found) if found else "无") + "。")
    paragraphs.append(f"税收优惠：本年税金及附加 {fmt(income.line(4).values[0])} 元、所得税费用 "
                      f"{fmt(income.line(11).values[0])} 元；账簿未单独记录享受的减免税额。")
    sections = [NoteSection("七、其他重要事项", tuple(paragraphs))]
    labels = {"members": "与成员", "others": "与非成员", "customers": "外部客户"}
    totals = dict.fromkeys(labels, Z)
    rows = []
    for who, business, product, unit, quantity, amount in trade["rows"]:
        totals[who] += amount
        rows.append((labels[who], business, product, _quantity(quantity, unit), amount))
    rows += [(labels[who], "合计", "", "", totals[who]) for who in labels]
    sections.append(NoteSection(
        "（一）与成员的交易量（额）和与利用其提供的服务的非成员的交易量（额）",
        ("与成员、与利用本社服务的非成员的交易分别列示（《农民专业合作社法》第四十一条）：交易在成员入社至退社期间的"
         "为与成员的交易；本社向外部客户销售产品另列。交易量按交易时的计量单位列示。",),
        headers=("对象", "业务", "产品（物资）", "交易量", "交易额"), rows=tuple(rows)))
    sections.append(_reserve_rate(session, run, income))
    sections.append(_plan(run, income))
    return sections


def _reserve_rate(session: Session, run, income) -> NoteSection:
    """(7) 提取盈余公积的比例: the rate of the policy the run in force applied, and what it drew."""
    drawn = income.line(15).values[0]
    if run is None:
        return NoteSection("（二）提取盈余公积的比例", (f"本年提取盈余公积 {fmt(drawn)} 元；本年尚无已入账的盈余分配方案。",))
    policy = session.get(PolicyVersion, run.policy_id).data
    rates = {"reserve": policy.get("reserve_pct", "0"), **{f["name"]: f["pct"] for f in policy.get("funds", ())}}
    amounts = {r["name"]: Decimal(r["amount"]) for r in run.result.get("reserves", ())}
    funds = "；".join(f"另提取{name} {rates.get(name, '—')}%，{fmt(amount)} 元"
                     for name, amount in amounts.items() if name != "reserve")
    return NoteSection("（二）提取盈余公积的比例", (
        f"按章程和成员（代表）大会决议，按弥补亏损后的本年盈余的 {rates['reserve']}% 提取盈余公积 "
        f"{fmt(amounts.get('reserve', drawn))} 元" + (f"；{funds}（会农社02表第15行 {fmt(drawn)} 元含之）" if funds else "")
        + "。",))


def _plan(run, income) -> NoteSection:
    """(8) 盈余分配方案、亏损处理方案, from the 02表 and the run in force."""
    surplus, distributable = income.line(12).values[0], income.line(16).values[0]
    returned, rest, converted = (income.line(n).values[0] for n in (17, 18, 19))
    paragraphs = []
    if surplus < 0:
        paragraphs.append(f"亏损处理方案：本年亏损 {fmt(-surplus)} 元，年末未分配盈余 {fmt(income.line(20).values[0])} "
                          "元，留待以后年度弥补或经成员（代表）大会决议以盈余公积弥补。")
    if run is None:
        paragraphs.append("盈余分配方案：本年尚无经成员（代表）大会通过并已入账的分配方案。")
    else:
        paragraphs.append(
            f"盈余分配方案：第 {run.id} 号方案经 {run.meeting_date.isoformat() if run.meeting_date else '—'} 成员（代表）"
            f"大会通过（应到 {run.members_count} 人，实到 {run.attended} 人，赞成 {run.votes_for} 人）。可分配盈余 "
            f"{fmt(distributable)} 元，按成员与本社的交易量（额）返还 {fmt(returned)} 元，占可分配盈余的 "
            f"{_pct(returned, distributable)}（法定不低于60%）；剩余盈余按成员出资额、公积金份额和量化的财政补助、"
            f"捐赠形成财产份额分配 {fmt(rest)} 元" + (f"；转为成员出资 {fmt(converted)} 元" if converted else "") + "。")
    return NoteSection("（三）盈余分配方案、亏损处理方案", tuple(paragraphs))

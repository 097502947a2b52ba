"""会计报表附注 of a village collective on the 2023 system (财会〔2023〕14号 第七章: the annual report is the 资产负债表,
the 收益及收益分配表 and the 附注). The official list of the 附注's items could not be read (collective2023.md 报表
§3); these are the items of our reading — the 2021 cooperative system's 附注 and the 2004 system's disclosure of
losses not yet written off — each filled from the books and the records, and the report says so in one line.

Every figure is an aggregate query; the sections are text, and small tables of text and Decimals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.kinds import unspent_projects
from cooperatives.models import Entity, FixedAsset, Member, Sale, Subsidy
from cooperatives.queries import share_register
from ledger.forms import FORMS
from ledger.money import fmt
from ledger.queries import account_balances, party_balances
from payouts.models import IN_FORCE, PayoutRun

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
    """The 附注 of ``entity``'s ``year`` (its book keeps the 2023 collective system): what its 资产负债表 ``sheet``
    and 收益及收益分配表 ``income`` (:mod:`payouts.reports.statutory`) do not show."""
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

"""Issue 15 §1–§5 and §8 printed: the 2021 cooperative's 附注 (制度 第五十八条, 附录 (四)), the statements, the
科目余额表, the 日记账 and the 明细账/总账 as PDFs read back with ``pdftotext``, and a year's archive (会计档案) with
its manifest of hashes — from the command line and from the web."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import zipfile
from decimal import Decimal

from sqlalchemy import func, select

from cooperatives.models import Delivery, Entity, InputSupply, Member, Sale
from ledger.books import balance_table, money_journal, period
from ledger.queries import account_balances, party_balances
from payouts.models import IN_FORCE, PayoutRun
from payouts.reports import archive, printing
from payouts.reports.statutory import balance_sheet, build, surplus_statement

D = Decimal


def entity(session, code: str) -> Entity:
    return session.scalar(select(Entity).where(Entity.code == code))


def pdf_text(data: bytes, tmp_path, name: str = "doc.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_pages(data: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


# ------------------------------------------------------------------------------------------- the 附注


def test_the_2021_notes_follow_article_58_and_tie_to_the_books(demo_world):
    """The nine items of 第五十八条 in its order; each member's 出资额 and 公积金份额 are their sub-accounts and add
    up to 01表 lines 36 and 39; the members and farmer members are the register's; trade with members and with
    non-members are the year's records, kept apart; the reserve rate is the policy's; the plan is the 02表's."""
    coop = entity(demo_world, "JGP-TEA")
    notes = build(demo_world, coop, 2025, "notes")
    sheet, income = balance_sheet(demo_world, coop, 2025), surplus_statement(demo_world, coop, 2025)
    titles = [s.title for s in notes.sections]
    tops = [t for t in titles if t[1] == "、"]
    assert [t[0] for t in tops] == list("一二三四五六七八九")
    assert tops[0] == "一、遵循农民专业合作社会计制度的声明" and "财会〔2021〕37号" in notes.sections[0].paragraphs[0]
    assert notes.title == "会计报表附注" and notes.notes == ()
    sections = {s.title: s for s in notes.sections}

    basics = dict(sections["二、合作社的基本情况"].rows)
    here = demo_world.scalar(select(func.count(Member.id)).where(Member.entity_id == coop.id, Member.left_on.is_(None)))
    farmers = demo_world.scalar(select(func.count(Member.id)).where(
        Member.entity_id == coop.id, Member.left_on.is_(None), Member.farmer, Member.member_entity_id.is_(None)))
    assert basics["年末成员总数（个）"] == str(here) and basics["其中：农民成员（个）"] == str(farmers)
    assert basics["农民成员占成员总数的比例"] == f"{D(farmers * 100) / D(here):.2f}%"
    assert basics["股金总额（元）"] == f"{sheet.line(36).values[0]:.2f}"

    shares = sections["（二）各成员的出资额、量化到各成员的公积金份额，成员入社和退社情况"]
    rows = {row[1]: row for row in shares.rows}
    assert rows["合计"][2:] == (sheet.line(36).values[0], sheet.line(39).values[0])
    members = [row for row in shares.rows if row[0]]
    assert sum((r[2] for r in members), D(0)) + (rows["未量化到成员的部分"][2] if "未量化到成员的部分" in rows else 0) \
        == sheet.line(36).values[0]
    capital = party_balances(demo_world, coop.book, "301", up_to_year=2025)
    reserve = party_balances(demo_world, coop.book, "322", up_to_year=2025)
    first = demo_world.scalar(select(Member).where(Member.entity_id == coop.id, Member.member_no == 1))
    mine = next(r for r in members if r[0] == "1")
    assert mine[2:] == (-capital[first.code], -reserve[first.code]) and mine[2] > 0 and mine[3] > 0

    trade = sections["（一）与成员的交易量（额）和与利用其提供的服务的非成员的交易量（额）"]
    totals = {row[0]: row[4] for row in trade.rows if row[1] == "合计"}

    def total(model, *where):
        return demo_world.scalar(select(func.coalesce(func.sum(model.amount), 0)).where(
            model.entity_id == coop.id, model.live(), func.extract("year", model.date) == 2025, *where))

    with_members = total(Delivery) + total(Sale, Sale.member_id.is_not(None)) + total(InputSupply)
    assert totals["与成员"] + totals["与非成员"] == with_members and totals["与成员"] > 0
    assert totals["外部客户"] == total(Sale, Sale.member_id.is_(None)) > 0
    delivered = next(row for row in trade.rows if row[1].startswith("成员交售"))
    assert delivered[0] == "与成员"
    assert delivered[3].endswith(" 斤")          # the unit as traded, not converted to 公斤

    run = demo_world.scalar(select(PayoutRun).where(PayoutRun.entity_id == coop.id, PayoutRun.year == 2025,
                                               PayoutRun.status.in_(IN_FORCE)))
    rate = sections["（二）提取盈余公积的比例"].paragraphs[0]
    assert f"{run.policy.data['reserve_pct']}% 提取盈余公积" in rate and f"{income.line(15).values[0]:.2f}" in rate
    plan = sections["（三）盈余分配方案、亏损处理方案"].paragraphs[-1]
    for no in (16, 17, 18):
        assert f"{income.line(no).values[0]:.2f}" in plan
    assert f"第 {run.id} 号方案" in plan and "法定不低于60%" in plan
    fiscal = next(p for p in sections["七、其他重要事项"].paragraphs if p.startswith("国家财政支持"))
    assert "200000.00" in fiscal


def test_trade_before_joining_is_trade_with_a_non_member(demo_world):
    """Law Art. 41 keeps a member's trade apart from a non-member's: VEG-H011 delivered before it joined JGP-VEG on
    2025-07-01, so that delivery is trade with a non-member who used the cooperative's services."""
    veg = entity(demo_world, "JGP-VEG")
    joined = demo_world.scalar(select(Member).where(Member.entity_id == veg.id, Member.code == "VEG-H011"))
    before = demo_world.scalar(select(func.coalesce(func.sum(Delivery.amount), 0)).where(
        Delivery.member_id == joined.id, Delivery.live(), Delivery.date < joined.joined_on,
        func.extract("year", Delivery.date) == 2025))
    assert joined.joined_on == dt.date(2025, 7, 1) and before > 0
    trade = next(s for s in build(demo_world, veg, 2025, "notes").sections if s.title.startswith("（一）与成员的交易"))
    rows = {(row[0], row[1]): row[4] for row in trade.rows if row[1] != "合计"}
    assert rows[("与非成员", "非成员交售产品（本社收购）")] == before
    assert dict((row[0], row[4]) for row in trade.rows if row[1] == "合计")["与非成员"] == before


def test_the_notes_are_served_for_a_cooperative_and_printed_with_the_statements(demo_world, tmp_path):
    """The 附注 is a report of the 2021 system too (index, page, JSON, Excel as the others), and the statements'
    PDF prints 01–03表 and the 附注, each from a new page."""
    coop = entity(demo_world, "JGP-VEG")
    reports = printing.statements(demo_world, coop, 2025)
    assert [r.name for r in reports] == ["balance-sheet", "surplus", "equity-changes", "notes"]
    pdf = printing.statements_pdf(demo_world, coop, 2025)
    text = pdf_text(pdf, tmp_path)
    for label in ("会农社01表", "资产负债表", "会农社02表", "盈余及盈余分配表", "会农社03表", "成员权益变动表",
                  "会计报表附注", "一、遵循农民专业合作社会计制度的声明", "三、成员权益结构", "编制单位：", "单位：元",
                  "单位负责人："):
        assert label in text, label
    assert money(balance_sheet(demo_world, coop, 2025).line(22).values[0]) in text      # 资产总计
    assert pdf_pages(pdf, tmp_path) >= 4


# ------------------------------------------------------------------------------------------- the books


def test_the_books_print_with_their_totals_and_balances(demo_world, tmp_path):
    """科目余额表 with its totals (借 = 贷) and the 借贷平衡 line; each 日记账 with 本日合计 and its closing balance;
    the 明细账 with 本月合计/本年累计 and the 总账 — every figure from the same queries as the pages."""
    coop = entity(demo_world, "JGP-VEG")
    table = balance_table(demo_world, coop.book, *period(2025))
    text = pdf_text(printing.balances_pdf(demo_world, coop, 2025), tmp_path)
    assert "科目余额表" in text and "核算单位：" + coop.name in text and "借贷平衡" in text
    assert money(table.totals()["closing_debit"]) in text and money(table.totals()["debit"]) in text
    member = next(r for r in table.rows if r.member)
    assert member.member in text                      # the sub-accounts by member are printed

    code, name = printing.money_accounts(demo_world, coop, 2025)[1]           # 银行存款
    journal = money_journal(demo_world, coop.book, code, *period(2025))
    text = pdf_text(printing.money_journal_pdf(demo_world, coop, code, 2025), tmp_path)
    assert f"{name}日记账" in text and "本日合计" in text and "本期合计" in text and "上期结转" in text
    assert money(abs(journal.closing)) in text
    assert journal.closing == account_balances(demo_world, coop.book, up_to_year=2025)[code]

    text = pdf_text(printing.ledger_pdf(demo_world, coop, 2025, ["114"]), tmp_path)
    assert "明细账" in text and "本月合计" in text and "本年累计" in text and "114 成员往来" in text
    general = printing.ledger_pdf(demo_world, coop, 2025, general=True)
    text = pdf_text(general, tmp_path)
    assert "总账" in text and "上年结转" in text
    assert pdf_pages(general, tmp_path) >= len(printing.ledger_accounts(demo_world, coop, 2025))   # one account a page


# ------------------------------------------------------------------------------------------- the archive


def _read(path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(path) as z:
        files = {name: z.read(name) for name in z.namelist()}
    return json.loads(files.pop("manifest.json")), files


def test_a_years_archive_holds_every_document_with_its_hash(demo_world, tmp_path):
    """A collective carried over to the 2023 system: its statements and 附注, its books, every voucher of the year
    (one page each), the Beancount file; the manifest's hashes are the files', SHA256SUMS says the same."""
    village = entity(demo_world, "TL-V01")
    out = tmp_path / "TL-V01-2025.zip"
    seen = []
    manifest = archive.build(demo_world, village, 2025, out, workers=2, progress=lambda done, total: seen.append(done))
    listed, files = _read(out)
    assert listed == manifest and manifest["entity"] == "TL-V01" and manifest["year"] == 2025
    assert manifest["chart"] == "collective2023" and len(manifest["head_hash"]) == 64
    paths = {f["path"] for f in manifest["files"]}
    assert {"statements/statements.pdf", "statements/balance-sheet.xlsx", "statements/notes.json",
            "books/balances.pdf", "books/balances-q4.pdf", "books/general-ledger.pdf", "books/ledger.pdf",
            "books/journal-102.pdf", "SHA256SUMS"} <= paths | {"SHA256SUMS"}
    assert not any(p.startswith("members/") for p in paths)            # a collective keeps no 成员账户
    for f in manifest["files"]:
        assert hashlib.sha256(files[f["path"]]).hexdigest() == f["sha256"] and len(files[f["path"]]) == f["bytes"]
    sums = files["SHA256SUMS"].decode().splitlines()
    assert sorted(sums) == sorted(f"{f['sha256']}  {f['path']}" for f in manifest["files"])
    vouchers = [p for p in paths if p.startswith("vouchers/")]
    first, last = printing.voucher_range(demo_world, village, 2025)
    pages = sum(pdf_pages(files[p], tmp_path) for p in vouchers)
    assert pages >= last - first + 1 and vouchers
    assert "记账凭证" in pdf_text(files[vouchers[0]], tmp_path)
    assert seen[-1] == len(manifest["files"]) and seen == sorted(seen)
    assert not list(tmp_path.glob("*.part"))


def test_the_archive_command_writes_the_zip_and_refuses_an_unknown_entity(demo_world, cli, tmp_path):
    out = tmp_path / "a" / "JGP-VEG-2025.zip"
    status = tmp_path / "status.json"
    result = cli("archive", "--entity", "JGP-VEG", "--year", "2025", "--out", str(out), "--workers", "2",
                 "--status", str(status))
    assert result.exit_code == 0, result.output
    manifest, files = _read(out)
    assert {"members/member-accounts.xlsx", "statements/equity-changes.xlsx"} <= set(files)
    accounts = sorted(p for p in files if p.startswith("members/member-accounts-") and p.endswith(".pdf"))
    members = build(demo_world, entity(demo_world, "JGP-VEG"), 2025, "member-accounts").members
    assert len(accounts) == -(-len(members) // archive.MEMBERS_PER_FILE)      # 20 members a file
    assert "成员账户" in pdf_text(files[accounts[0]], tmp_path) and members[0].name in pdf_text(files[accounts[0]], tmp_path)
    assert "written to" in result.output
    assert json.loads(status.read_text())["status"] == "done"
    result = cli("archive", "--entity", "NOPE", "--year", "2025", "--out", str(tmp_path / "x.zip"))
    assert result.exit_code != 0 and "No entity NOPE" in result.output and not (tmp_path / "x.zip").exists()


def test_an_asset_at_its_nominal_amount_is_listed_in_the_notes(demo_world):
    """附注 六 (制度 第二十二条、第二十五条): a donated asset that could not be valued is carried at 1 元 and named in
    the notes (here in 2026, the year after the demo's closed one); a cooperative with none says 无."""
    from cooperatives.access import CONSOLE
    from cooperatives.operations import record

    veg = entity(demo_world, "JGP-VEG")
    title = "六、以名义金额计量的资产"
    assert next(s for s in build(demo_world, veg, 2026, "notes").sections if s.title == title).paragraphs == ("无。",)
    record(demo_world, veg, "assets", {"code": "VEG-GD-99", "name": "受捐喷灌设备", "acquired_on": dt.date(2026, 5, 1),
                                       "cost": D("1.00"), "life_years": 10, "salvage_pct": D("0"), "paid_by": "bank"},
           actor=CONSOLE)
    demo_world.flush()
    nominal = next(s for s in build(demo_world, veg, 2026, "notes").sections if s.title == title)
    assert nominal.rows == (("VEG-GD-99", "受捐喷灌设备", "2026-05-01", "1"),) and "名义金额" in nominal.paragraphs[0]

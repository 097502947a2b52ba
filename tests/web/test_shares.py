"""The share register of village collectives (份额登记簿; issue 14 §4, INTERFACES §3 ``shares``, §3.1, §4).

A collective's members hold quantified shares of its assets — allotted in the 2020 property-rights reform, inherited,
transferred within the collective. They are a register, not money (books-review W7: the demo booked them as cash
capital, Dr 银行存款 / Cr 资本): a row posts nothing, and a run's ``shares`` pools weigh each member's holding at the
year's end. The village here: 五星村, three households allotted 12, 20 and 28.5 shares in 2020; in May 2024 S1 passed
2 of its shares to S3 (继承), so at the end of 2025 they hold 10, 20 and 30.5 — 60.5 in all.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.importer import import_path
from cooperatives.models import Entity, ShareHolding
from cooperatives.operations import RecordError, record, void_record
from cooperatives.queries import share_register
from cooperatives.workbook import WorkbookError
from ledger.chart import account_for_role
from ledger.models import JournalEntry
from ledger.queries import account_balance, party_balances
from payouts.models import StatementSnapshot
from payouts.runs.operations import approve_run, create_run, post_run, save_policy
from payouts.runs.policy import parse_policy
from payouts.runs.rules import MemberInput, RunInput, compute_run
from payouts.statements.render import render_statement_html

D = Decimal
V = "SV-WX"
SALES = D("1000.00")

VILLAGE = {
    "entity": [["code", "name", "kind", "township", "village", "books_start"],
               [V, "五星村股份经济合作社", "collective", "青铜峡镇", "五星村", "2025-01-01"]],
    "households": [["code", "head_name", "village"], ["S1", "马成", "五星村"], ["S2", "杨秀兰", "五星村"],
                   ["S3", "马小军", "五星村"]],
    "members": [["member", "member_no", "joined_on"], ["S1", 1, "2018-01-01"], ["S2", 2, "2018-01-01"],
                ["S3", 3, "2018-01-01"]],
    # the register in Chinese, as a village keeps it (sheet 份额, headers 户号/份额数/类别/日期/转出成员/备注)
    "份额": [["户号", "份额数", "类别", "日期", "转出成员", "备注"],
             ["S1", "12", "改革量化", "2020-06-30", "", "2020年产权制度改革量化"],
             ["S2", "20", "改革量化", "2020-06-30", "", "2020年产权制度改革量化"],
             ["S3", "28.5", "改革量化", "2020-06-30", "", "2020年产权制度改革量化"],
             ["S3", "2", "继承", "2024-05-01", "S1", "继承父亲马成份额"]],
    # the year's income: 1,000.00 of 发包收入 into the bank, no cost — the surplus, all of it distributable below
    "sales": [["date", "buyer", "product", "amount"], ["2025-07-01", "承包方", "土地发包", str(SALES)]],
}
SHARES_POLICY = {"reserve_pct": "0", "reserve_quantify": "none", "deduct": [],
                 "pools": [{"name": "shares", "pct": "100", "basis": "shares"}]}


def _import(session, xlsx, sheets: dict):
    return import_path(session, xlsx(sheets), actor=CONSOLE)


def _village(session) -> Entity:
    session.expire_all()
    return session.scalar(select(Entity).where(Entity.code == V))


def _held(session) -> dict[str, Decimal]:
    return {code: shares for code, _, shares in share_register(session, _village(session))["members"]}


@pytest.fixture
def village(session, xlsx) -> Entity:
    _import(session, xlsx, VILLAGE)
    session.commit()
    return _village(session)


def _refusals(session, xlsx, sheets: dict) -> list[str]:
    with pytest.raises(WorkbookError) as caught:
        _import(session, xlsx, sheets)
    session.rollback()
    return [str(p) for p in caught.value.problems]


def _shares_row(member: str, shares: str, **more) -> dict:
    values, problems = parse_form("shares", {"member": member, "shares": shares, **more})
    assert not problems, problems
    return values


# ------------------------------------------------------------------------------------------------ the register


def test_a_collective_imports_its_share_register_with_its_history(session, village):
    assert _held(session) == {"S1": D("10"), "S2": D("20"), "S3": D("30.5")}      # 12 − 2, 20, 28.5 + 2
    assert share_register(session, village)["total"] == D("60.5")
    rows = session.scalars(select(ShareHolding).where(ShareHolding.entity_id == village.id)
                           .order_by(ShareHolding.id)).all()
    assert [(r.member.code, r.shares, r.kind, r.date, r.from_member.code if r.from_member else None) for r in rows] == [
        ("S1", D("12"), "reform", dt.date(2020, 6, 30), None), ("S2", D("20"), "reform", dt.date(2020, 6, 30), None),
        ("S3", D("28.5"), "reform", dt.date(2020, 6, 30), None),
        ("S3", D("2"), "inherited", dt.date(2024, 5, 1), "S1")]
    # the register as it stood before the inheritance
    before = share_register(session, village, until=dt.date(2024, 4, 30))
    assert [(code, shares) for code, _, shares in before["members"]] == [
        ("S1", D("12")), ("S2", D("20")), ("S3", D("28.5"))]
    # nothing of it is booked: no entry from the register, nothing in 资本, the bank holds only the year's income
    assert all(r.entry_id is None for r in rows)
    entries = session.scalars(select(JournalEntry.source).where(JournalEntry.book_id == village.book_id)).all()
    assert entries and not any("shares" in (source or "") for source in entries)
    capital, bank = account_for_role(village.chart, "capital"), account_for_role(village.chart, "bank")
    assert account_balance(session, village.book, capital) == 0
    assert party_balances(session, village.book, capital) == {}
    assert account_balance(session, village.book, bank) == SALES


def test_a_row_without_a_date_is_dated_the_day_the_books_start(session, village):
    row = record(session, village, "shares", _shares_row("S2", "1.5", note="补量化"), actor=CONSOLE)
    assert (row.date, row.kind, row.entry_id) == (dt.date(2025, 1, 1), "member", None)
    assert _held(session)["S2"] == D("21.5")


@pytest.mark.parametrize(("row", "where", "reason"), [
    # S1 holds 10 after the inheritance: 10.5 is more than that
    (["S2", "10.5", "转让", "2025-03-01", "S1", ""], "份额:6:份额数",
     "S1 holds 10 shares on 2025-03-01: 10.5 cannot be inherited or transferred from them (份额登记簿)."),
    # before the 2020 allotment S2 holds nothing
    (["S2", "1", "转让", "2019-12-31", "S1", ""], "份额:6:份额数",
     "S1 holds 0 shares on 2019-12-31: 1 cannot be inherited or transferred from them (份额登记簿)."),
    (["S2", "1", "继承", "2025-03-01", "", ""], "份额:6:转出成员",
     "Shares inherited or transferred come from another member: name them (from_member)."),
    (["S2", "1", "", "2025-03-01", "S1", ""], "份额:6:转出成员",
     "Only shares inherited or transferred come from another member: set the kind to inherited or transferred, or "
     "leave from_member blank."),
    (["S2", "1", "转让", "2025-03-01", "S9", ""], "份额:6:转出成员", "S9 is not a member of SV-WX."),
])
def test_a_register_row_that_does_not_add_up_is_refused_naming_its_place(session, xlsx, row, where, reason):
    sheets = {**VILLAGE, "份额": [*VILLAGE["份额"], row]}
    assert _refusals(session, xlsx, sheets) == [f"{where}: {reason}"]
    assert session.scalar(select(func.count(Entity.id)).where(Entity.code == V)) == 0       # nothing imported


def test_a_transfer_typed_later_cannot_give_away_more_than_is_held(session, village):
    with pytest.raises(RecordError) as caught:
        record(session, village, "shares", _shares_row("S2", "10.0001", kind="transferred", date="2025-06-01",
                                                       from_member="S1"), actor=CONSOLE)
    assert [(p.column, str(p)) for p in caught.value.problems] == [(
        "shares", "S1 holds 10 shares on 2025-06-01: 10.0001 cannot be inherited or transferred from them (份额登记簿).")]
    record(session, village, "shares", _shares_row("S2", "10", kind="transferred", date="2025-06-01",
                                                   from_member="S1"), actor=CONSOLE)
    assert _held(session) == {"S2": D("30"), "S3": D("30.5")}                # S1 gave all it held


def test_a_cooperative_keeps_no_share_register(session, xlsx):
    coop = {**VILLAGE, "entity": [["code", "name", "kind", "township"], ["SC", "五星茶叶专业合作社", "farmer_coop",
                                                                          "青铜峡镇"]]}
    assert _refusals(session, xlsx, coop) == [
        "份额:2:份额数: Only a village collective keeps a share register (份额登记簿): SC is not one."]


def test_a_register_row_is_voided_only_when_no_later_move_depends_on_it(session, village):
    rows = {(r.member.code, r.kind): r for r in session.scalars(select(ShareHolding))}
    with pytest.raises(RecordError, match="void the later inheritance or transfer first"):
        void_record(session, village, "shares", rows[("S1", "reform")].id, reason="录入错误", actor=CONSOLE)
    assert void_record(session, village, "shares", rows[("S3", "inherited")].id, reason="继承未办妥",
                       actor=CONSOLE) == []                                     # nothing was posted, nothing reversed
    assert _held(session) == {"S1": D("12"), "S2": D("20"), "S3": D("28.5")}
    void_record(session, village, "shares", rows[("S1", "reform")].id, reason="录入错误", actor=CONSOLE)
    assert _held(session) == {"S2": D("20"), "S3": D("28.5")}


# ---------------------------------------------------------------------------------------------------- runs


def test_a_run_by_shares_matches_the_hand_computation_to_the_fen(session, village):
    """Distributable 1,000.00 (sales, no cost, no reserve) by 10 : 20 : 30.5 shares of 60.5. Exact shares, in fen:
    16,528.93, 33,057.85 and 50,413.22; ``ledger.money.allocate`` gives each the floor (165.28, 330.57, 504.13 —
    999.98) and the 2 fen left to the largest remainders, .93 (S1) and .85 (S2): 165.29, 330.58, 504.13."""
    # a transfer in 2026 changes the register, not the 2025 run: the basis is the holding on 2025-12-31
    record(session, village, "shares", _shares_row("S1", "5", kind="transferred", date="2026-01-15",
                                                   from_member="S2"), actor=CONSOLE)
    assert _held(session) == {"S1": D("15"), "S2": D("15"), "S3": D("30.5")}
    version = save_policy(session, village, parse_policy(SHARES_POLICY), actor=CONSOLE)
    run = create_run(session, village, 2025, policy_version=version, actor=CONSOLE)
    result = run.result
    assert (result["surplus"], result["distributable"]) == ("1000.00", "1000.00")
    assert all(c["ok"] for c in result["checks"]), result["checks"]
    [pool] = result["pools"]
    assert (pool["basis"], pool["amount"], pool["basis_total"]) == ("shares", "1000.00", "60.50")
    # the register's total at the year's end is the run's basis total
    year_end = share_register(session, village, until=dt.date(2025, 12, 31))
    assert year_end["total"] == D(pool["basis_total"]) == D("60.5")
    assert [(m["member"], m["lines"][0]["basis"], m["total"]) for m in result["members"]] == [
        ("S1", "10.00", "165.29"), ("S2", "20.00", "330.58"), ("S3", "30.50", "504.13")]
    assert sum(D(m["total"]) for m in result["members"]) == D("1000.00")
    # posted: each household is owed its share; still nothing in 资本
    approve_run(session, run, meeting_date=dt.date(2026, 3, 1), attended=3, votes_for=3, actor=CONSOLE)
    assert post_run(session, run, actor=CONSOLE)
    capital = account_for_role(village.chart, "capital")
    assert account_balance(session, village.book, capital) == 0
    # the household's statement shows its shares and the sentence of its line
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id,
                                                          StatementSnapshot.member_code == "S3"))
    assert snap.content["contributed"]["shares"] == "30.5"
    html = render_statement_html(snap.content, locale="zh_Hans_CN", verify_url="https://example.test/verify/x")
    assert "份额" in html and "30.5" in html
    assert "30.5 ÷ 60.5 = " in html and "504.13" in html      # its share of the 1,000.00 pool, worked out
    # and once the year is closed, the register's 2025 is closed too
    with pytest.raises(RecordError, match="2025 is closed"):
        record(session, village, "shares", _shares_row("S2", "1", date="2025-12-31"), actor=CONSOLE)


def test_only_a_collective_may_distribute_by_shares():
    members = (MemberInput("A", 1, "甲", shares=D("1")), MemberInput("B", 2, "乙", shares=D("3")))
    policy = parse_policy(SHARES_POLICY)
    for kind, ok in (("collective", True), ("farmer_coop", False), ("land_coop", False)):
        result = compute_run(RunInput("X", kind, 2025, D("100.00"), D("0"), D("0"), members), policy)
        checks = {c.rule: c.ok for c in result.checks}
        assert checks.get("shares_collective", True) is ok, kind
        assert [m.total for m in result.members] == [D("25.00"), D("75.00")]


# ---------------------------------------------------------------------------------------------- pages and API


def test_the_register_page_and_the_member_account_show_the_shares(client, world, login, post_form, session, village):
    login(client, "admin")
    typed = post_form(client, f"/e/{V}/records/shares", {"member": "S2", "shares": "0.5", "kind": "transferred",
                                                          "from_member": "S3", "date": "2025-10-01", "note": "内部转让"})
    assert typed.status_code == 302, typed.get_data(as_text=True)
    assert _held(session) == {"S1": D("10"), "S2": D("20.5"), "S3": D("30")}
    refused = post_form(client, f"/e/{V}/records/shares", {"member": "S2", "shares": "31", "kind": "transferred",
                                                            "from_member": "S3", "date": "2025-10-02"})
    assert refused.status_code == 422
    assert "S3 在 2025-10-02 持有份额 30 份" in refused.get_data(as_text=True)          # in Chinese, the default
    page = client.get(f"/e/{V}/records/shares").get_data(as_text=True)
    assert 'id="share-register"' in page and "S3 马小军" in page and "20.5" in page and "60.5" in page
    assert "继承父亲马成份额" in page                                       # the history below the totals
    account = client.get(f"/e/{V}/members/S1").get_data(as_text=True)
    assert 'id="member-shares"' in account and "2020年产权制度改革量化" in account


def test_the_api_records_and_voids_register_rows(client, world, session, village, token):
    from cooperatives.models import User
    from cooperatives.users import create_user, issue_token

    create_user(session, username="acc_v", password="x" * 12, role="accountant", display_name="村会计",
                entity_id=village.id, actor=CONSOLE)
    session.commit()
    headers = {"Authorization": f"Bearer {issue_token(session, session.scalar(select(User).where(User.username == 'acc_v')), 't', actor=CONSOLE)}",
               "Accept-Language": "en"}
    session.commit()
    made = client.post(f"/api/v1/entities/{V}/shares", headers=headers, json={
        "member": "S2", "shares": "4", "kind": "transferred", "from_member": "S3", "date": "2025-09-01"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["kind"], body["share_kind"], body["member"], body["from_member"], body["shares"], body["entry_id"]) == (
        "shares", "transferred", "S2", "S3", "4", None)
    too_many = client.post(f"/api/v1/entities/{V}/shares", headers=headers, json={
        "member": "S2", "shares": "27", "kind": "transferred", "from_member": "S3", "date": "2025-09-02"})
    assert too_many.status_code == 422
    assert too_many.get_json()["errors"] == {"shares": [
        "S3 holds 26.5 shares on 2025-09-02: 27 cannot be inherited or transferred from them (份额登记簿)."]}
    listed = client.get(f"/api/v1/entities/{V}/shares", headers=headers).get_json()
    assert listed["total"] == 5
    voided = client.post(f"/api/v1/shares/{body['id']}/void", headers=headers, json={"reason": "转让未成"})
    assert voided.status_code == 200, voided.get_json()
    assert _held(session) == {"S1": D("10"), "S2": D("20"), "S3": D("30.5")}
    # a cooperative's accountant is refused the register
    refused = client.post("/api/v1/entities/TA-COOP/shares", headers=token("acc_a"), json={"member": "A-H001",
                                                                                           "shares": "1"})
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"shares": [
        "Only a village collective keeps a share register (份额登记簿): TA-COOP is not one."]}


def test_the_command_line_lists_and_voids_register_rows(session, village, cli):
    import json

    listed = cli("records", "shares", "--entity", V, "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["records"]
    assert [(r["member"], r["shares"], r["share_kind"], r["from_member"], r["voucher"]) for r in rows] == [
        ("S1", "12", "reform", None, None), ("S2", "20", "reform", None, None), ("S3", "28.5", "reform", None, None),
        ("S3", "2", "inherited", "S1", None)]
    refused = cli("void", "shares", str(rows[0]["id"]), "--reason", "录入错误")
    assert refused.exit_code == 1 and "void the later inheritance or transfer first" in refused.stderr
    assert cli("void", "shares", str(rows[3]["id"]), "--reason", "继承未办妥").exit_code == 0
    assert _held(session) == {"S1": D("12"), "S2": D("20"), "S3": D("28.5")}

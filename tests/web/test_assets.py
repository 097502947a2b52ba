"""Fixed assets and the subsidies that pay for them (issue 13 §5; books-review W2, W11; INTERFACES §3 ``assets``).

The 2021 system (reference/sources/fpc2021-accounting-system.txt): a fiscal subsidy received is 专项应付款 (acct 235
二), and only when it is used to acquire or build assets does it move to 专项基金 (235 三, 311 二); spent on anything
else it is used up with no 311. Fixed assets are depreciated by month (acct 152 二: 当月增加的固定资产当月不提折旧,
当月减少的固定资产当月照提折旧); one being built sits in 153 在建工程 until it comes into use; a disposal goes
through 154 固定资产清理 to 其他收入 / 其他支出 (acct 154).

The world's TA-COOP received a fiscal subsidy of 20,000.00 (project = its source, 县农业农村局产业资金) and bought a
tea roaster (GD-A-01) out of it for 12,000.00 on 2025-09-10: 10 years, 5 % salvage, so 11,400.00 over 120 months
from October 2025 — 95.00 a month, 285.00 in 2025, 1,140.00 a year after.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.importer import import_path
from cooperatives.models import Entity, FixedAsset
from cooperatives.operations import accrue_amortisation
from cooperatives.postings import depreciation_for_year
from cooperatives.queries import year_contributions
from cooperatives.workbook import WorkbookError
from ledger.queries import trial_balance
from payouts.runs.operations import close_year

A = "TA-COOP"
D = Decimal
PROJECT = "县农业农村局产业资金"


def _entity(session) -> Entity:
    session.expire_all()
    return session.scalar(select(Entity).where(Entity.code == A))


def _closing(session, year: int) -> dict[str, Decimal]:
    return {r.code: r.closing for r in trial_balance(session, _entity(session).book, year)}


def _roaster(session) -> FixedAsset:
    return session.scalar(select(FixedAsset).where(FixedAsset.code == "GD-A-01"))


@pytest.mark.parametrize(("cost", "salvage", "years", "in_use", "expected"), [
    # the roaster: 95.00 a month from October 2025 to September 2035
    (D("12000.00"), D("5"), 10, dt.date(2025, 9, 10),
     {2025: D("285.00"), 2026: D("1140.00"), 2034: D("1140.00"), 2035: D("855.00"), 2036: D("0.00")}),
    # 1,000.00 over 36 months from February 2025: 27.777… a month; each year's figure is the cumulative amount
    # to its end less that before it, to the fen (305.56 = 1000 × 11/36; 638.89 − 305.56; 972.22 − 638.89; the rest)
    (D("1000.00"), D("0"), 3, dt.date(2025, 1, 15),
     {2024: D("0.00"), 2025: D("305.56"), 2026: D("333.33"), 2027: D("333.33"), 2028: D("27.78")}),
])
def test_depreciation_is_straight_line_by_month_from_the_month_after_it_comes_into_use(cost, salvage, years, in_use,
                                                                                        expected):
    for year, amount in expected.items():
        assert depreciation_for_year(cost, salvage, years, in_use, year) == amount
    total = sum(depreciation_for_year(cost, salvage, years, in_use, y) for y in range(2020, 2045))
    assert total == cost - cost * salvage / 100                     # to the fen: nothing lost to rounding


def test_a_subsidy_waits_in_235_until_the_asset_it_pays_for_moves_it_to_311(client, world, session, token):
    closing = _closing(session, 2025)
    assert closing["151"] == D("12000.00")                         # the roaster
    assert closing["235"] == D("-8000.00")                         # 20,000 received, 12,000 of it used
    assert closing["311"] == D("-12000.00")                        # only what formed property is 专项基金
    # the residual basis counts the property formed, not the money received (law Art. 44; books-review W2)
    assert year_contributions(session, _entity(session), 2025)["subsidy_fund"] == D("12000.00")
    # training paid out of the project: its 235 is used up, not a cost of the year, and nothing reaches 311
    spent = client.post(f"/api/v1/entities/{A}/expenses", headers=token("acc_a"), json={
        "date": "2025-10-08", "category": "management", "amount": "3000", "payee": "县农技站培训",
        "project": PROJECT})
    assert spent.status_code == 201, spent.get_json()
    after = _closing(session, 2025)
    assert (after["235"], after["311"], after["523"] - closing["523"]) == (D("-5000.00"), D("-12000.00"), D("0.00"))
    too_much = client.post(f"/api/v1/entities/{A}/assets", headers=token("acc_a"), json={
        "code": "GD-A-02", "name": "揉捻机", "acquired_on": "2025-10-20", "cost": "6000", "life_years": 8,
        "project": PROJECT})
    assert too_much.status_code == 422, too_much.get_json()
    assert too_much.get_json()["errors"]["project"] == [
        f"Only 5000.00 of project {PROJECT} had arrived by 2025-10-20 and is unspent (专项应付款): 6000.00 cannot be "
        "paid out of it."]
    unknown = client.post(f"/api/v1/entities/{A}/expenses", headers=token("acc_a"), json={
        "date": "2025-10-08", "category": "management", "amount": "10", "project": "没有这个项目"})
    assert unknown.get_json()["errors"]["project"] == ["TA-COOP has no fiscal subsidy project named 没有这个项目."]


def test_the_year_end_books_depreciation_and_the_next_year_books_twelve_months(session, world):
    summary = close_year(session, _entity(session), 2025, actor=CONSOLE)
    assert _closing(session, 2025)["152"] == D("-285.00")           # October–December, 95.00 each
    # a cost of 2025 (经营支出): base rent 2,100.00 + labour 360.00 + delivery 672.00 − stock 100.00 + 285.00
    assert summary["costs"]["521"] == D("3317.00")
    close_year(session, _entity(session), 2026, actor=CONSOLE)
    assert _closing(session, 2026)["152"] == D("-1425.00")          # 285.00 + 12 × 95.00
    close_year(session, _entity(session), 2026, actor=CONSOLE)      # idempotent
    assert _closing(session, 2026)["152"] == D("-1425.00")


def test_a_disposal_books_its_months_and_takes_the_result_to_other_costs(client, world, session, token):
    close_year(session, _entity(session), 2025, actor=CONSOLE)
    session.commit()
    bank = _closing(session, 2026)["102"]
    roaster = _roaster(session).id
    sold = client.post(f"/api/v1/assets/{roaster}/dispose", headers=token("acc_a"),
                       json={"date": "2026-03-15", "proceeds": "10000"})
    assert sold.status_code == 200, sold.get_json()
    assert sold.get_json()["proceeds"] == "10000.00" and len(sold.get_json()["entries"]) == 3
    closing = _closing(session, 2026)
    # 285.00 (2025) + January–March 2026 (当月减少的当月照提) 285.00 = 570.00; net book value 11,430.00
    assert (closing["151"], closing["152"], closing["154"]) == (D("0.00"), D("0.00"), D("0.00"))
    assert closing["529"] == D("1430.00")                           # sold for 1,430.00 less than its book value
    assert closing["102"] - bank == D("10000.00")
    again = client.post(f"/api/v1/assets/{roaster}/dispose", headers=token("acc_a"), json={"date": "2026-04-01"})
    assert again.status_code == 422
    assert again.get_json()["errors"]["_schema"] == ["Asset GD-A-01 was disposed of on 2026-03-15."]
    close_year(session, _entity(session), 2026, actor=CONSOLE)      # nothing more is depreciated after it
    assert _closing(session, 2026).get("152", D("0.00")) == D("0.00")
    foreign = client.post(f"/api/v1/assets/{roaster}/dispose", headers=token("acc_b"), json={"date": "2026-04-01"})
    assert foreign.status_code == 404
    # voiding it would undo its purchase and depreciation of 2025, a year being closed: refused
    refused = client.post(f"/api/v1/assets/{roaster}/void", headers=token("acc_a"), json={"reason": "处置录错"})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["_schema"] == ["2025 is closed in the books of TA-COOP."]


def test_voiding_an_asset_reverses_its_purchase_its_subsidy_move_and_its_depreciation(client, world, session, token):
    roaster = _roaster(session).id
    voided = client.post(f"/api/v1/assets/{roaster}/void", headers=token("acc_a"), json={"reason": "买错了"})
    assert voided.status_code == 200, voided.get_json()
    closing = _closing(session, 2025)
    assert (closing["151"], closing["235"], closing["311"]) == (D("0.00"), D("-20000.00"), D("0.00"))
    close_year(session, _entity(session), 2025, actor=CONSOLE)
    assert _closing(session, 2025).get("152", D("0.00")) == D("0.00")     # a voided asset is not depreciated
    assert year_contributions(session, _entity(session), 2025)["subsidy_fund"] == D("0.00")


def test_the_assets_sheet_builds_an_asset_in_153_then_puts_it_in_use(session, world, tmp_path):
    """A workbook in Chinese: a greenhouse built from 2025-03-01, in use from 2025-06-20; another still being built.
    48,000.00 over 20 years at 5 %: 45,600.00 / 240 = 190.00 a month, July–December = 1,140.00."""
    book = {"固定资产": [
        ["资产编号", "资产名称", "购置日期", "原值", "使用年限", "在建工程", "交付使用日期", "扶贫资产"],
        ["GD-A-10", "连栋大棚", "2025-03-01", "48,000.00", "20", "是", "2025-06-20", "是"],
        ["GD-A-11", "冷库（在建）", "2025-11-01", "9000", "15", "是", "", "否"],
    ]}
    path = tmp_path / "assets.xlsx"
    path.write_bytes(xlsx(book).getvalue())
    before = _closing(session, 2025)
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    session.commit()
    after = _closing(session, 2025)
    assert after["151"] - before["151"] == D("48000.00")            # came into use: 在建工程转入固定资产
    assert after["153"] == D("9000.00")                             # still being built
    assert after["102"] - before["102"] == D("-57000.00")
    greenhouse = session.scalar(select(FixedAsset).where(FixedAsset.code == "GD-A-10"))
    assert greenhouse.poverty_asset and greenhouse.salvage_pct == D("5.00")   # (备查簿: 扶贫项目资产)
    wrong = {"固定资产": [book["固定资产"][0], ["GD-A-12", "烘干房", "2025-02-01", "5000", "0", "否", "2025-01-20", "否"]]}
    path.write_bytes(xlsx(wrong).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert sorted(str(p) for p in refused.value.problems) == [
        "固定资产:2:交付使用日期: in_use_on is before acquired_on",
        "固定资产:2:使用年限: must be positive",
    ]
    close_year(session, _entity(session), 2025, actor=CONSOLE)
    assert _closing(session, 2025)["152"] == D("-1425.00")          # 1,140.00 + the roaster's 285.00; not the cold store


def test_a_land_right_put_in_as_capital_is_amortised_over_the_rest_of_its_contract(client, world, session, token):
    """2021 system acct 161 二(三), 162 二: a land right put in as capital is 无形资产, amortised (Dr 521 / Cr 162).
    A-H001's contract TD-A-001 runs to 2029-12-31; 10,500.00 put in on 2025-03-01 is amortised over the 57
    months April 2025 – December 2029: 2025 = 10,500 × 9 / 57 = 1,657.89; 2026 = 10,500 × 21 / 57 − 1,657.89 =
    2,210.53 (each year the cumulative figure to the fen less the one before, so the years add up exactly)."""
    put_in = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-03-01", "member": "A-H001", "amount": "10500", "form": "land", "note": "土地经营权入股"})
    assert put_in.status_code == 201, put_in.get_json()
    later = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-06-01", "member": "A-H001", "amount": "600", "form": "land", "note": "补充入股（作废）"})
    accrue_amortisation(session, _entity(session), 2025, actor=CONSOLE)
    assert _closing(session, 2025)["162"] == D("-1724.56")          # 1,657.89 + 600 × 6 / 54 = 66.67 … and back:
    voided = client.post(f"/api/v1/capital/{later.get_json()['id']}/void", headers=token("acc_a"),
                         json={"reason": "重复录入"})
    assert voided.status_code == 200, voided.get_json()
    assert _closing(session, 2025)["162"] == D("-1657.89")
    close_year(session, _entity(session), 2025, actor=CONSOLE)      # (already booked: nothing more)
    closing = _closing(session, 2025)
    assert (closing["161"], closing["162"]) == (D("10500.00"), D("-1657.89"))
    close_year(session, _entity(session), 2026, actor=CONSOLE)
    assert _closing(session, 2026)["162"] == D("-3868.42")          # 1,657.89 + 2,210.53


def test_the_assets_page_disposes_of_an_asset_from_its_row(client, world, session, login, post_form):
    close_year(session, _entity(session), 2025, actor=CONSOLE)
    session.commit()
    login(client, "acc_a")
    roaster = _roaster(session).id
    page = client.get(f"/e/{A}/records/assets").get_data(as_text=True)
    assert f'action="/e/{A}/records/assets/{roaster}/dispose"' in page and "藤茶杀青机" in page
    assert 'name="confirm"' not in page                             # (assets have no plausibility warning)
    wrong = post_form(client, f"/e/{A}/records/assets/{roaster}/dispose",
                      {"date": "2026-03-15", "proceeds": "10000.001", "method": "bank"}, token_path=f"/e/{A}/records/assets")
    assert wrong.status_code == 302
    assert "金额（元）不能为负数，最多两位小数" in client.get(f"/e/{A}/records/assets").get_data(as_text=True)
    done = post_form(client, f"/e/{A}/records/assets/{roaster}/dispose",
                     {"date": "2026-03-15", "proceeds": "10000", "method": "bank"}, token_path=f"/e/{A}/records/assets")
    assert done.status_code == 302
    page = client.get(f"/e/{A}/records/assets").get_data(as_text=True)
    assert f'id="disposed-{roaster}"' in page and "2026-03-15 已清理" in page
    assert _closing(session, 2026)["529"] == D("1430.00")
    foreign = post_form(client, f"/e/TB-COOP/records/assets/{roaster}/dispose", {"date": "2026-03-15"},
                        token_path=f"/e/{A}/records/assets")
    assert foreign.status_code in (403, 404)


def test_capital_put_in_kind_is_booked_to_the_account_of_what_was_put_in(client, world, session, token):
    """2021 system acct 301 三: capital put in kind is debited to 121, 142, 151 … whichever the asset is
    (books-review W11: it used to be 151 whatever was put in). Named by code or by name; 151 by default."""
    before = _closing(session, 2025)
    cattle = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-04-01", "member": "A-H002", "amount": "8000", "form": "in_kind", "account": "生产性生物资产",
        "note": "母牛两头作价入股"})
    assert cattle.status_code == 201, cattle.get_json()
    machine = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-04-01", "member": "A-H003", "amount": "3000", "form": "in_kind", "note": "微耕机作价入股"})
    assert machine.status_code == 201, machine.get_json()
    after = _closing(session, 2025)
    assert after.get("142", D(0)) - before.get("142", D(0)) == D("8000.00")
    assert after["151"] - before["151"] == D("3000.00")
    assert after["301"] - before["301"] == D("-11000.00")
    wrong = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-04-01", "member": "A-H002", "amount": "100", "form": "in_kind", "account": "501"})
    assert wrong.get_json()["errors"]["account"] == [
        "501 is not an asset account of the chart that capital can be put in as."]
    cash = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-04-01", "member": "A-H002", "amount": "100", "form": "cash", "account": "151"})
    assert cash.get_json()["errors"]["account"] == ["Only capital put in kind names the account of what was put in."]
    voided = client.post(f"/api/v1/capital/{cattle.get_json()['id']}/void", headers=token("acc_a"),
                         json={"reason": "作价有误"})
    assert voided.status_code == 200 and _closing(session, 2025).get("142", D(0)) == before.get("142", D(0))


def test_a_disposal_made_by_mistake_is_undone_by_voiding_the_asset(client, world, session, token):
    """Nothing is edited: the asset is voided whole (purchase and subsidy move, depreciation, disposal) and can be
    recorded again. Disposed of on 2025-11-30 for 11,000.00: October–November 190.00, book value 11,810.00, a loss
    of 810.00."""
    before = _closing(session, 2025)
    roaster = _roaster(session).id
    sold = client.post(f"/api/v1/assets/{roaster}/dispose", headers=token("acc_a"),
                       json={"date": "2025-11-30", "proceeds": "11000", "method": "bank"})
    assert sold.status_code == 200, sold.get_json()
    assert _closing(session, 2025)["529"] == D("810.00")
    voided = client.post(f"/api/v1/assets/{roaster}/void", headers=token("acc_a"), json={"reason": "处置录错"})
    assert voided.status_code == 200, voided.get_json()
    after = _closing(session, 2025)
    for code in ("151", "152", "154", "529"):
        assert after.get(code, D("0.00")) == D("0.00"), code
    assert (after["235"], after["311"]) == (D("-20000.00"), D("0.00"))     # the subsidy waits again, all of it
    assert after["102"] - before["102"] == D("12000.00")                    # purchase undone, proceeds undone


def test_an_asset_built_comes_into_use_later_and_is_depreciated_from_the_month_after(client, world, session, token,
                                                                                     login, post_form):
    """在建工程 recorded without its finishing date: 153 until it comes into use (API, or the form on its row),
    then 151; 6,000.00 over 5 years at 5 %: 95.00 a month, from December (in use on 2025-11-20)."""
    built = client.post(f"/api/v1/entities/{A}/assets", headers=token("acc_a"), json={
        "code": "GD-A-20", "name": "冷库", "acquired_on": "2025-08-01", "cost": "6000", "life_years": 5,
        "under_construction": True})
    assert built.status_code == 201, built.get_json()
    asset = built.get_json()["id"]
    assert _closing(session, 2025)["153"] == D("6000.00")
    early = client.post(f"/api/v1/assets/{asset}/in-use", headers=token("acc_a"), json={"date": "2025-07-01"})
    assert early.get_json()["errors"]["date"] == ["2025-07-01 is before asset GD-A-20 was acquired (2025-08-01)."]
    done = client.post(f"/api/v1/assets/{asset}/in-use", headers=token("acc_a"), json={"date": "2025-11-20"})
    assert done.status_code == 200, done.get_json()
    closing = _closing(session, 2025)
    assert (closing["153"], closing["151"]) == (D("0.00"), D("18000.00"))      # with the world's roaster
    again = client.post(f"/api/v1/assets/{asset}/in-use", headers=token("acc_a"), json={"date": "2025-12-01"})
    assert again.get_json()["errors"]["_schema"] == ["Asset GD-A-20 is in use since 2025-11-20."]
    close_year(session, _entity(session), 2025, actor=CONSOLE)
    assert _closing(session, 2025)["152"] == D("-380.00")           # the roaster's 285.00 + December's 95.00
    login(client, "acc_a")
    other = client.post(f"/api/v1/entities/{A}/assets", headers=token("acc_a"), json={
        "code": "GD-A-21", "name": "烘干房", "acquired_on": "2025-08-01", "cost": "1000", "life_years": 5,
        "under_construction": True})
    assert other.status_code == 422                                 # 2025 is being closed now
    page = client.get(f"/e/{A}/records/assets").get_data(as_text=True)
    assert f'action="/e/{A}/records/assets/{asset}/in-use"' not in page       # (in use: no form any more)


def test_a_disposal_books_the_depreciation_of_an_earlier_year_still_open(client, world, session, token):
    """Disposed of on 2026-02-10 while 2025 is open: 2025's October–December (285.00) and January–February 2026
    (190.00) are booked first, so the book value is 12,000 − 475 = 11,525.00, all of it a loss (no proceeds)."""
    roaster = _roaster(session).id
    gone = client.post(f"/api/v1/assets/{roaster}/dispose", headers=token("acc_a"), json={"date": "2026-02-10"})
    assert gone.status_code == 200, gone.get_json()
    assert _closing(session, 2025)["152"] == D("-285.00")
    closing = _closing(session, 2026)
    assert (closing["151"], closing["152"], closing["154"]) == (D("0.00"), D("0.00"), D("0.00"))
    assert closing["529"] == D("11525.00")
    close_year(session, _entity(session), 2025, actor=CONSOLE)      # nothing more is due for 2025
    assert _closing(session, 2025)["152"] == D("-285.00")


def test_a_subsidy_pays_only_once_it_has_arrived_and_a_project_is_quantified_or_not(client, world, session, token):
    early = client.post(f"/api/v1/entities/{A}/assets", headers=token("acc_a"), json={
        "code": "GD-A-30", "name": "分拣台", "acquired_on": "2025-06-01", "cost": "1000", "life_years": 5,
        "project": PROJECT})
    assert early.get_json()["errors"]["project"] == [
        f"Only 0.00 of project {PROJECT} had arrived by 2025-06-01 and is unspent (专项应付款): 1000.00 cannot be "
        "paid out of it."]
    mixed = client.post(f"/api/v1/entities/{A}/subsidies", headers=token("acc_a"), json={
        "date": "2025-09-01", "source": "县农业农村局追加", "project": PROJECT, "kind": "fiscal", "amount": "5000",
        "quantify": False})
    assert mixed.get_json()["errors"]["quantify"] == [
        f"Project {PROJECT} is already recorded as quantified to the members: every subsidy of a project is "
        "quantified to the members or none is (name another project)."]
    in_kind = client.post(f"/api/v1/entities/{A}/assets", headers=token("acc_a"), json={
        "code": "GD-A-31", "name": "旧厂房", "acquired_on": "2025-06-01", "cost": "1000", "life_years": 5,
        "paid_by": "in_kind", "under_construction": True})
    assert in_kind.get_json()["errors"]["under_construction"] == [
        "An asset put in as capital in kind is in use, not under construction."]
    share = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-04-01", "member": "A-H002", "amount": "2000", "form": "poverty_asset", "account": "102"})
    assert share.status_code == 201, share.get_json()              # a poverty-alleviation share put in as money
    cash_in_kind = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-04-01", "member": "A-H002", "amount": "2000", "form": "in_kind", "account": "102"})
    assert cash_in_kind.get_json()["errors"]["account"] == [
        "102 is not an asset account of the chart that capital can be put in as."]


def test_amortisation_follows_a_replaced_contract_and_still_adds_up(client, world, session, token):
    """The term is the contract the land right falls in; if that contract is voided and replaced (here by one to
    2034), the next year books the cumulative amount due under the new term less what was booked: 10,500 over the
    117 months April 2025 – December 2034, to the end of 2026 (21 months) = 1,884.62, less 1,657.89 = 226.73."""
    from cooperatives.models import LandContract

    put_in = client.post(f"/api/v1/entities/{A}/capital", headers=token("acc_a"), json={
        "date": "2025-03-01", "member": "A-H001", "amount": "10500", "form": "land"})
    assert put_in.status_code == 201, put_in.get_json()
    accrue_amortisation(session, _entity(session), 2025, actor=CONSOLE)
    assert _closing(session, 2025)["162"] == D("-1657.89")
    old = session.scalar(select(LandContract).where(LandContract.contract_no == "TD-A-001"))
    assert client.post(f"/api/v1/land/{old.id}/void", headers=token("acc_a"),
                       json={"reason": "合同重签"}).status_code == 200
    new = client.post(f"/api/v1/entities/{A}/land", headers=token("acc_a"), json={
        "member": "A-H001", "contract_no": "TD-A-002", "area_mu": "3.5", "base_rent_per_mu": "600",
        "start_on": "2025-01-01", "end_on": "2034-12-31"})
    assert new.status_code == 201, new.get_json()
    accrue_amortisation(session, _entity(session), 2026, actor=CONSOLE)
    assert _closing(session, 2026)["162"] == D("-1884.62")

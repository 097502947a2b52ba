"""The year-end stock count (期末盘点, issue 13 §5, books-review W10): unsold produce counted at cost on 31 December
leaves the year's operating costs for 121 产品物资 and comes back to the next year's on 1 January (期初转回), so
the year's surplus is what was sold; by form, API and the workbook's 期末盘点 sheet; voided as a whole. The
world's TA-COOP counted 2 kg of dried tea at 100.00."""

from __future__ import annotations

from decimal import Decimal

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.importer import import_path
from cooperatives.models import Entity, StockCount
from cooperatives.workbook import WorkbookError
from ledger.queries import trial_balance

A = "TA-COOP"
D = Decimal


def _balances(session, year):
    session.expire_all()
    book = session.scalar(select(Entity).where(Entity.code == A)).book
    return {r.code: r for r in trial_balance(session, book, year)}


def test_a_count_moves_the_cost_to_inventory_for_the_year_end_and_back(client, world, session, token):
    before = _balances(session, 2025)
    counted = client.post(f"/api/v1/entities/{A}/stock", headers=token("acc_a"), json={
        "date": "2025-12-31", "product": "藤茶干茶", "quantity": "30", "unit": "kg", "value": "2400"})
    assert counted.status_code == 201, counted.get_json()
    y2025, y2026 = _balances(session, 2025), _balances(session, 2026)
    assert y2025["121"].closing - before["121"].closing == D("2400.00")          # in stock at the year end
    assert y2025["521"].closing - before["521"].closing == D("-2400.00")         # not a cost of 2025
    assert y2026["121"].closing == D("0.00")                                      # back on 1 January …
    assert y2026["521"].debit == D("2500.00")                 # … as 2026's cost (with the world's own 100.00)
    wrong_day = client.post(f"/api/v1/entities/{A}/stock", headers=token("acc_a"), json={
        "date": "2025-12-30", "product": "藤茶干茶", "quantity": "1", "unit": "kg", "value": "80"})
    assert wrong_day.status_code == 422
    assert wrong_day.get_json()["errors"]["date"] == [
        "A stock count is dated 31 December, the year's last day, not 2025-12-30."]
    voided = client.post(f"/api/v1/stock/{counted.get_json()['id']}/void", headers=token("acc_a"),
                         json={"reason": "盘点有误"})
    assert voided.status_code == 200, voided.get_json()
    undone = _balances(session, 2025)
    assert (undone["121"].closing, undone["521"].closing) == (before["121"].closing, before["521"].closing)
    assert _balances(session, 2026)["121"].closing == D("0.00")


def test_the_stock_sheet_counts_and_brings_back(session, world, tmp_path):
    book = {"期末盘点": [["日期", "产品", "数量", "单位", "金额"], ["2025-12-31", "藤茶干茶", "10", "公斤", "800"],
                     ["2025-12-31", "藤茶鲜叶", "100", "斤", "200"]]}
    path = tmp_path / "stock.xlsx"
    before = _balances(session, 2025)["121"].closing
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    session.commit()
    assert _balances(session, 2025)["121"].closing - before == D("1000.00")
    assert _balances(session, 2026)["121"].closing == D("0.00")
    assert session.scalar(select(StockCount.value).where(StockCount.product == "藤茶鲜叶")) == D("200.00")
    book["期末盘点"][1][0] = "2025-06-30"
    path.write_bytes(xlsx(book).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert [str(p) for p in refused.value.problems] == [
        "期末盘点:2:日期: A stock count is dated 31 December, the year's last day, not 2025-06-30."]

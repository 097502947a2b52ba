"""Plausibility (issue 13 §7): what is surely a mistake is refused with a clear reason; what can be legitimate is
refused until the accountant confirms it — the row's (or form's, or body's) ``confirm`` (确认 = 是) — and then
recorded, the confirmation kept in the audit log. Same rule on the page, the API and the workbook (the sheet's
checks and :func:`cooperatives.kinds.check_records`). README "Plausibility" lists which is which.

The world's TA-COOP: A-H001 is owed 672.00 for a delivery not yet paid plus 2,100.00 of base rent (114).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from samples import xlsx_bytes as xlsx
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.importer import import_path
from cooperatives.models import AuditLog, Delivery, LaborRecord
from cooperatives.workbook import WorkbookError, luhn_ok
from ledger.i18n import translations_for, use_translations

A = "TA-COOP"


def _zh(problem) -> str:
    use_translations(str(Path(__file__).resolve().parents[2] / "payouts" / "translations"))
    return problem.reason.translate(translations_for("zh_Hans_CN"))


def test_luhn_check_digit():
    assert luhn_ok("4539578763621486") and luhn_ok("6217991234567890124")
    assert not luhn_ok("6217991234567890123")


def test_an_amount_that_is_not_quantity_times_price_waits_for_a_confirmation(client, world, session, token):
    body = {"date": "2025-06-02", "member": "A-H002", "product": "藤茶鲜叶", "quantity": "100", "unit": "jin",
            "unit_price": "5.60", "amount": "506.00", "paid": "no"}
    warned = client.post(f"/api/v1/entities/{A}/deliveries", headers=token("acc_a"), json=body)
    assert warned.status_code == 422
    assert warned.get_json()["errors"]["amount"] == [
        "506.00 is not quantity × unit price (560.00); if it is right, record it with confirm (确认) set to yes."]
    confirmed = client.post(f"/api/v1/entities/{A}/deliveries", headers=token("acc_a"), json={**body, "confirm": True})
    assert confirmed.status_code == 201, confirmed.get_json()
    row = session.get(Delivery, confirmed.get_json()["id"])
    assert row.amount == 506 and row.quantity == 100
    logged = session.scalar(select(AuditLog).where(AuditLog.target == f"deliveries:{row.id}"))
    assert logged.detail == "confirmed over a plausibility warning (确认)"


def test_a_payment_on_account_above_what_is_owed_waits_for_a_confirmation(client, world, login, post_form, session):
    login(client, "acc_a")
    form = {"date": "2025-12-29", "member": "A-H003", "amount": "900.00", "method": "bank"}
    refused = post_form(client, f"/e/{A}/records/payments", form)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "成员往来中应付 A-H003 的只有 0.00 元，付款 900.00 元超过了这个数" in page
    assert post_form(client, f"/e/{A}/records/payments", {**form, "confirm": "yes"}).status_code == 302


def test_records_outside_the_membership_wait_for_a_confirmation(session, world, tmp_path):
    households = {"农户": [["户号", "户主", "村", "银行账号"], ["A-H009", "向家旺", "茶园村", "6217991234567890123"]]}
    path = tmp_path / "late.xlsx"
    path.write_bytes(xlsx(households).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    assert [((p.sheet, p.row, p.column), _zh(p)) for p in refused.value.problems] == [
        (("农户", 2, "银行账号"), "银行卡号的校验位（Luhn）不符，很可能输错了；如确属无误，请将“确认”填为“是”后再登记。")]
    book = {"农户": [[*households["农户"][0], "确认"], [*households["农户"][1], "是"]],
            "成员": [["成员", "成员编号", "入社日期"], ["A-H009", "9", "2025-06-01"]],
            "用工": [["日期", "成员", "天数", "日工资"], ["2025-05-20", "A-H009", "3", "120"],
                   ["2025-09-30", "A-H009", "35", "120"]]}
    path.write_bytes(xlsx(book).getvalue())
    with pytest.raises(WorkbookError) as refused:
        import_path(session, str(path), entity_code=A, actor=CONSOLE)
    found = {(p.sheet, p.row, p.column): _zh(p) for p in refused.value.problems}
    assert found == {
        ("用工", 3, "天数"): "35.00 天超过了 2025-09 月的天数（30 天）；如确属无误，请将“确认”填为“是”后再登记。",
        ("用工", 2, "日期"): "2025-05-20 早于 A-H009 加入 TA-COOP 的日期（2025-06-01）；如确属无误，请将“确认”填为“是”后再登记。",
    }
    book["用工"] = [[*book["用工"][0], "确认"], [*book["用工"][1], "是"], [*book["用工"][2], "是"]]
    path.write_bytes(xlsx(book).getvalue())
    import_path(session, str(path), entity_code=A, actor=CONSOLE)
    session.commit()
    days = sorted(r.days for r in session.scalars(select(LaborRecord).where(LaborRecord.member.has(code="A-H009"))))
    assert days == [3, 35]
    logged = session.scalar(select(AuditLog).where(AuditLog.action == "import").order_by(AuditLog.id.desc()))
    assert "confirmed=3" in logged.detail


def test_a_date_far_in_the_future_is_refused_outright(client, world, token):
    far = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    refused = client.post(f"/api/v1/entities/{A}/advances", headers=token("acc_a"), json={
        "date": far, "member": "A-H002", "amount": "100", "confirm": True})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["date"] == [f"{far} is more than a year from today: check the year."]

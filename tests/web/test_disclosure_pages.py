"""财务公开 pages: the entity's staff page and its publish button (the accountant only; another tenant's entity is a
404), and the public page of a publication — no sign-in, persons' names masked, a QR code of its own address, the
verification against the books as they stand, superseded after a republication — and its A3 PDF."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.models import Entity
from cooperatives.operations import post_vouchers, record
from payouts.models import DisclosurePublication
from payouts.reports.disclosure.queries import published_on

D = Decimal


def _text(response) -> str:
    return html.unescape(response.data.decode())


@pytest.fixture
def a_q3(world, session):
    """Entity A's third quarter also paid 6,000.00 to 王大山 (A-H001) for seedlings, by a voucher naming him."""
    a = session.scalar(select(Entity).where(Entity.code == world.a))
    post_vouchers(session, a, [{"date": dt.date(2025, 8, 15), "memo": "支付王大山育苗款", "lines": [
        {"account": "114", "member": "A-H001", "debit": D("6000.00")}, {"account": "102", "credit": D("6000.00")}]}],
        actor=CONSOLE)
    session.commit()
    return a


def _publish(client, post_form, code: str, period: str):
    return post_form(client, f"/e/{code}/disclosure/publish", {"period": period}, token_path=f"/e/{code}/disclosure")


def _publication(session, period="2025-Q3") -> DisclosurePublication:
    session.expire_all()
    return session.scalar(select(DisclosurePublication).where(DisclosurePublication.period == period)
                          .order_by(DisclosurePublication.id.desc()))


def test_the_accountant_publishes_a_quarter_from_the_entitys_page(world, a_q3, client, login, post_form, session):
    assert login(client, "acc_a").status_code == 302
    page = _text(client.get(f"/e/{world.a}/disclosure?year=2025"))
    assert f'href="/e/{world.a}/disclosure"' in page                    # the entity's nav
    assert "2025年第三季度" in page and 'name="period" value="2025-Q3"' in page
    assert client.get(f"/e/{world.a}/disclosure").status_code == 200   # the latest year with entries
    preview = _text(client.get(f"/e/{world.a}/disclosure/preview?period=2025-Q3"))
    assert "王*山" in preview and "王大山" not in preview and "育苗款" not in preview and "-0.00" not in preview
    assert client.get(f"/e/{world.a}/disclosure/preview").status_code == 200          # the last ended quarter

    response = _publish(client, post_form, world.a, "2025-Q3")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/e/{world.a}/disclosure?year=2025")
    publication = _publication(session)
    assert publication is not None and publication.content["totals"]["expense"] != "0.00"
    page = _text(client.get(f"/e/{world.a}/disclosure?year=2025"))
    assert f"/d/{publication.code}" in page and "http://127.0.0.1:5000/d/" in page      # the flash names the page

    again = _publish(client, post_form, world.a, "2025-Q3")          # nothing changed: refused, said why
    assert again.status_code == 302
    assert "已经公布，此后账簿没有变化" in _text(client.get(f"/e/{world.a}/disclosure?year=2025"))
    for bad in ("2025-Q5", "", "2099-Q1", "2024-Q1"):               # not a period; not ended; before the books
        assert _publish(client, post_form, world.a, bad).status_code == 302
    assert session.scalar(select(func.count(DisclosurePublication.id))) == 1


def test_only_the_accountant_of_the_entity_may_publish(world, a_q3, app, login, post_form, csrf, session):
    accountant = app.test_client()
    login(accountant, "acc_a")
    assert accountant.get(f"/e/{world.b}/disclosure").status_code == 404            # another tenant's entity
    assert accountant.get(f"/e/{world.b}/disclosure/preview?period=2025-Q2").status_code == 404
    token = csrf(accountant, f"/e/{world.a}/disclosure")
    assert accountant.post(f"/e/{world.b}/disclosure/publish", data={"period": "2025-Q2",
                                                                     "csrf_token": token}).status_code == 404
    auditor = app.test_client()
    login(auditor, "aud_a")
    page = _text(auditor.get(f"/e/{world.a}/disclosure?year=2025"))
    assert "2025年第三季度" in page and 'name="period"' not in page                     # reads, no button
    token = csrf(auditor, f"/e/{world.a}/disclosure")
    assert auditor.post(f"/e/{world.a}/disclosure/publish", data={"period": "2025-Q3",
                                                                  "csrf_token": token}).status_code == 403
    member = app.test_client()
    login(member, "mem_a")
    assert member.get(f"/e/{world.a}/disclosure").status_code == 403
    token = csrf(member, "/my")
    assert member.post(f"/e/{world.a}/disclosure/publish", data={"period": "2025-Q3",
                                                                 "csrf_token": token}).status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(f"/e/{world.a}/disclosure").status_code == 302
    assert session.scalar(select(func.count(DisclosurePublication.id))) == 0


def test_the_public_page_needs_no_sign_in_masks_names_and_checks_the_books(world, a_q3, app, login, post_form,
                                                                          session):
    staff = app.test_client()
    login(staff, "acc_a")
    _publish(staff, post_form, world.a, "2025-Q3")
    first = _publication(session)
    public = app.test_client()                                          # no sign-in
    response = public.get(f"/d/{first.code}")
    assert response.status_code == 200
    page = _text(response)
    assert world.a_name in page and "2025年第三季度" in page
    assert f'id="published">{published_on(first).isoformat()}<' in page
    assert "王*山" in page and "王大山" not in page and "育苗款" not in page      # the memo is never published
    assert re.search(r'<img src="data:image/svg\+xml[^"]+" alt="[^"]+" width="140"', page)
    assert f"http://127.0.0.1:5000/d/{first.code}" in page and first.digest in page
    assert 'class="verdict ok" id="books"' in page and 'class="verdict ok" id="standing"' in page
    assert "<script" not in page
    assert public.get(f"/d/{first.code.lower().replace('-', ' ')}").status_code == 200    # as typed from paper
    assert public.get("/d/ZZZZ-ZZZZ-ZZZZ").status_code == 404
    pdf = public.get(f"/d/{first.code}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data[:4] == b"%PDF"

    # a late expense booked into September: the books changed since; published again, the first is superseded
    values, problems = parse_form("expenses", {"date": "2025-09-29", "category": "other", "amount": "300.00"})
    assert not problems
    record(session, session.scalar(select(Entity).where(Entity.code == world.a)), "expenses", values, actor=CONSOLE)
    session.commit()
    assert 'class="verdict bad" id="books"' in _text(public.get(f"/d/{first.code}"))
    _publish(staff, post_form, world.a, "2025-Q3")
    second = _publication(session)
    assert second.id != first.id and second.supersedes_id == first.id
    old = _text(public.get(f"/d/{first.code}"))
    assert 'class="verdict bad" id="standing"' in old and f'href="/d/{second.code}"' in old
    new = _text(public.get(f"/d/{second.code}"))
    assert 'class="verdict ok" id="books"' in new and f'href="/d/{first.code}"' in new      # what it corrects
    index = _text(staff.get(f"/e/{world.a}/disclosure?year=2025"))
    assert index.index(second.code) < index.index(first.code)                   # the current one first

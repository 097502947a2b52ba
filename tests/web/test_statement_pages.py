"""The household's statement pages (``/my``, ``/s/<code>``, ``/s/pin``), the public verification page
(``/verify/<code>``), and the staff pages of a run's statements, receipts, objections and PINs.

A cooperative of township 甲乡 (the township of ``world``'s entity A, so ``aud_a`` audits it and
``aud_b`` does not) imports a small workbook, distributes 2025, posts and publishes. Text is checked
in English (``lang`` cookie), which stays stable when the Chinese catalog changes; the Chinese default
is checked on the statement itself.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity, Household
from cooperatives.users import create_user
from payouts.models import Objection, PayoutMember, PayoutRun, Receipt, StatementSnapshot
from payouts.statements.operations import record_objection, record_receipt, set_pin

D = Decimal
PASSWORD = "correct horse battery staple"
POLICY = '[[pools]]\nname = "patronage"\npct = "60"\nbasis = "transactions"\n' \
         '[[pools]]\nname = "residual"\npct = "40"\nbasis = "capital"\n'
WORKBOOK = {
    "entity": [["code", "name", "kind", "township"], ["VO", "核验合作社", "farmer_coop", "甲乡"]],
    "households": [["code", "head_name", "village", "phone"], ["V1", "王大山", "一村", "13900000001"],
                   ["V2", "李秀英", "一村", "13900000002"]],
    "members": [["member", "member_no", "joined_on"], ["V1", 1, "2020-01-01"], ["V2", 2, "2020-01-01"]],
    "capital": [["date", "member", "amount"], ["2025-01-01", "V1", "1000"], ["2025-01-01", "V2", "1000"]],
    "deliveries": [["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
                   ["2025-05-01", "V1", "茶", "100", "kg", "10", "bank"], ["2025-05-01", "V2", "茶", "300", "kg", "10", "bank"]],
    "sales": [["date", "buyer", "product", "amount"], ["2025-09-01", "茶企", "干茶", "14000"]],
}
#: 10,000 surplus: 60 % by trade 1:3, 40 % by capital 1:1
NET = {"V1": D("3500.00"), "V2": D("6500.00")}
MAX_PAGE_BYTES = 50_000


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def english(client):
    client.set_cookie("lang", "en")
    return client


def snap_of(session, member: str, run_id: int | None = None) -> StatementSnapshot:
    stmt = select(StatementSnapshot).where(StatementSnapshot.member_code == member)
    if run_id is not None:
        stmt = stmt.where(StatementSnapshot.run_id == run_id)
    snap = session.scalars(stmt.order_by(StatementSnapshot.id)).first()
    session.refresh(snap)
    return snap


def by_id(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert found, f"no element #{element_id}"
    return found.group(1).strip()


def verdicts(page: str) -> list[tuple[str, str]]:
    """Every verdict box of a page: (ok or bad, its id)."""
    return re.findall(r'class="verdict (ok|bad)" id="([\w-]+)"', page)


def distribute(cli, policy: str | None = None) -> int:
    args = ["distribute", "--entity", "VO", "--year", "2025", "--json"]
    out = json.loads(cli(*args, *(["--policy", policy] if policy else [])).stdout)
    assert cli("run", "approve", str(out["run"]), "--meeting-date", "2026-03-01", "--attended", "2",
               "--votes-for", "2").exit_code == 0
    assert cli("run", "post", str(out["run"])).exit_code == 0
    return out["run"]


@pytest.fixture
def posted(world, session, cli, xlsx, policy_file) -> PayoutRun:
    """Run of VO for 2025, posted (not published), with a member user for V1 and V2 and VO's accountant."""
    assert cli("import", xlsx(WORKBOOK)).exit_code == 0
    run_id = distribute(cli, policy_file(POLICY))
    homes = {h.code: h for h in session.scalars(select(Household).where(Household.code.in_(("V1", "V2"))))}
    entity = session.scalar(select(Entity).where(Entity.code == "VO"))
    create_user(session, username="mem_v1", password=PASSWORD, role="member", household_id=homes["V1"].id, actor=CONSOLE)
    create_user(session, username="mem_v2", password=PASSWORD, role="member", household_id=homes["V2"].id, actor=CONSOLE)
    create_user(session, username="acc_v", password=PASSWORD, role="accountant", entity_id=entity.id, actor=CONSOLE)
    session.commit()
    return session.get(PayoutRun, run_id)


@pytest.fixture
def run(posted, cli, session) -> PayoutRun:
    """The same run, published: the notice period is open."""
    assert cli("run", "publish", str(posted.id)).exit_code == 0
    run = session.get(PayoutRun, posted.id)        # (each command and request closes the shared Session)
    assert run.status == "published" and run.notice_until >= dt.date.today()
    return run


def signed_in(app, login, username: str | None):
    client = english(app.test_client())
    if username:
        assert login(client, username).status_code == 302
    return client


# ------------------------------------------------------------------------------------------------ access


@pytest.mark.parametrize("user, status", [
    ("mem_v1", 200),       # the household itself
    ("mem_v2", 404),       # another household of the same cooperative
    ("mem_a", 404),        # a household of another entity
    ("acc_v", 200),        # the cooperative's accountant (read only)
    ("acc_a", 404),        # the accountant of another entity of the same township
    ("aud_a", 200),        # the township's auditor
    ("aud_b", 404),        # the auditor of another township
    ("admin", 200),
])
def test_who_may_read_a_statement(app, run, session, login, user, status):
    client = signed_in(app, login, user)
    code = snap_of(session, "V1").code
    assert client.get(f"/s/{code}").status_code == status
    assert client.get(f"/s/{code}.pdf").status_code == status
    assert client.get(f"/s/{code.lower().replace('-', '')}").status_code == status   # as typed from paper
    assert client.get("/s/ABCD-EFGH-JKMN").status_code == 404                     # no such code: the same answer


def test_anonymous_is_sent_to_sign_in(client, run, session):
    code = snap_of(session, "V1").code
    for path in (f"/s/{code}", f"/s/{code}.pdf", "/my", f"/e/VO/runs/{run.id}/statements", "/e/VO/objections",
                 "/objections"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), path
    assert client.post(f"/s/{code}/confirm").status_code in (302, 400)     # no session, no CSRF token: refused
    assert session.scalar(select(StatementSnapshot.confirmed_at).where(StatementSnapshot.code == code)) is None


def test_households_see_a_run_only_once_it_is_published(app, posted, session, login, cli):
    code = snap_of(session, "V1").code
    member = signed_in(app, login, "mem_v1")
    assert member.get(f"/s/{code}").status_code == 404
    assert code not in text(member.get("/my"))
    assert signed_in(app, login, "acc_v").get(f"/s/{code}").status_code == 200      # staff see posted runs
    assert cli("run", "publish", str(posted.id)).exit_code == 0
    assert member.get(f"/s/{code}").status_code == 200
    assert f"/s/{code}" in text(member.get("/my"))


# --------------------------------------------------------------------------------------- household pages


def test_a_member_lands_on_its_statements(app, run, session, login):
    client = signed_in(app, login, "mem_v1")
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200 and page.request.path == "/my"
    body = text(page)
    assert "王大山" in body and "核验合作社" in body and "3,500.00" in body and "Not paid yet" in body
    assert f"/s/{snap_of(session, 'V1').code}" in body and snap_of(session, "V2").code not in body
    assert "You can object to a line until" in body and "6,500.00" not in body


def test_the_statement_shows_the_net_the_formula_and_the_notice_period(app, run, session, login):
    snap = snap_of(session, "V1")
    data = snap.content
    client = signed_in(app, login, "mem_v1")
    page = text(client.get(f"/s/{snap.code}"))
    assert by_id(page, "net") == "3,500.00" == f"{NET['V1']:,.2f}"
    assert D(data["net"]) == session.scalar(select(PayoutMember.net).where(PayoutMember.run_id == run.id,
                                                                            PayoutMember.code == "V1"))
    # 10,000.00 distributable: 60 % by trade (V1 1,000.00 of 4,000.00), 40 % by capital (1,000.00 of 2,000.00)
    assert by_id(page, "distributable") == "10,000.00"
    for words in ("Return by member trade (60 %)", "Distribution by capital (40 %)",
                  "Your household's trade: 1,000.00 yuan, of all members' 4,000.00 yuan.",
                  "Your share: 1,000.00 ÷ 4,000.00 = 25.00 %", "6,000.00 × 25.00 % = 1,500.00 yuan",
                  "Your share: 1,000.00 ÷ 2,000.00 = 50.00 %", "4,000.00 × 50.00 % = 2,000.00 yuan"):
        assert words in page, words
    for line in data["lines"]:
        assert line["amount"] in page.replace(",", "")
    assert not re.search(r"\b(patronage|residual)\b", page.split('id="object-form"')[0])   # no pool codes shown
    assert data["net_words"] in page and snap.code in page
    assert by_id(page, "paid-state") == "Not paid yet"
    assert run.notice_until.isoformat() in by_id(page, "notice")
    assert f'href="/s/{snap.code}.pdf"' in page and 'id="object-form"' in page
    assert 'id="confirm"' not in page and 'id="confirm-later"' in page      # nothing paid: nothing to confirm
    assert "<script" not in page and " style=" not in page       # no JavaScript, nothing the CSP would block


def test_chinese_is_the_default_language_of_the_statement(client, run, session, login):
    login(client, "mem_v1")
    snap = snap_of(session, "V1")
    page = text(client.get(f"/s/{snap.code}"))
    assert '<html lang="zh-CN">' in page
    assert "收益分配结算单" in page and "可分配盈余" in page and "实发金额" in page
    assert "1,000.00 ÷ 4,000.00 = 25.00 %" in page and "6,000.00 × 25.00 % = 1,500.00" in page


def test_the_pdf_downloads(app, run, session, login):
    snap = snap_of(session, "V1")
    response = signed_in(app, login, "mem_v1").get(f"/s/{snap.code}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert snap.code in response.headers["Content-Disposition"]


def test_receipt_cannot_be_confirmed_before_a_payment_is_recorded(app, run, session, login, post_form):
    snap = snap_of(session, "V1")
    client = signed_in(app, login, "mem_v1")
    page = text(client.get(f"/s/{snap.code}"))
    assert by_id(page, "paid-state") == "Not paid yet" and 'id="confirm"' not in page   # no button to tap
    refused = post_form(client, f"/s/{snap.code}/confirm", {}, token_path=f"/s/{snap.code}")
    assert refused.status_code == 409
    page = text(refused)
    assert "has not recorded a payment to your household" in by_id(page, "refused")
    assert "Receipt confirmed" not in page and by_id(page, "paid-state") == "Not paid yet"
    assert snap_of(session, "V1").confirmed_at is None
    assert session.scalar(select(func.count()).select_from(Receipt)) == 0


def test_confirming_receipt_records_when(app, run, session, login, post_form):
    snap = snap_of(session, "V1")
    staff = signed_in(app, login, "acc_v")           # the cooperative records the payment first
    paid = post_form(staff, f"/e/VO/runs/{run.id}/receipts", {"member": "V1", "amount": "3500.00", "method": "bank",
                                                              "date": dt.date.today().isoformat()},
                     token_path=f"/e/VO/runs/{run.id}/statements")
    assert paid.status_code == 302, text(paid)
    client = signed_in(app, login, "mem_v1")
    assert by_id(text(client.get(f"/s/{snap.code}")), "paid-state") == "Paid"
    response = post_form(client, f"/s/{snap.code}/confirm", {}, token_path=f"/s/{snap.code}")
    assert response.status_code == 302 and response.headers["Location"] == f"/s/{snap.code}"
    assert snap_of(session, "V1").confirmed_at is not None
    page = text(client.get(f"/s/{snap.code}"))
    assert "Receipt confirmed on" in by_id(page, "confirmed") and 'id="confirm"' not in page
    assert "Not paid yet" not in page
    assert post_form(staff, f"/s/{snap.code}/confirm", {}, token_path=f"/s/{snap.code}").status_code == 403


def test_objections_are_taken_during_the_notice_period_only(app, run, session, login, post_form):
    snap = snap_of(session, "V1")
    client = signed_in(app, login, "mem_v1")
    path = f"/s/{snap.code}"

    def objections():
        return session.scalar(select(func.count(Objection.id)).where(Objection.statement_id == snap.id))

    response = post_form(client, f"{path}/object", {"line": "patronage", "text": "交售量少算了 50 斤"}, token_path=path)
    assert response.status_code == 302 and objections() == 1
    page = text(client.get(path))
    assert "交售量少算了 50 斤" in page and "Waiting for the accountant's answer" in page
    assert post_form(client, f"{path}/object", {"line": "bonus", "text": "?"}, token_path=path).status_code == 422
    assert post_form(client, f"{path}/object", {"line": "total", "text": "  "}, token_path=path).status_code == 422
    assert post_form(client, f"{path}/object", {"line": "total", "text": "x" * 501}, token_path=path).status_code == 422
    assert objections() == 1
    session.get(PayoutRun, run.id).notice_until = dt.date.today() - dt.timedelta(days=1)
    session.commit()
    page = text(client.get(path))
    assert 'id="object-form"' not in page and "The notice period ended on" in page
    refused = post_form(client, f"{path}/object", {"line": "patronage", "text": "太晚了"}, token_path=path)
    assert refused.status_code == 422 and "during the notice period only" in text(refused)
    assert objections() == 1


def test_the_household_page_says_whether_statements_are_published(app, posted, session, login, cli):
    client = signed_in(app, login, "mem_v1")
    page = text(client.get("/household"))
    assert 'id="no-statements"' in page and 'id="statements"' not in page       # posted, not yet published
    assert cli("run", "publish", str(posted.id)).exit_code == 0
    page = text(client.get("/household"))
    code = snap_of(session, "V1").code
    assert 'id="no-statements"' not in page and f'href="/s/{code}"' in by_id(page, "statements")
    assert "3,500.00" in page and snap_of(session, "V2").code not in page


# ------------------------------------------------------------------------------------------- phone + PIN


def test_phone_and_pin_open_the_household_statements_only(app, run, session, post_form):
    v2 = session.scalar(select(Household).where(Household.code == "V2"))
    pin = set_pin(session, v2, actor=CONSOLE)
    session.commit()
    client = english(app.test_client())
    mine, other = snap_of(session, "V2").code, snap_of(session, "V1").code
    assert client.get(f"/s/{mine}").status_code == 302
    response = post_form(client, "/s/pin", {"phone": "139 0000 0002", "pin": pin, "next": f"/s/{mine}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/s/{mine}"
    assert by_id(text(client.get(f"/s/{mine}")), "net") == "6,500.00"
    assert client.get(f"/s/{mine}.pdf").status_code == 200
    assert client.get(f"/s/{other}").status_code == 404
    assert f"/s/{mine}" in text(client.get("/my")) and other not in text(client.get("/my"))
    record_receipt(session, snap_of(session, "V2"), amount=NET["V2"], method="bank", on=dt.date.today(), actor=CONSOLE)
    session.commit()
    assert post_form(client, f"/s/{mine}/confirm", {}, token_path=f"/s/{mine}").status_code == 302
    assert snap_of(session, "V2").confirmed_at is not None
    assert post_form(client, "/s/leave", {}, token_path="/my").status_code == 302
    assert client.get(f"/s/{mine}").status_code == 302                     # left: sign in again


def test_a_pin_visit_ends_after_some_hours(app, run, session, post_form, monkeypatch):
    from payouts.statements.web import support as statements

    v1 = session.scalar(select(Household).where(Household.code == "V1"))
    pin = set_pin(session, v1, actor=CONSOLE)
    session.commit()
    client = english(app.test_client())
    code = snap_of(session, "V1").code
    assert post_form(client, "/s/pin", {"phone": "13900000001", "pin": pin}).status_code == 302
    assert client.get(f"/s/{code}").status_code == 200
    later = statements.now_seconds() + statements.PIN_SESSION_SECONDS + 1
    monkeypatch.setattr(statements, "now_seconds", lambda: later)
    assert client.get(f"/s/{code}").status_code == 302


def test_a_wrong_pin_is_refused_and_rate_limited(app, run, session, post_form):
    v1 = session.scalar(select(Household).where(Household.code == "V1"))
    pin = set_pin(session, v1, actor=CONSOLE)
    session.commit()
    wrong = "000000" if pin != "000000" else "111111"
    client = english(app.test_client())
    statuses = [post_form(client, "/s/pin", {"phone": "13900000001", "pin": wrong}).status_code for _ in range(11)]
    assert statuses[0] == 401 and statuses[-1] == 429
    assert post_form(client, "/s/pin", {"phone": "13900000001", "pin": pin}).status_code == 429   # even the right PIN
    assert client.get(f"/s/{snap_of(session, 'V1').code}").status_code == 302


def test_the_accountant_gives_a_new_pin_shown_once(app, run, session, login, post_form):
    code = snap_of(session, "V1").code
    client = signed_in(app, login, "acc_v")
    response = post_form(client, "/e/VO/households/V1/pin", {"next": f"/s/{code}"}, token_path=f"/s/{code}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    pin = by_id(text(response), "pin")
    assert re.fullmatch(r"\d{6}", pin) and "139****0001" in text(response)
    household = signed_in(app, login, None)
    assert post_form(household, "/s/pin", {"phone": "13900000001", "pin": pin}).status_code == 302
    assert household.get(f"/s/{code}").status_code == 200
    # a household of another entity, or another entity's accountant: 404
    assert post_form(client, "/e/VO/households/A-H001/pin", {}, token_path=f"/s/{code}").status_code == 404
    other = signed_in(app, login, "acc_a")
    assert post_form(other, "/e/VO/households/V1/pin", {}, token_path="/e/TA-COOP/").status_code == 404


# -------------------------------------------------------------------------------------------- staff pages


def test_the_accountant_records_payments(app, run, session, login, post_form):
    client = signed_in(app, login, "acc_v")
    path = f"/e/VO/runs/{run.id}/statements"
    page = text(client.get(path))
    assert "王大山" in page and "李秀英" in page and f"/s/{snap_of(session, 'V1').code}" in page
    assert 'value="3500.00"' in text(client.get(f"{path}?member=V1"))          # the form offers what is owed

    def receipts():
        return session.scalar(select(func.count(Receipt.id)))

    from cooperatives.operations import record

    vo = session.scalar(select(Entity).where(Entity.code == "VO"))      # 提现: the cash the payout is paid in
    record(session, vo, "transfers", {"date": dt.date(2026, 4, 1), "from_account": "bank", "to_account": "cash",
                                      "amount": Decimal("1000.00")}, actor=CONSOLE)
    session.commit()
    form = {"member": "V1", "amount": "1000", "method": "cash", "reference": "花名册第3页", "date": "2026-04-01"}
    refused = post_form(client, f"/e/VO/runs/{run.id}/receipts", form, token_path=path)
    assert refused.status_code == 422 and "signature or thumbprint" in text(refused) and receipts() == 0
    too_much = post_form(client, f"/e/VO/runs/{run.id}/receipts", {**form, "method": "bank", "amount": "9999"},
                         token_path=path)
    assert too_much.status_code == 422 and "still owed" in text(too_much) and receipts() == 0
    nobody = post_form(client, f"/e/VO/runs/{run.id}/receipts", {**form, "member": "V9", "signed": "yes"},
                       token_path=path)
    assert nobody.status_code == 422 and receipts() == 0
    bad = post_form(client, f"/e/VO/runs/{run.id}/receipts", {**form, "amount": "1.005", "date": "x"}, token_path=path)
    assert bad.status_code == 422 and receipts() == 0
    ok = post_form(client, f"/e/VO/runs/{run.id}/receipts", {**form, "signed": "yes"}, token_path=path)
    assert ok.status_code == 302 and receipts() == 1
    ok = post_form(client, f"/e/VO/runs/{run.id}/receipts",
                   {"member": "V1", "amount": "2,500.00", "method": "mobile", "date": "2026-04-02"}, token_path=path)
    assert ok.status_code == 302
    paid = session.scalar(select(PayoutMember.paid).where(PayoutMember.run_id == run.id, PayoutMember.code == "V1"))
    assert paid == NET["V1"]
    member = signed_in(app, login, "mem_v1")
    page = text(member.get(f"/s/{snap_of(session, 'V1').code}"))
    assert by_id(page, "paid-state") == "Paid" and "花名册第3页" in page
    assert "Paid" in text(member.get("/my"))


def test_the_accountant_answers_an_objection(app, run, session, login, post_form):
    snap = snap_of(session, "V2")
    objection = record_objection(session, snap, line="residual", text="股金是 2000 元，不是 1000 元", actor=CONSOLE)
    session.commit()
    client = signed_in(app, login, "acc_v")
    page = text(client.get("/e/VO/objections"))
    assert "股金是 2000 元，不是 1000 元" in page and f"/e/VO/runs/{run.id}/statements" in page
    path = f"/e/VO/objections/{objection.id}/answer"
    assert post_form(client, path, {"answer": " "}, token_path="/e/VO/objections").status_code == 422
    other = signed_in(app, login, "acc_a")
    assert post_form(other, path, {"answer": "?"}, token_path="/e/TA-COOP/").status_code == 404
    response = post_form(client, path, {"answer": "已核对入股凭证：2025 年入股 1000 元。"}, token_path="/e/VO/objections")
    assert response.status_code == 302
    objection = session.get(Objection, objection.id)
    assert objection.status == "answered" and objection.answered_at is not None
    page = text(signed_in(app, login, "mem_v2").get(f"/s/{snap.code}"))
    assert "已核对入股凭证：2025 年入股 1000 元。" in page and "Waiting for" not in page


def test_the_auditor_sees_open_objections_township_wide_and_writes_nothing(app, run, session, login, post_form):
    snap = snap_of(session, "V1")
    objection = record_objection(session, snap, line="patronage", text="交售量少算了", actor=CONSOLE)
    session.commit()
    auditor = signed_in(app, login, "aud_a")
    page = text(auditor.get("/objections"))
    assert "交售量少算了" in page and "核验合作社" in page and f"/s/{snap.code}" in page
    assert "交售量少算了" in text(auditor.get("/e/VO/objections"))
    assert "交售量少算了" not in text(signed_in(app, login, "aud_b").get("/objections"))
    assert "交售量少算了" in text(signed_in(app, login, "admin").get("/objections"))
    assert signed_in(app, login, "acc_v").get("/objections").status_code == 403
    assert signed_in(app, login, "mem_v1").get("/objections").status_code == 403
    before = (session.scalar(select(func.count(Receipt.id))), session.scalar(select(Household.pin_hash)
                                                                            .where(Household.code == "V1")))
    for path, data in ((f"/s/{snap.code}/confirm", {}), (f"/s/{snap.code}/object", {"line": "total", "text": "x"}),
                       ("/s/pin", {"phone": "13900000001", "pin": "123456"}), ("/s/leave", {}),
                       (f"/e/VO/runs/{run.id}/receipts", {"member": "V1", "amount": "1", "method": "bank",
                                                          "date": "2026-04-01"}),
                       (f"/e/VO/objections/{objection.id}/answer", {"answer": "ok"}),
                       ("/e/VO/households/V1/pin", {})):
        assert post_form(auditor, path, data, token_path="/objections").status_code == 403, path
    assert session.get(Objection, objection.id).status == "open" and snap_of(session, "V1").confirmed_at is None
    assert (session.scalar(select(func.count(Receipt.id))),
            session.scalar(select(Household.pin_hash).where(Household.code == "V1"))) == before
    page = text(auditor.get(f"/e/VO/runs/{run.id}/statements"))
    assert "王大山" in page and 'name="amount"' not in page                # no payment form for the auditor


# ----------------------------------------------------------------------------------------------- verify


def test_a_printed_statement_verifies_and_a_changed_amount_does_not(client, run, session):
    english(client)
    snap = snap_of(session, "V1")
    page = text(client.get(f"/verify/{snap.code}"))
    assert "王*山" in page and "王大山" not in page and "核验合作社" in page and "2025" in page
    assert by_id(page, "net") == "3,500.00" and "Matches the ledger" in by_id(page, "ledger")
    assert "in force" in by_id(page, "standing")
    assert verdicts(page) == [("ok", "verdict")] and by_id(page, "verdict").startswith("Valid")
    assert by_id(text(client.get(f"/verify/{snap.code}?amount=3500")), "amount-result").startswith("Match")
    assert by_id(text(client.get(f"/verify/{snap.code}?amount=￥3,500.00")), "amount-result").startswith("Match")
    changed = by_id(text(client.get(f"/verify/{snap.code}?amount=3600.00")), "amount-result")
    assert changed.startswith("No match")
    assert "Type the amount" in by_id(text(client.get(f"/verify/{snap.code}?amount=lots")), "amount-result")
    typed = client.get("/verify", query_string={"code": snap.code.lower().replace("-", " ")})
    assert typed.status_code == 302 and typed.headers["Location"] == f"/verify/{snap.code}"
    missing = client.get("/verify/ABCD-EFGH-JKMN")
    assert missing.status_code == 404 and "No statement or notice list has the code" in text(missing)
    notice = text(client.get(f"/verify/{run.notice_code}"))
    assert "Public notice list" in notice and by_id(notice, "net") == "10,000.00"


def test_a_reversed_run_verifies_as_superseded_by_its_correction(app, run, session, cli, login):
    snap = snap_of(session, "V1", run.id)
    client = english(app.test_client())
    result = cli("run", "reverse", str(run.id))
    assert result.exit_code == 0
    reversing = int(result.stdout.strip().rsplit(" ", 1)[1])
    page = text(client.get(f"/verify/{snap.code}"))
    assert f"Reversed by run {reversing}" in by_id(page, "standing")
    # the paper still matches the ledger, but one verdict only, and it is the bad one (never green above red)
    assert "Matches the ledger" in by_id(page, "ledger")
    assert verdicts(page) == [("bad", "verdict")] and by_id(page, "verdict").startswith("No longer valid")
    correction = distribute(cli)
    page = text(client.get(f"/verify/{snap.code}"))
    assert f"Superseded by run {correction}" in by_id(page, "standing")
    assert verdicts(page) == [("bad", "verdict")]
    member = signed_in(app, login, "mem_v1")
    assert member.get(f"/s/{snap.code}").status_code == 404                # a reversed run is no longer shown
    page = text(signed_in(app, login, "acc_v").get(f"/s/{snap.code}"))      # staff still read it, marked
    assert "This distribution was reversed" in page


# ------------------------------------------------------------------------------------------------- size


def test_household_pages_are_small(app, run, session, login):
    snap = snap_of(session, "V1")
    member = signed_in(app, login, "mem_v1")
    public = english(app.test_client())
    pages = {"statement": member.get(f"/s/{snap.code}"), "list": member.get("/my"), "pin": public.get("/s/pin"),
             "verify": public.get(f"/verify/{snap.code}?amount=3500")}
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert len(response.data) < MAX_PAGE_BYTES, (name, len(response.data))
        assert b"<script" not in response.data, name

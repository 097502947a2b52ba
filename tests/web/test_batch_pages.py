"""The bank batch pages: a run's batches and the next one's preview, a batch's file, the bank's return file, the
failures on the run's and the household's pages, the account corrected, and who may see and do what."""

from __future__ import annotations

import io
from urllib.parse import unquote

import openpyxl
import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.demo import bank_card
from cooperatives.models import Entity, Township
from cooperatives.users import create_user
from payouts.batches.operations import plan_batch
from payouts.models import PayoutBatch, PayoutBatchLine, PayoutRun, Receipt, StatementSnapshot

PASSWORD = "correct horse battery staple"
AUDITOR = ("aud_batch",)


@pytest.fixture
def owed(demo_world):
    """(entity, run) of a published demo run that still owes at least three households with valid accounts, its
    accountant ``acc_batch`` and another entity's accountant ``acc_other`` (whatever batches the demo made)."""
    s = demo_world
    for run in s.scalars(select(PayoutRun).where(PayoutRun.status == "published").order_by(PayoutRun.id)):
        if len(plan_batch(s, run).lines) >= 3:
            break
    else:
        pytest.skip("no published demo run owes three households")
    entity = s.get(Entity, run.entity_id)
    other = s.scalar(select(Entity).where(Entity.id != entity.id).order_by(Entity.id))
    create_user(s, username="acc_batch", password=PASSWORD, role="accountant", entity_id=entity.id, actor=CONSOLE)
    create_user(s, username="acc_other", password=PASSWORD, role="accountant", entity_id=other.id, actor=CONSOLE)
    create_user(s, username="aud_batch", password=PASSWORD, role="auditor", township_id=entity.township_id,
                actor=CONSOLE)
    s.commit()
    assert s.get(Township, entity.township_id) is not None
    return entity, run, other


def body_rows(data: bytes) -> list[tuple]:
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    return [r for r in rows[header + 1:] if isinstance(r[0], int)]


def return_file(rows: list[tuple], failed: int = 2, amount_off: bool = False) -> bytes:
    """The bank's return file of ``rows``: the first ``failed`` failed (户名与账号不符), the others paid."""
    out = openpyxl.Workbook()
    sheet = out.active
    sheet.append(["序号", "户名", "账号", "金额", "状态", "失败原因"])
    for n, r in enumerate(rows):
        amount = r[3] + 1 if amount_off and n == 0 else r[3]
        sheet.append([r[0], r[1], r[2], amount, "失败" if n < failed else "成功", "户名与账号不符" if n < failed else None])
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def _create(client, post_form, entity, run, **extra):
    path = f"/e/{entity.code}/runs/{run.id}/batches"
    response = post_form(client, path, {"layout": "generic", **extra})
    assert response.status_code == 302, response.data[:2000]
    assert "/batches/" in response.headers["Location"]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _download(client, csrf, entity, batch_id, fmt="xlsx"):
    token = csrf(client, f"/e/{entity.code}/batches/{batch_id}")
    return client.post(f"/e/{entity.code}/batches/{batch_id}/file",
                       data={"format": fmt, "reason": "银行代发", "csrf_token": token})


def _upload(client, csrf, entity, batch_id, data: bytes):
    token = csrf(client, f"/e/{entity.code}/batches/{batch_id}")
    return client.post(f"/e/{entity.code}/batches/{batch_id}/results", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), "back.xlsx"), "paid_on": "2026-04-02", "csrf_token": token})


def test_a_batch_from_preview_to_the_second_batch(client, login, post_form, csrf, owed, demo_world):
    entity, run, _other = owed
    s = demo_world
    plan = plan_batch(s, run)
    assert login(client, "acc_batch").status_code == 302
    page = client.get(f"/e/{entity.code}/runs/{run.id}/batches")
    assert page.status_code == 200
    assert 'id="plan-summary"' in page.text and str(len(plan.lines)) in page.text and 'id="create"' in page.text

    batch_id = _create(client, post_form, entity, run)
    batch = s.get(PayoutBatch, batch_id)
    assert batch.count == len(plan.lines) and batch.status == "created"
    shown = client.get(f"/e/{entity.code}/batches/{batch_id}")
    assert shown.status_code == 200 and f"代发第{batch.number}批" in shown.text and 'value="银行代发"' in shown.text

    response = _download(client, csrf, entity, batch_id)
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert "attachment" in disposition and "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"{entity.code}-{run.year}-代发第{batch.number}批.xlsx"
    rows = body_rows(response.data)
    assert len(rows) == batch.count

    receipts = s.scalar(select(func.count(Receipt.id)))
    back = return_file(rows)
    response = _upload(client, csrf, entity, batch_id, back)
    assert response.status_code == 302
    s.expire_all()
    assert s.scalar(select(func.count(Receipt.id))) == receipts + batch.count - 2
    failed = s.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch_id,
                                                     PayoutBatchLine.status == "failed")
                       .order_by(PayoutBatchLine.seq)).all()
    assert len(failed) == 2
    shown = client.get(f"/e/{entity.code}/batches/{batch_id}")
    assert "户名与账号不符" in shown.text and f"/e/{entity.code}/members/{failed[0].member_code}" in shown.text
    again = _upload(client, csrf, entity, batch_id, back)      # the same file: nothing changes
    assert again.status_code == 302
    assert s.scalar(select(func.count(Receipt.id))) == receipts + batch.count - 2

    statements = client.get(f"/e/{entity.code}/runs/{run.id}/statements")
    assert statements.status_code == 200 and f"/e/{entity.code}/runs/{run.id}/batches" in statements.text
    snap = s.get(StatementSnapshot, failed[0].statement_id)
    if "户名与账号不符" not in statements.text:       # the failed household may be on a later page of the run
        page = (snap.content["member"]["member_no"] - 1) // 50 + 1
        statements = client.get(f"/e/{entity.code}/runs/{run.id}/statements?page={page}")
    assert "户名与账号不符" in statements.text
    household_page = client.get(f"/s/{snap.code}")
    assert household_page.status_code == 200
    assert 'id="payment-failed"' in household_page.text and "户名与账号不符" in household_page.text

    member_page = f"/e/{entity.code}/members/{failed[0].member_code}"
    assert 'id="account"' in client.get(member_page).text
    refused = post_form(client, f"{member_page}/account", {"bank_account": "123"}, token_path=member_page)
    assert refused.status_code == 422
    corrected = post_form(client, f"{member_page}/account", {"bank_account": bank_card(4455667788991)},
                          token_path=member_page)
    assert corrected.status_code == 302

    second = _create(client, post_form, entity, run)
    lines = s.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == second)).all()
    sent = [ln for ln in lines if ln.seq is not None]
    assert [ln.statement_id for ln in sent] == [failed[0].statement_id]
    assert {ln.reason for ln in lines if ln.statement_id == failed[1].statement_id} == {"not_corrected"}
    s.expire_all()
    assert failed[0].statement_id not in {p.statement_id for p in plan_batch(s, run).lines}


def test_a_refused_return_file_shows_its_problems_and_posts_nothing(client, login, post_form, csrf, owed,
                                                                      demo_world):
    entity, run, _other = owed
    s = demo_world
    login(client, "acc_batch")
    batch_id = _create(client, post_form, entity, run)
    rows = body_rows(_download(client, csrf, entity, batch_id).data)
    receipts = s.scalar(select(func.count(Receipt.id)))
    response = _upload(client, csrf, entity, batch_id, return_file(rows, amount_off=True))
    assert response.status_code == 422
    assert 'id="file-problems"' in response.text and "金额" in response.text and "back.xlsx" in response.text
    s.expire_all()
    assert s.scalar(select(func.count(Receipt.id))) == receipts
    assert s.get(PayoutBatch, batch_id).status == "created"
    nothing = client.post(f"/e/{entity.code}/batches/{batch_id}/results", content_type="multipart/form-data",
                          data={"csrf_token": csrf(client, f"/e/{entity.code}/batches/{batch_id}")})
    assert nothing.status_code == 422
    cancel = post_form(client, f"/e/{entity.code}/batches/{batch_id}/cancel", {},
                       token_path=f"/e/{entity.code}/batches/{batch_id}")
    assert cancel.status_code == 422 and s.get(PayoutBatch, batch_id).status == "created"
    cancel = post_form(client, f"/e/{entity.code}/batches/{batch_id}/cancel", {"confirm": "yes"},
                       token_path=f"/e/{entity.code}/batches/{batch_id}")
    assert cancel.status_code == 302
    s.expire_all()
    assert s.get(PayoutBatch, batch_id).status == "cancelled"
    again = post_form(client, f"/e/{entity.code}/batches/{batch_id}/sent", {},
                      token_path=f"/e/{entity.code}/batches/{batch_id}")
    assert again.status_code == 409


def test_the_auditor_reads_and_writes_nothing_and_another_entity_sees_nothing(app, client, login, post_form, csrf,
                                                                             owed, demo_world):
    entity, run, other = owed
    s = demo_world
    login(client, "acc_batch")
    batch_id = _create(client, post_form, entity, run)
    rows = body_rows(_download(client, csrf, entity, batch_id).data)
    assert _upload(client, csrf, entity, batch_id, return_file(rows)).status_code == 302
    failed = s.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch_id,
                                                     PayoutBatchLine.status == "failed")).all()

    auditor = app.test_client()
    assert login(auditor, *AUDITOR).status_code == 302
    township = auditor.get("/batches")
    assert township.status_code == 200
    assert f"/e/{entity.code}/batches/{batch_id}" in township.text and "户名与账号不符" in township.text
    assert all(ln.name not in township.text for ln in failed if len(ln.name) > 1)      # names are masked
    page = auditor.get(f"/e/{entity.code}/batches/{batch_id}")
    assert page.status_code == 200 and 'id="actions"' not in page.text
    assert 'id="create"' not in auditor.get(f"/e/{entity.code}/runs/{run.id}/batches").text
    token = csrf(auditor, "/batches")
    for path in (f"/e/{entity.code}/runs/{run.id}/batches", *(f"/e/{entity.code}/batches/{batch_id}/{action}" for
                 action in ("file", "sent", "results", "close", "cancel", "sms"))):
        assert auditor.post(path, data={"csrf_token": token, "format": "xlsx", "reason": "x"}).status_code == 403

    stranger = app.test_client()
    assert login(stranger, "acc_other").status_code == 302
    assert stranger.get(f"/e/{entity.code}/batches/{batch_id}").status_code == 404
    assert stranger.get(f"/e/{other.code}/batches/{batch_id}").status_code == 404
    assert stranger.get(f"/e/{other.code}/runs/{run.id}/batches").status_code == 404
    assert stranger.get("/batches").status_code == 403
    token = csrf(stranger, f"/e/{other.code}/")
    assert stranger.post(f"/e/{other.code}/batches/{batch_id}/file",
                         data={"csrf_token": token, "format": "xlsx", "reason": "x"}).status_code == 404

"""Bank batches in the JSON API: create, read (masked accounts only), the file, sent, the bank's results, close,
cancel, texts; 409 for the wrong state, 422 for a refused file, 403 for the auditor's writes, 404 out of scope."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity, User
from cooperatives.users import create_user, issue_token
from payouts.batches.operations import plan_batch
from payouts.models import PayoutRun

PASSWORD = "correct horse battery staple"


@pytest.fixture
def tokens(demo_world):
    s = demo_world
    for run in s.scalars(select(PayoutRun).where(PayoutRun.status == "published").order_by(PayoutRun.id)):
        if len(plan_batch(s, run).lines) >= 3:
            break
    else:
        pytest.skip("no published demo run owes three households")
    entity = s.get(Entity, run.entity_id)
    other = s.scalar(select(Entity).where(Entity.id != entity.id).order_by(Entity.id))
    users = {"acc": create_user(s, username="api_acc", password=PASSWORD, role="accountant", entity_id=entity.id,
                                actor=CONSOLE),
             "other": create_user(s, username="api_other", password=PASSWORD, role="accountant", entity_id=other.id,
                                  actor=CONSOLE),
             "aud": create_user(s, username="api_aud", password=PASSWORD, role="auditor",
                                township_id=entity.township_id, actor=CONSOLE)}
    s.commit()
    out = {k: {"Authorization": f"Bearer {issue_token(s, s.get(User, u.id), 't', actor=CONSOLE)}"}
           for k, u in users.items()}
    s.commit()
    return run, out


def test_the_api_flow(client, tokens):
    run, auth = tokens
    assert client.get(f"/api/v1/runs/{run.id}/batches", headers=auth["acc"]).status_code == 200
    made = client.post(f"/api/v1/runs/{run.id}/batches", json={"layout": "generic"}, headers=auth["acc"])
    assert made.status_code == 201, made.get_json()
    batch = made.get_json()
    assert batch["status"] == "created" and batch["count"] >= 3
    sent_lines = [ln for ln in batch["lines"] if ln["seq"] is not None]
    assert len(sent_lines) == batch["count"]
    assert all(ln["account"] is None or "*" in ln["account"] for ln in batch["lines"])
    bid = batch["batch"]
    assert client.post(f"/api/v1/runs/{run.id}/batches", json={"layout": "nope"}, headers=auth["acc"]).status_code == 422
    listed = client.get(f"/api/v1/runs/{run.id}/batches", headers=auth["aud"])
    assert listed.status_code == 200 and bid in [b["batch"] for b in listed.get_json()]
    assert client.get(f"/api/v1/batches/{bid}", headers=auth["aud"]).status_code == 200
    assert client.get(f"/api/v1/batches/{bid}", headers=auth["other"]).status_code == 404
    for action in ("sent", "close", "cancel", "sms"):
        assert client.post(f"/api/v1/batches/{bid}/{action}", json={}, headers=auth["aud"]).status_code == 403
        assert client.post(f"/api/v1/batches/{bid}/{action}", json={}, headers=auth["other"]).status_code == 404
    assert client.post(f"/api/v1/runs/{run.id}/batches", json={}, headers=auth["aud"]).status_code == 403

    assert client.post(f"/api/v1/batches/{bid}/file", json={"format": "pdf", "reason": "x"},
                       headers=auth["acc"]).status_code == 422
    file = client.post(f"/api/v1/batches/{bid}/file", json={"format": "xlsx", "reason": "银行代发"}, headers=auth["acc"])
    assert file.status_code == 200 and "filename*=UTF-8''" in file.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(file.data)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    body = [r for r in rows[header + 1:] if isinstance(r[0], int)]
    assert client.post(f"/api/v1/batches/{bid}/close", headers=auth["acc"]).status_code == 409
    sent = client.post(f"/api/v1/batches/{bid}/sent", json={"on": "2026-04-01"}, headers=auth["acc"])
    assert sent.status_code == 200 and sent.get_json()["sent_on"] == "2026-04-01"

    def back(off: bool) -> bytes:
        wb = openpyxl.Workbook()
        sheet = wb.active
        sheet.append(["序号", "户名", "账号", "金额", "状态", "失败原因"])
        for n, r in enumerate(body):
            sheet.append([r[0], r[1], r[2], r[3] + (1 if off and n == 0 else 0), "失败" if n < 1 else "成功",
                          "账户已销户" if n < 1 else None])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    refused = client.post(f"/api/v1/batches/{bid}/results", headers=auth["acc"], content_type="multipart/form-data",
                          data={"file": (io.BytesIO(back(True)), "back.xlsx")})
    assert refused.status_code == 422
    assert any(p["column"] == "金额" for p in refused.get_json()["problems"])
    good = back(False)
    read = client.post(f"/api/v1/batches/{bid}/results", headers=auth["acc"], content_type="multipart/form-data",
                       data={"file": (io.BytesIO(good), "back.xlsx"), "on": "2026-04-02"})
    assert read.status_code == 200, read.get_json()
    out = read.get_json()
    assert out["results"]["failed"] == 1 and out["results"]["paid"] == batch["count"] - 1
    assert out["status"] == "results_in" and out["paid_on"] == "2026-04-02"
    assert [ln["reason"] for ln in out["lines"] if ln["status"] == "failed"] == ["账户已销户"]
    again = client.post(f"/api/v1/batches/{bid}/results", headers=auth["acc"], content_type="multipart/form-data",
                        data={"file": (io.BytesIO(good), "back.xlsx")})
    assert again.status_code == 200 and again.get_json()["results"]["already"] is True
    sms = client.post(f"/api/v1/batches/{bid}/sms", headers=auth["acc"])
    assert sms.status_code == 200 and sms.data.startswith("\ufeffphone,text".encode())
    closed = client.post(f"/api/v1/batches/{bid}/close", headers=auth["acc"])
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert client.post(f"/api/v1/batches/{bid}/cancel", headers=auth["acc"]).status_code == 409


def test_a_batch_file_sent_again_with_its_idempotency_key_is_made_again_never_stored(client, tokens, demo_world):
    """A script retrying a download with the same Idempotency-Key gets the file again (and the reveal is logged
    again): a file of full account numbers is never kept for replay in the database."""
    from cooperatives.models import AuditLog, IdempotencyKey

    run, auth = tokens
    bid = client.post(f"/api/v1/runs/{run.id}/batches", json={}, headers=auth["acc"]).get_json()["batch"]
    headers = {**auth["acc"], "Idempotency-Key": "download-1"}
    first = client.post(f"/api/v1/batches/{bid}/file", json={"format": "csv", "reason": "银行代发"}, headers=headers)
    again = client.post(f"/api/v1/batches/{bid}/file", json={"format": "csv", "reason": "银行代发"}, headers=headers)
    assert first.status_code == again.status_code == 200 and first.data == again.data
    assert "Idempotent-Replayed" not in again.headers
    s = demo_world
    assert s.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "download-1")) is None
    reveals = s.scalars(select(AuditLog).where(AuditLog.action == "reveal", AuditLog.target == f"batch:{bid}")).all()
    assert len(reveals) == 2

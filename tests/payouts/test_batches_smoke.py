"""Smoke: the batch core on the demo world (the lead's; the full tests are in test_batches.py)."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
from sqlalchemy import select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity
from payouts.batches.operations import batch_file, create_batch, plan_batch, read_results
from payouts.models import PayoutBatchLine, PayoutRun


def test_export_and_results(demo_world):
    s = demo_world
    # the land-share cooperative's run: the demo has paid the tea cooperative's through the bank already
    land = s.scalar(select(Entity).where(Entity.code == "WX-LAND"))
    run = s.scalar(select(PayoutRun).where(PayoutRun.entity_id == land.id, PayoutRun.status == "published"))
    plan = plan_batch(s, run)
    assert plan.lines
    batch = create_batch(s, run, actor=CONSOLE)
    data = batch_file(s, batch, fmt="xlsx", reason="test", actor=CONSOLE)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    rows = [r for r in ws.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    body = [r for r in rows[header + 1:] if isinstance(r[0], int)]
    assert len(body) == batch.count
    out = openpyxl.Workbook()
    sheet = out.active
    sheet.append(["序号", "户名", "账号", "金额", "状态", "失败原因"])
    for n, r in enumerate(body):
        sheet.append([r[0], r[1], r[2], r[3], "失败" if n < 2 else "成功", "户名与账号不符" if n < 2 else None])
    buf = io.BytesIO()
    out.save(buf)
    res = read_results(s, batch, buf.getvalue(), "back.xlsx", actor=CONSOLE)
    assert res.failed == 2 and res.paid == batch.count - 2
    again = read_results(s, batch, buf.getvalue(), "back.xlsx", actor=CONSOLE)
    assert again.already
    failed = s.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id,
                                                     PayoutBatchLine.status == "failed")).all()
    assert len(failed) == 2 and sum((f.amount for f in failed), Decimal(0)) == res.failed_total
    plan2 = plan_batch(s, run)
    assert not plan2.lines and {p.reason for p in plan2.apart} >= {"not_corrected"}

"""The bank batch commands (``coopledger payouts …``, INTERFACES §2) on the demo world's land-share cooperative: the
batch file by FILE's suffix, the bank's return file (a tampered one refused whole, naming every row; the same one
twice changes nothing), the batch's state, the texts, the list of a run's batches, and the households left apart
with their reasons in the command line's language."""

from __future__ import annotations

import json
from decimal import Decimal

import openpyxl
from sqlalchemy import select

from cooperatives.models import AuditLog, Entity, Member
from payouts.models import PayoutBatch, PayoutBatchLine, PayoutMember, PayoutRun, Receipt

D = Decimal


def _land_run(session) -> PayoutRun:
    land = session.scalar(select(Entity).where(Entity.code == "WX-LAND"))
    return session.scalar(select(PayoutRun).where(PayoutRun.entity_id == land.id, PayoutRun.status == "published"))


def _body(path) -> list[tuple]:
    rows = list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True))
    header = next(n for n, r in enumerate(rows) if r and r[0] == "序号")
    return [r for r in rows[header + 1:] if isinstance(r[0], int)]


def _return_file(path, out, failed: dict[int, str], *, amount_of: dict[int, D] | None = None):
    """The bank's return file of the batch file at ``path``: 成功 but for the 序号 of ``failed`` (失败, reason);
    ``amount_of`` changes the amount of some lines (a tampered file)."""
    book = openpyxl.Workbook()
    book.active.append(["序号", "户名", "账号", "金额", "状态", "失败原因"])
    for seq, name, account, amount, *_ in _body(path):
        book.active.append([seq, name, account, (amount_of or {}).get(seq, amount), "失败" if seq in failed else "成功",
                            failed.get(seq)])
    book.save(out)
    return out


def _batch_id(output: str) -> int:
    return int(output.split()[1])


def test_export_results_and_the_batch_states(demo_world, cli, tmp_path):
    session = demo_world
    run = _land_run(session)
    owed = {m.code: m.net - m.paid for m in session.scalars(select(PayoutMember).where(PayoutMember.run_id == run.id))}

    # the format comes from FILE's suffix; anything else is a usage error and makes no batch
    bad = cli("payouts", "export", "--run", str(run.id), "--out", str(tmp_path / "batch.txt"))
    assert bad.exit_code == 2 and ".xlsx or .csv" in bad.output
    assert session.scalar(select(PayoutBatch.id).where(PayoutBatch.run_id == run.id)) is None

    out = tmp_path / "batch.xlsx"
    done = cli("payouts", "export", "--run", str(run.id), "--out", str(out))
    assert done.exit_code == 0, done.output
    batch_id = _batch_id(done.output)
    batch = session.get(PayoutBatch, batch_id)
    total = sum(owed.values(), D(0))
    assert f"第{batch.number}批" in done.output and f"{len(owed)} households, {total:.2f} yuan" in done.output
    assert "listed apart" not in done.output
    body = _body(out)
    assert len(body) == batch.count == len(owed) and sum((D(str(r[3])) for r in body), D(0)) == total
    # the reveal is logged with the default reason
    reasons = session.scalars(select(AuditLog.detail).where(AuditLog.action == "reveal",
                                                            AuditLog.target == f"batch:{batch_id}")).all()
    assert reasons == [f"bank_account ×{len(owed)} (xlsx): 银行代发 第{batch.number}批"]

    # every household is in the open batch: a second export is refused, exit 1, the reason on stderr
    again = cli("payouts", "export", "--run", str(run.id), "--out", str(tmp_path / "again.csv"))
    assert again.exit_code == 1 and "No household can go in a batch" in again.stderr
    assert not (tmp_path / "again.csv").exists()

    sent = cli("payouts", "sent", "--batch", str(batch_id), "--on", "2026-04-01")
    assert sent.exit_code == 0 and "sent" in sent.output
    batch = session.get(PayoutBatch, batch_id)
    assert batch.status == "sent" and str(batch.sent_on) == "2026-04-01"
    assert cli("payouts", "sent", "--batch", str(batch_id)).exit_code == 1          # sent already

    # a tampered return file (two amounts changed) is refused whole, every row named, nothing posted
    tampered = _return_file(out, tmp_path / "tampered.xlsx", {}, amount_of={2: D("1.00"), 5: D("2.00")})
    refused = cli("payouts", "results", "--batch", str(batch_id), str(tampered))
    assert refused.exit_code == 1
    problems = refused.stderr.splitlines()
    assert [line.split(":")[:3] for line in problems] == [["tampered.xlsx", "3", "金额"], ["tampered.xlsx", "6", "金额"],
                                                          ["tampered.xlsx", "0", ""], ["tampered.xlsx", "0", ""]]
    assert "Line 2 of the batch" in problems[0] and "has no row in the return file" in problems[2]
    assert session.scalar(select(Receipt.id).where(Receipt.run_id == run.id)) is None
    batch = session.get(PayoutBatch, batch_id)
    assert batch.status == "sent"

    back = _return_file(out, tmp_path / "back.xlsx", {1: "户名与账号不符", 3: "账户已销户"})
    read = cli("payouts", "results", "--batch", str(batch_id), str(back), "--on", "2026-04-03")
    assert read.exit_code == 0, read.stderr
    failed_total = D(str(body[0][3])) + D(str(body[2][3]))
    assert read.output.strip() == (f"batch {batch_id}: {len(owed) - 2} paid, {total - failed_total:.2f} yuan; "
                                   f"2 failed, {failed_total:.2f} yuan")
    twice = cli("payouts", "results", "--batch", str(batch_id), str(back))
    assert twice.exit_code == 0 and "already read: nothing changed" in twice.output
    assert len(session.scalars(select(Receipt.id).where(Receipt.run_id == run.id)).all()) == len(owed) - 2

    listed = cli("payouts", "batches", "--run", str(run.id), "--json")
    assert listed.exit_code == 0
    [row] = json.loads(listed.output)["batches"]
    assert row["status"] == "results_in" and row["paid_count"] == len(owed) - 2 and row["failed_count"] == 2
    assert row["failed_total"] == f"{failed_total:.2f}" and row["sent_on"] == "2026-04-01"
    assert row["paid_on"] == "2026-04-03"
    assert "results_in" in cli("payouts", "batches", "--run", str(run.id)).output

    assert cli("payouts", "cancel", "--batch", str(batch_id)).exit_code == 1        # the bank paid: not cancelled
    closed = cli("payouts", "close", "--batch", str(batch_id))
    assert closed.exit_code == 0 and "closed" in closed.output

    # the failures are not in the next batch until corrected: refused, then with --retry-uncorrected a batch of two
    empty = cli("payouts", "export", "--run", str(run.id), "--out", str(tmp_path / "b2.csv"))
    assert empty.exit_code == 1 and not (tmp_path / "b2.csv").exists()
    retry = cli("payouts", "export", "--run", str(run.id), "--out", str(tmp_path / "b2.csv"), "--layout", "rcb",
                "--retry-uncorrected", "--reason", "重新代发")
    assert retry.exit_code == 0, retry.stderr
    second_id = _batch_id(retry.output)
    second = session.get(PayoutBatch, second_id)
    assert second.count == 2 and second.layout == "rcb" and (tmp_path / "b2.csv").read_bytes()
    cancelled = cli("payouts", "cancel", "--batch", str(second_id))
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output


def test_households_left_apart_are_listed_with_their_reason_in_the_commands_language(demo_world, cli, app, tmp_path):
    from cooperatives.access import CONSOLE
    from cooperatives.demo import bank_card
    from cooperatives.operations import correct_account
    from ledger.i18n import translations_for
    from payouts.batches.operations import apart_reason

    session = demo_world
    run = _land_run(session)
    out = tmp_path / "b1.xlsx"
    run_id = run.id
    first = _batch_id(cli("payouts", "export", "--run", str(run_id), "--out", str(out)).output)
    assert cli("payouts", "sent", "--batch", str(first)).exit_code == 0
    back = _return_file(out, tmp_path / "back.xlsx", {1: "户名与账号不符", 2: "账户已销户"})
    assert cli("payouts", "results", "--batch", str(first), str(back)).exit_code == 0
    lines = {ln.seq: (ln.member_id, ln.member_code, ln.name, ln.amount)
             for ln in session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == first))}
    member = session.get(Member, lines[1][0])
    correct_account(session, session.get(Entity, member.entity_id), member, bank_account=bank_card(10**11 + 41),
                    actor=CONSOLE)
    session.commit()

    done = cli("payouts", "export", "--run", str(run_id), "--out", str(tmp_path / "b2.csv"))
    assert done.exit_code == 0, done.stderr
    assert "1 households" in done.output and "listed apart (1):" in done.output
    _id, code, name, amount = lines[2]
    assert f"  {code} {name} {amount:.2f}: An earlier batch failed to pay it" in done.output

    # in Chinese (COOP_LANG's default): the same reason, translated (batch 2 cancelled, made again)
    cancel = cli("payouts", "cancel", "--batch", str(_batch_id(done.output)))
    assert cancel.exit_code == 0
    runner = app.test_cli_runner()
    chinese = runner.invoke(args=["payouts", "export", "--run", str(run_id), "--out", str(tmp_path / "b3.csv")],
                            env={"COOP_LANG": "zh_Hans_CN"}, catch_exceptions=False)
    assert chinese.exit_code == 0, chinese.output
    [line] = session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == _batch_id(chinese.output),
                                                           PayoutBatchLine.seq.is_(None))).all()
    zh = apart_reason(line, translations_for("zh_Hans_CN"))
    assert zh != apart_reason(line) and f"{line.member_code} {line.name} {line.amount:.2f}: {zh}" in chinese.output


def test_texts_for_the_sms_platform_and_unknown_batches(demo_world, cli, tmp_path):
    session = demo_world
    run_id = _land_run(session).id
    batch_id = _batch_id(cli("payouts", "export", "--run", str(run_id), "--out", str(tmp_path / "b.csv")).output)
    assert cli("payouts", "sms", "--batch", str(batch_id), "--out", str(tmp_path / "texts.txt")).exit_code == 2
    texts = cli("payouts", "sms", "--batch", str(batch_id), "--out", str(tmp_path / "texts.csv"))
    assert texts.exit_code == 0, texts.stderr
    rows = (tmp_path / "texts.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "phone,text" and len(rows) == 41 and "40 texts" in texts.output
    assert "0 households without a phone" in texts.output
    for command in (("results", "--batch", "999999", str(tmp_path / "b.csv")), ("sent", "--batch", "999999"),
                    ("close", "--batch", "999999"), ("cancel", "--batch", "999999")):
        missing = cli("payouts", *command)
        assert missing.exit_code == 1 and "no batch 999999" in missing.output
    nothing = cli("payouts", "batches", "--run", str(run_id + 1000))
    assert nothing.exit_code == 1 and f"no run {run_id + 1000}" in nothing.output
    tea = session.scalar(select(Entity).where(Entity.code == "JGP-TEA"))
    tea_run = session.scalar(select(PayoutRun).where(PayoutRun.entity_id == tea.id))
    listed = json.loads(cli("payouts", "batches", "--run", str(tea_run.id), "--json").output)["batches"]
    assert [(b["number"], b["status"], b["count"], b["paid_count"], b["failed_count"]) for b in listed] == [
        (1, "results_in", 80, 78, 2), (2, "closed", 1, 1, 0)]

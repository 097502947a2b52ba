"""Bank batches (issue 17), acceptance: export → the bank's results → the books; re-export of the failures; a
tampered or second return file; a household in an open batch; the reveal and its log; who is listed apart and
why; the batch file of the demo's largest run; the texts to the households' phones. Both databases.

Most tests run on a small world of their own (:func:`build_world`: ten households through the real import and a
run approved, posted and published through the operations), so that what is owed is known whatever the demo
pays; the batch file of the demo's largest run is checked on the demo world. Two processes reading one return file
at once: tests/payouts/test_batch_concurrency.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.demo import bank_card
from cooperatives.importer import import_path
from cooperatives.models import AuditLog, Entity, Member
from cooperatives.operations import correct_account
from ledger.chart import account_for_role
from ledger.i18n import format_money
from ledger.models import JournalEntry, Posting
from ledger.queries import account_balance, get_book, party_balances
from payouts.batches.operations import (
    BatchError,
    batch_file,
    cancel_batch,
    create_batch,
    mark_sent,
    plan_batch,
    read_results,
    sms_file,
)
from payouts.models import (
    IN_FORCE,
    PayoutBatch,
    PayoutBatchLine,
    PayoutMember,
    PayoutRun,
    Receipt,
    SmsExport,
    StatementSnapshot,
)
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
from payouts.runs.policy import parse_policy
from payouts.statements.operations import StatementError, record_receipt

D = Decimal
CODE = "BQ"
PAID_ON = dt.date(2026, 4, 10)
POLICY = {"pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                    {"name": "residual", "pct": "40", "basis": "capital"}]}


def card(n: int) -> str:
    """A made-up 19-digit card number passing its Luhn check digit."""
    return bank_card(100_000_000_000 + n)


def bad_card(n: int) -> str:
    number = card(n)
    return number[:-1] + str((int(number[-1]) + 1) % 10)


#: (code, head, phone, account, left_on): six households the bank can pay (Q4 without a phone), then one whose
#: card fails its check digit, one without an account, one whose membership is closed, one paid by hand
HOUSEHOLDS = [
    ("Q01", "王大山", "13900000001", card(1), None),
    ("Q02", "李秀英", "13900000002", card(2), None),
    ("Q03", "张三丰", "13900000003", card(3), None),
    ("Q04", "赵四海", None, card(4), None),
    ("Q05", "钱五福", "13900000005", card(5), None),
    ("Q06", "孙六顺", "13900000006", card(6), None),
    ("Q07", "周七巧", "13900000007", bad_card(7), None),
    ("Q08", "吴八方", "13900000008", None, None),
    ("Q09", "郑九龄", "13900000009", card(9), "2025-12-31"),
    ("Q10", "冯十全", "13900000010", card(10), None),
]
BY_HAND = "Q10"


def write_workbook(folder: Path, code: str = CODE, households=HOUSEHOLDS) -> Path:
    """The world's import workbook as a CSV folder (INTERFACES §3)."""
    folder.mkdir(parents=True, exist_ok=True)

    def write(name, header, rows):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(header)
            out.writerows(rows)

    write("entity", ["code", "name", "kind", "township"], [[code, "批次合作社", "farmer_coop", "测试乡"]])
    write("households", ["code", "head_name", "village", "phone", "bank_account", "confirm"],
          [[c, head, "一村", phone or "", account or "", "是"] for c, head, phone, account, _ in households])
    write("members", ["member", "member_no", "joined_on", "left_on"],
          [[c, n, "2020-01-01", left or ""] for n, (c, *_rest, left) in enumerate(households, 1)])
    write("capital", ["date", "member", "amount"], [["2025-01-01", c, str(1000 * n)]
                                                    for n, (c, *_rest) in enumerate(households, 1)])
    write("deliveries", ["date", "member", "product", "quantity", "unit", "unit_price", "paid_by"],
          [["2025-05-01", c, "茶", str(100 + 37 * n), "kg", "10.3", "bank"]
           for n, (c, *_rest) in enumerate(households, 1)])
    write("sales", ["date", "buyer", "product", "amount"], [["2025-09-01", "茶企", "干茶", "123456.78"]])
    return folder


def build_world(session, folder: Path, code: str = CODE) -> PayoutRun:
    """Import the world, distribute its 2025, approve, post and publish the run; pay ``BY_HAND`` in full by
    hand. Flushes only."""
    import_path(session, write_workbook(folder, code), actor=CONSOLE)
    entity = session.scalar(select(Entity).where(Entity.code == code))
    version = save_policy(session, entity, parse_policy(POLICY), actor=CONSOLE)
    run = create_run(session, entity, 2025, policy_version=version, actor=CONSOLE)
    approve_run(session, run, meeting_date=dt.date(2026, 3, 1), attended=len(HOUSEHOLDS),
                votes_for=len(HOUSEHOLDS), actor=CONSOLE)
    assert post_run(session, run, actor=CONSOLE)
    publish_run(session, run, today=dt.date(2026, 3, 5), actor=CONSOLE)
    hand = snap_of(session, run, BY_HAND)
    record_receipt(session, hand, amount=D(hand.content["net"]), method="bank", on=dt.date(2026, 3, 20),
                   reference="柜面转账", actor=CONSOLE)
    session.flush()
    return run


def snap_of(session, run: PayoutRun, code: str) -> StatementSnapshot:
    return session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id,
                                                          StatementSnapshot.member_code == code))


def owed_by_member(session, run: PayoutRun) -> dict[str, Decimal]:
    return {code: net - paid for code, net, paid in session.execute(
        select(PayoutMember.code, PayoutMember.net, PayoutMember.paid).where(PayoutMember.run_id == run.id))}


def body_of(data: bytes) -> list[tuple]:
    """The payment rows (序号, 户名, 账号, 金额, 附言) of a generic-layout xlsx batch file."""
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    return [r for r in rows[header + 1:] if isinstance(r[0], int)]


def return_file(rows, *, failed: dict[int, str] | None = None, seq: bool = True) -> bytes:
    """The bank's return file (xlsx) answering ``rows`` (序号, 户名, 账号, 金额, ...): 成功 but for the 序号 in
    ``failed`` (失败, with the reason). Header on row 1, so row ``i`` of ``rows`` is the file's row ``i + 2``."""
    failed = failed or {}
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append((["序号"] if seq else []) + ["户名", "账号", "金额", "状态", "失败原因"])
    for r in rows:
        sheet.append(([r[0]] if seq else []) + [r[1], r[2], r[3], "失败" if r[0] in failed else "成功",
                                                failed.get(r[0])])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@pytest.fixture
def run(session, app, tmp_path):                  # ``app`` configures the keys that encrypt bank numbers
    return build_world(session, tmp_path / "world")


def books_state(session, run):
    """What a refused file must leave as it was."""
    return (session.scalar(select(func.count(JournalEntry.id))), session.scalar(select(func.count(Receipt.id))),
            sorted(owed_by_member(session, run).items()),
            sorted(session.execute(select(PayoutBatch.id, PayoutBatch.status, PayoutBatch.results_digest,
                                          PayoutBatch.paid_count)).all()),
            sorted(session.execute(select(PayoutBatchLine.id, PayoutBatchLine.status, PayoutBatchLine.reason)).all()))


def patronage_net(snap: StatementSnapshot) -> Decimal:
    """What of the household's net the run owes it on 221 (patronage payable): its patronage lines net of its
    deductions (the rest is 222)."""
    data = snap.content
    returns = {p["name"] for p in data["policy_pools"] if p.get("patronage", p["basis"] == "transactions")}
    patronage = sum((D(ln["amount"]) for ln in data["lines"] if ln["pool"] in returns), D(0))
    return max(patronage - D(data["deductions_total"]), D(0))


def assert_books_say_what_is_owed(session, run):
    """221 and 222, member by member, hold exactly what the run still owes (net - paid): the patronage part
    first paid off, then the residual."""
    entity = session.get(Entity, run.entity_id)
    book = get_book(session, entity.code)
    b221 = party_balances(session, book, account_for_role(entity.chart, "patronage_payable"))
    b222 = party_balances(session, book, account_for_role(entity.chart, "residual_payable"))
    owed = owed_by_member(session, run)
    for code, still in owed.items():
        snap = snap_of(session, run, code)
        paid = D(snap.content["net"]) - still
        on_221 = max(patronage_net(snap) - paid, D(0))
        assert -b221.get(code, D(0)) == on_221, code
        assert -b222.get(code, D(0)) == still - on_221, code
    assert set(b221) | set(b222) <= set(owed)
    assert -(sum(b221.values(), D(0)) + sum(b222.values(), D(0))) == sum(owed.values(), D(0))


# ---------------------------------------------------------------------------------- 1. export → results


def test_results_post_each_success_once_and_the_books_say_what_is_still_owed(session, run):
    entity = session.get(Entity, run.entity_id)
    book = get_book(session, entity.code)
    bank = account_for_role(entity.chart, "bank")
    statements_before = sorted(session.execute(select(StatementSnapshot.id, StatementSnapshot.data)
                                               .where(StatementSnapshot.run_id == run.id)).all())
    bank_before = account_balance(session, book, bank)
    owed_before = owed_by_member(session, run)
    assert_books_say_what_is_owed(session, run)

    batch = create_batch(session, run, actor=CONSOLE)
    lines = {ln.seq: ln for ln in session.scalars(select(PayoutBatchLine).where(
        PayoutBatchLine.batch_id == batch.id, PayoutBatchLine.seq.is_not(None)))}
    assert batch.count == len(lines) == 6 and batch.total == sum((ln.amount for ln in lines.values()), D(0))
    body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    assert [r[0] for r in body] == sorted(lines)
    mark_sent(session, batch, on=dt.date(2026, 4, 8), actor=CONSOLE)
    failed = {2: "户名与账号不符", 5: "账户已销户"}
    res = read_results(session, batch, return_file(body, failed=failed), "回盘.xlsx", on=PAID_ON, actor=CONSOLE)

    paid_lines = [ln for seq, ln in lines.items() if seq not in failed]
    assert (res.paid, res.failed, res.already) == (4, 2, False)
    assert res.paid_total == sum((ln.amount for ln in paid_lines), D(0))
    assert res.failed_total == sum((lines[s].amount for s in failed), D(0))
    session.refresh(batch)
    assert (batch.status, batch.paid_on, batch.paid_count, batch.failed_count) == ("results_in", PAID_ON, 4, 2)
    for seq, ln in lines.items():
        session.refresh(ln)
        assert (ln.status, ln.reason) == (("failed", failed[seq]) if seq in failed else ("paid", None))

    # the books: 221/222 hold exactly what is still owed; the bank fell by exactly what was paid
    owed_after = owed_by_member(session, run)
    for code, before in owed_before.items():
        paid_now = next((ln.amount for ln in paid_lines if ln.member_code == code), D(0))
        assert owed_after[code] == before - paid_now
    assert_books_say_what_is_owed(session, run)
    assert bank_before - account_balance(session, book, bank) == res.paid_total

    # each success: one receipt tied to its line, one entry whose source names the batch and the line
    for ln in paid_lines:
        receipts = session.scalars(select(Receipt).where(Receipt.statement_id == ln.statement_id,
                                                         Receipt.batch_line_id.is_not(None))).all()
        assert [(r.batch_line_id, r.amount, r.method, r.date) for r in receipts] == [
            (ln.id, ln.amount, "bank", PAID_ON)]
        entries = session.scalars(select(JournalEntry).where(JournalEntry.source == f"batch:{batch.id}:{ln.seq}")).all()
        assert len(entries) == 1 and entries[0].id == receipts[0].entry_id and entries[0].date == PAID_ON
        legs = session.execute(select(Posting.amount).where(Posting.entry_id == entries[0].id)).scalars().all()
        assert sum(legs, D(0)) == 0 and -ln.amount in legs
    for seq in failed:
        assert session.scalar(select(func.count(Receipt.id)).where(
            Receipt.statement_id == lines[seq].statement_id)) == 0
    assert session.scalar(select(func.count(JournalEntry.id)).where(
        JournalEntry.source.like(f"batch:{batch.id}:%"))) == 4
    # the run's statements are what was published
    assert sorted(session.execute(select(StatementSnapshot.id, StatementSnapshot.data)
                                  .where(StatementSnapshot.run_id == run.id)).all()) == statements_before
    assert run.status == "published"


def test_a_csv_return_file_reads_like_the_xlsx(session, run):
    batch = create_batch(session, run, actor=CONSOLE)
    body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    text = "\r\n".join(["序号,户名,账号,金额,状态,失败原因"] + [
        f"{r[0]},{r[1]},{r[2]},{D(str(r[3])):.2f},{'失败' if r[0] == 1 else '成功'},{'卡片状态异常' if r[0] == 1 else ''}"
        for r in body])
    res = read_results(session, batch, text.encode("gb18030"), "result.csv", on=PAID_ON, actor=CONSOLE)
    assert (res.paid, res.failed) == (5, 1)
    assert_books_say_what_is_owed(session, run)


# --------------------------------------------------------------------------------------- 2. re-export


def test_a_new_batch_carries_only_the_failures_once_corrected_or_when_retried(session, run):
    entity = session.get(Entity, run.entity_id)
    first = create_batch(session, run, actor=CONSOLE)
    body = body_of(batch_file(session, first, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    seq_of = {ln.member_code: ln.seq for ln in session.scalars(select(PayoutBatchLine).where(
        PayoutBatchLine.batch_id == first.id, PayoutBatchLine.seq.is_not(None)))}
    read_results(session, first, return_file(body, failed={seq_of["Q02"]: "户名与账号不符",
                                                           seq_of["Q05"]: "账户已销户"}),
                 "回盘.xlsx", on=PAID_ON, actor=CONSOLE)

    # nothing corrected: no batch; both failures listed apart, not dropped
    plan = plan_batch(session, run)
    assert plan.lines == []
    assert {p.member_code: p.reason for p in plan.apart if p.reason == "not_corrected"} == {
        "Q02": "not_corrected", "Q05": "not_corrected"}
    with pytest.raises(BatchError) as refused:
        create_batch(session, run, actor=CONSOLE)
    assert refused.value.problems[0].code == "batch_empty"

    # Q02's account corrected: the next batch carries Q02 alone, to the new account; Q05 still apart
    q02 = session.scalar(select(Member).where(Member.entity_id == entity.id, Member.code == "Q02"))
    new_account = card(202)
    correct_account(session, entity, q02, bank_account=new_account, actor=CONSOLE)
    second = create_batch(session, run, actor=CONSOLE)
    owed = owed_by_member(session, run)
    lines = session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == second.id)).all()
    assert [(ln.member_code, ln.amount) for ln in lines if ln.seq is not None] == [("Q02", owed["Q02"])]
    assert {ln.member_code: ln.reason for ln in lines if ln.seq is None}["Q05"] == "not_corrected"
    assert (second.number, second.count, second.total) == (2, 1, owed["Q02"])
    body2 = body_of(batch_file(session, second, fmt="xlsx", reason="重发", actor=CONSOLE))
    assert [(r[0], r[2], D(str(r[3]))) for r in body2] == [(1, new_account, owed["Q02"])]

    # retried without correction: Q05 goes again (Q02 is in the open batch)
    retry = plan_batch(session, run, retry_uncorrected=True)
    assert [p.member_code for p in retry.lines] == ["Q05"]
    assert {p.member_code: p.reason for p in retry.apart}["Q02"] == "in_open_batch"
    third = create_batch(session, run, retry_uncorrected=True, actor=CONSOLE)
    body3 = body_of(batch_file(session, third, fmt="xlsx", reason="重发", actor=CONSOLE))
    assert [(r[2], D(str(r[3]))) for r in body3] == [(card(5), owed["Q05"])]

    for batch, rows in ((second, body2), (third, body3)):
        res = read_results(session, batch, return_file(rows), "回盘.xlsx", on=PAID_ON, actor=CONSOLE)
        assert (res.paid, res.failed) == (1, 0)
        session.refresh(batch)
        assert batch.status == "closed"
    # everyone the bank can pay is paid; the three listed apart from the start are still owed
    assert {code for code, still in owed_by_member(session, run).items() if still} == {"Q07", "Q08", "Q09"}
    assert_books_say_what_is_owed(session, run)


# ------------------------------------------------------------------------------ 3. a tampered return file


def _tamper(kind: str, body: list[tuple]) -> tuple[list[tuple], bool, int, str | None, str]:
    """``body`` tampered: (rows, with 序号, the file row named, the column named, the problem's code)."""
    rows = [list(r) for r in body]
    if kind == "amount":
        rows[2][3] = float(D(str(rows[2][3])) + D("0.01"))
        return rows, True, 4, "金额", "return_other_amount"
    if kind == "account_of_another_line":
        rows[1][2] = card(999)
        return rows, True, 3, "账号", "return_other_account"
    if kind == "unknown_account":                     # a file without 序号 is matched by account
        rows[3][2] = card(998)
        return rows, False, 5, "账号", "return_unknown_account"
    if kind == "unknown_seq":
        rows[4][0] = 99
        return rows, True, 6, "序号", "return_unknown_seq"
    if kind == "duplicate":
        rows.insert(3, list(rows[0]))
        return rows, True, 5, "账号", "return_duplicate"
    if kind == "missing":
        del rows[-1]
        return rows, True, 0, "", "return_missing_line"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["amount", "account_of_another_line", "unknown_account", "unknown_seq",
                                  "duplicate",
                                  "missing"])
def test_a_tampered_return_file_is_refused_whole_naming_the_row(session, run, kind):
    batch = create_batch(session, run, actor=CONSOLE)
    body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    mark_sent(session, batch, actor=CONSOLE)
    rows, with_seq, row, column, code = _tamper(kind, body)
    before = books_state(session, run)
    with pytest.raises(BatchError) as refused:
        read_results(session, batch, return_file(rows, seq=with_seq), "回盘.xlsx", on=PAID_ON, actor=CONSOLE)
    named = [(p.row, p.column, p.code) for p in refused.value.problems]
    assert (row, column, code) in named
    # besides the row named, at most the one line it fails to answer (a row refused answers no line)
    others = [n for n in named if n != (row, column, code)]
    assert all(n == (0, "", "return_missing_line") for n in others) and len(others) <= 1, named
    if kind == "missing":
        member = session.scalar(select(PayoutBatchLine.member_code).where(PayoutBatchLine.batch_id == batch.id,
                                                                          PayoutBatchLine.seq == body[-1][0]))
        assert named == [(0, "", "return_missing_line")] and member in refused.value.problems[0].text()
    if kind == "duplicate":
        assert named == [(row, column, code)] and "2" in refused.value.problems[0].text()   # also in row 2
    assert books_state(session, run) == before
    session.refresh(batch)
    assert (batch.status, batch.results_digest) == ("sent", None)
    # the right file afterwards is read
    assert read_results(session, batch, return_file(body), "回盘.xlsx", on=PAID_ON, actor=CONSOLE).paid == 6


# ------------------------------------------------------------------------------ 4. a second return file


def test_a_second_return_file_changes_nothing(session, run):
    batch = create_batch(session, run, actor=CONSOLE)
    body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    data = return_file(body, failed={3: "户名与账号不符"})
    first = read_results(session, batch, data, "回盘.xlsx", on=PAID_ON, actor=CONSOLE)
    before = books_state(session, run)
    again = read_results(session, batch, data, "回盘(1).xlsx", on=dt.date(2026, 4, 11), actor=CONSOLE)
    assert again.already and (again.paid, again.paid_total, again.failed, again.failed_total) == (
        first.paid, first.paid_total, first.failed, first.failed_total)
    assert books_state(session, run) == before
    for other in (return_file(body), return_file(body, failed={3: "户名与账号不符", 4: "账户冻结"})):
        with pytest.raises(BatchError) as refused:
            read_results(session, batch, other, "回盘.xlsx", on=PAID_ON, actor=CONSOLE)
        assert [p.code for p in refused.value.problems] == ["batch_results_in"]
        assert books_state(session, run) == before
    session.refresh(batch)
    assert batch.paid_on == PAID_ON


# ----------------------------------------------------------------------- 6. an open batch and a payment by hand


def test_a_household_in_an_open_batch_is_not_paid_by_hand_until_the_batch_is_cancelled(session, run):
    batch = create_batch(session, run, actor=CONSOLE)
    snap = snap_of(session, run, "Q01")
    owed = owed_by_member(session, run)["Q01"]
    for step in ("created", "sent"):
        if step == "sent":
            mark_sent(session, batch, actor=CONSOLE)
        with pytest.raises(StatementError) as refused:
            record_receipt(session, snap, amount=owed, method="bank", on=PAID_ON, actor=CONSOLE)
        assert refused.value.problem.reason.code == "in_open_batch"
    assert owed_by_member(session, run)["Q01"] == owed
    body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    cancel_batch(session, batch, actor=CONSOLE)
    session.refresh(batch)
    assert batch.status == "cancelled"
    receipt = record_receipt(session, snap, amount=owed, method="bank", on=PAID_ON, actor=CONSOLE)
    assert receipt.batch_line_id is None and owed_by_member(session, run)["Q01"] == 0
    # the cancelled batch is neither read nor made into a file any more; a new batch lists Q01 as paid by hand
    with pytest.raises(BatchError) as refused:
        read_results(session, batch, return_file(body), "回盘.xlsx", actor=CONSOLE)
    assert refused.value.problems[0].code == "batch_cancelled"
    with pytest.raises(BatchError):
        batch_file(session, batch, fmt="csv", reason="再导出", actor=CONSOLE)
    plan = plan_batch(session, run)
    assert {p.member_code: p.reason for p in plan.apart}["Q01"] == "paid_by_hand"
    assert "Q01" not in {p.member_code for p in plan.lines}
    assert_books_say_what_is_owed(session, run)


# --------------------------------------------------------------------------------- 7. the reveal and its log


def test_each_file_is_a_logged_reveal_and_a_changed_account_refuses_the_file(session, run):
    entity = session.get(Entity, run.entity_id)
    batch = create_batch(session, run, actor=CONSOLE)

    def reveals():
        return session.scalars(select(AuditLog).where(AuditLog.action == "reveal",
                                                      AuditLog.target == f"batch:{batch.id}")
                               .order_by(AuditLog.id)).all()

    xlsx = batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE)
    data = batch_file(session, batch, fmt="csv", reason="网银上传 csv", actor=CONSOLE)
    logged = reveals()
    assert len(logged) == 2
    assert "发银行代发" in logged[0].detail and "网银上传 csv" in logged[1].detail
    assert all(row.entity_id == entity.id for row in logged)
    numbers = [account for _c, _h, _p, account, _l in HOUSEHOLDS if account]
    text = data.decode("utf-8-sig")
    assert card(1) in text and card(1) in str(body_of(xlsx))          # the file has the numbers ...
    for row in session.scalars(select(AuditLog)):                      # ... the log never does
        assert not any(n in (row.detail or "") or n in row.target for n in numbers)
    with pytest.raises(BatchError) as refused:                         # no reason given: no reveal
        batch_file(session, batch, fmt="csv", reason="  ", actor=CONSOLE)
    assert refused.value.problems[0].code == "batch_reason"

    q03 = session.scalar(select(Member).where(Member.entity_id == entity.id, Member.code == "Q03"))
    correct_account(session, entity, q03, bank_account=card(303), actor=CONSOLE)
    for fmt in ("xlsx", "csv"):
        with pytest.raises(BatchError) as refused:
            batch_file(session, batch, fmt=fmt, reason="再导出", actor=CONSOLE)
        assert refused.value.problems[0].code == "batch_account_changed"
        assert "Q03" in refused.value.problems[0].text()
    assert len(reveals()) == 2                                         # a refused file revealed nothing
    # cancelled and made again, the new batch pays the account on record
    cancel_batch(session, batch, actor=CONSOLE)
    again = create_batch(session, run, actor=CONSOLE)
    body = body_of(batch_file(session, again, fmt="xlsx", reason="更正后重做", actor=CONSOLE))
    assert card(303) in [r[2] for r in body] and card(3) not in [r[2] for r in body]


# -------------------------------------------------------------------------------- 8. who is listed apart


def test_households_the_bank_cannot_pay_are_listed_apart_with_the_reason(session, run):
    owed = owed_by_member(session, run)
    plan = plan_batch(session, run)
    apart = {p.member_code: p.reason for p in plan.apart}
    assert apart == {"Q07": "bad_account", "Q08": "no_account", "Q09": "left", "Q10": "paid_by_hand"}
    assert {p.member_code for p in plan.lines} == {"Q01", "Q02", "Q03", "Q04", "Q05", "Q06"}
    # never silently left out: lines and apart cover every household owed, each once, at what it is owed
    everyone = [(p.member_code, p.owed) for p in plan.lines + plan.apart if p.reason != "paid_by_hand"]
    assert sorted(everyone) == sorted((code, still) for code, still in owed.items() if still > 0)
    assert owed[BY_HAND] == 0

    batch = create_batch(session, run, actor=CONSOLE)
    lines = session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id)).all()
    assert {ln.member_code: (ln.status, ln.reason) for ln in lines if ln.seq is None} == {
        code: ("apart", reason) for code, reason in apart.items()}
    assert batch.count == 6 and batch.total == plan.total
    assert batch.total + sum((ln.amount for ln in lines if ln.seq is None), D(0)) == sum(owed.values(), D(0))
    # the file's second sheet, 未列入, lists them with the reason in words
    book = openpyxl.load_workbook(io.BytesIO(batch_file(session, batch, fmt="xlsx", reason="核对", actor=CONSOLE)))
    assert book.sheetnames[1] == "未列入"
    rows = list(book["未列入"].iter_rows(values_only=True))
    assert rows[0] == ("户号", "户名", "应付金额", "原因")
    assert sorted(r[0] for r in rows[1:]) == sorted(apart)
    assert all(isinstance(r[3], str) and r[3] for r in rows[1:])
    assert len({r[3] for r in rows[1:]}) == 4                    # four reasons, four different words


def test_a_card_corrected_to_a_valid_number_goes_in_the_next_batch(session, run):
    entity = session.get(Entity, run.entity_id)
    q07 = session.scalar(select(Member).where(Member.entity_id == entity.id, Member.code == "Q07"))
    with pytest.raises(Exception) as refused:                         # a failing check digit is not taken
        correct_account(session, entity, q07, bank_account=bad_card(77), actor=CONSOLE)
    assert refused.value.problems[0].code == "bad_bank_account"
    correct_account(session, entity, q07, bank_account=card(7), actor=CONSOLE)
    assert "Q07" in {p.member_code for p in plan_batch(session, run).lines}


# ----------------------------------------------------------------------- 9. the demo's largest run, in xlsx


def test_the_batch_file_of_the_demos_largest_run_has_exact_amounts_adding_up(demo_world):
    s = demo_world
    run_id, households = s.execute(
        select(PayoutRun.id, func.count(PayoutMember.id)).join(PayoutMember, PayoutMember.run_id == PayoutRun.id)
        .where(PayoutRun.status.in_(IN_FORCE), PayoutMember.net > PayoutMember.paid)
        .group_by(PayoutRun.id).order_by(func.count(PayoutMember.id).desc(), PayoutRun.id)).first()
    run = s.get(PayoutRun, run_id)
    total_owed = sum(owed_by_member(s, run).values(), D(0))
    assert households >= 20 and run.status == "published"
    batch = create_batch(s, run, actor=CONSOLE)
    data = batch_file(s, batch, fmt="xlsx", reason="演示最大批次核对", actor=CONSOLE)
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    amounts, summary = [], None
    for row in sheet.iter_rows():
        if isinstance(row[0].value, int):
            cell = row[3]
            assert cell.data_type == "n" and cell.number_format == "0.00", cell.coordinate
            amount = D(str(cell.value))
            assert amount.as_tuple().exponent >= -2, (cell.coordinate, cell.value)
            assert isinstance(row[2].value, str) and row[2].value.isdigit()       # the account stays text
            amounts.append(amount)
        elif row[0].value == "合计":
            assert row[1].value == f"{batch.count}笔" and row[3].number_format == "0.00"
            summary = D(str(row[3].value))
    assert len(amounts) == batch.count and summary is not None
    assert sum(amounts, D(0)) == summary == batch.total
    apart = D(0)
    if "未列入" in book.sheetnames:
        apart = sum((D(str(r[2])) for r in book["未列入"].iter_rows(min_row=2, values_only=True)), D(0))
    # the batch and the households listed apart are every yuan the run still owes
    assert batch.total + apart == total_owed
    stored = s.scalars(select(PayoutBatchLine.amount).where(PayoutBatchLine.batch_id == batch.id,
                                                            PayoutBatchLine.seq.is_(None))).all()
    assert sum(stored, D(0)) == apart
    # the csv file says the same, every amount with exactly two decimals
    rows = list(csv.reader(io.StringIO(batch_file(s, batch, fmt="csv", reason="核对", actor=CONSOLE)
                                       .decode("utf-8-sig"))))
    body = [r for r in rows[1:] if r[0].isdigit()]
    assert all(len(r[3].rsplit(".", 1)[1]) == 2 for r in body + [rows[-1]])
    assert sum((D(r[3]) for r in body), D(0)) == D(rows[-1][3]) == batch.total


def test_the_demos_largest_run_went_to_the_bank_whole_and_its_file_adds_up_to_what_it_owed(demo_world):
    """The demo's largest run (JGP-TEA's 2025, 80 households) was paid by batch 1 of every household: that file, made
    again, has exact two-decimal amounts whose sum is its summary line, the batch's total, and all the run owed."""
    s = demo_world
    run_id, households = s.execute(
        select(PayoutRun.id, func.count(PayoutMember.id)).join(PayoutMember, PayoutMember.run_id == PayoutRun.id)
        .where(PayoutRun.status.in_(IN_FORCE)).group_by(PayoutRun.id)
        .order_by(func.count(PayoutMember.id).desc(), PayoutRun.id)).first()
    run = s.get(PayoutRun, run_id)
    assert s.get(Entity, run.entity_id).code == "JGP-TEA" and households == 80
    first = s.scalar(select(PayoutBatch).where(PayoutBatch.run_id == run.id, PayoutBatch.number == 1))
    owed_then = s.scalar(select(func.sum(PayoutMember.net)).where(PayoutMember.run_id == run.id,
                                                                  PayoutMember.net > 0))
    sheet = openpyxl.load_workbook(io.BytesIO(batch_file(s, first, fmt="xlsx", reason="核对第1批", actor=CONSOLE))
                                   ).worksheets[0]
    amounts, summary = [], None
    for row in sheet.iter_rows():
        if isinstance(row[0].value, int):
            assert row[3].data_type == "n" and row[3].number_format == "0.00", row[3].coordinate
            assert D(str(row[3].value)).as_tuple().exponent >= -2
            amounts.append(D(str(row[3].value)))
        elif row[0].value == "合计":
            summary = D(str(row[3].value))
    assert len(amounts) == first.count == 80
    assert sum(amounts, D(0)) == summary == first.total == D(owed_then)


# -------------------------------------------------------------------------------------- 10. the texts


def test_a_text_to_each_household_with_a_phone_and_a_send_log(session, run):
    entity = session.get(Entity, run.entity_id)
    batch = create_batch(session, run, actor=CONSOLE)
    body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    lines = {ln.member_code: ln for ln in session.scalars(select(PayoutBatchLine).where(
        PayoutBatchLine.batch_id == batch.id, PayoutBatchLine.seq.is_not(None)))}
    read_results(session, batch, return_file(body, failed={lines["Q02"].seq: "户名与账号不符"}), "回盘.xlsx",
                 on=PAID_ON, actor=CONSOLE)
    data, export = sms_file(session, batch, public_url="https://coop.example.cn/", actor=CONSOLE)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["phone", "text"]
    if any(len(r) != 2 for r in rows):
        raise ValueError(f"a row of the texts' csv has not two fields: {[r for r in rows if len(r) != 2][:2]}")
    texts = dict(rows[1:])
    phones = {code: phone for code, _h, phone, _a, _l in HOUSEHOLDS}
    with_phone = [code for code in lines if phones[code]]
    assert sorted(texts) == sorted(phones[code] for code in with_phone) and len(rows) - 1 == len(with_phone)
    for code in with_phone:
        text, ln = texts[phones[code]], lines[code]
        snap = snap_of(session, run, code)
        assert entity.name in text and "2025" in text and format_money(ln.amount) in text, text
        assert f"https://coop.example.cn/s/{snap.code}" in text
        assert "收益分配" in text, text                                  # Chinese, the households' language
        if code == "Q02":
            assert "失败" in text and "户名与账号不符" in text and "已于" not in text
        else:
            assert "失败" not in text and PAID_ON.isoformat() in text and ln.account_masked[-4:] in text
    stored = session.scalars(select(SmsExport).where(SmsExport.batch_id == batch.id)).all()
    assert [(e.id, e.count, e.without_phone) for e in stored] == [(export.id, len(with_phone), 1)]
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "batch-sms",
                                                                AuditLog.target == f"batch:{batch.id}")) == 1


def test_after_the_results_the_lines_in_the_session_say_paid_or_failed(session, run):
    batch = create_batch(session, run, actor=CONSOLE)
    body = body_of(batch_file(session, batch, fmt="xlsx", reason="发银行代发", actor=CONSOLE))
    lines = session.scalars(select(PayoutBatchLine).where(PayoutBatchLine.batch_id == batch.id,
                                                          PayoutBatchLine.seq.is_not(None))
                            .order_by(PayoutBatchLine.seq)).all()
    read_results(session, batch, return_file(body, failed={1: "户名与账号不符"}), "回盘.xlsx", on=PAID_ON,
                 actor=CONSOLE)
    assert [ln.status for ln in lines] == ["failed"] + ["paid"] * (len(lines) - 1)

"""A cluster project and its member villages' books move together (INTERFACES §3.2, issue 14 §5): capital put in
is 长期投资 in the village and 股金 in the project (one record, two entries); the project's run books each village's
share as the project's payable and the village's investment income receivable; the project paying it clears both.
Hand figures throughout."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.forms import parse_form
from cooperatives.models import CapitalContribution
from cooperatives.operations import (
    RecordError,
    create_entity,
    link_member_entity,
    post_opening,
    record,
    register_member,
    void_record,
)
from ledger.queries import account_balance, party_balances
from payouts.models import StatementSnapshot
from payouts.reports.statutory import balance_sheet
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
from payouts.runs.policy import parse_policy
from payouts.statements.operations import StatementError, record_receipt

POLICY = {"reserve_pct": "10", "reserve_quantify": "none", "deduct": [],
          "pools": [{"name": "investment", "pct": "100", "basis": "capital"}]}


def rec(session, entity, kind, /, **raw):
    values, problems = parse_form(kind, raw)
    assert not problems, problems
    return record(session, entity, kind, values, actor=CONSOLE)


@pytest.fixture
def world(app, session):
    """Villages TV1 and TV2 keep books from 2025 (the 2023 system), each with 100,000 in the bank; TV1 put 10,000
    into project TP in 2024 (its opening balances hold the stake). In 2025 TV1 puts in 60,000 and TV2 40,000."""
    villages = {}
    for code, stake in (("TV1", "10000.00"), ("TV2", None)):
        village = create_entity(session, code=code, name=f"{code}股份经济合作社", kind="collective", township="联乡",
                                village=f"{code}村", books_start=dt.date(2025, 1, 1), actor=CONSOLE)
        lines = [{"account": "102", "debit": D("100000.00")}]
        if stake:
            lines.append({"account": "141", "debit": D(stake)})
        lines.append({"account": "311", "credit": sum((line["debit"] for line in lines), D(0))})
        post_opening(session, village, lines, actor=CONSOLE)
        villages[code] = village
    project = create_entity(session, code="TP", name="联乡联建项目", kind="cluster_project", township="联乡",
                            village="TV1村", books_start=dt.date(2024, 1, 1), actor=CONSOLE)
    for n, code in enumerate(villages, 1):
        link_member_entity(session, project, villages[code], actor=CONSOLE)
        register_member(session, project, code=code, member_no=n, joined_on=dt.date(2024, 1, 1), actor=CONSOLE)
    rec(session, project, "capital", date="2024-06-01", member="TV1", amount="10000.00")
    rec(session, project, "capital", date="2025-02-01", member="TV1", amount="60000.00")
    rec(session, project, "capital", date="2025-02-01", member="TV2", amount="40000.00")
    return project, villages


def test_capital_put_in_is_the_villages_long_term_investment_and_a_void_takes_it_back(session, world):
    project, villages = world
    tv1, tv2 = villages["TV1"], villages["TV2"]
    assert tv1.chart == "collective2023"
    # 2024's 10,000 came before TV1's books: its opening balances hold it; 2025's is booked there as well
    assert account_balance(session, tv1.book, "141") == D("70000.00")
    assert account_balance(session, tv1.book, "102") == D("40000.00")           # 100,000 − 60,000
    assert account_balance(session, tv2.book, "141") == D("40000.00")
    stakes = party_balances(session, project.book, "301")                         # the project's 股金
    assert {code: -amount for code, amount in stakes.items()} == {
        "TV1": account_balance(session, tv1.book, "141"), "TV2": account_balance(session, tv2.book, "141")}
    assert balance_sheet(session, tv1, 2025).line("A8").values[0] == D("70000.00")      # 长期投资 on its sheet
    extra = rec(session, project, "capital", date="2025-03-01", member="TV2", amount="5000.00")
    assert account_balance(session, tv2.book, "141") == D("45000.00")
    void_record(session, project, "capital", extra.id, reason="录错金额", actor=CONSOLE)
    assert account_balance(session, tv2.book, "141") == D("40000.00")
    assert account_balance(session, tv2.book, "102") == D("60000.00")


def test_the_run_books_the_share_and_the_payment_clears_it_in_both_books(session, world):
    """Sales 50,000; 10 % reserve; 45,000 by capital 70,000 : 40,000 → TV1 28,636.36, TV2 16,363.64 (to the fen,
    largest remainder). Paid by bank: each village's 112 back to 0 and its bank up by the same."""
    project, villages = world
    rec(session, project, "sales", date="2025-08-01", buyer="果商", product="葡萄", amount="50000.00")
    version = save_policy(session, project, parse_policy(POLICY), actor=CONSOLE)
    run = create_run(session, project, 2025, policy_version=version, actor=CONSOLE)
    approve_run(session, run, meeting_date=dt.date(2026, 1, 10), attended=2, votes_for=2, actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, actor=CONSOLE)
    shares = {"TV1": D("28636.36"), "TV2": D("16363.64")}
    assert {m["member"]: D(m["net"]) for m in run.result["members"]} == shares
    for code, share in shares.items():
        book = villages[code].book
        assert account_balance(session, book, "112") == share                        # receivable from TP
        assert -party_balances(session, project.book, "222").get(code, 0) - party_balances(
            session, project.book, "221").get(code, 0) == share                      # the project's payable
    bank_before = {code: account_balance(session, villages[code].book, "102") for code in shares}
    snaps = {s.member_code: s for s in session.scalars(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id))}
    with pytest.raises(StatementError):          # more than owed is refused in the project, so never reaches TV1
        record_receipt(session, snaps["TV1"], amount=shares["TV1"] + D("0.01"), method="bank", on=dt.date(2026, 1, 20),
                       actor=CONSOLE)
    for code, share in shares.items():
        record_receipt(session, snaps[code], amount=share, method="bank", on=dt.date(2026, 1, 20), actor=CONSOLE)
        book = villages[code].book
        assert account_balance(session, book, "112") == D("0.00")
        assert account_balance(session, book, "102") == bank_before[code] + share
        assert party_balances(session, project.book, "222").get(code, D(0)) == D("0.00")


def test_capital_into_a_village_year_that_is_closed_is_refused(session, world):
    from payouts.runs.operations import finalize_year

    project, villages = world
    finalize_year(session, villages["TV2"], 2025, actor=CONSOLE)
    with pytest.raises(RecordError) as refused:
        rec(session, project, "capital", date="2025-05-01", member="TV2", amount="1000.00")
    assert refused.value.problems[0].reason.code == "member_year_closed"
    assert session.scalar(select(CapitalContribution).where(CapitalContribution.amount == D("1000.00"))) is None


def test_a_workbook_putting_capital_into_a_closed_village_year_imports_nothing(session, cli, xlsx, world):
    from payouts.runs.operations import finalize_year

    project, villages = world
    finalize_year(session, villages["TV2"], 2025, actor=CONSOLE)
    session.commit()
    before = session.scalar(select(func.count(CapitalContribution.id)))
    result = cli("import", xlsx({"capital": [["date", "member", "amount"], ["2025-05-01", "TV2", "1000"]]}),
                 "--entity", "TP")
    assert result.exit_code == 1 and "TV2" in result.output and "2025" in result.output
    assert "Traceback" not in result.output
    assert session.scalar(select(func.count(CapitalContribution.id))) == before


def test_a_bank_batch_pays_the_villages_and_each_receives_it_in_its_own_books(session, world):
    """The project's run paid through the bank (代发, issue 17): each village's 对公 account (no card check digit)
    recorded on its membership, one batch, the bank's return file all 成功 — each village's receivable cleared and
    its bank up by its share, exactly as a payment recorded by hand."""
    import io

    import openpyxl

    from cooperatives.models import Member
    from cooperatives.operations import correct_account
    from payouts.batches.operations import batch_file, create_batch, read_results

    project, villages = world
    rec(session, project, "sales", date="2025-08-01", buyer="果商", product="葡萄", amount="50000.00")
    version = save_policy(session, project, parse_policy(POLICY), actor=CONSOLE)
    run = create_run(session, project, 2025, policy_version=version, actor=CONSOLE)
    approve_run(session, run, meeting_date=dt.date(2026, 1, 10), attended=2, votes_for=2, actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, actor=CONSOLE)
    shares = {"TV1": D("28636.36"), "TV2": D("16363.64")}
    for n, code in enumerate(shares, 1):
        member = session.scalar(select(Member).where(Member.entity_id == project.id, Member.code == code))
        correct_account(session, project, member, bank_account=f"2107 0001 0900 000{n}", actor=CONSOLE)
    bank_before = {code: account_balance(session, villages[code].book, "102") for code in shares}
    batch = create_batch(session, run, actor=CONSOLE)
    assert batch.count == 2 and batch.total == sum(shares.values())
    rows = list(openpyxl.load_workbook(io.BytesIO(batch_file(session, batch, fmt="xlsx", reason="代发", actor=CONSOLE))
                                       ).worksheets[0].iter_rows(values_only=True))
    back = openpyxl.Workbook()
    back.active.append(["序号", "户名", "账号", "金额", "状态"])
    for row in rows:
        if isinstance(row[0], int):
            assert row[1] in ("TV1股份经济合作社", "TV2股份经济合作社") and row[2].startswith("21070001")
            back.active.append([row[0], row[1], row[2], row[3], "成功"])
    out = io.BytesIO()
    back.save(out)
    results = read_results(session, batch, out.getvalue(), "回单.xlsx", on=dt.date(2026, 1, 25), actor=CONSOLE)
    assert results.paid == 2 and results.paid_total == sum(shares.values())
    for code, share in shares.items():
        book = villages[code].book
        assert account_balance(session, book, "112") == D("0.00")
        assert account_balance(session, book, "102") == bank_before[code] + share
        assert party_balances(session, project.book, "222").get(code, D(0)) == D("0.00")
    session.refresh(run)
    assert run.status == "paid"

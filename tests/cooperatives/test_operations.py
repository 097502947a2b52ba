"""One guarded write path: every operation that writes has one access rule, whatever the channel.

* Every public function of a module that writes (``operations`` modules and the other writers named in
  :data:`WRITERS`) is a registered operation (``cooperatives.access.OPERATIONS``) — or is listed in
  :data:`NOT_OPERATIONS` with the reason it is not one; a new writer without a rule fails here.
* No module outside those writes to the ledger: the ledger's write functions are imported only by them.
* Every registered operation refuses, with ``Forbidden`` and before writing anything, a principal its rule
  does not allow — the accountant of an entity of another township, the township's auditor on the books,
  a household on another household's statement — and its rule allows the principal it is for.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import pathlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cooperatives.access import CONSOLE, OPERATIONS, Forbidden, Principal
from ledger.models import JournalEntry
from payouts.models import PayoutBatch

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: the modules that write, besides every ``operations.py``
WRITERS = ("cooperatives/importer.py", "cooperatives/privacy.py", "cooperatives/users.py", "cooperatives/imports.py",
           "payouts/statements/jobs.py", "payouts/statements/visits.py", "payouts/oversight/opinions.py",
           "payouts/oversight/integrity.py", "payouts/oversight/handling.py", "cooperatives/tenants.py",
           "cooperatives/monitoring.py")
#: public functions of those modules that are not operations, and why
NOT_OPERATIONS = {
    "cooperatives.operations.in_these_books": "a check: refuses a date kept in the books a carried-over book continues",
    "cooperatives.operations.investment_problem": "a read: why a member entity's books cannot take capital's "
                                                  "长期投资 (its year closed)",
    "cooperatives.operations.book_investments": "part of record and of the import: capital a member entity puts into "
                                                "a cluster project, booked in its own books along a link",
    "cooperatives.operations.accrue_year_end": "calls the year-end accrual operations, each with its own rule "
                                                "(close_year, create_run)",
    "cooperatives.operations.land_right_terms": "a read: the land rights put in as capital and their terms",
    "cooperatives.operations.audit": "appends to the audit log inside an operation's transaction (cooperatives.audit)",
    "cooperatives.operations.ensure_township": "creates the township an operation names (create_entity)",
    "cooperatives.operations.ensure_village": "creates the village an operation names (register_household, the import)",
    "cooperatives.operations.household_fields": "pure: the stored form of ID and bank numbers",
    "cooperatives.operations.member_bank_fields": "pure: the stored form of a membership's bank account",
    "cooperatives.operations.check_enrolment": "pure: the sharing rule, used by register_member and the import",
    "cooperatives.operations.find_member": "a read",
    "cooperatives.operations.refuse": "builds a refusal",
    "cooperatives.operations.reversal": "pure: the entry that undoes another",
    "cooperatives.operations.voucher_postings": "pure: the postings of a voucher's lines and their problems",
    "cooperatives.operations.voucher_problems": "pure: a voucher's postings and every problem of it",
    "cooperatives.operations.settle_books_start": "part of record and import_workbook (an empty book's start "
                                                  "follows its first records)",
    "cooperatives.importer.import_path": "reads a file, then import_workbook (the operation)",
    "cooperatives.users.hash_password": "pure", "cooperatives.users.verify_secret": "pure",
    "cooperatives.users.authenticate": "the sign-in check (re-hashes a weaker password as it signs the user in)",
    "cooperatives.users.check_password": "pure", "cooperatives.users.password_problem": "pure",
    "cooperatives.users.utcnow": "the clock", "cooperatives.users.as_utc": "pure",
    "cooperatives.users.token_state": "pure", "cooperatives.users.list_tokens": "a read",
    "cooperatives.users.token_for": "a read", "cooperatives.users.user_for_token": "a read",
    "cooperatives.users.normalize_username": "pure", "cooperatives.users.new_password_problem": "pure",
    "cooperatives.users.username_taken": "a read", "cooperatives.users.username_problem": "a read",
    "cooperatives.users.find_user": "a read (the sign-in's lookup, any case)",
    "cooperatives.tenants.code_used": "a read", "cooperatives.tenants.entity_problems": "a read",
    "cooperatives.users.note_token_use": "stamps a token's last use (at most hourly) while authenticating",
    "cooperatives.privacy.configure": "sets the keys at start-up",
    "cooperatives.privacy.encrypt": "pure", "cooperatives.privacy.decrypt": "pure", "cooperatives.privacy.rotate": "pure",
    "cooperatives.privacy.digest": "pure", "cooperatives.privacy.mask": "pure", "cooperatives.privacy.mask_name": "pure",
    "cooperatives.privacy.mask_phone": "pure", "cooperatives.privacy.recorded_numbers": "pure",
    "cooperatives.imports.run_import_job": "the job of create_import_job: runs import_workbook (and its rule) as "
                                           "the user who uploaded the workbook",
    "cooperatives.imports.job_problems": "a read", "cooperatives.imports.job_result": "a read",
    "payouts.runs.operations.role": "pure", "payouts.runs.operations.current_policy_version": "a read",
    "payouts.runs.operations.policy_of": "pure", "payouts.runs.operations.surplus_of": "a read",
    "payouts.runs.operations.closing_summary": "a read", "payouts.runs.operations.gather_input": "a read",
    "payouts.runs.operations.rerun": "pure: the auditor's recomputation", "payouts.runs.operations.quorum_problems": "pure",
    "payouts.runs.operations.run_entries": "pure: a run's entries",
    "payouts.runs.operations.books_word": "pure: a pool as the books' memos name it",
    "payouts.statements.jobs.stalled": "a read: why a batch that says queued or running has stopped",
    "payouts.statements.operations.has_payment": "a read: whether a payment to the household is recorded",
    "payouts.statements.operations.superseding_run": "a read", "payouts.statements.operations.verify_code": "a read",
    "payouts.statements.operations.in_notice_period": "pure", "payouts.statements.operations.open_objections": "a read",
    "payouts.statements.operations.paid_so_far": "a read",
    "payouts.statements.operations.in_open_batch": "a read: whether a bank batch may still pay the household",
    "payouts.statements.operations.receipt_legs": "pure: the debit legs of a payment (by hand or from a batch)",
    "payouts.statements.operations.received_by_member_entity": "part of record_receipt and read_results (a cluster "
                                                               "project's payment received in the member's books)",
    "payouts.statements.operations.mark_paid_when_done": "part of record_receipt and read_results",
    "payouts.batches.operations.plan_batch": "a read: who a batch would pay and who it lists apart",
    "payouts.batches.operations.batch_title": "pure", "payouts.batches.operations.apart_reason": "pure",
    "payouts.batches.operations.match_returns": "pure: the return file's rows paired with the batch's lines",
    "payouts.batches.operations.sms_text": "pure", "payouts.batches.operations.failures_of": "a read",
    "payouts.batches.operations.failure_message": "pure",
    "payouts.statements.operations.household_by_phone_and_pin": "a read (the PIN check)",
    "payouts.statements.jobs.launch": "starts the renderer process of a job created by create_job",
    "payouts.statements.visits.start_visit": "sign-in state: the visit a right PIN opens (rate-limited, like a "
                                             "session cookie)",
    "payouts.statements.visits.household_of_visit": "a read", "payouts.statements.visits.end_visit": "signing out",
    "payouts.statements.visits.end_visits": "part of set_pin (a new PIN ends the household's visits)",
    "payouts.oversight.opinions.latest_opinions": "a read", "payouts.oversight.opinions.opinions_table": "a read",
    "payouts.oversight.integrity.latest_checks": "a read", "payouts.oversight.integrity.history_table": "a read",
    "payouts.oversight.integrity.stamp": "pure",
    "payouts.oversight.handling.key_problem": "pure", "payouts.oversight.handling.handlings": "a read",
    "payouts.oversight.handling.china": "pure",
    "cooperatives.monitoring.read_monitoring_list": "a read of a file", "cooperatives.monitoring.read_monitoring_upload":
        "a read of a file", "cooperatives.monitoring.audits_township": "builds a rule",
    "cooperatives.monitoring.listed_reason": "pure", "cooperatives.monitoring.listed_rows": "pure",
    "cooperatives.monitoring.open_sheet_periods": "part of import_workbook (the households sheet's monitoring column)",
    "cooperatives.monitoring.periods_in_force": "a read", "cooperatives.monitoring.monitored_during": "a read",
}
LEDGER_WRITES = {"post_entry", "post_entries", "reverse_entry", "begin_closing", "close_period", "create_book",
                 "lock_book", "ensure_parties"}


def _modules() -> list[pathlib.Path]:
    found = [p for package in ("cooperatives", "payouts") for p in (ROOT / package).rglob("operations.py")]
    return sorted({*found, *(ROOT / w for w in WRITERS if (ROOT / w).exists())})


def _name(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _public_functions(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]


def test_every_writer_is_an_operation_with_a_rule_or_says_why_not():
    missing = []
    for path in _modules():
        module = _name(path)
        importlib.import_module(module)
        for function in _public_functions(path):
            name = f"{module}.{function}"
            if name not in OPERATIONS and name not in NOT_OPERATIONS:
                missing.append(name)
    assert missing == []
    assert all(op.rule is not None and op.rule.name for op in OPERATIONS.values())


def test_only_writers_import_the_ledgers_write_functions():
    allowed = {_name(p) for p in _modules()} | {"cooperatives.audit", "cooperatives.imports"}
    wrong = []
    for package in ("cooperatives", "payouts"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module == "ledger.operations":
                    names = {a.name for a in node.names} & LEDGER_WRITES
                    if names and _name(path) not in allowed:
                        wrong.append((_name(path), sorted(names)))
    assert wrong == []


# ------------------------------------------------------------------- every operation refuses the wrong actor


@pytest.fixture
def world(session):
    """Entity A (township 甲) with households H1 (PIN) and H2, a posted and published run and an objection;
    entity B in township 乙; a cluster project P in 甲 with A linked to it."""
    from cooperatives.forms import parse_form
    from cooperatives.models import Household, Member
    from cooperatives.operations import create_entity, link_member_entity, record, register_household, register_member
    from payouts.models import StatementSnapshot
    from payouts.runs.operations import approve_run, create_run, post_run, publish_run, save_policy
    from payouts.runs.policy import parse_policy
    from payouts.statements.operations import record_objection

    a = create_entity(session, code="OP-A", name="甲社", kind="farmer_coop", township="甲", first_year=2025, actor=CONSOLE)
    b = create_entity(session, code="OP-B", name="乙社", kind="farmer_coop", township="乙", first_year=2025, actor=CONSOLE)
    p = create_entity(session, code="OP-P", name="甲项目", kind="cluster_project", township="甲", first_year=2025,
                      actor=CONSOLE)
    link_member_entity(session, p, a, actor=CONSOLE)
    for n in (1, 2):
        register_household(session, a, code=f"OP-H{n}", head_name=f"户{n}", village="一村", actor=CONSOLE)
        register_member(session, a, code=f"OP-H{n}", member_no=n, joined_on=dt.date(2024, 1, 1), actor=CONSOLE)
        values, _ = parse_form("capital", {"date": "2025-01-02", "member": f"OP-H{n}", "amount": "100"})
        record(session, a, "capital", values, actor=CONSOLE)
        values, _ = parse_form("deliveries", {"date": "2025-05-02", "member": f"OP-H{n}", "product": "茶",
                                              "quantity": "10", "unit": "kg", "unit_price": "5", "paid_by": "bank"})
        record(session, a, "deliveries", values, actor=CONSOLE)
    values, _ = parse_form("sales", {"date": "2025-06-01", "buyer": "客商", "product": "茶", "amount": "1000"})
    sale = record(session, a, "sales", values, actor=CONSOLE)
    policy = save_policy(session, a, parse_policy({"reserve_pct": "0", "pools": [
        {"name": "patronage", "pct": "60", "basis": "transactions"}, {"name": "residual", "pct": "40",
                                                                      "basis": "capital"}]}), actor=CONSOLE)
    run = create_run(session, a, 2025, policy_version=policy, actor=CONSOLE)
    approve_run(session, run, meeting_date=dt.date(2026, 1, 5), attended=2, votes_for=2, actor=CONSOLE)
    post_run(session, run, actor=CONSOLE)
    publish_run(session, run, today=dt.date.today(), actor=CONSOLE)
    draft = create_run(session, a, 2025, policy_version=policy, replaces=run.id, actor=CONSOLE)
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.member_code == "OP-H1"))
    objection = record_objection(session, snap, line="total", text="请核实", actor=CONSOLE)
    h1 = session.scalar(select(Household).where(Household.code == "OP-H1"))
    member = session.scalar(select(Member).where(Member.entity_id == a.id, Member.code == "OP-H1"))
    from cooperatives.models import ApiToken
    from cooperatives.users import create_user, issue_token

    user = create_user(session, username="op-acc", password="a long passphrase", role="accountant", entity_id=a.id,
                       actor=CONSOLE)
    issue_token(session, user, "script", actor=CONSOLE)
    token = session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    return {"a": a, "b": b, "p": p, "run": run, "draft": draft, "snap": snap, "objection": objection,
            "household": h1, "policy": policy, "member": member, "user": user, "token": token,
            "sale": sale}


def _principals(w) -> dict[str, Principal]:
    a, b = w["a"], w["b"]
    return {
        "accountant_a": Principal.of_user(w["user"]),
        "accountant_b": Principal("accountant", user_id=902, entity_id=b.id),
        "auditor_a": Principal("auditor", user_id=903, township_id=a.township_id),
        "auditor_b": Principal("auditor", user_id=904, township_id=b.township_id),
        "household_1": Principal.of_household(w["household"].id),
        "household_2": Principal("member", user_id=905, household_id=w["household"].id + 1),
    }


def _calls(w) -> dict[str, tuple]:
    """Per operation: arguments aimed at entity A (or its run, statement, household…), the principal the rule
    is for, and principals it must refuse."""
    from cooperatives.monitoring import MonitoringFile
    from cooperatives.workbook import Workbook
    from payouts.reports.disclosure.build import Period
    from payouts.runs.policy import parse_policy

    values = {"date": dt.date(2025, 3, 1), "member": "OP-H1", "amount": Decimal("5.00"), "form": "cash", "note": None}
    land = {"member": "OP-H1", "contract_no": "L-1", "area_mu": Decimal("1.00"), "shares": Decimal("1.00"),
            "base_rent_per_mu": Decimal("0.00"), "start_on": dt.date(2025, 1, 1), "end_on": None}
    books = ("accountant_a", ("accountant_b", "auditor_a", "auditor_b", "household_1"))
    audits = ("auditor_a", ("auditor_b", "accountant_a", "accountant_b", "household_1"))
    households = ("household_1", ("household_2", "accountant_b", "auditor_a"))
    root_only = (None, ("accountant_a", "auditor_a", "household_1"))
    a, run, snap = w["a"], w["run"], w["snap"]
    batch = PayoutBatch(id=0, run_id=run.id, entity_id=a.id, number=1, layout="generic", status="created", count=0,
                        total=Decimal("0.00"))        # (transient: every principal here is refused before it is read)
    enrolment = {"code": "OP-NEW", "head_name": "新户", "village": "一村", "member_no": 9, "joined_on": dt.date(2025, 1, 1)}
    return {
        "cooperatives.operations.create_entity": ((), {"code": "X", "name": "X", "kind": "farmer_coop", "township": "甲"},
                                                  root_only),
        "cooperatives.operations.link_member_entity": ((w["p"], a), {}, ("auditor_a", ("accountant_a", "auditor_b",
                                                                                         "accountant_b"))),
        "cooperatives.operations.register_household": ((a,), {"code": "OP-NEW", "head_name": "新", "village": "一村"},
                                                       books),
        "cooperatives.operations.register_member": ((a,), {"code": "OP-H2", "member_no": 7,
                                                           "joined_on": dt.date(2025, 1, 1)}, books),
        "cooperatives.operations.enrol": ((a, enrolment), {}, books),
        "cooperatives.operations.record": ((a, "capital", values), {}, books),
        "cooperatives.operations.record_land_contract": ((a, land), {}, books),
        "cooperatives.operations.accrue_land_rent": ((a, 2025), {}, books),
        "cooperatives.operations.accrue_depreciation": ((a, 2025), {}, books),
        "cooperatives.operations.accrue_amortisation": ((a, 2025), {}, books),
        "cooperatives.operations.dispose_asset": ((a, 1), {"on": dt.date(2025, 12, 1)}, books),
        "cooperatives.operations.put_asset_in_use": ((a, 1), {"on": dt.date(2025, 12, 1)}, books),
        "cooperatives.operations.post_opening": ((a, [{"account": "101", "debit": Decimal("1.00")},
                                                      {"account": "301", "credit": Decimal("1.00")}]), {}, books),
        "cooperatives.operations.void_record": ((a, "sales", w["sale"].id), {"reason": "录错"}, books),
        "cooperatives.operations.post_vouchers": ((a, [{"date": dt.date(2025, 3, 31), "memo": "借款", "lines": [
            {"account": "102", "debit": Decimal("1.00")}, {"account": "201", "credit": Decimal("1.00")}]}]), {},
                                                  books),
        "cooperatives.operations.book_project_share": ((w["p"], a), {"amount": Decimal("1.00"), "year": 2025,
                                                                     "source": "run:0"},
                                                       (None, ("accountant_a", "accountant_b", "auditor_a"))),
        "cooperatives.operations.reverse_project_share": ((w["p"], a), {"source": "run:0", "reversing": "run:1"},
                                                          (None, ("accountant_a", "accountant_b", "auditor_a"))),
        "cooperatives.operations.receive_project_share": ((w["p"], a), {"amount": Decimal("1.00"), "method": "bank",
                                                                        "on": dt.date(2025, 12, 31)},
                                                          (None, ("accountant_a", "accountant_b", "auditor_a"))),
        "cooperatives.operations.carry_over": ((a,), {}, books),
        "cooperatives.importer.import_workbook": ((Workbook({}, "x", "0"),), {"entity_code": a.code}, books),
        "cooperatives.imports.create_import_job": ((a, [("x.xlsx", b"PK")]), {}, books),
        "cooperatives.privacy.reveal": ((a, w["member"]), {"reason": "代发"}, books),
        "cooperatives.privacy.rotate_keys": ((), {}, root_only),
        "payouts.runs.operations.save_policy": ((a, parse_policy({"pools": [{"name": "x", "pct": "100",
                                                                             "basis": "equal"}]})), {}, books),
        "payouts.runs.operations.close_year": ((a, 2025), {}, books),
        "payouts.runs.operations.create_run": ((a, 2025), {"policy_version": w["policy"], "replaces": w["run"].id},
                                               books),
        "payouts.runs.operations.finalize_year": ((a, 2024), {}, books),
        "payouts.runs.operations.approve_run": ((w["draft"],), {"meeting_date": dt.date(2026, 1, 5), "attended": 2,
                                                                 "votes_for": 2}, books),
        "payouts.runs.operations.post_run": ((w["draft"],), {}, books),
        "payouts.runs.operations.publish_run": ((run,), {}, books),
        "payouts.runs.operations.reverse_run": ((run,), {}, books),
        "payouts.statements.operations.record_objection": ((snap,), {"line": "total", "text": "x"}, households),
        "payouts.statements.operations.confirm_receipt": ((snap,), {}, households),
        "payouts.statements.operations.answer_objection": ((w["objection"],), {"answer": "已核实"}, books),
        "payouts.statements.operations.record_receipt": ((snap,), {"amount": Decimal("1.00"), "method": "bank",
                                                                    "on": dt.date(2026, 2, 1)}, books),
        "payouts.statements.operations.set_pin": ((w["household"],), {}, books),
        "payouts.batches.operations.create_batch": ((run,), {}, books),
        "payouts.batches.operations.batch_file": ((batch,), {"fmt": "xlsx", "reason": "代发"}, books),
        "payouts.batches.operations.mark_sent": ((batch,), {}, books),
        "payouts.batches.operations.read_results": ((batch, b"", "x.csv"), {}, books),
        "payouts.batches.operations.close_batch": ((batch,), {}, books),
        "payouts.batches.operations.cancel_batch": ((batch,), {}, books),
        "payouts.batches.operations.sms_file": ((batch,), {"public_url": "http://x"}, books),
        "cooperatives.operations.correct_account": ((a, w["member"]), {"bank_account": "6217990000000000000"}, books),
        "payouts.statements.jobs.create_job": ((run,), {"out_root": "/nonexistent", "locale": "zh_Hans_CN"}, books),
        "payouts.reports.disclosure.operations.publish_disclosure": ((a, Period.parse("2025-Q2")), {}, books),
        "payouts.oversight.opinions.record_opinion": ((a,), {"year": 2025, "verdict": "no_issue", "text": None}, audits),
        "payouts.oversight.integrity.check_integrity": ((a,), {}, audits),
        "payouts.oversight.handling.mark_handled": ((a,), {"key": "large_cash_payment:OP-A:2025:payments:1",
                                                           "note": "已补签收"},
                                                    ("auditor_a", ("auditor_b", "accountant_b", "household_1"))),
        "cooperatives.monitoring.import_monitoring_list": ((MonitoringFile("x.csv", "0"),), {"township": a.township},
                                                           ("auditor_a", ("auditor_b", "accountant_a", "household_1"))),
        "cooperatives.users.create_user": ((), {"username": "x", "password": "a long passphrase", "role": "admin"},
                                           root_only),
        "cooperatives.users.reset_password": ((w["user"],), {}, root_only),
        "cooperatives.users.set_user_active": ((w["user"],), {"active": False}, root_only),
        "cooperatives.tenants.create_township": ((), {"name": "丙"}, root_only),
        "cooperatives.tenants.create_village": ((a.township,), {"name": "新村"}, root_only),
        "cooperatives.tenants.add_entity": ((), {"code": "OP-X", "name": "X", "kind": "farmer_coop",
                                                 "township": a.township}, root_only),
        "cooperatives.users.change_password": ((w["user"], "another long passphrase"), {},
                                               ("accountant_a", ("accountant_b", "auditor_a", "household_1"))),
        "cooperatives.users.issue_token": ((w["user"], "script"), {},
                                           ("accountant_a", ("accountant_b", "auditor_a", "household_1"))),
        "cooperatives.users.revoke_token": ((w["token"],), {},
                                            ("accountant_a", ("accountant_b", "auditor_a", "household_1"))),
    }


def test_every_operation_refuses_the_principals_its_rule_does_not_allow_and_writes_nothing(session, world):
    for path in _modules():                 # every operation registered
        importlib.import_module(_name(path))
    calls, principals = _calls(world), _principals(world)
    untested = sorted(set(OPERATIONS) - set(calls) - set(EXTRA_CALLS))
    assert untested == [], "give these operations a row in _calls or EXTRA_CALLS"
    entries = session.scalar(select(func.count(JournalEntry.id)))
    refused = 0
    for name, (args, kwargs, (allowed, forbidden)) in calls.items():
        op = OPERATIONS[name]
        if allowed is not None:
            assert op.rule.allows(session, principals[allowed], args, kwargs), (name, allowed)
        assert op.rule.allows(session, CONSOLE, args, kwargs), name
        for who in forbidden:
            with pytest.raises(Forbidden):
                op.func(session, *args, actor=principals[who], **kwargs)
            refused += 1
    assert session.scalar(select(func.count(JournalEntry.id))) == entries
    assert refused >= 3 * len(calls)


#: operations whose refusals are tested elsewhere (name -> where)
EXTRA_CALLS: dict[str, str] = {}

"""The township auditor's anomaly rules: each one found on a small hand-built world (and not found just
short of it), each one found in the demo's anomaly cooperative with links an auditor can open, in the tea
cooperative only the household its bank batch could not pay, and a fixed number of queries whatever the size of the
township."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from samples import count_queries
from sqlalchemy import func, select

from cooperatives.access import CONSOLE
from cooperatives.models import Entity, Member, MonitoringPeriod, Payment
from cooperatives.operations import (
    create_entity,
    record,
    record_land_contract,
    register_household,
    register_member,
)
from cooperatives.workbook import SHEETS
from ledger.models import JournalEntry
from payouts.models import PayoutBatchLine, PayoutMember, StatementSnapshot
from payouts.oversight.anomalies import MESSAGES, RULES, find_anomalies, findings_table
from payouts.runs.operations import approve_run, create_run, post_run, publish_run, reverse_run, save_policy
from payouts.runs.policy import parse_policy
from payouts.statements.operations import answer_objection, record_objection, record_receipt

D = Decimal
POLICY = {"reserve_pct": "10", "reserve_quantify": "transactions", "deduct": ["inputs", "advances"], "notice_days": 7,
          "pools": [{"name": "patronage", "pct": "60", "basis": "transactions"},
                    {"name": "residual", "pct": "40", "basis": "capital"}]}
TODAY = dt.date(2026, 11, 1)


# ------------------------------------------------------------------------------------ a small world


class Small:
    """One township, one farmer cooperative ``T-COOP`` with households H1–H4 (H3 monitored), capital and
    deliveries in 2025, sales and costs: clean until a test adds something."""

    def __init__(self, session, *, households: int = 4, township: str = "测试乡", code: str = "T-COOP"):
        self.session = session
        self.entity = create_entity(session, code=code, name="测试蔬菜专业合作社", kind="farmer_coop",
                                    township=township, village="一村", first_year=2024, actor=CONSOLE)
        self.codes = []
        # 提现: the cash its deliveries, advances and cash payments are paid with (库存现金 never below zero)
        delivered = sum(500 + 100 * i for i in range(1, households + 1))
        self.rec("transfers", date="2025-01-10", from_account="bank", to_account="cash", amount=f"{30000 + delivered}.00")
        for i in range(1, households + 1):
            self.household(f"{code}-H{i}", monitoring="unstable" if i == 3 else "none", account=f"62170000{code}{i:04d}")
            self.member(f"{code}-H{i}", i, dt.date(2020, 1, 1))
            self.rec("capital", date="2025-01-10", member=f"{code}-H{i}", amount="1000.00")
            self.rec("deliveries", date="2025-06-10", member=f"{code}-H{i}", product="白菜", quantity=str(500 + 100 * i),
                     unit="jin", unit_price="1.00")
        self.rec("sales", date="2025-09-01", buyer="批发市场", product="白菜", amount="20000.00")
        self.rec("expenses", date="2025-10-01", category="operating", amount="3000.00")

    def household(self, code, *, monitoring="none", account=None, entity=None):
        register_household(self.session, entity or self.entity, code=code, head_name=f"户主{code[-2:]}", village="一村",
                           bank_account=account, monitoring=monitoring, actor=CONSOLE)
        self.codes.append(code)

    def member(self, code, no, joined, left=None):
        return register_member(self.session, self.entity, code=code, member_no=no, joined_on=joined, left_on=left, actor=CONSOLE)

    def rec(self, kind, /, entity=None, **raw):
        """Record as the accountant would who seeds an anomaly on purpose: over a plausibility warning (a payment
        above what is owed, trade outside the membership) confirmed (确认) — the township's rules still find it."""
        from cooperatives.forms import parse_form

        if any(c.name == "confirm" for c in SHEETS[kind].columns):
            raw.setdefault("confirm", "yes")
        values, problems = parse_form(kind, raw)
        assert not problems, problems
        if kind == "land":
            return record_land_contract(self.session, entity or self.entity, values, through_year=2025, actor=CONSOLE)
        return record(self.session, entity or self.entity, kind, values, actor=CONSOLE)

    def run(self, year=2025, *, policy=POLICY, notice_days=None, published=None, before_post=None):
        version = save_policy(self.session, self.entity, parse_policy(policy), actor=CONSOLE)
        run = create_run(self.session, self.entity, year, policy_version=version, actor=CONSOLE)
        if before_post:
            before_post()
        n = len(run.result["members"])
        approve_run(self.session, run, meeting_date=dt.date(year + 1, 3, 1), attended=n, votes_for=n, actor=CONSOLE)
        post_run(self.session, run, actor=CONSOLE)
        publish_run(self.session, run, notice_days=notice_days, today=published, actor=CONSOLE)
        if published:
            run.published_at = dt.datetime.combine(published, dt.time(9), tzinfo=dt.UTC)
        self.session.flush()
        return run

    def find(self, *, disclosures: bool = False, owed: bool = False, **kwargs):
        """The findings, but for ``missing_disclosure`` unless ``disclosures``: this world publishes no 财务公开, so
        every quarter it books in would be one; that rule is tested in test_disclosure.py (and counted in the
        queries here). And but for ``owed_after_notice`` unless ``owed``: this world pays no run, so every household
        of a published run would be one once its notice period is over."""
        kwargs.setdefault("today", TODAY)
        found = find_anomalies(self.session, township_id=self.entity.township_id, **kwargs)
        skip = {"missing_disclosure"} - ({"missing_disclosure"} if disclosures else set())
        skip |= set() if owed else {"owed_after_notice"}
        return [f for f in found if f.rule not in skip]


@pytest.fixture
def small(app, session):
    """(``app`` configures the keys that encrypt and hash bank accounts.)"""
    return Small(session)


def rules(findings) -> list[str]:
    return [f.rule for f in findings]


def test_a_clean_cooperative_with_a_posted_run_shows_nothing(small):
    small.run(published=dt.date(2026, 3, 2))
    assert small.find() == []
    assert small.find(year=2025, entity_id=small.entity.id) == []


# --------------------------------------------------------------------------------------------- rules


def test_patronage_is_measured_against_the_books_not_the_stale_draft(small):
    late = lambda: small.rec("sales", date="2025-12-28", buyer="食堂", product="白菜", amount="30000.00")  # noqa: E731
    run = small.run(before_post=late)
    (found,) = small.find()
    assert found.rule == "patronage_below_60" and found.entity_code == "T-COOP" and found.year == 2025
    # the run saw 20,000 − 3,000 costs − 3,000 deliveries = 14,000: reserve 1,400, DS 12,600, 60 % = 7,560;
    # the books have 30,000 more: 44,000 − the run's reserve 1,400 = 42,600, of which 7,560 is 17.75 %
    assert (found.params["run_distributable"], found.params["patronage"]) == ("12,600.00", "7,560.00")
    assert (found.params["distributable"], found.params["share"]) == ("42,600.00", "17.75%")
    assert found.links[0].endpoint == "runs.show" and found.links[0].values["run_id"] == run.id


def test_a_run_drafted_on_the_final_books_passes_the_patronage_rule(small):
    small.rec("sales", date="2025-12-28", buyer="食堂", product="白菜", amount="30000.00")
    small.run()
    assert "patronage_below_60" not in rules(small.find())


def test_run_lines_for_a_year_the_register_shows_no_membership(small, session):
    small.run(published=dt.date(2026, 3, 2))
    assert small.find() == []
    member = session.scalar(select(Member).where(Member.code == "T-COOP-H2"))
    member.left_on = dt.date(2025, 6, 30)            # left during the year: still a member of 2025
    session.flush()
    assert small.find() == []
    member.joined_on, member.left_on = dt.date(2026, 2, 1), None       # register corrected afterwards
    session.flush()
    found, trade = small.find()       # its 2025 deliveries are now non-member trade too
    assert trade.rule == "non_member_trade"
    assert (found.rule, found.year, found.params["household"]) == ("payout_to_non_member", 2025, "T-COOP-H2 户主H2")
    assert found.message.startswith("%(household)s receives")


def test_member_payments_before_joining_or_long_after_leaving(small):
    small.household("T-COOP-H5")
    small.member("T-COOP-H5", 5, dt.date(2026, 1, 1))
    small.household("T-COOP-H6")
    small.member("T-COOP-H6", 6, dt.date(2020, 1, 1), dt.date(2024, 12, 31))
    small.rec("payments", date="2026-01-01", member="T-COOP-H5", amount="100.00")      # on the day: fine
    small.rec("payments", date="2025-12-31", member="T-COOP-H6", amount="100.00")      # settlement: fine
    assert small.find() == []
    small.rec("payments", date="2025-12-20", member="T-COOP-H5", amount="2000.00")
    small.rec("payments", date="2026-01-05", member="T-COOP-H6", amount="300.00")
    found = small.find()
    assert rules(found) == ["payout_to_non_member"] * 2
    assert {f.params["household"]: f.params["amount"] for f in found} == {"T-COOP-H5 户主H5": "2,000.00",
                                                                          "T-COOP-H6 户主H6": "300.00"}
    assert {f.params["membership"] for f in found} == {"2026-01-01 ~", "2020-01-01 ~ 2024-12-31"}
    # each links the payment's own voucher (记账凭证), and is keyed by the payment
    payments = {p.member.code: p for p in small.session.scalars(select(Payment))}
    for f in found:
        payment = payments[f.params["household"].split()[0]]
        assert f.links[0].endpoint == "reports.vouchers_pdf"
        assert f.links[0].values["voucher"] == small.session.get(JournalEntry, payment.entry_id).voucher
        assert f.key == f"payout_to_non_member:T-COOP:{payment.date.year}:payments:{payment.id}"


def test_deliveries_outside_the_membership_are_non_member_trade(small):
    small.household("T-COOP-H5")
    small.member("T-COOP-H5", 5, dt.date(2025, 7, 1))
    small.rec("deliveries", date="2025-07-01", member="T-COOP-H5", product="白菜", quantity="100", unit="jin",
              unit_price="1.00")
    assert small.find() == []
    for on in ("2025-04-02", "2025-06-30"):
        small.rec("deliveries", date=on, member="T-COOP-H5", product="白菜", quantity="50", unit="jin", unit_price="1.20")
    (found,) = small.find()
    assert found.rule == "non_member_trade"
    assert (found.params["count"], found.params["amount"], found.params["first"], found.params["last"]) == (
        "2", "120.00", "2025-04-02", "2025-06-30")
    assert [link.endpoint for link in found.links] == ["entities.member", "entities.records"]


def test_labour_days_beyond_the_month_for_one_worker_even_across_entities(small, session):
    small.rec("labor", date="2025-01-15", member="T-COOP-H1", worker="张三", days="16", rate="100")
    small.rec("labor", date="2025-01-31", member="T-COOP-H1", worker="张三", days="15", rate="100")
    small.rec("labor", date="2025-01-31", member="T-COOP-H1", worker="李四", days="20", rate="100")   # another person
    small.rec("labor", date="2025-02-28", member="T-COOP-H2", days="28", rate="100")
    assert small.find() == []                  # 31 days in January, 28 in February 2025: possible
    other = create_entity(session, code="T-OTHER", name="测试茶叶合作社", kind="farmer_coop", township="测试乡",
                          first_year=2025, actor=CONSOLE)
    register_member(session, other, code="T-COOP-H1", member_no=1, joined_on=dt.date(2020, 1, 1), actor=CONSOLE)
    small.rec("labor", other, date="2025-01-20", member="T-COOP-H1", worker=" 张三 ", days="1", rate="100")
    found = small.find()
    assert rules(found) == ["labor_days_beyond_period"] * 2
    assert {f.entity_code for f in found} == {"T-COOP", "T-OTHER"}
    assert found[0].params == {"worker": "张三", "household": "T-COOP-H1", "days": "32", "month": "2025-01",
                               "limit": "31", "entities": "T-COOP、T-OTHER"}
    assert "%(entities)s" in found[0].message


def test_land_shares_beyond_the_contracted_area(small):
    small.rec("land", member="T-COOP-H1", contract_no="TD-1", area_mu="5", shares="5", start_on="2025-01-01")
    assert small.find() == []
    small.rec("land", member="T-COOP-H2", contract_no="TD-2", area_mu="5", shares="5.5", start_on="2025-01-01",
              end_on="2025-12-31")
    (found,) = small.find()
    assert (found.rule, found.year, found.params["shares"], found.params["area"]) == (
        "land_shares_beyond_area", None, "5.5", "5")
    assert small.find(year=2026) == []           # the contract ended with 2025


def test_one_bank_account_for_several_households_of_the_township(small, session):
    far = create_entity(session, code="F-COOP", name="外乡合作社", kind="farmer_coop", township="外乡", first_year=2025,
                        actor=CONSOLE)
    small.household("F-H1", account="62170000T-COOP0001", entity=far)        # the same number, another township
    assert small.find() == []
    small.household("T-COOP-H5", account="62170000T-COOP0001")
    small.member("T-COOP-H5", 5, dt.date(2020, 1, 1))
    (found,) = small.find()
    assert found.rule == "shared_bank_account" and found.params["count"] == "2"
    assert found.params["households"] == "T-COOP-H1 户主H1、T-COOP-H5 户主H5"
    assert "0001" in found.params["account"] and "62170000T-COOP0001" not in str(found.params)   # masked only
    assert [link.values["member_code"] for link in found.links] == ["T-COOP-H1", "T-COOP-H5"]


def test_large_cash_payments_at_the_threshold(small):
    small.rec("payments", date="2025-12-01", member="T-COOP-H1", amount="4999.99", method="cash")
    small.rec("payments", date="2025-12-01", member="T-COOP-H2", amount="9000.00", method="bank")
    small.rec("deliveries", date="2025-08-01", member="T-COOP-H4", product="白菜", quantity="6000", unit="jin",
              unit_price="1.00", paid="no")
    assert "large_cash_payment" not in rules(small.find())
    small.rec("payments", date="2025-12-02", member="T-COOP-H1", amount="5000.00", method="cash")
    small.rec("advances", date="2025-05-02", member="T-COOP-H3", amount="6000.00")
    small.rec("deliveries", date="2025-08-01", member="T-COOP-H2", product="白菜", quantity="6000", unit="jin",
              unit_price="1.00", paid="yes")
    found = [f for f in small.find() if f.rule == "large_cash_payment"]
    assert sorted((f.params["household"], f.params["amount"]) for f in found) == [
        ("T-COOP-H1 户主H1", "5,000.00"), ("T-COOP-H2 户主H2", "6,000.00"), ("T-COOP-H3 户主H3", "6,000.00")]
    lower = [f for f in small.find(cash_threshold=D("4000")) if f.rule == "large_cash_payment"]
    assert len(lower) == 4 and {f.params["threshold"] for f in lower} == {"4,000.00"}


def test_cash_payouts_of_a_run_against_signature(small, session):
    run = small.run(published=dt.date(2026, 3, 2))
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id,
                                                          StatementSnapshot.member_code == "T-COOP-H4"))
    net = D(snap.content["net"])
    record_receipt(session, snap, amount=net, method="cash", on=dt.date(2026, 4, 1), signed=True, actor=CONSOLE)
    assert small.find(cash_threshold=net + D("0.01")) == []
    (found,) = small.find(cash_threshold=net)
    assert found.message.startswith("%(household)s: payout of") and found.links[0].endpoint == "statements.run_statements"
    assert found.links[0].values["run_id"] == run.id and found.key.startswith("large_cash_payment:T-COOP:2026:receipts:")


def test_reversal_and_new_run_after_the_year_was_closed(small, session):
    first = small.run(published=dt.date(2026, 3, 2))
    assert small.find() == []
    reverse_run(session, first, actor=CONSOLE)
    small.run(policy={**POLICY, "reserve_pct": "15"}, published=dt.date(2026, 3, 20))
    (found,) = small.find()
    assert (found.rule, found.year) == ("entries_after_close", 2025)
    assert int(found.params["count"]) >= 2 and found.params["first"] > found.params["closing"]
    assert [link.endpoint for link in found.links] == ["reports.vouchers_pdf", "ledger.journal", "runs.index"]
    vouchers = found.links[0]           # the late vouchers themselves, printed
    assert (vouchers.values["year"], vouchers.values["from"]) == (2025, int(found.params["first"].split("-")[1]))
    assert found.key == (f"entries_after_close:T-COOP:2025:vouchers:{found.params['closing']}:"
                         f"{found.params['first']}-{found.params['last']}")


def test_notice_period_shorter_than_the_policy(small):
    small.run(notice_days=6, published=dt.date(2026, 3, 2))
    (found,) = small.find()
    assert found.rule == "notice_too_short"
    assert (found.params["days"], found.params["policy_days"], found.params["until"]) == ("6", "7", "2026-03-08")


def test_objection_unanswered_after_the_notice_period(small, session):
    run = small.run(published=dt.date(2026, 3, 2))
    snap = session.scalar(select(StatementSnapshot).where(StatementSnapshot.run_id == run.id))
    objection = record_objection(session, snap, line="total", text="数量不对", today=dt.date(2026, 3, 3), actor=CONSOLE)
    assert small.find(today=dt.date(2026, 3, 9)) == []            # the notice runs to 2026-03-09
    (found,) = small.find(today=dt.date(2026, 3, 10))
    assert found.rule == "objection_unanswered" and found.params["until"] == "2026-03-09"
    assert found.links[0].endpoint == "statements.objections"
    assert found.links[0].values["_anchor"] == f"objection-{objection.id}"          # the objection itself
    assert found.links[1].values["_anchor"] == f"m-{snap.member_code}"           # the household's lines in the run
    assert found.key == f"objection_unanswered:T-COOP:2025:objection:{objection.id}"
    answer_objection(session, objection, answer="已核实，数量无误。", actor=CONSOLE)
    assert small.find(today=dt.date(2026, 3, 10)) == []


def test_monitored_household_that_received_nothing_while_a_member(small):
    small.household("T-COOP-H5", monitoring="marginal")
    small.member("T-COOP-H5", 5, dt.date(2025, 3, 1))
    small.household("T-COOP-H6", monitoring="hardship")
    small.member("T-COOP-H6", 6, dt.date(2026, 1, 1))              # not a member in 2025
    assert small.find() == []                                        # no run for 2025 yet: nothing to judge
    small.run(published=dt.date(2026, 3, 2))
    (found,) = small.find()
    assert (found.rule, found.year, found.params["household"]) == ("monitored_household_benefit", 2025,
                                                                   "T-COOP-H5 户主H5")
    assert found.message.endswith("received nothing from this entity")


def test_monitored_household_whose_benefit_fell_year_on_year(small):
    for code, qty in (("T-COOP-H1", "800"), ("T-COOP-H3", "2000")):          # H3 monitored: 2,000 -> 800 斤
        small.rec("deliveries", date="2024-06-10", member=code, product="白菜", quantity=qty, unit="jin",
                  unit_price="1.00", paid_by="bank")
    small.rec("capital", date="2024-01-10", member="T-COOP-H1", amount="500.00")
    small.rec("sales", date="2024-09-01", buyer="批发市场", product="白菜", amount="9000.00")
    assert small.find() == []              # 2025 has no run yet: the year is not complete
    small.run(2024, published=dt.date(2025, 3, 2))
    small.run(2025, published=dt.date(2026, 3, 2))
    (found,) = small.find()
    assert (found.rule, found.year, found.params["previous"]) == ("monitored_household_benefit", 2025, "2024")
    assert D(found.params["before"].replace(",", "")) > D(found.params["now"].replace(",", "")) > 0
    assert small.find(year=2024) == []


# ------------------------------------------------------------------------- the county list's warnings


def monitor(session, township, tmp_path, rows, name="list"):
    """Import a county monitoring list (household code, category, identified, eliminated) for ``township``."""
    import csv

    from cooperatives.monitoring import import_monitoring_list, read_monitoring_list

    path = tmp_path / f"{name}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["household", "category", "identified_on", "eliminated_on"])
        writer.writerows(rows)
    return import_monitoring_list(session, read_monitoring_list(path), township=township, actor=CONSOLE)


@pytest.fixture
def listed(app, session, tmp_path):
    """监测乡: cooperative C (一村, fiscal support in 2024) with households M1–M4, cooperative E (二村, fiscal support
    in 2025) with M8; no run anywhere. M1 sells 100 then 70.00 (down exactly 30 %), M2 100 then 70.01 (29.99 %), M3
    is a member with nothing, M4 got 0.01 in 2025, M8 got nothing from E. All of 一村, on the county's list in 2024
    and 2025."""
    coop = create_entity(session, code="M-C", name="一村茶叶合作社", kind="farmer_coop", township="监测乡",
                         village="一村", first_year=2024, actor=CONSOLE)
    e = create_entity(session, code="M-E", name="二村果业合作社", kind="farmer_coop", township="监测乡", village="二村",
                      first_year=2025, actor=CONSOLE)
    small = Small.__new__(Small)
    small.session, small.entity, small.codes = session, coop, []
    for n in (1, 2, 3, 4):
        small.household(f"M-H{n}")
        small.member(f"M-H{n}", n, dt.date(2020, 1, 1))
    small.household("M-H8", entity=e)
    register_member(session, e, code="M-H8", member_no=1, joined_on=dt.date(2020, 1, 1), actor=CONSOLE)
    from cooperatives.forms import parse_form

    for entity, on, amount in ((coop, "2024-05-01", "10000.00"), (e, "2025-05-01", "5000.00")):
        values, problems = parse_form("subsidies", {"date": on, "source": "衔接资金", "kind": "fiscal",
                                                    "amount": amount, "quantify": "no"})
        assert not problems, problems
        record(session, entity, "subsidies", values, actor=CONSOLE)
    for code, before, now in (("M-H1", "100.00", "70.00"), ("M-H2", "100.00", "70.01"), ("M-H4", None, "0.01")):
        for on, price in (("2024-06-01", before), ("2025-06-01", now)):
            if price:
                small.rec("deliveries", date=on, member=code, product="茶叶", quantity="1", unit="kg",
                          unit_price=price, paid_by="bank")
    monitor(session, coop.township, tmp_path, [
        ["M-H1", "marginal", "2022-01-01", ""], ["M-H2", "marginal", "2022-01-01", ""],
        ["M-H3", "hardship", "2024-02-01", ""], ["M-H4", "unstable", "2021-04-01", ""],
        ["M-H8", "marginal", "2023-01-01", ""]])
    return small, e


def monitoring_findings(small, **kwargs):
    rules_ = {"nothing_received", "income_fell", "no_linkage"}
    return [f for f in small.find(**kwargs) if f.rule in rules_]


def test_monitoring_warnings_fire_at_their_thresholds_and_not_just_short(listed, session, monkeypatch):
    from payouts.oversight.anomalies import TOWNSHIP_ONLY_RULES

    small, e = listed
    found = monitoring_findings(small)
    assert [(f.rule, f.entity_code, f.year, f.record) for f in found] == [
        ("nothing_received", "M-C", 2025, "household:M-H3:nothing"),
        ("income_fell", "M-C", 2025, "household:M-H1:fell"),        # exactly 30 %; M-H2 (29.99 %) is not listed
        ("nothing_received", "M-E", 2025, "household:M-H8:nothing"),
        ("no_linkage", "M-E", 2025, "entity")]                      # C reached M-H1, M-H2 and M-H4 in 2025
    nothing, fell, _nothing_e, gap = found
    assert nothing.key == "nothing_received:M-C:2025:household:M-H3:nothing"
    assert fell.detail == ("M-H1 户主H1, a monitored household: Income from the cooperatives fell from 100.00 yuan in "
                           "2024 to 70.00 yuan in 2025, down 30.00 % (the threshold is 30 %).")
    assert nothing.detail.startswith("M-H3 户主H3, a monitored household: A member in 2025, the household received "
                                     "nothing")
    assert gap.detail == ("二村果业合作社 received fiscal support, but none of the 5 monitored households of its "
                          "villages received anything from it in 2025.")
    assert gap.message % gap.params == gap.detail and all(isinstance(v, str) for v in gap.params.values())
    # links: the household's member page; the households the entity reached
    assert [(link.endpoint, link.values) for link in fell.links] == [
        ("entities.member", {"code": "M-C", "member_code": "M-H1"})]
    assert [(link.endpoint, link.values) for link in gap.links] == [
        ("oversight.linkage_entity", {"code": "M-E", "year": 2025})]
    assert {f.rule for f in found} <= TOWNSHIP_ONLY_RULES and RULES["no_linkage"].action
    assert "unstable" not in str([f.params for f in found]) and "marginal" not in str([f.params for f in found])
    # the same for the year asked and for one entity; nothing for a year not over
    assert monitoring_findings(small, year=2025) == found
    assert [f.rule for f in monitoring_findings(small, entity_id=e.id)] == ["nothing_received", "no_linkage"]
    assert monitoring_findings(small, year=2025, today=dt.date(2025, 12, 31)) == []
    # just short: a threshold of 30.01 % leaves M-H1 out, 29.99 % takes M-H2 in
    monkeypatch.setenv("COOP_INCOME_FALL_PCT", "30.01")
    assert "income_fell" not in rules(monitoring_findings(small))
    monkeypatch.setenv("COOP_INCOME_FALL_PCT", "29.99")
    assert [f.record for f in monitoring_findings(small) if f.rule == "income_fell"] == [
        "household:M-H1:fell", "household:M-H2:fell"]
    monkeypatch.delenv("COOP_INCOME_FALL_PCT")
    # one cent is something: M-H3 and M-H8 drop out once they received it
    small.rec("deliveries", date="2025-07-01", member="M-H3", product="茶叶", quantity="1", unit="kg",
              unit_price="0.01", paid_by="bank")
    small.rec("deliveries", entity=e, date="2025-07-01", member="M-H8", product="茶叶", quantity="1", unit="kg",
              unit_price="0.01", paid_by="bank")
    assert rules(monitoring_findings(small)) == ["income_fell"]


def test_a_household_waits_for_the_distribution_of_its_entity(listed, session):
    """An entity that distributed the year before and has no run for the year yet: its members' income is not known."""
    small, _e = listed
    small.rec("capital", date="2024-01-10", member="M-H3", amount="1000.00")
    small.rec("sales", date="2024-09-01", buyer="批发市场", product="茶叶", amount="5000.00")
    small.run(2024, policy={**POLICY, "deduct": []}, published=dt.date(2025, 3, 2))
    found = [(f.rule, f.entity_code, f.record) for f in monitoring_findings(small, year=2025)]
    assert found == [("nothing_received", "M-E", "household:M-H8:nothing"),        # C's 2025 run is still to come
                     ("no_linkage", "M-E", "entity")]
    small.run(2025, policy={**POLICY, "deduct": []}, published=dt.date(2026, 3, 2))
    assert ("income_fell", "M-C", "household:M-H1:fell") in [
        (f.rule, f.entity_code, f.record) for f in monitoring_findings(small, year=2025)]


def test_monitoring_findings_are_handled_with_a_note_like_the_others(listed, session):
    from payouts.oversight.handling import handlings, mark_handled

    small, e = listed
    found = monitoring_findings(small)
    for finding in found:
        entity = small.entity if finding.entity_code == "M-C" else e
        mark_handled(session, entity, key=finding.key, note=f"已走访 {finding.rule}", actor=CONSOLE)
    notes = handlings(session, [small.entity.id, e.id])
    table = findings_table(monitoring_findings(small), notes)
    assert [row["handled"].endswith(f"已走访 {row['rule_code']}") for row in table.rows] == [True] * 4
    assert [row["rule"] for row in table.rows] == [RULES[f.rule].title for f in found]


# ------------------------------------------------------------------------------------ shape and cost


def test_households_still_owed_after_the_notice_period_with_no_batch(small, session):
    run = small.run(published=dt.date(2026, 3, 2))            # on notice to 2026-03-09
    assert run.notice_until == dt.date(2026, 3, 9)
    assert small.find(owed=True, today=dt.date(2026, 3, 9)) == []          # the last day of the notice period
    found = small.find(owed=True, today=dt.date(2026, 3, 12))
    assert rules(found) == ["owed_after_notice"] * 4
    first = found[0]
    net = session.scalar(select(PayoutMember.net).where(PayoutMember.run_id == run.id,
                                                        PayoutMember.code == "T-COOP-H1"))
    assert first.message.endswith("no bank batch is paying it") and first.params["days"] == "3"
    assert first.params["amount"] == f"{net:,.2f}" and first.params["until"] == "2026-03-09"
    assert first.key == f"owed_after_notice:T-COOP:2025:run:{run.id}:member:T-COOP-H1:owed"
    assert [link.endpoint for link in first.links] == ["batches.run_page", "runs.show"]
    assert first.links[0].values == {"code": "T-COOP", "run_id": run.id}           # the run's bank batches
    assert first.links[1].values["_anchor"] == "m-T-COOP-H1"
    # paid by hand (part of it leaves the household owed): only those paid in full drop out
    snaps = {s.member_code: s for s in session.scalars(select(StatementSnapshot).where(
        StatementSnapshot.run_id == run.id))}
    record_receipt(session, snaps["T-COOP-H1"], amount=net, method="bank", on=dt.date(2026, 3, 11), actor=CONSOLE)
    record_receipt(session, snaps["T-COOP-H2"], amount=D("1.00"), method="bank", on=dt.date(2026, 3, 11),
                   actor=CONSOLE)
    found = small.find(owed=True, today=dt.date(2026, 3, 12))
    assert [f.record.split(":")[3] for f in found] == ["T-COOP-H2", "T-COOP-H3", "T-COOP-H4"]
    assert small.find(owed=True, year=2024) == []


def _return_file(data: bytes, failed: dict[int, str]) -> bytes:
    """The bank's return file of a batch file (xlsx): its lines back, 成功 but for the 序号 of ``failed``."""
    import io

    import openpyxl

    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    header = next(n for n, r in enumerate(rows) if r and r[0] == "序号")
    out = openpyxl.Workbook()
    out.active.append(["序号", "户名", "账号", "金额", "状态", "失败原因"])
    for r in rows[header + 1:]:
        if isinstance(r[0], int):
            out.active.append([*r[:4], "失败" if r[0] in failed else "成功", failed.get(r[0])])
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def test_a_household_the_bank_could_not_pay_is_listed_with_the_banks_reason(small, session):
    from cooperatives.demo import bank_card
    from cooperatives.operations import correct_account
    from payouts.batches.operations import batch_file, create_batch, mark_sent, read_results

    members = {m.code: m for m in session.scalars(select(Member).where(Member.entity_id == small.entity.id))}
    for n in (1, 2):            # two households with a valid card; H3 and H4 have none the bank would take
        correct_account(session, small.entity, members[f"T-COOP-H{n}"], bank_account=bank_card(10**11 + n),
                        actor=CONSOLE)
    run = small.run(published=dt.date(2026, 3, 2))
    batch = create_batch(session, run, actor=CONSOLE)
    assert batch.count == 2
    mark_sent(session, batch, on=dt.date(2026, 3, 12), actor=CONSOLE)
    # with the bank: not listed; listed apart (no valid card): listed, no batch paying them
    found = small.find(owed=True)
    assert [(f.record.split(":")[3], f.message == MESSAGES["owed_no_batch"]) for f in found] == [
        ("T-COOP-H3", True), ("T-COOP-H4", True)]
    lines = dict(session.execute(select(PayoutBatchLine.member_code, PayoutBatchLine.seq).where(
        PayoutBatchLine.batch_id == batch.id, PayoutBatchLine.seq.is_not(None))).all())
    data = batch_file(session, batch, fmt="xlsx", reason="test", actor=CONSOLE)
    read_results(session, batch, _return_file(data, {lines["T-COOP-H2"]: "账户已销户"}), "back.xlsx",
                 on=dt.date(2026, 3, 14), actor=CONSOLE)
    found = small.find(owed=True)
    assert [f.record.split(":")[3] for f in found] == ["T-COOP-H2", "T-COOP-H3", "T-COOP-H4"]
    failed = found[0]
    assert failed.message == MESSAGES["owed_failed"] and failed.params["reason"] == "账户已销户"
    assert failed.params["batch"] == "第1批" and "the bank could not pay it in batch 第1批: 账户已销户" in failed.detail
    # corrected and in a new batch: with the bank again, not listed; paid: not listed
    correct_account(session, small.entity, members["T-COOP-H2"], bank_account=bank_card(10**11 + 7), actor=CONSOLE)
    second = create_batch(session, run, actor=CONSOLE)
    assert second.count == 1
    assert [f.record.split(":")[3] for f in small.find(owed=True)] == ["T-COOP-H3", "T-COOP-H4"]
    data = batch_file(session, second, fmt="xlsx", reason="test", actor=CONSOLE)
    read_results(session, second, _return_file(data, {}), "back2.xlsx", on=dt.date(2026, 3, 20), actor=CONSOLE)
    assert [f.record.split(":")[3] for f in small.find(owed=True)] == ["T-COOP-H3", "T-COOP-H4"]


def test_findings_are_sorted_and_the_table_keeps_message_and_params(small):
    small.rec("land", member="T-COOP-H1", contract_no="TD-1", area_mu="1", shares="2", start_on="2025-01-01")
    small.rec("payments", date="2025-12-02", member="T-COOP-H1", amount="5000.00", method="cash")
    small.run(notice_days=3, published=dt.date(2026, 3, 2))
    found = small.find()
    assert rules(found) == ["land_shares_beyond_area", "large_cash_payment", "notice_too_short"]
    table = findings_table(found)
    assert [c.key for c in table.columns] == ["entity", "entity_name", "year", "rule", "detail", "action", "handled"]
    assert table.rows[1]["action"] == RULES["large_cash_payment"].action and table.rows[1]["handled"] == ""
    row = table.rows[1]
    assert row["rule"] == RULES["large_cash_payment"].title and row["message"] % row["params"] == row["detail"]
    assert row["year"] == 2025 and table.rows[0]["year"] is None
    assert "%" not in "".join(r.title + r.explanation for r in RULES.values())    # safe for gettext %-formatting


def test_a_fixed_number_of_queries_whatever_the_size_of_the_township(app, session, tmp_path):
    def world(code, households, extra):
        small = Small(session, households=households, township=f"乡{code}", code=code)
        # the county's list: every household monitored, one more a member with nothing (nothing_received), a
        # fiscal subsidy (no_linkage is judged)
        small.household(f"{code}-H0")
        small.member(f"{code}-H0", households + 1, dt.date(2020, 1, 1))
        small.rec("subsidies", date="2025-02-01", source="衔接资金", kind="fiscal", amount="1000.00", quantify="no")
        monitor(session, small.entity.township, tmp_path, [[c, "marginal", "2022-01-01", ""] for c in small.codes],
                name=code)
        for month in range(1, extra + 1):          # 提现 for the month's cash payments
            small.rec("transfers", date=f"2025-{month:02d}-12", from_account="bank", to_account="cash",
                      amount=f"{households * 6000}.00")
        for i in range(1, households + 1):
            for month in range(1, extra + 1):
                small.rec("labor", date=f"2025-{month:02d}-10", member=f"{code}-H{i}", days="3", rate="100")
                small.rec("payments", date=f"2025-{month:02d}-12", member=f"{code}-H{i}", amount="6000.00",
                          method="cash")
        small.rec("land", member=f"{code}-H1", contract_no=f"{code}-TD", area_mu="1", shares="2", start_on="2025-01-01")
        small.run(notice_days=3, published=dt.date(2026, 3, 2))
        return small

    little, large = world("S", 3, 1), world("L", 25, 4)
    counts = {}
    for name, w in (("small", little), ("large", large)):
        findings = []
        counts[name] = count_queries(session, lambda w=w, findings=findings: findings.extend(w.find()))
        assert len([f for f in findings if f.rule == "large_cash_payment"]) == (3 if name == "small" else 100)
        assert [f.record for f in findings if f.rule == "nothing_received"] == [f"household:{w.entity.code}-H0:nothing"]
    # about twenty for the books' rules, about twenty more for the county list's warnings of the one year judged
    assert counts["small"] == counts["large"] <= 45


# ----------------------------------------------------------------------------------------- the demo


CSRF = re.compile(r'name="csrf_token"[^>]*\bvalue="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def test_the_demo_holds_every_rule_in_its_anomaly_coop_and_none_in_the_tea_coop(app, session):
    from flask import url_for

    from payouts.admin.demo import load_demo_world
    from payouts.admin.demo_anomalies import VEG

    load_demo_world(session)
    session.commit()
    veg = session.scalar(select(Entity).where(Entity.code == VEG))
    tea = session.scalar(select(Entity).where(Entity.code == "JGP-TEA"))
    assert veg.township_id == tea.township_id
    found = find_anomalies(session, township_id=veg.township_id, today=TODAY)
    # the books' rules: seeded once each in the anomaly cooperative; the county list's warnings (nothing_received,
    # income_fell, no_linkage) come from the demo's monitoring list, wherever its households are
    listed = {"nothing_received", "income_fell", "no_linkage"}
    books = [f for f in found if f.rule not in listed]
    assert {f.rule for f in books if f.entity_code == VEG} == set(RULES) - listed and len(RULES) == 16
    assert {f.entity_code for f in books} == {VEG, "JGP-TEA"}
    assert len([f for f in books if f.entity_code == VEG]) == 14          # docs/DEMO.md: one of each, two monitored
    # the tea cooperative's one finding: the household whose card was closed, still owed after its bank batch failed
    [owed] = [f for f in find_anomalies(session, township_id=tea.township_id, entity_id=tea.id, today=TODAY)
              if f.rule not in listed]
    assert owed.rule == "owed_after_notice" and owed.record.endswith(":member:JGP-H042:owed")
    assert owed.params["reason"] == "账户已销户" and owed.params["batch"] == "第1批"
    assert tea.id in {e for (e,) in session.execute(select(Entity.id).where(Entity.township_id == tea.township_id))}
    others = {e.township_id for e in session.scalars(select(Entity).where(Entity.code != VEG))} - {veg.township_id}
    everywhere = list(found)
    for township_id in others:
        elsewhere = find_anomalies(session, township_id=township_id, today=TODAY)
        assert [f for f in elsewhere if f.rule not in listed] == []
        everywhere += elsewhere
    # the demo's county list (docs/DEMO.md): each warning once — the anomaly cooperative's household whose income
    # fell and its member that received nothing, one supported entity that reached no monitored household
    assert session.scalar(select(func.count()).select_from(MonitoringPeriod).where(MonitoringPeriod.list_id.is_not(None)))
    warned = sorted((f.rule, f.record) for f in everywhere if f.rule in listed)
    assert warned == [("income_fell", "household:VEG-H005:fell"), ("no_linkage", "entity"),
                      ("nothing_received", "household:VEG-H006:nothing")], warned

    client = app.test_client()
    page = client.get("/login").data.decode()
    token = next(g for g in CSRF.search(page).groups() if g)
    assert client.post("/login", data={"username": "nongjing", "password": "demo-audit-2025",
                                       "csrf_token": token}).status_code == 302
    urls = set()
    with app.test_request_context():
        for finding in found:
            assert finding.links, finding.rule
            for link in finding.links:
                urls.add(url_for(link.endpoint, **link.values))
    for url in sorted(urls):
        assert client.get(url).status_code == 200, url


def test_the_cash_threshold_setting_from_the_environment():
    from payouts.settings import Settings

    base = {"COOP_SECRET_KEY": "k"}
    assert Settings.from_env(base).cash_payment_threshold == D("5000.00")
    assert Settings.from_env({**base, "COOP_CASH_PAYMENT_THRESHOLD": "8000"}).cash_payment_threshold == D("8000.00")
    for bad in ("abc", "-1", "0", "12.345", "NaN"):
        with pytest.raises(ValueError, match="COOP_CASH_PAYMENT_THRESHOLD"):
            Settings.from_env({**base, "COOP_CASH_PAYMENT_THRESHOLD": bad})

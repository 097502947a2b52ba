"""财务公开 (issue 15 §7): the disclosure of a quarter or a month read from the books, its publication (a frozen
snapshot with its hash, date, publisher and public code; a republication supersedes and keeps the earlier one), its
A3 print read back with ``pdftotext`` and ``pdfinfo``, and the township's ``missing_disclosure`` rule.

The small world: a farmer cooperative ``DS-COOP`` with three households and one or two records in every quarter
of 2025 — 提现 (not a payment), capital, deliveries paid by bank, a sale, an expense, an advance to 王大山 and a
voucher whose memo names him — so that each figure can be traced to the books by hand and by the ledger's own
queries (``ledger.queries.year_profit``, ``ledger.books.balance_table`` and ``money_journal``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from samples import count_queries
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from cooperatives.access import CONSOLE, Forbidden, Principal
from cooperatives.forms import parse_form
from cooperatives.models import AuditLog, Entity
from cooperatives.operations import (
    create_entity,
    post_vouchers,
    record,
    register_household,
    register_member,
    void_record,
)
from ledger.books import balance_table, money_journal
from ledger.books import period as period_dates
from ledger.queries import year_profit
from payouts.models import DisclosurePublication
from payouts.oversight.anomalies import RULES, find_anomalies
from payouts.reports.disclosure import queries
from payouts.reports.disclosure.build import (
    NOTABLE_AMOUNT,
    Period,
    build_disclosure,
    digest_of_data,
    from_data,
    to_data,
)
from payouts.reports.disclosure.document import archive_parts, disclosure_html, disclosure_pdf
from payouts.reports.disclosure.operations import DisclosureError, publish_disclosure
from payouts.runs.operations import close_year

D = Decimal
PDFTOTEXT, PDFINFO = shutil.which("pdftotext"), shutil.which("pdfinfo")
PUBLIC_URL = "https://coop.example.cn"
AFTER = dt.datetime(2026, 1, 20, 9, tzinfo=dt.UTC)       # after every quarter of 2025


def rec(session, entity, kind, **raw):
    values, problems = parse_form(kind, raw)
    assert not problems, problems
    return record(session, entity, kind, values, actor=CONSOLE)


def small_coop(session, code="DS-COOP", township="公开乡") -> Entity:
    """2025, by quarter:
    Q1 提现 3,000 (bank→cash), capital 3 × 10,000 (bank);
    Q2 deliveries 王大山 1,200 kg × 5.00 = 6,000 and 李秀英 200 kg × 5.00 = 1,000, paid by bank;
    Q3 sale 50,000 (bank), expense 8,000 operating (bank) and 1,200 management (cash);
    Q4 advance 6,000 to 王大山 (cash, after a 提现 of 6,000), voucher 12-20 "支付王大山运费" Dr 521 / Cr 102 5,500."""
    entity = create_entity(session, code=code, name="公开蔬菜专业合作社", kind="farmer_coop", township=township,
                           village="一村", first_year=2025, actor=CONSOLE)
    for i, name in enumerate(("王大山", "李秀英", "张建国"), 1):
        register_household(session, entity, code=f"{code}-H{i}", head_name=name, village="一村", actor=CONSOLE)
        register_member(session, entity, code=f"{code}-H{i}", member_no=i, joined_on=dt.date(2024, 1, 1), actor=CONSOLE)
    rec(session, entity, "transfers", date="2025-01-05", from_account="bank", to_account="cash", amount="3000.00")
    for i in (1, 2, 3):
        rec(session, entity, "capital", date="2025-01-10", member=f"{code}-H{i}", amount="10000.00")
    rec(session, entity, "deliveries", date="2025-05-10", member=f"{code}-H1", product="白菜", quantity="1200",
        unit="kg", unit_price="5.00", paid_by="bank")
    rec(session, entity, "deliveries", date="2025-05-12", member=f"{code}-H2", product="白菜", quantity="200",
        unit="kg", unit_price="5.00", paid_by="bank")
    rec(session, entity, "sales", date="2025-08-01", buyer="批发市场", product="白菜", amount="50000.00")
    rec(session, entity, "expenses", date="2025-09-01", category="operating", amount="8000.00", payee="冷库租金")
    rec(session, entity, "expenses", date="2025-09-02", category="management", amount="1200.00", paid_by="cash")
    rec(session, entity, "transfers", date="2025-10-08", from_account="bank", to_account="cash", amount="6000.00")
    rec(session, entity, "advances", date="2025-10-09", member=f"{code}-H1", amount="6000.00")
    post_vouchers(session, entity, [{"date": dt.date(2025, 12, 20), "memo": "支付王大山运费", "lines": [
        {"account": "521", "debit": D("5500.00")}, {"account": "102", "credit": D("5500.00")}]}], actor=CONSOLE)
    session.flush()
    return entity


@pytest.fixture
def coop(app, session):
    """(``app`` configures the keys the household records need.)"""
    return small_coop(session)


def q(key: str) -> Period:
    return Period.parse(key)


# ------------------------------------------------------------------------------------------------- periods


def test_periods_parse_and_name_themselves():
    assert (q("2025-Q3").start, q("2025-Q3").end, q("2025-Q3").label) == (dt.date(2025, 7, 1), dt.date(2025, 9, 30),
                                                                          "2025年第三季度")
    assert (q("2024-02").end, q("2024-02").label, q("2024-02").months) == (dt.date(2024, 2, 29), "2024年2月", (2,))
    assert q(" 2025-q4 ").key == "2025-Q4" and Period.quarter_of(dt.date(2025, 12, 31)) == q("2025-Q4")
    for bad in ("2025", "2025-Q5", "2025-13", "2025-3", "25-Q1", "", "2025-Q1x"):
        with pytest.raises(ValueError):
            Period.parse(bad)
    assert sorted([q("2025-Q1"), q("2025-03"), q("2025-01")], key=lambda p: p.sort_key) == [
        q("2025-01"), q("2025-03"), q("2025-Q1")]


# ------------------------------------------------------------------------------------------------- builder


def test_income_and_spending_by_item_of_each_quarter(coop, session):
    figures = {key: build_disclosure(session, coop, q(key)) for key in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")}
    income = {k: {i.code: i.amount for i in d.income if i.amount} for k, d in figures.items()}
    expense = {k: {i.code: i.amount for i in d.expense if i.amount} for k, d in figures.items()}
    assert income == {"2025-Q1": {}, "2025-Q2": {}, "2025-Q3": {"501": D("50000.00")}, "2025-Q4": {}}
    assert expense == {"2025-Q1": {}, "2025-Q2": {"521": D("7000.00")},
                       "2025-Q3": {"521": D("8000.00"), "523": D("1200.00")}, "2025-Q4": {"521": D("5500.00")}}
    q3 = figures["2025-Q3"]
    assert [i.code for i in q3.income] == ["501", "502", "511"]                  # every income account of the chart
    assert {str(i.amount) for i in q3.income[1:]} == {"0.00"}                     # never -0.00
    assert [i.code for i in q3.expense] == ["521", "522", "523", "524", "529", "531"]
    assert (q3.income_total, q3.expense_total, q3.surplus) == (D("50000.00"), D("9200.00"), D("40800.00"))
    assert (q3.income_ytd, q3.expense_ytd, q3.surplus_ytd) == (D("50000.00"), D("16200.00"), D("33800.00"))
    assert figures["2025-Q4"].surplus_ytd == D("28300.00")


def test_the_quarters_add_up_to_the_years_result_and_the_money_to_the_journals(coop, session):
    """Ties with the ledger's own queries: the year's income and expense accounts (year_profit), the 科目余额表 of the
    quarter, and the 现金/银行存款日记账."""
    book = coop.book
    quarters = [build_disclosure(session, coop, Period(2025, quarter=n)) for n in range(1, 5)]
    by_code: dict[str, Decimal] = {}
    for d in quarters:
        for item in d.income:
            by_code[item.code] = by_code.get(item.code, D(0)) - item.amount
        for item in d.expense:
            by_code[item.code] = by_code.get(item.code, D(0)) + item.amount
        start, end = d.period.start, d.period.end
        table = {r.code: r for r in balance_table(session, book, start, end, by_member=False).rows}
        moved = sum((r.credit - r.debit for r in table.values() if r.code[0] == "5"), D(0))
        assert d.surplus == moved, d.period.key            # income − expense = the P&L accounts' movement
        for line in d.money:
            journal = money_journal(session, book, line.code, start, end)
            assert (line.opening, line.received, line.paid, line.closing) == (
                journal.opening, journal.debit, journal.credit, journal.closing), (d.period.key, line.code)
    assert {c: a for c, a in by_code.items() if a} == year_profit(session, book, 2025)
    assert quarters[-1].surplus_ytd == sum((d.surplus for d in quarters), D(0)) == -sum(
        year_profit(session, book, 2025).values(), D(0))
    assert quarters[0].money[0].opening == D("0.00") and quarters[-1].money_total().closing == sum(
        (r.closing for r in balance_table(session, book, *period_dates(2025), by_member=False).rows
         if r.code in ("101", "102")), D(0))


def test_a_closed_year_keeps_its_fourth_quarter(coop, session):
    """The year-end closing carries income and expense into 本年盈余 on 12-31: left out, Q4 is the same."""
    before = to_data(build_disclosure(session, coop, q("2025-Q4")))
    close_year(session, coop, 2025, actor=CONSOLE)
    assert to_data(build_disclosure(session, coop, q("2025-Q4"))) == before
    assert to_data(build_disclosure(session, coop, q("2025-12")))["totals"]["expense"] == "5500.00"


def test_notable_payments_with_persons_names_masked(coop, session):
    q2, q4 = build_disclosure(session, coop, q("2025-Q2")), build_disclosure(session, coop, q("2025-Q4"))
    (delivery,) = q2.notable                    # 王大山's 6,000 (李秀英's 1,000 is under the threshold)
    assert (delivery.amount, delivery.accounts, delivery.payee, delivery.date) == (
        D("6000.00"), "521 经营支出", "王*山", dt.date(2025, 5, 10))
    advance, freight = q4.notable               # the 提现 of 6,000 moved money, it paid nothing: not listed
    assert (advance.amount, advance.payee, advance.accounts) == (D("6000.00"), "王*山", "114 成员往来")
    assert (freight.amount, freight.memo, freight.voided) == (D("5500.00"), "", False)     # the memo names him: unpublished
    assert "王大山" not in json.dumps(to_data(q4), ensure_ascii=False)
    assert build_disclosure(session, coop, q("2025-Q1")).notable == ()
    assert [n.amount for n in build_disclosure(session, coop, q("2025-Q3")).notable] == [D("8000.00")]
    assert len(build_disclosure(session, coop, q("2025-Q2"), threshold=D("1000.00")).notable) == 2
    assert NOTABLE_AMOUNT == D("5000.00")


def test_a_voided_payment_is_marked_and_its_reversal_counted(coop, session):
    from cooperatives.models import Expense

    expense = session.scalar(select(Expense).where(Expense.entity_id == coop.id, Expense.amount == D("8000.00")))
    void_record(session, coop, "expenses", expense.id, reason="重复录入", actor=CONSOLE)
    d = build_disclosure(session, coop, q("2025-Q3"))
    (voided,) = d.notable
    assert voided.voided and voided.amount == D("8000.00")
    assert {i.code: i.amount for i in d.expense if i.amount} == {"523": D("1200.00")}


def test_json_round_trip_and_a_digest_of_the_figures(coop, session):
    d = build_disclosure(session, coop, q("2025-Q4"))
    data = to_data(d)
    assert from_data(json.loads(json.dumps(data))) == d
    assert data["totals"]["surplus"] == "-5500.00" and data["money"][0]["code"] == "101"
    assert digest_of_data({**data, "entity_name": "改名"}) == digest_of_data(data)       # a name is no figure
    assert digest_of_data({**data, "notable": []}) != digest_of_data(data)


def test_a_fixed_number_of_queries_whatever_the_number_of_payments(coop, session):
    session.expire_all()
    few = count_queries(session, lambda: build_disclosure(session, session.get(Entity, coop.id), q("2025-Q4")))
    for day in range(1, 21):
        rec(session, coop, "payments", date=f"2025-11-{day:02d}", member=f"{coop.code}-H{day % 3 + 1}",
            amount="5000.00", method="bank", confirm="yes")
    session.expire_all()
    d = []
    many = count_queries(session, lambda: d.append(build_disclosure(session, session.get(Entity, coop.id),
                                                                     q("2025-Q4"))))
    assert len(d[0].notable) == 22 and many == few <= 10


# ----------------------------------------------------------------------------------------------- publishing


def publish(session, entity, key, *, at=AFTER, actor=CONSOLE):
    return publish_disclosure(session, entity, q(key), actor=actor, at=at)


def test_publishing_freezes_the_figures_with_date_publisher_and_code(coop, session):
    from cooperatives.users import create_user

    user = create_user(session, username="ds-acc", password="a long passphrase", role="accountant",
                       entity_id=coop.id, actor=CONSOLE)
    publication = publish(session, coop, "2025-Q3", actor=Principal.of_user(user))
    session.expire_all()
    stored = session.get(DisclosurePublication, publication.id)
    assert (stored.period, stored.starts_on, stored.ends_on) == ("2025-Q3", dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert stored.published_by == user.id and re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", stored.code)
    assert queries.published_on(stored) == dt.date(2026, 1, 20)
    content = stored.content
    assert content["totals"]["income"] == "50000.00" and content["entity"]["name"] == "公开蔬菜专业合作社"
    assert stored.digest == digest_of_data(content) == digest_of_data(to_data(build_disclosure(session, coop,
                                                                                               q("2025-Q3"))))
    assert session.scalar(select(AuditLog.action).where(AuditLog.target == f"disclosure:{stored.id}")) == \
        "publish-disclosure"
    assert queries.standing(session, stored) == queries.Standing(None, True, ())


def test_a_period_is_published_once_it_has_ended_and_again_only_after_a_correction(coop, session):
    with pytest.raises(DisclosureError, match="has not ended") as refused:
        publish(session, coop, "2025-Q4", at=dt.datetime(2025, 12, 31, 15, 59, tzinfo=dt.UTC))   # 23:59 in China
    assert refused.value.problem.code == "period_not_ended"
    with pytest.raises(DisclosureError) as refused:
        publish(session, coop, "2024-Q4")
    assert refused.value.problem.code == "before_books"
    first = publish(session, coop, "2025-Q3")
    with pytest.raises(DisclosureError) as refused:
        publish(session, coop, "2025-Q3")
    assert refused.value.problem.code == "unchanged"
    # a sale booked late into September: the books changed, the page says so, and the period is published again
    rec(session, coop, "sales", date="2025-09-28", buyer="食堂", product="白菜", amount="1000.00")
    assert queries.standing(session, first).matches_books is False
    second = publish(session, coop, "2025-Q3", at=AFTER + dt.timedelta(days=30))
    assert second.supersedes_id == first.id and second.code != first.code
    assert (first.content["totals"]["income"], second.content["totals"]["income"]) == ("50000.00", "51000.00")
    old, new = queries.standing(session, first), queries.standing(session, second)
    assert (old.superseded_by.id, old.matches_books) == (second.id, False)
    assert (new.superseded_by, new.matches_books, [p.id for p in new.earlier]) == (None, True, [first.id])
    assert queries.current_publication(session, coop.id, q("2025-Q3")).id == second.id
    assert [p.id for p in queries.publications(session, coop.id, year=2025)] == [first.id, second.id]


def test_publications_are_append_only_in_the_database(coop, session):
    publication = publish(session, coop, "2025-Q2")
    for sql in ("UPDATE payout_disclosures SET digest = 'x' WHERE id = :id",
                "DELETE FROM payout_disclosures WHERE id = :id"):
        savepoint = session.begin_nested()
        with pytest.raises(DBAPIError, match="disclosure"):
            session.execute(text(sql), {"id": publication.id})
        savepoint.rollback()
    assert session.scalar(select(func.count(DisclosurePublication.id))) == 1


def test_only_the_entitys_accountant_publishes(coop, session):
    other = small_coop(session, code="DS-OTHER", township="别乡")
    for actor in (Principal("accountant", user_id=901, entity_id=other.id),
                  Principal("auditor", user_id=902, township_id=coop.township_id),
                  Principal("member", user_id=903, household_id=1), Principal.of_household(1)):
        with pytest.raises(Forbidden):
            publish(session, coop, "2025-Q1", actor=actor)
    assert session.scalar(select(func.count(DisclosurePublication.id))) == 0
    assert publish(session, coop, "2025-Q1", actor=Principal("accountant", entity_id=coop.id))


# ------------------------------------------------------------------------------------------------------ print


@pytest.mark.skipif(not (PDFTOTEXT and PDFINFO), reason="poppler-utils (pdftotext, pdfinfo) not installed")
def test_the_a3_print_reads_back_with_its_chinese_labels_amounts_date_and_code(coop, session, tmp_path):
    first = publish(session, coop, "2025-Q4")
    rec(session, coop, "expenses", date="2025-12-30", category="other", amount="100.00")
    publication = publish(session, coop, "2025-Q4", at=AFTER + dt.timedelta(days=3))
    path = tmp_path / "disclosure.pdf"
    path.write_bytes(disclosure_pdf(session, publication, public_url=PUBLIC_URL))
    info = subprocess.run([PDFINFO, str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+841\.89 x 1190\.55 pts \(A3\)", info), info
    assert re.search(r"Pages:\s+1\b", info)
    words = subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", words)
    for label in ("财务公开榜", "公开蔬菜专业合作社", "2025年第四季度", "公开日期：2026-01-23", "一、收入", "二、支出",
                  "收入合计", "支出合计", "三、货币资金", "库存现金", "银行存款", "四、大额支出明细", "收支相抵",
                  "经营支出", "其他支出", "王*山", "核验码", publication.code,
                  f"{PUBLIC_URL}/d/{publication.code}", f"本榜更正{queries.published_on(first).isoformat()}公开"):
        assert label in flat, label
    for amount in ("5,500.00", "6,000.00", "5,600.00", "21,800.00", "-5,600.00", "28,200.00"):
        assert amount in words, amount
    assert "王大山" not in flat
    html = disclosure_html(session, publication, public_url=PUBLIC_URL)
    assert 'href="disclosure_print.css"' in html and "data:image/svg+xml" in html


def test_the_archive_has_every_publication_of_the_year_with_its_snapshot(coop, session):
    first = publish(session, coop, "2025-Q1")
    rec(session, coop, "expenses", date="2025-03-30", category="other", amount="100.00")
    second = publish(session, coop, "2025-Q1", at=AFTER + dt.timedelta(days=1))
    parts = archive_parts(session, coop, 2025, public_url=PUBLIC_URL)
    assert [p[0] for p in parts] == [f"disclosure/2025-Q1-{first.code}.pdf", f"disclosure/2025-Q1-{first.code}.json",
                                     f"disclosure/2025-Q1-{second.code}.pdf", f"disclosure/2025-Q1-{second.code}.json"]
    assert "已被更正" in parts[0][1] and "已被更正" not in parts[2][1]
    assert json.loads(parts[3][3])["totals"]["expense"] == "100.00" and f"{PUBLIC_URL}/d/{second.code}" in parts[2][2]
    assert archive_parts(session, coop, 2024) == []


# -------------------------------------------------------------------------------------- the township's rule


def test_the_missing_disclosure_rule_fires_for_a_skipped_quarter_and_not_for_a_published_one(coop, session):
    neighbour = small_coop(session, code="DS-NEXT", township="公开乡")
    for key in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"):
        publish(session, neighbour, key)
    for key in ("2025-Q1", "2025-Q2", "2025-Q4"):            # DS-COOP skips its third quarter
        publish(session, coop, key)
    township = coop.township_id
    found = [f for f in find_anomalies(session, township_id=township, today=dt.date(2026, 2, 1))
             if f.rule == "missing_disclosure"]
    assert [(f.entity_code, f.year, f.params["quarter"], f.params["due"]) for f in found] == [
        ("DS-COOP", 2025, "2025-Q3", "2025-10-15")]
    assert found[0].detail == ("No financial disclosure published for 2025-Q3 (3 entries in the quarter); it was due "
                               "by 2025-10-15")
    assert (found[0].links[0].endpoint, found[0].links[0].values) == ("disclosure.index", {"code": "DS-COOP",
                                                                                            "year": 2025})
    publish(session, coop, "2025-Q3")
    assert not [f for f in find_anomalies(session, township_id=township, today=dt.date(2026, 2, 1))
                if f.rule == "missing_disclosure"]


def test_a_quarter_is_due_fifteen_days_after_it_ends_and_months_cover_it(coop, session):
    def missing(today, year=None):
        return [f.params["quarter"] for f in find_anomalies(session, township_id=coop.township_id, today=today,
                                                            year=year)
                if f.rule == "missing_disclosure"]

    assert queries.GRACE_DAYS == 15 and "missing_disclosure" in RULES
    assert missing(dt.date(2025, 4, 15)) == []                         # Q1 is due by 04-15
    assert missing(dt.date(2025, 4, 16)) == ["2025-Q1"]
    assert missing(dt.date(2025, 7, 16)) == ["2025-Q1", "2025-Q2"]
    assert missing(dt.date(2026, 2, 1), year=2025) == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    assert missing(dt.date(2026, 2, 1), year=2024) == []
    publish(session, coop, "2025-05", at=dt.datetime(2025, 6, 5, 9, tzinfo=dt.UTC))      # the deliveries' month
    publish(session, coop, "2025-Q1", at=dt.datetime(2025, 5, 2, 9, tzinfo=dt.UTC))      # late, but published
    assert missing(dt.date(2025, 7, 16)) == []
    assert missing(dt.date(2025, 4, 30)) == ["2025-Q1"]                 # not yet published on that day
    publish(session, coop, "2025-08", at=dt.datetime(2025, 9, 5, 9, tzinfo=dt.UTC))      # one of Q3's two
    assert missing(dt.date(2025, 10, 16)) == ["2025-Q3"]
    publish(session, coop, "2025-09", at=dt.datetime(2025, 10, 5, 9, tzinfo=dt.UTC))
    assert missing(dt.date(2025, 10, 16)) == []


# ------------------------------------------------------------------------------------------------- the demo


def test_the_demo_publishes_its_quarters_and_they_tie_to_the_books(app, session):
    """Every demo entity publishes every ended quarter it had activity in (JGP-VEG skips 2025 Q3, the rule finds it);
    each year's quarters add up to the year's income and expense accounts, and the fourth quarter's money closes at
    the year's 科目余额表."""
    from payouts.admin.demo import load_demo_world

    load_demo_world(session)
    session.commit()
    entities = {e.id: e for e in session.scalars(select(Entity))}
    published = queries.published_keys(session, list(entities), today=dt.date.max)
    missing = queries.missing_quarters(queries.activity(session, {i: e.book_id for i, e in entities.items()}),
                                       published, today=dt.date(2026, 11, 1))
    assert [(entities[m.entity_id].code, m.quarter.key) for m in missing] == [("JGP-VEG", "2025-Q3")]
    years = {(entity_id, year) for entity_id, year, _month in queries.activity(
        session, {i: e.book_id for i, e in entities.items()})}
    assert len(years) >= 20
    for entity_id, year in sorted(years):
        entity = entities[entity_id]
        quarters = [build_disclosure(session, entity, Period(year, quarter=n)) for n in range(1, 5)]
        book = entity.book_in(year)
        profit = year_profit(session, book, year)
        assert quarters[-1].surplus_ytd == sum((d.surplus for d in quarters), D(0)) == -sum(profit.values(), D(0)), (
            entity.code, year)
        year_table = {r.code: r for r in balance_table(session, book, *period_dates(year), by_member=False).rows}
        for line in quarters[-1].money:
            row = year_table.get(line.code)
            assert line.closing == (row.closing if row else D("0.00")), (entity.code, year, line.code)
        for d in quarters:
            for line in d.money:
                assert line.opening + line.received - line.paid == line.closing
    veg = next(e for e in entities.values() if e.code == "JGP-VEG")
    found = [f for f in find_anomalies(session, township_id=veg.township_id, today=dt.date(2026, 11, 1))
             if f.rule == "missing_disclosure"]
    assert [(f.entity_code, f.params["quarter"]) for f in found] == [("JGP-VEG", "2025-Q3")]

"""Carrying a village collective's 2004-chart books over to the 2023 system at 2024-01-01 (财会〔2023〕20号 一(二);
reference/collective2023.md 衔接 §3-§4): a new book opened from the 2023-12-31 balances, mapped by meaning — ten
codes mean something else in the 2023 chart, so a mapping by code would mis-post every one of them."""

from __future__ import annotations

import json
import re
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from cooperatives.models import Amortisation, Entity
from ledger.models import Book
from ledger.queries import account_balance, account_balances, party_balances
from payouts.reports.statutory import balance_sheet, surplus_statement

#: every kind of balance a 2004 book holds, at its start (2023-01-01): debits 135,300 = credits 135,300
OPENING = [
    ("101", None, "1000", None), ("102", None, "50000", None), ("112", None, "3000", None),
    ("113", "K1", "2000", None), ("113", "K2", None, "1500"), ("121", None, "4000", None),
    ("131", None, "6000", None), ("132", None, "7000", None), ("141", None, "20000", None),
    ("151", None, "30000", None), ("152", None, None, "5000"), ("153", None, "800", None),
    ("154", None, "9000", None), ("161", None, "2500", None),
    ("201", None, None, "10000"), ("202", None, None, "4000"), ("211", None, None, "3000"),
    ("212", None, None, "1200"), ("221", None, None, "8000"), ("231", None, None, "2000"),
    ("241", None, None, "12000"), ("301", None, None, "50000"), ("311", None, None, "30000"),
    ("32202", None, None, "8600"),
]


def old_books(start="2023-01-01", later=()):
    """A 2004-chart collective and its 2023: 501 +10,000, 502 经营支出 −4,000 and −1,500 of K1's labour (still owed,
    211 by member), 511 发包及上交收入 +3,000, 521 农业税附加返还收入 +500 — a result of 8,000 — the bank 50,000 +
    9,500 = 59,500; and K2's land right put in as capital on 2023-01-01 (161 12,000), its contract to 2032."""
    return {
        "entity": [["code", "name", "kind", "township", "village", "books_start"],
                   ["OLDV", "旧账村股份经济合作社", "collective", "青铜峡镇", "旧账村", start]],
        "households": [["code", "head_name", "village"], ["K1", "甲", "旧账村"], ["K2", "乙", "旧账村"]],
        "members": [["member", "member_no", "joined_on"], ["K1", 1, "2018-01-01"], ["K2", 2, "2018-01-01"]],
        "opening": [["account", "member", "debit", "credit"], *[list(row) for row in OPENING]],
        "sales": [["date", "buyer", "product", "amount"], ["2023-05-01", "果商", "砂糖橘", "10000"], *later],
        "expenses": [["date", "category", "amount"], ["2023-06-01", "operating", "4000"]],
        "labor": [["date", "member", "days", "rate"], ["2023-09-01", "K1", "10", "150"]],
        "land": [["member", "contract_no", "area_mu", "start_on", "end_on"], ["K2", "TD-1", "10", "2023-01-01",
                                                                             "2032-12-31"]],
        "capital": [["date", "member", "amount", "form"], ["2023-01-01", "K2", "12000", "land"]],
        "journal": [["voucher", "date", "memo", "account", "debit", "credit"],
                    ["J1", "2023-07-01", "砂糖橘基地发包", "102", "3000", ""],
                    ["J1", "2023-07-01", "砂糖橘基地发包", "511", "", "3000"],
                    ["J2", "2023-08-01", "返还收入", "102", "500", ""],
                    ["J2", "2023-08-01", "返还收入", "521", "", "500"]],
    }


def oldv(session) -> Entity:
    session.expire_all()
    return session.scalar(select(Entity).where(Entity.code == "OLDV"))


@pytest.fixture
def carried(session, cli, xlsx):
    assert cli("import", xlsx(old_books())).exit_code == 0
    assert oldv(session).chart == "collective2004"
    refused = cli("carry-over", "--entity", "OLDV")            # 20号: the old books' 2023 closing comes first
    assert refused.exit_code == 1 and "2023" in refused.output and "close-year" in refused.output
    assert cli("close-year", "--entity", "OLDV", "--year", "2023").exit_code == 0
    result = cli("carry-over", "--entity", "OLDV")
    assert result.exit_code == 0, result.output
    entity = oldv(session)
    return entity, session.scalar(select(Book).where(Book.code == "OLDV@2004")), result.output


#: K2's land right: 12,000 over the 119 months from February 2023 to December 2032; to 2023-12-31, 11 months:
#: 12,000 × 11 / 119 = 1,109.24 (补提摊销: the 2004 chart has no 162, so none was booked)
AMORTISED = D("1109.24")

#: the 2023 account -> its opening balance, signed (> 0 debit): one per reused code and every other kind
EXPECTED = {
    "101": D("1000.00"), "102": D("59500.00"), "112": D("3000.00"), "121": D("4000.00"),
    "113": D("500.00"),         # K1 2,000 debit, K2 1,500 credit: kept apart by member (below)
    "131": D("6000.00"),        # 牲畜(禽)资产 -> 消耗性生物资产 (same code, new meaning)
    "132": D("7000.00"),        # 林木资产 -> 生产性生物资产
    "141": D("20000.00"), "151": D("30000.00"), "152": D("-5000.00"),
    "154": D("800.00"),         # 2004 153 固定资产清理 -> 2023 154
    "153": D("9000.00"),        # 2004 154 在建工程 -> 2023 153
    "161": D("14500.00"), "162": -AMORTISED, "201": D("-10000.00"),
    "211": D("-5200.00"),       # 2004 202 应付款 4,000 + 212 应付福利费 1,200 (abolished) -> 2023 211 应付款
    "212": D("-3000.00"),       # 2004 211 应付工资 (no member) -> 2023 212 应付工资
    "213": D("-1500.00"),       # 2004 211 owed to K1 for labour -> 2023 213 应付劳务费, by member
    "221": D("-8000.00"), "231": D("-2000.00"), "241": D("-12000.00"), "301": D("-62000.00"),
    "311": D("-30000.00"),
    "32202": D("-16600.00") + AMORTISED,    # 8,600 + 2023's result 8,000 (502, 511, 521 closed into it), less 补提摊销
}


def test_the_opening_of_2024_is_the_closing_of_2023_account_by_account_through_the_mapping(session, cli, carried):
    entity, old, output = carried
    new = entity.book
    assert (new.chart, new.books_start.isoformat(), new.previous_book_id) == ("collective2023", "2024-01-01", old.id)
    assert entity.chart == "collective2023" and old.chart == "collective2004"
    assert (new.code, old.code) == ("OLDV", "OLDV@2004")
    balances = account_balances(session, new)
    assert {code: amount for code, amount in balances.items() if amount} == EXPECTED
    assert sum(balances.values(), D("0.00")) == D("0.00")                      # it balances
    for reused in ("502", "511", "521"):        # 2023's 投资收益, 经营支出, 所得税费用: nothing of 2004's carries in
        assert account_balance(session, new, reused) == D("0.00")
    # 内部往来 by member, debit and credit details apart (20号 衔接 §3 row 5); every member detail kept
    assert party_balances(session, new, "113") == {"K1": D("2000.00"), "K2": D("-1500.00")}
    assert party_balances(session, new, "213") == {"K1": D("-1500.00")}
    assert party_balances(session, new, "301") == {"K2": D("-12000.00")}
    # the old book is as it was, and still verifies (its hashes name the code it had)
    old_balances = account_balances(session, old)
    assert old_balances["153"] == D("800.00") and old_balances["154"] == D("9000.00")
    assert old_balances["211"] == D("-4500.00") and old.chain_code == "OLDV"
    assert cli("verify").exit_code == 0
    from cooperatives.access import CONSOLE
    from payouts.oversight.integrity import check_integrity

    entity = oldv(session)                                        # (after the command: read it again)
    check = check_integrity(session, entity, actor=CONSOLE)      # the township's check walks the old book too
    assert check.ok and check.entries == entity.book.entry_count + entity.book.previous.entry_count
    assert entity.book.previous.entry_count > 1
    # the mapping printed for the auditor: one line per balance, with the rule, and debits = credits
    assert "153 固定资产清理 | - | 800.00 | 154 固定资产清理" in output
    assert "154 在建工程 | - | 9000.00 | 153 在建工程" in output
    assert "211 应付工资 | K1 | -1500.00 | 213 应付劳务费" in output
    assert "补提摊销 | - | -1109.24 | 162 累计摊销" in output
    debit, credit = re.search(r"Debits ([\d.]+), credits ([\d]+\.\d\d)", output).groups()
    assert debit == credit
    # the 2024 amortisation is 2024's part only: 23 months' 2,319.33 less the 1,109.24 brought in
    booked = session.execute(select(Amortisation.year, Amortisation.amount)).all()
    assert booked == [(2023, AMORTISED)]
    assert cli("close-year", "--entity", "OLDV", "--year", "2024").exit_code == 0
    assert account_balance(session, oldv(session).book, "162") == -D("2319.33")


def test_the_statements_read_each_year_from_the_book_that_holds_it(session, carried):
    entity, _, _ = carried
    old_sheet, new_sheet = balance_sheet(session, entity, 2023), balance_sheet(session, entity, 2024)
    assert old_sheet.form == "村会01表" and new_sheet.form == ""
    total_2023 = old_sheet.line(32).values[1]              # 村会01表 资产总计, 年末数
    assert total_2023 == old_sheet.line(56).values[1] == D("151800.00")
    # the 2024 年初余额 column is the 2023 年末 through the mapping, less the amortisation 补提 (20号 四)
    assert new_sheet.line("A24").values[1] == new_sheet.line("E5").values[1] == total_2023 - AMORTISED
    assert new_sheet.line("A15").values[1] == D("9000.00") and new_sheet.line("A16").values[1] == D("800.00")
    assert new_sheet.line("E3").values[1] == D("16600.00") - AMORTISED
    assert surplus_statement(session, entity, 2023).line(20).values[0] == D("8000.00")
    income = surplus_statement(session, entity, 2024)       # no 上年金额: 2023 is on the other chart
    assert all(line.values[1] is None for line in income.lines if line.values)
    assert income.line("I15").values[0] == D("0.00")          # the opening balances are no 其他转入


def test_the_2023_year_is_not_closed_distributed_or_reversed_in_the_new_books(session, cli, carried, policy_file):
    for args in (("close-year", "--entity", "OLDV", "--year", "2023"),
                 ("distribute", "--entity", "OLDV", "--year", "2023", "--policy",
                  policy_file('[[pools]]\nname = "all"\npct = "100"\nbasis = "equal"\n'))):
        refused = cli(*args)
        assert refused.exit_code == 1 and "2024-01-01" in refused.output, args


def test_a_second_carry_over_is_refused(cli, carried):
    again = cli("carry-over", "--entity", "OLDV")
    assert again.exit_code == 1 and "2004" in again.output


def test_books_with_2024_entries_are_not_carried_over(session, cli, xlsx):
    assert cli("import", xlsx(old_books(later=[["2024-03-01", "果商", "砂糖橘", "100"]]))).exit_code == 0
    assert cli("close-year", "--entity", "OLDV", "--year", "2023").exit_code == 0
    refused = cli("carry-over", "--entity", "OLDV")
    assert refused.exit_code == 1 and "2024" in refused.output
    book = oldv(session).book
    assert book.chart == "collective2004" and session.scalar(select(Book).where(Book.code == "OLDV@2004")) is None


def test_a_split_account_goes_where_the_accountant_names(session, cli, xlsx):
    assert cli("import", xlsx(old_books())).exit_code == 0
    assert cli("close-year", "--entity", "OLDV", "--year", "2023").exit_code == 0
    bad = cli("carry-over", "--entity", "OLDV", "--map", "132=502")
    assert bad.exit_code == 1 and "132=502" in bad.output
    done = cli("carry-over", "--entity", "OLDV", "--map", "132=134")      # 防护林: 公益性生物资产
    assert done.exit_code == 0, done.output
    book = oldv(session).book
    assert account_balance(session, book, "134") == D("7000.00") and account_balance(session, book, "132") == 0


def test_the_township_reads_each_year_of_a_carried_over_collective_from_its_own_chart(session, cli, xlsx, carried):
    """The overview counts 经营收入 by the chart of the book that holds the year: 2023 in the 2004 book (501 10,000
    and 发包及上交收入 511 3,000), 2024 in the 2023 book (501 only: a 2024 sale of 2,000, and 502 is 投资收益 now)."""
    from payouts.oversight.overview import build_overview

    entity, _, _ = carried
    later = {"sales": [["date", "buyer", "product", "amount"], ["2024-05-01", "果商", "砂糖橘", "2000"]],
             "income": [["date", "source", "amount"], ["2024-06-01", "村办企业分红", "700"]]}
    assert cli("import", xlsx(later), "--entity", "OLDV").exit_code == 0
    figures = {f.year: f for f in build_overview(session, entity.township_id).figures if f.entity.code == "OLDV"}
    assert (figures[2023].operating, figures[2023].surplus) == (D("13000.00"), D("8000.00"))
    assert (figures[2024].operating, figures[2024].investment) == (D("2000.00"), D("700.00"))


def test_a_record_of_the_old_books_is_not_voided_into_the_new_and_wages_owed_are_paid_from_213(session, cli, xlsx,
                                                                                                carried):
    listed = cli("records", "sales", "--entity", "OLDV", "--json")
    sale = json.loads(listed.stdout)["records"][0]
    refused = cli("void", "sales", str(sale["id"]), "--reason", "录错")
    assert refused.exit_code == 1 and "2024-01-01" in refused.output
    assert account_balance(session, oldv(session).book, "501") == D("0.00")     # nothing reached the new book
    paid = {"payments": [["date", "member", "amount", "paid_for"], ["2024-02-01", "K1", "1500", "labor"]]}
    assert cli("import", xlsx(paid), "--entity", "OLDV").exit_code == 0
    assert party_balances(session, oldv(session).book, "213") == {"K1": D("0.00")}


@pytest.mark.parametrize(("old", "new", "meaning"), [
    ("131", "131", "牲畜（禽）资产 → 消耗性生物资产"), ("132", "132", "林木资产 → 生产性生物资产"),
    ("153", "154", "固定资产清理: 153 → 154"), ("154", "153", "在建工程: 154 → 153"),
    ("211", "212", "应付工资 (no member): 211 → 212"), ("212", "211", "应付福利费 (abolished) → 应付款"),
    ("502", "32202", "经营支出: its 2023 amount is in 未分配收益, not in 2023's 502 投资收益"),
    ("511", "32202", "发包及上交收入: in 未分配收益, not in 2023's 511 经营支出"),
    ("521", "32202", "农业税附加返还收入: in 未分配收益, not in 2023's 521 所得税费用"),
])
def test_each_reused_code_goes_where_its_meaning_does(session, carried, old, new, meaning):
    """One per code the 2023 chart reuses with another meaning (collective2023.md §1): the 2004 account's closing
    balance (its 2023 movement for an income or expense account, closed into 未分配收益) reaches the account of the
    same meaning, and nothing reaches the 2023 account of the same code unless that is where the meaning goes."""
    from ledger.queries import year_profit

    entity, old_book, output = carried
    new_book = entity.book
    if old in ("502", "511", "521"):        # closed at the 2023 year end: its movement is in 未分配收益 carried
        assert year_profit(session, old_book, 2023)[old] and account_balance(session, old_book, old) == 0, meaning
        assert account_balance(session, new_book, new) == account_balance(session, old_book, new) + AMORTISED
    else:                                   # its closing balance, but what is kept by member (K1's wages: 213)
        closing = account_balance(session, old_book, old) - sum(party_balances(session, old_book, old).values(), D(0))
        assert closing, meaning
        assert re.search(rf"^{old} \S+ \| - \| {closing:.2f} \| {new} ", output, re.M), meaning
    if old != new:                      # the same code in the new chart holds only what its own meaning brings
        assert account_balance(session, new_book, old) == EXPECTED.get(old, D("0.00")), meaning


def test_each_years_archive_holds_the_vouchers_of_the_book_that_keeps_it(session, carried, tmp_path):
    """会计档案 of a carried-over collective (issue 15 §8): 2023's archive holds the 2004 book's vouchers of 2023 —
    its voucher 1 is the old book's, not the new book's 期初余额 numbered in 2023 — and 2024's, the first year of
    the new book, holds that opening voucher apart; the printed voucher 2023-0001 is the old book's unless the
    journal's link names the new one."""
    import zipfile

    from payouts.reports import archive, printing

    entity, old, _ = carried
    names = {}
    for year in (2023, 2024):
        archive.build(session, entity, year, tmp_path / f"{year}.zip", workers=1)
        with zipfile.ZipFile(tmp_path / f"{year}.zip") as z:
            names[year] = [n for n in z.namelist() if n.startswith("vouchers/")]
    assert names[2023] and all(n.startswith("vouchers/vouchers-2023-") for n in names[2023])
    assert not any(n.startswith("vouchers/opening") for n in names[2023])
    assert [n for n in names[2024] if n.startswith("vouchers/opening-2023-")]
    from ledger.models import JournalEntry

    def book_of(voucher):
        return session.get(JournalEntry, voucher["id"]).book_id

    first = printing.voucher_pages(session, entity, 2023, 1, 1)
    assert book_of(first[0]) == old.id
    opening = printing.voucher_pages(session, entity, 2023, 1, 1, book=entity.book)
    assert book_of(opening[0]) == entity.book_id

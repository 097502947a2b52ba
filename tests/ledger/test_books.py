"""The books beside the journal (issue 15 §1-§3) from hand-made entries: an entry moving an account both ways shows
both sides in the 科目余额表, the 日记账 and the 明细账; members' sub-accounts; the period's bounds."""

import datetime as dt
from decimal import Decimal

from ledger.books import account_ledger, balance_table, money_journal, period
from ledger.entries import EntryDraft, PostingDraft
from ledger.operations import ensure_parties, post_entry

D = Decimal


def entry(on, *legs):
    return EntryDraft(date=dt.date.fromisoformat(on), memo="test", postings=tuple(PostingDraft(*leg) for leg in legs))


def test_an_entry_moving_an_account_both_ways_shows_both_sides_everywhere(session, book):
    ensure_parties(session, book, {"K1": "甲", "K2": "乙"})
    post_entry(session, book, entry("2025-01-05", ("102", D("500.00")), ("301", D("-500.00"))))
    post_entry(session, book, entry("2025-02-01", ("102", D("100.00")), ("102", D("-30.00")), ("301", D("-70.00"))))
    post_entry(session, book, entry("2025-02-03", ("114", D("40.00"), "K1"), ("114", D("-40.00"), "K2")))  # K2 → K1
    table = {(r.code, r.member): r for r in balance_table(session, book, *period(2025)).rows}
    assert (table[("102", None)].debit, table[("102", None)].credit) == (D("600.00"), D("30.00"))
    assert (table[("114", "K1")].closing, table[("114", "K2")].closing, table[("114", None)].closing) == (
        D("40.00"), D("-40.00"), D("0.00"))
    journal = money_journal(session, book, "102", *period(2025, 2))
    assert journal.opening == D("500.00") and journal.days[0].debit == D("100.00") and journal.days[0].credit == D("30.00")
    assert journal.closing == D("570.00") == journal.days[-1].balance
    ledger = account_ledger(session, book, "114", 2025)
    assert [(m.month, m.debit, m.credit) for m in ledger.months] == [(2, D("40.00"), D("40.00"))]  # shown, not netted
    parts = [account_ledger(session, book, "114", 2025, member=m) for m in ("K1", "K2", "")]
    assert sum((p.months[0].debit for p in parts if p.months), D(0)) == D("40.00")
    assert period(9999, 12) == (dt.date(9999, 12, 1), dt.date(9999, 12, 31))
    assert period(2024, quarter=1) == (dt.date(2024, 1, 1), dt.date(2024, 3, 31))

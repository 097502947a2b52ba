import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from ledger.entries import EntryDraft, PostingDraft
from ledger.errors import AlreadyReversed, CashOverdrawn, ClosedPeriod, DuplicateSource, InvalidEntry
from ledger.models import JournalEntry
from ledger.operations import close_period, ensure_parties, post_entries, post_entry, reverse_entry
from ledger.queries import account_balance, trial_balance
from ledger.verify import verify_book

D = Decimal


def entry(on="2025-03-01", *legs, source=None, memo="test"):
    return EntryDraft(date=dt.date.fromisoformat(on), memo=memo, source=source,
                      postings=tuple(PostingDraft(*leg) for leg in legs))


def test_posted_entry_gets_voucher_and_balances(session, book):
    ensure_parties(session, book, {"H001": "王大山"})
    first = post_entry(session, book, entry("2025-03-01", ("521", D("10.00")), ("114", D("-10.00"), "H001")))
    second = post_entry(session, book, entry("2025-03-02", ("114", D("4.00"), "H001"), ("102", D("-4.00"))))
    assert (first.voucher_no, second.voucher_no) == (1, 2)
    assert account_balance(session, book, "114", party="H001") == D("-6.00")
    assert sum(r.closing for r in trial_balance(session, book, 2025)) == 0
    assert verify_book(session, book) == []


def test_cash_on_hand_never_ends_a_day_below_zero(session, book):
    """库存现金 is never in credit at the end of a day (books-review W1; 2021 system, 101): an entry that would
    leave it so on any day — its own or a later one — is refused naming the first such day and the amount short;
    a day's order within the day does not matter, only its end."""
    post_entry(session, book, entry("2025-03-01", ("101", D("100.00")), ("102", D("-100.00"))))     # 提现
    post_entry(session, book, entry("2025-03-10", ("521", D("80.00")), ("101", D("-80.00"))))
    with pytest.raises(CashOverdrawn) as short:      # fine on 03-05 (50 left), 30.00 short once 03-10 pays 80
        post_entry(session, book, entry("2025-03-05", ("521", D("50.00")), ("101", D("-50.00"))))
    assert (short.value.on, short.value.short) == (dt.date(2025, 3, 10), D("30.00"))
    assert short.value.problems[0].code == "cash_overdrawn"
    with pytest.raises(CashOverdrawn) as short:
        post_entries(session, book, [entry("2025-03-11", ("521", D("20.01")), ("101", D("-20.01")))])
    assert (short.value.on, short.value.short) == (dt.date(2025, 3, 11), D("0.01"))
    # paid out and drawn on the same day: the day ends in hand
    post_entries(session, book, [entry("2025-03-12", ("521", D("500.00")), ("101", D("-500.00"))),
                                 entry("2025-03-12", ("101", D("500.00")), ("102", D("-500.00")))])
    assert account_balance(session, book, "101") == D("20.00")


def test_voucher_numbers_restart_each_year(session, book):
    post_entry(session, book, entry("2024-12-31", ("101", D("1.00")), ("501", D("-1.00"))))
    e = post_entry(session, book, entry("2025-01-01", ("101", D("1.00")), ("501", D("-1.00"))))
    assert e.voucher == "2025-0001"


@pytest.mark.parametrize("legs, code", [
    ((("101", D("10.00")), ("501", D("-9.99"))), "unbalanced"),
    ((("101", D("10.00")),), "too_few_postings"),
    ((("101", D("0.001")), ("501", D("-0.001"))), "sub_fen"),
    ((("101", D("0")), ("501", D("0"))), "zero_amount"),
])
def test_bad_drafts_are_refused(session, book, legs, code):
    with pytest.raises(InvalidEntry) as exc:
        post_entry(session, book, entry("2025-03-01", *legs))
    assert code in {p.code for p in exc.value.problems}
    assert session.scalar(select(JournalEntry.id)) is None


def test_reversal_mirrors_and_happens_once(session, book):
    original = post_entry(session, book, entry("2025-03-01", ("101", D("7.50")), ("501", D("-7.50"))))
    reverse_entry(session, original, date=dt.date(2025, 3, 5))
    assert account_balance(session, book, "101") == 0
    with pytest.raises(AlreadyReversed):
        reverse_entry(session, original)
    assert verify_book(session, book) == []


def test_closed_period_refuses_entries(session, book):
    close_period(session, book, 2024)
    with pytest.raises(ClosedPeriod):
        post_entry(session, book, entry("2024-06-01", ("101", D("1.00")), ("501", D("-1.00"))))


def test_same_source_posts_once(session, book):
    post_entry(session, book, entry("2025-03-01", ("101", D("1.00")), ("501", D("-1.00")), source="sale:1"))
    with pytest.raises(DuplicateSource):
        post_entry(session, book, entry("2025-03-01", ("101", D("1.00")), ("501", D("-1.00")), source="sale:1"))

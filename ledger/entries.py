"""Journal entries before they are posted: frozen drafts and the pure check of their invariants.

A draft is postable when it has at least two postings, every amount is a non-zero Decimal with at
most two decimal places, and the amounts sum to exactly zero (debits positive, credits negative).
Balance is exact: amounts are whole fen, so no tolerance is needed (unlike Beancount's inferred
tolerances). ``check_entry`` never raises; it returns every problem it finds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.errors import Problem
from ledger.i18n import N_, msg

ZERO = Decimal(0)

#: what an entry is, for the year rules and the database's triggers (``source`` is provenance only):
#: ordinary (a record's voucher), opening (期初余额 at the books' start), closing (结转 at the year end),
#: distribution (a run's postings and their undoing), reversal (红字冲销 of an ordinary entry or a record),
#: manual (a voucher typed as such), accrual (year-end accruals: land base rent, depreciation …)
ENTRY_KINDS = ("ordinary", "opening", "closing", "distribution", "reversal", "manual", "accrual")
#: the kinds a year still takes while it is being closed (``adjusting``)
YEAR_END_KINDS = ("closing", "distribution")


@dataclass(frozen=True)
class PostingDraft:
    account: str                 # account code, e.g. "114"
    amount: Decimal              # > 0 debit, < 0 credit
    party: str | None = None     # sub-ledger holder code (member), when the account has one


@dataclass(frozen=True)
class EntryDraft:
    date: dt.date
    postings: tuple[PostingDraft, ...]
    memo: str = ""
    source: str | None = None
    reverses_id: int | None = field(default=None, compare=False)
    kind: str = "ordinary"


def legacy_kind(source: str | None, reverses_id: int | None) -> str:
    """The kind an entry posted before entries had kinds has, read from its source (migration 0010 filled the
    column so). An entry's hash covers its kind only where the kind differs from this, so the hashes of the
    books written before kinds still verify, and no kind can be changed unseen."""
    source = source or ""
    if source.startswith("close:"):
        return "closing"
    if source.startswith("run:"):
        return "distribution"
    if source.startswith("land-rent:"):
        return "accrual"
    if source.startswith("void:") or reverses_id is not None:
        return "reversal"
    return "ordinary"


def residual(draft: EntryDraft) -> Decimal:
    return sum((p.amount for p in draft.postings), ZERO)


def check_entry(draft: EntryDraft) -> list[Problem]:
    """Every reason ``draft`` cannot be posted (an empty list means it can)."""
    problems: list[Problem] = []

    def refuse(code: str, template: str, **params) -> None:
        problems.append(Problem.of(msg(template, code=code, **params)))

    if draft.kind not in ENTRY_KINDS:
        refuse("unknown_kind", N_("%(kind)s is not a kind of entry."), kind=draft.kind)
    if len(draft.postings) < 2:
        refuse("too_few_postings", N_("An entry needs at least two postings, not %(n)s."), n=len(draft.postings))
    for i, posting in enumerate(draft.postings, 1):
        amount = posting.amount
        if not isinstance(amount, Decimal) or isinstance(amount, bool):
            refuse("not_decimal", N_("Posting %(i)s: the amount must be exact (a Decimal), not %(type)s."), i=i,
                   type=type(amount).__name__)
            continue
        if not amount.is_finite():
            refuse("not_finite", N_("Posting %(i)s: the amount %(amount)s is not a number."), i=i, amount=amount)
        elif amount == 0:
            refuse("zero_amount", N_("Posting %(i)s to %(account)s: the amount is zero."), i=i, account=posting.account)
        elif amount != amount.quantize(Decimal("0.01")):
            refuse("sub_fen", N_("Posting %(i)s to %(account)s: %(amount)s has more than two decimals."), i=i,
                   account=posting.account, amount=amount)
    if not problems:
        rest = residual(draft)
        if rest != 0:
            refuse("unbalanced", N_("Debits and credits differ by %(amount)s."), amount=rest)
    return problems


def reversal_of(draft: EntryDraft, *, date: dt.date, reverses_id: int, memo: str) -> EntryDraft:
    """The entry that undoes ``draft``: the same postings with opposite signs."""
    return EntryDraft(
        date=date, memo=memo, source=f"reversal:{reverses_id}", reverses_id=reverses_id,
        kind="distribution" if draft.kind in YEAR_END_KINDS else "reversal",
        postings=tuple(PostingDraft(p.account, -p.amount, p.party) for p in draft.postings),
    )

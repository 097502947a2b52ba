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


def residual(draft: EntryDraft) -> Decimal:
    return sum((p.amount for p in draft.postings), ZERO)


def check_entry(draft: EntryDraft) -> list[Problem]:
    """Every reason ``draft`` cannot be posted (an empty list means it can)."""
    problems: list[Problem] = []

    def refuse(code: str, template: str, **params) -> None:
        problems.append(Problem.of(msg(template, code=code, **params)))

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
        postings=tuple(PostingDraft(p.account, -p.amount, p.party) for p in draft.postings),
    )

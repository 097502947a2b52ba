"""Errors the ledger raises, and the one shape every refusal of the application takes.

A :class:`Problem` is one reason something is refused: where (a file's sheet and row — row 0 meaning the
whole file — or a form or API field), and why, as a :class:`~ledger.i18n.Message` (a code, an English
template and its parameters). Every layer reports problems in this shape — the workbook reader, record
checks, the ledger's entry checks, run and statement operations — and the one place that puts them into
the reader's words is :meth:`Problem.text` (pages and the API pass Flask-Babel's gettext; the command line
and jobs pass ``ledger.i18n.translations_for(locale)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ledger.i18n import N_, Message, as_message, msg


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located by sheet, row and column (a field) when it has a place."""

    sheet: str | None
    row: int | None
    column: str | None
    reason: str          # a Message (a plain string is shown as it is)

    @classmethod
    def of(cls, reason: str, column: str | None = None) -> Problem:
        """A problem with no place in a file: the field it is about (or none) and why."""
        return cls(None, None, column, reason)

    @property
    def code(self) -> str:
        return getattr(self.reason, "code", str(self.reason))

    def text(self, gettext: Callable[[str], str] | None = None) -> str:
        """The reason in ``gettext``'s language (English when None), with its place when it has one."""
        reason = as_message(self.reason).translate(gettext)
        if self.sheet is not None:
            return f"{self.sheet}:{self.row}:{self.column or ''}: {reason}"
        return reason

    def to_json(self) -> dict:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "reason": as_message(self.reason).to_json()}

    @classmethod
    def from_json(cls, data: dict) -> Problem:
        return cls(data["sheet"], data["row"], data["column"], Message.from_json(data["reason"]))

    def __str__(self) -> str:
        return self.text()


def field_errors(problems: Iterable[Problem], gettext: Callable[[str], str] | None = None,
                 rename: dict[str, str] | None = None) -> dict[str, list[str]]:
    """``{field: [reasons]}`` in ``gettext``'s language — the shape of the API's errors and of a refused
    form (``_schema`` for a problem of the whole)."""
    errors: dict[str, list[str]] = {}
    for p in problems:
        column = (rename or {}).get(p.column, p.column) or "_schema"
        text = as_message(p.reason).translate(gettext)
        if text not in errors.get(column, []):
            errors.setdefault(column, []).append(text)
    return errors


class LedgerError(Exception):
    """Base class: the books refused an operation. ``problems`` says why, in the common shape."""

    problems: list[Problem]

    def __init__(self, *reasons: Message):
        self.problems = [Problem.of(r) for r in reasons]
        super().__init__("; ".join(str(r) for r in reasons))


class InvalidEntry(LedgerError):
    def __init__(self, problems: list[Problem]):
        super().__init__(*(p.reason for p in problems))
        self.problems = problems


class ClosedPeriod(LedgerError):
    def __init__(self, book: str, year: int):
        self.book, self.year = book, year
        super().__init__(msg(N_("The books of %(book)s for %(year)s are closed."), book=book, year=year,
                             code="closed_period"))


class BeforeBooksStart(ClosedPeriod):
    """Dated before the books start (建账日期): only the opening balances are (the day before it)."""

    def __init__(self, book: str, on, start):
        self.book, self.year, self.on, self.start = book, on.year, on, start
        LedgerError.__init__(self, msg(N_("%(date)s is before the books of %(book)s start (%(start)s)."), date=on,
                                       book=book, start=start, code="before_books_start"))


class UnknownAccount(LedgerError):
    def __init__(self, book: str, code: str):
        self.book, self.code = book, code
        super().__init__(msg(N_("%(book)s has no account %(account)s to post to."), book=book, account=code,
                             code="unknown_account"))


class AlreadyReversed(LedgerError):
    def __init__(self, voucher: str):
        super().__init__(msg(N_("Entry %(voucher)s has already been reversed."), voucher=voucher,
                             code="already_reversed"))


class DuplicateSource(LedgerError):
    def __init__(self, book: str, source: str):
        self.source = source
        super().__init__(msg(N_("%(book)s already has an entry from %(source)s."), book=book, source=source,
                             code="duplicate_source"))


class CashOverdrawn(LedgerError):
    """库存现金 would fall below zero at the end of a day (2021 system, 101 库存现金: cash on hand is never
    negative; books-review W1): the first such day and the amount short."""

    def __init__(self, book: str, account: str, on, short):
        self.book, self.account, self.on, self.short = book, account, on, short
        super().__init__(msg(N_("Cash on hand (%(account)s) of %(book)s would be %(short)s short at the end of "
                                "%(date)s: cash cannot be paid out before it is in hand. Record the withdrawal "
                                "from the bank first (a transfer, 提现)."), account=account, book=book,
                             short=short, date=on, code="cash_overdrawn"))

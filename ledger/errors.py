"""Errors the ledger raises. Each carries structured data; the web and CLI layers word them."""

from __future__ import annotations

from dataclasses import dataclass


class LedgerError(Exception):
    """Base class: the books refused an operation."""


@dataclass(frozen=True)
class Problem:
    """One reason an entry cannot be posted."""

    code: str      # machine-readable, e.g. "unbalanced"
    message: str   # English sentence naming the figures

    def __str__(self) -> str:
        return self.message


class InvalidEntry(LedgerError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class ClosedPeriod(LedgerError):
    def __init__(self, book: str, year: int):
        self.book, self.year = book, year
        super().__init__(f"the books of {book} for {year} are closed")


class UnknownAccount(LedgerError):
    def __init__(self, book: str, code: str):
        self.book, self.code = book, code
        super().__init__(f"{book} has no postable account {code}")


class AlreadyReversed(LedgerError):
    def __init__(self, voucher: str):
        super().__init__(f"entry {voucher} has already been reversed")


class DuplicateSource(LedgerError):
    def __init__(self, book: str, source: str):
        self.source = source
        super().__init__(f"{book} already has an entry from {source}")

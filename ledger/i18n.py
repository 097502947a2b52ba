"""Translation markers and money formatting that need no Flask.

``N_`` marks a module-level label for extraction (``pybabel extract -k N_``); the label is translated
where it is shown. ``format_money`` formats a Decimal for people, via Babel.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal


def N_(message: str) -> str:
    return message


def format_money(amount: Decimal | None, *, locale: str = "zh_Hans_CN", symbol: bool = False) -> str:
    """``12,345.60`` (with ``¥`` when ``symbol``), exact: the Decimal is never converted to float."""
    if amount is None:
        return ""
    text = format_decimal(amount, format="#,##0.00", locale=locale)
    return f"¥{text}" if symbol else text

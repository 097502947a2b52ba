"""Exact money arithmetic for the ledger: parsing, rounding, fen conversion and fair splitting.

Every amount in coopledger is a :class:`~decimal.Decimal` in yuan.  This module is the only place
that turns outside values into amounts and the only place that rounds them, so the rules live here:

* **No floats, ever.**  :func:`D` refuses ``float`` (and ``bool``) with :class:`TypeError`; a float
  cannot represent 0.10 and would leak binary rounding error into the books.  Strings are parsed
  exactly; NaN and Infinity are rejected with :class:`ValueError`.
* **Rounding is half-up** (四舍五入, the convention of Chinese accounting practice), applied only
  by :func:`quantize`, never implicitly.  Python's default context rounds half-even instead, so
  do not rely on it.
* **Storage is integer fen** (1 yuan = 100 fen).  :func:`to_fen` refuses amounts that are not a whole
  number of fen instead of rounding them silently; :func:`from_fen` always yields exactly two
  decimal places, so ``from_fen(to_fen(x)) == x`` for every valid amount.
* **Splits are exact and sum to the total.**  :func:`allocate` divides an amount among weighted
  shareholders by the largest-remainder method using only integer arithmetic, so the parts add up
  to the total to the last fen, each part is within one unit of its exact share, and the result is
  deterministic: it does not depend on the insertion order of the weights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, TypeVar

__all__ = ["CENT", "ZERO", "D", "allocate", "exact_share", "fmt", "from_fen", "quantize", "to_fen"]

K = TypeVar("K", bound=Hashable)

ZERO = Decimal("0")
CENT = Decimal("0.01")

# An optional sign, then digits grouped by commas in threes, then an optional fraction.
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def D(value: str | int | Decimal) -> Decimal:
    """Build a Decimal exactly from a ``str``, ``int`` or ``Decimal``.

    Strings may carry surrounding whitespace and thousands separators (``"1,234.50"``); the commas
    must sit between groups of three integer digits, so a decimal comma such as ``"1,5"`` is
    rejected rather than misread as 15.  Floats and bools raise :class:`TypeError`; unparseable
    strings, NaN and Infinity raise :class:`ValueError`.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TypeError(f"money must be a str, int or Decimal, not {type(value).__name__}: {value!r}")
    if isinstance(value, str):
        result = _parse(value)
    else:
        result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"money must be a finite number, got {value!r}")
    return result


def _parse(text: str) -> Decimal:
    cleaned = text.strip()
    if "," in cleaned:
        if not _GROUPED.fullmatch(cleaned):
            raise ValueError(f"misplaced thousands separator in amount {text!r}")
        cleaned = cleaned.replace(",", "")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not a valid amount: {text!r}") from None


def quantize(x: Decimal, unit: Decimal = CENT) -> Decimal:
    """Round ``x`` to a multiple of ``unit`` (default one fen), half away from zero (四舍五入).

    ``quantize(D("2.345")) == D("2.35")`` and ``quantize(D("-2.345")) == D("-2.35")``; the result
    carries the exponent of ``unit``.
    """
    if x.__class__ is not Decimal:       # the fast path (bulk imports call this per row) skips D()
        x = D(x)
    if unit.__class__ is not Decimal:
        unit = D(unit)
    return x.quantize(unit, rounding=ROUND_HALF_UP)


def to_fen(amount: Decimal) -> int:
    """Return ``amount`` (yuan) as an integer number of fen.

    Raises :class:`ValueError` if the amount has a non-zero digit beyond the second decimal place
    (trailing zeros such as ``"1.230"`` are fine); round with :func:`quantize` first if needed.
    """
    fen = Fraction(D(amount)) * 100
    if fen.denominator != 1:
        raise ValueError(f"amount {amount} has more than 2 decimal places; quantize it first")
    return fen.numerator


def from_fen(fen: int) -> Decimal:
    """Return ``fen`` as yuan with exactly two decimal places: ``from_fen(5) == Decimal("0.05")``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be an int, not {type(fen).__name__}: {fen!r}")
    return Decimal(f"{fen}E-2")  # the string constructor is exact, whatever the context precision


def fmt(amount: Decimal) -> str:
    """Format ``amount`` as a plain string with exactly two decimals for JSON: ``"1234.50"``.

    No thousands separators, no exponent, no negative zero.  Raises :class:`ValueError` for amounts
    that are not a whole number of fen (see :func:`to_fen`).
    """
    return f"{from_fen(to_fen(amount)):f}"


def exact_share(total: Decimal, weight: Decimal, weight_sum: Decimal) -> Fraction:
    """The exact (unrounded) share ``total * weight / weight_sum`` as a Fraction.

    A zero ``weight_sum`` is only allowed with a zero ``total`` (the share is then 0), mirroring
    :func:`allocate`.
    """
    total_f = _fraction(total, "total")
    weight_f = _fraction(weight, "weight")
    sum_f = _fraction(weight_sum, "weight_sum")
    if sum_f == 0:
        if total_f == 0:
            return Fraction(0)
        raise ValueError("weight_sum is zero but total is not")
    return total_f * weight_f / sum_f


def allocate(
    total: Decimal,
    weights: Mapping[K, Decimal],
    *,
    unit: Decimal = CENT,
    order: Callable[[K], Any] | None = None,
) -> dict[K, Decimal]:
    """Split ``total`` among the keys of ``weights`` in proportion, by the largest-remainder method.

    The total is counted in whole units of ``unit`` (default one fen).  Each key first gets the floor of
    its exact share; the units left over go one each to the keys with the largest fractional
    remainders.  Equal remainders are broken by key order: ``sorted(weights)``, or
    ``sorted(weights, key=order)`` when ``order`` is given (so keys must be mutually comparable
    unless ``order`` is given).  Hence:

    * the parts sum exactly to ``total``;
    * each part is ``floor(exact)`` or ``floor(exact) + 1`` units, so within one unit of the exact share;
    * the result does not depend on the insertion order of ``weights``; a zero weight gets zero.

    All arithmetic is on integers (exact shares are compared as fractions over one common
    denominator), so it is exact at any size.  The returned dict lists keys in the order of ``weights``.

    Weights are non-negative ``Decimal`` or ``int`` values.  ``total`` must be a multiple of ``unit``.
    A zero total gives all zeros (even if every weight is zero); a non-zero total needs at least
    one positive weight.  A negative total is split as ``-allocate(abs(total))`` part by part, so
    the rounding mirrors the positive case (left-over units make parts *more* negative).
    """
    unit_f = _fraction(unit, "unit")
    if unit_f <= 0:
        raise ValueError(f"unit must be positive, got {unit}")
    units = _fraction(total, "total") / unit_f
    if units.denominator != 1:
        raise ValueError(f"total {total} is not a whole multiple of the unit {unit}")
    sign, count = (-1 if units < 0 else 1), abs(units.numerator)
    counts = _split(count, _integer_weights(weights), _tie_rank(weights, order))
    return {key: _times(sign * counts[key], D(unit)) for key in weights}


def _fraction(value: Decimal | int, name: str) -> Fraction:
    """An exact Fraction of a Decimal or int, refusing str, float, bool and non-finite numbers."""
    if isinstance(value, str):
        raise TypeError(f"{name} must be a Decimal or int, not str: {value!r}")
    try:
        return Fraction(D(value))
    except TypeError:
        raise TypeError(f"{name} must be a Decimal or int, not {type(value).__name__}: {value!r}") from None
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _integer_weights(weights: Mapping[K, Decimal]) -> dict[K, int]:
    """Scale the weights by a common denominator so they become integers in the same proportions."""
    exact: dict[K, Fraction] = {}
    for key, weight in weights.items():
        exact[key] = _fraction(weight, f"weight for {key!r}")
        if exact[key] < 0:
            raise ValueError(f"weight for {key!r} is negative: {weight}")
    common = math.lcm(1, *(f.denominator for f in exact.values()))
    return {key: int(f * common) for key, f in exact.items()}


def _tie_rank(weights: Mapping[K, Decimal], order: Callable[[K], Any] | None) -> dict[K, int]:
    """Position of every key in the deterministic tie-break order."""
    return {key: rank for rank, key in enumerate(sorted(weights, key=order))}


def _split(count: int, weights: dict[K, int], rank: dict[K, int]) -> dict[K, int]:
    """Largest-remainder split of ``count`` indivisible units by integer ``weights``."""
    weight_sum = sum(weights.values())
    if count == 0:
        return dict.fromkeys(weights, 0)
    if weight_sum == 0:
        raise ValueError(
            "cannot allocate a non-zero total: no positive weight"
            if weights
            else "cannot allocate a non-zero total among no keys"
        )
    shares = {key: divmod(count * w, weight_sum) for key, w in weights.items()}
    left_over = count - sum(floor for floor, _ in shares.values())
    # Remainders share the denominator weight_sum, so comparing numerators compares fractions exactly.
    by_remainder = sorted(weights, key=lambda key: (-shares[key][1], rank[key]))
    bonus = set(by_remainder[:left_over])
    return {key: shares[key][0] + (key in bonus) for key in weights}


def _times(n: int, unit: Decimal) -> Decimal:
    """``n * unit`` exactly, with the exponent of ``unit`` (no context rounding, no negative zero)."""
    _, digits, exponent = unit.as_tuple()
    coefficient = int("".join(map(str, digits)))
    return Decimal(f"{n * coefficient}E{exponent}")

"""What the app refuses before any view or parser sees it: ids beyond 64 bits in a URL, JSON nested too deep.

* ``<id:name>`` — the URL converter of every numeric id in a route: 1 to 2⁶³−1 in digits, no leading zero.
  Werkzeug's ``int`` takes any size, and an id of 2⁶³ reached the database as an error (SQLite cannot
  bind it; a 500). The bound is in the converter's regular expression, so an id out of range matches no
  rule at all: a 404, like a missing object (a range check in ``to_python`` would leave werkzeug answering
  405 where a route of the same shape takes another method).
* :func:`page_arg` and :func:`year_arg` — ``?page=`` and ``?year=`` of a page read within what the database
  takes (``type=int`` alone passed 10³⁰ on to an OFFSET or a comparison: SQLite cannot bind it).
* A JSON body nested deeper than :data:`ledger.nesting.MAX_NESTING` is a 400
  (``{"errors": {"_schema": [...]}}`` in the API) before authentication, idempotency or webargs parse
  it: the parsers recurse once per level, and 100,000 ``[`` raised RecursionError, a 500.

:func:`install` registers both; the app factory calls it before any blueprint adds its routes.
"""

from __future__ import annotations

from flask import Flask, abort, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from ledger.nesting import MAX_NESTING, too_deep

#: the largest id any table holds (a signed 64-bit integer: BigInteger on PostgreSQL, INTEGER on SQLite)
MAX_ID = 2**63 - 1
#: the last page number a list goes to (as the API's ``page``): its OFFSET stays far inside 64 bits
MAX_PAGE = 10**9


def _digits_up_to(bound: int) -> str:
    """A regular expression for the decimal numbers 1 … ``bound``, without leading zeros."""
    text = str(bound)
    parts = [rf"[1-9]\d{{0,{len(text) - 2}}}"] if len(text) > 1 else []
    for i, digit in enumerate(text):
        low = "1" if i == 0 else "0"
        if digit > low:
            top = chr(ord(digit) - 1)
            parts.append(text[:i] + (f"[{low}-{top}]" if top > low else low) + rf"\d{{{len(text) - i - 1}}}")
    parts.append(text)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 … 2⁶³−1. Anything else (0, 2⁶³, ``007``, twenty digits) matches nothing: 404."""

    regex = _digits_up_to(MAX_ID)

    def __init__(self, map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def page_arg(name: str = "page") -> int:
    """``?page=`` as a number from 1 to MAX_PAGE (missing or not a number: 1; beyond: the last)."""
    return min(max(request.args.get(name, 1, type=int), 1), MAX_PAGE)


def year_arg(name: str = "year") -> int | None:
    """``?year=`` as a year from 1 to 9999, None when missing or not a number; any other number is a 404
    (no books have such a year)."""
    year = request.args.get(name, type=int)
    if year is not None and not 1 <= year <= 9999:
        abort(404)
    return year


def refuse_deep_json() -> None:
    """``before_request``: a JSON body nested more than MAX_NESTING levels is a 400."""
    if request.is_json and too_deep(request.get_data(cache=True)):
        raise BadRequest(description=_("The JSON body is nested more than %(limit)s levels deep.",
                                       limit=MAX_NESTING))


def install(app: Flask) -> None:
    """Register the ``id`` converter and the JSON depth guard (before any route is added)."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_deep_json)

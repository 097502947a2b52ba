"""Statements on the web: the household's phone pages, the public verification page, and the staff pages.

Households (DESIGN §7, INTERFACES §6):

* ``/my`` — the household's statements, newest first, paid or not, notice period;
* ``/s/<code>`` — one statement (the stored snapshot, rendered in the page's language), paid status,
  the notice period, the PDF (``/s/<code>.pdf``), "I received it", and an objection to one line while
  the notice period is open; ``/s/pin`` lets a household in by phone number + PIN.

A household reaches a statement as the household's member user, or through phone number + PIN (the
household id is then kept in the signed session), and only once the run is published. Staff who may read
the entity see every statement of a posted run, read only. Anyone else gets 404 — the same answer as for
a code that does not exist — so codes and households leak nothing.

``/verify/<code>`` (public, no sign-in) says whether a printed statement or notice list matches the
ledger and whether its run is still in force, reversed, or superseded; it shows no more than the paper
notice list does (entity, year, masked name, net).

Staff: the statements of a run with payments (receipts), the entity's objections and their answers, a
township's open objections for its auditor, and a new PIN for a household. Pages use no JavaScript; the
household pages stay well under 50 KB.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("statements", __name__)

# the views, by audience; imported here so that registering ``bp`` registers them all
from payouts.statements.web import household, pin, staff, verify  # noqa: E402,F401

"""Bank batches (代发) on the web: a run's batches and the preview of the next, one batch with its actions (the
bank's file, sent, the bank's return file, close, cancel, the texts to households), the township's batches for
its auditor — server-rendered, no JavaScript — and the same in the JSON API (:mod:`payouts.batches.web.api`)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("batches", __name__)

from payouts.batches.web import pages  # noqa: E402,F401

"""The idle timeout of browser sessions (reliability.md S3).

A session that belongs to someone — a signed-in user, or a household's phone + PIN visit — carries the
time of its last request (``SEEN_KEY``, in the signed cookie), refreshed at every request. A request
that comes more than ``Settings.idle_minutes`` (``COOP_IDLE_MINUTES``, default 30) after the previous
one finds the session signed out: it is cleared and the request goes on as an anonymous visitor's, so a
page that needs someone sends it to sign in, where a message says why. The same limit holds for every
role and for PIN visits: members and households open their statements on shared phones, where a longer
idle session is exactly the risk, and what they do there takes minutes. The JSON API authenticates by
bearer token and never reads the session: it is unaffected.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, flash, request, session
from flask_babel import gettext as _
from flask_login import logout_user

__all__ = ["SEEN_KEY", "install", "mark_active", "now_seconds"]

#: the session key holding the time (whole seconds since the epoch) of the session's last request; set
#: at sign-in and PIN entry (:func:`mark_active`), so a session holding it belongs to someone
SEEN_KEY = "_seen"


def now_seconds() -> float:
    """The clock of the idle timeout (tests move it)."""
    return time.time()


def mark_active() -> None:
    """Note that the session's owner is active now (at sign-in and PIN entry, and at every request)."""
    now = int(now_seconds())
    if session.get(SEEN_KEY) != now:
        session[SEEN_KEY] = now


def idle_seconds() -> int:
    return 60 * int(getattr(current_app.extensions["coop.settings"], "idle_minutes", 30))


def _check_idle() -> None:
    signed_in = "_user_id" in session               # Flask-Login's key
    if request.endpoint == "static" or not (signed_in or SEEN_KEY in session):
        return
    seen = session.get(SEEN_KEY)
    now = int(now_seconds())                         # whole seconds, as kept
    # no time (a cookie from before this check existed) or a time in the future: treated as idle
    if isinstance(seen, int) and 0 <= now - seen <= idle_seconds():
        mark_active()
        return
    minutes = idle_seconds() // 60
    if signed_in:
        logout_user()
    session.clear()
    flash(_("You were signed out after %(n)s minutes without activity. Please sign in again.", n=minutes))


def install(app: Flask) -> None:
    """Check and refresh the idle time before every request (after CSRF protection, which needs the
    session's token)."""
    app.before_request(_check_idle)

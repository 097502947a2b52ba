"""Flask glue every layer's web and CLI code shares: the request's Session, 404 helpers, filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import abort, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from ledger.i18n import Message, format_money
from ledger.money import fmt


def get_session(*, write: bool | None = None) -> Session:
    """The Session of this request or command (one per request; committed once by the caller). A request that
    changes something, and a command, get a writer's session (on SQLite its transaction takes the write lock at
    BEGIN); a command that only reads asks for ``write=False`` on its first call, so a long read — rendering a run's
    statements, a year's archive — never holds the database's write lock (and its progress, written by its own
    short transactions, is not locked out)."""
    if "db_session" not in g:
        makers = current_app.extensions["ledger.sessionmaker"]
        if write is None:
            write = request.method not in ("GET", "HEAD", "OPTIONS") if has_request_context() else True
        g.db_session = makers["write" if write else "read"]()
    return g.db_session


def close_session(exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def get_or_404(session: Session, model, ident):
    obj = session.get(model, ident)
    if obj is None:
        abort(404)
    return obj


def money_filter(amount: Decimal | None) -> str:
    from flask_babel import get_locale

    return format_money(amount, locale=str(get_locale() or "zh_Hans_CN"))


#: the time every page shows: China's (stored moments are UTC; naive on SQLite)
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def china(moment: dt.datetime | dt.date | str | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored moment as China's time (``|china``; ``|china('%Y-%m-%d')`` for the day); a date as it is; an ISO
    text (a status file's) read first."""
    if not moment:
        return ""
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if isinstance(moment, dt.datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(CHINA)
    return moment.strftime(pattern)


def say(text) -> str:
    """A domain Message in the page's language (``|say``); any other text as it is."""
    from flask_babel import gettext

    return text.translate(gettext) if isinstance(text, Message) else text


def said(params: dict) -> dict:
    """A message's parameters with those that are Messages (a label) in the page's language (``|said``)."""
    return {k: say(v) for k, v in params.items()}


def register_filters(app) -> None:
    app.jinja_env.filters["money"] = money_filter
    app.jinja_env.filters["china"] = china
    app.jinja_env.filters["say"] = say
    app.jinja_env.filters["said"] = said
    app.jinja_env.filters["plain_money"] = lambda a: "" if a is None else fmt(a)


# ------------------------------------------------------------------------------------------- access rules
# Every view declares who may call it; the app refuses endpoints without a declaration. The rule
# checks role and write permission; *scope* (which entity/household) is checked by the view through
# the callbacks the app registers (``ledger.book_access``), since this bottom layer knows no entities.

import functools  # noqa: E402
from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]      # who may call it ("anonymous" alone: a public page)
    write: bool                # changes data (auditors never may)
    scope: str                 # "public", "any", "entity", "household", "township"


PUBLIC = frozenset({"anonymous"})
ALL_USERS = ("admin", "accountant", "auditor", "member")
STAFF = ("admin", "accountant", "auditor")


def rule(*roles: str, write: bool = False, scope: str = "any"):
    """Declare who may call the decorated view, and enforce it before the view runs."""
    allowed = frozenset(roles)

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            from flask import redirect
            from flask_login import current_user, login_url

            if allowed != PUBLIC:
                if not current_user.is_authenticated:
                    if request.path.startswith("/api/"):
                        abort(401)
                    return redirect(login_url("auth.login", next_url=request.full_path.rstrip("?")))
                if current_user.role not in allowed or (write and current_user.role == "auditor"):
                    abort(403)
            return view(*args, **kwargs)

        wrapped.access_rule = Rule(allowed, write, scope)
        return wrapped

    return decorate


def book_or_404(code: str, *, write: bool = False):
    """The book of entity ``code`` if the current user may see it (the app supplies the check)."""
    return current_app.extensions["ledger.book_access"](code, write=write)

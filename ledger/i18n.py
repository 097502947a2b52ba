"""Translation markers, translatable messages and money formatting that need no Flask.

``N_`` marks a module-level label for extraction (``pybabel extract -k N_``); the label is translated
where it is shown. ``format_money`` formats a Decimal for people, via Babel.

Messages for people (why a row, a form or an action was refused) are born translatable: domain code
never builds an English sentence with an f-string; it builds a :class:`Message` from an ``N_``-marked
template and its parameters::

    raise RecordError("member", msg(N_("%(member)s is not a member of %(entity)s"), member=code, entity=e.code))

A Message *is* the English text (a ``str``), so logs, tests and ``str(exc)`` read as before; the one
place that turns it into the reader's words is :meth:`Message.translate` (pages pass Flask-Babel's
``gettext``; the command line and jobs pass :func:`translations_for`'s). Parameters that are
themselves Messages (a kind of record, a run's status) are translated too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal


def N_(message: str) -> str:
    return message


def _identity(text: str) -> str:
    return text


class Message(str):
    """An English sentence that remembers its template and parameters, so it can be translated later.

    ``code`` names the kind of problem for machines (API clients, tests); it defaults to the template.
    """

    template: str
    params: Mapping[str, Any]
    code: str

    def __new__(cls, template: str, params: Mapping[str, Any] | None = None, *, code: str | None = None) -> Message:
        params = dict(params or {})
        text = str.__new__(cls, _format(template, params, _identity))
        text.template, text.params, text.code = template, params, code or template
        return text

    def translate(self, gettext: Callable[[str], str] | None = None) -> str:
        """The message in the language of ``gettext`` (English when None)."""
        return _format(self.template, self.params, gettext or _identity)

    def to_json(self) -> dict:
        """For storage (an import job's problems): template, parameters (as text) and code."""
        return {"template": self.template, "code": self.code,
                "params": {k: v.to_json() if isinstance(v, Message) else _plain(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping) -> Message:
        params = {k: cls.from_json(v) if isinstance(v, dict) else v for k, v in data.get("params", {}).items()}
        return cls(data["template"], params, code=data.get("code"))

    def __reduce__(self):       # pickles (multiprocessing) keep the template and parameters
        return (Message, (self.template, self.params), {"code": self.code})

    def __setstate__(self, state):
        self.code = state["code"]


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | bool) or value is None:
        return value
    return str(value)


def _format(template: str, params: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    text = gettext(template)
    if not params:          # a template is a %-format (as Jinja's gettext treats it): "%%" is a literal "%"
        return text.replace("%%", "%")
    shown = {k: v.translate(gettext) if isinstance(v, Message) else v for k, v in params.items()}
    try:
        return text % shown
    except (KeyError, ValueError, TypeError):       # a broken translation never hides the message
        return template % {k: v.translate() if isinstance(v, Message) else v for k, v in params.items()}


def msg(template: str, *, code: str | None = None, **params: Any) -> Message:
    """A translatable message: ``msg(N_("more than %(n)s rows"), n=limit)``."""
    return Message(template, params, code=code)


def label(template: str) -> Message:
    """A translatable word or phrase used as a parameter of another message (a status, a kind)."""
    return Message(template)


def as_message(text: str) -> Message:
    """``text`` as a Message (a plain string is kept as it is, untranslated)."""
    return text if isinstance(text, Message) else Message(text.replace("%", "%%"))


_catalogs: dict[str, Any] = {}


def translations_for(locale: str) -> Callable[[str], str]:
    """``gettext`` of the catalogs in ``payouts/translations`` for ``locale`` — for the command line and jobs,
    where there is no Flask request. The directory is found through the registered callback, so this
    bottom layer does not import the top one."""
    if locale.startswith("en") or not _TRANSLATIONS_DIR:
        return _identity
    if locale not in _catalogs:
        from babel.support import Translations

        _catalogs[locale] = Translations.load(_TRANSLATIONS_DIR[0], [locale])
    return _catalogs[locale].gettext


_TRANSLATIONS_DIR: list[str] = []


def command_gettext() -> Callable[[str], str]:
    """The language the command line speaks: ``COOP_LANG`` (``zh_Hans_CN`` by default, ``en``), never the
    server's ``LANG`` (often ``en_US`` on a server whose users read Chinese)."""
    import os

    return translations_for(os.environ.get("COOP_LANG") or "zh_Hans_CN")


def use_translations(directory: str) -> None:
    """Where the message catalogs are (called once by the app factory and the command line)."""
    if directory not in _TRANSLATIONS_DIR:
        _TRANSLATIONS_DIR[:] = [directory]
        _catalogs.clear()


def format_money(amount: Decimal | None, *, locale: str = "zh_Hans_CN", symbol: bool = False) -> str:
    """``12,345.60`` (with ``¥`` when ``symbol``), exact: the Decimal is never converted to float."""
    if amount is None:
        return ""
    text = format_decimal(amount, format="#,##0.00", locale=locale)
    return f"¥{text}" if symbol else text

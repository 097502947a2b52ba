"""marshmallow's and webargs' own sentences, in the reader's language.

The API checks a body's form with marshmallow before any rule of ours sees it, and marshmallow words its
refusals itself, in English, already formatted (``Must be greater than or equal to 1 and less than or equal
to 9999.``). Every such template is listed here, marked for the catalogs; :func:`reword` matches the
formatted text back to its template and words it again in the reader's language with the same values.
``tests/ledger/test_schema_text.py`` walks marshmallow's fields, validators and schema and fails on a
message missing here (a marshmallow upgrade that adds one).

Our own refusals never come this way: they are :class:`ledger.i18n.Message` objects, translated by
:func:`words`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ledger.i18n import N_, Message

#: marshmallow 4 (fields, validators, Schema) and webargs, with ``{obj_type}`` and Range's operators spelt out
TEMPLATES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid input."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Invalid JSON body."),
    N_("Not a valid boolean."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid number."),
    N_("Not a valid integer."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid time."),
    N_("Not a valid naive datetime."),
    N_("Not a valid aware datetime."),
    N_('"{input}" cannot be formatted as a date.'),
    N_('"{input}" cannot be formatted as a datetime.'),
    N_('"{input}" cannot be formatted as a time.'),
    N_("Not a valid period of time."),
    N_("{input!r} cannot be formatted as a timedelta."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid IP address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IPv6 interface."),
    N_("String does not match expected pattern."),
    N_("Must be one of: {choices}."),
    N_("Must be equal to {other}."),
    N_("One or more of the choices you made was in: {values}."),
    N_("One or more of the choices you made was not in: {choices}."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
)

_FIELD = re.compile(r"\{(\w+)(?:![rs])?\}")


def _pattern(template: str) -> re.Pattern:
    parts, at = [], 0
    for m in _FIELD.finditer(template):
        parts += [re.escape(template[at:m.start()]), f"(?P<{m.group(1)}>.*?)"]
        at = m.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts), re.DOTALL)


_EXACT = {t: t for t in TEMPLATES if not _FIELD.search(t)}
#: the most literal text first, so "Must be greater than {min}." never takes "… or equal to 1 and less than 5."
_PATTERNS = sorted(((t, _pattern(t)) for t in TEMPLATES if _FIELD.search(t)), key=lambda p: -len(_FIELD.sub("", p[0])))


def _fill(template: str, values: dict[str, str]) -> str:
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def reword(text: str, gettext: Callable[[str], str]) -> str:
    """``text``, one of marshmallow's sentences, in the language of ``gettext`` (any other text unchanged)."""
    if text in _EXACT:
        return gettext(text)
    for template, pattern in _PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return _fill(gettext(template), found.groupdict())
    return text


def words(text: str, gettext: Callable[[str], str]) -> str:
    """A refusal as the reader reads it: a :class:`Message` translated, marshmallow's own sentence reworded."""
    if isinstance(text, Message):
        return text.translate(gettext)
    return reword(str(text), gettext)


def field_words(messages: dict, gettext: Callable[[str], str]) -> dict[str, list[str]]:
    """A schema's ``{field: message or [messages]}`` as a form shows it: ``{field: [words]}``."""
    return {str(field): [words(m, gettext) for m in (ms if isinstance(ms, list) else [ms])]
            for field, ms in messages.items()}

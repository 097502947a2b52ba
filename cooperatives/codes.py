"""Codes of entities, households and members: one spelling per code, no look-alikes.

A code names a household for years, in workbooks, on forms, in URLs and on paper. A zero-width space, a
Cyrillic ``А`` (U+0410) for a Latin ``A``, a Greek ``Ο`` for an ``O``, or a right-to-left override (which
shows ``A-H100`` for the characters ``A-H‮001``) make a code that the database holds as new while every
reader sees an existing one — a second household beside the real one, taking its place on a list.

The rule is an allow-list, the simplest one that is sound without Unicode's confusables tables (UTS #39,
which the standard library does not have):

* a code holds only ASCII letters and digits, ``-``, ``_``, ``.`` and Chinese characters — the CJK
  Unified Ideographs and Extension A (U+4E00–U+9FFF, U+3400–U+4DBF: the characters in everyday use; the
  rare ones of the supplementary planes are not needed in a code) and ``〇``; it begins with a letter, a
  digit or a Chinese character;
* the full-width forms of those letters, digits and marks (``Ａ-Ｈ００１``, typed with a Chinese input
  method) are accepted and become ASCII: :func:`normalize_code` applies NFKC, so ``Ａ-H001`` *is*
  ``A-H001`` — the same household, never a new one.

So invisible and format characters (categories Cf, Cc, Co, Cn, Zl, Zp and any whitespace), bidi controls,
and every letter of another script (Cyrillic, Greek, Latin with accents, full-width look-alikes that NFKC
does not map to ASCII) are refused, with the reason. Latin letters and Chinese characters cannot be
mistaken for one another, so mixing them (``茶-H001``) is allowed; mixing Latin with Cyrillic or Greek
cannot happen, since neither is allowed at all. ``/`` is not allowed although it is harmless in a
workbook: a code is one segment of a page's address (``/e/<code>/members/<code>``), and a ``/`` would
leave that household without a page. A leading ``-``, ``_`` or ``.`` is refused too: such a code reads as
an option on the command line, as a formula in a spreadsheet (``-``), or as ``.``/``..`` in an address.
Confusions inside ASCII (``O`` and ``0``, ``l`` and ``1``) are as old as codes and are left alone.

:data:`PATTERN` is the same rule as a regular expression (Python and JSON Schema alike): the API
documents and enforces it (``cooperatives.schemas``); the workbook's code column
(``cooperatives.workbook``) checks with :func:`code_problem` and stores :func:`normalize_code`'s result,
and forms and the API validate through that column, so the import, the pages and the API agree.
"""

from __future__ import annotations

import re
import unicodedata

from ledger.i18n import N_, Message, msg

_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff"
_FIRST = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a" + _HAN
_MARKS = "\\-_.\uff0d\uff3f\uff0e"           # - _ . and their full-width forms
#: a code as typed: what :func:`code_problem` accepts (before :func:`normalize_code`)
PATTERN = f"^[{_FIRST}][{_FIRST}{_MARKS}]*$"
_CODE = re.compile(PATTERN)
_ALLOWED = re.compile(f"[{_FIRST}{_MARKS}]")
#: categories of characters that show nothing (or move what follows): format, control, private use,
#: unassigned, line and paragraph separators, spaces
_INVISIBLE = {"Cf", "Cc", "Co", "Cn", "Zl", "Zp", "Zs"}


def normalize_code(text: str) -> str:
    """The one spelling of a code: Unicode NFKC (full-width ``Ａ-Ｈ００１`` becomes ``A-H001``), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


_UNNAMED = {"Cc": "control character", "Co": "private use", "Cn": "unassigned"}


def _named(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: the character by number and name (never the character itself)."""
    category = unicodedata.category(char)
    return f"U+{ord(char):04X} {unicodedata.name(char, '') or _UNNAMED.get(category, category)}"


def _visible(text: str) -> str:
    """``text`` with every character a code may not hold written as ``<U+XXXX>``, quoted: safe to show."""
    return "“" + "".join(c if _ALLOWED.fullmatch(c) else f"<U+{ord(c):04X}>" for c in text) + "”"


def code_problem(text: str) -> Message | None:
    """Why ``text`` (a code as typed, trimmed) cannot be a code, or None when it can."""
    if _CODE.fullmatch(text):
        return None
    bad = next((c for c in text if not _ALLOWED.fullmatch(c)), None)
    if bad is None:
        return msg(N_("The code %(value)s must begin with a letter, a digit or a Chinese character."),
                   value=_visible(text), code="code_first_character")
    if unicodedata.category(bad) in _INVISIBLE or bad.isspace():
        return msg(N_("The code %(value)s holds an invisible character (%(char)s); type it again without it."),
                   value=_visible(text), char=_named(bad), code="code_invisible")
    if bad.isalpha() and not unicodedata.name(bad, "").startswith("CJK"):
        return msg(N_("The code %(value)s holds %(char)s, a letter that looks like another one; a code may hold the "
                      "letters A–Z, digits, “-”, “_”, “.” and Chinese characters."),
                   value=_visible(text), char=_named(bad), code="code_lookalike")
    return msg(N_("The code %(value)s holds %(char)s; a code may hold the letters A–Z, digits, “-”, “_”, “.” and "
                  "Chinese characters."), value=_visible(text), char=_named(bad), code="code_character")

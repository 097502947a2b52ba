"""How deeply a JSON or TOML text nests, measured without parsing it.

``json.loads`` and ``tomllib.loads`` descend one level of the parser per ``[`` or ``{``: 100,000 of them
raise ``RecursionError`` — a server error — where a plain "no" is due. :func:`json_depth` and
:func:`toml_depth` count the brackets that are not inside a string (or a TOML comment) in linear time, with
regular expressions and C-level iteration, so a 64 MiB body costs about as much as reading it. Callers
refuse a text deeper than :data:`MAX_NESTING` before parsing it (the API's JSON bodies,
``ledger.web.bounds``; distribution policies, ``payouts.runs.policy``).

The count is exact for well-formed text; for broken text (an unterminated string) it can only count
more, never fewer, brackets — and broken text is refused by the parser anyway.
"""

from __future__ import annotations

import re
from itertools import accumulate

#: the deepest nesting accepted in a JSON body or a policy: a policy needs three levels, an API body two
MAX_NESTING = 32

_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
#: a JSON string (bytes: ``"`` and ``\`` never occur inside a UTF-8 sequence)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
#: what hides brackets in TOML: the four kinds of string and comments (TOML 1.0)
_TOML_SKIPPED = re.compile(rb'''
      """[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""(?:"{1,2}(?!"))?    # multi-line basic string
    | \'\'\'.*?\'\'\'(?:\'{1,2}(?!\'))?                           # multi-line literal string
    | "[^"\\\n]*(?:\\.[^"\\\n]*)*"                                # basic string
    | \'[^\'\n]*\'                                                # literal string
    | \#[^\n]*                                                    # comment
''', re.S | re.X)


def _deepest(text: bytes) -> int:
    return max(accumulate(map(_STEP.__getitem__, text.translate(None, _NOT_BRACKETS))), default=0)


def _bytes(text: str | bytes) -> bytes:
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text


def too_deep(text: str | bytes, *, toml: bool = False, limit: int = MAX_NESTING) -> bool:
    """Whether ``text`` (JSON, or TOML when ``toml``) nests deeper than ``limit``. Quick when the text has
    no more than ``limit`` opening brackets at all, as every ordinary body and policy has."""
    data = _bytes(text)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return (toml_depth(data) if toml else json_depth(data)) > limit


def json_depth(text: str | bytes) -> int:
    """How many arrays and objects are open at the deepest point of ``text`` (0 for a scalar)."""
    return _deepest(_JSON_STRING.sub(b"", _bytes(text)))


def toml_depth(text: str | bytes) -> int:
    """How many arrays, inline tables and table headers (``[x]`` counts 1, ``[[x]]`` 2) are open at the
    deepest point of ``text``."""
    return _deepest(_TOML_SKIPPED.sub(b"", _bytes(text)))

"""Personal data at rest: ID and bank numbers are encrypted (Fernet, with key rotation), shown masked,
and findable for duplicates through a keyed hash, never by decrypting in bulk.

Keys come from settings: ``configure(data_keys, index_key)`` is called by the app factory and the CLI.
The first data key encrypts; every key decrypts (``MultiFernet``), so keys can be rotated with
:func:`rotate`.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, MultiFernet

_state: dict[str, object] = {}


def configure(data_keys: list[str], index_key: bytes) -> None:
    if not data_keys:
        raise ValueError("at least one data key is needed")
    _state["fernet"] = MultiFernet([Fernet(k) for k in data_keys])
    _state["index_key"] = index_key


def _fernet() -> MultiFernet:
    try:
        return _state["fernet"]  # type: ignore[return-value]
    except KeyError:
        raise RuntimeError("privacy keys are not configured (call cooperatives.privacy.configure)") from None


def encrypt(text: str | None) -> bytes | None:
    return None if not text else _fernet().encrypt(text.encode())


def decrypt(token: bytes | None) -> str | None:
    return None if token is None else _fernet().decrypt(token).decode()


def rotate(token: bytes | None) -> bytes | None:
    """Re-encrypt under the newest key."""
    return None if token is None else _fernet().rotate(token)


def digest(text: str | None) -> str | None:
    if not text:
        return None
    key = _state.get("index_key")
    if key is None:
        raise RuntimeError("privacy keys are not configured")
    normalized = "".join(text.split()).upper()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()  # type: ignore[arg-type]


def mask(text: str | None, *, head: int = 4, tail: int = 4) -> str | None:
    """``4521**********1234``: keep a few characters at each end (GB/T 35273 display de-identification)."""
    if not text:
        return None
    text = "".join(text.split())
    if len(text) <= head + tail:
        return text[:1] + "*" * (len(text) - 1)
    return text[:head] + "*" * (len(text) - head - tail) + text[-tail:]


def mask_name(name: str) -> str:
    """王*山 for the public notice list: first and last character kept."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str | None:
    return mask(phone, head=3, tail=4)

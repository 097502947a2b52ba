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

from cooperatives.access import Principal, administers, keeps_books, operation

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


# ------------------------------------------------------------------------------------ reveal and rotation
# (Operations on households: they take a Session, flush, never commit.)

#: the fields a reveal may show, as named in the audit log
REVEALABLE = ("id_number", "bank_account")
REASON_MAX = 200


def recorded_numbers(member, household) -> dict[str, bytes | None]:
    """The encrypted numbers the member's entity itself recorded for the household: an entity that registered
    the household recorded its ID and bank numbers; another entity that enrolled it recorded the ID number it
    proved (``id_recorded``) and the bank account it pays the member into — never the numbers of the entity
    that registered it (docs/SECURITY.md §4)."""
    owner = household.owner_entity_id == member.entity_id
    return {"id_number": household.id_number_enc if owner or member.id_recorded else None,
            "bank_account": household.bank_account_enc if owner else member.bank_account_enc}


@operation(keeps_books())
def reveal(session, entity, member, *, actor: Principal, reason: str) -> dict[str, str | None]:
    """The full ID and bank numbers ``entity`` recorded for its member household, for a stated reason (e.g.
    to pay by bank transfer) — see :func:`recorded_numbers`.

    Every reveal is written to the audit log (who, when, which household, which fields, why), in the same
    transaction as whatever the caller commits; the numbers themselves are never logged.
    """
    from cooperatives.audit import audit
    from cooperatives.models import Household

    household = session.get(Household, member.household_id) if member.entity_id == entity.id else None
    if household is None:
        raise LookupError("not a household member of this entity")
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_MAX:
        raise ValueError("a reason of 1 to 200 characters is needed")
    values = {name: decrypt(token) for name, token in recorded_numbers(member, household).items()}
    shown = [name for name in REVEALABLE if values[name]]
    audit(session, actor_id=actor.user_id, action="reveal", target=f"household:{household.code}",
          entity_id=entity.id, detail=f"{','.join(shown) or '-'}: {reason}")
    session.flush()
    return values


@operation(administers())
def rotate_keys(session, *, actor: Principal, batch: int = 1000) -> int:
    """Re-encrypt every household's ID and bank number, and every membership's own bank account (an entity
    that enrolled a household registered elsewhere keeps its own), under the newest data key, and recompute
    their digests under the current index key. Returns the number of rows rewritten.

    Run after putting a new key first in ``COOP_DATA_KEYS`` (the old ones stay listed until this has run,
    then may be dropped). Bulk: one UPDATE per ``batch`` rows (SQLAlchemy Core executemany).
    """
    from cooperatives.audit import audit
    from cooperatives.models import Household, Member

    households = _rotate(session, Household.__table__, batch, id_number=True)
    memberships = _rotate(session, Member.__table__, batch, id_number=False)
    done = households + memberships
    audit(session, actor_id=actor.user_id, action="rotate-keys", target="households",
          detail=f"{done} rewritten ({households} households, {memberships} memberships)")
    session.flush()
    return done


def _rotate(session, table, batch: int, *, id_number: bool) -> int:
    """Re-encrypt and re-digest the personal numbers of ``table`` (its bank account; its ID number too)."""
    from sqlalchemy import bindparam, select, update

    values = {"bank_account_enc": bindparam("_bank_enc"), "bank_account_digest": bindparam("_digest")}
    columns = [table.c.id, table.c.bank_account_enc]
    present = table.c.bank_account_enc.is_not(None)
    if id_number:
        values.update(id_number_enc=bindparam("_id_enc"), id_number_digest=bindparam("_id_digest"))
        columns.append(table.c.id_number_enc)
        present = present | table.c.id_number_enc.is_not(None)
    stmt = update(table).where(table.c.id == bindparam("_id")).values(**values)
    rows = session.execute(select(*columns).where(present).order_by(table.c.id)).all()
    for start in range(0, len(rows), batch):
        params = []
        for r in rows[start:start + batch]:
            row = {"_id": r.id, "_bank_enc": rotate(r.bank_account_enc), "_digest": digest(decrypt(r.bank_account_enc))}
            if id_number:
                row.update(_id_enc=rotate(r.id_number_enc), _id_digest=digest(decrypt(r.id_number_enc)))
            params.append(row)
        session.execute(stmt, params)
    return len(rows)


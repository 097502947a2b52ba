"""Users, passwords and API tokens (no Flask here).

Passwords are hashed with Argon2id at the OWASP minimum or above (m = 19 MiB, t = 2, p = 1), and
re-hashed on login when the parameters change. API tokens are random, shown once, stored as SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperatives.audit import audit
from cooperatives.models import ApiToken, User

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
ROLES = ("admin", "accountant", "auditor", "member")
#: a fixed hash to verify against when the user does not exist, so timing does not reveal usernames
_DUMMY_HASH = HASHER.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def create_user(session: Session, *, username: str, password: str, role: str, display_name: str | None = None,
                entity_id: int | None = None, township_id: int | None = None,
                household_id: int | None = None) -> User:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    needed = {"accountant": entity_id, "auditor": township_id, "member": household_id}
    if role in needed and needed[role] is None:
        raise ValueError(f"a {role} needs a scope")
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                role=role, entity_id=entity_id, township_id=township_id, household_id=household_id)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active))
    try:
        HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


#: ASVS 5.0 V6.2.1: at least 8 characters; we ask for 10 (a phrase is easier to remember than symbols)
PASSWORD_MIN = 10
PASSWORD_MAX = 200


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's current password (Argon2id verify)."""
    try:
        return HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(user: User, password: str) -> str | None:
    """Why ``password`` may not become the user's new password (``too_short``, ``too_long``,
    ``is_username``, ``unchanged``), or None."""
    if len(password) < PASSWORD_MIN:
        return "too_short"
    if len(password) > PASSWORD_MAX:
        return "too_long"
    if password.strip().lower() == user.username.lower():
        return "is_username"
    if check_password(user, password):
        return "unchanged"
    return None


def change_password(session: Session, user: User, password: str, *, actor_id: int | None = None) -> None:
    """Set a new password and end every session of the user (the session version is part of the login).
    Recorded in the audit log (who changed whose password; never the password)."""
    user.password_hash = hash_password(password)
    user.session_version += 1
    audit(session, actor_id=actor_id if actor_id is not None else user.id,
          action="password" if actor_id in (None, user.id) else "reset-password",
          target=f"user:{user.username}", entity_id=user.entity_id)
    session.flush()


def reset_password(session: Session, user: User, *, actor_id: int) -> str:
    """An admin's reset: a new random password (shown once to the admin, never stored readable);
    every session of the user ends."""
    password = secrets.token_urlsafe(12)
    change_password(session, user, password, actor_id=actor_id)
    return password


def issue_token(session: Session, user: User, name: str) -> str:
    token = "cl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=hashlib.sha256(token.encode()).hexdigest()))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return session.scalar(select(User).join(ApiToken).where(ApiToken.token_hash == digest, User.active))

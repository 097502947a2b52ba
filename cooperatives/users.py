"""Users, passwords and API tokens (no Flask here).

Passwords are hashed with Argon2id at the OWASP minimum or above (m = 19 MiB, t = 2, p = 1), and
re-hashed on login when the parameters change. API tokens are random, shown once, stored as SHA-256;
each expires (90 days unless chosen, at most 365) and can be revoked; a password change or an admin's
reset revokes every token of the user. Issuing and revoking are in the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from cooperatives.access import Principal, administers, is_user, operation
from cooperatives.audit import audit
from cooperatives.models import ApiToken, User
from ledger.errors import Problem
from ledger.i18n import N_, Message, msg

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
ROLES = ("admin", "accountant", "auditor", "member")
#: a fixed hash to verify against when the user does not exist, so timing does not reveal usernames
_DUMMY_HASH = HASHER.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_secret(stored: str | None, secret: str) -> bool:
    """Whether ``secret`` matches the Argon2 hash ``stored``. With no hash (no such user, a phone without a
    PIN) a fixed dummy hash is verified instead and the answer is False: one verification either way, so
    the time taken does not tell whether the account or PIN exists."""
    try:
        return HASHER.verify(stored or _DUMMY_HASH, secret) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


#: how long a username may be (the column's width)
USERNAME_MAX = 80
#: the field each role's scope is chosen in, and why it is needed when missing
SCOPE_FIELDS = {"accountant": ("entity_id", "entity", N_("An accountant keeps the books of one entity: choose it.")),
                "auditor": ("township_id", "township", N_("An auditor reads one township: choose it.")),
                "member": ("household_id", "household", N_("A member signs in for one household: choose it."))}


def normalize_username(text: str | None) -> str:
    """The one spelling of a typed username: Unicode NFKC (full-width letters become ASCII), trimmed."""
    return unicodedata.normalize("NFKC", text or "").strip()


def username_taken(session: Session, username: str) -> bool:
    """Whether a user is called ``username`` already, capitals or small letters alike (``Wang`` is ``wang``)."""
    name = normalize_username(username)
    return session.scalar(select(User.id).where(func.lower(User.username) == func.lower(name)).limit(1)) is not None


def username_problem(session: Session, username: str) -> Message | None:
    """Why ``username`` (as typed) cannot be a new user's name, or None."""
    name = normalize_username(username)
    if not name:
        return msg(N_("Give a username."), code="username_missing")
    if len(name) > USERNAME_MAX:
        return msg(N_("A username has at most %(n)s characters."), n=USERNAME_MAX, code="username_too_long")
    if any(unicodedata.category(c)[0] in "CZ" for c in name):
        return msg(N_("A username may not hold spaces or invisible characters."), code="username_characters")
    if username_taken(session, name):
        return msg(N_("The username %(username)s is taken (capital and small letters count as the same)."),
                   username=name, code="username_taken")
    return None


@operation(administers())
def create_user(session: Session, *, username: str, password: str, role: str, display_name: str | None = None,
                entity_id: int | None = None, township_id: int | None = None,
                household_id: int | None = None, actor: Principal) -> User:
    """A user with a role and its scope (the admin's act; logged). Refused (:class:`RecordError`, nothing
    written) for a username taken in any case (``Wang`` when ``wang`` exists), a role without its scope."""
    from cooperatives.operations import RecordError, refuse

    if role not in ROLES:
        raise refuse("role", N_("Unknown role: %(role)s."), role=role, code="unknown_role")
    problem = username_problem(session, username)
    if problem is not None:
        raise RecordError(Problem.of(problem, "username"))
    username = normalize_username(username)
    scope = {"entity_id": entity_id, "township_id": township_id, "household_id": household_id}
    if role in SCOPE_FIELDS:
        column, field, reason = SCOPE_FIELDS[role]
        if scope[column] is None:
            raise refuse(field, reason, code="scope_missing")
    user = User(username=username, display_name=(display_name or "").strip() or username,
                password_hash=hash_password(password), role=role, **scope)
    session.add(user)
    session.flush()
    audit(session, actor_id=actor.user_id, action="create-user", target=f"user:{username}", entity_id=user.entity_id,
          detail=role)
    session.flush()
    return user


@operation(administers())
def set_user_active(session: Session, user: User, *, active: bool, actor: Principal) -> bool:
    """Disable a user (every session ends, every API token is revoked; they cannot sign in) or enable them
    again. The admin cannot disable their own account. False when it already was so. Logged."""
    from cooperatives.operations import refuse

    if not active and actor.user_id is not None and actor.user_id == user.id:
        raise refuse("active", N_("You cannot disable your own account."), code="disable_self")
    if bool(user.active) == active:
        return False
    user.active = active
    if not active:
        user.session_version += 1
        _revoke_user_tokens(session, user, actor_id=actor.user_id, reason="user disabled")
    audit(session, actor_id=actor.user_id, action="enable-user" if active else "disable-user",
          target=f"user:{user.username}", entity_id=user.entity_id)
    session.flush()
    return True


def find_user(session: Session, username: str) -> User | None:
    """The user called ``username``, capitals or small letters alike: the one spelled exactly so, else the one
    user whose name differs only in case (None when none, or when several do — rows created before names were
    compared case-insensitively)."""
    name = normalize_username(username)
    if not name:
        return None
    exact = session.scalar(select(User).where(User.username == name))
    if exact is not None:
        return exact
    rows = session.scalars(select(User).where(func.lower(User.username) == func.lower(name)).limit(2)).all()
    return rows[0] if len(rows) == 1 else None


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user ``username`` (any case: ``WANG`` signs in as ``wang``) if ``password`` is theirs."""
    user = find_user(session, username)
    if user is not None and not user.active:
        user = None
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


def new_password_problem(username: str, password: str) -> str | None:
    """Why ``password`` may not be the password of a user called ``username`` (``too_short``, ``too_long``,
    ``is_username``), or None: the rule of a new user's first password."""
    if len(password) < PASSWORD_MIN:
        return "too_short"
    if len(password) > PASSWORD_MAX:
        return "too_long"
    if password.strip().lower() == normalize_username(username).lower():
        return "is_username"
    return None


def password_problem(user: User, password: str) -> str | None:
    """Why ``password`` may not become the user's new password (``too_short``, ``too_long``,
    ``is_username``, ``unchanged``), or None."""
    problem = new_password_problem(user.username, password)
    if problem:
        return problem
    if check_password(user, password):
        return "unchanged"
    return None


@operation(is_user())
def change_password(session: Session, user: User, password: str, *, actor: Principal) -> None:
    """Set a new password and end every session and token of the user (the session version is part of the
    login). Recorded in the audit log (who changed whose password; never the password)."""
    own = actor.user_id == user.id
    user.password_hash = hash_password(password)
    user.session_version += 1
    audit(session, actor_id=actor.user_id, action="password" if own else "reset-password",
          target=f"user:{user.username}", entity_id=user.entity_id)
    _revoke_user_tokens(session, user, actor_id=actor.user_id, reason="password changed" if own else "password reset")
    session.flush()


@operation(administers())
def reset_password(session: Session, user: User, *, actor: Principal) -> str:
    """An admin's reset: a new random password (shown once to the admin, never stored readable);
    every session of the user ends."""
    password = secrets.token_urlsafe(12)
    change_password(session, user, password, actor=actor)
    return password


# ------------------------------------------------------------------------------------------ API tokens

#: lifetime of a new token unless chosen, and the longest one may choose (days)
TOKEN_DAYS = 90
TOKEN_MAX_DAYS = 365
TOKEN_NAME_MAX = 100
#: ``last_used_at`` is written at most this often (a write per API request would be a write per read)
TOKEN_USE_GRANULARITY = dt.timedelta(hours=1)


def utcnow() -> dt.datetime:
    """Now, in UTC (tests move this clock)."""
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored moment as an aware UTC time (SQLite gives back naive times; they were written in UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_state(token: ApiToken, now: dt.datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if token.revoked_at is not None:
        return "revoked"
    return "active" if as_utc(token.expires_at) > (now or utcnow()) else "expired"


@operation(is_user())
def issue_token(session: Session, user: User, name: str, *, days: int = TOKEN_DAYS, actor: Principal) -> str:
    """A new API token of ``user`` valid for ``days`` days (1 to 365); returns the token itself, which is
    never stored (only its SHA-256) and cannot be shown again. Logged with who issued it."""
    if not 1 <= days <= TOKEN_MAX_DAYS:
        raise ValueError(f"a token lives 1 to {TOKEN_MAX_DAYS} days, not {days}")
    name = (name or "").strip()[:TOKEN_NAME_MAX] or "token"
    token = "cl_" + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user_id=user.id, name=name, token_hash=_digest(token), created_at=now,
                   expires_at=now + dt.timedelta(days=days))
    session.add(row)
    session.flush()
    audit(session, actor_id=actor.user_id, action="issue-token", target=f"user:{user.username}",
          entity_id=user.entity_id, detail=f"token {row.id} ({name}), {days} days")
    session.flush()
    return token


def _token_owner(session, token, *args, **kwargs):
    return token.user


@operation(is_user(_token_owner))
def revoke_token(session: Session, token: ApiToken, *, actor: Principal) -> bool:
    """Revoke one token (False if it already was). Logged."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    user = token.user
    audit(session, actor_id=actor.user_id, action="revoke-token", target=f"user:{user.username}",
          entity_id=user.entity_id, detail=f"token {token.id} ({token.name})")
    session.flush()
    return True


def _revoke_user_tokens(session: Session, user: User, *, actor_id: int | None = None, reason: str = "") -> int:
    """Revoke every token of ``user`` not yet revoked (a password change, an admin's reset); returns how
    many. Logged once when there were any."""
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                             .values(revoked_at=utcnow()).execution_options(synchronize_session="fetch"))
    count = result.rowcount or 0
    if count:
        audit(session, actor_id=actor_id, action="revoke-token", target=f"user:{user.username}",
              entity_id=user.entity_id, detail=f"all {count} token(s)" + (f": {reason}" if reason else ""))
    session.flush()
    return count


def list_tokens(session: Session, user: User | None = None) -> list[ApiToken]:
    """Tokens of ``user`` (every user's when None), newest first, their users loaded."""
    from sqlalchemy.orm import joinedload

    stmt = select(ApiToken).options(joinedload(ApiToken.user)).order_by(ApiToken.created_at.desc(),
                                                                         ApiToken.id.desc())
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == user.id)
    return list(session.scalars(stmt))


def token_for(session: Session, token: str, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token row of ``token`` (known, not revoked, not expired, its user active), or None."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    return session.scalar(select(ApiToken).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None),
                                 ApiToken.expires_at > now, User.active))


def user_for_token(session: Session, token: str) -> User | None:
    """The user a bearer token authenticates (None: unknown, revoked or expired, or the user inactive)."""
    row = token_for(session, token)
    return row.user if row is not None else None


def note_token_use(session: Session, token: ApiToken, *, now: dt.datetime | None = None) -> bool:
    """Record that ``token`` was just used, at most once per :data:`TOKEN_USE_GRANULARITY` (a conditional
    UPDATE, so racing requests write it once). True when a row was written; the caller commits."""
    now = now or utcnow()
    last = as_utc(token.last_used_at)
    if last is not None and now - last < TOKEN_USE_GRANULARITY:
        return False
    result = session.execute(update(ApiToken).where(
        ApiToken.id == token.id,
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOKEN_USE_GRANULARITY))
        .values(last_used_at=now).execution_options(synchronize_session=False))
    return bool(result.rowcount)

"""Who may do what: one access rule per write operation, whatever the channel (no Flask here).

Every operation that writes — recording, registering, importing, distributing, paying, objecting,
auditing, managing users — is declared with :func:`operation` and the :class:`Rule` it obeys, and takes
the acting :class:`Principal` as its ``actor`` keyword. The rule is checked when the operation is
called, before it touches the database, so a page, the API, a workbook, the command line and a job all
meet the same rule: a new channel cannot forget it (``tests/cooperatives/test_operations.py`` walks
:data:`OPERATIONS` and refuses an operation without a rule, and checks every rule refuses the principals
it should).

Principals:

* ``console`` — the ``coopledger`` command run on the server (and the demo loader): whoever runs it
  holds the database credentials already, so it may do what the admin may;
* ``admin`` — everything;
* ``accountant`` — the books of one entity (``entity_id``);
* ``auditor`` — reads one township (``township_id``); writes only audit opinions and integrity checks;
* ``member`` (a household's user) and ``household`` (a phone + PIN visit) — one household
  (``household_id``): confirm receipt, object to a line.

The web layer still checks every route first (``ledger.web.support.rule`` and the scope lookups that
answer 404); these rules are the second, channel-independent line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.i18n import N_, Message, msg

ROLES = ("console", "admin", "accountant", "auditor", "member", "household")


@dataclass(frozen=True)
class Principal:
    """Who is acting: a role and its scope. ``user_id`` is what the audit log records (None: the console
    or a phone + PIN visit)."""

    role: str
    user_id: int | None = None
    entity_id: int | None = None
    township_id: int | None = None
    household_id: int | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @classmethod
    def of_user(cls, user) -> Principal:
        """The principal of a signed-in user (or an API token's user)."""
        return cls(user.role, user.id, user.entity_id, user.township_id, user.household_id)

    @classmethod
    def of_household(cls, household_id: int) -> Principal:
        """A household that entered its phone number and PIN."""
        return cls("household", household_id=household_id)

    @property
    def is_root(self) -> bool:
        return self.role in ("console", "admin")


CONSOLE = Principal("console")


class Forbidden(PermissionError):
    """``actor`` may not run ``operation`` on what it named. Raised before anything is written."""

    def __init__(self, operation: str, actor: Principal, reason: Message | None = None):
        self.operation, self.actor = operation, actor
        self.reason = reason or msg(N_("Your account may not do this."), code="forbidden")
        super().__init__(self.reason)


# ------------------------------------------------------------------------------------------------ rules

Target = Callable[..., Any]          # (session, *args, **kwargs) of the operation -> the object the rule judges


@dataclass(frozen=True)
class Rule:
    """A named access rule: ``check(session, actor, target)`` on the object ``target`` picks out of the
    operation's arguments."""

    name: str
    check: Callable[[Session, Principal, Any], bool]
    target: Target

    def allows(self, session: Session, actor: Principal, args: tuple, kwargs: dict) -> bool:
        if actor.is_root:
            return True
        return bool(self.check(session, actor, self.target(session, *args, **kwargs)))


def first(session, obj, *args, **kwargs):
    """The operation's first argument after the session (most rules judge it)."""
    return obj


def run_entity(session, run, *args, **kwargs):
    return run.entity


def _keeps_books(session, actor: Principal, entity) -> bool:
    return actor.role == "accountant" and entity is not None and actor.entity_id == entity.id


def _audits(session, actor: Principal, entity) -> bool:
    return actor.role == "auditor" and entity is not None and actor.township_id == entity.township_id


def _is_household(session, actor: Principal, household_id) -> bool:
    return actor.role in ("member", "household") and household_id is not None and actor.household_id == household_id


def _keeps_household(session, actor: Principal, household) -> bool:
    """The accountant of the entity that registered the household (its owner) keeps its PIN, its size
    and the numbers it recorded; other entities that enrolled it keep only their own membership."""
    return actor.role == "accountant" and household is not None and household.owner_entity_id == actor.entity_id


def _is_user(session, actor: Principal, user) -> bool:
    return user is not None and actor.user_id == user.id


def _nobody(session, actor: Principal, target) -> bool:
    return False


def keeps_books(target: Target = first) -> Rule:
    """The entity's accountant (and the admin, and the console)."""
    return Rule("keeps_books", _keeps_books, target)


def audits(target: Target = first) -> Rule:
    """The auditor of the entity's township (and the admin, and the console)."""
    return Rule("audits", _audits, target)


def is_household(target: Target) -> Rule:
    """The household itself: its member user or its phone + PIN visit."""
    return Rule("is_household", _is_household, target)


def keeps_household(target: Target = first) -> Rule:
    """The accountant of the entity that registered the household (and the admin, and the console)."""
    return Rule("keeps_household", _keeps_household, target)


def is_user(target: Target = first) -> Rule:
    """The user themself (and the admin, and the console)."""
    return Rule("is_user", _is_user, target)


def _nothing(session, *args, **kwargs):
    return None


def administers() -> Rule:
    """The admin and the console only."""
    return Rule("administers", _nobody, _nothing)


def links_entities(target: Target = first) -> Rule:
    """Linking a member entity to a cluster project: the township's auditor (who oversees both), the
    admin, the console — never the project's own accountant, who would otherwise choose whose books
    the project's run writes into."""
    return Rule("links_entities", _audits, target)


# ----------------------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    name: str
    rule: Rule
    func: Callable


#: every guarded operation, by ``module.function``
OPERATIONS: dict[str, Operation] = {}


def operation(rule: Rule):
    """Declare a write operation and the rule it obeys. The decorated function takes ``actor`` (a
    :class:`Principal`) as a required keyword; the rule is checked first and :class:`Forbidden` raised
    when it does not allow the actor."""

    def decorate(func):
        name = f"{func.__module__}.{func.__name__}"

        @functools.wraps(func)
        def guarded(session, *args, actor: Principal, **kwargs):
            if not isinstance(actor, Principal):
                raise TypeError(f"{name}: actor must be a Principal, not {actor!r}")
            if not rule.allows(session, actor, args, kwargs):
                raise Forbidden(name, actor)
            return func(session, *args, actor=actor, **kwargs)

        guarded.operation_rule = rule
        OPERATIONS[name] = Operation(name, rule, guarded)
        return guarded

    return decorate


def may(session: Session, actor: Principal, op: Callable, *args, **kwargs) -> bool:
    """Whether ``actor`` may run the operation ``op`` with these arguments (for pages: show the button)."""
    return op.operation_rule.allows(session, actor, args, kwargs)


def linked(session: Session, project_id: int, member_entity_id: int) -> bool:
    """Whether the member entity is linked to the cluster project (by the admin or the township)."""
    from cooperatives.models import EntityLink

    return session.scalar(select(EntityLink.id).where(EntityLink.project_id == project_id,
                                                      EntityLink.member_entity_id == member_entity_id)) is not None

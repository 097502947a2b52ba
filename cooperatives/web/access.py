"""Who may do what, declared on every route and checked before the view runs.

Each view is wrapped by :func:`ledger.web.support.rule`; the app refuses (403) any endpoint without a
declared rule, so a new route cannot be forgotten. Scope:

* admin — everything;
* accountant — read and write their own entity;
* auditor — read every entity of their township, write nothing but audit records;
* member — read their own household's pages only.

Objects outside the user's scope answer 404, the same as objects that do not exist, so ids leak nothing.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from cooperatives.access import Principal
from cooperatives.models import Entity
from ledger.web.support import PUBLIC, STAFF, Rule, get_session, rule  # noqa: F401 (re-exported)


def current_actor() -> Principal:
    """The principal this request acts as: its signed-in user (pages) or its token's user (API)."""
    return Principal.of_user(current_user)


def can_read_entity(user, entity: Entity) -> bool:
    if user.role == "admin":
        return True
    if user.role == "accountant":
        return user.entity_id == entity.id
    if user.role == "auditor":
        return user.township_id == entity.township_id
    return False


def can_write_entity(user, entity: Entity) -> bool:
    return user.role == "admin" or (user.role == "accountant" and user.entity_id == entity.id)


def entity_or_404(code: str, *, write: bool = False) -> Entity:
    """The entity ``code`` if the current user may see (and, with ``write``, change) it; else 404."""
    entity = get_session().scalar(select(Entity).where(Entity.code == code))
    if entity is None or not can_read_entity(current_user, entity):
        abort(404)
    if write and not can_write_entity(current_user, entity):
        abort(403)
    return entity


def check_declared_rule(user) -> None:
    """Enforce the endpoint's declared rule for ``user`` before anything reads the request body.

    The API parses and validates a body before its view runs; calling this first (from the API's
    authentication) makes a member or an auditor get 403 and another tenant's entity 404 whatever the
    body holds, exactly as the pages answer, instead of learning how the body would have been judged.
    """
    from flask import current_app, request

    declared = getattr(current_app.view_functions.get(request.endpoint), "access_rule", None)
    if declared is None or user.role not in declared.roles or (declared.write and user.role == "auditor"):
        abort(403)
    view_args = request.view_args or {}
    code = view_args.get("code")
    if declared.scope == "entity" and code is not None:
        entity_or_404(code, write=declared.write)
    elif declared.scope == "record":
        view = current_app.view_functions[request.endpoint]
        record_or_404(view.record_kind, view_args["record_id"], write=declared.write)


def record_or_404(kind: str, record_id: int, *, write: bool = False):
    """``(entity, record)`` for record ``record_id`` of ``kind`` if the current user may see (with
    ``write``: change) its entity; else 404 (403) — another tenant's record is as absent as a missing one."""
    from cooperatives.kinds import VOIDABLE

    session = get_session()
    row = session.get(VOIDABLE[kind], record_id)
    if row is None:
        abort(404)
    entity = session.get(Entity, row.entity_id)
    if not can_read_entity(current_user, entity):
        abort(404)
    if write and not can_write_entity(current_user, entity):
        abort(403)
    return entity, row


def may_write(code: str) -> bool:
    """Whether the current user may change entity ``code`` (for templates: show the write links or not)."""
    entity = get_session().scalar(select(Entity).where(Entity.code == code))
    return entity is not None and current_user.is_authenticated and can_write_entity(current_user, entity)


def visible_entities(user):
    """The entities ``user`` may read, with their township and village loaded (no query per row)."""
    stmt = select(Entity).options(joinedload(Entity.township), joinedload(Entity.village)).order_by(Entity.code)
    if user.role == "accountant":
        stmt = stmt.where(Entity.id == user.entity_id)
    elif user.role == "auditor":
        stmt = stmt.where(Entity.township_id == user.township_id)
    elif user.role != "admin":
        return []
    return list(get_session().scalars(stmt))

"""Setting up from nothing: townships, their villages and the entities that keep books (no Flask here).

The admin's acts (and the console's), one operation each with the rule :func:`~cooperatives.access.administers`,
each in the audit log. A new entity is :func:`cooperatives.operations.create_entity` — the same operation the
workbook import runs for an ``entity`` sheet — after :func:`add_entity` checked what a person typed on a form:
the code's spelling (:mod:`cooperatives.codes`, as the workbook checks it), a code already used (capital and
small letters alike), the township and village chosen. Its books start on 1 January of the year given (this
year by default); while they hold nothing, the first import moves that start back to the year of its earliest
record (:func:`cooperatives.operations.settle_books_start`), as for an entity the importer creates.

Every refusal is a :class:`~cooperatives.operations.RecordError` whose problems name the form's fields.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperatives.access import Principal, administers, operation
from cooperatives.audit import audit
from cooperatives.codes import code_problem, normalize_code
from cooperatives.models import ENTITY_KINDS, Entity, Township, Village
from cooperatives.operations import RecordError, create_entity
from ledger.clock import china_today
from ledger.errors import Problem
from ledger.i18n import N_, msg
from ledger.models import Book

NAME_MAX = 100           # a township's or a village's name (the columns' width)
ENTITY_NAME_MAX = 200
CODE_MAX = 40
CREDIT_CODE_MAX = 40
#: the first year of books a new entity may start in
FIRST_YEAR_MIN = 2000


def _named(name: str | None, field: str, taken: bool, *, limit: int = NAME_MAX) -> list[Problem]:
    if not name:
        return [Problem.of(msg(N_("Give a name."), code="name_missing"), field)]
    if len(name) > limit:
        return [Problem.of(msg(N_("A name has at most %(n)s characters."), n=limit, code="name_too_long"), field)]
    if taken:
        return [Problem.of(msg(N_("%(name)s is there already."), name=name, code="name_taken"), field)]
    return []


@operation(administers())
def create_township(session: Session, *, name: str, actor: Principal) -> Township:
    """A new township (乡镇) called ``name``. Refused: no name, or one that is there already."""
    name = (name or "").strip()
    taken = bool(name) and session.scalar(select(Township.id).where(Township.name == name)) is not None
    problems = _named(name, "name", taken)
    if problems:
        raise RecordError(problems)
    township = Township(name=name)
    session.add(township)
    session.flush()
    audit(session, actor_id=actor.user_id, action="create-township", target=f"township:{township.id}", detail=name)
    return township


@operation(administers())
def create_village(session: Session, township: Township, *, name: str, actor: Principal) -> Village:
    """A new village (村) of ``township``. Refused: no name, or a village of that name in the township already."""
    name = (name or "").strip()
    taken = bool(name) and session.scalar(select(Village.id).where(Village.township_id == township.id,
                                                                     Village.name == name)) is not None
    problems = _named(name, "name", taken)
    if problems:
        raise RecordError(problems)
    village = Village(township_id=township.id, name=name)
    session.add(village)
    session.flush()
    audit(session, actor_id=actor.user_id, action="create-village", target=f"village:{village.id}",
          detail=f"{township.name} {name}")
    return village


def code_used(session: Session, code: str) -> bool:
    """Whether an entity (or a book, such as a carried-over one) is called ``code``, in any case."""
    lowered = func.lower(code)
    return (session.scalar(select(Entity.id).where(func.lower(Entity.code) == lowered).limit(1)) is not None
            or session.scalar(select(Book.id).where(func.lower(Book.code) == lowered).limit(1)) is not None)


def entity_problems(session: Session, *, code: str, name: str, kind: str, township: Township | None,
                    village: Village | None = None, credit_code: str | None = None,
                    first_year: int | None = None) -> list[Problem]:
    """Every problem of a new entity as typed on a form (field by field), or []."""
    problems = []
    if not code:
        problems.append(Problem.of(msg(N_("Give the entity's code."), code="code_missing"), "code"))
    elif (bad := code_problem(code)) is not None:
        problems.append(Problem.of(bad, "code"))
    elif len(code) > CODE_MAX:
        problems.append(Problem.of(msg(N_("A code has at most %(n)s characters."), n=CODE_MAX,
                                       code="code_too_long"), "code"))
    elif code_used(session, code):
        problems.append(Problem.of(msg(N_("The code %(value)s is taken by another entity."), value=code,
                                       code="code_taken"), "code"))
    problems += _named(name, "name", False, limit=ENTITY_NAME_MAX)
    if kind not in ENTITY_KINDS:
        problems.append(Problem.of(msg(N_("Choose the kind of entity."), code="unknown_kind"), "kind"))
    if township is None:
        problems.append(Problem.of(msg(N_("Choose the township."), code="township_missing"), "township"))
    elif village is not None and village.township_id != township.id:
        problems.append(Problem.of(msg(N_("The village %(village)s is not in %(township)s."), village=village.name,
                                       township=township.name, code="village_elsewhere"), "village"))
    if credit_code and len(credit_code) > CREDIT_CODE_MAX:
        problems.append(Problem.of(msg(N_("A code has at most %(n)s characters."), n=CREDIT_CODE_MAX,
                                       code="code_too_long"), "credit_code"))
    last = china_today().year + 1
    if first_year is not None and not FIRST_YEAR_MIN <= first_year <= last:
        problems.append(Problem.of(msg(N_("The books start in a year from %(first)s to %(last)s."),
                                       first=FIRST_YEAR_MIN, last=last, code="first_year_range"), "first_year"))
    return problems


@operation(administers())
def add_entity(session: Session, *, code: str, name: str, kind: str, township: Township | None,
               village: Village | None = None, credit_code: str | None = None, first_year: int | None = None,
               actor: Principal) -> Entity:
    """Register an entity as typed on the admin's form: :func:`entity_problems`, then
    :func:`~cooperatives.operations.create_entity` (its book opened on the chart its kind keeps, from 1 January
    of ``first_year`` — this year by default; logged). Refused with every problem at once; nothing written."""
    code = normalize_code(code or "")
    name = (name or "").strip()
    credit_code = (credit_code or "").strip() or None
    problems = entity_problems(session, code=code, name=name, kind=kind, township=township, village=village,
                               credit_code=credit_code, first_year=first_year)
    if problems:
        raise RecordError(problems)
    return create_entity(session, code=code, name=name, kind=kind, township=township.name,
                         village=village.name if village is not None else None, credit_code=credit_code,
                         first_year=first_year, actor=actor)

"""The admin's setup pages: from an empty database to an entity whose accountant can sign in and import.

``/admin`` (the setup home) links the steps: townships and their villages (``/admin/townships``), entities
(``/admin/entities``; a new one lands on ``/admin/entities/<code>``, which says what comes next: its
accountant, then the accountant's first import), users (``/users``, ``/users/new`` in
:mod:`cooperatives.web.auth`) and the member entities of cluster projects (``/admin/links``).

Every write is one operation of the domain, the same the command line calls (:mod:`cooperatives.tenants`,
:func:`cooperatives.operations.link_member_entity`, :mod:`cooperatives.users`), with the rule that only the
admin (and the console) may; each is in the audit log. A refusal is shown in the form, in the reader's
language, and nothing is written.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import SelectField, StringField
from wtforms.validators import Length

from cooperatives.codes import normalize_code
from cooperatives.models import ENTITY_KINDS, Entity, EntityLink, Township, User, Village
from cooperatives.operations import RecordError, link_member_entity
from cooperatives.tenants import (
    CODE_MAX,
    CREDIT_CODE_MAX,
    ENTITY_NAME_MAX,
    NAME_MAX,
    add_entity,
    create_township,
    create_village,
    entity_problems,
)
from cooperatives.web.access import current_actor
from cooperatives.web.writes import field_errors
from ledger.clock import china_today
from ledger.errors import Problem
from ledger.i18n import N_, msg
from ledger.web.support import get_session, rule

bp = Blueprint("admin", __name__, url_prefix="/admin")


class TownshipForm(FlaskForm):
    name = StringField(_l("Name of the township"), validators=[Length(max=NAME_MAX)])


class VillageForm(FlaskForm):
    township = SelectField(_l("Township"), coerce=str, validate_choice=False)
    name = StringField(_l("Name of the village"), validators=[Length(max=NAME_MAX)])


class EntityForm(FlaskForm):
    code = StringField(_l("Code"), validators=[Length(max=CODE_MAX)])
    name = StringField(_l("Name"), validators=[Length(max=ENTITY_NAME_MAX)])
    kind = SelectField(_l("Kind"), coerce=str, validate_choice=False)
    township = SelectField(_l("Township"), coerce=str, validate_choice=False)
    village = SelectField(_l("Village (optional)"), coerce=str, validate_choice=False)
    credit_code = StringField(_l("Unified social credit code (optional)"), validators=[Length(max=CREDIT_CODE_MAX)])
    first_year = StringField(_l("First year of the books"), validators=[Length(max=4)])


class LinkForm(FlaskForm):
    project = SelectField(_l("Cluster project"), coerce=str, validate_choice=False)
    member = SelectField(_l("Member entity"), coerce=str, validate_choice=False)


def _id_of(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _townships() -> list[Township]:
    return list(get_session().scalars(select(Township).options(joinedload(Township.villages)).order_by(Township.name))
                .unique())


def _township_choices(townships: list[Township]) -> list[tuple[str, str]]:
    return [("", "—")] + [(str(t.id), t.name) for t in townships]


# ------------------------------------------------------------------------------------------------- home


@bp.get("/")
@rule("admin", scope="any")
def home():
    """The setup home: what there is, and the steps from nothing to an accountant's first import."""
    db = get_session()
    counts = {"townships": db.scalar(select(func.count(Township.id))),
              "villages": db.scalar(select(func.count(Village.id))),
              "entities": db.scalar(select(func.count(Entity.id))),
              "users": db.scalar(select(func.count(User.id))),
              "projects": db.scalar(select(func.count(Entity.id)).where(Entity.kind == "cluster_project"))}
    return render_template("admin/home.html", counts=counts)


# ------------------------------------------------------------------------------- townships and villages


def _townships_page(*, township_form=None, village_form=None, errors=None, village_errors=None, status=200):
    townships = _townships()
    village_form = village_form or VillageForm(prefix="village", formdata=None)
    village_form.township.choices = _township_choices(townships)
    entities = dict(get_session().execute(select(Entity.township_id, func.count(Entity.id)).group_by(Entity.township_id))
                    .all())
    return render_template("admin/townships.html", townships=townships, entities=entities,
                           form=township_form or TownshipForm(formdata=None), village_form=village_form,
                           errors=errors or {}, village_errors=village_errors or {}), status


@bp.route("/townships", methods=["GET", "POST"])
@rule("admin", write=True, scope="any")
def townships():
    """Townships (乡镇) and their villages; a new township."""
    form = TownshipForm()
    if request.method != "POST":
        return _townships_page(township_form=form)
    if not form.validate_on_submit():
        return _townships_page(township_form=form, errors=form.errors, status=422)
    db = get_session()
    try:
        township = create_township(db, name=form.name.data, actor=current_actor())
        db.commit()
    except RecordError as exc:
        db.rollback()
        return _townships_page(township_form=form, errors=field_errors(exc.problems), status=422)
    flash(_("The township %(name)s is created. Now add its villages.", name=township.name))
    return redirect(url_for(".townships"))


@bp.post("/villages")
@rule("admin", write=True, scope="any")
def villages():
    """A new village of a township."""
    form = VillageForm(prefix="village")
    form.township.choices = []
    if not form.validate_on_submit():
        return _townships_page(village_form=form, village_errors=form.errors, status=422)
    db = get_session()
    township_id = _id_of(form.township.data)
    township = db.get(Township, township_id) if township_id is not None else None
    if township is None:
        return _townships_page(village_form=form, village_errors={"township": [_("Choose the township.")]},
                               status=422)
    try:
        village = create_village(db, township, name=form.name.data, actor=current_actor())
        db.commit()
    except RecordError as exc:
        db.rollback()
        return _townships_page(village_form=form, village_errors=field_errors(exc.problems), status=422)
    flash(_("The village %(village)s of %(township)s is created.", village=village.name, township=township.name))
    return redirect(url_for(".townships"))


# ------------------------------------------------------------------------------------------------ entities


def _entity_form_choices(form: EntityForm, townships: list[Township]) -> None:
    form.kind.choices = [("", "—")] + [(kind, _(label)) for kind, label in ENTITY_KINDS.items()]
    form.township.choices = _township_choices(townships)
    form.village.choices = [("", "—")] + [(str(v.id), f"{t.name} · {v.name}") for t in townships for v in t.villages]


def _entities_page(form: EntityForm | None = None, *, errors=None, status=200):
    townships = _townships()
    form = form or EntityForm(formdata=None, first_year=str(_this_year()))
    _entity_form_choices(form, townships)
    db = get_session()
    rows = db.scalars(select(Entity).options(joinedload(Entity.township), joinedload(Entity.village))
                      .order_by(Entity.code)).all()
    accountants = dict(db.execute(select(User.entity_id, func.count(User.id))
                                  .where(User.role == "accountant", User.active).group_by(User.entity_id)).all())
    return render_template("admin/entities.html", entities=rows, accountants=accountants, form=form,
                           errors=errors or {}, ENTITY_KINDS=ENTITY_KINDS, has_townships=bool(townships)), status


def _this_year() -> int:

    return china_today().year


@bp.route("/entities", methods=["GET", "POST"])
@rule("admin", write=True, scope="any")
def entities():
    """Every entity; a new one (its book opened on the chart its kind keeps)."""
    form = EntityForm()
    if request.method != "POST":
        return _entities_page()
    if not form.validate_on_submit():
        return _entities_page(form, errors=form.errors, status=422)
    db = get_session()
    township_id, village_id = _id_of(form.township.data), _id_of(form.village.data)
    township = db.get(Township, township_id) if township_id is not None else None
    village = db.get(Village, village_id) if village_id is not None else None
    raw_year = (form.first_year.data or "").strip()
    first_year = int(raw_year) if raw_year.isascii() and raw_year.isdigit() else None
    try:
        if raw_year and first_year is None:         # not a year: said beside every other problem of the form
            raise RecordError([Problem.of(msg(N_("Give a year such as %(year)s."), year=_this_year(),
                                              code="first_year"), "first_year"),
                               *entity_problems(db, code=normalize_code(form.code.data or ""),
                                                name=(form.name.data or "").strip(), kind=form.kind.data,
                                                township=township, village=village,
                                                credit_code=(form.credit_code.data or "").strip() or None)])
        entity = add_entity(db, code=form.code.data, name=form.name.data, kind=form.kind.data, township=township,
                            village=village, credit_code=form.credit_code.data, first_year=first_year,
                            actor=current_actor())
        db.commit()
    except RecordError as exc:
        db.rollback()
        return _entities_page(form, errors=field_errors(exc.problems), status=422)
    flash(_("%(name)s (%(code)s) is created and its books are open.", name=entity.name, code=entity.code))
    return redirect(url_for(".entity", code=entity.code))


@bp.get("/entities/<code>")
@rule("admin", scope="any")
def entity(code: str):
    """One entity's setup: what it is, who keeps its books, and the next step (an accountant, then the
    accountant's first import; a cluster project's member entities)."""
    db = get_session()
    found = db.scalar(select(Entity).options(joinedload(Entity.township), joinedload(Entity.village))
                      .where(Entity.code == code))
    if found is None:
        abort(404)
    accountants = db.scalars(select(User).where(User.role == "accountant", User.entity_id == found.id)
                             .order_by(User.username)).all()
    linked = db.scalars(select(Entity).join(EntityLink, EntityLink.member_entity_id == Entity.id)
                        .where(EntityLink.project_id == found.id).order_by(Entity.code)).all()
    return render_template("admin/entity.html", entity=found, accountants=accountants, linked=linked,
                           has_accountant=any(u.active for u in accountants), ENTITY_KINDS=ENTITY_KINDS)


# ------------------------------------------------------------------------------------ cluster projects


def _links_page(form: LinkForm | None = None, *, errors=None, status=200):
    db = get_session()
    projects = db.scalars(select(Entity).options(joinedload(Entity.township))
                          .where(Entity.kind == "cluster_project").order_by(Entity.code)).all()
    others = db.scalars(select(Entity).options(joinedload(Entity.township))
                        .where(Entity.kind != "cluster_project").order_by(Entity.code)).all()
    links: dict[int, list[Entity]] = {}
    for project_id, member in db.execute(select(EntityLink.project_id, Entity)
                                         .join(Entity, Entity.id == EntityLink.member_entity_id)
                                         .order_by(Entity.code)).all():
        links.setdefault(project_id, []).append(member)
    form = form or LinkForm(formdata=None, project=request.args.get("project", "")[:CODE_MAX])
    form.project.choices = [("", "—")] + [(p.code, f"{p.code} {p.name}") for p in projects]
    form.member.choices = [("", "—")] + [(e.code, f"{e.code} {e.name} ({e.township.name})") for e in others]
    return render_template("admin/links.html", projects=projects, links=links, form=form, errors=errors or {}), status


@bp.route("/links", methods=["GET", "POST"])
@rule("admin", write=True, scope="any")
def links():
    """The member entities of each cluster project; link another (only an entity of the project's township:
    :func:`cooperatives.operations.link_member_entity` refuses any other, and says why)."""
    form = LinkForm()
    if request.method != "POST":
        return _links_page()
    if not form.validate_on_submit():
        return _links_page(form, errors=form.errors, status=422)
    db = get_session()
    codes = {"project": (form.project.data or "")[:CODE_MAX], "member": (form.member.data or "")[:CODE_MAX]}
    found = {e.code: e for e in db.scalars(select(Entity).where(Entity.code.in_([c for c in codes.values() if c])))}
    errors = {field: [_("Choose the cluster project.") if field == "project" else _("Choose the member entity.")]
              for field, value in codes.items() if value not in found}
    if errors:
        return _links_page(form, errors=errors, status=422)
    project, member = found[codes["project"]], found[codes["member"]]
    try:
        link_member_entity(db, project, member, actor=current_actor())
        db.commit()
    except RecordError as exc:
        db.rollback()
        return _links_page(form, errors=field_errors(exc.problems), status=422)
    flash(_("%(member)s is linked to %(project)s.", member=member.name, project=project.name))
    return redirect(url_for(".links"))


"""Signing in and out, and passwords. Sessions are rotated at login and ended at logout or password change.

Sessions live in a signed cookie whose login id carries the user's session version
(``User.get_id`` = ``"<id>:<version>"``); :func:`load_user` refuses a cookie whose version is not the
current one. Logout, a password change and an admin's reset bump the version, so every copy of every
older cookie of that user stops working at once (reliability.md §2.7 S2). A session idle for
``COOP_IDLE_MINUTES`` is signed out (:mod:`cooperatives.web.sessions`).

Guessing is limited per client address (:mod:`cooperatives.web.ratelimit`): each attempt is counted
before the password is checked, atomically in the limiter's storage, and a right password gives its
attempt back. ``/account/tokens``: every user issues, lists and revokes their own API tokens (the admin
also revokes anyone's from ``/users``).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from cooperatives.access import Principal
from cooperatives.audit import audit
from cooperatives.models import ApiToken, Entity, Household, Township, User
from cooperatives.operations import RecordError
from cooperatives.users import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    TOKEN_DAYS,
    TOKEN_MAX_DAYS,
    TOKEN_NAME_MAX,
    USERNAME_MAX,
    authenticate,
    change_password,
    check_password,
    create_user,
    issue_token,
    list_tokens,
    new_password_problem,
    password_problem,
    reset_password,
    revoke_token,
    set_user_active,
    token_state,
    username_problem,
)
from cooperatives.web import sessions
from cooperatives.web.audit import china_time
from cooperatives.web.display import safe_next
from cooperatives.web.ratelimit import forgive_attempt
from cooperatives.web.writes import field_errors
from ledger.i18n import N_
from ledger.web.support import ALL_USERS, PUBLIC, get_session, rule

bp = Blueprint("auth", __name__)
#: sign-ins are limited per client address (storage: RATELIMIT_STORAGE_URI, e.g. Redis in production); every
#: attempt is counted before the password is checked and a right one gives it back (cooperatives.web.ratelimit)
limiter = Limiter(key_func=get_remote_address)
LOGIN_LIMIT = "10 per minute;50 per hour"
#: wrong current passwords on the change form (a stolen session must not become a password oracle)
PASSWORD_CHANGE_LIMIT = "5 per minute;20 per hour"
bp.record_once(lambda state: limiter.init_app(state.app))


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField(_l("What it is for"), validators=[DataRequired(), Length(max=TOKEN_NAME_MAX)])
    days = IntegerField(_l("Valid for (days)"), default=TOKEN_DAYS,
                        validators=[DataRequired(), NumberRange(min=1, max=TOKEN_MAX_DAYS)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=PASSWORD_MAX)])


ROLE_LABELS = {"admin": N_("Administrator"), "accountant": N_("Accountant"), "auditor": N_("Township auditor"),
               "member": N_("Member household")}
PASSWORD_PROBLEMS = {
    "too_short": _l("At least %(n)s characters: a phrase of a few words is easy to remember.", n=PASSWORD_MIN),
    "too_long": _l("At most %(n)s characters.", n=PASSWORD_MAX),
    "is_username": _l("The password may not be the username."),
    "unchanged": _l("Choose a password other than the current one."),
}
TOKEN_STATES = {"active": _l("valid"), "expired": _l("expired"), "revoked": _l("revoked")}


@bp.app_context_processor
def _role_labels():
    return {"ROLE_LABELS": ROLE_LABELS, "TOKEN_STATES": TOKEN_STATES, "token_state": token_state,
            "china_time": china_time}


def _sign_in(user: User) -> None:
    """Start a fresh session for ``user``: nothing from before (a PIN visit, a CSRF token) survives."""
    session.clear()
    login_user(user)
    sessions.mark_active()


@bp.route("/login", methods=["GET", "POST"])
@rule(*PUBLIC, scope="public")
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        user = authenticate(db, form.username.data.strip(), form.password.data)
        if user is None:
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", form=form), 401
        forgive_attempt(limiter)
        audit(db, actor_id=user.id, action="login", target=f"user:{user.username}", entity_id=user.entity_id)
        db.commit()
        _sign_in(user)
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@rule(*ALL_USERS, scope="any")
def logout():
    # Sessions live in a signed cookie, so clearing it here would not stop a copy of the cookie from
    # working: bumping the session version (part of the login id) ends every session of this user.
    current_user.session_version += 1
    get_session().commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@rule(*ALL_USERS, scope="any")
@limiter.limit(PASSWORD_CHANGE_LIMIT, methods=["POST"])
def change_own_password():
    """A user changes their own password with the current one. Every other session of theirs ends; this
    browser stays signed in with a new session."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form, errors={}), 422 if request.method == "POST" else 200
    db = get_session()
    user = db.get(User, current_user.id)
    if not check_password(user, form.current.data):
        return render_template("auth/password.html", form=form,
                               errors={"current": [_("This is not your current password.")]}), 401
    forgive_attempt(limiter)
    problem = password_problem(user, form.new.data)
    errors = {}
    if problem:
        errors["new"] = [str(PASSWORD_PROBLEMS[problem])]
    elif form.new.data != form.confirm.data:
        errors["confirm"] = [_("The two new passwords differ.")]
    if errors:
        return render_template("auth/password.html", form=form, errors=errors), 422
    change_password(db, user, form.new.data, actor=Principal.of_user(user))
    db.commit()
    _sign_in(user)                        # the new session version: this browser only
    flash(_("Password changed. You were signed out everywhere else, and your API tokens were revoked."))
    return redirect(url_for("home.index"))


# ------------------------------------------------------------------------------------------- API tokens


def _tokens_page(form: TokenForm, *, shown: str | None = None, error: str | None = None, status: int = 200):
    response = current_app.make_response((render_template(
        "auth/tokens.html", form=form, tokens=list_tokens(get_session(), current_user), shown=shown,
        error=error, max_days=TOKEN_MAX_DAYS), status))
    response.headers["Cache-Control"] = "no-store"       # a new token is on this page once
    return response


@bp.route("/account/tokens", methods=["GET", "POST"])
@rule(*ALL_USERS, scope="any")
def tokens():
    """One's own API tokens: listed (never the token itself), and a new one issued with a name and a
    lifetime in days — shown once, on this answer only."""
    form = TokenForm()
    if request.method != "POST":
        return _tokens_page(form)
    if not form.validate_on_submit():
        return _tokens_page(form, status=422)
    db = get_session()
    user = db.get(User, current_user.id)
    shown = issue_token(db, user, form.name.data, days=form.days.data, actor=Principal.of_user(user))
    db.commit()
    return _tokens_page(TokenForm(formdata=None), shown=shown)


@bp.post("/account/tokens/revoke")
@rule(*ALL_USERS, scope="any")
def revoke_api_token():
    """Revoke one of one's own tokens (the admin: anyone's). Another user's token or none: 404."""
    raw = request.form.get("token_id", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return _tokens_page(TokenForm(formdata=None), error=_("Choose a token to revoke."), status=422)
    db = get_session()
    token = db.get(ApiToken, int(raw))
    if token is None or (token.user_id != current_user.id and current_user.role != "admin"):
        abort(404)
    revoke_token(db, token, actor=Principal.of_user(current_user))
    db.commit()
    flash(_("The token “%(name)s” is revoked: it no longer works.", name=token.name))
    return redirect(safe_next(request.form.get("next")) or url_for(".tokens"))


# ------------------------------------------------------------------------------------------- admin


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[Length(max=USERNAME_MAX)])
    display_name = StringField(_l("Name shown"), validators=[Length(max=100)])
    role = SelectField(_l("Role"), coerce=str, validate_choice=False)
    entity = SelectField(_l("Entity (for an accountant)"), coerce=str, validate_choice=False)
    township = SelectField(_l("Township (for an auditor)"), coerce=str, validate_choice=False)
    household = StringField(_l("Household code (for a member)"), validators=[Length(max=40)])
    password = PasswordField(_l("First password"), validators=[Length(max=PASSWORD_MAX)])
    confirm = PasswordField(_l("First password again"), validators=[Length(max=PASSWORD_MAX)])


@bp.get("/users")
@rule("admin", scope="any")
def users():
    db = get_session()
    rows = db.scalars(select(User).options(joinedload(User.entity), joinedload(User.township),
                                           joinedload(User.household)).order_by(User.username)).all()
    live: dict[int, list[ApiToken]] = {}
    for token in list_tokens(db):
        if token_state(token) == "active":
            live.setdefault(token.user_id, []).append(token)
    return render_template("auth/users.html", users=rows, tokens=live)


def _user_form_page(form: UserForm, *, errors=None, status=200):
    db = get_session()
    form.role.choices = [("", "—")] + [(role, _(label)) for role, label in ROLE_LABELS.items()]
    form.entity.choices = [("", "—")] + [(e.code, f"{e.code} {e.name}")
                                         for e in db.scalars(select(Entity).order_by(Entity.code))]
    form.township.choices = [("", "—")] + [(str(t.id), t.name)
                                           for t in db.scalars(select(Township).order_by(Township.name))]
    return render_template("admin/new_user.html", form=form, errors=errors or {}, password_min=PASSWORD_MIN), status


@bp.route("/users/new", methods=["GET", "POST"])
@rule("admin", write=True, scope="any")
def new_user():
    """A new user with a role and its scope and a first password the admin hands over (the admin: anyone;
    an accountant of an entity, an auditor of a township, a member of a household). Usernames are the same
    whatever their capitals: ``Wang`` is refused when ``wang`` exists. ``?role=accountant&entity=CODE``
    fills the form in (the entity's setup page links here)."""
    if request.method != "POST":
        form = UserForm(formdata=None, role=request.args.get("role", "")[:12],
                        entity=request.args.get("entity", "")[:40])
        return _user_form_page(form)
    form = UserForm()
    if not form.validate_on_submit():
        return _user_form_page(form, errors=form.errors, status=422)
    db = get_session()
    role = form.role.data or ""
    errors: dict[str, list[str]] = {}
    scope: dict[str, int | None] = {}
    if role == "accountant" and form.entity.data:
        scope["entity_id"] = db.scalar(select(Entity.id).where(Entity.code == form.entity.data[:40]))
    elif role == "auditor" and (form.township.data or "").isdigit() and len(form.township.data) <= 18:
        scope["township_id"] = db.scalar(select(Township.id).where(Township.id == int(form.township.data)))
    elif role == "member" and (form.household.data or "").strip():
        scope["household_id"] = db.scalar(select(Household.id).where(Household.code == form.household.data.strip()))
        if scope["household_id"] is None:
            errors["household"] = [_("There is no household %(code)s.", code=form.household.data.strip())]
    if role not in ROLE_LABELS:
        errors["role"] = [_("Choose the role.")]
    taken = username_problem(db, form.username.data or "")
    if taken is not None:
        errors["username"] = [taken.translate(_)]
    password = form.password.data or ""
    problem = new_password_problem(form.username.data or "", password)
    if problem:
        errors["password"] = [str(PASSWORD_PROBLEMS[problem])]
    elif password != (form.confirm.data or ""):
        errors["confirm"] = [_("The two passwords differ.")]
    if not errors:
        try:
            user = create_user(db, username=form.username.data or "", password=password, role=role,
                               display_name=form.display_name.data, actor=Principal.of_user(current_user), **scope)
            db.commit()
        except RecordError as exc:
            db.rollback()
            errors = field_errors(exc.problems)
    if errors:
        return _user_form_page(form, errors=errors, status=422)
    flash(_("The user %(username)s is created. Hand the first password over in person.", username=user.username))
    if user.role == "accountant":
        return redirect(url_for("admin.entity", code=user.entity.code))
    return redirect(url_for(".users"))


@bp.post("/users/<id:user_id>/active")
@rule("admin", write=True, scope="any")
def set_active(user_id: int):
    """Disable a user (signed out everywhere, API tokens revoked, cannot sign in) or enable them again."""
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    active = request.form.get("active") == "1"
    try:
        set_user_active(db, user, active=active, actor=Principal.of_user(current_user))
        db.commit()
    except RecordError as exc:
        db.rollback()
        flash(exc.problems[0].text(_), "error")
        return redirect(url_for(".users"))
    flash(_("%(username)s can sign in again.", username=user.username) if active
          else _("%(username)s is disabled: signed out everywhere and cannot sign in.", username=user.username))
    return redirect(url_for(".users"))


@bp.post("/users/<id:user_id>/password")
@rule("admin", write=True, scope="any")
def reset_user_password(user_id: int):
    """The admin resets a user's password: a new one is generated and shown once; the user's sessions end."""
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    password = reset_password(db, user, actor=Principal.of_user(current_user))
    db.commit()
    if user.id == current_user.id:
        _sign_in(user)
    response = current_app.make_response(render_template("auth/new_password.html", user=user, password=password))
    response.headers["Cache-Control"] = "no-store"
    return response


def load_user(user_id: str):
    """Flask-Login loader: the id carries the session version, so a password change ends old sessions."""
    try:
        uid, version = (int(x) for x in user_id.split(":"))
    except ValueError:
        return None
    user = get_session().get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


__all__ = ["bp", "load_user", "current_user"]

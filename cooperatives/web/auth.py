"""Signing in and out, and passwords. Sessions are rotated at login and ended at logout or password change.

Sessions live in a signed cookie whose login id carries the user's session version
(``User.get_id`` = ``"<id>:<version>"``); :func:`load_user` refuses a cookie whose version is not the
current one. Logout, a password change and an admin's reset bump the version, so every copy of every
older cookie of that user stops working at once (reliability.md §2.7 S2).
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
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from cooperatives.audit import audit
from cooperatives.models import User
from cooperatives.users import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    authenticate,
    change_password,
    check_password,
    password_problem,
    reset_password,
)
from cooperatives.web.display import safe_next
from ledger.i18n import N_
from ledger.web.support import ALL_USERS, PUBLIC, get_session, rule

bp = Blueprint("auth", __name__)
#: failed sign-ins are limited per client address (storage: RATELIMIT_STORAGE_URI, e.g. Redis in production)
limiter = Limiter(key_func=get_remote_address)
LOGIN_LIMIT = "10 per minute;50 per hour"
#: wrong current passwords on the change form (a stolen session must not become a password oracle)
PASSWORD_CHANGE_LIMIT = "5 per minute;20 per hour"
bp.record_once(lambda state: limiter.init_app(state.app))


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


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


@bp.app_context_processor
def _role_labels():
    return {"ROLE_LABELS": ROLE_LABELS}


def _sign_in(user: User) -> None:
    """Start a fresh session for ``user``: nothing from before (a PIN visit, a CSRF token) survives."""
    session.clear()
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@rule(*PUBLIC, scope="public")
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=lambda response: response.status_code == 401)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        user = authenticate(db, form.username.data.strip(), form.password.data)
        if user is None:
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", form=form), 401
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
@limiter.limit(PASSWORD_CHANGE_LIMIT, methods=["POST"], deduct_when=lambda response: response.status_code == 401)
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
    problem = password_problem(user, form.new.data)
    errors = {}
    if problem:
        errors["new"] = [str(PASSWORD_PROBLEMS[problem])]
    elif form.new.data != form.confirm.data:
        errors["confirm"] = [_("The two new passwords differ.")]
    if errors:
        return render_template("auth/password.html", form=form, errors=errors), 422
    change_password(db, user, form.new.data, actor_id=user.id)
    db.commit()
    _sign_in(user)                        # the new session version: this browser only
    flash(_("Password changed. You were signed out everywhere else."))
    return redirect(url_for("home.index"))


# ------------------------------------------------------------------------------------------- admin


@bp.get("/users")
@rule("admin", scope="any")
def users():
    rows = get_session().scalars(select(User).options(joinedload(User.entity), joinedload(User.township),
                                                      joinedload(User.household)).order_by(User.username)).all()
    return render_template("auth/users.html", users=rows)


@bp.post("/users/<int:user_id>/password")
@rule("admin", write=True, scope="any")
def reset_user_password(user_id: int):
    """The admin resets a user's password: a new one is generated and shown once; the user's sessions end."""
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    password = reset_password(db, user, actor_id=current_user.id)
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

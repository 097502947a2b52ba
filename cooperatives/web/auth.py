"""Signing in and out. Sessions are rotated at login and ended at logout or password change."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from cooperatives.users import authenticate
from cooperatives.web.display import safe_next
from ledger.web.support import ALL_USERS, PUBLIC, get_session, rule

bp = Blueprint("auth", __name__)
#: failed sign-ins are limited per client address (storage: RATELIMIT_STORAGE_URI, e.g. Redis in production)
limiter = Limiter(key_func=get_remote_address)
LOGIN_LIMIT = "10 per minute;50 per hour"
bp.record_once(lambda state: limiter.init_app(state.app))


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


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
        db.commit()
        session.clear()                      # rotate: nothing from before login survives
        login_user(user)
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


def load_user(user_id: str):
    """Flask-Login loader: the id carries the session version, so a password change ends old sessions."""
    from cooperatives.models import User

    try:
        uid, version = (int(x) for x in user_id.split(":"))
    except ValueError:
        return None
    user = get_session().get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


__all__ = ["bp", "load_user", "current_user"]

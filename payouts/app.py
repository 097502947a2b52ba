"""The composition root: builds the web app from every package's blueprints and CLI groups."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, request
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import sessionmaker

from cooperatives import privacy
from ledger.db import make_engine, writer
from ledger.i18n import use_translations
from ledger.web.bounds import install as install_bounds
from ledger.web.support import close_session, register_filters
from payouts.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = ROOT / "templates"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
STATIC_DIR = Path(__file__).resolve().parent / "static"

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()


def select_locale() -> str:
    settings: Settings = _settings()
    chosen = request.cookies.get("lang")
    if chosen in settings.supported_locales:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in settings.supported_locales:
        return current_user.locale
    if request.accept_languages.best_match(("zh-CN", "zh", "en")) == "en":      # a script or an English browser
        return "en"
    return settings.default_locale


def _settings() -> Settings:
    from flask import current_app

    return current_app.extensions["coop.settings"]


def make_sessionmakers(url: str) -> dict:
    engine = make_engine(url)
    return {"read": sessionmaker(engine, expire_on_commit=False),
            "write": sessionmaker(writer(engine), expire_on_commit=False),
            "engine": engine}


def create_app(settings: Settings | None = None, *, web: bool = True) -> Flask:
    """Build the web app. Registers every package's blueprint and CLI group; runs no query.

    ``web=False`` leaves the blueprints out (and with them WeasyPrint, the API and the page modules): the
    app the command line builds for commands that serve no page, so ``coopledger trial-balance`` or
    ``import`` starts in a fraction of the time (bench/README.md)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR),
                instance_path=str(ROOT / "instance"))
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_SECURE=settings.cookie_secure, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.cookie_secure, REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        TESTING=settings.testing,
        API_TITLE="coopledger", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
    )
    app.extensions["coop.settings"] = settings
    if settings.proxy_hops:       # trust exactly this many proxies' X-Forwarded-For (rate limits key on it)
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    app.extensions["ledger.sessionmaker"] = make_sessionmakers(settings.database_url)
    use_translations(str(TRANSLATIONS_DIR))          # the command line's and the jobs' messages
    privacy.configure(list(settings.data_keys), settings.index_key.encode())
    app.teardown_appcontext(close_session)

    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS_DIR))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    register_filters(app)
    install_bounds(app)         # the <id:…> URL converter and the JSON depth guard, before any route

    from cooperatives.audit import verify_for_command as verify_audit_chains
    from cooperatives.authorship import verify_authorship
    from cooperatives.web.access import entity_or_404
    from cooperatives.web.auth import load_user

    login_manager.user_loader(load_user)
    app.extensions["ledger.book_access"] = lambda code, write=False: entity_or_404(code, write=write).book
    # `coopledger verify`: the audit log's chains and who wrote each book, beside the books
    app.extensions["ledger.verifiers"] = [verify_audit_chains, verify_authorship]
    if settings.celery_broker_url:       # features send jobs through this; they never import payouts.tasks
        app.extensions["coop.celery"] = _celery_tasks()
    app.extensions["coop.import_launcher"] = _import_launcher(settings, app)
    if web:
        _register_blueprints(app)
    _register_cli(app)
    _guard_undeclared_routes(app)
    from cooperatives.web import sessions

    sessions.install(app)                # idle sessions are signed out (COOP_IDLE_MINUTES)
    _security_headers(app)
    return app


def _import_launcher(settings: Settings, app: Flask):
    """How an uploaded workbook's import job is started: on a Celery worker when CELERY_BROKER_URL is set,
    else in a process of its own (:func:`import_job_command`), which reads the same database and keys."""

    def launch(job_id: int) -> None:
        if settings.celery_broker_url:
            app.extensions["coop.celery"].import_job.delay(job_id)
            return
        import subprocess

        argv, env = import_job_command(settings, job_id)
        subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    return launch


def import_job_command(settings: Settings, job_id: int) -> tuple[list[str], dict[str, str]]:
    """``coopledger import --job ID`` and the environment it needs: this app's database, keys and limits."""
    import sys

    env = settings.command_env()
    return [str(Path(sys.executable).parent / "coopledger"), "import", "--job", str(job_id)], env


def _celery_tasks():
    import payouts.tasks

    return payouts.tasks


def _register_blueprints(app: Flask) -> None:
    from cooperatives.web import api as coop_api
    from cooperatives.web import audit, auth, home, records
    from ledger.web import views as ledger_views
    from payouts.batches import web as batches
    from payouts.batches.web import api as batches_api
    from payouts.oversight import monitoring_web  # noqa: F401  (its routes are the oversight blueprint's)
    from payouts.oversight import web as oversight
    from payouts.reports import web as reports
    from payouts.reports.printing import web as printing_web
    from payouts.runs.web import api as runs_api
    from payouts.runs.web import policies, runs
    from payouts.statements import web as statements
    from payouts.statements.web import jobs

    for bp in (auth.bp, home.bp, records.bp, ledger_views.bp,   # members, records, books
               reports.bp, printing_web.bp,                     # statutory statements; the books printed
               policies.bp, runs.bp,                            # distribution policy and runs
               statements.bp,                                   # household statements, verification, receipts
               batches.bp,                                      # bank batches (代发) of a run's payments
               jobs.bp,                                         # statement PDF batches started from the web
               oversight.bp,                                    # the township auditor's workspace
               audit.bp):                                       # audit log; the logged reveal of ID/bank numbers
        app.register_blueprint(bp)
    from payouts.reports.disclosure.web import bp as disclosure_bp  # 财务公开: the staff and public pages
    app.register_blueprint(disclosure_bp)
    from cooperatives.web.admin import bp as admin_bp  # the admin's setup: townships, villages, entities, links
    app.register_blueprint(admin_bp)
    coop_api.init_api(app, csrf)
    runs_api.init_runs_api(app, csrf)
    batches_api.init_batches_api(app, csrf)


def _register_cli(app: Flask) -> None:
    from cooperatives.cli import coop_cli
    from ledger.cli import ledger_cli
    from payouts.admin.cli import admin_cli
    from payouts.batches.cli import batches_cli
    from payouts.oversight.monitoring_cli import monitoring_cli
    from payouts.reports.cli import reports_cli
    from payouts.runs.cli import runs_cli
    from payouts.statements.cli import statements_cli

    for group in (ledger_cli, coop_cli, admin_cli, runs_cli, statements_cli, reports_cli, batches_cli,
                  monitoring_cli):
        for name, command in group.commands.items():
            app.cli.add_command(command, name)


def _guard_undeclared_routes(app: Flask) -> None:
    """Refuse any endpoint that has no declared access rule (fail closed)."""
    @app.before_request
    def _check_declared():
        endpoint = request.endpoint
        if endpoint is None or endpoint == "static" or endpoint.startswith("api-docs."):
            return None
        view = app.view_functions.get(endpoint)
        declared = getattr(view, "access_rule", None)
        if declared is None:
            abort(403)
        return None


def _security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:        # served over HTTPS: browsers keep to HTTPS for a year
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # every answer but a static file is private (a signed-in user's or a PIN visit's page, a form with a
        # CSRF token, personal data): no browser or proxy keeps a copy (shared phones, the back button)
        if request.endpoint != "static" and "no-store" not in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "no-store"
        return response

"""Winback: win clients back, credit the calls that did it, pay the bonuses.

``create_app`` builds the application; importing this package does nothing
else (no database, no network).
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"), instance_relative_config=True)
    from .config import from_env
    settings = from_env(instance_path=app.instance_path)
    if config:
        settings.update(config)
    app.config.update(settings)

    _init_extensions(app)
    from .core import web
    web.init_parsing(app)  # before the routes: their <int:…> converter is bound as they are added
    _register_blueprints(app)
    web.init_app(app)
    from . import cli
    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from sqlalchemy import event

    from .core import collation, i18n, jobs
    from .extensions import babel, csrf, db, limiter, login_manager, migrate

    engine_options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        engine_options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        engine_options.setdefault("pool_size", app.config["DB_POOL_SIZE"])
        engine_options.setdefault("max_overflow", app.config["DB_MAX_OVERFLOW"])
        engine_options.setdefault("pool_pre_ping", True)
    db.init_app(app)
    if uri.startswith("sqlite"):
        with app.app_context():
            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                # WAL lets the worker thread write while pages read.
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()
                collation.register_sqlite(dbapi_conn)  # names in any script (core/collation.py)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "winback-limits")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    # Flask-Login flashes this when a page needs a sign-in; translated when shown.
    login_manager.login_message = i18n.N_("Please log in to access this page.")
    login_manager.localize_callback = i18n.gettext
    # Catalogues in campaign/translations (compiled to .mo by i18n.compile_catalogues).
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "campaign" / "translations"))
    i18n.compile_catalogues(ROOT / "campaign" / "translations")
    babel.init_app(app, default_locale=i18n.DEFAULT, locale_selector=i18n.select_locale)
    login_manager.session_protection = None  # the server-side session row is the protection
    jobs.init_app(app)
    # Make every model known to SQLAlchemy/Alembic.
    from . import models  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from .accounts.views import bp as accounts_bp
    from .audit.views import bp as audit_bp
    from .bonuses.views import bp as bonuses_bp
    from .api import bp as api_bp
    from .campaigns.views import bp as campaigns_bp
    from .clients.views import bp as clients_bp
    from .extensions import csrf
    from .calls.views import bp as calls_bp
    from .imports.views import bp as imports_bp
    from .outbox.views import bp as outbox_bp
    from .privacy.views import bp as privacy_bp
    from .scoring.report_views import bp as reports_bp
    from .scoring.views import bp as scoring_bp
    from .scripts.views import bp as scripts_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(clients_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(calls_bp)
    app.register_blueprint(scripts_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(scoring_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(bonuses_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(audit_bp)
    # The API authenticates with bearer tokens, never cookies, so CSRF does not apply.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    from .api.ops import root as ops_bp
    app.register_blueprint(ops_bp)

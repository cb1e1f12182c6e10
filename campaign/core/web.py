"""App-wide web wiring: error pages and JSON errors, security headers, template helpers."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from markupsafe import escape
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from . import clock, i18n
from .errors import AppError, Conflict


RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = ("The database cannot be reached right now (it may be restarting); "
                        "try again in a few seconds.")


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        if _wants_json():
            body = {"error": {"code": exc.code, "message": exc.message}}
            if exc.details is not None:
                body["error"]["details"] = exc.details
            return jsonify(body), exc.status
        return render_template("error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(StaleDataError)
    def _stale(exc):
        # A version-checked row (campaign, quota grid) changed under this request.
        return _app_error(Conflict("someone else changed this at the same time; reload and try again"))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc):
        # PostgreSQL restarting or out of reach, a connection dropped in the middle of
        # the request: 503 and Retry-After, never a 500. The pool checks a connection
        # before use (pool_pre_ping), so the next request reconnects by itself.
        app.logger.warning("database unavailable: %s", str(exc.orig if exc.orig is not None else exc)[:300])
        from ..extensions import db
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone; the pool forgets it
            pass
        message = DATABASE_UNAVAILABLE
        if _wants_json():
            resp = jsonify({"error": {"code": "database_unavailable", "message": message}})
        else:  # a page of its own: the layout would ask the database who is signed in
            resp = app.response_class(
                f"<!doctype html><html lang=en><meta charset=utf-8><title>503</title>"
                f"<h1>Service unavailable</h1><p>{escape(message)}</p></html>", mimetype="text/html")
        resp.status_code = 503
        resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_template("error.html", status=400,
                               message=gettext("The form expired or was sent from elsewhere. "
                                               "Go back, reload the page and try again.")), 400

    @app.errorhandler(429)
    def _too_many(exc):
        # Flask-Limiter's breach: the message of the limit that was hit, and when to retry.
        message = getattr(exc, "description", None) or gettext("Too many attempts; wait and try again.")
        if _wants_json():
            resp = jsonify({"error": {"code": "too_many_requests", "message": message}})
        else:
            resp = app.make_response((render_template("error.html", status=429, message=message), 429))
        resp.status_code = 429
        return resp  # Flask-Limiter adds Retry-After

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if _wants_json():
            code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                    413: "too_large", 422: "invalid"}.get(exc.code, "error")
            return jsonify({"error": {"code": code, "message": exc.description}}), exc.code
        # Werkzeug's own descriptions are English; a page shows its words for the status instead.
        message = exc.description
        if message == type(exc).description:
            message = None
        return render_template("error.html", status=exc.code, message=message), exc.code

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                "script-src 'self'; frame-ancestors 'none'")
        return resp

    # Numbers, money and dates go through Babel in the page's locale (core/i18n.py);
    # money keeps the amount's own currency (the store's).
    @app.template_filter("money")
    def _money(amount, currency=""):
        return i18n.format_money(amount, currency)

    @app.template_filter("thousands")
    def _thousands(n):
        return i18n.format_number(int(n or 0))

    @app.template_filter("day")
    def _day(value, fmt="medium"):
        return i18n.format_day(value, fmt)

    @app.template_filter("moment")
    def _moment(value, fmt="short"):
        return i18n.format_moment(value, fmt)

    @app.context_processor
    def _helpers():
        return {"now": clock.now, "nbsp": Markup("&nbsp;"), "html_lang": i18n.html_lang,
                "ui_language": i18n.language, "LANGUAGES": i18n.LANGUAGES,
                "STATUS_WORDS": i18n.translated(i18n.STATUS_WORDS)}

"""App-wide web wiring: error pages and JSON errors, security headers, template helpers."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from . import clock
from .errors import AppError, Conflict
from .money import format_display


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

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_template("error.html", status=400,
                               message="The form expired or was sent from elsewhere. "
                                       "Go back, reload the page and try again."), 400

    @app.errorhandler(429)
    def _too_many(exc):
        # Flask-Limiter's breach: the message of the limit that was hit, and when to retry.
        message = getattr(exc, "description", None) or "Too many attempts; wait and try again."
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
        return render_template("error.html", status=exc.code, message=exc.description), exc.code

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                "script-src 'self'; frame-ancestors 'none'")
        return resp

    @app.template_filter("money")
    def _money(amount, currency=""):
        return format_display(amount, currency)

    @app.template_filter("thousands")
    def _thousands(n):
        return f"{int(n or 0):,}".replace(",", "\u2009")

    @app.context_processor
    def _helpers():
        return {"now": clock.now, "nbsp": Markup("&nbsp;")}

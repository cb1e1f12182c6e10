"""App-wide web wiring: error pages and JSON errors, security headers, template helpers."""
from __future__ import annotations

import math
import re

from flask import Request as FlaskRequest
from flask import abort, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from markupsafe import escape
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from . import clock, i18n
from .errors import AppError, Conflict, ValidationError
from .sql import MAX_ID


RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = ("The database cannot be reached right now (it may be restarting); "
                        "try again in a few seconds.")


def _wants_json() -> bool:
    return request.path.startswith("/api/")


# ------------------------------------------------------------------ reading requests
# What a request may carry is checked where Flask reads it, so no route can
# meet (and 500 on) a value no database column holds.

MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def _digits_at_most(limit: int) -> str:
    """A regex of the decimal numbers 0…``limit`` (leading zeros allowed)."""
    s = str(limit)
    alts = [rf"\d{{1,{len(s) - 1}}}"] if len(s) > 1 else []
    for i, ch in enumerate(s):
        if ch != "0":
            rest = rf"\d{{{len(s) - i - 1}}}" if i < len(s) - 1 else ""
            alts.append(s[:i] + f"[0-{int(ch) - 1}]" + rest)
    return "(?:" + "|".join([*alts, s]) + ")"


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: only numbers up to ``MAX_ID`` match, so a larger
    one is a 404 for every method (not a database error, nor a 405 from a
    neighbouring route, as a check after matching would give)."""

    regex = _digits_at_most(MAX_ID)

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def json_problem(value) -> str | None:
    """Why a JSON body cannot be taken (too deep; NaN or Infinity, which are not
    JSON; NUL or unpaired surrogates in text, which PostgreSQL and UTF-8
    refuse), or None. No recursion."""
    stack = [(value, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"
        if isinstance(value, dict):
            stack.extend((v, depth + 1, f"{path}.{k}") for k, v in value.items())
            stack.extend((k, depth + 1, f"{path} (a key)") for k in value)
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            return f"the number at {(path.lstrip('.') or 'the body')[:80]} is {value}, which is not JSON"
        elif isinstance(value, str) and ("\x00" in value or _SURROGATE.search(value)):
            what = "a NUL character (\\u0000)" if "\x00" in value else "an unpaired surrogate (\\ud800–\\udfff)"
            return f"text at {(path.lstrip('.') or 'the body')[:80]} contains {what}; send plain UTF-8 text"
    return None


class Request(FlaskRequest):
    def get_json(self, force=False, silent=False, cache=True):
        """Flask's, but a body nested too deep or with text no column can hold
        is a 422 naming the problem (``silent`` or not)."""
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise ValidationError(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep") from None
        problem = json_problem(value)
        if problem:
            raise ValidationError(problem)
        return value


def init_parsing(app) -> None:
    """Before the routes are added (the converter is bound as each route is)."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = Request

    @app.before_request
    def _no_nul_in_text():
        # PostgreSQL refuses NUL in text: a path with one names nothing; a query
        # or form field with one is invalid (the sign-in form 500ed on it).
        if "\x00" in request.path:
            abort(404)
        for where, values in (("query string", request.args), ("form", request.form)):
            if any("\x00" in (k or "") or "\x00" in (v or "") for k, v in values.items(multi=True)):
                raise ValidationError(f"the {where} contains a NUL character (%00)")


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

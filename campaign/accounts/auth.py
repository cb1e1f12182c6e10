"""Who is asking: browser sessions (server-side, revocable) and API bearer tokens.

Every view declares the roles it admits with ``roles_required``; every API
route with ``api_roles``. There is no view without one of them (a test walks
the URL map to prove it).
"""
from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import abort, g, jsonify, request
from flask_login import current_user, login_required

from ..extensions import db, login_manager
from . import services
from .models import Staff

_TOUCH_EVERY = timedelta(minutes=1)


@login_manager.user_loader
def _load_user(session_id: str):
    row = services.live_session(session_id)
    if row is None:
        db.session.commit()  # an expired session is marked revoked
        return None
    staff = db.session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        return None
    now = services.wall_clock()
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    staff._session_id = row.id
    return staff


def roles_required(*roles: str):
    """Signed-in browser with at least one of ``roles`` (403 otherwise)."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        wrapped.winback_roles = roles
        return wrapped
    return decorate


def api_error(status: int, code: str, message: str, details=None):
    body = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    resp = jsonify(body)
    resp.status_code = status
    return resp


def api_roles(*roles: str):
    """Bearer token whose person holds one of ``roles``: 401 without a valid token, 403 otherwise."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
            staff = services.staff_for_token(token.strip())
            if staff is None:
                return api_error(401, "unauthorized", "the token is unknown or revoked")
            if not staff.has_role(*roles):
                return api_error(403, "forbidden", "this token's roles do not allow this call")
            g.api_user = staff
            return view(*args, **kwargs)
        wrapped.winback_roles = roles
        return wrapped
    return decorate


def public(view):
    """Mark a view as deliberately open (sign-in page, health check, OpenAPI)."""
    view.winback_roles = ()
    return view

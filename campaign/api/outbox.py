"""JSON API routes of the outbox package: the SMS gateway's inbound callback.

``POST /api/v1/sms/inbound`` is called by the gateway, not by a person, so it
has no bearer token: it is authenticated by the shared secret
``WINBACK_SMS_INBOUND_SECRET`` in the ``X-Winback-Secret`` header (compared
in constant time; with no secret configured every call is refused).
"""
from __future__ import annotations

import hmac

from flask import current_app, jsonify, request

from ..accounts.auth import api_error, public
from ..core import clock
from ..extensions import db
from ..outbox import services
from . import bp

SECRET_HEADER = "X-Winback-Secret"


@bp.post("/sms/inbound")
@public
def sms_inbound():
    secret = current_app.config.get("SMS_INBOUND_SECRET") or ""
    given = request.headers.get(SECRET_HEADER, "")
    if not secret or not hmac.compare_digest(secret.encode(), given.encode()):
        return api_error(401, "unauthorized", f"send the shared secret in {SECRET_HEADER}")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("from"), str) \
            or not isinstance(body.get("text", ""), str):
        return api_error(422, "invalid", 'send {"from": "+48…", "text": "…"}')
    result = services.inbound_sms(body["from"], body.get("text") or "", clock.now())
    db.session.commit()
    return jsonify(result), 200

"""The outbox part of the OpenAPI document."""
from __future__ import annotations

from ..outbox.rules import STOP_KEYWORDS
from .openapi_common import ERROR as _ERROR


PATHS: dict = {
    "/sms/inbound": {"post": {
        "summary": "An SMS a client sent (called by the SMS gateway); opt-out keywords withdraw SMS consent",
        "description": "Authenticated by the shared secret WINBACK_SMS_INBOUND_SECRET in the X-Winback-Secret "
                       "header, not by a bearer token. A text whose whole or first word is an opt-out keyword "
                       "(" + ", ".join(sorted(STOP_KEYWORDS)) + "; case-insensitive) sets consent_sms = false "
                       "for every client with that phone and cancels their scheduled SMS; anything else is "
                       "logged and answered 200.",
        "security": [],
        "parameters": [{"name": "X-Winback-Secret", "in": "header", "required": True,
                        "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/InboundSms"}}}},
        "responses": {
            "200": {"description": "handled", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/InboundSmsResult"}}}},
            "401": {"description": "missing or wrong shared secret",
                    "content": {"application/json": {"schema": _ERROR}}},
            "422": {"description": "the body is not {from, text}",
                    "content": {"application/json": {"schema": _ERROR}}}}}},
}

SCHEMAS: dict = {
    "InboundSms": {"type": "object", "required": ["from"], "properties": {
        "from": {"type": "string", "description": "the sender's phone, E.164 (+48501234567)"},
        "text": {"type": "string"}}},
    "InboundSmsResult": {"type": "object", "required": ["opt_out", "clients", "cancelled"], "properties": {
        "opt_out": {"type": "boolean", "description": "the text was an opt-out keyword"},
        "clients": {"type": "integer", "description": "clients with that phone"},
        "cancelled": {"type": "integer", "description": "scheduled SMS cancelled"}}},
}

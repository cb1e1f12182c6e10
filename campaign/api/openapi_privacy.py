"""The privacy part of the OpenAPI document (GDPR requests, docs/privacy.md)."""
from __future__ import annotations

from .openapi_common import err as _err
from .openapi_common import json_body as _json

_STD = {"401": _err("missing, unknown or revoked token"), "403": _err("the token's roles do not allow this")}
_REF = {"name": "client_ref", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "the client's ref; an erased client is also found by the ref it had before"}

PATHS: dict = {
    "/clients/{client_ref}/export": {"get": {
        "summary": "Everything held about one client, as a JSON download (admin, manager); audited as client.export",
        "parameters": [_REF],
        "responses": {
            "200": {"description": "the export, sent with Content-Disposition: attachment",
                    "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                                        "description": "attachment; filename=\"client-<ref>.json\""}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ClientExport"}}}},
            "404": _err("no such client"), **_STD}}},
    "/clients/{client_ref}/erase": {"post": {
        "summary": "Erase a client's personal data and keep every count (admin); audited as client.erase",
        "description": "Removes name, phone, e-mail, notes, typed reasons, call notes and message texts; the ref "
                       "becomes ERASED-<id>; open queue items are closed, scheduled messages cancelled and the "
                       "client marked do-not-contact. Visits, outcomes, contacts, conversions and bonus records "
                       "are kept, so leaderboards, reports and bonuses do not change. An import that sends the "
                       "old ref again is refused row by row.",
        "parameters": [_REF],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["reason"],
            "properties": {"reason": {"type": "string", "maxLength": 500,
                                      "description": "why (kept in the audit log without the client's own "
                                                     "name, phone, e-mail or ref)"}}}}}},
        "responses": {
            "200": _json("erased", {"$ref": "#/components/schemas/ErasureResult"}),
            "404": _err("no such client"),
            "409": _err("the client was erased already"),
            "422": _err("no reason, or a reason over 500 characters"), **_STD}}},
}

_LIST = {"type": "array", "items": {"type": "object"}}

SCHEMAS: dict = {
    "ClientExport": {
        "type": "object",
        "description": "Dates ISO 8601 (UTC times end in Z); money in integer minor units with its currency.",
        "required": ["export", "client", "erasure", "visits", "contacts", "campaigns", "queue_items", "outcomes",
                     "messages", "conversions", "bonus_conversions", "audit_log", "import_rejects"],
        "properties": {
            "export": {"type": "object", "properties": {
                "format": {"type": "string", "const": "winback-client-export"}, "version": {"type": "integer"},
                "generated_at": {"type": "string", "format": "date-time"}, "client_ref": {"type": "string"}}},
            "client": {"type": "object", "description": "every field of the client row, with the store"},
            "erasure": {"type": ["object", "null"], "description": "when, by whom and why it was erased"},
            "visits": _LIST, "contacts": _LIST, "campaigns": _LIST, "queue_items": _LIST,
            "outcomes": {**_LIST, "description": "call outcomes with their notes"},
            "messages": {**_LIST, "description": "follow-up messages: channel, recipient, subject, body, status, dates"},
            "conversions": {**_LIST, "description": "visits credited to an agent (credited_to), amount, currency"},
            "bonus_conversions": {**_LIST, "description": "bonus runs' copies of the client's conversions"},
            "audit_log": {**_LIST, "description": "entries whose target or details name the client"},
            "import_rejects": {**_LIST, "description": "rejected import rows naming the client, as sent"}}},
    "ErasureResult": {
        "type": "object", "required": ["client_ref", "erased_at", "via", "reason", "removed", "kept"],
        "properties": {
            "client_ref": {"type": "string", "description": "the client's new ref, ERASED-<id>"},
            "erased_at": {"type": "string", "format": "date-time"},
            "via": {"type": "string", "enum": ["web", "api", "cli"]},
            "reason": {"type": "string"},
            "removed": {"type": "object", "additionalProperties": {"type": "integer"},
                        "description": "queue_items_closed, messages_cancelled, messages_cleared, "
                                       "call_notes_cleared, audit_entries_cleared, import_rejects_cleared, "
                                       "uploads_deleted"},
            "kept": {"type": "object", "additionalProperties": {"type": "integer"},
                     "description": "visits, contacts, outcomes, queue_items, messages, conversions, "
                                    "bonus_conversions"}}},
}

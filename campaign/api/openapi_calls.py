"""The call part of the OpenAPI document: the agent's queue and outcomes."""
from __future__ import annotations

from ..calls.models import DISPOSITIONS
from ..calls.rules import REASON_CODES
from ..campaigns.rules import OFFERS
from .openapi_common import err as _err, json_body as _json


_STD = {"401": _err("missing, unknown or revoked token"), "403": _err("only agents work a queue")}
_DT = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS = {
    "Claim": {
        "type": "object", "required": ["item_id", "campaign_id", "claim", "expires_at", "client", "script"],
        "properties": {
            "item_id": {"type": "integer"}, "campaign_id": {"type": "integer"}, "campaign": {"type": "string"},
            "claim": {"type": "string", "description": "this claim's token; send it back with the outcome so a "
                                                       "stale tab cannot log over a newer claim"},
            "claimed_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time",
                           "description": "after this the item returns to the queue"},
            "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"},
            "returned_from": {"type": ["string", "null"],
                              "description": "queued, callback, retry or claimed (an expired claim)"},
            "client": {"type": "object", "description": "the card of SPEC §6 with contacts (newest first)"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "offers": {"type": "array", "items": {"type": "object"}},
            "script": {"type": "object", "description": "steps, reasons with remedies, objections, "
                                                        "rendered in the client's language when translated"},
        }},
    "OutcomeInput": {
        "type": "object", "required": ["disposition"],
        "description": "Times without an offset are in the client's store time zone. callback_at is required "
                       "for callback and booked_at for booked, both in the future.",
        "properties": {
            "disposition": {"type": "string", "enum": list(DISPOSITIONS)},
            "reason": {"type": ["string", "null"], "enum": [*REASON_CODES, None]},
            "offer": {"type": ["string", "null"], "enum": [*OFFERS, None]},
            "notes": {"type": ["string", "null"], "maxLength": 4000},
            "callback_at": _DT, "booked_at": _DT,
            "service": {"type": ["string", "null"], "maxLength": 200},
            "consent": {"type": ["boolean", "null"],
                        "description": "the answer to “may we contact you later?”"},
            "answers": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "script step → answer key"},
            "corrects": {"type": ["integer", "null"],
                         "description": "the id of the item's latest outcome this one corrects"},
            "claim": {"type": ["string", "null"], "description": "the claim token from /queue/next"},
        }},
}

PATHS = {
    "/queue/next": {"post": {
        "summary": "Claim the next client of my queue (agent): due callbacks, due retries, then by priority, "
                   "inside calling hours",
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"campaign_id": {"type": "integer"}}}}}},
        "responses": {"200": _json("the claimed item", {"$ref": "#/components/schemas/Claim"}),
                      "204": {"description": "nothing to call now"},
                      "422": _err("invalid body"), **_STD}}},
    "/queue/{item_id}/outcome": {"post": {
        "summary": "Log the outcome of a call on an item I hold (agent); append-only",
        "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/OutcomeInput"}}}},
        "responses": {"201": _json("logged", {"type": "object", "properties": {
            "id": {"type": "integer"}, "item_id": {"type": "integer"}, "disposition": {"type": "string"},
            "reached": {"type": "boolean"}, "at": {"type": "string"}, "corrects": {"type": ["integer", "null"]}}}),
            "403": _err("the item is another agent's"), "404": _err("no such item"),
            "409": _err("the item is not claimed, or was claimed again in another tab"),
            "422": _err("unknown disposition, time in the past, … (error.details per field)"),
            "401": _STD["401"]}}},
    "/queue": {"get": {
        "summary": "My progress per active campaign (agent): quota, calls today, left today, callbacks due",
        "responses": {"200": _json("one row per campaign", {"type": "array", "items": {"type": "object"}}),
                      **_STD}}},
}

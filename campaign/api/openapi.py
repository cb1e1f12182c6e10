"""The OpenAPI 3.1 document for /api/v1 (SPEC §9). A test checks it names
every API route that exists, and validates it against the OpenAPI schema."""
from __future__ import annotations

from flask import jsonify

from ..accounts.auth import public
from . import bp
from .openapi_campaigns import PATHS as CAMPAIGN_PATHS
from .openapi_campaigns import SCHEMAS as CAMPAIGN_SCHEMAS
from .openapi_calls import PATHS as CALL_PATHS
from .openapi_calls import SCHEMAS as CALL_SCHEMAS
from .openapi_outbox import PATHS as OUTBOX_PATHS
from .openapi_outbox import SCHEMAS as OUTBOX_SCHEMAS
from .openapi_privacy import PATHS as PRIVACY_PATHS
from .openapi_privacy import SCHEMAS as PRIVACY_SCHEMAS
from .openapi_reports import PATHS as REPORT_PATHS
from .openapi_reports import SCHEMAS as REPORT_SCHEMAS
from .openapi_scores import PATHS as SCORE_PATHS
from .openapi_scores import SCHEMAS as SCORE_SCHEMAS
from .openapi_scripts import PATHS as SCRIPT_PATHS
from .openapi_scripts import SCHEMAS as SCRIPT_SCHEMAS
from .openapi_common import err as _err, json_body as _json


_STD = {"401": _err("missing, unknown or revoked token"), "403": _err("the token's roles do not allow this")}

_COUNTS = {
    "type": "object",
    "required": ["inserted", "updated", "unchanged", "rejected", "rejects"],
    "properties": {
        "inserted": {"type": "integer"}, "updated": {"type": "integer"},
        "unchanged": {"type": "integer"}, "rejected": {"type": "integer"},
        "rejects": {"type": "array", "items": {"$ref": "#/components/schemas/Reject"}},
    },
}

_VISIT = {
    "type": "object",
    "required": ["visit_ref", "client_ref", "store_code", "visited_at"],
    "properties": {
        "visit_ref": {"type": "string"}, "client_ref": {"type": "string"},
        "store_code": {"type": "string"},
        "visited_at": {"type": "string", "description": "ISO 8601 date or datetime; no offset = store local time"},
        "service": {"type": ["string", "null"]},
        "amount": {"type": ["string", "number", "null"], "description": "decimal in the store currency, e.g. \"45.50\""},
        "status": {"type": ["string", "null"], "enum": ["completed", "no_show", "cancelled", "", None]},
        "served_by": {"type": ["string", "null"], "description": "employee code"},
    },
}

_CARD = {
    "type": "object",
    "properties": {
        "client_ref": {"type": "string"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
        "phone": {"type": ["string", "null"]}, "phone_callable": {"type": "boolean"},
        "email": {"type": ["string", "null"]}, "language": {"type": ["string", "null"]},
        "store_code": {"type": "string"},
        "bucket": {"type": "string", "enum": ["active", "d1", "d2", "d3", "d3plus", "never"]},
        "tier": {"type": "string", "enum": ["regular", "one_time", "never"]},
        "value_class": {"type": ["string", "null"], "enum": ["A", "B", "C", None]},
        "days_since": {"type": ["integer", "null"]}, "no_shows": {"type": "integer"},
        "banned": {"type": "boolean"}, "overdue": {"type": "boolean"},
        "contact_policy": {"type": "object", "description": "may_queue and every reason why not, in words",
                           "properties": {"may_queue": {"type": "boolean"},
                                          "reasons": {"type": "array", "items": {"type": "object"}}}},
    },
    "additionalProperties": True,
}


def document() -> dict:
    """The document, with the answers every operation of a kind can give added
    where a path leaves them out (``common_errors``)."""
    return common_errors(_document())


def common_errors(doc: dict) -> dict:
    """Answers that come from the app's wiring rather than from each route:
    a JSON body that cannot be read (nested over 64 levels, NaN, NUL or an
    unpaired surrogate in text: campaign.core.web) and a NUL in the query
    string are 422; an id beyond a 32-bit integer or any unknown thing in the
    path is 404."""
    for ops in doc["paths"].values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            body = op.get("requestBody", {}).get("content", {})
            if "application/json" in body or any(p.get("in") == "query" for p in op.get("parameters", [])):
                responses.setdefault("422", _err("invalid input; the message says what and where"))
            if any(p.get("in") == "path" for p in op.get("parameters", [])):
                responses.setdefault("404", _err("no such thing (or not yours to know of)"))
    return doc


def _document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Winback API", "version": "1",
                 "description": "Bearer-token JSON API. Errors are {\"error\": {\"code\", \"message\"}}. "
                                "Money is integer minor units; dates are ISO 8601."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI document"}}}},
            "/health": {"get": {"summary": "Health for a load balancer (also at /healthz): the database and, with "
                                           "REDIS_URL, Redis answer", "security": [],
                                "responses": {"200": _json("healthy", {"type": "object", "properties": {
                                    "status": {"type": "string"}, "database": {"type": "string"},
                                    "queue": {"type": "string"}}}),
                                    "503": _json("a check failed (named)", {"type": "object"})}}},
            "/status": {"get": {"summary": "Queue depth, running, scheduled and failed jobs, live workers, stuck "
                                           "jobs and problems in words (admin)",
                                "responses": {"200": _json("the status", {"type": "object", "properties": {
                                    "backend": {"type": "string"}, "queue": {"type": "object"},
                                    "workers": {"type": "array", "items": {"type": "object"}},
                                    "jobs": {"type": "object"},
                                    "problems": {"type": "array", "items": {"type": "string"}}}}), **_STD}}},
            "/jobs/{job_id}": {"get": {
                "summary": "A background job's status, progress and result (starter only)",
                "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the job", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Job"}}}},
                    "404": _err("no such job, or not yours"), **_STD}}},
            "/imports/{kind}": {"post": {
                "summary": "Start an import job from a CSV file (admin, manager)",
                "parameters": [{"name": "kind", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": ["stores", "staff", "clients", "visits"]}}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"202": {"description": "job started", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["job_id"],
                               "properties": {"job_id": {"type": "string"}}}}}},
                    "404": _err("unknown kind"),
                    "422": _err("the file is refused whole (not a CSV of this kind, binary, wrong encoding); nothing written"),
                    **_STD}}},
            "/visits": {"post": {
                "summary": "Upsert visits from a point of sale (pos or admin token); idempotent by visit_ref",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "array", "maxItems": 5000, "items": _VISIT}}}},
                "responses": {"200": {"description": "counts; rejected rows carry their 1-based index as line",
                                      "content": {"application/json": {"schema": _COUNTS}}},
                              "422": _err("the body is not a JSON array of visit objects"), **_STD}}},
            "/segments": {"get": {
                "summary": "Clients by dormancy bucket and tier (manager)",
                "parameters": [
                    {"name": "as_of", "in": "query", "schema": {"type": "string", "format": "date"},
                     "description": "default: today in each store's time zone"},
                    {"name": "store", "in": "query", "schema": {"type": "string"}, "description": "store code"}],
                "responses": {"200": {"description": "counts", "content": {"application/json": {"schema": {
                    "type": "array", "items": {"type": "object", "required": ["bucket", "tier", "clients"],
                                               "properties": {"bucket": {"type": "string"}, "tier": {"type": "string"},
                                                              "clients": {"type": "integer"}}}}}}},
                              "422": _err("invalid as_of or unknown store"), **_STD}}},
            "/clients/{client_ref}": {"get": {
                "summary": "A client's card with segment data (manager)",
                "parameters": [{"name": "client_ref", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "as_of", "in": "query", "schema": {"type": "string", "format": "date"}}],
                "responses": {"200": {"description": "the card", "content": {"application/json": {"schema": _CARD}}},
                              "404": _err("no such client"), **_STD}}},
            **CAMPAIGN_PATHS,
            **CALL_PATHS,
            **SCRIPT_PATHS,
            **OUTBOX_PATHS,
            **SCORE_PATHS,
            **REPORT_PATHS,
            **PRIVACY_PATHS,
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "flask --app wsgi token create EMPLOYEE_CODE"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Reject": {"type": "object", "required": ["line", "column", "reason"],
                           "properties": {"line": {"type": "integer"}, "column": {"type": ["string", "null"]},
                                          "reason": {"type": "string"}}},
                "Job": {"type": "object", "required": ["id", "status", "progress"], "properties": {
                    "id": {"type": "string"}, "kind": {"type": "string"},
                    "status": {"type": "string", "enum": ["queued", "started", "finished", "failed"]},
                    "progress": {"type": "number", "minimum": 0, "maximum": 1},
                    "result": {"type": ["object", "null"]}, "error": {"type": ["string", "null"]}}},
                **CAMPAIGN_SCHEMAS,
                **CALL_SCHEMAS,
                **SCRIPT_SCHEMAS,
                **OUTBOX_SCHEMAS,
                **SCORE_SCHEMAS,
                **REPORT_SCHEMAS,
                **PRIVACY_SCHEMAS,
            },
        },
    }


@bp.get("/openapi.json")
@public
def openapi_json():
    return jsonify(document())

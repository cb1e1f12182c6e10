"""The campaign part of the OpenAPI document (kept apart so each file stays small)."""
from __future__ import annotations

from ..campaigns.models import ITEM_STATUSES
from ..campaigns.rules import OFFERS, REASONS
from ..clients.rules import BUCKETS, TIERS
from .openapi_common import err as _err, json_body as _json


_STD = {"401": _err("missing, unknown or revoked token"), "403": _err("only managers manage campaigns")}
_ID = [{"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_CAMPAIGN = {"$ref": "#/components/schemas/Campaign"}
_JOB = {"type": "object", "required": ["job_id"], "properties": {"job_id": {"type": "string"}}}
_STRINGS = {"type": "array", "items": {"type": "string"}}

SCHEMAS = {
    "CampaignInput": {
        "type": "object", "required": ["name"],
        "description": "Omitted filters mean every value. Unknown stores, offers or scripts answer 422 "
                       "with error.details naming each field.",
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "as_of": {"type": ["string", "null"], "format": "date",
                      "description": "default: today in each client's store time zone, fixed at launch"},
            "buckets": {"type": "array", "items": {"type": "string", "enum": list(BUCKETS)}},
            "tiers": {"type": "array", "items": {"type": "string", "enum": list(TIERS)}},
            "value_classes": {"type": "array", "items": {"type": "string", "enum": ["A", "B", "C", "none"]}},
            "stores": {**_STRINGS, "description": "store codes"},
            "languages": {**_STRINGS, "description": "BCP 47 primary subtags, e.g. ja, pl"},
            "last_services": {**_STRINGS, "description": "service of the last completed visit (any case)"},
            "calling_hours": {"type": "object", "properties": {
                "start": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "default": "10:00"},
                "end": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "default": "20:00"}}},
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
            "retry_delay_hours": {"type": "integer", "minimum": 1, "maximum": 336, "default": 24},
            "holdout_share": {"type": "number", "minimum": 0, "maximum": 0.9, "default": 0.1},
            "attribution_window_days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 30},
            "script_id": {"type": ["integer", "null"], "description": "default: the shipped win-back script"},
            "offers": {"type": "array", "items": {"type": "string", "enum": list(OFFERS)}},
        },
    },
    "Campaign": {
        "allOf": [{"$ref": "#/components/schemas/CampaignInput"}, {"type": "object", "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": ["draft", "active", "paused", "closed"]},
            "version": {"type": "integer", "description": "send back to PATCH/status; a stale one answers 409"},
            "created_at": {"type": "string"}, "launched_at": {"type": ["string", "null"]},
            "closed_at": {"type": ["string", "null"]}, "last_job_id": {"type": ["string", "null"]},
            "counts": {"type": "object", "properties": {k: {"type": "integer"} for k in (
                "pool", "holdout", "assigned", "attempted", "reached", "converted")}},
            "pool_reasons": {"type": "object", "additionalProperties": {"type": "integer"},
                             "description": "no_agent_language / quota_full"},
        }}]},
    "Quota": {"type": "object", "required": ["employee_code"], "properties": {
        "employee_code": {"type": "string"}, "target": {"type": "integer", "minimum": 0},
        "daily_cap": {"type": ["integer", "null"], "minimum": 1},
        "absent": {"type": "boolean", "default": False}}},
}

_reasons = {"type": "object", "properties": {r: {"type": "integer"} for r in REASONS}}

PATHS = {
    "/campaigns": {
        "post": {"summary": "Create a draft campaign (manager)",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/CampaignInput"}}}},
                 "responses": {"201": _json("the draft", _CAMPAIGN), "422": _err("invalid settings"), **_STD}},
        "get": {"summary": "Every campaign, newest first (manager)",
                "responses": {"200": _json("campaigns", {"type": "array", "items": _CAMPAIGN}), **_STD}},
    },
    "/campaigns/{campaign_id}": {
        "get": {"summary": "A campaign with its live counts (manager)", "parameters": _ID,
                "responses": {"200": _json("the campaign", _CAMPAIGN), "404": _err("no such campaign"), **_STD}},
        "patch": {"summary": "Change settings; after launch only name, calling hours, attempts, retry delay, "
                             "window, script and offers (manager)",
                  "parameters": _ID,
                  "requestBody": {"required": True, "content": {"application/json": {"schema": {
                      "type": "object", "properties": {"version": {"type": "integer"}}}}}},
                  "responses": {"200": _json("the campaign", _CAMPAIGN), "404": _err("no such campaign"),
                                "409": _err("stale version, or the campaign is closed"),
                                "422": _err("invalid settings"), **_STD}},
    },
    "/campaigns/{campaign_id}/preview": {"get": {
        "summary": "What launching now would do: eligible (holdout included), holdout, exclusions (manager)",
        "parameters": _ID,
        "responses": {"200": _json("the preview", {"type": "object", "required": ["eligible", "holdout", "excluded"],
                                                   "properties": {
            "eligible": {"type": "integer"}, "holdout": {"type": "integer"}, "targeted": {"type": "integer"},
            "excluded": {**_reasons, "description": "each excluded client under its first reason; these add up"},
            "excluded_any": {**_reasons, "description": "every client a reason holds for"},
            "placed": {"type": "integer"}, "pool": {"type": "integer"},
            "languages": {"type": "array", "items": {"type": "object"}}}}),
            "404": _err("no such campaign"), **_STD}}},
    "/campaigns/{campaign_id}/quotas": {
        "get": {"summary": "The quota grid (manager)", "parameters": _ID,
                "responses": {"200": _json("quotas", {"type": "array", "items": {
                    "$ref": "#/components/schemas/Quota"}}), "404": _err("no such campaign"), **_STD}},
        "put": {"summary": "Replace the quota grid; on an active or paused campaign the assignment runs again "
                           "and places only the difference (manager)",
                "parameters": _ID + [{"name": "If-Match", "in": "header", "schema": {"type": "string"},
                                      "description": "the campaign version you edited; stale → 409"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Quota"}}}}},
                "responses": {"200": _json("the grid and the assignment job, if one started", {
                    "type": "object", "properties": {
                        "quotas": {"type": "array", "items": {"$ref": "#/components/schemas/Quota"}},
                        "job_id": {"type": ["string", "null"]}}}),
                    "404": _err("no such campaign"), "409": _err("stale version or closed campaign"),
                    "422": _err("a bad row (error.details names it), or not an active agent"), **_STD}},
    },
    "/campaigns/{campaign_id}/launch": {"post": {
        "summary": "Activate a draft and run the assignment as a background job (manager)",
        "parameters": _ID,
        "responses": {"202": _json("assignment job started", _JOB), "404": _err("no such campaign"),
                      "409": _err("not a draft"), "422": _err("no agent has a quota"), **_STD}}},
    "/campaigns/{campaign_id}/assign": {"post": {
        "summary": "Run the assignment again; move_absent hands absent agents' untouched items to others (manager)",
        "parameters": _ID,
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"move_absent": {"type": "boolean"}}}}}},
        "responses": {"202": _json("assignment job started", _JOB), "404": _err("no such campaign"),
                      "409": _err("the campaign is not active or paused"), **_STD}}},
    "/campaigns/{campaign_id}/status": {"post": {
        "summary": "Pause, resume or close (draft → active is launch) (manager)",
        "parameters": _ID,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"], "properties": {
                "status": {"type": "string", "enum": ["active", "paused", "closed"]},
                "version": {"type": "integer"}}}}}},
        "responses": {"200": _json("the campaign", _CAMPAIGN), "404": _err("no such campaign"),
                      "409": _err("not a legal transition, or a stale version"), "422": _err("unknown status"),
                      **_STD}}},
    "/campaigns/{campaign_id}/items": {"get": {
        "summary": "The campaign's items in id order, a page at a time (manager)",
        "parameters": _ID + [
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(ITEM_STATUSES)}},
            {"name": "employee_code", "in": "query", "schema": {"type": "string"}},
            {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "last item_id seen"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
        "responses": {"200": {"description": "items; a Link header rel=next points to the next page",
                              "headers": {"Link": {"schema": {"type": "string"}}},
                              "content": {"application/json": {"schema": {"type": "array", "items": {
                                  "type": "object",
                                  "required": ["item_id", "client_ref", "employee_code", "status", "attempts"],
                                  "properties": {
                                      "item_id": {"type": "integer"}, "client_ref": {"type": "string"},
                                      "employee_code": {"type": ["string", "null"]},
                                      "status": {"type": "string", "enum": list(ITEM_STATUSES)},
                                      "attempts": {"type": "integer"}, "priority": {"type": "integer"},
                                      "pool_reason": {"type": ["string", "null"]}}}}}}},
                      "404": _err("no such campaign"), "422": _err("bad status, employee code or limit"),
                      **_STD}}},
}

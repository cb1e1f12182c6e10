"""The scripts part of the OpenAPI document."""
from __future__ import annotations

from ..campaigns.rules import OFFERS
from ..scripts.rules import PLACEHOLDERS, REASON_CODES
from .openapi_common import err as _err, json_body as _json


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


_STD = {"401": _err("missing, unknown or revoked token"), "403": _err("only managers manage scripts")}
_ID = {"name": "script_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}
_TEXT = {"type": "string", "description": "placeholders: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS)}
_NEXT = {"type": "string", "description": "a step key, \"end\", or (a step only) \"\" for the following step"}
_OFFER = {"type": ["string", "null"], "enum": [*OFFERS, None]}

SCHEMAS = {
    "ScriptContent": {
        "type": "object",
        "description": "One language's texts. In the base language every text is required (a remedy may be "
                       "empty) and next/offer set the structure; in a translation entries are matched by key, "
                       "next/offer are ignored and an empty text shows the base text.",
        "properties": {
            "steps": {"type": "array", "items": {"type": "object", "required": ["key"], "properties": {
                "key": _KEY, "title": {"type": "string", "maxLength": 200}, "text": _TEXT, "next": _NEXT,
                "question": {"type": ["object", "null"], "properties": {
                    "text": _TEXT,
                    "answers": {"type": "array", "items": {"type": "object", "required": ["key"], "properties": {
                        "key": _KEY, "label": {"type": "string"}, "next": _NEXT}}}}}}}},
            "reasons": {"type": "array", "items": {"type": "object", "required": ["code"], "properties": {
                "code": {"type": "string", "enum": list(REASON_CODES)}, "label": {"type": "string"},
                "remedy": _TEXT, "offer": _OFFER}}},
            "objections": {"type": "array", "items": {"type": "object", "required": ["key"], "properties": {
                "key": _KEY, "question": _TEXT, "answer": _TEXT}}},
        },
    },
    "ScriptLanguage": {"type": "object", "required": ["language", "base", "version", "content"], "properties": {
        "language": {"type": "string"}, "base": {"type": "boolean"},
        "version": {"type": "integer", "description": "0 while the shipped texts are not stored; send as If-Match"},
        "content": _ref("ScriptContent")}},
    "Script": {"type": "object", "required": ["id", "name", "is_default", "base_language", "languages"],
               "properties": {
                   "id": {"type": "integer"}, "name": {"type": "string"}, "is_default": {"type": "boolean"},
                   "base_language": {"type": "string"}, "languages": {"type": "array", "items": {"type": "string"}},
                   "stored": {"type": "boolean", "description": "false: the shipped default texts"},
                   "campaigns": {"type": "array", "items": {"type": "integer"}},
                   "created_at": {"type": "string"},
                   "texts": {"type": "object", "additionalProperties": _ref("ScriptLanguage"),
                             "description": "by language (GET /scripts/{script_id} only)"}}},
    "RenderedScript": {"type": "object",
                       "required": ["script_id", "name", "language", "languages", "steps", "reasons", "objections"],
                       "properties": {
                           "script_id": {"type": ["integer", "null"]}, "name": {"type": "string"},
                           "language": {"type": "string", "description": "the language used"},
                           "languages": {"type": "array", "items": {"type": "string"}},
                           "steps": {"type": "array", "items": {"type": "object", "properties": {
                               "key": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"},
                               "next": {"type": "string", "description": "where the step leads without a question"},
                               "question": {"type": ["object", "null"], "properties": {
                                   "text": {"type": "string"},
                                   "answers": {"type": "array", "items": {"type": "object", "properties": {
                                       "key": {"type": "string"}, "label": {"type": "string"},
                                       "next": {"type": "string"}}}}}}}}},
                           "reasons": {"type": "array", "items": {"type": "object", "properties": {
                               "code": {"type": "string"}, "label": {"type": "string"},
                               "remedy": {"type": "string"}, "offer": _OFFER,
                               "offer_label": {"type": ["string", "null"]}}}},
                           "objections": {"type": "array", "items": {"type": "object", "properties": {
                               "key": {"type": "string"}, "question": {"type": "string"},
                               "answer": {"type": "string"}}}}}},
}

PATHS = {
    "/scripts": {"get": {
        "summary": "Every script with its languages and the campaigns using it (manager)",
        "responses": {"200": _json("scripts", {"type": "array", "items": _ref("Script")}), **_STD}}},
    "/scripts/{script_id}": {"get": {
        "summary": "A script with its content in every language (manager)", "parameters": [_ID],
        "responses": {"200": _json("the script", _ref("Script")), "404": _err("no such script"), **_STD}}},
    "/scripts/{script_id}/texts/{language}": {"put": {
        "summary": "Replace one language's texts: the base language (structure included) or a translation "
                   "(a new language adds one) (manager)",
        "parameters": [_ID, {"name": "language", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "If-Match", "in": "header", "schema": {"type": "string"},
                        "description": "the version last read; another one answers 409"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ScriptContent")}}},
        "responses": {"200": _json("the stored texts", _ref("ScriptLanguage")), "404": _err("no such script"),
                      "409": _err("the texts changed since the version sent"),
                      "422": _err("invalid content; error.details maps each field path to its problem"),
                      **_STD}}},
    "/scripts/{script_id}/render": {"get": {
        "summary": "The script as an agent reads it, for a client or a sample client (manager)",
        "parameters": [_ID,
                       {"name": "language", "in": "query", "schema": {"type": "string"},
                        "description": "default: the client's language; the base language when not translated"},
                       {"name": "client_ref", "in": "query", "schema": {"type": "string"},
                        "description": "default: a sample client"},
                       {"name": "offer", "in": "query", "schema": {"type": "string", "enum": list(OFFERS)}}],
        "responses": {"200": _json("the rendered script", _ref("RenderedScript")),
                      "404": _err("no such script or client"), "422": _err("unknown offer"), **_STD}}},
}

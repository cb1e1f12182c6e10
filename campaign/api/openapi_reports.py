"""OpenAPI paths and schemas of the reports and lift endpoints (docs/reports.md)."""
from __future__ import annotations

from ..campaigns.rules import OFFERS, REASON_CODES
from .openapi_common import err as _err, json_body as _json

_STD = {"401": _err("missing, unknown or revoked token"), "403": _err("only managers read reports")}
_INT = {"type": "integer"}
_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_CAMPAIGN_REF = {"type": ["object", "null"], "properties": {"id": _INT, "name": {"type": "string"}}}
_STAGES = ("targeted", "attempted", "reached", "booked", "visited")
_GROUP = {"type": "object", "required": ["clients", "came_back", "rate"], "properties": {
    "clients": _INT, "came_back": _INT, "rate": _RATE}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _param(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


_FORMAT = _param("format", "json (default) or csv: UTF-8 with a BOM, a header row, one row per table row "
                           "(Content-Disposition: attachment)", {"type": "string", "enum": ["json", "csv"]})
_CAMPAIGN = _param("campaign", "a campaign id; omitted: every campaign", _INT)
_CSV = {"text/csv": {"schema": {"type": "string"}}}


def _report(summary: str, schema: str, params: list, errors: dict) -> dict:
    return {"get": {
        "summary": summary, "parameters": params,
        "responses": {"200": {"description": "the report (JSON, or CSV with format=csv)",
                              "content": {"application/json": {"schema": _ref(schema)}, **_CSV}},
                      "404": _err("no such campaign"), **errors, **_STD}}}


SCHEMAS = {
    "Lift": {
        "type": "object", "required": ["campaign_id", "window", "groups", "measurable", "significant"],
        "description": "Contacted (items with a call attempt) vs holdout (the launch's control draw): share "
                       "of clients with a completed visit in (window.start, window.end]. difference, low, "
                       "high: contacted rate minus holdout rate with Newcombe's 95 % interval; null while "
                       "either group is empty.",
        "properties": {
            "campaign_id": _INT,
            "window": {"type": "object", "properties": {
                "start": {"type": "string", "description": "the launch (UTC)"},
                "end": {"type": "string", "description": "now, or the close plus the attribution window "
                                                         "if that is earlier (UTC)"},
                "closed": {"type": "boolean"}, "attribution_window_days": _INT}},
            "groups": {"type": "object", "properties": {
                "contacted": _GROUP, "holdout": _GROUP,
                "not_called": {**_GROUP, "description": "items not called yet: not compared"}}},
            "measurable": {"type": "boolean"},
            "difference": {"type": ["number", "null"]}, "low": {"type": ["number", "null"]},
            "high": {"type": ["number", "null"]},
            "relative": {"type": ["number", "null"], "description": "contacted rate / holdout rate − 1"},
            "significant": {"type": "boolean", "description": "the interval excludes zero"},
            "confidence": {"type": "number"}, "in_words": {"type": "string"},
        }},
    "FunnelRow": {
        "type": "object",
        "properties": {"store_code": {"type": "string"}, "store_name": {"type": "string"},
                       "employee_code": {"type": ["string", "null"], "description": "null: items in the pool"},
                       "name": {"type": ["string", "null"]},
                       **{s: _INT for s in _STAGES},
                       "share": {"type": "object", "description": "each stage / targeted",
                                 "properties": {s: _RATE for s in _STAGES}}}},
    "FunnelReport": {
        "type": "object", "required": ["campaign", "by", "rows", "totals"],
        "properties": {"campaign": _CAMPAIGN_REF, "by": {"type": "string", "enum": ["store", "agent"]},
                       "rows": {"type": "array", "items": _ref("FunnelRow")}, "totals": _ref("FunnelRow")}},
    "ReasonsReport": {
        "type": "object", "required": ["reasons", "rows", "overall", "total"],
        "properties": {
            "campaign": _CAMPAIGN_REF, "year": {"type": ["integer", "null"]},
            "reasons": {"type": "array", "items": {"type": "string"}, "description": f"codes: {', '.join(REASON_CODES)}"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "object", "properties": {
                "quarter": {"type": "string", "description": "e.g. 2026-Q2, of the call's local date"},
                "store_code": {"type": "string"}, "store_name": {"type": "string"},
                "counts": {"type": "object", "additionalProperties": _INT}, "total": _INT}}},
            "total": _INT,
            "overall": {"type": "array", "items": {"type": "object", "properties": {
                "reason": {"type": "string"}, "label": {"type": "string"}, "count": _INT, "share": _RATE}}}}},
    "OffersReport": {
        "type": "object", "required": ["rows"],
        "properties": {
            "campaign": _CAMPAIGN_REF, "reached": _INT,
            "rows": {"type": "array", "items": _ref("OfferRow")},
            "baseline": {"oneOf": [_ref("OfferRow"), {"type": "null"}]}}},
    "OfferRow": {
        "type": "object",
        "properties": {"offer": {"type": "string", "enum": [*OFFERS, "none"]}, "label": {"type": "string"},
                       "offered": _INT, "booked": _INT, "converted": _INT, "rate": _RATE,
                       "low": {"type": "number"}, "high": {"type": "number"}}},
}

PATHS = {
    "/campaigns/{campaign_id}/lift": {"get": {
        "summary": "Lift of a launched campaign against its holdout, with a 95 % interval (manager)",
        "parameters": [{"name": "campaign_id", "in": "path", "required": True, "schema": _INT}],
        "responses": {"200": _json("the lift", _ref("Lift")), "404": _err("no such campaign"),
                      "409": _err("the campaign is a draft: no holdout or contacted group yet"),
                      "422": _err("an unknown query parameter"), **_STD}}},
    "/reports/funnel": _report(
        "A campaign's funnel targeted → attempted → reached → booked → visited, by store or agent (manager)",
        "FunnelReport",
        [_param("campaign", "the campaign's id", _INT, required=True),
         _param("by", "store (default) or agent", {"type": "string", "enum": ["store", "agent"]}), _FORMAT],
        {"422": _err("campaign missing or not a number, by not store/agent, bad format or unknown parameter")}),
    "/reports/reasons": _report(
        "Reasons for leaving by quarter of the call and store (manager)", "ReasonsReport",
        [_CAMPAIGN, _param("year", "only calls of this year (local date)", {"type": "integer"}), _FORMAT],
        {"422": _err("campaign not a number, year not 2000–2100, bad format or unknown parameter")}),
    "/reports/offers": _report(
        "Offers made on reached calls: offered, booked, converted, rate with a Wilson 95 % interval (manager)",
        "OffersReport", [_CAMPAIGN, _FORMAT],
        {"422": _err("campaign not a number, bad format or unknown parameter")}),
}

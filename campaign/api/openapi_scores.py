"""OpenAPI paths and schemas of the leaderboard and competitions endpoints."""
from __future__ import annotations

from .openapi_common import err as _err, json_body as _json

_STD = {"401": _err("missing, unknown or revoked token"), "403": _err("the token's roles do not allow this")}
_INT = {"type": "integer"}

_SCOPE = [
    {"name": "campaign", "in": "query", "required": False, "schema": _INT,
     "description": "a campaign id; omitted = every campaign"},
    {"name": "period", "in": "query", "required": False, "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
     "description": "a calendar month YYYY-MM (store local time); omitted = the whole campaign"},
]

_SIDE = {"type": "object", "properties": {
    "key": {"type": "string", "description": "employee code or team name"}, "name": {"type": "string"},
    "calls": _INT, "reached": _INT, "conversions": _INT, "visit_rate": {"type": "number"}}}

SCHEMAS = {
    "LeaderboardRow": {
        "type": "object", "required": ["rank", "assigned", "calls", "reached", "booked", "conversions",
                                       "visit_rate", "revenue"],
        "description": "SPEC §7. reached / booked: distinct clients per campaign in the scope; a period counts "
                       "conversions by visit month. Rank: conversions desc, visit_rate desc, calls asc, "
                       "employee_code (team name for teams).",
        "properties": {
            "rank": _INT, "employee_code": {"type": "string"}, "name": {"type": "string"},
            "team": {"type": ["string", "null"]}, "assigned": _INT, "calls": _INT, "reached": _INT,
            "booked": _INT, "conversions": _INT,
            "visit_rate": {"type": "number", "description": "conversions / reached, 0 when reached is 0"},
            "revenue": {"type": ["integer", "null"],
                        "description": "minor units of the converting visits; null when they were in several "
                                       "currencies (see revenue_by_currency)"},
            "currency": {"type": ["string", "null"]},
            "revenue_by_currency": {"type": "object", "additionalProperties": _INT},
            "expected": {"type": "number", "description": "adjusted=1: conversions the agent's list mix "
                                                          "(bucket × value class) predicts at campaign rates"},
            "above_expected": {"type": "number"}, "index": {"type": ["number", "null"]},
            "adjusted_rank": _INT,
        }},
    "Competition": {
        "type": "object", "required": ["id", "period", "kind", "side_a", "side_b", "winner"],
        "properties": {"id": _INT, "period": {"type": "string"}, "kind": {"type": "string", "enum": ["agent", "team"]},
                       "name": {"type": ["string", "null"]}, "side_a": _SIDE, "side_b": _SIDE,
                       "winner": {"type": "string", "enum": ["a", "b", "draw"],
                                  "description": "the higher visit rate wins; equal rates draw"}}},
    "BonusPlan": {
        "type": "object", "required": ["currency"],
        "description": "SPEC §8. Money in integer minor units of the currency; rank_rewards 1st place first.",
        "properties": {"period": {"type": "string"}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                       "team_per_visit": _INT, "rank_rewards": {"type": "array", "items": _INT, "maxItems": 50},
                       "min_calls": _INT, "competition_reward": _INT, "competition_penalty": _INT,
                       "cap": {"type": ["integer", "null"]}, "version": _INT,
                       "updated_at": {"type": "string", "format": "date-time"}}},
    "CompetitionInput": {
        "type": "object", "required": ["period", "kind", "side_a", "side_b"],
        "properties": {"period": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                       "kind": {"type": "string", "enum": ["agent", "team"]},
                       "side_a": {"type": "string", "description": "employee code (agent) or team name"},
                       "side_b": {"type": "string"}, "name": {"type": "string", "maxLength": 200}}},
}

_COMP = {"$ref": "#/components/schemas/Competition"}

_PERIOD = [{"name": "period", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}}]
_PLAN = {"$ref": "#/components/schemas/BonusPlan"}
_MONEY = {"type": "integer", "description": "minor units of the run's currency"}
_STATEMENT_ROW = {"type": "object", "required": ["employee_code", "team_share", "rank_reward", "competition",
                                                 "adjustments", "total"],
                  "properties": {"employee_code": {"type": "string"}, "team_share": _MONEY, "rank_reward": _MONEY,
                                 "competition": _MONEY, "adjustments": _MONEY, "total": _MONEY}}
_RUN = {"type": "object", "required": ["id", "period", "status"], "properties": {
    "id": _INT, "period": {"type": "string"}, "status": {"type": "string", "enum": ["draft", "approved", "exported"]},
    "currency": {"type": "string"}, "total": _MONEY, "lines": _INT, "plan": {"type": "object"},
    "created_at": {"type": "string", "format": "date-time"},
    "approved_at": {"type": ["string", "null"], "format": "date-time"},
    "exported_at": {"type": ["string", "null"], "format": "date-time"},
    "csv_sha256": {"type": ["string", "null"]}, "xlsx_sha256": {"type": ["string", "null"]},
    "statements": {"type": "array", "items": _STATEMENT_ROW}}}
_RUN_ID = [{"name": "run_id", "in": "path", "required": True, "schema": _INT}]

PATHS = {
    "/bonus-plans/{period}": {
        "get": {"summary": "A month's bonus plan (manager, payroll)", "parameters": _PERIOD,
                "responses": {"200": _json("the plan", _PLAN), "404": _err("no plan for that month yet"),
                              "422": _err("bad period"), **_STD}},
        "put": {"summary": "Create or replace a month's bonus plan (manager; audited). Optional If-Match: version",
                "parameters": _PERIOD,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _PLAN}}},
                "responses": {"200": _json("replaced", _PLAN), "201": _json("created", _PLAN),
                              "409": _err("changed meanwhile (stale If-Match)"),
                              "422": _err("invalid; details name every field"), **_STD}}},
    "/bonus-runs": {
        "post": {"summary": "Compute a month's draft run with its plan (manager; audited). Replaces an unlocked "
                            "run of that month; corrections of locked runs become adjustment lines",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["period"], "properties": {"period": {"type": "string"}}}}}},
                 "responses": {"201": _json("the draft with every statement line", _RUN),
                               "409": _err("that month is exported and locked"),
                               "422": _err("bad period, no plan for it, or a month not started"), **_STD}},
        "get": {"summary": "Every run, newest month first (manager; payroll sees approved and exported ones)",
                "responses": {"200": _json("runs without their lines", {"type": "array", "items": _RUN}), **_STD}}},
    "/bonus-runs/{run_id}": {"get": {
        "summary": "A run with its statement lines (manager; payroll once approved)", "parameters": _RUN_ID,
        "responses": {"200": _json("the run", _RUN), "404": _err("no such run (or a draft, for payroll)"),
                      **_STD}}},
    "/bonus-runs/{run_id}/approve": {"post": {
        "summary": "Approve a draft (manager; audited); approving an approved run changes nothing",
        "parameters": _RUN_ID,
        "responses": {"200": _json("the run", _RUN), "404": _err("no such run"),
                      "409": _err("exported and locked"), **_STD}}},
    "/bonus-runs/{run_id}/export.{fmt}": {"get": {
        "summary": "The payroll file of SPEC §8 (payroll; audited). The first export locks the run and stores "
                   "both files; every later export (payroll, or a manager once locked) serves the same bytes. "
                   "X-Content-SHA256 carries the file's hash",
        "parameters": [*_RUN_ID, {"name": "fmt", "in": "path", "required": True,
                                  "schema": {"type": "string", "enum": ["csv", "xlsx"]}}],
        "responses": {"200": {"description": "the file (Content-Disposition: attachment)", "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}}}},
            "403": _err("a manager before payroll locked the run"), "404": _err("no such run (or a draft)"),
            "409": _err("not approved yet, or another run locked since it was computed (recompute it)"),
            "422": _err("unknown format"), **_STD}}},
    "/bonus-runs/{run_id}/statements/{code}": {"get": {
        "summary": "One agent's statement with the reason for every amount (manager, payroll; an agent only "
                   "their own, once approved). Teammates' clients are not named to an agent",
        "parameters": [*_RUN_ID, {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json("the statement", {"type": "object", "properties": {
            "employee_code": {"type": "string"}, "team_pool": {"type": "object"}, "rank": {"type": "object"},
            "competitions": {"type": "array", "items": {"type": "object"}},
            "adjustments": {"type": "array", "items": {"type": "object"}}, "total": _MONEY,
            "carried": _MONEY}}),
            "403": _err("another agent's statement"), "404": _err("no such run or line"), **_STD}}},
    "/leaderboard": {"get": {
        "summary": "Agent or team leaderboard (everyone)",
        "parameters": [*_SCOPE,
                       {"name": "by", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["agent", "team"]}},
                       {"name": "adjusted", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "1 with a campaign and by=agent: add the difficulty-adjusted fields"}],
        "responses": {"200": _json("rows in rank order", {"type": "array", "items": {
            "$ref": "#/components/schemas/LeaderboardRow"}}),
            "404": _err("no such campaign"), "422": _err("bad period, by or parameter"), **_STD}}},
    "/leaderboard/trend": {"get": {
        "summary": "Calls, reached and conversions per day for the same scope (everyone)",
        "parameters": _SCOPE,
        "responses": {"200": _json("days with activity", {"type": "array", "items": {"type": "object", "properties": {
            "day": {"type": "string", "format": "date"}, "calls": _INT, "reached": _INT, "conversions": _INT}}}),
            "404": _err("no such campaign"), "422": _err("bad period"), **_STD}}},
    "/competitions": {
        "get": {"summary": "Head-to-head competitions with live results (everyone)",
                "parameters": [_SCOPE[1]],
                "responses": {"200": _json("competitions", {"type": "array", "items": _COMP}),
                              "422": _err("bad period"), **_STD}},
        "post": {"summary": "Start a competition for a month (manager)",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "$ref": "#/components/schemas/CompetitionInput"}}}},
                 "responses": {"201": _json("created, with its current numbers", _COMP),
                               "409": _err("these two already compete in that month"),
                               "422": _err("invalid input; details name the fields"), **_STD}}},
    "/competitions/{competition_id}": {
        "get": {"summary": "One competition's scoreboard (everyone)",
                "parameters": [{"name": "competition_id", "in": "path", "required": True, "schema": _INT}],
                "responses": {"200": _json("the competition", _COMP), "404": _err("no such competition"), **_STD}},
        "delete": {"summary": "Call a competition off (manager; audited)",
                   "parameters": [{"name": "competition_id", "in": "path", "required": True, "schema": _INT}],
                   "responses": {"204": {"description": "deleted"}, "404": _err("no such competition"), **_STD}}},
}

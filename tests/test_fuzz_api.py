"""Hostile requests to every API route (issue 8), built by Hypothesis.

The routes come from ``app.url_map``, so a new route is fuzzed without
anyone remembering to: every route under ``/api/v1`` that takes a body
(POST, PUT, PATCH) gets near-valid bodies (a working body with fields
dropped, replaced by wrong types, nulls, huge numbers, NaN, huge or odd
strings, NUL, lone surrogates, extra fields) and plain hostile ones (any
JSON, deep nesting, not JSON, empty, wrong Content-Type), wrong query
strings, odd path values (unknown and huge ids) and wrong or missing
tokens. A body-taking route without an entry in ``BODIES`` fails, and so
does a path argument without values in ``PATH_VALUES``.

Each answer must be below 500; a 4xx must be the JSON error of docs/api.md
and must have written nothing (every table hashed before and after).
``test_query_strings_of_every_get_route`` sends hostile query strings to
every GET route. Jobs that a request starts are kept, not run, so nothing
moves under the comparison.
"""
from __future__ import annotations

import io
import json
import os
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign import create_app
from campaign.extensions import db
from campaign.imports import rules as import_rules

from .api_world import PLAN, SECRET, api_world  # noqa: F401  (api_world is a fixture)
from .conftest import csrf_from
from .test_fuzz_imports import digest

FUZZ = settings(max_examples=int(os.environ.get("WINBACK_FUZZ_EXAMPLES", 40)), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
BODY_METHODS = {"POST", "PUT", "PATCH"}


def _routes(methods: set[str]) -> list[tuple[str, str]]:
    """(rule, method) of every /api/v1 route answering one of ``methods``: read from
    the URL map of an app that is built but never connected."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True, "SECRET_KEY": "x",
                      "REDIS_URL": None})
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
                  for method in rule.methods & methods)


BODY_ROUTES = _routes(BODY_METHODS)
GET_ROUTES = _routes({"GET"})

# ------------------------------------------------------------------ values

HUGE_INTS = [2**31 - 1, 2**31, 2**53 + 1, 2**63, -2**63 - 1, 10**30, -(10**30)]
ODD_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "日本語", "🙂" * 3, "<script>alert(1)</script>",
            "'; DROP TABLE staff;--", "../../etc/passwd", "%s%n", "2026-02-30", "9999-99-99", "NaN", "null",
            "x" * 300, "y" * 70_000, "\u202e", "true", "0", "-1"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1.5, -0.0, 1e308, 5e-324]),
    st.sampled_from(ODD_TEXT), st.text(max_size=20),
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


@st.composite
def near(draw, template):
    """The template with some parts kept, some dropped, some replaced by anything."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            how = draw(st.sampled_from(["keep"] * 5 + ["drop", "any", "near"]))
            if how == "keep":
                out[key] = value
            elif how == "any":
                out[key] = draw(JSON)
            elif how == "near":
                out[key] = draw(near(value))
        if draw(st.integers(0, 3)) == 0:
            out[draw(st.sampled_from(["extra", "id", "__proto__", "version", "", "x" * 100]))] = draw(JSON)
        return out
    if isinstance(template, list):
        items = [draw(near(x)) for x in template]
        how = draw(st.sampled_from(["same"] * 3 + ["empty", "more", "scalar"]))
        if how == "empty":
            return []
        if how == "more":
            return items + items + [draw(JSON)]
        if how == "scalar":
            return items + [draw(SCALARS)]
        return items
    if isinstance(template, int) and not isinstance(template, bool):
        odd = st.sampled_from([*HUGE_INTS, 0, -1, float("inf"), float("nan"), 1.5, str(template)])
    elif isinstance(template, str):
        odd = st.sampled_from(ODD_TEXT)
    else:
        odd = SCALARS
    return draw(st.one_of(st.just(template), st.just(template), odd, SCALARS))


RAW = st.sampled_from([
    b"", b" ", b"{", b"}", b"[", b"null", b"[]", b"{}", b'"x"', b"0", b"-", b"NaN", b"1e999999",
    b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"[" * 200_000,
    b"1" * 5000, b'{"a": 1, "a": 2}', b"\x00\xff\xfe", b"\xef\xbb\xbf{}", b'{"x": "\\ud800"}',
    b'{"x": "\\u0000"}', b"\xff" * 10, b"<xml/>", b"a=1&b=2", b"--boundary\r\n",
    b'"' + b"z" * 200_000 + b'"',
])
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "application/vnd.api+json"]
OTHER_TYPES = ["text/plain", "application/x-www-form-urlencoded", "application/xml", None,
               "application/json; charset=latin-1", "multipart/form-data; boundary=x"]
QUERIES = st.one_of(
    st.sampled_from(["", "", "", "?", "?a=1", "?campaign=x", "?period=2026-13", "?as_of=9999-99-99",
                     "?limit=-1&after=99999999999999999999", "?%ff=%00", "?campaign_id=1&campaign_id=2",
                     "?" + "a=1&" * 300, "?x=" + "%41" * 2000, "?status=%00", "?format=csv", "?by=team"]),
    st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3).map(
        lambda d: "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in d.items())),
)


@st.composite
def request_for(draw, template):
    """(body bytes or multipart fields, Content-Type) of one hostile request."""
    how = draw(st.sampled_from(["near"] * 5 + ["json", "raw", "wrong type", "empty"]))
    if how in ("near", "json"):
        value = draw(near(template)) if how == "near" else draw(JSON)
        body = json.dumps(value, allow_nan=True).encode()
        return body, draw(st.sampled_from(JSON_TYPES))
    if how == "raw":
        return draw(RAW), draw(st.sampled_from(JSON_TYPES + OTHER_TYPES))
    if how == "wrong type":
        return json.dumps(draw(near(template)), allow_nan=True).encode(), draw(st.sampled_from(OTHER_TYPES))
    return b"", draw(st.sampled_from([None, *JSON_TYPES]))


@st.composite
def upload_request(draw, _template):
    """POST /imports/{kind}: multipart with a file, without one, or not multipart."""
    how = draw(st.sampled_from(["file", "file", "other field", "json", "raw"]))
    if how in ("file", "other field"):
        content = draw(st.one_of(
            st.sampled_from([b"", b"client_ref,store_code\nN1,WAW\n", b"\x00\x01", b"a,b\n",
                             b"store_code,name,timezone,country,currency\nS9,x,UTC,PL,PLN\n"]),
            st.binary(max_size=200)))
        name = draw(st.sampled_from(["f.csv", "", "../../x.csv", "\x00.csv", "日本.csv", "a" * 300]))
        return {"file" if how == "file" else "upload": (content, name)}, "multipart/form-data"
    if how == "json":
        return json.dumps(draw(JSON)).encode(), "application/json"
    return draw(RAW), draw(st.sampled_from(OTHER_TYPES))


# Per body-taking route: a body that works in tests/api_world.py (the template of
# the near-valid bodies), or the request strategy itself.
BODIES = {
    ("/api/v1/campaigns", "POST"): lambda w: {
        "name": "Autumn", "as_of": "2026-06-01", "buckets": ["d1", "d2"], "tiers": ["regular"],
        "value_classes": ["A", "B"], "stores": ["WAW"], "languages": ["en"], "last_services": ["massage"],
        "calling_hours": {"start": "10:00", "end": "20:00"}, "max_attempts": 3, "retry_delay_hours": 24,
        "holdout_share": 0.1, "attribution_window_days": 30, "script_id": w["script_id"],
        "offers": ["discount_10"]},
    ("/api/v1/campaigns/<int:campaign_id>", "PATCH"): lambda w: {
        "name": "Renamed", "max_attempts": 4, "calling_hours": {"start": "09:00", "end": "19:00"},
        "holdout_share": 0.2, "version": w["draft_version"]},
    ("/api/v1/campaigns/<int:campaign_id>/quotas", "PUT"): lambda w: [
        {"employee_code": "SUP", "target": 3, "daily_cap": 10, "absent": False},
        {"employee_code": "A02", "target": 2, "daily_cap": None}],
    ("/api/v1/campaigns/<int:campaign_id>/launch", "POST"): lambda w: {},
    ("/api/v1/campaigns/<int:campaign_id>/assign", "POST"): lambda w: {"move_absent": True},
    ("/api/v1/campaigns/<int:campaign_id>/status", "POST"): lambda w: {"status": "paused"},
    ("/api/v1/queue/next", "POST"): lambda w: {"campaign_id": w["active"]},
    ("/api/v1/queue/<int:item_id>/outcome", "POST"): lambda w: {
        "disposition": "callback", "reason": "price", "offer": "discount_10", "notes": "call back",
        "callback_at": "2026-06-03T12:00", "service": "massage", "consent": True,
        "answers": {"greeting": "yes"}, "claim": w["claim"], "corrects": None},
    ("/api/v1/bonus-plans/<period>", "PUT"): lambda w: dict(PLAN),
    ("/api/v1/bonus-runs", "POST"): lambda w: {"period": "2026-06"},
    ("/api/v1/bonus-runs/<int:run_id>/approve", "POST"): lambda w: {},
    ("/api/v1/competitions", "POST"): lambda w: {"period": "2026-06", "kind": "agent", "side_a": "SUP",
                                                  "side_b": "A02", "name": "June duel"},
    ("/api/v1/scripts/<int:script_id>/texts/<language>", "PUT"): lambda w: w["script_content"],
    ("/api/v1/clients/<client_ref>/erase", "POST"): lambda w: {"reason": "asked by phone"},
    ("/api/v1/sms/inbound", "POST"): lambda w: {"from": "+48501234567", "text": "STOP"},
    ("/api/v1/visits", "POST"): lambda w: [
        {"visit_ref": "P1", "client_ref": w["client_ref"], "store_code": "WAW", "visited_at": "2026-06-01T15:30",
         "service": "massage", "amount": "45.50", "status": "completed", "served_by": "SUP"}],
    ("/api/v1/imports/<kind>", "POST"): upload_request,
}

# Values for each path argument of any API route (from tests/api_world.py).
PATH_VALUES = {
    "kind": lambda w: [*import_rules.KINDS, "products", "..", "%00"],
    "campaign_id": lambda w: [w["draft"], w["active"], w["active"], 999_999, 0, 2**31 - 1, 2**31, 2**63, 10**30],
    "item_id": lambda w: [w["item"], w["item"], w["other_item"], 999_999, 2**31, 2**64],
    "run_id": lambda w: [w["run"], w["run"], 999_999, 2**31, 2**63],
    "competition_id": lambda w: [w["competition"], 999_999, 2**31, 2**63],
    "script_id": lambda w: [w["script_id"], w["script_id"], 999_999, 2**31, 2**63],
    "period": lambda w: ["2026-06", "2026-06", "2026-07", "2026-13", "0000-01", "9999-12", "2026-6", "abcd", "%00"],
    "language": lambda w: [w["base_language"], "pl", "ja", "xx", "zh-Hant", "EN", "e" * 50, "%00"],
    "client_ref": lambda w: [w["client_ref"], w["client_ref"], "NOPE", "ERASED-1", "%00", "日本", "x" * 300],
    "job_id": lambda w: [w["job"], "0" * 32, "nope", "%00"],
    "code": lambda w: ["SUP", "A02", "NOPE", "%00"],
    "fmt": lambda w: ["csv", "xlsx", "pdf", "%00"],
}


def test_every_body_route_has_a_strategy():
    missing = [route for route in BODY_ROUTES if route not in BODIES]
    assert not missing, f"add a body strategy to BODIES for {missing}"
    assert not set(BODIES) - set(BODY_ROUTES), f"BODIES names routes that are gone: {set(BODIES) - set(BODY_ROUTES)}"


def test_every_path_argument_has_values():
    names = {name for rule, _ in BODY_ROUTES + GET_ROUTES for name in re.findall(r"<(?:[^:<>]+:)?(\w+)>", rule)}
    assert names <= set(PATH_VALUES), f"add values to PATH_VALUES for {names - set(PATH_VALUES)}"


TOKENS = st.sampled_from(["super"] * 8 + ["agent", "payroll", "pos", "none", "bad"])


def _headers(w, who: str) -> dict:
    if who == "none":
        return {}
    if who == "bad":
        return {"Authorization": "Bearer not-a-token"}
    return dict(w["tokens"][who])


def _url(rule: str, args: dict) -> str:
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: quote(str(args[m.group(1)]), safe="%"), rule)


def _check_answer(resp, method, url):
    where = f"{method} {url} -> {resp.status_code}"
    assert resp.status_code < 500, where + " " + resp.get_data(as_text=True)[:500]
    if 400 <= resp.status_code < 500:
        body = resp.get_json(silent=True)
        assert isinstance(body, dict) and isinstance(body.get("error"), dict), where + " " + resp.get_data(as_text=True)[:300]
        assert body["error"].get("code") and body["error"].get("message"), where


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("rule, method", BODY_ROUTES)
@FUZZ
@given(data=st.data())
def test_hostile_bodies_never_500_and_a_4xx_writes_nothing(client, api_world, rule, method, data):
    assert (rule, method) in BODIES, f"{method} {rule} takes a body: add a strategy to BODIES"
    w = api_world
    args = {name: data.draw(st.sampled_from(PATH_VALUES[name](w)), label=name)
            for name in re.findall(r"<(?:[^:<>]+:)?(\w+)>", rule)}
    url = _url(rule, args) + data.draw(QUERIES, label="query")
    make = BODIES[(rule, method)]
    strategy = make(w) if make is upload_request else request_for(make(w))
    body, content_type = data.draw(strategy, label="body")
    headers = _headers(w, data.draw(TOKENS, label="token"))
    if rule.endswith("/sms/inbound"):
        headers["X-Winback-Secret"] = data.draw(st.sampled_from([SECRET, SECRET, "wrong", ""]), label="secret")
    if isinstance(body, dict):  # multipart: fresh streams for each call
        body = {k: (io.BytesIO(v[0]), v[1]) for k, v in body.items()}
    db.session.rollback()
    before = digest()
    resp = client.open(url, method=method, data=body, headers=headers, content_type=content_type)
    _check_answer(resp, method, url)
    if 400 <= resp.status_code < 500:
        db.session.rollback()
        after = digest()
        assert after == before, f"{method} {url} -> {resp.status_code} wrote to " \
                                f"{sorted(t for t in after if after[t] != before.get(t))}"


@settings(FUZZ, max_examples=4 * FUZZ.max_examples)
@given(data=st.data())
def test_query_strings_of_every_get_route(client, api_world, data):
    w = api_world
    rule = data.draw(st.sampled_from(sorted({rule for rule, _ in GET_ROUTES})), label="route")
    args = {name: data.draw(st.sampled_from(PATH_VALUES[name](w)), label=name)
            for name in re.findall(r"<(?:[^:<>]+:)?(\w+)>", rule)}
    url = _url(rule, args) + data.draw(QUERIES, label="query")
    resp = client.get(url, headers=_headers(w, data.draw(TOKENS, label="token")))
    _check_answer(resp, "GET", url)


def test_nul_in_a_path_query_or_form_never_reaches_the_database(client, api_world):
    """PostgreSQL refuses NUL in text: the sign-in form 500ed on one there."""
    h = api_world["tokens"]["super"]
    assert client.get("/api/v1/clients/a%00b", headers=h).status_code == 404
    resp = client.get("/api/v1/segments?store=a%00b", headers=h)
    assert resp.status_code == 422 and "NUL" in resp.get_json()["error"]["message"]
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"login": "a\x00b", "password": "x" * 10, "csrf_token": token})
    assert resp.status_code == 422 and "NUL" in resp.get_data(as_text=True)

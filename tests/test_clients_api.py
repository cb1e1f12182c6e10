"""GET /api/v1/segments and GET /api/v1/clients/{ref}: shape, roles, errors."""
from datetime import date, datetime

from campaign.extensions import db


def test_segments_shape_and_filters(client, make_staff, token_for, make_store, make_client, make_visit):
    headers = token_for(make_staff(roles=("manager",)))
    w = make_store("WAW")
    make_visit(make_client(store=w), date(2026, 2, 20))
    make_visit(make_client(), date(2025, 12, 15))
    make_client(store=w)
    resp = client.get("/api/v1/segments?as_of=2026-03-01", headers=headers)
    assert resp.status_code == 200
    assert resp.get_json() == [{"bucket": "active", "tier": "one_time", "clients": 1},
                               {"bucket": "d2", "tier": "one_time", "clients": 1},
                               {"bucket": "never", "tier": "never", "clients": 1}]
    resp = client.get("/api/v1/segments?as_of=2026-03-01&store=WAW", headers=headers)
    assert resp.get_json() == [{"bucket": "active", "tier": "one_time", "clients": 1},
                               {"bucket": "never", "tier": "never", "clients": 1}]
    assert client.get("/api/v1/segments", headers=headers).status_code == 200  # default: today


def test_segments_errors(client, make_staff, token_for):
    manager = token_for(make_staff(roles=("manager",)))
    assert client.get("/api/v1/segments").status_code == 401
    assert client.get("/api/v1/segments", headers={"Authorization": "Bearer wb_nope"}).status_code == 401
    agent = token_for(make_staff(roles=("agent",)))
    resp = client.get("/api/v1/segments", headers=agent)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    for query in ("as_of=2026-02-30", "as_of=tomorrow", "as_of=20260301", "store=NOPE"):
        resp = client.get(f"/api/v1/segments?{query}", headers=manager)
        assert resp.status_code == 422, query
        error = resp.get_json()["error"]
        assert error["code"] == "invalid" and error["message"]


def test_client_card(client, make_staff, token_for, make_store, make_client, make_visit):
    headers = token_for(make_staff(roles=("manager",)))
    make_staff("T01", roles=("agent",), name="Ivan Petrov")
    store = make_store("WAW", name="Warsaw Centre", currency="PLN")
    c = make_client("C-1", store=store, first_name="Anna", last_name="Nowak", language="pl",
                    email="anna@example.test", notes="allergy: lavender", consent_sms=True)
    make_visit(c, date(2025, 12, 1), amount=4550, service="pedicure", served_by="X99")
    make_visit(c, date(2026, 1, 1), amount=5000, service="massage", served_by="T01")
    make_visit(c, date(2026, 2, 1), status="no_show")
    body = client.get("/api/v1/clients/C-1?as_of=2026-03-01", headers=headers).get_json()
    assert body["client_ref"] == "C-1" and body["name"] == "Anna Nowak"
    assert (body["first_name"], body["last_name"], body["email"], body["language"]) == \
        ("Anna", "Nowak", "anna@example.test", "pl")
    assert body["phone"] == "+48501234567" and body["phone_callable"] is True
    assert body["store_code"] == "WAW"
    assert body["store"] == {"code": "WAW", "name": "Warsaw Centre", "timezone": "Europe/Warsaw",
                             "currency": "PLN"}
    assert (body["consent_call"], body["consent_sms"], body["consent_email"], body["consent_post"]) == \
        (True, True, False, False)
    assert body["do_not_contact"] is False and body["notes"] == "allergy: lavender"
    assert body["as_of"] == "2026-03-01"
    assert body["last_visit"] == {"date": "2026-01-01", "service": "massage", "amount": 5000,
                                  "served_by": "Ivan Petrov", "served_by_code": "T01"}
    assert (body["visits"], body["spend"], body["currency"]) == (2, 9550, "PLN")
    assert {k: body[k] for k in ("bucket", "tier", "value_class", "days_since", "no_shows", "banned",
                                 "overdue")} == {"bucket": "d1", "tier": "regular", "value_class": "A",
                                                 "days_since": 59, "no_shows": 1, "banned": False,
                                                 "overdue": False}
    assert body["contacts"] == []
    # An unknown served_by code is shown as the code itself.
    early = client.get("/api/v1/clients/C-1?as_of=2025-12-15", headers=headers).get_json()
    assert early["last_visit"]["served_by"] == "X99" and early["visits"] == 1


def test_client_card_without_visits_and_default_as_of(client, make_staff, token_for, make_client,
                                                      make_store, pin_clock):
    pin_clock("2026-03-01T20:00:00+00:00")
    headers = token_for(make_staff(roles=("manager",)))
    make_client("C-2", store=make_store(timezone="Pacific/Auckland", country="NZ", currency="NZD"))
    body = client.get("/api/v1/clients/C-2", headers=headers).get_json()
    assert body["as_of"] == "2026-03-02"  # the store's local date
    assert (body["bucket"], body["tier"], body["value_class"], body["days_since"], body["last_visit"]) == \
        ("never", "never", None, None, None)


def test_client_card_errors(client, make_staff, token_for, make_client):
    make_client("C-3")
    manager = token_for(make_staff(roles=("manager",)))
    agent = token_for(make_staff(roles=("agent",)))
    payroll = token_for(make_staff(roles=("payroll",)))
    assert client.get("/api/v1/clients/C-3").status_code == 401
    assert client.get("/api/v1/clients/C-3", headers=agent).status_code == 403
    assert client.get("/api/v1/clients/NOPE", headers=agent).status_code == 403  # no existence probe
    assert client.get("/api/v1/clients/C-3", headers=payroll).status_code == 403
    resp = client.get("/api/v1/clients/NOPE", headers=manager)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.get("/api/v1/clients/C-3?as_of=2026-13-01", headers=manager)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid"


def test_banned_client_card(client, make_staff, token_for, make_client, make_visit):
    headers = token_for(make_staff(roles=("manager",)))
    c = make_client("C-4")
    for d in (1, 2, 3):
        make_visit(c, date(2026, 2, d), status="no_show")
    body = client.get("/api/v1/clients/C-4?as_of=2026-03-01", headers=headers).get_json()
    assert (body["no_shows"], body["banned"]) == (3, True)
    c.ban_lifted_at = datetime(2026, 2, 10)
    db.session.commit()
    body = client.get("/api/v1/clients/C-4?as_of=2026-03-01", headers=headers).get_json()
    assert (body["no_shows"], body["banned"], body["ban_lifted_at"]) == (3, False, "2026-02-10T00:00:00")

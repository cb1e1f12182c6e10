"""The agent's queue over the JSON API and in the browser-free page flow."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from campaign.calls.models import Outcome
from campaign.campaigns.models import CampaignItem
from campaign.extensions import db
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas
from tests.conftest import csrf_from

NOW = "2026-06-02T10:00:00+00:00"


@pytest.fixture
def setup(ctx, pin_clock, make_store, make_staff):
    pin_clock(NOW)
    store = make_store(timezone="Europe/Warsaw")
    manager = make_staff(roles=("manager",))
    agent = make_staff(store=store, name="Anna Nowak")
    other = make_staff(store=store)
    add_clients(store, 4, days=45, step=1, language="en")
    camp = new_campaign(manager, offers=["free_trial"])
    quotas(camp, [(agent, 2), (other, 2)])
    launch(camp)
    return {"agent": agent, "other": other, "manager": manager, "camp": camp}


def test_next_then_outcome_over_the_api(client, setup, token_for):
    h = token_for(setup["agent"])
    r = client.post("/api/v1/queue/next", headers=h)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["campaign_id"] == setup["camp"].id and body["claim"]
    card = body["client"]
    assert card["phone"].startswith("+48") and card["store"]["timezone"] == "Europe/Warsaw"
    assert card["visits"] == 2 and card["days_since"] is not None and card["value_class"] in ("A", "B", "C")
    steps = body["script"]["steps"]
    assert steps and not any("{" in s["text"] for s in steps), "placeholders are filled"
    assert "Anna Nowak" in " ".join(s["text"] for s in steps)
    r = client.post(f"/api/v1/queue/{body['item_id']}/outcome", headers=h,
                    json={"disposition": "booked", "booked_at": "2026-06-09T12:00", "service": "massage",
                          "reason": "price", "offer": "free_trial", "consent": True, "claim": body["claim"],
                          "notes": "prefers Saturdays"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["reached"] is True
    r = client.get("/api/v1/queue", headers=h)
    [p] = r.get_json()
    assert p["calls_today"] == 1 and p["done"] == 1 and p["open"] == 1


def test_queue_errors(client, setup, token_for):
    h = token_for(setup["agent"])
    assert client.post("/api/v1/queue/next").status_code == 401
    assert client.post("/api/v1/queue/next", headers=token_for(setup["manager"])).status_code == 403
    body = client.post("/api/v1/queue/next", headers=h).get_json()
    url = f"/api/v1/queue/{body['item_id']}/outcome"
    r = client.post(url, headers=h, json={"disposition": "gone_fishing"})
    assert r.status_code == 422 and "disposition" in r.get_json()["error"]["details"]
    r = client.post(url, headers=h, json={"disposition": "callback", "callback_at": "2026-06-01T10:00:00Z"})
    assert r.status_code == 422
    assert "past" in r.get_json()["error"]["details"]["callback_at"]
    r = client.post(url, headers=h, data="not json", content_type="application/json")
    assert r.status_code == 422
    r = client.post(url, headers=token_for(setup["other"]), json={"disposition": "busy"})
    assert r.status_code == 403
    assert client.post("/api/v1/queue/999999/outcome", headers=h, json={"disposition": "busy"}).status_code == 404
    r = client.post(url, headers=h, json={"disposition": "busy", "claim": "stale"})
    assert r.status_code == 409
    assert client.post(url, headers=h, json={"disposition": "busy"}).status_code == 201
    assert client.post(url, headers=h, json={"disposition": "busy"}).status_code == 409
    client.post("/api/v1/queue/next", headers=h)
    assert client.post("/api/v1/queue/next", headers=h).status_code == 204
    r = client.post("/api/v1/queue/next", headers=h, json={"campaign_id": "x"})
    assert r.status_code == 422


# ------------------------------------------------------------------ pages

def test_agent_page_takes_the_next_client_and_saves_with_next(client, setup, login_as):
    login_as(setup["agent"])
    page = client.get("/work")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Next client" in html
    r = client.post("/work/next", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302
    html = client.get("/work").get_data(as_text=True)
    assert 'href="tel:+48' in html and "Outcome" in html and "returns to the queue" in html
    item_id = int(re.search(r'action="/work/(\d+)/outcome" id="outcome-form"', html).group(1))
    claim = re.search(r'name="claim" value="([0-9a-f]+)"', html).group(1)
    # A callback in the past: 422, the page again with the error and the notes kept.
    r = client.post(f"/work/{item_id}/outcome", data={
        "csrf_token": csrf_from(html), "claim": claim, "disposition": "callback",
        "callback_at": "2026-06-01T09:00", "notes": "call after lunch", "then": "next"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "in the past" in html and "call after lunch" in html
    r = client.post(f"/work/{item_id}/outcome", data={
        "csrf_token": csrf_from(html), "claim": claim, "disposition": "callback",
        "callback_at": "2026-06-02T16:00", "notes": "call after lunch", "then": "next"})
    assert r.status_code == 302
    db.session.expire_all()
    it = db.session.get(CampaignItem, item_id)
    assert it.status == "callback"
    o = db.session.scalar(select(Outcome).where(Outcome.item_id == item_id))
    assert o.notes == "call after lunch"
    html = client.get("/work").get_data(as_text=True)
    assert f'action="/work/{item_id}/outcome" id="outcome-form"' not in html, "save & next took another client"
    assert 'id="outcome-form"' in html


def test_complaints_page_lists_and_resolves(client, setup, login_as, token_for):
    h = token_for(setup["agent"])
    body = client.post("/api/v1/queue/next", headers=h).get_json()
    client.post(f"/api/v1/queue/{body['item_id']}/outcome", headers=h,
                json={"disposition": "complaint", "reason": "technique", "notes": "burnt by the wax"})
    login_as(setup["manager"])
    html = client.get("/complaints").get_data(as_text=True)
    assert "burnt by the wax" in html
    action = re.search(r'action="(/complaints/\d+/resolve)"', html).group(1)
    r = client.post(action, data={"csrf_token": csrf_from(html), "note": ""})
    assert r.status_code == 302
    assert "burnt by the wax" in client.get("/complaints").get_data(as_text=True), "no note, not resolved"
    client.post(action, data={"csrf_token": csrf_from(html), "note": "manager called, free re-do"})
    html = client.get("/complaints").get_data(as_text=True)
    assert "No open complaint" in html


def test_agents_cannot_open_the_complaints_and_managers_have_no_queue(client, setup, login_as):
    login_as(setup["agent"])
    assert client.get("/complaints").status_code == 403


def test_the_page_corrects_the_last_outcome(client, setup, login_as):
    login_as(setup["agent"])
    html = client.get("/work").get_data(as_text=True)
    client.post("/work/next", data={"csrf_token": csrf_from(html)})
    html = client.get("/work").get_data(as_text=True)
    item_id = int(re.search(r'action="/work/(\d+)/outcome" id="outcome-form"', html).group(1))
    claim = re.search(r'name="claim" value="([0-9a-f]+)"', html).group(1)
    client.post(f"/work/{item_id}/outcome", data={"csrf_token": csrf_from(html), "claim": claim,
                                                  "disposition": "no_answer", "then": "stay"})
    html = client.get("/work").get_data(as_text=True)
    assert "Correct it" in html
    first = db.session.scalar(select(Outcome).where(Outcome.item_id == item_id))
    r = client.post(f"/work/{item_id}/outcome", data={
        "csrf_token": csrf_from(html), "corrects": str(first.id), "disposition": "booked",
        "when": "2026-06-05T11:00", "notes": "she called back"}, follow_redirects=True)
    assert "Corrected: now Booked" in r.get_data(as_text=True)
    db.session.expire_all()
    it = db.session.get(CampaignItem, item_id)
    assert (it.status, it.close_reason, it.attempts) == ("closed", "booked", 1)

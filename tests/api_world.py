"""A small world every API route can act on, for the fuzz and schemathesis tests:
a store, a super user holding every role (and a claimed item), single-role
people, a draft and a launched campaign, a bonus plan and run for June 2026,
a competition, the shipped script and a queued job; the clock pinned inside
calling hours. Jobs a request starts are kept queued, never run, so nothing
changes in the background while a test compares tables."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign.calls import services as calls
from campaign.clients.models import Client
from campaign.core import clock, jobs
from campaign.extensions import db

from .campaign_helpers import add_clients, launch, new_campaign, quotas

SECRET = "sms-gateway-secret"
PLAN = {"currency": "PLN", "team_per_visit": 1000, "rank_rewards": [50000, 30000, 10000], "min_calls": 2,
        "competition_reward": 5000, "competition_penalty": 2000, "cap": 200000}


class KeptJobs:
    """Stands in for the queue backend: jobs a request starts stay queued (nothing
    runs in the background while tables are compared); the rest is the real one's."""

    name = "kept"

    def __init__(self, real):
        self._real = real

    def enqueue(self, job_id, kind=None):
        pass

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
def api_world(app, ctx, client, pin_clock, make_store, make_staff, token_for, monkeypatch):
    monkeypatch.setitem(app.extensions, "winback_jobs", KeptJobs(jobs.backend_for(app)))
    monkeypatch.setitem(app.config, "SMS_INBOUND_SECRET", SECRET)
    pin_clock("2026-06-02T10:00:00+00:00")  # 12:00 in Warsaw: inside calling hours
    store = make_store("WAW")
    sup = make_staff("SUP", roles=("agent", "manager", "admin", "payroll", "pos"), team="North", store=store)
    a02 = make_staff("A02", team="South", store=store)
    people = {"super": sup, "agent": make_staff("AG3", roles=("agent",)),
              "payroll": make_staff("PAY", roles=("payroll",)), "pos": make_staff("POS", roles=("pos",))}
    add_clients(store, 8, days=45, step=3)
    draft = new_campaign(sup, name="Draft")
    active = new_campaign(sup, name="Live")
    quotas(active, [(sup, 4), (a02, 3)])
    launch(active)
    claim = calls.claim_next(sup, clock.now(), campaign_id=active.id)
    db.session.commit()
    other = calls.claim_next(a02, clock.now(), campaign_id=active.id)
    db.session.commit()
    h = {who: token_for(s) for who, s in people.items()}
    assert client.put("/api/v1/bonus-plans/2026-06", json=PLAN, headers=h["super"]).status_code == 201
    run = client.post("/api/v1/bonus-runs", json={"period": "2026-06"}, headers=h["super"])
    assert run.status_code == 201, run.get_json()
    comp = client.post("/api/v1/competitions", headers=h["super"],
                       json={"period": "2026-06", "kind": "team", "side_a": "North", "side_b": "South"})
    assert comp.status_code == 201, comp.get_json()
    script_id = client.get("/api/v1/scripts", headers=h["super"]).get_json()[0]["id"]
    texts = client.get(f"/api/v1/scripts/{script_id}", headers=h["super"]).get_json()["texts"]
    base = next(t for t in texts.values() if t["base"])
    job = client.post("/api/v1/campaigns/%d/assign" % active.id, json={}, headers=h["super"]).get_json()
    client_ref = db.session.scalar(select(Client.ref).order_by(Client.id).limit(1))
    db.session.rollback()
    return {
        "tokens": h, "draft": draft.id, "draft_version": draft.version, "active": active.id,
        "item": claim.item_id, "claim": claim.token, "other_item": other.item_id, "run": run.get_json()["id"],
        "competition": comp.get_json()["id"], "script_id": script_id, "base_language": base["language"],
        "script_content": base["content"], "job": job["job_id"], "client_ref": client_ref,
    }

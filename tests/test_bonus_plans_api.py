"""Bonus plans per month over the API (SPEC §8, §9): validation of every
field, create then replace, stale versions, roles, the audit log."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign.core.models import AuditLog
from campaign.extensions import db

PLAN = {"currency": "PLN", "team_per_visit": 1500, "rank_rewards": [50000, 30000, 10000], "min_calls": 20,
        "competition_reward": 5000, "competition_penalty": 2000, "cap": 200000}


@pytest.fixture
def people(ctx, make_store, make_staff):
    make_store("WAW")
    make_store("TYO", timezone="Asia/Tokyo", country="JP", currency="JPY")
    return {"manager": make_staff("M01", roles=("manager",)), "payroll": make_staff("P01", roles=("payroll",)),
            "agent": make_staff("A01")}


def test_a_manager_creates_then_replaces_a_plan_and_payroll_reads_it(client, people, token_for):
    h = token_for(people["manager"])
    created = client.put("/api/v1/bonus-plans/2026-11", headers=h, json=PLAN)
    assert created.status_code == 201
    body = created.get_json()
    assert {k: body[k] for k in PLAN} == PLAN and body["period"] == "2026-11" and body["version"] == 1
    again = client.put("/api/v1/bonus-plans/2026-11", headers=h | {"If-Match": "1"},
                       json=PLAN | {"currency": "JPY", "cap": None, "rank_rewards": []})
    assert again.status_code == 200 and again.get_json()["version"] == 2 and again.get_json()["cap"] is None
    stale = client.put("/api/v1/bonus-plans/2026-11", headers=h | {"If-Match": "1"}, json=PLAN)
    assert stale.status_code == 409
    read = client.get("/api/v1/bonus-plans/2026-11", headers=token_for(people["payroll"]))
    assert read.status_code == 200 and read.get_json()["currency"] == "JPY"
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.action == "bonus_plan.put")).all()
    assert len(actions) == 2


@pytest.mark.parametrize("change, field", [
    ({"currency": "pln"}, "currency"), ({"currency": "EUR"}, "currency"), ({"currency": None}, "currency"),
    ({"team_per_visit": 12.5}, "team_per_visit"), ({"team_per_visit": -1}, "team_per_visit"),
    ({"team_per_visit": "1500"}, "team_per_visit"), ({"rank_rewards": [100, -5]}, "rank_rewards"),
    ({"rank_rewards": "50000"}, "rank_rewards"), ({"min_calls": True}, "min_calls"),
    ({"competition_penalty": -100}, "competition_penalty"), ({"cap": 1.5}, "cap"), ({"bonus": 1}, "bonus"),
])
def test_every_field_is_checked_and_nothing_is_saved(client, people, token_for, change, field):
    resp = client.put("/api/v1/bonus-plans/2026-11", headers=token_for(people["manager"]), json=PLAN | change)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["details"]
    assert client.get("/api/v1/bonus-plans/2026-11", headers=token_for(people["manager"])).status_code == 404


def test_bad_periods_roles_and_missing_plans(client, people, token_for):
    h = token_for(people["manager"])
    assert client.put("/api/v1/bonus-plans/2026-13", headers=h, json=PLAN).status_code == 422
    assert client.put("/api/v1/bonus-plans/2026-11", headers=h, data="not json",
                      content_type="application/json").status_code == 422
    assert client.put("/api/v1/bonus-plans/2026-11", headers=token_for(people["payroll"]), json=PLAN).status_code == 403
    assert client.get("/api/v1/bonus-plans/2026-11", headers=token_for(people["agent"])).status_code == 403
    assert client.get("/api/v1/bonus-plans/2026-10", headers=h).status_code == 404
    assert client.get("/api/v1/bonus-plans/2026-10").status_code == 401

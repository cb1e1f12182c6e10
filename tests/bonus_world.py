"""A month of calls and visits for the bonus-run tests (SPEC §8), made
through the real call services and the POS visit upsert."""
from __future__ import annotations

from datetime import datetime

import pytest

from campaign.calls import services as calls
from campaign.clients.models import Client
from campaign.core import clock
from campaign.extensions import db
from campaign.imports.services import upsert_visits
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

HEADER = "period,employee_code,name,team,team_share,rank_reward,competition,adjustments,total,currency"
PLAN = {"currency": "PLN", "team_per_visit": 1000, "rank_rewards": [50000, 30000, 10000], "min_calls": 2,
        "competition_reward": 5000, "competition_penalty": 2000, "cap": 200000}


def at(pin_clock, when: datetime):
    pin_clock(when.isoformat() + "+00:00")


def call(agent):
    c = calls.claim_next(agent, clock.now())
    assert c is not None, "the agent has a client to call"
    calls.log_outcome(c.item_id, agent, {"disposition": "will_visit", "claim": c.token}, clock.now())
    db.session.commit()
    return db.session.get(Client, c.client_id)


def visit(client, ref: str, when: str, status="completed", amount="80.00"):
    result = upsert_visits([{"visit_ref": ref, "client_ref": client.ref, "store_code": "WAW",
                             "visited_at": when, "amount": amount, "status": status}])
    db.session.commit()
    assert result["rejected"] == 0, result


@pytest.fixture
def june(ctx, pin_clock, make_store, make_staff, client, token_for):
    """June 2026: A01 and A02 (North) and B01 (South) call; visits follow.

    A01: 3 reached, 2 visits · A02: 2 reached, 1 visit · B01: 2 reached, 1 visit
    (its second client visits on 20 June, but the visit is only imported in July).
    A competition A01 vs B01.
    """
    at(pin_clock, datetime(2026, 6, 2, 10, 0))
    store = make_store("WAW", timezone="Europe/Warsaw")
    people = {"manager": make_staff("M01", roles=("manager",), name="Maria Manager"),
              "payroll": make_staff("P01", roles=("payroll",), name="Paul Payroll"),
              "A01": make_staff("A01", store=store, team="North", name="Anna Nowak"),
              "A02": make_staff("A02", store=store, team="North", name="Adam Wiśniewski"),
              "B01": make_staff("B01", store=store, team="South", name="Bożena Kowalska")}
    add_clients(store, 10, days=45, step=1)
    camp = new_campaign(people["manager"], attribution_window_days=30, max_attempts=3, retry_delay_hours=1)
    quotas(camp, [(people["A01"], 3), (people["A02"], 2), (people["B01"], 2)])
    launch(camp)
    called = {code: [call(people[code]) for _ in range(n)] for code, n in (("A01", 3), ("A02", 2), ("B01", 2))}
    visit(called["A01"][0], "V1", "2026-06-05")
    visit(called["A01"][1], "V2", "2026-06-09")
    visit(called["A02"][0], "V3", "2026-06-07")
    visit(called["B01"][0], "V4", "2026-06-11")
    h = {k: token_for(v) for k, v in people.items()}
    resp = client.post("/api/v1/competitions", headers=h["manager"],
                       json={"period": "2026-06", "kind": "agent", "side_a": "A01", "side_b": "B01"})
    assert resp.status_code == 201, resp.get_json()
    assert client.put("/api/v1/bonus-plans/2026-06", headers=h["manager"], json=PLAN).status_code == 201
    return {"people": people, "h": h, "called": called, "store": store}

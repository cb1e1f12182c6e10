"""The campaign API of SPEC §9, end to end through HTTP with bearer tokens."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaign.campaigns.models import CampaignItem
from campaign.extensions import db
from tests.campaign_helpers import add_clients


@pytest.fixture
def setup(ctx, make_store, make_staff, token_for, pin_clock):
    pin_clock("2026-06-01T09:00:00+00:00")
    s1 = make_store("WAW-1")
    manager = make_staff("M1", roles=("manager",))
    a1 = make_staff("A1", store=s1, languages=("en",))
    a2 = make_staff("A2", store=s1, languages=("en", "pl"))
    payroll = make_staff("P1", roles=("payroll",))
    add_clients(s1, 30, step=1)
    add_clients(s1, 10, language="pl", step=1)
    return {"store": s1, "m": token_for(manager), "a1": a1, "a2": a2, "agent_h": token_for(a1),
            "payroll_h": token_for(payroll)}


def create(client, h, **body):
    data = {"name": "Spring", "as_of": "2026-06-01", "holdout_share": 0.1, **body}
    return client.post("/api/v1/campaigns", json=data, headers=h)


def test_create_defaults_and_validation(client, setup):
    r = create(client, setup["m"], buckets=["d1"], stores=["WAW-1"])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "draft" and body["stores"] == ["WAW-1"] and body["buckets"] == ["d1"]
    assert body["calling_hours"] == {"start": "10:00", "end": "20:00"}
    assert (body["max_attempts"], body["retry_delay_hours"], body["attribution_window_days"]) == (3, 24, 30)
    assert body["holdout_share"] == 0.1 and body["script_id"]
    bad = create(client, setup["m"], stores=["NOPE"], buckets=["x"], calling_hours={"start": "22:00"})
    assert bad.status_code == 422
    details = bad.get_json()["error"]["details"]
    assert "buckets" in details and "calling_hours" in details
    unknown = create(client, setup["m"], stores=["NOPE"])
    assert unknown.status_code == 422 and "NOPE" in unknown.get_json()["error"]["details"]["stores"]
    assert client.post("/api/v1/campaigns", data="nope", headers=setup["m"]).status_code == 422


def test_roles(client, setup):
    assert client.post("/api/v1/campaigns", json={"name": "x"}).status_code == 401
    assert create(client, setup["agent_h"]).status_code == 403
    assert create(client, setup["payroll_h"]).status_code == 403
    cid = create(client, setup["m"]).get_json()["id"]
    for method, path in (("get", f"/campaigns/{cid}"), ("get", f"/campaigns/{cid}/preview"),
                         ("get", f"/campaigns/{cid}/items"), ("post", f"/campaigns/{cid}/launch"),
                         ("put", f"/campaigns/{cid}/quotas"), ("post", f"/campaigns/{cid}/status")):
        assert getattr(client, method)("/api/v1" + path, json=[], headers=setup["agent_h"]).status_code == 403
    assert client.get("/api/v1/campaigns/99999", headers=setup["m"]).status_code == 404


def test_full_flow(client, setup, wait_for_job):
    m = setup["m"]
    cid = create(client, m, holdout_share=0).get_json()["id"]
    pv = client.get(f"/api/v1/campaigns/{cid}/preview", headers=m).get_json()
    assert pv["eligible"] == 40 and pv["holdout"] == 0 and set(pv["excluded"]) >= {"do_not_contact", "banned"}
    r = client.post(f"/api/v1/campaigns/{cid}/launch", headers=m)
    assert r.status_code == 422  # no quotas yet
    bad = client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m,
                     json=[{"employee_code": "A1", "target": -5}, {"employee_code": "M1", "target": 3},
                           {"employee_code": "ZZ", "target": 1}])
    assert bad.status_code == 422 and "[1].target" in bad.get_json()["error"]["details"]
    bad = client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m,
                     json=[{"employee_code": "M1", "target": 3}, {"employee_code": "ZZ", "target": 1}])
    assert set(bad.get_json()["error"]["details"]) == {"[1].employee_code", "[2].employee_code"}
    ok = client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m,
                    json=[{"employee_code": "A1", "target": 10, "daily_cap": 20},
                          {"employee_code": "A2", "target": 15}])
    assert ok.status_code == 200 and ok.get_json()["job_id"] is None
    assert [q["target"] for q in ok.get_json()["quotas"]] == [10, 15]
    r = client.post(f"/api/v1/campaigns/{cid}/launch", headers=m)
    assert r.status_code == 202
    assert wait_for_job(r.get_json()["job_id"]).status == "finished"
    got = client.get(f"/api/v1/campaigns/{cid}", headers=m).get_json()
    assert got["status"] == "active"
    assert got["counts"] == {"pool": 15, "holdout": 0, "assigned": 25, "attempted": 0, "reached": 0,
                             "converted": 0}
    assert client.post(f"/api/v1/campaigns/{cid}/launch", headers=m).status_code == 409
    # Items, a page at a time.
    page = client.get(f"/api/v1/campaigns/{cid}/items?limit=30", headers=m)
    assert len(page.get_json()) == 30 and 'rel="next"' in page.headers["Link"]
    nxt = page.headers["Link"].split(">")[0].lstrip("<")
    rest = client.get(nxt, headers=m).get_json()
    assert len(rest) == 10
    every = page.get_json() + rest
    assert len({i["client_ref"] for i in every}) == 40
    assert {i["status"] for i in every} == {"queued", "pool"}
    mine = client.get(f"/api/v1/campaigns/{cid}/items?employee_code=A1", headers=m).get_json()
    assert len(mine) == 10 and {i["employee_code"] for i in mine} == {"A1"}
    assert client.get(f"/api/v1/campaigns/{cid}/items?status=bogus", headers=m).status_code == 422
    # Raising a quota re-runs the assignment for the difference (A1 speaks only en).
    en_pool = db.session.scalar(select(func.count()).where(CampaignItem.campaign_id == cid,
                                                           CampaignItem.status == "pool",
                                                           CampaignItem.language == "en"))
    db.session.rollback()
    r = client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m,
                   json=[{"employee_code": "A1", "target": 20}, {"employee_code": "A2", "target": 15}])
    assert wait_for_job(r.get_json()["job_id"]).result["placed"] == min(10, en_pool) > 0
    assert len(client.get(f"/api/v1/campaigns/{cid}/items?employee_code=A1",
                          headers=m).get_json()) == 10 + min(10, en_pool)
    # Workflow.
    st = client.post(f"/api/v1/campaigns/{cid}/status", json={"status": "paused"}, headers=m)
    assert st.status_code == 200 and st.get_json()["status"] == "paused"
    assert client.post(f"/api/v1/campaigns/{cid}/status", json={"status": "bogus"}, headers=m).status_code == 422
    assert client.post(f"/api/v1/campaigns/{cid}/status", json={"status": "active"}, headers=m).status_code == 200
    assert client.post(f"/api/v1/campaigns/{cid}/status", json={"status": "closed"}, headers=m).status_code == 200
    assert client.post(f"/api/v1/campaigns/{cid}/status", json={"status": "active"}, headers=m).status_code == 409


def test_patch_version_and_live_fields(client, setup, wait_for_job):
    m = setup["m"]
    camp = create(client, m).get_json()
    cid, version = camp["id"], camp["version"]
    r = client.patch(f"/api/v1/campaigns/{cid}", json={"name": "Renamed", "version": version}, headers=m)
    assert r.status_code == 200 and r.get_json()["name"] == "Renamed"
    stale = client.patch(f"/api/v1/campaigns/{cid}", json={"name": "Mine", "version": version}, headers=m)
    assert stale.status_code == 409
    client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m, json=[{"employee_code": "A1", "target": 5}])
    wait_for_job(client.post(f"/api/v1/campaigns/{cid}/launch", headers=m).get_json()["job_id"])
    live = client.patch(f"/api/v1/campaigns/{cid}", json={"calling_hours": {"start": "09:00", "end": "18:00"}},
                        headers=m)
    assert live.status_code == 200 and live.get_json()["calling_hours"]["start"] == "09:00"
    fixed = client.patch(f"/api/v1/campaigns/{cid}", json={"buckets": ["d2"]}, headers=m)
    assert fixed.status_code == 422 and "buckets" in fixed.get_json()["error"]["details"]


def test_absent_agent_items_move_through_the_api(client, setup, wait_for_job):
    m = setup["m"]
    cid = create(client, m, holdout_share=0).get_json()["id"]
    client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m,
               json=[{"employee_code": "A1", "target": 10}, {"employee_code": "A2", "target": 10}])
    wait_for_job(client.post(f"/api/v1/campaigns/{cid}/launch", headers=m).get_json()["job_id"])
    r = client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m,
                   json=[{"employee_code": "A1", "target": 10, "absent": True},
                         {"employee_code": "A2", "target": 30}])
    wait_for_job(r.get_json()["job_id"])
    assert len(client.get(f"/api/v1/campaigns/{cid}/items?employee_code=A1", headers=m).get_json()) == 10
    r = client.post(f"/api/v1/campaigns/{cid}/assign", json={"move_absent": True}, headers=m)
    assert r.status_code == 202
    job = wait_for_job(r.get_json()["job_id"])
    assert job.result["returned"] == 10
    assert client.get(f"/api/v1/campaigns/{cid}/items?employee_code=A1", headers=m).get_json() == []
    assert len(client.get(f"/api/v1/campaigns/{cid}/items?employee_code=A2", headers=m).get_json()) == 30
    assert client.post(f"/api/v1/campaigns/{cid}/assign", json={"move_absent": "yes"},
                       headers=m).status_code == 422


def test_agent_sees_only_clients_in_own_queue(client, setup, wait_for_job, make_staff, token_for):
    m = setup["m"]
    cid = create(client, m, holdout_share=0).get_json()["id"]
    client.put(f"/api/v1/campaigns/{cid}/quotas", headers=m, json=[{"employee_code": "A1", "target": 5}])
    wait_for_job(client.post(f"/api/v1/campaigns/{cid}/launch", headers=m).get_json()["job_id"])
    items = client.get(f"/api/v1/campaigns/{cid}/items", headers=m).get_json()
    mine = next(i["client_ref"] for i in items if i["employee_code"] == "A1")
    pooled = next(i["client_ref"] for i in items if i["employee_code"] is None)
    r = client.get(f"/api/v1/clients/{mine}", headers=setup["agent_h"])
    # In this campaign's queue, so not free for another campaign.
    assert r.status_code == 200 and r.get_json()["contact_policy"]["may_queue"] is False
    assert client.get(f"/api/v1/clients/{pooled}", headers=setup["agent_h"]).status_code == 403
    other = token_for(setup["a2"])
    assert client.get(f"/api/v1/clients/{mine}", headers=other).status_code == 403

"""Leaderboards and competitions over the API and on the pages (SPEC §7, §9).

Histories are built through the real call and visit paths with the clock
pinned; runs on SQLite and, under ``.ci/run``, on PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, select

from campaign.calls import services as calls
from campaign.core import clock
from campaign.core.models import AuditLog
from campaign.extensions import db
from campaign.imports.services import upsert_visits
from campaign.scoring import scores
from campaign.scoring.models import Competition
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

from .conftest import csrf_from

NOW = datetime(2026, 6, 2, 10, 0)
FIELDS = {"rank", "employee_code", "name", "team", "assigned", "calls", "reached", "booked", "conversions",
          "visit_rate", "revenue", "currency", "revenue_by_currency"}


@pytest.fixture
def world(ctx, pin_clock, make_store, make_staff):
    pin_clock(NOW.isoformat() + "+00:00")
    store = make_store("WAW")
    manager = make_staff("M01", roles=("manager",))
    ann = make_staff("A01", store=store, team="North", name="Ann")
    bob = make_staff("B01", store=store, team="South", name="Bob")
    cid = make_staff("C01", store=store, team="South", name="Cid")
    add_clients(store, 12, days=45, step=1)
    camp = new_campaign(manager, attribution_window_days=30)
    quotas(camp, [(ann, 4), (bob, 4), (cid, 4)])
    launch(camp)
    return {"manager": manager, "ann": ann, "bob": bob, "cid": cid, "camp": camp}


def call(agent, disposition="will_visit", **data):
    c = calls.claim_next(agent, clock.now())
    calls.log_outcome(c.item_id, agent, {"disposition": disposition, "claim": c.token, **data}, clock.now())
    db.session.commit()
    return c.client_id


def visit_of(client_id, when: str, ref: str):
    from campaign.clients.models import Client
    client = db.session.get(Client, client_id)
    upsert_visits([{"visit_ref": ref, "client_ref": client.ref, "store_code": "WAW", "visited_at": when,
                    "amount": "120.00"}])
    db.session.commit()


@pytest.fixture
def history(world):
    """Ann: 2 calls, 1 reached, 1 conversion (visit rate 1.0). Bob: 2 reached,
    1 conversion (0.5). Cid: 1 reached, 0 conversions."""
    a = call(world["ann"])
    call(world["ann"], "no_answer")
    b1 = call(world["bob"])
    call(world["bob"], "not_interested")
    call(world["cid"])
    visit_of(a, "2026-06-05", "PV1")
    visit_of(b1, "2026-06-06", "PV2")
    return world


def test_the_leaderboard_has_the_spec_fields_and_order(client, history, token_for):
    resp = client.get("/api/v1/leaderboard", query_string={"campaign": history["camp"].id},
                      headers=token_for(history["ann"]))  # an agent may read it
    assert resp.status_code == 200
    rows = resp.get_json()
    assert [r["employee_code"] for r in rows] == ["A01", "B01", "C01"]
    assert all(FIELDS == set(r) for r in rows)
    ann, bob, cid = rows
    assert (ann["rank"], ann["calls"], ann["reached"], ann["conversions"], ann["visit_rate"]) == (1, 2, 1, 1, 1.0)
    assert (bob["rank"], bob["reached"], bob["conversions"], bob["visit_rate"]) == (2, 2, 1, 0.5)
    assert (cid["rank"], cid["conversions"], cid["visit_rate"]) == (3, 0, 0.0)
    assert ann["assigned"] == 4 and ann["revenue"] == 12000 and ann["currency"] == "PLN"


def test_teams_sum_their_agents(client, history, token_for):
    rows = client.get("/api/v1/leaderboard", query_string={"by": "team", "period": "2026-06"},
                      headers=token_for(history["manager"])).get_json()
    assert [(r["team"], r["conversions"], r["reached"], r["calls"]) for r in rows] == \
        [("North", 1, 1, 2), ("South", 1, 3, 3)]
    assert rows[1]["visit_rate"] == round(1 / 3, 4)


def test_a_month_without_activity_is_empty_and_the_trend_lists_days(client, history, token_for):
    h = token_for(history["ann"])
    assert client.get("/api/v1/leaderboard?period=2026-07", headers=h).get_json() == []
    days = client.get("/api/v1/leaderboard/trend?period=2026-06", headers=h).get_json()
    assert days == [{"day": "2026-06-02", "calls": 5, "reached": 4, "conversions": 0},
                    {"day": "2026-06-05", "calls": 0, "reached": 0, "conversions": 1},
                    {"day": "2026-06-06", "calls": 0, "reached": 0, "conversions": 1}]


@pytest.mark.parametrize("query, status, word", [
    ({"period": "2026-13"}, 422, "period"), ({"period": "June"}, 422, "period"),
    ({"by": "store"}, 422, "by"), ({"campaign": "x"}, 422, "campaign"),
    ({"campaign": "999"}, 404, "999"), ({"month": "2026-06"}, 422, "month"),
])
def test_bad_parameters_get_a_clear_error(client, history, token_for, query, status, word):
    resp = client.get("/api/v1/leaderboard", query_string=query, headers=token_for(history["ann"]))
    assert resp.status_code == status
    assert word in resp.get_json()["error"]["message"]


def test_without_a_token_401(client, history):
    assert client.get("/api/v1/leaderboard").status_code == 401


def test_the_difficulty_adjusted_fields(client, history, token_for):
    rows = client.get("/api/v1/leaderboard", query_string={"campaign": history["camp"].id, "adjusted": "1"},
                      headers=token_for(history["manager"])).get_json()
    for r in rows:
        assert {"expected", "above_expected", "index", "adjusted_rank"} <= set(r)
    # Two conversions over twelve items of one list mix per agent: each expects 4 × its segments' rates.
    assert round(sum(r["expected"] for r in rows), 1) == 2.0


def test_reading_a_leaderboard_is_a_fixed_number_of_statements(history):
    scores.refresh()
    from campaign.scoring import queries
    camp_id = history["camp"].id
    seen = []
    listener = lambda conn, cur, stmt, *a: seen.append(stmt)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        scores.refresh()
        queries.leaderboard(campaign_id=camp_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(seen) == 4, "one look for marks, three reads of the roll-ups (and names)"


# ------------------------------------------------------------------ competitions

def test_a_manager_starts_a_competition_and_everyone_sees_the_result(client, history, token_for):
    resp = client.post("/api/v1/competitions", headers=token_for(history["manager"]),
                       json={"period": "2026-06", "kind": "agent", "side_a": "A01", "side_b": "B01"})
    assert resp.status_code == 201, resp.get_json()
    comp = resp.get_json()
    assert comp["winner"] == "a" and comp["side_a"]["visit_rate"] == 1.0 and comp["side_b"]["visit_rate"] == 0.5
    teams = client.post("/api/v1/competitions", headers=token_for(history["manager"]),
                        json={"period": "2026-06", "kind": "team", "side_a": "South", "side_b": "North"}).get_json()
    assert teams["winner"] == "b"
    listed = client.get("/api/v1/competitions?period=2026-06", headers=token_for(history["cid"])).get_json()
    assert [c["id"] for c in listed] == [comp["id"], teams["id"]]
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.action == "competition.create").limit(1))


def test_equal_visit_rates_draw(client, world, token_for):
    resp = client.post("/api/v1/competitions", headers=token_for(world["manager"]),
                       json={"period": "2026-06", "kind": "agent", "side_a": "A01", "side_b": "C01"})
    assert resp.get_json()["winner"] == "draw", "nobody reached anyone: 0 = 0"


@pytest.mark.parametrize("body, field", [
    ({"period": "2026-6", "kind": "agent", "side_a": "A01", "side_b": "B01"}, "period"),
    ({"period": "2026-06", "kind": "store", "side_a": "A01", "side_b": "B01"}, "kind"),
    ({"period": "2026-06", "kind": "agent", "side_a": "A01", "side_b": "A01"}, "side_b"),
    ({"period": "2026-06", "kind": "agent", "side_a": "A01", "side_b": "ZZZ"}, "side_b"),
    ({"period": "2026-06", "kind": "team", "side_a": "North", "side_b": "Nowhere"}, "side_b"),
    ({"period": "2026-06", "kind": "agent", "side_a": "A01"}, "side_b"),
])
def test_a_bad_competition_is_refused_field_by_field(client, world, token_for, body, field):
    resp = client.post("/api/v1/competitions", headers=token_for(world["manager"]), json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["details"]
    assert db.session.scalar(select(Competition.id)) is None


def test_the_same_pair_twice_in_a_month_is_a_conflict_and_agents_cannot_create(client, world, token_for):
    body = {"period": "2026-06", "kind": "agent", "side_a": "A01", "side_b": "B01"}
    assert client.post("/api/v1/competitions", headers=token_for(world["manager"]), json=body).status_code == 201
    swapped = body | {"side_a": "B01", "side_b": "A01"}
    assert client.post("/api/v1/competitions", headers=token_for(world["manager"]), json=swapped).status_code == 409
    assert client.post("/api/v1/competitions", headers=token_for(world["ann"]), json=body).status_code == 403


def test_calling_a_competition_off_is_audited(client, world, token_for):
    h = token_for(world["manager"])
    cid = client.post("/api/v1/competitions", headers=h, json={"period": "2026-06", "kind": "agent",
                                                               "side_a": "A01", "side_b": "B01"}).get_json()["id"]
    assert client.delete(f"/api/v1/competitions/{cid}", headers=token_for(world["ann"])).status_code == 403
    assert client.delete(f"/api/v1/competitions/{cid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/competitions/{cid}", headers=h).status_code == 404
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "competition.delete")) is not None


# ------------------------------------------------------------------ pages

def test_the_leaderboard_page_marks_my_row_and_refreshes_its_fragment(client, history, login_as):
    login_as(history["bob"])
    page = client.get("/leaderboard?period=2026-06")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'class="mine"' in html and "Bob" in html and "Daily trend" in html
    assert 'data-src="/leaderboard/live?period=2026-06"' in html
    live = client.get("/leaderboard/live?period=2026-06&by=team")
    assert live.status_code == 200 and "South" in live.get_data(as_text=True)
    assert "<html" not in live.get_data(as_text=True), "a fragment, not a page"
    wall = client.get("/leaderboard/wall?period=2026-06")
    assert wall.status_code == 200 and "clients back" in wall.get_data(as_text=True)


def test_a_bad_period_on_the_page_says_so_and_shows_the_default(client, history, login_as):
    login_as(history["ann"])
    resp = client.get("/leaderboard?period=2026-99")
    assert resp.status_code == 422
    assert "2026-99" in resp.get_data(as_text=True) and "showing the default" in resp.get_data(as_text=True)


def test_empty_leaderboard_says_what_to_do(client, ctx, make_staff, login_as, pin_clock):
    pin_clock(NOW.isoformat() + "+00:00")
    login_as(make_staff("A09"))
    html = client.get("/leaderboard").get_data(as_text=True)
    assert "has logged a call" in html and "No competition this month" in html


def test_competitions_page_creates_and_calls_off_with_confirmation(client, history, login_as):
    login_as(history["manager"])
    page = client.get("/competitions").get_data(as_text=True)
    bad = client.post("/competitions", data={"csrf_token": csrf_from(page), "period": "2026-06", "kind": "agent",
                                             "side_a": "A01", "side_b": "A01"})
    assert bad.status_code == 422 and "must differ" in bad.get_data(as_text=True)
    ok = client.post("/competitions", data={"csrf_token": csrf_from(page), "period": "2026-06", "kind": "team",
                                            "team_a": "North", "team_b": "South", "name": "June derby"},
                     follow_redirects=True)
    html = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "June derby" in html and "North leads" in html
    assert "data-confirm" in html
    comp_id = db.session.scalar(select(Competition.id))
    gone = client.post(f"/competitions/{comp_id}/delete", data={"csrf_token": csrf_from(html)},
                       follow_redirects=True)
    assert gone.status_code == 200 and db.session.scalar(select(Competition.id)) is None


def test_agents_cannot_open_the_competitions_page(client, history, login_as):
    login_as(history["ann"])
    assert client.get("/competitions").status_code == 403


def test_my_rank_for_the_call_workspace(client, history, login_as, pin_clock):
    login_as(history["bob"])
    me = client.get("/leaderboard/me.json").get_json()
    assert me == {"period": "2026-06", "rank": 2, "of": 3, "conversions": 1}
    page = client.get("/work").get_data(as_text=True)
    assert 'data-src="/leaderboard/me.json"' in page

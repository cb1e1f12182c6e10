"""Attribution of conversions (SPEC §7) at its edges, through the real paths:
outcomes logged by ``calls.services``, visits arriving through the POS
upsert (the same code as the CSV import), scores read after a refresh.

Runs on SQLite by default and on PostgreSQL under ``.ci/run``; the clock is pinned.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, func, select

from campaign.accounts.models import Team
from campaign.calls import services as calls
from campaign.campaigns.models import CampaignItem
from campaign.clients.models import Client
from campaign.core import clock
from campaign.extensions import db
from campaign.imports.services import upsert_visits
from campaign.scoring import queries, rules, scores
from campaign.scoring.models import Conversion, ScoreDirty
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

CALL = datetime(2026, 6, 2, 10, 0)  # UTC: 12:00 in Warsaw


@pytest.fixture
def world(ctx, pin_clock, make_store, make_staff):
    pin_clock(CALL.isoformat() + "+00:00")
    store = make_store("WAW", timezone="Europe/Warsaw")
    manager = make_staff(roles=("manager",))
    ann = make_staff("A01", store=store, team="North")
    bob = make_staff("B01", store=store, team="South")
    add_clients(store, 8, days=45, step=1)
    camp = new_campaign(manager, attribution_window_days=30, max_attempts=3, retry_delay_hours=1)
    quotas(camp, [(ann, 4), (bob, 4)])
    launch(camp)
    return {"store": store, "ann": ann, "bob": bob, "camp": camp}


def at(pin_clock, when: datetime):
    pin_clock(when.isoformat() + "+00:00")


def call(agent, disposition="will_visit", **data):
    """Take the agent's next client and log the outcome; returns (client, outcome)."""
    c = calls.claim_next(agent, clock.now())
    assert c is not None, "the agent has a client to call"
    o = calls.log_outcome(c.item_id, agent, {"disposition": disposition, "claim": c.token, **data}, clock.now())
    db.session.commit()
    return db.session.get(Client, c.client_id), o


seq = iter(range(1, 1_000_000))


def visit(client, when: str, *, status="completed", amount="50.00", ref=None):
    ref = ref or f"PV{next(seq):06d}"
    result = upsert_visits([{"visit_ref": ref, "client_ref": client.ref, "store_code": "WAW",
                             "visited_at": when, "amount": amount, "status": status}])
    db.session.commit()
    assert result["rejected"] == 0, result
    return ref


def conversions() -> list[Conversion]:
    scores.refresh()
    db.session.expire_all()
    return list(db.session.scalars(select(Conversion).order_by(Conversion.id)))


def board(**kw):
    scores.refresh()
    return {r.get("employee_code") or r.get("team"): r for r in queries.leaderboard(**kw)}


# ------------------------------------------------------------------ the window's edges

def test_a_visit_later_on_the_call_day_converts_but_a_date_only_one_does_not(world):
    client, _ = call(world["ann"])
    other, _ = call(world["ann"])
    visit(client, "2026-06-02T18:00")          # 18:00 Warsaw, after the 12:00 call
    visit(other, "2026-06-02")                  # date only: counts from 00:00, before the call
    got = conversions()
    assert [(c.client_id, c.local_date.isoformat()) for c in got] == [(client.id, "2026-06-02")]
    visit(other, "2026-06-03")                  # the next day it converts
    assert {c.client_id for c in conversions()} == {client.id, other.id}


def test_day_30_after_the_call_converts_day_31_does_not(world):
    on30, _ = call(world["ann"])
    on31, _ = call(world["ann"])
    visit(on30, "2026-07-02")   # 2 June + 30 days
    visit(on31, "2026-07-03")   # + 31 days
    assert [c.client_id for c in conversions()] == [on30.id]


def test_a_visit_before_any_reached_call_does_not_convert(world, pin_clock):
    client, _ = call(world["ann"], "no_answer")
    visit(client, "2026-06-02T15:00")           # after an unreached call only
    assert conversions() == []
    at(pin_clock, datetime(2026, 6, 2, 16, 0))  # the retry is due after an hour
    again, o = call(world["ann"])               # now reached
    assert again.id == client.id
    assert conversions() == [], "the visit came before the reached call"
    visit(client, "2026-06-05")
    got = conversions()
    assert [(c.client_id, c.outcome_id, c.local_date.isoformat()) for c in got] == \
        [(client.id, o.id, "2026-06-05")]


def test_only_the_first_visit_converts_once_per_client_per_campaign(world):
    client, _ = call(world["ann"])
    visit(client, "2026-06-10", amount="80.00")
    visit(client, "2026-06-12", amount="99.00")
    got = conversions()
    assert len(got) == 1 and got[0].amount == 8000 and got[0].month == 202606
    row = board(campaign_id=world["camp"].id)["A01"]
    assert (row["conversions"], row["revenue"], row["currency"]) == (1, 8000, "PLN")


# ------------------------------------------------------------------ who is credited

def test_the_latest_reached_call_before_the_visit_is_credited_with_the_team_of_that_time(world, pin_clock):
    ann, bob = world["ann"], world["bob"]
    client, first = call(ann, "callback", callback_at="2026-06-03T12:00:00+02:00")
    # The item is handed to Bob (a manager's reassignment), who reaches the client again.
    item = db.session.get(CampaignItem, first.item_id)
    item.staff_id = bob.id
    db.session.commit()
    at(pin_clock, datetime(2026, 6, 3, 10, 5))
    c = calls.claim_next(bob, clock.now())
    assert c.client_id == client.id, "the callback is due first"
    second = calls.log_outcome(c.item_id, bob, {"disposition": "will_visit", "claim": c.token}, clock.now())
    db.session.commit()
    # Bob moves to team North after the call; the credit stays with South.
    bob.team = db.session.scalar(select(Team).where(Team.name == "North"))
    db.session.commit()
    visit(client, "2026-06-08")
    (conv,) = conversions()
    assert (conv.staff_id, conv.outcome_id) == (bob.id, second.id)
    assert conv.team_id == db.session.scalar(select(Team.id).where(Team.name == "South"))
    teams = board(campaign_id=world["camp"].id, by="team")
    assert teams["South"]["conversions"] == 1 and teams["North"]["conversions"] == 0
    agents = board(campaign_id=world["camp"].id)
    assert agents["B01"]["conversions"] == 1 and agents["A01"]["conversions"] == 0
    assert agents["A01"]["reached"] == 1 and agents["B01"]["reached"] == 1


def test_a_visit_before_the_second_agents_call_stays_with_the_first(world, pin_clock):
    ann, bob = world["ann"], world["bob"]
    client, first = call(ann, "callback", callback_at="2026-06-04T12:00:00+02:00")
    visit(client, "2026-06-03")                  # between Ann's call and Bob's
    db.session.get(CampaignItem, first.item_id).staff_id = bob.id
    db.session.commit()
    at(pin_clock, datetime(2026, 6, 4, 10, 5))
    c = calls.claim_next(bob, clock.now())
    calls.log_outcome(c.item_id, bob, {"disposition": "will_visit", "claim": c.token}, clock.now())
    db.session.commit()
    (conv,) = conversions()
    assert conv.staff_id == ann.id and conv.local_date.isoformat() == "2026-06-03"


# ------------------------------------------------------------------ late and corrected visits

def test_a_late_import_is_attributed_when_it_arrives_in_the_month_of_the_visit(world, pin_clock):
    client, _ = call(world["ann"])
    june = rules.Period.parse("2026-06")
    july = rules.Period.parse("2026-07")
    at(pin_clock, datetime(2026, 7, 20, 9, 0))   # weeks later the POS sends an old visit
    visit(client, "2026-06-28T11:00")
    assert board(period=june)["A01"]["conversions"] == 1
    assert "A01" not in board(period=july), "nothing of Ann's happened in July"
    assert board(period=june)["A01"]["calls"] == 1


def test_a_visit_corrected_to_no_show_by_reimport_removes_the_conversion(world):
    client, _ = call(world["ann"])
    ref = visit(client, "2026-06-09")
    assert len(conversions()) == 1
    assert board(campaign_id=world["camp"].id)["A01"]["conversions"] == 1
    visit(client, "2026-06-09", status="no_show", ref=ref)   # the same visit_ref, re-imported
    assert conversions() == []
    row = board(campaign_id=world["camp"].id)["A01"]
    assert (row["conversions"], row["revenue"]) == (0, None) or (row["conversions"], row["revenue"]) == (0, 0)
    later = visit(client, "2026-06-20")                      # a later visit takes its place
    (conv,) = conversions()
    assert conv.local_date.isoformat() == "2026-06-20"
    assert later


def test_correcting_the_reached_call_to_unreached_removes_its_conversion(world):
    client, o = call(world["ann"], "not_interested")
    visit(client, "2026-06-06")
    assert len(conversions()) == 1
    calls.log_outcome(o.item_id, world["ann"], {"disposition": "no_answer", "corrects": o.id}, clock.now())
    db.session.commit()
    assert conversions() == []
    row = board(campaign_id=world["camp"].id)["A01"]
    assert (row["calls"], row["reached"], row["conversions"]) == (1, 0, 0), \
        "a correction replaces the call in every count"


def test_holdout_clients_never_convert(ctx, pin_clock, make_store, make_staff):
    pin_clock(CALL.isoformat() + "+00:00")
    store = make_store("WAW")
    agent = make_staff("A01", store=store)
    add_clients(store, 40, days=45)
    camp = new_campaign(None, holdout_share=0.5)
    quotas(camp, [(agent, 40)])
    launch(camp)
    held = db.session.scalars(select(CampaignItem.client_id).where(CampaignItem.status == "holdout")).all()
    assert held
    for cid in held[:5]:
        visit(db.session.get(Client, cid), "2026-06-05")
    assert conversions() == []


# ------------------------------------------------------------------ the roll-up

def test_the_leaderboard_counts_and_ranks_as_the_spec_says(world, pin_clock):
    ann, bob = world["ann"], world["bob"]
    a1, _ = call(ann)                       # reached
    a2, _ = call(ann, "no_answer")          # not reached
    b1, _ = call(bob, "booked", booked_at="2026-06-05T15:00:00+02:00", service="massage")
    b2, _ = call(bob)
    visit(a1, "2026-06-04")
    visit(b1, "2026-06-05T15:00")
    rows = board(campaign_id=world["camp"].id)
    a, b = rows["A01"], rows["B01"]
    assert (a["assigned"], a["calls"], a["reached"], a["booked"], a["conversions"]) == (4, 2, 1, 0, 1)
    assert (b["assigned"], b["calls"], b["reached"], b["booked"], b["conversions"]) == (4, 2, 2, 1, 1)
    assert a["visit_rate"] == 1.0 and b["visit_rate"] == 0.5
    assert (a["rank"], b["rank"]) == (1, 2), "equal conversions: the higher visit rate first"
    assert a2 and b2


def test_logging_an_outcome_adds_one_statement_and_marks_the_pair(world, app):
    statements = []

    def count(*_args):
        statements.append(1)

    scores.refresh()  # the launch's marks are worked off first
    c = calls.claim_next(world["ann"], clock.now())
    db.session.commit()
    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        calls.log_outcome(c.item_id, world["ann"], {"disposition": "no_answer", "claim": c.token}, clock.now())
        db.session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    marks = db.session.execute(select(ScoreDirty.staff_id, ScoreDirty.campaign_id, ScoreDirty.client_id)).all()
    assert marks == [(world["ann"].id, world["camp"].id, 0)], "an unreached call: the pair only"
    assert len(statements) <= 9, f"{len(statements)} statements to log an outcome"


def test_a_team_change_by_staff_import_moves_assigned_but_not_credit(world, tmp_path):
    from campaign.imports.services import import_path

    client, _ = call(world["ann"])
    visit(client, "2026-06-04")
    before = board(campaign_id=world["camp"].id, by="team")
    assert (before["North"]["assigned"], before["North"]["conversions"]) == (4, 1)
    staff_csv = tmp_path / "staff.csv"
    staff_csv.write_text("employee_code,name,email,roles,team,store_code,languages\n"
                         f"A01,{world['ann'].name},{world['ann'].email},agent,South,WAW,en\n", encoding="utf-8")
    assert import_path("staff", str(staff_csv))["updated"] == 1
    after = board(campaign_id=world["camp"].id, by="team")
    assert after["South"]["assigned"] == 8, "Ann's four items now count for her new team"
    assert after["North"]["conversions"] == 1 and after["South"]["conversions"] == 0, \
        "the conversion stays with the team she was in when she called"


def test_a_visits_import_attributes_in_a_background_job(world, tmp_path, wait_for_job):
    """The import job ends by starting the refresh job (the worker runs it:
    the embedded thread here, a real ``flask worker`` under .ci/run)."""
    from campaign.imports.services import import_path

    client, o = call(world["ann"])
    scores.refresh()
    visits_csv = tmp_path / "visits.csv"
    visits_csv.write_text("visit_ref,client_ref,store_code,visited_at,service,amount,status,served_by\n"
                          f"J1,{client.ref},WAW,2026-06-09T15:00,massage,70.00,,\n"
                          f"J2,{client.ref},WAW,2026-06-11T15:00,massage,90.00,,\n", encoding="utf-8")
    result = import_path("visits", str(visits_csv))
    assert result["inserted"] == 2 and result.get("scores_job")
    job = wait_for_job(result["scores_job"])
    assert job.status == "finished" and job.result["clients"] == 1
    db.session.expire_all()
    (conv,) = db.session.scalars(select(Conversion)).all()   # read as is: no refresh here
    assert (conv.client_id, conv.outcome_id, conv.amount) == (client.id, o.id, 7000)
    assert db.session.scalar(select(ScoreDirty.seq).limit(1)) is None, "nothing left to do"


def test_an_import_of_visits_of_clients_nobody_called_starts_no_job(world, tmp_path):
    from campaign.imports.services import import_path

    never_called = db.session.scalars(select(Client).order_by(Client.id.desc())).first()
    visits_csv = tmp_path / "visits.csv"
    visits_csv.write_text("visit_ref,client_ref,store_code,visited_at\n"
                          f"N1,{never_called.ref},WAW,2026-06-09\n", encoding="utf-8")
    result = import_path("visits", str(visits_csv))
    assert result["inserted"] == 1 and "scores_job" not in result


def test_a_conversion_credited_to_another_agent_still_counts_in_the_holders_list_mix(world):
    """Ann reaches the client, the item is then handed to Bob; the visit that
    follows is Ann's conversion, and Bob's list mix (the adjusted view) knows
    the client converted."""
    from campaign.scoring.models import ScoreItem
    from campaign.scoring import marks

    client, o = call(world["ann"])
    item = db.session.get(CampaignItem, o.item_id)
    item.staff_id = world["bob"].id
    marks.mark_campaign(world["camp"].id)
    db.session.commit()
    scores.refresh()
    visit(client, "2026-06-05")
    (conv,) = conversions()
    assert conv.staff_id == world["ann"].id
    bob_converted = db.session.scalar(select(func.sum(ScoreItem.converted))
                                      .where(ScoreItem.staff_id == world["bob"].id))
    assert bob_converted == 1

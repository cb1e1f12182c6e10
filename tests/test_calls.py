"""The call (SPEC §6) at the service level: claim order, expiry, calling hours,
daily caps, every disposition's effect, corrections and ownership.

Runs on SQLite by default and on PostgreSQL under ``.ci/run``; the clock is pinned.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from campaign.calls import queries, services
from campaign.calls.models import Outcome
from campaign.campaigns.models import CampaignItem
from campaign.clients.models import Client, Contact
from campaign.core import clock
from campaign.core.errors import Conflict, Forbidden, NotFound, ValidationError
from campaign.extensions import db
from campaign.outbox.models import Message
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

NOW = "2026-06-02T10:00:00+00:00"  # 12:00 in Warsaw, inside the default 10:00–20:00


@pytest.fixture
def world(ctx, pin_clock, make_store, make_staff):
    pin_clock(NOW)
    store = make_store(timezone="Europe/Warsaw")
    manager = make_staff(roles=("manager",))
    agent = make_staff(store=store)
    other = make_staff(store=store)
    ids = add_clients(store, 12, days=45, step=1, consent_sms=True, email="k@example.test",
                      consent_email=True)
    camp = new_campaign(manager, offers=["free_trial"], max_attempts=2, retry_delay_hours=24)
    quotas(camp, [(agent, 6), (other, 6)])
    launch(camp)
    return {"store": store, "agent": agent, "other": other, "manager": manager, "camp": camp, "ids": ids}


def pin(pin_clock, at: datetime):
    pin_clock(at.isoformat() + "+00:00")


def claim(agent, **kw):
    c = services.claim_next(agent, clock.now(), **kw)
    db.session.commit()
    return c


def log(agent, c, **data):
    data.setdefault("claim", c.token)
    o = services.log_outcome(c.item_id, agent, data, clock.now())
    db.session.commit()
    return o


def item(item_id) -> CampaignItem:
    db.session.expire_all()
    return db.session.get(CampaignItem, item_id)


def queue_order(agent, camp) -> list[int]:
    return list(db.session.scalars(select(CampaignItem.id).where(
        CampaignItem.staff_id == agent.id, CampaignItem.campaign_id == camp.id)
        .order_by(CampaignItem.priority)))


# ------------------------------------------------------------------ claiming

def test_fresh_items_come_in_priority_order_and_never_twice(world):
    agent, camp = world["agent"], world["camp"]
    order = queue_order(agent, camp)
    got = [claim(agent).item_id for _ in order]
    assert got == order
    assert claim(agent) is None, "six items, six claims, then nothing"
    assert all(item(i).status == "claimed" for i in got)


def test_callbacks_due_come_first_then_retries_then_fresh(world, pin_clock):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="callback", callback_at="2026-06-02T15:00:00+02:00")
    b = claim(agent)
    log(agent, b, disposition="no_answer")
    assert item(a.item_id).status == "callback" and item(b.item_id).status == "retry"
    fresh = claim(agent)
    assert fresh.item_id not in (a.item_id, b.item_id), "nothing is due yet: a fresh client"
    # 15:30 Warsaw: the callback is due, the retry (24 h) is not.
    pin(pin_clock, datetime(2026, 6, 2, 13, 30))
    again = claim(agent)
    assert again.item_id == a.item_id
    log(agent, again, disposition="will_visit")
    # The next day at 12:00 Warsaw the retry is due and comes before fresh clients.
    pin(pin_clock, datetime(2026, 6, 3, 10, 0))
    assert claim(agent).item_id == b.item_id


def test_a_claim_not_closed_in_15_minutes_returns_to_the_queue(world, pin_clock):
    agent = world["agent"]
    first = claim(agent)
    second = claim(agent)
    assert second.item_id != first.item_id, "another tab gets another client"
    pin(pin_clock, datetime(2026, 6, 2, 10, 15, 1))
    again = claim(agent)
    assert again.item_id == first.item_id, "the expired claim comes back in its place"
    assert again.token != first.token
    with pytest.raises(Conflict, match="another tab"):
        log(agent, first, disposition="no_answer")
    log(agent, again, disposition="will_visit")
    assert item(first.item_id).status == "closed"


def test_an_expired_claim_of_a_callback_keeps_its_precedence(world, pin_clock):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="callback", callback_at="2026-06-02T12:30:00Z")
    pin(pin_clock, datetime(2026, 6, 2, 12, 31))
    assert claim(agent).item_id == a.item_id
    pin(pin_clock, datetime(2026, 6, 2, 12, 47))
    assert claim(agent).item_id == a.item_id
    assert item(a.item_id).claimed_from == "callback"


def test_only_inside_calling_hours_in_the_store_time_zone(ctx, pin_clock, make_store, make_staff):
    warsaw = make_store(timezone="Europe/Warsaw")
    tokyo = make_store(timezone="Asia/Tokyo", country="JP", currency="JPY")
    agent = make_staff(languages=("en",))
    w = set(add_clients(warsaw, 3))
    t = set(add_clients(tokyo, 3))
    camp = new_campaign(None, calling_hours={"start": "10:00", "end": "20:00"})
    quotas(camp, [(agent, 6)])
    pin_clock("2026-06-02T09:00:00+00:00")
    launch(camp)
    # 09:00 UTC: 11:00 in Warsaw, 18:00 in Tokyo; both open.
    # 12:00 UTC: 14:00 in Warsaw, 21:00 in Tokyo: only Warsaw's clients.
    pin_clock("2026-06-02T12:00:00+00:00")
    got = {db.session.get(CampaignItem, claim(agent).item_id).client_id for _ in range(3)}
    assert got == w
    assert claim(agent) is None
    # 23:30 UTC: 01:30 in Warsaw, 08:30 in Tokyo: nobody.
    pin_clock("2026-06-02T23:30:00+00:00")
    assert claim(agent) is None
    pin_clock("2026-06-03T01:00:00+00:00")  # 10:00 in Tokyo
    got = {db.session.get(CampaignItem, claim(agent).item_id).client_id for _ in range(3)}
    assert got == t


def test_daily_cap_stops_fresh_calls_but_not_promised_callbacks(ctx, pin_clock, make_store, make_staff):
    store = make_store()
    agent = make_staff(store=store)
    add_clients(store, 5)
    camp = new_campaign(None)
    quotas(camp, [(agent, 5, {"daily_cap": 2})])
    pin_clock(NOW)
    launch(camp)
    a = claim(agent)
    log(agent, a, disposition="callback", callback_at="2026-06-02T11:00:00Z")
    b = claim(agent)
    log(agent, b, disposition="busy")
    assert claim(agent) is None, "two calls today: the cap is reached"
    pin_clock("2026-06-02T11:05:00+00:00")
    assert claim(agent).item_id == a.item_id, "a promised callback still comes"
    pin_clock("2026-06-03T08:00:00+00:00")  # a new day in Warsaw
    assert claim(agent) is not None
    [p] = queries.progress(agent, clock.now())
    assert p["calls_today"] == 0 and p["daily_cap"] == 2


def test_paused_campaigns_and_other_agents_queues_give_nothing(world):
    agent, other, camp = world["agent"], world["other"], world["camp"]
    mine = set(queue_order(agent, camp))
    got = claim(other)
    assert got.item_id not in mine
    camp.status = "paused"
    db.session.commit()
    assert claim(agent) is None


def test_claim_is_a_fixed_number_of_statements(world):
    agent = world["agent"]
    agent.store_id  # loaded, as current_user is in a request
    statements = []

    def count(*_args):
        statements.append(1)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        claim(agent)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 2, "the campaigns (with the stores' zones), the claim"


def test_the_workspace_is_a_fixed_number_of_statements(world, ctx, make_visit):
    """Card (2) + script (1): the same for a client with many visits or contacts."""
    agent = world["agent"]
    agent.store_id
    counts = []
    for _ in range(2):
        c = claim(agent)
        agent.name  # loaded, as current_user is in a request
        statements = []

        def count(_conn, _cursor, sql, *_args):
            statements.append(sql)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            ws = queries.workspace(c, agent, clock.now())
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        counts.append(len(statements))
        client = db.session.get(Client, c.client_id)
        for day in range(1, 30):
            make_visit(client, f"2026-03-{day:02d}")
    assert counts == [3, 3], statements
    assert ws["client"]["visits"] >= 2 and ws["script"]["steps"]


# ------------------------------------------------------------------ outcomes

def test_unreached_calls_retry_then_close_and_start_the_letters(world, pin_clock):
    agent, camp = world["agent"], world["camp"]
    a = claim(agent)
    o = log(agent, a, disposition="no_answer", reason="", notes="rang 8 times")
    it = item(a.item_id)
    assert (it.status, it.attempts) == ("retry", 1)
    assert it.due_at == datetime(2026, 6, 3, 10, 0)
    assert o.reached is False
    sms = db.session.scalars(select(Message).where(Message.item_id == a.item_id)).all()
    assert [m.channel for m in sms] == ["sms"], "a no-answer sends the campaign's SMS once"
    pin(pin_clock, datetime(2026, 6, 3, 10, 0))
    again = claim(agent)
    assert again.item_id == a.item_id
    log(agent, again, disposition="no_answer")
    it = item(a.item_id)
    assert (it.status, it.attempts, it.close_reason) == ("closed", 2, "attempts_exhausted")
    kinds = sorted(m.kind for m in db.session.scalars(select(Message).where(Message.item_id == a.item_id)))
    assert kinds.count("no_answer_sms") == 1, "the SMS goes once per item"
    assert [k for k in kinds if k.startswith("letter")] == ["letter_1", "letter_2", "letter_3"]
    assert db.session.scalar(select(func.count()).select_from(Contact).where(
        Contact.client_id == it.client_id, Contact.channel == "call")) == 2
    assert camp.id == it.campaign_id


def test_wrong_number_marks_the_phone_not_callable(world):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="wrong_number")
    it = item(a.item_id)
    assert (it.status, it.close_reason) == ("closed", "wrong_number")
    assert db.session.get(Client, it.client_id).phone_callable is False


def test_callback_returns_to_the_same_agent_at_the_agreed_time(world):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="callback", callback_at="2026-06-04T18:00")  # Warsaw time, no offset
    it = item(a.item_id)
    assert (it.status, it.staff_id, it.due_at) == ("callback", agent.id, datetime(2026, 6, 4, 16, 0))


def test_booked_records_the_appointment_and_a_reminder(world):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="booked", booked_at="2026-06-10T12:00:00+02:00", service="pedicure",
        offer="free_trial", reason="price")
    it = item(a.item_id)
    assert (it.status, it.close_reason, it.booked_for) == ("closed", "booked", datetime(2026, 6, 10, 10, 0))
    o = db.session.scalar(select(Outcome).where(Outcome.item_id == a.item_id))
    assert (o.service, o.offer, o.reason, o.reached) == ("pedicure", "free_trial", "price", True)
    reminder = db.session.scalar(select(Message).where(Message.item_id == a.item_id,
                                                       Message.kind == "booking_reminder"))
    assert reminder is not None and reminder.due_at == datetime(2026, 6, 8, 10, 0)


def test_not_interested_stores_the_consent_answer(world):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="not_interested", consent=False, answers={})
    it = item(a.item_id)
    assert it.status == "closed"
    assert db.session.get(Client, it.client_id).consent_call is False


def test_do_not_contact_closes_every_queue_and_cancels_messages(world, ctx, make_staff):
    agent = world["agent"]
    a = claim(agent)
    booked = log(agent, a, disposition="booked", booked_at="2026-06-20T12:00")
    reminder = db.session.scalar(select(Message).where(Message.item_id == a.item_id))
    assert reminder.status == "scheduled" and reminder.kind == "booking_reminder"
    # The client said "never call me again" at the end: the agent corrects the outcome.
    services.log_outcome(a.item_id, agent, {"disposition": "do_not_contact", "corrects": booked.id},
                         clock.now())
    db.session.commit()
    db.session.expire_all()
    client = db.session.get(Client, item(a.item_id).client_id)
    assert client.do_not_contact and "call" in client.dnc_reason
    assert db.session.get(Message, reminder.id).status == "cancelled"
    assert item(a.item_id).status == "closed"


def test_do_not_contact_closes_the_clients_items_everywhere(world):
    agent, camp = world["agent"], world["camp"]
    a = claim(agent)
    client_id = item(a.item_id).client_id
    log(agent, a, disposition="do_not_contact")
    open_items = db.session.scalar(select(func.count()).select_from(CampaignItem).where(
        CampaignItem.client_id == client_id, CampaignItem.status != "closed"))
    assert open_items == 0 and item(a.item_id).campaign_id == camp.id


def test_moved_away_excludes_the_client(world):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="moved_away")
    assert db.session.get(Client, item(a.item_id).client_id).moved_away is True


def test_complaint_is_escalated_to_the_managers_list(world):
    agent = world["agent"]
    a = claim(agent)
    log(agent, a, disposition="complaint", reason="service", notes="kept waiting 40 minutes")
    total, rows = queries.complaints()
    assert total == 1 and rows[0]["notes"] == "kept waiting 40 minutes" and rows[0]["reason"] == "service"
    services.resolve_complaint(rows[0]["id"], world["manager"], "called back, free treatment", clock.now())
    db.session.commit()
    assert queries.complaints()[0] == 0
    assert queries.complaints(open_only=False)[0] == 1


@pytest.mark.parametrize("data, field", [
    ({"disposition": "hung_up"}, "disposition"),
    ({}, "disposition"),
    ({"disposition": "callback"}, "callback_at"),
    ({"disposition": "callback", "callback_at": "2026-06-02T09:59:00Z"}, "callback_at"),
    ({"disposition": "booked", "booked_at": "yesterday"}, "booked_at"),
    ({"disposition": "busy", "reason": "weather"}, "reason"),
    ({"disposition": "busy", "offer": "a pony"}, "offer"),
    ({"disposition": "busy", "notes": "x" * 4001}, "notes"),
    ({"disposition": "busy", "consent": "maybe"}, "consent"),
])
def test_bad_outcomes_get_a_clear_error_and_change_nothing(world, data, field):
    agent = world["agent"]
    a = claim(agent)
    with pytest.raises(ValidationError) as err:
        services.log_outcome(a.item_id, agent, data, clock.now())
    db.session.rollback()
    assert field in err.value.details
    it = item(a.item_id)
    assert (it.status, it.attempts, it.claim_token) == ("claimed", 0, a.token)
    assert db.session.scalar(select(func.count()).select_from(Outcome)) == 0


def test_only_the_holder_logs_and_only_on_a_claimed_item(world):
    agent, other, camp = world["agent"], world["other"], world["camp"]
    a = claim(agent)
    with pytest.raises(Forbidden):
        services.log_outcome(a.item_id, other, {"disposition": "busy"}, clock.now())
    with pytest.raises(NotFound):
        services.log_outcome(10**9, agent, {"disposition": "busy"}, clock.now())
    unclaimed = [i for i in queue_order(agent, camp) if i != a.item_id][0]
    with pytest.raises(Conflict, match="not claimed"):
        services.log_outcome(unclaimed, agent, {"disposition": "busy"}, clock.now())
    log(agent, a, disposition="busy")
    with pytest.raises(Conflict):
        log(agent, a, disposition="busy")


def test_a_correction_is_a_new_outcome_that_replaces_the_old(world):
    agent = world["agent"]
    a = claim(agent)
    first = log(agent, a, disposition="no_answer")
    fixed = services.log_outcome(a.item_id, agent, {"disposition": "booked", "corrects": first.id,
                                                    "booked_at": "2026-06-05T12:00:00Z"}, clock.now())
    db.session.commit()
    it = item(a.item_id)
    assert (it.status, it.close_reason, it.attempts) == ("closed", "booked", 1), "no second attempt"
    assert fixed.corrects_id == first.id
    contacts = db.session.scalars(select(Contact).where(Contact.client_id == it.client_id)).all()
    assert [(c.disposition, c.reached) for c in contacts if c.channel == "call"] == [("booked", True)]
    assert db.session.scalar(select(func.count()).select_from(Outcome)) == 2, "append-only"
    with pytest.raises(Conflict, match="latest"):
        services.log_outcome(a.item_id, agent, {"disposition": "busy", "corrects": first.id}, clock.now())
    db.session.rollback()
    with pytest.raises(Forbidden):
        services.log_outcome(a.item_id, world["other"], {"disposition": "busy", "corrects": fixed.id},
                             clock.now())


def test_progress_counts_today_and_what_is_left(world, pin_clock):
    agent = world["agent"]
    for disposition in ("busy", "will_visit"):
        log(agent, claim(agent), disposition=disposition)
    [p] = queries.progress(agent, clock.now())
    assert (p["calls_today"], p["target"], p["done"], p["open"], p["left_today"]) == (2, 6, 1, 5, 5)
    assert p["waiting"] == 1, "the busy client waits for the retry delay"


def test_script_answers_are_checked_and_fill_the_reason_and_consent(world):
    agent = world["agent"]
    a = claim(agent)
    with pytest.raises(ValidationError) as err:
        services.log_outcome(a.item_id, agent, {"disposition": "will_visit", "answers": {"reason": "weather"}},
                             clock.now())
    db.session.rollback()
    assert "answers.reason" in err.value.details
    o = log(agent, a, disposition="not_interested", answers={"greeting": "yes", "reason": "price",
                                                             "follow_up": "no"})
    assert (o.reason, o.consent, o.answers["greeting"]) == ("price", False, "yes")
    assert db.session.get(Client, o.client_id).consent_call is False

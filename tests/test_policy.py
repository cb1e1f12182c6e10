"""The contact policy (SPEC §4): every exclusion reason, counted by the
preview, explained on the card, and honoured by assignment."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

from campaign.campaigns import assignment, policy, queries, rules
from campaign.campaigns.models import CampaignItem
from campaign.clients.models import Client, Contact, Visit
from campaign.extensions import db
from tests.campaign_helpers import AS_OF, add_clients, new_campaign, quotas

NOW = datetime(2026, 6, 1, 9)


@pytest.fixture(autouse=True)
def _clock(pin_clock):
    pin_clock(NOW.isoformat() + "+00:00")


def _contacts(client_id, n, *, reached=False, at=NOW - timedelta(days=200), **kw):
    db.session.execute(insert(Contact), [{"client_id": client_id, "channel": "call", "at": at,
                                          "reached": reached, **kw} for _ in range(n)])
    db.session.commit()


def _set(client_id, **values):
    db.session.get(Client, client_id).__dict__  # load
    for k, v in values.items():
        setattr(db.session.get(Client, client_id), k, v)
    db.session.commit()


@pytest.fixture
def world(ctx, make_store, make_staff):
    """One client per reason, plus two eligible clients."""
    store = make_store()
    agent = make_staff(languages=("en",))
    ids = {}
    for name in ("ok", "ok2", "do_not_contact", "moved_away", "no_call_consent", "banned", "manual_ban",
                 "no_phone", "upcoming_booking", "booked_on_call", "in_other_campaign", "cooldown",
                 "contact_cap", "two_reasons"):
        ids[name] = add_clients(store, 1, prefix=name[:3].upper())[0]
    ids["never_visited"] = add_clients(store, 1, visits=0, prefix="NEV")[0]
    ids["never_but_asked"] = add_clients(store, 1, visits=0, prefix="ASK")[0]
    _set(ids["do_not_contact"], do_not_contact=True, dnc_reason="asked on the phone")
    _set(ids["moved_away"], moved_away=True)
    _set(ids["no_call_consent"], consent_call=False)
    _set(ids["manual_ban"], manual_ban=True, ban_reason="rude to staff")
    _set(ids["no_phone"], phone_callable=False)
    _set(ids["never_but_asked"], contact_requested=True)
    _set(ids["two_reasons"], do_not_contact=True, consent_call=False)
    c = db.session.get(Client, ids["banned"])
    for k in range(3):
        day = AS_OF - timedelta(days=10 + k)
        db.session.add(Visit(ref=f"NS{k}", client_id=c.id, store_id=c.store_id, local_date=day,
                             visited_at=datetime(day.year, day.month, day.day, 12), status="no_show",
                             created_at=NOW, updated_at=NOW))
    u = db.session.get(Client, ids["upcoming_booking"])
    db.session.add(Visit(ref="FUT1", client_id=u.id, store_id=u.store_id, local_date=AS_OF + timedelta(days=3),
                         visited_at=NOW + timedelta(days=3), status="completed", created_at=NOW, updated_at=NOW))
    db.session.commit()
    _contacts(ids["cooldown"], 1, reached=True, at=NOW - timedelta(days=20))
    _contacts(ids["contact_cap"], 17)
    other = new_campaign(name="Other")
    quotas(other, [(agent, 1)])
    other.status = "active"
    db.session.commit()
    db.session.execute(insert(CampaignItem), [
        {"campaign_id": other.id, "client_id": ids["in_other_campaign"], "status": "queued", "staff_id": agent.id,
         "store_id": store.id, "priority": 1, "created_at": NOW},
        {"campaign_id": other.id, "client_id": ids["booked_on_call"], "status": "closed", "store_id": store.id,
         "priority": 2, "created_at": NOW, "booked_for": NOW + timedelta(days=2)}])
    db.session.commit()
    return {"ids": ids, "agent": agent, "store": store}


def test_preview_counts_every_reason(world):
    camp = new_campaign()
    pv = queries.preview(camp, NOW)
    assert pv["targeted"] == 16
    assert pv["eligible"] == 3  # ok, ok2, never_but_asked
    x = pv["excluded"]
    assert x == {"do_not_contact": 2, "moved_away": 1, "no_call_consent": 1, "banned": 2, "no_phone": 1,
                 "never_visited": 1, "upcoming_booking": 2, "in_other_campaign": 1, "cooldown": 1,
                 "contact_cap": 1}
    assert sum(x.values()) + pv["eligible"] == pv["targeted"]
    # The client with two reasons is counted once first, and under both "any".
    assert pv["excluded_any"]["no_call_consent"] == 2 and pv["excluded_any"]["do_not_contact"] == 2


def test_api_preview_matches(world, make_staff, client, token_for):
    manager = make_staff(roles=("manager",))
    camp = new_campaign()
    body = client.get(f"/api/v1/campaigns/{camp.id}/preview", headers=token_for(manager)).get_json()
    assert body["eligible"] == 3 and body["holdout"] == 0 and body["excluded"]["banned"] == 2


def test_assignment_places_only_eligible_clients(world):
    camp = new_campaign()
    quotas(camp, [(world["agent"], 100)])
    camp.status = "active"
    db.session.commit()
    result = assignment.run(camp.id)
    db.session.commit()
    placed = set(db.session.scalars(select(CampaignItem.client_id).where(CampaignItem.campaign_id == camp.id)))
    ids = world["ids"]
    assert placed == {ids["ok"], ids["ok2"], ids["never_but_asked"]} and result["placed"] == 3


def test_card_explains_status_in_words(world):
    ids = world["ids"]
    ok = policy.client_status(ids["ok"], now=NOW)
    assert ok["may_queue"] is True and ok["reasons"] == []
    two = policy.client_status(ids["two_reasons"], now=NOW)
    assert two["may_queue"] is False
    assert [r["code"] for r in two["reasons"]] == ["do_not_contact", "no_call_consent"]
    assert two["reasons"][0]["sentence"] == "asked not to be contacted"
    cool = policy.client_status(ids["cooldown"], now=NOW)
    assert cool["reasons"][0]["sentence"] == "was reached by a campaign in the last 90 days"
    other = policy.client_status(ids["in_other_campaign"], now=NOW)
    assert other["campaigns"][0]["name"] == "Other"


def test_cooldown_ends_and_lifted_ban_counts_again(world):
    ids = world["ids"]
    later = NOW + timedelta(days=71)  # the reached call was 20 days before NOW
    assert policy.client_status(ids["cooldown"], now=later)["may_queue"] is True
    _set(ids["banned"], ban_lifted_at=NOW)
    assert "banned" not in [r["code"] for r in policy.client_status(ids["banned"], now=NOW)["reasons"]]


def test_wronged_clients_come_first(ctx, make_store, make_staff):
    store = make_store()
    agent = make_staff()
    ids = add_clients(store, 5, spend=100000, step=1)  # class A, B ... by spend
    low = add_clients(store, 1, spend=1)[0]  # class C, the least valuable
    _contacts(low, 1, reached=True, at=NOW - timedelta(days=400), disposition="complaint")
    camp = new_campaign()
    quotas(camp, [(agent, 10)])
    camp.status = "active"
    db.session.commit()
    assignment.run(camp.id)
    db.session.commit()
    first = db.session.scalar(select(CampaignItem).where(CampaignItem.campaign_id == camp.id)
                              .order_by(CampaignItem.priority).limit(1))
    assert first.client_id == low and first.wronged is True
    order = list(db.session.scalars(select(CampaignItem.client_id).where(CampaignItem.campaign_id == camp.id)
                                    .order_by(CampaignItem.priority)))
    # Then A (the two biggest spenders), B, C; within a class fewer days first.
    assert order[1:] == [ids[3], ids[4], ids[2], ids[0], ids[1]]


def test_reason_labels_cover_every_reason():
    assert set(rules.REASON_LABELS) == set(rules.REASONS)
    for r in rules.REASONS:
        assert rules.reason_sentence(r, cooldown_days=90, contact_cap=17)


def test_card_lists_earlier_contacts(world, make_staff):
    from campaign.clients.queries import client_card
    ids = world["ids"]
    ref = db.session.get(Client, ids["cooldown"]).ref
    card = client_card(ref)
    assert [c["channel"] for c in card["contacts"]] == ["call"] and card["contacts"][0]["reached"] is True
    assert client_card(db.session.get(Client, ids["ok"]).ref)["contacts"] == []

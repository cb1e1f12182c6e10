"""Assignment (SPEC §5) against the database: every invariant, twice over.

These run on SQLite by default and on PostgreSQL under ``.ci/run``.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

import pytest
from sqlalchemy import event, func, select, update

from campaign.campaigns import assignment, queries, rules, services
from campaign.campaigns.models import CampaignItem
from campaign.extensions import db
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

NOW = "2026-06-01T09:00:00+00:00"


@pytest.fixture(autouse=True)
def _clock(pin_clock):
    pin_clock(NOW)


def rerun(camp, **kw):
    result = assignment.run(camp.id, **kw)
    db.session.commit()
    return result


def items(camp):
    return db.session.execute(select(CampaignItem).where(CampaignItem.campaign_id == camp.id)
                              .order_by(CampaignItem.priority)).scalars().all()


def load(camp):
    return Counter(i.staff_id for i in items(camp) if i.staff_id is not None)


def assert_invariants(camp, targets: dict):
    rows = items(camp)
    assert len({i.client_id for i in rows}) == len(rows), "a client twice in one campaign"
    per = load(camp)
    for staff_id, n in per.items():
        assert n <= targets.get(staff_id, 0), f"agent {staff_id} over quota: {n}"
    by_lang = defaultdict(lambda: {"placed": [], "pool": []})
    for i in rows:
        if i.status == "holdout":
            assert i.staff_id is None
            continue
        by_lang[i.language]["pool" if i.status == "pool" else "placed"].append(i.priority)
    for lang, g in by_lang.items():
        if g["placed"] and g["pool"]:
            assert max(g["placed"]) < min(g["pool"]), f"a pooled {lang} client outranks a placed one"


def test_languages_quotas_priority_and_pool_reasons(ctx, make_store, make_staff):
    s1, s2 = make_store(), make_store()
    a1 = make_staff(store=s1, languages=("en",))
    a2 = make_staff(store=s2, languages=("en", "pl"))
    a3 = make_staff(store=s2, languages=("pl",))
    add_clients(s1, 40, language="en", step=1)
    add_clients(s2, 40, language="pl", step=1)
    add_clients(s2, 7, language="ja")
    camp = new_campaign()
    quotas(camp, [(a1, 20), (a2, 30), (a3, 10)])
    pv = queries.preview(camp, datetime(2026, 6, 1, 9))
    ja = next(r for r in pv["languages"] if r["language"] == "ja")
    assert ja == {**ja, "demand": 7, "capacity": 0, "pool_reason": "no_agent_language", "placed": 0}
    result = launch(camp)
    assert result["eligible"] == 87 and result["placed"] == 60 and result["pool"] == 27
    assert result["pool_reasons"] == {"no_agent_language": 7, "quota_full": 20}
    assert_invariants(camp, {a1.id: 20, a2.id: 30, a3.id: 10})
    rows = items(camp)
    speaks = {a1.id: {"en"}, a2.id: {"en", "pl"}, a3.id: {"pl"}}
    assert all(i.language in speaks[i.staff_id] for i in rows if i.staff_id)
    assert all(i.status == "pool" and i.pool_reason == "no_agent_language" for i in rows if i.language == "ja")
    assert load(camp) == {a1.id: 20, a2.id: 30, a3.id: 10}


def test_own_store_agent_gets_own_store_clients(ctx, make_store, make_staff):
    s1, s2 = make_store(), make_store()
    a1, a2 = make_staff(store=s1), make_staff(store=s2)
    c1 = add_clients(s1, 10, step=1)
    c2 = add_clients(s2, 10, step=1)
    camp = new_campaign()
    quotas(camp, [(a1, 10), (a2, 10)])
    launch(camp)
    owner = {i.client_id: i.staff_id for i in items(camp)}
    assert {owner[c] for c in c1} == {a1.id} and {owner[c] for c in c2} == {a2.id}


def test_class_mix_follows_quota(ctx, make_store, make_staff):
    store = make_store()
    a1, a2 = make_staff(), make_staff()  # no store: no own-store preference
    add_clients(store, 90, spend=1000, step=0)  # spend 1000 + i: distinct, so classes 18/27/45
    camp = new_campaign()
    quotas(camp, [(a1, 60), (a2, 30)])
    launch(camp)
    mix = defaultdict(Counter)
    for i in items(camp):
        mix[i.staff_id][i.value_class] += 1
    assert sum(mix[a1.id].values()) == 60 and sum(mix[a2.id].values()) == 30
    for cls, total in (("A", 18), ("B", 27), ("C", 45)):
        assert abs(mix[a1.id][cls] - total * 2 / 3) <= 1, mix
        assert abs(mix[a2.id][cls] - total / 3) <= 1, mix


def test_partial_demand_is_shared_in_proportion(ctx, make_store, make_staff):
    store = make_store()
    a1, a2 = make_staff(), make_staff()
    add_clients(store, 30, step=1)
    camp = new_campaign()
    quotas(camp, [(a1, 40), (a2, 20)])
    launch(camp)
    assert load(camp) == {a1.id: 20, a2.id: 10}


def test_assignment_twice_changes_nothing(ctx, make_store, make_staff):
    store = make_store()
    a1, a2 = make_staff(), make_staff()
    add_clients(store, 50, step=1)
    camp = new_campaign()
    quotas(camp, [(a1, 15), (a2, 15)])
    launch(camp)
    before = {(i.id, i.client_id, i.staff_id, i.status) for i in items(camp)}
    again = rerun(camp)
    assert again["placed"] == 0 and again["returned"] == 0
    assert {(i.id, i.client_id, i.staff_id, i.status) for i in items(camp)} == before


def test_quota_raised_places_only_the_difference(ctx, make_store, make_staff):
    store = make_store()
    a1, a2 = make_staff(), make_staff()
    add_clients(store, 50, step=1)
    camp = new_campaign()
    quotas(camp, [(a1, 10), (a2, 10)])
    launch(camp)
    before = {i.client_id: i.staff_id for i in items(camp) if i.staff_id}
    quotas(camp, [(a1, 25), (a2, 10)])
    result = rerun(camp)
    assert result["placed"] == 15 and result["returned"] == 0
    after = {i.client_id: i.staff_id for i in items(camp) if i.staff_id}
    assert all(after[c] == s for c, s in before.items()), "an earlier placement moved"
    assert load(camp) == {a1.id: 25, a2.id: 10}
    assert_invariants(camp, {a1.id: 25, a2.id: 10})


def test_quota_lowered_returns_untouched_lowest_priority_items(ctx, make_store, make_staff):
    store = make_store()
    a1, a2 = make_staff(), make_staff()
    add_clients(store, 40, step=1)
    camp = new_campaign()
    quotas(camp, [(a1, 20), (a2, 20)])
    launch(camp)
    mine = [i for i in items(camp) if i.staff_id == a1.id]
    worked = mine[-3:]  # the three lowest-priority items were already called
    db.session.execute(update(CampaignItem).where(CampaignItem.id.in_([i.id for i in worked]))
                       .values(attempts=1))
    db.session.commit()
    quotas(camp, [(a1, 8), (a2, 20)])
    result = rerun(camp)
    assert result["returned"] == 12 and result["placed"] == 0
    kept = {i.id for i in items(camp) if i.staff_id == a1.id}
    assert {i.id for i in worked} <= kept and len(kept) == 8
    # The untouched items kept are a1's highest-priority ones.
    untouched = sorted(i.priority for i in mine if i not in worked)
    assert {i.priority for i in items(camp) if i.id in kept and i.attempts == 0} == set(untouched[:5])


def test_absent_agents_untouched_items_move_in_one_action(ctx, make_store, make_staff):
    store = make_store()
    a1, a2, a3 = make_staff(), make_staff(), make_staff()
    add_clients(store, 30, step=1)
    camp = new_campaign()
    quotas(camp, [(a1, 10), (a2, 10), (a3, 10)])
    launch(camp)
    first = next(i for i in items(camp) if i.staff_id == a1.id)
    db.session.execute(update(CampaignItem).where(CampaignItem.id == first.id).values(attempts=1))
    db.session.commit()
    quotas(camp, [(a1, 10, {"absent": True}), (a2, 15), (a3, 15)])
    result = rerun(camp, move_absent=True)
    assert result["returned"] == 9 and result["placed"] == 9
    assert load(camp) == {a1.id: 1, a2.id: 15, a3.id: 14} or load(camp) == {a1.id: 1, a2.id: 14, a3.id: 15}
    assert next(i for i in items(camp) if i.id == first.id).staff_id == a1.id  # worked items stay


def test_absent_agent_gets_nothing_new(ctx, make_store, make_staff):
    store = make_store()
    a1, a2 = make_staff(), make_staff()
    add_clients(store, 20, step=1)
    camp = new_campaign()
    quotas(camp, [(a1, 10, {"absent": True}), (a2, 10)])
    launch(camp)
    assert load(camp) == {a2.id: 10}


def test_holdout_is_reproducible_and_never_queued(ctx, make_store, make_staff):
    store = make_store()
    agent = make_staff()
    ids = add_clients(store, 400, step=0)
    camp = new_campaign(holdout_share=0.25)
    quotas(camp, [(agent, 1000)])
    launch(camp)
    held = {i.client_id for i in items(camp) if i.status == "holdout"}
    want = {cid for cid in ids if rules.holdout_hash(cid, camp.holdout_seed) < 2500}
    assert held == want  # the SQL draw is the Python twin's
    assert 0.18 < len(held) / 400 < 0.32
    assert all(i.staff_id is None for i in items(camp) if i.status == "holdout")
    twin = new_campaign(holdout_share=0.25)
    twin.holdout_seed = camp.holdout_seed
    db.session.commit()
    pv = queries.preview(twin, datetime(2026, 6, 1, 9))
    # Another campaign with the same seed draws the same clients (the first
    # campaign's clients are "in another active campaign" now, so compare draws).
    rows = db.session.execute(select(func.count()).select_from(
        queries._assess(twin, datetime(2026, 6, 1, 9)))).scalar()
    assert rows == 400 and pv["excluded"]["in_other_campaign"] == 400


def test_statement_count_does_not_grow_with_clients(ctx, make_store, make_staff):
    engine = db.engine
    counts = []
    for n in (30, 300):
        store = make_store()
        a1, a2 = make_staff(languages=("en", "pl")), make_staff(languages=("pl",))
        add_clients(store, n, step=1)
        add_clients(store, n, language="pl", step=1)
        camp = new_campaign(stores=[store.code])
        quotas(camp, [(a1, n // 2), (a2, n // 3)])
        camp.status = "active"
        db.session.commit()
        seen = []

        def count(*_a, **_k):
            seen.append(1)
        event.listen(engine, "before_cursor_execute", count)
        try:
            assignment.run(camp.id)
            db.session.commit()
            quotas(camp, [(a1, n), (a2, n // 3)])
            assignment.run(camp.id)
            db.session.commit()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


def test_launch_needs_a_quota_and_workflow_is_enforced(ctx, make_store, make_staff, wait_for_job):
    from campaign.core.errors import Conflict, ValidationError
    store = make_store()
    agent = make_staff()
    add_clients(store, 5)
    camp = new_campaign()
    with pytest.raises(ValidationError):
        services.launch(camp, None)
    db.session.rollback()
    quotas(camp, [(agent, 5)])
    job = services.launch(camp, None)
    db.session.commit()
    assert wait_for_job(job.id).status == "finished"
    db.session.refresh(camp)
    assert camp.status == "active" and queries.counts(camp)["assigned"] == 5
    with pytest.raises(Conflict):
        services.launch(camp, None)
    db.session.rollback()
    services.set_status(camp, "paused", None)
    services.set_status(camp, "active", None)
    services.set_status(camp, "closed", None)
    db.session.commit()
    assert {i.status for i in items(camp)} == {"closed"}
    for new in ("active", "paused", "draft"):
        with pytest.raises((Conflict, ValidationError)):
            services.set_status(camp, new, None)
        db.session.rollback()
    # Closing freed the clients for the next campaign.
    nxt = new_campaign()
    assert queries.preview(nxt, datetime(2026, 6, 1, 9))["eligible"] == 5


def test_stale_version_is_a_conflict(ctx):
    from campaign.core.errors import Conflict
    camp = new_campaign()
    version = camp.version
    services.update_campaign(camp, {"name": "Renamed"}, None, version=version)
    db.session.commit()
    with pytest.raises(Conflict):
        services.update_campaign(camp, {"name": "Mine"}, None, version=version)


def test_two_managers_launching_at_once_launch_once(app, ctx, make_store, make_staff, wait_for_job):
    """Real commits on two connections: one launch wins, the other is refused
    (409 or a stale version), and the campaign gets one assignment job."""
    import threading

    from sqlalchemy.orm.exc import StaleDataError

    from campaign.core.errors import Conflict
    from campaign.core.models import Job
    store = make_store()
    agent = make_staff()
    add_clients(store, 10, step=1)
    camp = new_campaign()
    quotas(camp, [(agent, 10)])
    cid = camp.id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes = []

    def launch_once():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                # PostgreSQL: the row lock makes the second wait, then see "active".
                # SQLite: both read the draft; the version column refuses the second.
                c = services.get(cid, for_update=True)
                services.launch(c, None)
                db.session.commit()
                outcomes.append("launched")
            except (Conflict, StaleDataError):
                db.session.rollback()
                outcomes.append("refused")
            except Exception as exc:  # reported by the assertion below
                db.session.rollback()
                outcomes.append(f"error {type(exc).__name__}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=launch_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["launched", "refused"], outcomes
    jobs = db.session.scalars(select(Job).where(Job.kind == "campaign_assign")).all()
    assert len(jobs) == 1
    assert wait_for_job(jobs[0].id).status == "finished"
    assert len(items(db.session.get(type(camp), cid))) == 10

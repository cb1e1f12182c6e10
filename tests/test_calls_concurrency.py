"""Many threads, each with its own connection, claim thousands of items: no
item is ever handed out twice (SQLite here, PostgreSQL under ``.ci/run``)."""
from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from campaign.accounts.models import Staff
from campaign.calls import services
from campaign.campaigns.models import CampaignItem
from campaign.core import clock
from campaign.extensions import db
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

NOW = "2026-06-02T10:00:00+00:00"
ITEMS_PER_AGENT = 1000
THREADS_PER_AGENT = 4  # four browser tabs (or API clients) per agent, all clicking at once


def test_thousands_of_concurrent_claims_never_hand_out_an_item_twice(app, ctx, pin_clock, make_store,
                                                                   make_staff):
    pin_clock(NOW)
    store = make_store()
    agents = [make_staff(store=store) for _ in range(2)]
    add_clients(store, ITEMS_PER_AGENT * len(agents))
    camp = new_campaign(None)
    quotas(camp, [(a, ITEMS_PER_AGENT) for a in agents])
    launch(camp)
    agent_ids = [a.id for a in agents]
    claimed: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(agent_ids) * THREADS_PER_AGENT)

    def tab(agent_id: int):
        try:
            with app.app_context():
                me = db.session.get(Staff, agent_id)
                start.wait(timeout=30)
                while True:
                    c = services.claim_next(me, clock.now())
                    db.session.commit()
                    if c is None:
                        break
                    with lock:
                        claimed.append((agent_id, c.item_id))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=(a,)) for a in agent_ids for _ in range(THREADS_PER_AGENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors[:3]
    counts = Counter(item_id for _, item_id in claimed)
    assert [i for i, n in counts.items() if n > 1] == [], "an item was handed out twice"
    assert len(claimed) == ITEMS_PER_AGENT * len(agent_ids), "every item was claimed once"
    owner = dict(db.session.execute(select(CampaignItem.id, CampaignItem.staff_id)).all())
    assert all(owner[i] == a for a, i in claimed), "each agent only got their own queue"
    assert db.session.scalar(select(func.count()).select_from(CampaignItem)
                             .where(CampaignItem.status == "claimed")) == len(claimed)

"""Who brought a client back (SPEC §7), set-based for a set of clients.

A conversion is the first completed visit of a campaign client after a
*reached* call and within the campaign's attribution window of that call:
the visit is later than the call (a date-only visit is stored at the start
of its local day, so a same-day date-only visit is not later) and its local
date is at most ``attribution_window_days`` after the call's local date. It
is credited to the agent of the latest reached call before the visit and to
that agent's team at the time of that call; once per client per campaign;
it belongs to the month of the visit's local date.

A corrected outcome no longer counts: only outcomes that no later outcome
corrects are calls here, each with the time and local date of the call
itself (a correction keeps them).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, exists, func, insert, select, tuple_
from sqlalchemy.orm import aliased

from ..accounts.models import Store
from ..calls.models import Outcome
from ..campaigns.models import Campaign, CampaignItem
from ..clients.models import Visit
from ..core.sql import day_number, month_key
from ..extensions import db
from .models import Conversion

CHUNK = 5000
FIELDS = ("campaign_id", "client_id", "visit_id", "outcome_id", "staff_id", "team_id", "visited_at",
          "local_date", "month", "amount", "currency")


def effective_calls():
    """Outcomes that stand (no later outcome corrects them), as a WHERE clause."""
    later = aliased(Outcome)
    return ~exists().where(later.corrects_id == Outcome.id)


def conversions_of(client_ids: list[int]):
    """SELECT of the conversions the clients have now (FIELDS), one row per
    client per campaign."""
    calls = (select(Outcome.id, Outcome.campaign_id, Outcome.client_id, Outcome.staff_id, Outcome.team_id,
                    Outcome.call_at, day_number(Outcome.local_date).label("day"),
                    Campaign.attribution_window_days.label("window"))
             .join(Campaign, Campaign.id == Outcome.campaign_id)
             .where(Outcome.reached, Outcome.client_id.in_(client_ids), effective_calls())
             .cte("calls"))
    ranked = (select(calls.c.campaign_id, calls.c.client_id, Visit.id.label("visit_id"),
                     calls.c.id.label("outcome_id"), calls.c.staff_id, calls.c.team_id, Visit.visited_at,
                     Visit.local_date, month_key(Visit.local_date).label("month"), Visit.amount,
                     Store.currency,
                     func.row_number().over(
                         partition_by=(calls.c.campaign_id, calls.c.client_id),
                         order_by=(Visit.visited_at, Visit.id, calls.c.call_at.desc(), calls.c.id.desc()))
                     .label("rn"))
              .join(Visit, and_(Visit.client_id == calls.c.client_id, Visit.status == "completed",
                                Visit.visited_at > calls.c.call_at,
                                day_number(Visit.local_date) - calls.c.day <= calls.c.window))
              .join(Store, Store.id == Visit.store_id)
              .subquery("ranked"))
    return select(*[ranked.c[f] for f in FIELDS]).where(ranked.c.rn == 1)


def attribute(client_ids: Iterable[int], now) -> set[tuple[int, int]]:
    """Rewrite the conversions of these clients to what their visits and calls
    say now. Returns the (staff_id, campaign_id) pairs whose numbers changed
    — the credited agents' (gained, lost or moved) and the agents holding
    those clients' queue items — for the roll-up. A few statements per 5,000
    clients; rows that did not change are not written."""
    ids = sorted(set(client_ids) - {0})
    changed: set[tuple[int, int]] = set()
    moved: set[tuple[int, int]] = set()  # (campaign, client) whose conversion changed
    for i in range(0, len(ids), CHUNK):
        part = ids[i:i + CHUNK]
        old = {(r.campaign_id, r.client_id): r for r in db.session.execute(
            select(Conversion.id, *[getattr(Conversion, f) for f in FIELDS])
            .where(Conversion.client_id.in_(part)))}
        new = {(r.campaign_id, r.client_id): r for r in db.session.execute(conversions_of(part))}
        gone = []
        for key, row in old.items():
            fresh = new.get(key)
            if fresh is not None and all(getattr(row, f) == getattr(fresh, f) for f in FIELDS):
                del new[key]  # unchanged: keep the row as it is
                continue
            gone.append(row.id)
            changed.add((row.staff_id, row.campaign_id))
            moved.add(key)
        if gone:
            db.session.execute(delete(Conversion).where(Conversion.id.in_(gone)))
        if new:
            db.session.execute(insert(Conversion), [
                {f: getattr(r, f) for f in FIELDS} | {"created_at": now} for r in new.values()])
            changed.update((r.staff_id, r.campaign_id) for r in new.values())
            moved.update(new)
    # The agent who holds the client's queue item counts the client as
    # converted in the list mix (``score_items``), whoever was credited.
    moved_list = sorted(moved)
    for i in range(0, len(moved_list), CHUNK):
        part = moved_list[i:i + CHUNK]
        changed.update(db.session.execute(
            select(CampaignItem.staff_id, CampaignItem.campaign_id)
            .where(CampaignItem.client_id.in_([k for _, k in part]), CampaignItem.staff_id.is_not(None),
                   tuple_(CampaignItem.campaign_id, CampaignItem.client_id).in_(part))).all())
    return changed

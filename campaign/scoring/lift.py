"""Lift against the holdout (SPEC §7): did calling bring more clients back
than not calling?

Groups, among the campaign's queue items:

* **holdout** — the control group drawn at launch (never called). The draw
  is ``policy.holdout_value(client, seed) < holdout_bp`` over the clients
  the launch made items for, so it is read from the draw itself: closing a
  campaign closes its holdout items too, and their status no longer says
  ``holdout``.
* **contacted** — every other item with at least one call attempt
  (``attempts > 0``), reached or not: the clients the campaign tried.
* **not called** — the rest (in the pool, waiting in a queue, or closed
  before a call); reported, not compared.

Both groups are measured over the same window: from the launch to the
earlier of now and the close plus the attribution window (now while the
campaign is open). A client *came back* with a completed visit in
``launched_at < visited_at <= end``, whatever a call did or did not do —
so the comparison is the campaign's effect, not the agents' credit
(that is ``conversions``).

``lift`` is one statement: a GROUP BY over the items with an EXISTS on the
visits, never a loop per client.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from ..campaigns.models import Campaign, CampaignItem
from ..campaigns.policy import holdout_value
from ..clients.models import Visit
from ..core.errors import Conflict
from ..extensions import db
from . import rules

GROUPS = ("contacted", "holdout", "not_called")


def launched(camp: Campaign) -> bool:
    """A campaign has groups to compare once it is launched."""
    return camp.status != "draft" and camp.launched_at is not None


def holdout_of(camp: Campaign):
    """The campaign's holdout items, as a WHERE clause on ``CampaignItem``
    (the launch's draw, so it holds after the campaign is closed)."""
    if camp.holdout_bp <= 0:
        return CampaignItem.id.is_(None)  # always false: no holdout drawn
    return holdout_value(CampaignItem.client_id, camp.holdout_seed) < camp.holdout_bp


def window(camp: Campaign, now: datetime) -> tuple[datetime, datetime]:
    """(start, end] of the comparison, naive UTC."""
    start = camp.launched_at
    end = now
    if camp.closed_at is not None:
        end = min(now, camp.closed_at + timedelta(days=camp.attribution_window_days))
    return start, max(start, end)


def group_of(camp: Campaign):
    """contacted / holdout / not_called of an item, as SQL."""
    return case((holdout_of(camp), "holdout"), (CampaignItem.attempts > 0, "contacted"), else_="not_called")


def lift(camp: Campaign, now: datetime) -> dict:
    """Counts, rates and the difference with its 95 % interval (Newcombe),
    the relative lift and whether the interval excludes zero.

    ``Conflict`` for a campaign not launched yet (no groups to compare)."""
    if not launched(camp):
        raise Conflict("the campaign has not been launched yet: there is no holdout or contacted group "
                       "to compare")
    start, end = window(camp, now)
    came_back = (select(Visit.id).where(Visit.client_id == CampaignItem.client_id, Visit.status == "completed",
                                        Visit.visited_at > start, Visit.visited_at <= end)
                 .exists())
    group = group_of(camp).label("grp")
    rows = db.session.execute(
        select(group, func.count(), func.sum(case((came_back, 1), else_=0)))
        .where(CampaignItem.campaign_id == camp.id).group_by(group)).all()
    found = {g: (int(n or 0), int(x or 0)) for g, n, x in rows}
    groups = {}
    for g in GROUPS:
        n, x = found.get(g, (0, 0))
        groups[g] = {"clients": n, "came_back": x, "rate": (x / n) if n else None}
    c, h = groups["contacted"], groups["holdout"]
    ci = rules.lift_interval(c["came_back"], c["clients"], h["came_back"], h["clients"])
    measurable = bool(c["clients"] and h["clients"])
    return {
        "campaign_id": camp.id,
        "window": {"start": start, "end": end, "closed": camp.closed_at is not None,
                   "attribution_window_days": camp.attribution_window_days},
        "groups": groups,
        "measurable": measurable,
        "difference": ci["difference"] if measurable else None,
        "low": ci["low"] if measurable else None,
        "high": ci["high"] if measurable else None,
        "relative": ci["relative"] if measurable else None,
        "significant": ci["significant"] if measurable else False,
        "confidence": 0.95,
    }


def points(x: float) -> str:
    """A difference of proportions in percentage points, signed: "+4.1", "−0.3"."""
    v = round(x * 100, 1)
    if v == 0:
        return "0.0"
    return f"+{v:.1f}" if v > 0 else f"\u2212{abs(v):.1f}"


def in_words(result: dict | None) -> str:
    """The lift as a manager reads it."""
    if result is None:
        return "Lift is measured once the campaign is launched."
    g = result["groups"]
    if not g["holdout"]["clients"]:
        return "No holdout group was drawn for this campaign, so its lift cannot be measured."
    if not g["contacted"]["clients"]:
        return "Nobody has been called yet: nothing to compare with the holdout."
    head = (f"{points(result['difference'])} points (95% CI {points(result['low'])} to "
            f"{points(result['high'])})")
    if result["significant"]:
        return f"{head}, significant" + (": fewer came back than in the holdout." if result["difference"] < 0
                                         else ".")
    return f"{head}: not yet distinguishable from the holdout."

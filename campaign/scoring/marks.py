"""The seam through which calls, assignment and imports say "the scores are
behind": an upsert into ``score_dirty`` in the writer's own transaction.

It imports nothing but the table, so the layers below scoring (imports,
campaigns, calls) can use it; ``scores.refresh`` does the work before the
next read. Rows are written in key order, the order ``refresh`` locks them
in, so a writer and a refresh never wait on each other in a cycle.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import literal, select, union

from ..core.sql import among, upsert
from ..extensions import db
from .models import ScoreDirty

BATCH = 5000


def mark_dirty(keys: Iterable[tuple[int, int, int]]) -> None:
    """Mark ``(staff_id, campaign_id, client_id)`` keys: a pair to rebuild
    (staff and campaign 0: none) and a client to re-attribute (0: none)."""
    rows = sorted(set(keys))
    if not rows:
        return
    stmt = upsert(ScoreDirty, db.session.get_bind())
    stmt = stmt.on_conflict_do_update(index_elements=["staff_id", "campaign_id", "client_id"],
                                      set_={"seq": ScoreDirty.seq + 1})
    for i in range(0, len(rows), BATCH):
        db.session.execute(stmt, [{"staff_id": s, "campaign_id": c, "client_id": k, "seq": 1}
                                  for s, c, k in rows[i:i + BATCH]])


def mark_clients(client_ids: Iterable[int]) -> int:
    """Their visits changed: re-attribute those of them who were ever reached
    on a call (nobody else can convert), one statement per 5,000 clients.
    Returns how many were marked."""
    from ..calls.models import Outcome

    ids = sorted(set(client_ids))
    marked = 0
    for i in range(0, len(ids), BATCH):
        reached = (select(literal(0), literal(0), Outcome.client_id, literal(1))
                   .where(Outcome.reached, among(Outcome.client_id, ids[i:i + BATCH]))
                   .distinct().order_by(Outcome.client_id))
        stmt = upsert(ScoreDirty, db.session.get_bind()).from_select(
            ["staff_id", "campaign_id", "client_id", "seq"], reached)
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … SELECT … ON CONFLICT.
        marked += len(db.session.execute(stmt.on_conflict_do_update(
            index_elements=["staff_id", "campaign_id", "client_id"], set_={"seq": ScoreDirty.seq + 1})
            .returning(ScoreDirty.client_id)).all())
    return marked


def mark_campaign(campaign_id: int) -> None:
    """Queue items of the campaign moved between agents (assignment, a move):
    every pair of the campaign, before and after, is rebuilt."""
    from ..campaigns.models import CampaignItem
    from .models import ScoreItem

    holders = union(
        select(CampaignItem.staff_id).where(CampaignItem.campaign_id == campaign_id,
                                            CampaignItem.staff_id.is_not(None)).distinct(),
        select(ScoreItem.staff_id).where(ScoreItem.campaign_id == campaign_id).distinct())
    mark_dirty((sid, campaign_id, 0) for (sid,) in db.session.execute(holders))


def mark_staff(staff_ids: Iterable[int]) -> None:
    """Their team may have changed: the pairs they hold items in are rebuilt
    (``score_items`` keeps each agent's team of now for the team's "assigned")."""
    from .models import ScoreItem

    ids = sorted(set(staff_ids))
    for i in range(0, len(ids), BATCH):
        rows = db.session.execute(select(ScoreItem.staff_id, ScoreItem.campaign_id)
                                  .where(ScoreItem.staff_id.in_(ids[i:i + BATCH])).distinct()).all()
        mark_dirty((s, c, 0) for s, c in rows)

"""Bring the roll-ups up to date: ``refresh()`` before every read of them.

A refresh takes the marks of ``score_dirty`` in key order, re-attributes the
marked clients, rebuilds ``score_days`` and ``score_items`` for the marked
pairs and for every pair whose credit moved, and clears the marks it read
(a mark written meanwhile has a higher ``seq`` and stays, so the next
refresh picks it up). Each chunk of marks is one transaction when
``commit`` is true.

Refreshes run one at a time: each chunk first takes a transaction-scoped
advisory lock on PostgreSQL (the write lock on SQLite), so two never
attribute the same client at once, and a reader that arrives during a
refresh waits for it and then reads its result. Writers (calls, imports)
never wait for a refresh: they only upsert marks.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import (Integer, String, and_, case, column, delete, func, insert, literal, select, tuple_, union_all,
                        values)

from ..accounts.models import Staff
from ..calls.models import Outcome
from ..campaigns.models import CampaignItem
from ..core import clock
from ..core.sql import is_sqlite, month_key, one_at_a_time
from ..extensions import db
from . import attribution
from . import marks as marks_mod
from .models import Conversion, ScoreDay, ScoreDirty, ScoreItem

CHUNK = 5000
PAIR_CHUNK = 400


def refresh(*, commit: bool = True, now: datetime | None = None, progress=None) -> dict:
    """Work off every mark; returns what was done (marks, clients, pairs).

    Two passes, each a transaction per chunk of 5,000 marks: first the marks
    that name a client are attributed, and every (agent, campaign) they touch
    is marked in their place; then each marked pair is rebuilt once — after a
    large import a pair whose clients span many chunks is still rebuilt once.
    """
    now = clock.naive_utc(now or clock.now())
    done = {"marks": 0, "clients": 0, "pairs": 0}
    if db.session.scalar(select(ScoreDirty.seq).limit(1)) is None:
        return done  # nothing to do: no lock taken, nothing written
    total = [None]

    def step(marks) -> None:
        for i in range(0, len(marks), CHUNK // 5):
            part = marks[i:i + CHUNK // 5]
            db.session.execute(delete(ScoreDirty).where(_in_rows(
                (ScoreDirty.staff_id, ScoreDirty.campaign_id, ScoreDirty.client_id, ScoreDirty.seq),
                [tuple(m) for m in part])))
        done["marks"] += len(marks)
        db.session.commit() if commit else db.session.flush()
        if progress is not None:
            if total[0] is None:
                total[0] = max(1, done["marks"] + (db.session.scalar(select(func.count()).select_from(ScoreDirty))
                                                   or 0))
            progress(min(0.99, done["marks"] / total[0]))

    for with_client in (True, False):
        while True:
            _one_at_a_time()
            marks = db.session.execute(
                select(ScoreDirty.staff_id, ScoreDirty.campaign_id, ScoreDirty.client_id, ScoreDirty.seq)
                .where(ScoreDirty.client_id != 0 if with_client else ScoreDirty.client_id == 0)
                .order_by(ScoreDirty.staff_id, ScoreDirty.campaign_id, ScoreDirty.client_id)
                .limit(CHUNK)).all()
            if not marks:
                break
            if with_client:
                clients = {m.client_id for m in marks}
                pairs = {(m.staff_id, m.campaign_id) for m in marks if m.staff_id}
                pairs |= attribution.attribute(clients, now)
                marks_mod.mark_dirty((s, c, 0) for s, c in pairs)  # rebuilt in the second pass
                done["clients"] += len(clients)
            else:
                pairs = {(m.staff_id, m.campaign_id) for m in marks}
                rebuild(pairs)
                done["pairs"] += len(pairs)
            step(marks)
            if len(marks) < CHUNK:
                break
    if commit:
        db.session.commit()  # let go of the lock (when the last look found no marks)
    return done


# Any constant will do: it only has to be the same in every process.
_LOCK_KEY = 0x5C0BE5


def _one_at_a_time() -> None:
    """Hold the refresh lock until this transaction ends."""
    one_at_a_time(_LOCK_KEY, ScoreDirty)


def _in_rows(columns: tuple, rows: list[tuple]):
    """``(columns) IN (rows)``. On PostgreSQL the rows are a ``VALUES`` list
    the planner can join (a semi-join using the index for a few pairs, a hash
    for many); a plain row-value IN list is only ever a filter, so a hundred
    pairs would scan every outcome. SQLite handles the row-value list itself."""
    if is_sqlite(db.session.get_bind()):
        return tuple_(*columns).in_(rows)
    table = values(*[column(f"k{i}", Integer) for i in range(len(columns))], name="keys").data(rows)
    return tuple_(*columns).in_(select(*table.c))


def _in_pairs(staff_col, campaign_col, pairs: list[tuple[int, int]]):
    return _in_rows((staff_col, campaign_col), pairs)


def rebuild(pairs: Iterable[tuple[int, int]]) -> None:
    """Rewrite ``score_days`` and ``score_items`` of these (staff, campaign)
    pairs from outcomes, conversions and queue items: four statements per
    400 pairs."""
    pairs = sorted(set(pairs))
    for i in range(0, len(pairs), PAIR_CHUNK):
        part = pairs[i:i + PAIR_CHUNK]
        db.session.execute(delete(ScoreDay).where(_in_pairs(ScoreDay.staff_id, ScoreDay.campaign_id, part)))
        db.session.execute(insert(ScoreDay).from_select(DAY_COLUMNS, _days(part)))
        db.session.execute(delete(ScoreItem).where(_in_pairs(ScoreItem.staff_id, ScoreItem.campaign_id, part)))
        db.session.execute(insert(ScoreItem).from_select(ITEM_COLUMNS, _items(part)))


DAY_COLUMNS = ["staff_id", "campaign_id", "day", "team_id", "currency", "calls", "reached_m", "reached_c",
               "booked_m", "booked_c", "conversions", "revenue"]
ITEM_COLUMNS = ["staff_id", "campaign_id", "team_id", "bucket", "value_class", "items", "converted"]


def _first(flag, *partition):
    """1 on the earliest standing outcome of its partition that has ``flag``."""
    rn = func.row_number().over(partition_by=(Outcome.staff_id, Outcome.campaign_id, Outcome.client_id,
                                              flag, *partition),
                                order_by=(Outcome.call_at, Outcome.id))
    return case((and_(flag, rn == 1), 1), else_=0)


def _days(pairs):
    booked = Outcome.disposition == "booked"
    month = month_key(Outcome.local_date)
    calls = (select(Outcome.staff_id, Outcome.campaign_id, Outcome.local_date.label("day"), Outcome.team_id,
                    literal("", String(3)).label("currency"), literal(1).label("calls"),
                    _first(Outcome.reached, month).label("reached_m"),
                    _first(Outcome.reached).label("reached_c"),
                    _first(booked, month).label("booked_m"),
                    _first(booked).label("booked_c"),
                    literal(0).label("conversions"), literal(0).label("revenue"))
             .where(_in_pairs(Outcome.staff_id, Outcome.campaign_id, pairs), attribution.effective_calls()))
    won = (select(Conversion.staff_id, Conversion.campaign_id, Conversion.local_date.label("day"),
                  Conversion.team_id, Conversion.currency, literal(0), literal(0), literal(0), literal(0),
                  literal(0), literal(1), func.coalesce(Conversion.amount, 0))
           .where(_in_pairs(Conversion.staff_id, Conversion.campaign_id, pairs)))
    rows = union_all(calls, won).subquery("rows")
    keys = (rows.c.staff_id, rows.c.campaign_id, rows.c.day, rows.c.team_id, rows.c.currency)
    return (select(*keys, func.sum(rows.c.calls), func.sum(rows.c.reached_m), func.sum(rows.c.reached_c),
                   func.sum(rows.c.booked_m), func.sum(rows.c.booked_c), func.sum(rows.c.conversions),
                   func.sum(rows.c.revenue))
            .group_by(*keys))


def bucket_of(days_since):
    """The dormancy bucket of an item's ``days_since`` (SPEC §3 thresholds, settings)."""
    bounds = current_app.config["BUCKET_BOUNDS"]
    names = ("active", "d1", "d2", "d3")
    return case((days_since.is_(None), "never"),
                *[(days_since < b, n) for n, b in zip(names, bounds)], else_="d3plus")


def _items(pairs):
    bucket = bucket_of(CampaignItem.days_since)
    vclass = func.coalesce(CampaignItem.value_class, "-")
    return (select(CampaignItem.staff_id, CampaignItem.campaign_id, Staff.team_id, bucket, vclass,
                   func.count(), func.count(Conversion.id))
            .join(Staff, Staff.id == CampaignItem.staff_id)
            # At most one conversion per client per campaign: the join adds no rows.
            .outerjoin(Conversion, and_(Conversion.campaign_id == CampaignItem.campaign_id,
                                        Conversion.client_id == CampaignItem.client_id))
            .where(_in_pairs(CampaignItem.staff_id, CampaignItem.campaign_id, pairs))
            .group_by(CampaignItem.staff_id, CampaignItem.campaign_id, Staff.team_id, bucket, vclass))


def rebuild_all() -> int:
    """Every pair from scratch (after a restore or a migration): all clients
    with a reached call are re-attributed, every pair rebuilt. Returns pairs."""
    clients = [c for (c,) in db.session.execute(select(Outcome.client_id).where(Outcome.reached).distinct())]
    now = clock.utcnow_naive()
    pairs = attribution.attribute(clients, now)
    pairs |= set(db.session.execute(select(Outcome.staff_id, Outcome.campaign_id).distinct()).all())
    pairs |= set(db.session.execute(select(CampaignItem.staff_id, CampaignItem.campaign_id)
                                    .where(CampaignItem.staff_id.is_not(None)).distinct()).all())
    stale = set(db.session.execute(select(ScoreDay.staff_id, ScoreDay.campaign_id).distinct()).all())
    stale |= set(db.session.execute(select(ScoreItem.staff_id, ScoreItem.campaign_id).distinct()).all())
    rebuild(pairs | stale)
    return len(pairs | stale)


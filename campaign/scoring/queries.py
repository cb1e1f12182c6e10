"""Reads of the roll-ups: leaderboards, the daily trend, the
difficulty-adjusted view and competition scoreboards (SPEC §7).

They read ``score_days`` / ``score_items`` only (a few thousand small rows
whatever the number of outcomes), so call ``scores.refresh()`` first —
``services`` does. A fixed number of statements each.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time

from sqlalchemy import func, or_, select

from ..accounts.models import Staff, Team
from ..campaigns.models import Campaign
from ..extensions import db
from . import rules
from .models import ScoreDay, ScoreItem

BY = ("agent", "team")


def _day_filter(campaign_id: int | None, period: rules.Period | None):
    conds = []
    if campaign_id is not None:
        conds.append(ScoreDay.campaign_id == campaign_id)
    if period is not None:
        conds += [ScoreDay.day >= period.first, ScoreDay.day < period.next]
    return conds


def _item_filter(campaign_id: int | None, period: rules.Period | None):
    """Queue items in scope: the campaign's; for a period, those of the
    campaigns that were running at some time in it (launched before its end,
    not closed before its start)."""
    conds = []
    if campaign_id is not None:
        conds.append(ScoreItem.campaign_id == campaign_id)
    if period is not None:
        running = (select(Campaign.id).where(
            Campaign.launched_at < datetime.combine(period.next, time(0)),
            or_(Campaign.closed_at.is_(None), Campaign.closed_at >= datetime.combine(period.first, time(0)))))
        conds.append(ScoreItem.campaign_id.in_(running))
    return conds


def leaderboard(*, campaign_id: int | None = None, period: rules.Period | None = None,
                by: str = "agent") -> list[dict]:
    """SPEC §7 rows in rank order: rank, employee_code/name/team (agents) or
    team, assigned, calls, reached, booked, conversions, visit_rate,
    revenue (minor units; None when the row's visits were in several
    currencies), currency, revenue_by_currency. Three statements."""
    monthly = period is not None
    key = ScoreDay.staff_id if by == "agent" else ScoreDay.team_id
    reached = ScoreDay.reached_m if monthly else ScoreDay.reached_c
    booked = ScoreDay.booked_m if monthly else ScoreDay.booked_c
    day_rows = db.session.execute(
        select(key.label("k"), ScoreDay.currency, func.sum(ScoreDay.calls), func.sum(reached),
               func.sum(booked), func.sum(ScoreDay.conversions), func.sum(ScoreDay.revenue))
        .where(*_day_filter(campaign_id, period))
        .group_by(key, ScoreDay.currency)).all()
    ikey = ScoreItem.staff_id if by == "agent" else ScoreItem.team_id
    item_rows = db.session.execute(
        select(ikey, func.sum(ScoreItem.items)).where(*_item_filter(campaign_id, period))
        .group_by(ikey)).all()
    rows: dict = defaultdict(lambda: {"assigned": 0, "calls": 0, "reached": 0, "booked": 0, "conversions": 0,
                                      "revenue_by_currency": {}})
    for k, currency, calls, reach, book, conv, revenue in day_rows:
        r = rows[k]
        r["calls"] += int(calls or 0)
        r["reached"] += int(reach or 0)
        r["booked"] += int(book or 0)
        r["conversions"] += int(conv or 0)
        if currency:
            r["revenue_by_currency"][currency] = r["revenue_by_currency"].get(currency, 0) + int(revenue or 0)
    for k, n in item_rows:
        rows[k]["assigned"] += int(n or 0)
    rows.pop(None, None)  # agents without a team are not a team
    if not rows:
        return []
    for r in rows.values():
        money = r["revenue_by_currency"]
        r["currency"] = next(iter(money)) if len(money) == 1 else None
        r["revenue"] = sum(money.values()) if len(money) <= 1 else None
    if by == "agent":
        names = {s.id: s for s in db.session.execute(
            select(Staff.id, Staff.employee_code, Staff.name, Team.name.label("team"))
            .outerjoin(Team, Team.id == Staff.team_id).where(Staff.id.in_(list(rows))))}
        out = [{"staff_id": k, "employee_code": names[k].employee_code, "name": names[k].name,
                "team": names[k].team, **r} for k, r in rows.items()]
        return rules.ranked(out, "employee_code")
    names = dict(db.session.execute(select(Team.id, Team.name).where(Team.id.in_(list(rows)))).all())
    out = [{"team_id": k, "team": names[k], **r} for k, r in rows.items()]
    return rules.ranked(out, "team")


def trend(*, campaign_id: int | None = None, period: rules.Period | None = None,
          staff_id: int | None = None, team_id: int | None = None) -> list[dict]:
    """Per day with any activity: calls, reached (first reach in the scope),
    conversions — for everyone, one agent or one team. One statement."""
    conds = _day_filter(campaign_id, period)
    if staff_id is not None:
        conds.append(ScoreDay.staff_id == staff_id)
    if team_id is not None:
        conds.append(ScoreDay.team_id == team_id)
    reached = ScoreDay.reached_m if period is not None else ScoreDay.reached_c
    rows = db.session.execute(
        select(ScoreDay.day, func.sum(ScoreDay.calls), func.sum(reached), func.sum(ScoreDay.conversions))
        .where(*conds).group_by(ScoreDay.day).order_by(ScoreDay.day)).all()
    return [{"day": d.isoformat() if isinstance(d, date) else str(d), "calls": int(c or 0),
             "reached": int(r or 0), "conversions": int(v or 0)} for d, c, r, v in rows]


def adjusted(campaign_id: int, board: list[dict]) -> list[dict]:
    """The difficulty-adjusted view of a campaign's agent board: each agent's
    conversions against what their list mix (bucket × value class) would
    bring at the campaign's own conversion rate per segment. ``index`` is
    conversions / expected (1.0 = as the mix predicts). One statement."""
    segments = [dict(r._mapping) for r in db.session.execute(
        select(ScoreItem.staff_id, ScoreItem.bucket, ScoreItem.value_class,
               func.sum(ScoreItem.items).label("items"), func.sum(ScoreItem.converted).label("converted"))
        .where(ScoreItem.campaign_id == campaign_id)
        .group_by(ScoreItem.staff_id, ScoreItem.bucket, ScoreItem.value_class))]
    rates = rules.segment_rates(segments)
    mine = defaultdict(list)
    for s in segments:
        mine[s["staff_id"]].append(s)
    out = []
    for row in board:
        expected = rules.expected_conversions(mine.get(row["staff_id"], []), rates)
        out.append({**row, "expected": round(expected, 2),
                    "above_expected": round(row["conversions"] - expected, 2),
                    "index": round(row["conversions"] / expected, 2) if expected > 0 else None})
    out.sort(key=lambda r: (-(r["index"] if r["index"] is not None else -1), -r["conversions"],
                            r["employee_code"]))
    for i, r in enumerate(out, 1):
        r["adjusted_rank"] = i
    return out


def segment_table(campaign_id: int) -> list[dict]:
    """The campaign's conversion rate per segment (bucket × value class), the
    basis of the adjusted view. One statement."""
    rows = db.session.execute(
        select(ScoreItem.bucket, ScoreItem.value_class, func.sum(ScoreItem.items), func.sum(ScoreItem.converted))
        .where(ScoreItem.campaign_id == campaign_id)
        .group_by(ScoreItem.bucket, ScoreItem.value_class)
        .order_by(ScoreItem.bucket, ScoreItem.value_class)).all()
    return [{"bucket": b, "value_class": v, "items": int(n or 0), "converted": int(c or 0),
             "rate": round(int(c or 0) / int(n), 4) if n else 0.0} for b, v, n, c in rows]


def side_numbers(kind: str, ids: list[int], period: rules.Period) -> dict[int, dict]:
    """Calls, reached, conversions of agents (or teams) over a month, every
    campaign. One statement."""
    key = ScoreDay.staff_id if kind == "agent" else ScoreDay.team_id
    rows = db.session.execute(
        select(key, func.sum(ScoreDay.calls), func.sum(ScoreDay.reached_m), func.sum(ScoreDay.conversions))
        .where(key.in_(ids), ScoreDay.day >= period.first, ScoreDay.day < period.next)
        .group_by(key)).all()
    out = {i: {"calls": 0, "reached": 0, "conversions": 0} for i in ids}
    for k, calls, reached, conv in rows:
        out[k] = {"calls": int(calls or 0), "reached": int(reached or 0), "conversions": int(conv or 0)}
    return out


def active_months() -> list[str]:
    """Months with any activity, newest first (the period picker). One statement."""
    days = db.session.execute(select(func.min(ScoreDay.day), func.max(ScoreDay.day))).one()
    if days[0] is None:
        return []
    first, last = rules.Period.containing(days[0]), rules.Period.containing(days[1])
    out, p = [], last
    while p.key >= first.key:
        out.append(p.label)
        p = p.shifted(-1)
    return out



def launched_campaigns() -> list:
    """Campaigns past their draft (id, name, status), newest launch first: the
    campaign pickers of the leaderboard and the reports. One statement."""
    return db.session.execute(
        select(Campaign.id, Campaign.name, Campaign.status)
        .where(Campaign.status != "draft").order_by(Campaign.launched_at.desc(), Campaign.id.desc())).all()

"""Read-only campaign queries: the preview, live counts, queues and items.

Each function runs a fixed number of statements whatever the number of
clients (tests count them).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, case, func, select

from ..accounts.models import Staff, StaffLanguage, StaffRole, Store
from ..clients.models import Client, Contact
from ..extensions import db
from . import capacity, policy, rules
from .models import Campaign, CampaignItem, Quota

ITEMS_PAGE_MAX = 5000


def _assess(camp: Campaign, now: datetime):
    return policy.assess(camp.as_of, now=now, target=policy.Target.of(camp), campaign_id=camp.id,
                         holdout=(camp.holdout_seed, camp.holdout_bp)).subquery("pv")


def preview(camp: Campaign, now: datetime) -> dict:
    """What launching now would do: ``targeted``, ``eligible`` (holdout
    included), ``holdout``, ``excluded`` {reason: clients excluded by it
    first — these add up}, ``excluded_any`` {reason: clients it holds for},
    and per language the demand (eligible, not holdout) against the quota
    capacity of the agents who speak it, with the forecast of placed
    clients and why the rest would stay in the pool. Two statements for
    the clients (one pass of the policy), two for the agents.
    """
    rows = _assess(camp, now)
    grouped = db.session.execute(
        select(rows.c.language, rows.c.reason, rows.c.holdout, func.count().label("n"),
               *[func.sum(rows.c[f"r_{name}"]).label(f"any_{name}") for name in rules.REASONS])
        .group_by(rows.c.language, rows.c.reason, rows.c.holdout)).mappings().all()
    out = {"targeted": 0, "eligible": 0, "holdout": 0,
           "excluded": {name: 0 for name in rules.REASONS},
           "excluded_any": {name: 0 for name in rules.REASONS}}
    demand: dict = defaultdict(int)
    for r in grouped:
        n = int(r["n"])
        out["targeted"] += n
        for name in rules.REASONS:
            out["excluded_any"][name] += int(r[f"any_{name}"] or 0)
        if r["reason"] is None:
            out["eligible"] += n
            if r["holdout"]:
                out["holdout"] += n
            else:
                demand[r["language"]] += n
        else:
            out["excluded"][r["reason"]] += n
    agents = quota_grid(camp)
    caps = {a["staff_id"]: a["target"] for a in agents if not a["absent"] and a["target"] > 0}
    speaks = {a["staff_id"]: a["languages"] for a in agents}
    known = {lang: n for lang, n in demand.items() if lang is not None}
    forecast = capacity.placeable(caps, speaks, known) if known else {}
    languages = []
    for lang in sorted(set(demand) | {lg for a in agents for lg in a["languages"]}, key=lambda x: (x is None, x)):
        speakers = [a for a in agents if lang in a["languages"] and not a["absent"] and a["target"] > 0]
        quota = sum(a["target"] for a in speakers)
        need = demand.get(lang, 0)
        placed = forecast.get(lang, 0)
        languages.append({
            "language": lang, "demand": need, "capacity": quota, "agents": len(speakers),
            "shared": any(len(a["languages"]) > 1 for a in speakers),
            "placed": placed, "pool": need - placed,
            "pool_reason": None if need == placed else (
                "no_agent_language" if not speakers else "quota_full"),
        })
    out["languages"] = languages
    out["placed"] = sum(forecast.values())
    out["pool"] = sum(demand.values()) - out["placed"]
    return out


def excluded_clients(camp: Campaign, now: datetime, reason: str | None, *, page: int = 1,
                     per_page: int = 50) -> tuple[list[dict], int]:
    """The clients behind a number of the preview: those excluded first by
    ``reason`` (``eligible`` / ``holdout`` for the others), one page, with the
    total. One statement."""
    rows = _assess(camp, now)
    q = select(rows.c.client_id, rows.c.client_ref, rows.c.language, rows.c.bucket, rows.c.tier,
               rows.c.value_class, rows.c.days_since, Client.first_name, Client.last_name,
               Store.code.label("store_code"),
               func.count().over().label("total")).join(Client, Client.id == rows.c.client_id) \
        .join(Store, Store.id == rows.c.store_id)
    if reason == "eligible":
        q = q.where(rows.c.reason.is_(None), rows.c.holdout == 0)
    elif reason == "holdout":
        q = q.where(rows.c.holdout == 1)
    else:
        q = q.where(rows.c.reason == reason)
    q = q.order_by(*policy.priority_order(rows)).limit(per_page).offset((max(1, page) - 1) * per_page)
    items = [dict(r) for r in db.session.execute(q).mappings()]
    return items, (int(items[0]["total"]) if items else 0)


def quota_grid(camp: Campaign, *, all_agents: bool = False) -> list[dict]:
    """Agents with their quota (every active agent when ``all_agents``, for
    the grid): staff_id, employee_code, name, store, team, languages, target,
    daily_cap, absent, has_quota. Two statements."""
    q = (select(Staff.id.label("staff_id"), Staff.employee_code, Staff.name, Staff.store_id,
                Store.code.label("store_code"), Quota.target, Quota.daily_cap, Quota.absent,
                Quota.staff_id.label("quota_staff"))
         .outerjoin(Store, Store.id == Staff.store_id))
    if all_agents:
        q = (q.join(StaffRole, and_(StaffRole.staff_id == Staff.id, StaffRole.role == "agent"))
             .outerjoin(Quota, and_(Quota.staff_id == Staff.id, Quota.campaign_id == camp.id))
             .where(Staff.active.is_(True) | Quota.staff_id.is_not(None)))
    else:
        q = q.join(Quota, and_(Quota.staff_id == Staff.id, Quota.campaign_id == camp.id))
    rows = db.session.execute(q.order_by(Staff.employee_code)).mappings().all()
    ids = [r["staff_id"] for r in rows]
    langs = defaultdict(list)
    if ids:
        for sid, lang in db.session.execute(select(StaffLanguage.staff_id, StaffLanguage.language)
                                            .where(StaffLanguage.staff_id.in_(ids))
                                            .order_by(StaffLanguage.language)):
            langs[sid].append(lang)
    return [{"staff_id": r["staff_id"], "employee_code": r["employee_code"], "name": r["name"],
             "store_id": r["store_id"], "store_code": r["store_code"], "languages": langs[r["staff_id"]],
             "target": int(r["target"] or 0), "daily_cap": r["daily_cap"], "absent": bool(r["absent"]),
             "has_quota": r["quota_staff"] is not None} for r in rows]


def item_counts(campaign_id: int) -> dict:
    """The campaign's items: eligible (all), holdout, pool, assigned,
    attempted, by status and the pool's reasons. One statement."""
    rows = db.session.execute(
        select(CampaignItem.status, CampaignItem.pool_reason, func.count(),
               func.sum(case((CampaignItem.attempts > 0, 1), else_=0)))
        .where(CampaignItem.campaign_id == campaign_id)
        .group_by(CampaignItem.status, CampaignItem.pool_reason)).all()
    by_status, reasons, attempted = defaultdict(int), defaultdict(int), 0
    for status, reason, n, att in rows:
        by_status[status] += n
        attempted += int(att or 0)
        if status == "pool":
            reasons[reason or "quota_full"] += n
    total = sum(by_status.values())
    return {"eligible": total, "holdout": by_status["holdout"], "pool": by_status["pool"],
            "assigned": total - by_status["holdout"] - by_status["pool"], "attempted": attempted,
            "by_status": dict(by_status), "pool_reasons": dict(reasons)}


def counts(camp: Campaign) -> dict:
    """Live counts of SPEC §9: pool, holdout, assigned, attempted, reached,
    converted (plus items by status and pool reasons). Two statements.

    ``reached``: distinct clients with a reached contact of this campaign.
    ``converted``: the campaign's conversions (SPEC §7), as attributed by
    ``scoring`` — read after ``scoring.scores.refresh()`` to include the
    latest calls and visits.
    """
    from ..scoring.models import Conversion

    items_now = item_counts(camp.id)
    reached = (select(func.count(func.distinct(Contact.client_id)))
               .where(Contact.campaign_id == camp.id, Contact.channel == "call", Contact.reached))
    converted = select(func.count()).where(Conversion.campaign_id == camp.id)
    reached_n, converted_n = db.session.execute(
        select(reached.scalar_subquery(), converted.scalar_subquery())).one()
    return {**items_now, "reached": int(reached_n or 0), "converted": int(converted_n or 0)}


def agent_queues(camp: Campaign) -> list[dict]:
    """Per agent with a quota or items: target, daily cap, absent, items by
    status, attempted, and the untouched items an absent agent could hand on.
    Two statements (plus the grid's two)."""
    grid = {a["staff_id"]: a for a in quota_grid(camp)}
    rows = db.session.execute(
        select(CampaignItem.staff_id, CampaignItem.status, func.count().label("n"),
               func.sum(case((CampaignItem.attempts > 0, 1), else_=0)).label("attempted"),
               func.sum(case((and_(CampaignItem.status == "queued", CampaignItem.attempts == 0,
                                   CampaignItem.claimed_at.is_(None)), 1), else_=0)).label("untouched"),
               func.sum(case((CampaignItem.value_class == "A", 1), else_=0)).label("a"),
               func.sum(case((CampaignItem.value_class == "B", 1), else_=0)).label("b"),
               func.sum(case((CampaignItem.value_class == "C", 1), else_=0)).label("c"))
        .where(CampaignItem.campaign_id == camp.id, CampaignItem.staff_id.is_not(None))
        .group_by(CampaignItem.staff_id, CampaignItem.status)).mappings().all()
    per = defaultdict(lambda: {"items": 0, "by_status": defaultdict(int), "attempted": 0, "untouched": 0,
                               "classes": {"A": 0, "B": 0, "C": 0}})
    for r in rows:
        p = per[r["staff_id"]]
        p["items"] += r["n"]
        p["by_status"][r["status"]] += r["n"]
        p["attempted"] += int(r["attempted"] or 0)
        p["untouched"] += int(r["untouched"] or 0)
        for k in "abc":
            p["classes"][k.upper()] += int(r[k] or 0)
    missing = [sid for sid in per if sid not in grid]
    if missing:
        for s in db.session.execute(select(Staff.id, Staff.employee_code, Staff.name)
                                    .where(Staff.id.in_(missing))).mappings():
            grid[s["id"]] = {"staff_id": s["id"], "employee_code": s["employee_code"], "name": s["name"],
                             "store_code": None, "languages": [], "target": 0, "daily_cap": None,
                             "absent": False, "has_quota": False}
    out = []
    for sid, a in sorted(grid.items(), key=lambda kv: kv[1]["employee_code"]):
        p = per[sid]
        out.append({**a, "items": p["items"], "by_status": dict(p["by_status"]), "attempted": p["attempted"],
                    "untouched": p["untouched"], "classes": p["classes"]})
    return out


def items(camp: Campaign, *, status: str | None = None, staff_id: int | None = None,
          after_id: int = 0, limit: int = 1000) -> list[dict]:
    """Items in id order from ``after_id`` (keyset pages), for the API."""
    q = (select(CampaignItem.id.label("item_id"), Client.ref.label("client_ref"),
                Staff.employee_code, CampaignItem.status, CampaignItem.attempts,
                CampaignItem.priority, CampaignItem.pool_reason)
         .join(Client, Client.id == CampaignItem.client_id)
         .outerjoin(Staff, Staff.id == CampaignItem.staff_id)
         .where(CampaignItem.campaign_id == camp.id, CampaignItem.id > after_id)
         .order_by(CampaignItem.id).limit(max(1, min(limit, ITEMS_PAGE_MAX))))
    if status:
        q = q.where(CampaignItem.status == status)
    if staff_id is not None:
        q = q.where(CampaignItem.staff_id == staff_id)
    return [dict(r) for r in db.session.execute(q).mappings()]


def agent_items(camp: Campaign, staff_id: int, *, page: int = 1, per_page: int = 50):
    """One agent's queue in priority order, with client names; one page and the total."""
    q = (select(CampaignItem.id, CampaignItem.status, CampaignItem.attempts, CampaignItem.priority,
                CampaignItem.value_class, CampaignItem.days_since, CampaignItem.language,
                Client.ref.label("client_ref"), Client.first_name, Client.last_name,
                Store.code.label("store_code"), func.count().over().label("total"))
         .join(Client, Client.id == CampaignItem.client_id)
         .join(Store, Store.id == CampaignItem.store_id)
         .where(CampaignItem.campaign_id == camp.id, CampaignItem.staff_id == staff_id)
         .order_by(CampaignItem.priority)
         .limit(per_page).offset((max(1, page) - 1) * per_page))
    rows = [dict(r) for r in db.session.execute(q).mappings()]
    return rows, (int(rows[0]["total"]) if rows else 0)


def campaign_list() -> list[dict]:
    """Every campaign, newest first, with its items by status. Two statements."""
    camps = list(db.session.scalars(select(Campaign).order_by(Campaign.id.desc())))
    per = defaultdict(lambda: defaultdict(int))
    for cid, status, n in db.session.execute(
            select(CampaignItem.campaign_id, CampaignItem.status, func.count())
            .group_by(CampaignItem.campaign_id, CampaignItem.status)):
        per[cid][status] = n
    out = []
    for c in camps:
        s = per[c.id]
        total = sum(s.values())
        out.append({"campaign": c, "eligible": total, "pool": s["pool"], "holdout": s["holdout"],
                    "assigned": total - s["pool"] - s["holdout"]})
    return out


def holds_client(staff_id: int, client_id: int) -> bool:
    """Is the client in this agent's own queue (an open item of an active or
    paused campaign)? One statement."""
    return db.session.scalar(
        select(CampaignItem.id)
        .join(Campaign, Campaign.id == CampaignItem.campaign_id)
        .where(CampaignItem.staff_id == staff_id, CampaignItem.client_id == client_id,
               CampaignItem.status.in_(("queued", "claimed", "callback", "retry")),
               Campaign.status.in_(("active", "paused")))
        .limit(1)) is not None

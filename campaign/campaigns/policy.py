"""The contact policy (SPEC §4): the one place that says whether a client may
be put in a call queue, and why not.

``assess`` returns one ``Select`` with a row per targeted client: the segment
columns the queue needs, one boolean column per exclusion reason, ``reason``
(the first that holds, in ``rules.REASONS`` order, NULL when the client may
be queued) and, for a campaign, ``holdout``. Everything reads it: the
campaign preview counts it, assignment inserts from it, the client card
explains a single client with it, so the three can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import String, and_, case, exists, func, literal, not_, or_, select
from sqlalchemy.sql import Select

from ..accounts.models import Store
from ..clients.models import Client, Contact, Visit
from ..clients.queries import client_segments
from ..clients.rules import COUNTRY_LANGUAGE
from ..extensions import db
from . import rules
from .models import OPEN_ITEM_STATUSES, Campaign, CampaignItem


@dataclass
class Target:
    """A campaign's target filter (empty list = every value), store ids resolved."""

    buckets: list = field(default_factory=list)
    tiers: list = field(default_factory=list)
    value_classes: list = field(default_factory=list)
    store_ids: list = field(default_factory=list)
    languages: list = field(default_factory=list)
    last_services: list = field(default_factory=list)

    @classmethod
    def of(cls, campaign: Campaign) -> "Target":
        return cls(list(campaign.buckets or []), list(campaign.tiers or []),
                   list(campaign.value_classes or []), list(campaign.store_ids or []),
                   list(campaign.languages or []), list(campaign.last_services or []))


def effective_language(client_language, store_country):
    """The client's language, else the main language of the store's country."""
    return func.coalesce(client_language,
                         case(COUNTRY_LANGUAGE, value=store_country, else_=literal(None, String)))


def _xor(a, b):
    # Portable XOR of non-negative integers (SQLite has no XOR operator).
    return a + b - 2 * a.op("&")(b)


def holdout_value(client_id, seed: int):
    """SQL twin of ``rules.holdout_hash`` (same integers on SQLite and PostgreSQL)."""
    mask = literal(0xFFFFFFFF)
    h = (client_id * literal(2654435761) + literal(int(seed))) % literal(4294967291)
    h = _xor(h, h.op(">>")(literal(15)))
    h = (h * literal(1597334677)).op("&")(mask)
    h = _xor(h, h.op(">>")(literal(13)))
    h = (h * literal(1103515245)).op("&")(mask)
    return h % literal(10000)


def _contact_facts(now: datetime, cooldown_days: int):
    """Per client with any contact: lifetime contacts, whether one in the
    cooldown window reached them, whether they were wronged (an open
    complaint, or a service-failure reason given on a call)."""
    since = now - timedelta(days=cooldown_days)
    wronged = or_(and_(Contact.disposition == "complaint", Contact.resolved_at.is_(None)),
                  Contact.reason.in_(rules.SERVICE_FAILURE_REASONS))
    return (select(Contact.client_id.label("client_id"),
                   func.count().label("contacts"),
                   func.max(case((and_(Contact.reached, Contact.at > since), 1), else_=0)).label("recent"),
                   func.max(case((wronged, 1), else_=0)).label("wronged"))
            .group_by(Contact.client_id).subquery("pol_contacts"))


def _booked(now: datetime):
    """Clients with an upcoming booking: a visit dated after now (point-of-sale
    systems export appointments that way) or an appointment agreed on a call."""
    future_visits = select(Visit.client_id.label("client_id")).where(
        Visit.visited_at > now, Visit.status != "cancelled")
    agreed = select(CampaignItem.client_id.label("client_id")).where(CampaignItem.booked_for > now)
    u = future_visits.union(agreed).subquery("pol_booked_u")
    return select(u.c.client_id).distinct().subquery("pol_booked")


def _in_other_campaigns(campaign_id: int | None):
    """Clients holding an open item of an active or paused campaign (not this one)."""
    q = (select(CampaignItem.client_id.label("client_id"))
         .join(Campaign, Campaign.id == CampaignItem.campaign_id)
         .where(Campaign.status.in_(("active", "paused")),
                CampaignItem.status.in_(OPEN_ITEM_STATUSES)))
    if campaign_id is not None:
        q = q.where(CampaignItem.campaign_id != campaign_id)
    return q.distinct().subquery("pol_other")


def assess(as_of: date | None, *, now: datetime, target: Target | None = None,
           campaign_id: int | None = None, holdout: tuple[int, int] | None = None,
           client_ids=None) -> Select:
    """One row per targeted client with the policy's verdict.

    Columns: client_id, client_ref, store_id, language (the client's, else
    their store country's), bucket, tier, value_class, days_since,
    last_visit_date, completed_visits, lifetime_spend, no_shows, wronged, one
    boolean ``r_<reason>`` per reason of ``rules.REASONS``, ``reason`` (the
    first that holds; NULL = may be queued) and ``holdout`` (0/1; only with
    ``holdout=(seed, basis_points)``, and only for clients who may be queued).

    ``now`` (UTC, naive) dates the cooldown and the upcoming bookings;
    ``as_of`` the segments. ``campaign_id`` is left out of "already in
    another active campaign". ``target`` narrows the clients considered (the
    value classes are still ranked over the whole chain).
    """
    cfg = current_app.config
    cooldown, cap = int(cfg["CONTACT_COOLDOWN_DAYS"]), int(cfg["CONTACT_CAP"])
    target = target or Target()
    seg = client_segments(as_of, store_ids=target.store_ids or None, client_ids=client_ids,
                          with_overdue=False).subquery("pol_seg")
    facts = _contact_facts(now, cooldown)
    booked = _booked(now)
    other = _in_other_campaigns(campaign_id)
    language = effective_language(Client.language, Store.country)

    flags = {
        "do_not_contact": Client.do_not_contact,
        "moved_away": Client.moved_away,
        "no_call_consent": not_(Client.consent_call),
        "banned": seg.c.banned,
        "no_phone": or_(not_(Client.phone_callable), Client.phone.is_(None)),
        "never_visited": and_(seg.c.tier == "never", not_(Client.contact_requested)),
        "upcoming_booking": booked.c.client_id.is_not(None),
        "in_other_campaign": other.c.client_id.is_not(None),
        "cooldown": func.coalesce(facts.c.recent, 0) == 1,
        "contact_cap": func.coalesce(facts.c.contacts, 0) >= cap,
    }
    assert tuple(flags) == rules.REASONS
    first = case(*[(cond, literal(name, String)) for name, cond in flags.items()],
                 else_=literal(None, String))
    cols = [
        seg.c.client_id, Client.ref.label("client_ref"), seg.c.store_id, language.label("language"),
        seg.c.bucket, seg.c.tier, seg.c.value_class, seg.c.days_since, seg.c.last_visit_date,
        seg.c.completed_visits, seg.c.lifetime_spend, seg.c.no_shows,
        (func.coalesce(facts.c.wronged, 0) == 1).label("wronged"),
        *[case((cond, 1), else_=0).label(f"r_{name}") for name, cond in flags.items()],
        first.label("reason"),
    ]
    if holdout is not None:
        seed, bp = holdout
        cols.append(case((and_(first.is_(None), holdout_value(seg.c.client_id, seed) < bp), 1),
                         else_=0).label("holdout"))
    q = (select(*cols)
         .select_from(seg)
         .join(Client, Client.id == seg.c.client_id)
         .join(Store, Store.id == seg.c.store_id)
         .outerjoin(facts, facts.c.client_id == seg.c.client_id)
         .outerjoin(booked, booked.c.client_id == seg.c.client_id)
         .outerjoin(other, other.c.client_id == seg.c.client_id))
    if target.buckets:
        q = q.where(seg.c.bucket.in_(target.buckets))
    if target.tiers:
        q = q.where(seg.c.tier.in_(target.tiers))
    if target.value_classes:
        classes = [c for c in target.value_classes if c != "none"]
        cond = seg.c.value_class.in_(classes)
        if "none" in target.value_classes:
            cond = or_(cond, seg.c.value_class.is_(None))
        q = q.where(cond)
    if target.languages:
        q = q.where(language.in_(target.languages))
    if target.last_services:
        wanted = [s.lower() for s in target.last_services]
        q = q.where(exists().where(Visit.client_id == seg.c.client_id, Visit.status == "completed",
                                   Visit.local_date == seg.c.last_visit_date,
                                   func.lower(Visit.service).in_(wanted)))
    return q


def priority_order(rows):
    """SPEC §5 priority over a row source with wronged, value_class,
    days_since and client_ref: wronged first; then A, B, C (no class last);
    fresher dormancy (fewer days) first; then client_ref."""
    return (case((rows.c.wronged, 0), else_=1),
            case((rows.c.value_class.is_(None), 1), else_=0), rows.c.value_class,
            case((rows.c.days_since.is_(None), 1), else_=0), rows.c.days_since,
            rows.c.client_ref)


def verdict_counts(rows) -> Select:
    """Totals over an ``assess`` subquery: targeted, eligible, holdout, and per
    reason both the clients excluded by it first (``x_<reason>``, these add
    up to the excluded total) and every client it holds for (``any_<reason>``)."""
    cols = [func.count().label("targeted"),
            func.sum(case((rows.c.reason.is_(None), 1), else_=0)).label("eligible")]
    if "holdout" in rows.c:
        cols.append(func.sum(rows.c.holdout).label("holdout"))
    for name in rules.REASONS:
        cols.append(func.sum(case((rows.c.reason == name, 1), else_=0)).label(f"x_{name}"))
        cols.append(func.sum(rows.c[f"r_{name}"]).label(f"any_{name}"))
    return select(*cols)


def _int(v) -> int:
    return int(v or 0)


def client_status(client_id: int, *, now: datetime, as_of: date | None = None) -> dict:
    """The policy for one client, for the card: ``may_queue`` and every
    reason that holds, in words. Two statements."""
    row = db.session.execute(assess(as_of, now=now, client_ids=[client_id])).mappings().one_or_none()
    if row is None:
        return {"may_queue": False, "reasons": []}
    cfg = current_app.config
    reasons = [{"code": name,
                "label": rules.REASON_LABELS[name],
                "sentence": rules.reason_sentence(name, cooldown_days=int(cfg["CONTACT_COOLDOWN_DAYS"]),
                                                  contact_cap=int(cfg["CONTACT_CAP"]))}
               for name in rules.REASONS if row[f"r_{name}"]]
    campaigns = db.session.execute(
        select(Campaign.id, Campaign.name, Campaign.status, CampaignItem.status.label("item_status"))
        .join(CampaignItem, CampaignItem.campaign_id == Campaign.id)
        .where(CampaignItem.client_id == client_id)
        .order_by(Campaign.id.desc())).mappings().all()
    return {"may_queue": not reasons, "reasons": reasons, "language": row["language"],
            "wronged": bool(row["wronged"]), "campaigns": [dict(c) for c in campaigns]}


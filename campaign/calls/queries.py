"""What the agent's workspace and the complaint list read.

The workspace card is built from one client's rows only (its visits through
the client index, its contacts), never by ranking every client: the value
class is the one the campaign fixed at launch. Each function is a handful of
indexed statements, so "next client" stays fast at millions of clients.
"""
from __future__ import annotations

import functools
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import BigInteger, and_, bindparam, case, cast, func, select, true
from sqlalchemy.orm import aliased

from ..accounts.models import Staff, Store
from ..campaigns.models import Campaign, CampaignItem, Quota
from ..campaigns.rules import OFFERS
from ..clients import rules as client_rules
from ..clients.models import Client, Contact, Visit
from ..core import clock
from ..extensions import db
from ..scripts import services as scripts
from . import rules
from .models import Outcome
from .services import day_start


@functools.lru_cache(maxsize=1)
def _card_statements():
    """The card's two statements, built once (bound: client_id, today)."""
    completed = Visit.status == "completed"
    mine = and_(Visit.client_id == bindparam("client_id"), Visit.local_date <= bindparam("today"))
    agg = (select(func.sum(case((completed, 1), else_=0)).label("visits"),
                  cast(func.sum(case((completed, func.coalesce(Visit.amount, 0)), else_=0)), BigInteger)
                  .label("spend"),
                  func.sum(case((Visit.status == "no_show", 1), else_=0)).label("no_shows"))
           .where(mine).subquery())
    last_id = (select(Visit.id).where(mine, completed)
               .order_by(Visit.local_date.desc(), Visit.visited_at.desc(), Visit.id.desc()).limit(1)
               .scalar_subquery())
    # Columns, not entities: the hot path needs no ORM identity bookkeeping.
    main = (select(Client.id, Client.ref, Client.first_name, Client.last_name, Client.phone,
                   Client.phone_callable, Client.email, Client.language, Client.consent_call, Client.consent_sms,
                   Client.consent_email, Client.consent_post, Client.do_not_contact, Client.notes,
                   Store.code.label("store_code"), Store.name.label("store_name"),
                   Store.timezone.label("store_timezone"), Store.currency.label("store_currency"),
                   agg.c.visits, agg.c.spend, agg.c.no_shows, Visit.local_date, Visit.service,
                   Visit.amount, Visit.served_by, Staff.name.label("staff_name"))
            .select_from(Client).join(Store, Store.id == Client.store_id).join(agg, true())
            .outerjoin(Visit, Visit.id == last_id)
            .outerjoin(Staff, Staff.employee_code == Visit.served_by)
            .where(Client.id == bindparam("client_id")))
    history = (select(Contact.id, Contact.at, Contact.channel, Contact.reached, Contact.disposition,
                      Contact.reason, Contact.resolved_at, Staff.name.label("staff_name"),
                      Campaign.name.label("campaign"))
               .outerjoin(Staff, Staff.id == Contact.staff_id)
               .outerjoin(Campaign, Campaign.id == Contact.campaign_id)
               .where(Contact.client_id == bindparam("client_id"))
               .order_by(Contact.at.desc(), Contact.id.desc()).limit(50))
    return main, history


def card(client_id: int, *, value_class: str | None = None, timezone: str | None = None) -> dict:
    """The client card of SPEC §6 for the call: two statements (the client
    with their store, visit totals and last visit; their contacts), three when
    the store's time zone is not given."""
    if timezone is None:
        timezone = db.session.scalar(select(Store.timezone).join(Client, Client.store_id == Store.id)
                                     .where(Client.id == client_id))
    today = clock.local_today(timezone)
    main, history_q = _card_statements()
    row = db.session.execute(main, {"client_id": client_id, "today": today}).one()
    c = row
    last = row if row.local_date is not None else None
    history = db.session.execute(history_q, {"client_id": client_id}).mappings().all()
    visits = int(row.visits or 0)
    days_since = (today - last.local_date).days if last else None
    bounds = tuple(current_app.config["BUCKET_BOUNDS"])
    return {
        "client_id": c.id, "client_ref": c.ref, "first_name": c.first_name, "last_name": c.last_name,
        "name": client_rules.full_name(c.first_name, c.last_name, c.language), "phone": c.phone, "phone_callable": bool(c.phone_callable), "email": c.email,
        "language": c.language,
        "store": {"code": c.store_code, "name": c.store_name, "timezone": c.store_timezone,
                  "currency": c.store_currency},
        "consent_call": bool(c.consent_call), "consent_sms": bool(c.consent_sms),
        "consent_email": bool(c.consent_email), "consent_post": bool(c.consent_post),
        "do_not_contact": bool(c.do_not_contact), "notes": c.notes,
        "tier": client_rules.tier_for(visits), "bucket": client_rules.bucket_for(days_since, bounds),
        "value_class": value_class, "days_since": days_since,
        "visits": visits, "spend": int(row.spend or 0), "currency": c.store_currency,
        "no_shows": int(row.no_shows or 0),
        "last_visit": None if last is None else {
            "date": last.local_date.isoformat(), "service": last.service, "amount": last.amount,
            "served_by": last.staff_name or last.served_by},
        "contacts": [{"at": h["at"].isoformat() + "Z", "channel": h["channel"], "reached": bool(h["reached"]),
                      "disposition": h["disposition"], "reason": h["reason"],
                      "open_complaint": h["disposition"] == "complaint" and h["resolved_at"] is None,
                      "staff": h["staff_name"], "campaign": h["campaign"]} for h in history],
    }


def _english(text: str, **values) -> str:
    return text % values if values else text


def warnings(card_: dict, _=_english) -> list[str]:
    """What must stand out on the card (SCREENS.md): complaints, no-shows, notes.
    In English (the API's words); a page passes ``gettext`` as ``_``."""
    out = []
    if any(h["open_complaint"] for h in card_["contacts"]):
        out.append(_("Open complaint: apologise first and listen."))
    elif any(h["disposition"] == "complaint" for h in card_["contacts"]):
        out.append(_("Complained before."))
    if card_["no_shows"]:
        out.append(_("No-shows: %(n)s.", n=card_["no_shows"]))
    if not card_["consent_sms"]:
        out.append(_("No SMS consent: no text follow-up."))
    return out


def script_context(card_: dict, staff: Staff, offer_label: str | None) -> dict:
    last = card_["last_visit"] or {}
    return {"first_name": card_["first_name"], "last_name": card_["last_name"], "full_name": card_["name"],
            "agent_name": staff.name, "store_name": card_["store"]["name"],
            "last_service": last.get("service"), "last_visit_date": last.get("date"),
            "days_since": card_["days_since"], "offer": offer_label}


def progress(staff: Staff, now: datetime, campaign_id: int | None = None) -> list[dict]:
    """Per active campaign of the agent: quota, daily cap, calls today, what is
    left, callbacks due. Two statements."""
    naive = clock.naive_utc(now)
    since = day_start(staff.store.timezone if staff.store else None, now)
    expiry = naive - timedelta(minutes=rules.CLAIM_MINUTES)
    mine = CampaignItem.staff_id == staff.id
    open_ = CampaignItem.status.in_(("queued", "claimed", "callback", "retry"))
    q = (select(Campaign.id, Campaign.name, Quota.target, Quota.daily_cap,
                func.count(CampaignItem.id).label("assigned"),
                func.sum(case((open_, 1), else_=0)).label("open"),
                func.sum(case(((CampaignItem.status == "callback") & (CampaignItem.due_at <= naive), 1),
                              else_=0)).label("callbacks_due"),
                func.sum(case(((CampaignItem.status == "callback") & (CampaignItem.due_at > naive), 1),
                              else_=0)).label("callbacks_later"),
                func.sum(case(((CampaignItem.status == "retry") & (CampaignItem.due_at > naive), 1),
                              else_=0)).label("retries_later"),
                func.sum(case(((CampaignItem.status == "claimed") & (CampaignItem.claimed_at > expiry), 1),
                              else_=0)).label("held"),
                func.sum(case((CampaignItem.status == "closed", 1), else_=0)).label("done"),
                func.min(case((CampaignItem.status.in_(("callback", "retry")), CampaignItem.due_at),
                              else_=None)).label("next_due"))
         .join(Quota, (Quota.campaign_id == Campaign.id) & (Quota.staff_id == staff.id))
         .outerjoin(CampaignItem, (CampaignItem.campaign_id == Campaign.id) & mine)
         .where(Campaign.status == "active")
         .group_by(Campaign.id, Campaign.name, Quota.target, Quota.daily_cap)
         .order_by(Campaign.id))
    if campaign_id is not None:
        q = q.where(Campaign.id == campaign_id)
    rows = db.session.execute(q).mappings().all()
    calls = dict(db.session.execute(
        select(Outcome.campaign_id, func.count(Outcome.id))
        .where(Outcome.staff_id == staff.id, Outcome.at >= since, Outcome.corrects_id.is_(None))
        .group_by(Outcome.campaign_id)).all())
    out = []
    for r in rows:
        today = int(calls.get(r["id"], 0))
        open_n = int(r["open"] or 0)
        cap = r["daily_cap"]
        left = open_n if cap is None else max(0, min(open_n, cap - today))
        out.append({"campaign_id": r["id"], "name": r["name"], "target": r["target"], "daily_cap": cap,
                    "calls_today": today, "left_today": left, "open": open_n,
                    "assigned": int(r["assigned"] or 0), "done": int(r["done"] or 0),
                    "callbacks_due": int(r["callbacks_due"] or 0),
                    "waiting": int(r["callbacks_later"] or 0) + int(r["retries_later"] or 0),
                    "held": int(r["held"] or 0), "next_due": r["next_due"]})
    return out


def item_outcomes(item_id: int) -> list[dict]:
    """An item's outcomes, newest first, with what corrected what."""
    rows = db.session.execute(
        select(Outcome.id, Outcome.at, Outcome.disposition, Outcome.reason, Outcome.notes,
               Outcome.corrects_id, Staff.name.label("staff_name"))
        .join(Staff, Staff.id == Outcome.staff_id)
        .where(Outcome.item_id == item_id).order_by(Outcome.id.desc())).mappings().all()
    return [dict(r) for r in rows]


def last_outcome(staff: Staff) -> dict | None:
    """The agent's latest outcome that no later outcome corrects (what "correct
    my last outcome" offers), with the client's name and store time zone."""
    later = aliased(Outcome)
    row = db.session.execute(
        select(Outcome.id, Outcome.item_id, Outcome.at, Outcome.disposition, Client.first_name,
               Client.last_name, Client.language, Client.ref, Store.timezone)
        .join(Client, Client.id == Outcome.client_id).join(Store, Store.id == Client.store_id)
        .where(Outcome.staff_id == staff.id,
               ~select(later.id).where(later.corrects_id == Outcome.id).exists())
        .order_by(Outcome.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def complaints(*, open_only: bool = True, page: int = 1, per_page: int = 50, campaign_id: int | None = None):
    """The managers' complaint list: complaint outcomes, open first, newest
    first (of one campaign when ``campaign_id`` is given)."""
    base = (select(Contact.id, Contact.at, Contact.resolved_at, Contact.reason,
                   Client.ref.label("client_ref"), Client.first_name, Client.last_name, Client.language,
                   Client.phone, Store.name.label("store"), Staff.name.label("agent"), Campaign.name.label("campaign"),
                   Outcome.notes)
            .join(Client, Client.id == Contact.client_id)
            .join(Store, Store.id == Client.store_id)
            .outerjoin(Staff, Staff.id == Contact.staff_id)
            .outerjoin(Campaign, Campaign.id == Contact.campaign_id)
            .outerjoin(Outcome, (Outcome.contact_id == Contact.id) & (Outcome.disposition == "complaint"))
            .where(Contact.disposition == "complaint"))
    if open_only:
        base = base.where(Contact.resolved_at.is_(None))
    if campaign_id is not None:
        base = base.where(Contact.campaign_id == campaign_id)
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    rows = db.session.execute(base.order_by(Contact.resolved_at.is_not(None), Contact.at.desc(),
                                            Contact.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).mappings().all()
    return total, [dict(r) for r in rows]


def workspace(claim, staff: Staff, now: datetime) -> dict:
    """Everything the call needs once an item is claimed: the item, the card,
    the script rendered for this client in their language, the offers. The
    claim already carries the item's and the campaign's fields."""
    camp = claim.campaign
    card_ = card(claim.client_id, value_class=claim.value_class, timezone=claim.timezone)
    offers = [{"key": k, "label": OFFERS[k]} for k in camp["offers"] if k in OFFERS]
    offer_label = offers[0]["label"] if offers else None
    return {
        "item_id": claim.item_id, "campaign_id": claim.campaign_id, "campaign": camp["name"],
        "claim": claim.token, "claimed_at": claim.claimed_at.isoformat() + "Z",
        "expires_at": claim.expires_at.isoformat() + "Z",
        "attempts": claim.attempts, "max_attempts": camp["max_attempts"],
        "returned_from": claim.claimed_from,
        "client": card_, "warnings": warnings(card_), "offers": offers,
        "script": scripts.render(camp["script_id"], card_["language"],
                                 script_context(card_, staff, offer_label)),
    }


def why_nothing(progress_rows: list[dict], _=_english) -> str:
    """Why "next client" found nothing, in words, from the progress rows (a page
    passes ``gettext`` as ``_``)."""
    if not progress_rows:
        return _("You have no active campaign: a manager gives you a quota and launches one.")
    if all(p["open"] == 0 for p in progress_rows):
        return _("Your queue is empty: every client given to you has been called to the end.")
    if all(p["daily_cap"] is not None and p["calls_today"] >= p["daily_cap"] and not p["callbacks_due"]
           for p in progress_rows if p["open"]):
        return _("You have reached today's call cap. Promised callbacks still come when they are due.")
    if all(p["open"] == p["waiting"] + p["held"] for p in progress_rows):
        due = [p["next_due"] for p in progress_rows if p["next_due"]]
        text = _("Every client left is waiting for an agreed callback time or a retry delay.")
        if due:
            text += " " + _("The next one is due at %(at)s UTC.", at=min(due).strftime("%Y-%m-%d %H:%M"))
        return text
    return _("It is outside calling hours in your clients' store time zones (or your other tabs hold "
             "the rest). Try again later.")

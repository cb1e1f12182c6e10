"""Use-cases of the call: claim the next client, log an outcome, resolve a complaint.

The database decides every race: a claim is one ``UPDATE … WHERE id =
(SELECT … FOR UPDATE SKIP LOCKED) … RETURNING`` (on SQLite the single
statement holds the write lock from its start), and an outcome changes its
item with a conditional ``UPDATE`` that must match the state it was computed
from, or answers 409. Services flush, never commit.
"""
from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, false, func, literal, null, or_, select, union_all, update
from sqlalchemy.orm.attributes import set_committed_value

from ..accounts.models import Staff, Store
from ..campaigns.models import Campaign, CampaignItem, Quota
from ..campaigns.rules import InputErrors
from ..clients import services as client_services
from ..clients.models import Client, Contact
from ..core import audit, clock
from ..core.errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..outbox import services as outbox
from ..scoring import marks as scores
from ..scripts import services as scripts
from . import rules
from .models import Outcome

WORKING = ("queued", "claimed", "callback", "retry")


def day_start(tz_name: str | None, now: datetime) -> datetime:
    """Midnight of the agent's day (their store's time zone, else UTC), naive UTC."""
    tz = ZoneInfo(tz_name) if tz_name else timezone.utc
    local = now.astimezone(tz)
    return clock.naive_utc(datetime.combine(local.date(), time(0), tzinfo=tz))


def _in_hours(start: time, end: time, local_now: datetime) -> bool:
    t = local_now.time()
    return start <= t < end


# ------------------------------------------------------------------ claiming

@dataclass(frozen=True)
class Claim:
    item_id: int
    campaign_id: int
    client_id: int
    token: str
    claimed_at: datetime  # naive UTC
    expires_at: datetime  # naive UTC
    value_class: str | None = None
    attempts: int = 0
    claimed_from: str | None = None
    campaign: dict | None = None  # name, max_attempts, script_id, offers (what the workspace shows)
    timezone: str | None = None  # the client's store's


@functools.lru_cache(maxsize=4)
def _campaigns_statement(one_campaign: bool):
    """Built once per process (only the bound values change per call): the
    agent's active campaigns, then every store's time zone, in one result
    (rows of the second part have no campaign id)."""
    calls_today = (select(func.count(Outcome.id))
                   .where(Outcome.staff_id == bindparam("me"), Outcome.campaign_id == Campaign.id,
                          Outcome.at >= bindparam("since"), Outcome.corrects_id.is_(None))
                   .scalar_subquery())
    camps = (select(Campaign.id, Campaign.name, Campaign.call_start, Campaign.call_end, Campaign.max_attempts,
                    Campaign.script_id, Campaign.offers, Quota.daily_cap, calls_today.label("calls_today"),
                    null().label("store_id"), null().label("timezone"))
             .join(Quota, Quota.campaign_id == Campaign.id)
             .where(Quota.staff_id == bindparam("me"), Campaign.status == "active"))
    if one_campaign:
        camps = camps.where(Campaign.id == bindparam("campaign_id"))
    stores = select(null(), null(), null(), null(), null(), null(), null(), null(), null(),
                    Store.id, Store.timezone)
    return union_all(camps, stores)


def _open_campaigns(staff: Staff, now: datetime, campaign_id: int | None) -> tuple[list, dict]:
    """The agent's active campaigns with today's call count, and every store's
    time zone: one statement."""
    since = day_start(staff.store.timezone if staff.store else None, now)
    params = {"me": staff.id, "since": since}
    if campaign_id is not None:
        params["campaign_id"] = campaign_id
    campaigns, zones = [], {}
    for r in db.session.execute(_campaigns_statement(campaign_id is not None), params):
        if r.id is not None:
            campaigns.append(r)
        else:
            zones[r.store_id] = r.timezone
    return campaigns, zones


def _branches(campaigns, zones: dict, now: datetime):
    """Per campaign: the stores inside its calling hours now, and whether the
    day's cap leaves only promised callbacks."""
    local = {sid: now.astimezone(ZoneInfo(tz)) for sid, tz in zones.items()}
    out = []
    for c in campaigns:
        open_stores = [sid for sid, t in local.items() if _in_hours(c.call_start, c.call_end, t)]
        if open_stores:
            capped = c.daily_cap is not None and c.calls_today >= c.daily_cap
            out.append((c.id, open_stores, capped))
    return out


@functools.lru_cache(maxsize=64)
def _claim_statement(shape: tuple[bool, ...], postgres: bool):
    """The claim for agents whose open campaigns have this shape (one flag per
    campaign: its daily cap is reached). Built once per shape and process;
    campaign ids, store lists, the agent and the times are bound per call."""
    item = CampaignItem
    kind = case((item.status == "claimed", item.claimed_from), else_=item.status)
    rank = case((kind == "callback", 0), (kind == "retry", 1), else_=2)

    def where_open(callbacks_only: bool):
        parts = [and_(item.campaign_id == bindparam(f"c{i}"), item.store_id.in_(bindparam(f"s{i}", expanding=True)))
                 for i, capped in enumerate(shape) if callbacks_only or not capped]
        return or_(*parts) if parts else false()

    kinds = (
        # (rank, state, order, scope: True = capped campaigns too, False = uncapped only, None = expired claims)
        (0, and_(item.status == "callback", item.due_at <= bindparam("now")), (item.due_at, item.id), True),
        (1, and_(item.status == "retry", item.due_at <= bindparam("now")), (item.due_at, item.id), False),
        (None, and_(item.status == "claimed", item.claimed_at <= bindparam("expiry")),
         (item.claimed_at, item.id), None),
        (2, item.status == "queued", (item.priority, item.id), False),
    )
    firsts = []
    for r, cond, order, callbacks_only in kinds:
        if callbacks_only is False and all(shape):
            continue  # every campaign is capped: only callbacks
        if callbacks_only is None:  # an expired claim: any kind, of a capped campaign only a callback
            scope = or_(where_open(False), and_(where_open(True), item.claimed_from == "callback"))
        else:
            scope = where_open(callbacks_only)
        one = (select(item.id, (rank if r is None else literal(r)).label("r"),
                      item.due_at.label("due"), item.priority.label("prio"))
               .where(item.staff_id == bindparam("me"), cond, scope).order_by(*order).limit(1))
        if postgres:
            one = one.with_for_update(skip_locked=True)
        firsts.append(select(one.subquery()))
    best = union_all(*firsts).subquery()
    pick = select(best.c.id).order_by(best.c.r, best.c.due, best.c.prio, best.c.id).limit(1)
    return (update(item)
            .where(item.id == pick.scalar_subquery())
            .values(status="claimed", claimed_from=kind, claimed_at=bindparam("now"),
                    claim_token=bindparam("token"))
            .returning(item.id, item.campaign_id, item.client_id, item.value_class, item.attempts,
                       item.claimed_from, item.store_id))


def claim_next(staff: Staff, now: datetime, *, campaign_id: int | None = None) -> Claim | None:
    """Atomically take one item of the agent's own queue: due callbacks first,
    then due retries, then fresh items by priority; an expired claim (older
    than 15 minutes) comes back in the place it had. Only items of active
    campaigns whose client's store is inside the calling hours; a campaign
    whose daily cap is reached gives only callbacks. None when nothing is due.

    Two statements: the campaigns, then one ``UPDATE … WHERE id = (…)`` whose
    inner query takes the first row of each kind through an index (each
    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and keeps the best of them.
    """
    campaigns, zones = _open_campaigns(staff, now, campaign_id)
    branches = _branches(campaigns, zones, now)
    if not branches:
        return None
    naive, token = clock.naive_utc(now), secrets.token_hex(16)
    params = {"me": staff.id, "now": naive, "expiry": naive - timedelta(minutes=rules.CLAIM_MINUTES),
              "token": token}
    for i, (cid, stores, _capped) in enumerate(branches):
        params[f"c{i}"], params[f"s{i}"] = cid, stores
    shape = tuple(capped for _c, _s, capped in branches)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    row = db.session.execute(_claim_statement(shape, postgres), params,
                             execution_options={"synchronize_session": False}).first()
    if row is None:
        return None
    camp = next(c for c in campaigns if c.id == row.campaign_id)
    return Claim(row.id, row.campaign_id, row.client_id, token, naive,
                 naive + timedelta(minutes=rules.CLAIM_MINUTES), row.value_class, row.attempts,
                 row.claimed_from, {"name": camp.name, "max_attempts": camp.max_attempts,
                                    "script_id": camp.script_id, "offers": camp.offers or []},
                 zones.get(row.store_id))


def held_claim(staff: Staff, now: datetime) -> Claim | None:
    """The agent's most recent live claim (a reloaded page resumes it)."""
    naive = clock.naive_utc(now)
    row = db.session.execute(
        select(CampaignItem.id, CampaignItem.campaign_id, CampaignItem.client_id, CampaignItem.claim_token,
               CampaignItem.claimed_at, CampaignItem.value_class, CampaignItem.attempts,
               CampaignItem.claimed_from, Campaign.name, Campaign.max_attempts, Campaign.script_id,
               Campaign.offers, Store.timezone)
        .join(Campaign, Campaign.id == CampaignItem.campaign_id)
        .join(Store, Store.id == CampaignItem.store_id)
        .where(CampaignItem.staff_id == staff.id, CampaignItem.status == "claimed",
               CampaignItem.claimed_at > naive - timedelta(minutes=rules.CLAIM_MINUTES),
               Campaign.status == "active")
        .order_by(CampaignItem.claimed_at.desc(), CampaignItem.id.desc()).limit(1)).first()
    if row is None:
        return None
    return Claim(row.id, row.campaign_id, row.client_id, row.claim_token, row.claimed_at,
                 row.claimed_at + timedelta(minutes=rules.CLAIM_MINUTES), row.value_class, row.attempts,
                 row.claimed_from, {"name": row.name, "max_attempts": row.max_attempts,
                                    "script_id": row.script_id, "offers": row.offers or []}, row.timezone)


# ------------------------------------------------------------------ outcomes

def _invalid(exc: InputErrors) -> ValidationError:
    first = next(iter(exc.errors.items()))
    return ValidationError(f"{first[0]}: {first[1]}" if len(exc.errors) == 1
                           else f"{len(exc.errors)} fields need attention", details=exc.errors)


def _held_item(item_id: int, staff: Staff) -> tuple[CampaignItem, Campaign, Client]:
    """The item with its campaign and client (and the client's store): one statement."""
    row = db.session.execute(select(CampaignItem, Campaign, Client)
                             .join(Campaign, Campaign.id == CampaignItem.campaign_id)
                             .join(Client, Client.id == CampaignItem.client_id)
                             .where(CampaignItem.id == item_id)).first()
    if row is None:
        raise NotFound(f"no queue item {item_id}")
    if row[0].staff_id != staff.id:
        raise Forbidden("this client is not in your queue")
    return row


def _correction_target(o: rules.OutcomeInput, item: CampaignItem, staff: Staff) -> Outcome:
    old = db.session.get(Outcome, o.corrects)
    if old is None or old.item_id != item.id:
        raise ValidationError("corrects: no such outcome on this item",
                              details={"corrects": "is not an outcome of this item"})
    if old.staff_id != staff.id:
        raise Forbidden("only the agent who logged an outcome corrects it")
    latest = db.session.scalar(select(func.max(Outcome.id)).where(Outcome.item_id == item.id))
    if latest != old.id:
        raise Conflict("only the latest outcome of an item can be corrected")
    return old


def log_outcome(item_id: int, staff: Staff, data, now: datetime) -> Outcome:
    """Record an outcome on an item the agent holds and apply its effects
    (SPEC §6): the item's next state, the client's flags, the follow-ups.

    A correction (``corrects``: the item's latest outcome, by the same agent)
    is a new outcome that replaces the old one in every count: it re-decides
    the item's state without counting another attempt and rewrites the call's
    contact row; flags the corrected outcome set on the client stay (a manager
    clears them on the card).
    """
    item, camp, client = _held_item(item_id, staff)
    answered = isinstance(data, dict) and bool(data.get("answers"))
    try:
        o = rules.parse_outcome(data, now=now, tz=client.store.timezone,
                                answer_keys=scripts.answer_keys(camp.script_id) if answered else None)
    except InputErrors as exc:
        raise _invalid(exc) from None
    naive = clock.naive_utc(now)
    old = _correction_target(o, item, staff) if o.corrects is not None else None
    if old is None:
        if item.status != "claimed":
            raise Conflict("this client is not claimed: take it with “Next client” first")
        if o.claim is not None and o.claim != item.claim_token:
            raise Conflict("this client was taken again in another tab; log the outcome there")
    elif item.status == "claimed" and o.claim != item.claim_token:
        raise Conflict("this client is being called again; log a new outcome instead")
    change = rules.item_change(o, attempts=item.attempts, max_attempts=camp.max_attempts,
                               retry_delay_hours=camp.retry_delay_hours, now_naive=naive,
                               counts_attempt=old is None)
    guard = and_(CampaignItem.id == item.id, CampaignItem.status == item.status,
                 CampaignItem.attempts == item.attempts,
                 CampaignItem.claim_token == item.claim_token if item.claim_token
                 else CampaignItem.claim_token.is_(None))
    values = {"status": change.status, "attempts": change.attempts, "due_at": change.due_at,
              "booked_for": change.booked_for or item.booked_for,
              "closed_at": naive if change.status == "closed" else None,
              "close_reason": change.close_reason, "claim_token": None, "claimed_from": None}
    done = db.session.execute(update(CampaignItem).where(guard).values(**values)
                              .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict("this client changed meanwhile (another tab?); reload and try again")
    for key, value in values.items():  # the row as written, without reading it back
        set_committed_value(item, key, value)

    is_reached = rules.reached(o.disposition)
    if old is None:
        contact = Contact(client_id=client.id, channel="call", at=naive, reached=is_reached,
                          campaign_id=camp.id, staff_id=staff.id, disposition=o.disposition,
                          reason=o.reason)
        db.session.add(contact)
        db.session.flush()
    else:
        contact = db.session.get(Contact, old.contact_id)
        contact.reached, contact.disposition, contact.reason = is_reached, o.disposition, o.reason
    if old is None:
        call_at, local_date, team_id = naive, clock.local_today(client.store.timezone, now), staff.team_id
    else:
        call_at, local_date, team_id = old.call_at, old.local_date, old.team_id
    outcome = Outcome(item_id=item.id, campaign_id=camp.id, client_id=client.id, staff_id=staff.id,
                      at=naive, call_at=call_at, local_date=local_date, team_id=team_id,
                      disposition=o.disposition, reached=is_reached, reason=o.reason,
                      offer=o.offer, notes=o.notes, callback_at=o.callback_at, booked_at=o.booked_at,
                      service=o.service, consent=o.consent, answers=o.answers,
                      corrects_id=old.id if old else None, contact_id=contact.id)
    db.session.add(outcome)
    db.session.flush()
    # The leaderboard of this agent in this campaign is behind now; a reached
    # call (or a correction) may also change who converted this client.
    scores.mark_dirty([(staff.id, camp.id, client.id if (is_reached or old is not None) else 0)])
    _client_effects(o, client, staff, now)
    if old is None:
        _follow_ups(o, change, item, camp, client, now)
    elif change.status == "closed" and o.disposition not in ("booked",):
        outbox.cancel_pending(client.id, "corrected", now, campaign_id=camp.id)
    return outcome


def _client_effects(o: rules.OutcomeInput, client: Client, staff: Staff, now: datetime) -> None:
    target = f"client:{client.ref}"
    if o.consent is not None and bool(client.consent_call) != o.consent:
        client.consent_call = o.consent
        audit.record("client.consent_call", actor_id=staff.id, target=target, value=o.consent,
                     source="call")
    if o.disposition == "wrong_number" and client.phone_callable:
        client.phone_callable = False
        audit.record("client.phone_not_callable", actor_id=staff.id, target=target, source="call")
    elif o.disposition == "do_not_contact" and not client.do_not_contact:
        client_services.set_do_not_contact(client, f"Asked on a call with {staff.name}", staff.id)
        outbox.cancel_pending(client.id, "do_not_contact", now)
    elif o.disposition == "moved_away" and not client.moved_away:
        client_services.mark_moved_away(client, f"Said on a call with {staff.name}", staff.id)
        outbox.cancel_pending(client.id, "moved_away", now)


def _follow_ups(o, change: rules.ItemChange, item, camp, client, now) -> None:
    if o.disposition == "no_answer":
        outbox.after_no_answer(item, camp, client, now)
    if change.exhausted:
        outbox.after_attempts_exhausted(item, camp, client, now)
    if o.disposition == "booked":
        outbox.after_booking(item, camp, client, o.booked_at, o.service, now)


# ------------------------------------------------------------------ complaints

def resolve_complaint(contact_id: int, staff: Staff, note: str | None, now: datetime) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.disposition != "complaint":
        raise NotFound(f"no complaint {contact_id}")
    if contact.resolved_at is not None:
        raise Conflict("this complaint is already resolved")
    note = (note or "").strip()
    if not note:
        raise ValidationError("Say how it was resolved: it is kept in the audit log.",
                              details={"note": "is required"})
    if len(note) > rules.NOTES_MAX:
        raise ValidationError("The note is too long.", details={"note": f"at most {rules.NOTES_MAX} characters"})
    contact.resolved_at = clock.naive_utc(now)
    client = db.session.get(Client, contact.client_id)
    audit.record("complaint.resolve", actor_id=staff.id, target=f"client:{client.ref}",
                 contact_id=contact.id, note=note)
    db.session.flush()
    return contact

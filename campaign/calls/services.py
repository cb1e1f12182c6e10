"""Use-cases of the call: claim the next client, log an outcome, resolve a complaint.

The database decides every race: a claim is one ``UPDATE … WHERE id =
(SELECT … FOR UPDATE SKIP LOCKED) … RETURNING`` (on SQLite the single
statement holds the write lock from its start), and an outcome changes its
item with a conditional ``UPDATE`` that must match the state it was computed
from, or answers 409. Services flush, never commit.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select, update

from ..accounts.models import Staff, Store
from ..campaigns.models import Campaign, CampaignItem, Quota
from ..campaigns.rules import InputErrors
from ..clients import services as client_services
from ..clients.models import Client, Contact
from ..core import audit
from ..core.errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..outbox import services as outbox
from ..scripts import services as scripts
from . import rules
from .models import Outcome

WORKING = ("queued", "claimed", "callback", "retry")


def _naive(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(tzinfo=None)


def day_start(tz_name: str | None, now: datetime) -> datetime:
    """Midnight of the agent's day (their store's time zone, else UTC), naive UTC."""
    tz = ZoneInfo(tz_name) if tz_name else timezone.utc
    local = now.astimezone(tz)
    return _naive(datetime.combine(local.date(), time(0), tzinfo=tz))


def store_zones() -> dict[int, str]:
    """Every store's time zone (a few dozen rows at most)."""
    return dict(db.session.execute(select(Store.id, Store.timezone)).all())


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


def _claimable(staff: Staff, now: datetime, campaign_id: int | None):
    """The WHERE clause of "an item this agent may take now", built from the
    agent's active campaigns (calling hours per store time zone, daily cap).
    Two small statements; None when no campaign is open to them right now."""
    naive, me = _naive(now), staff.id
    zones = store_zones()
    since = day_start(zones.get(staff.store_id), now)
    calls_today = (select(func.count(Outcome.id))
                   .where(Outcome.staff_id == me, Outcome.campaign_id == Campaign.id,
                          Outcome.at >= since, Outcome.corrects_id.is_(None))
                   .scalar_subquery())
    q = (select(Campaign.id, Campaign.call_start, Campaign.call_end, Quota.daily_cap,
                calls_today.label("calls_today"))
         .join(Quota, Quota.campaign_id == Campaign.id)
         .where(Quota.staff_id == me, Campaign.status == "active"))
    if campaign_id is not None:
        q = q.where(Campaign.id == campaign_id)
    campaigns = db.session.execute(q).all()
    if not campaigns:
        return None
    local = {sid: now.astimezone(ZoneInfo(tz)) for sid, tz in zones.items()}
    kind = case((CampaignItem.status == "claimed", CampaignItem.claimed_from), else_=CampaignItem.status)
    branches = []
    for c in campaigns:
        open_stores = [sid for sid, t in local.items() if _in_hours(c.call_start, c.call_end, t)]
        if not open_stores:
            continue
        branch = and_(CampaignItem.campaign_id == c.id, CampaignItem.store_id.in_(open_stores))
        if c.daily_cap is not None and c.calls_today >= c.daily_cap:
            # The day's cap is reached: only promised callbacks still come.
            branch = and_(branch, kind == "callback")
        branches.append(branch)
    if not branches:
        return None
    expiry = naive - timedelta(minutes=rules.CLAIM_MINUTES)
    state = or_(CampaignItem.status == "queued",
                and_(CampaignItem.status.in_(("callback", "retry")), CampaignItem.due_at <= naive),
                and_(CampaignItem.status == "claimed", CampaignItem.claimed_at <= expiry))
    return and_(CampaignItem.staff_id == me, state, or_(*branches)), kind


def claim_next(staff: Staff, now: datetime, *, campaign_id: int | None = None) -> Claim | None:
    """Atomically take one item of the agent's own queue: due callbacks first,
    then due retries, then fresh items by priority; expired claims (older than
    15 minutes) come back in the place they had. None when nothing is due now.
    """
    built = _claimable(staff, now, campaign_id)
    if built is None:
        return None
    where, kind = built
    rank = case((kind == "callback", 0), (kind == "retry", 1), else_=2)
    pick = (select(CampaignItem.id).where(where)
            .order_by(rank, CampaignItem.due_at, CampaignItem.priority, CampaignItem.id).limit(1))
    if db.session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    naive, token = _naive(now), secrets.token_hex(16)
    row = db.session.execute(
        update(CampaignItem)
        .where(CampaignItem.id == pick.scalar_subquery())
        .values(status="claimed", claimed_from=kind, claimed_at=naive, claim_token=token)
        .returning(CampaignItem.id, CampaignItem.campaign_id, CampaignItem.client_id)
        .execution_options(synchronize_session=False)).first()
    if row is None:
        return None
    return Claim(row.id, row.campaign_id, row.client_id, token, naive,
                 naive + timedelta(minutes=rules.CLAIM_MINUTES))


def held_claim(staff: Staff, now: datetime) -> Claim | None:
    """The agent's most recent live claim (a reloaded page resumes it)."""
    naive = _naive(now)
    row = db.session.execute(
        select(CampaignItem.id, CampaignItem.campaign_id, CampaignItem.client_id,
               CampaignItem.claim_token, CampaignItem.claimed_at)
        .join(Campaign, Campaign.id == CampaignItem.campaign_id)
        .where(CampaignItem.staff_id == staff.id, CampaignItem.status == "claimed",
               CampaignItem.claimed_at > naive - timedelta(minutes=rules.CLAIM_MINUTES),
               Campaign.status == "active")
        .order_by(CampaignItem.claimed_at.desc(), CampaignItem.id.desc()).limit(1)).first()
    if row is None:
        return None
    return Claim(row.id, row.campaign_id, row.client_id, row.claim_token, row.claimed_at,
                 row.claimed_at + timedelta(minutes=rules.CLAIM_MINUTES))


# ------------------------------------------------------------------ outcomes

def _invalid(exc: InputErrors) -> ValidationError:
    first = next(iter(exc.errors.items()))
    return ValidationError(f"{first[0]}: {first[1]}" if len(exc.errors) == 1
                           else f"{len(exc.errors)} fields need attention", details=exc.errors)


def _held_item(item_id: int, staff: Staff) -> CampaignItem:
    item = db.session.get(CampaignItem, item_id)
    if item is None:
        raise NotFound(f"no queue item {item_id}")
    if item.staff_id != staff.id:
        raise Forbidden("this client is not in your queue")
    return item


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
    item = _held_item(item_id, staff)
    camp = db.session.get(Campaign, item.campaign_id)
    client = db.session.get(Client, item.client_id)
    try:
        o = rules.parse_outcome(data, now=now, tz=client.store.timezone,
                                answer_keys=scripts.answer_keys(camp.script_id, client.language))
    except InputErrors as exc:
        raise _invalid(exc) from None
    naive = _naive(now)
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
    done = db.session.execute(
        update(CampaignItem).where(guard).values(
            status=change.status, attempts=change.attempts, due_at=change.due_at,
            booked_for=change.booked_for if change.booked_for else CampaignItem.booked_for,
            closed_at=naive if change.status == "closed" else None,
            close_reason=change.close_reason, claim_token=None, claimed_from=None)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict("this client changed meanwhile (another tab?); reload and try again")
    db.session.refresh(item)

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
    outcome = Outcome(item_id=item.id, campaign_id=camp.id, client_id=client.id, staff_id=staff.id,
                      at=naive, disposition=o.disposition, reached=is_reached, reason=o.reason,
                      offer=o.offer, notes=o.notes, callback_at=o.callback_at, booked_at=o.booked_at,
                      service=o.service, consent=o.consent, answers=o.answers,
                      corrects_id=old.id if old else None, contact_id=contact.id)
    db.session.add(outcome)
    db.session.flush()
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
    contact.resolved_at = _naive(now)
    client = db.session.get(Client, contact.client_id)
    audit.record("complaint.resolve", actor_id=staff.id, target=f"client:{client.ref}",
                 contact_id=contact.id, note=note)
    db.session.flush()
    return contact

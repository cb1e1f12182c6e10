"""Use-cases that plan and stop follow-up messages. They add rows to the
caller's transaction (``flush``, never ``commit``): the outcome service calls
``after_*`` in the transaction of the outcome itself, so an outcome and its
follow-ups are saved together or not at all.

Idempotence: every planned message has a ``dedupe_key`` (``item:<id>:<kind>``)
under a unique constraint, inserted with ``ON CONFLICT DO NOTHING``; calling an
``after_*`` function again for the same item makes nothing new.

``now`` is an aware UTC datetime (``clock.now()``); stored times are naive UTC.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from ..clients.models import Client, Contact
from ..core import audit, clock
from ..core import jobs as core_jobs
from ..core.errors import Conflict
from ..core.models import Job
from ..core.dates import format_date
from ..core.sql import upsert
from ..extensions import db
from . import rules, texts
from .models import Message

log = logging.getLogger(__name__)

DISPATCH_JOB = "outbox_dispatch"
LETTER_KINDS = ("letter_1", "letter_2", "letter_3")
LETTER_SPACING = timedelta(days=7)
OFFER_DAYS = 7
REMINDER_BEFORE = timedelta(days=2)
_KICKED = "winback_outbox_kicked"


def facts_of(client: Client) -> rules.ClientFacts:
    return rules.ClientFacts(
        do_not_contact=bool(client.do_not_contact), moved_away=bool(client.moved_away),
        consent_sms=bool(client.consent_sms), consent_email=bool(client.consent_email),
        consent_post=bool(client.consent_post), phone=client.phone,
        phone_callable=bool(client.phone_callable), email=(client.email or "").strip() or None)


def contact_count(client_id: int) -> int:
    """Lifetime contacts (calls and messages) of a client, from ``contacts``."""
    return db.session.scalar(select(func.count()).select_from(Contact)
                             .where(Contact.client_id == client_id)) or 0


def recipient_for(channel: str, client: Client) -> str | None:
    if channel == "sms":
        return client.phone
    if channel == "email":
        return (client.email or "").strip() or None
    return None


def _store_tz(client: Client) -> ZoneInfo:
    try:
        return ZoneInfo(client.store.timezone)
    except Exception:  # an unknown zone name must not stop a follow-up
        return ZoneInfo("UTC")


def _first_offer(campaign) -> str | None:
    offers = getattr(campaign, "offers", None) or []
    return offers[0] if offers else None


def _insert(*, key: str, client: Client, campaign, item, channel: str, kind: str, due: datetime,
            now: datetime, offer_until=None, **values) -> Message | None:
    """Add one planned message unless its key exists; returns it, or None when it existed."""
    language, subject, body = texts.render(
        kind, rules.language_for(client.language), first_name=client.first_name,
        last_name=client.last_name or client.first_name, full_name=client.name,
        store_name=client.store.name if client.store else "", **values)
    stamp = clock.naive_utc(now)
    row = dict(dedupe_key=key, client_id=client.id, campaign_id=getattr(campaign, "id", None),
               item_id=getattr(item, "id", None), channel=channel, kind=kind, language=language,
               recipient=recipient_for(channel, client), subject=subject, body=body,
               offer_valid_until=offer_until, status="scheduled", due_at=clock.naive_utc(due), attempts=0,
               created_at=stamp, updated_at=stamp)
    stmt = (upsert(Message, db.session.get_bind()).values(**row).on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Message.id))
    new_id = db.session.execute(stmt).scalar()
    if new_id is None:
        return None
    msg = db.session.get(Message, new_id)
    if channel != "letter":  # letters wait for a manager's export
        kick() if msg.due_at <= stamp else schedule_tick(msg.due_at)
    return msg


def _blocked(channel: str, client: Client) -> str | None:
    return rules.block_reason(channel, facts_of(client), contact_count(client.id),
                              current_app.config["CONTACT_CAP"])


def after_no_answer(item, campaign, client, now) -> Message | None:
    """Plan the campaign's SMS after an unanswered call, at most once per queue item.

    Nothing is planned without SMS consent, a callable phone, when the client
    is do-not-contact or moved away, or the contact cap is reached. Returns the
    new message, or None (not allowed, or already planned for this item).
    """
    if _blocked("sms", client):
        return None
    language = rules.language_for(client.language)
    return _insert(key=f"item:{item.id}:no_answer_sms", client=client, campaign=campaign, item=item,
                   channel="sms", kind="no_answer_sms", due=now, now=now,
                   offer=texts.offer_text(_first_offer(campaign), language))


def after_attempts_exhausted(item, campaign, client, now) -> list[Message]:
    """Plan the three-letter sequence: now, +7 days, +14 days (DOMAIN.md).

    Each goes by e-mail when the client agreed to e-mail and has an address,
    else as a printed letter with post consent, else nothing. Each letter's
    offer is valid for 7 days from its own date (store local date). Returns
    the messages added (empty when none may be sent or all were planned).
    """
    facts = facts_of(client)
    channel = rules.letter_channel(facts)
    if channel is None or rules.block_reason(channel, facts, contact_count(client.id),
                                             current_app.config["CONTACT_CAP"]):
        return []
    language = rules.language_for(client.language)
    tz = _store_tz(client)
    offer = texts.offer_text(_first_offer(campaign), language)
    made = []
    for step, kind in enumerate(LETTER_KINDS):
        due = now + step * LETTER_SPACING
        valid_until = (due + timedelta(days=OFFER_DAYS)).astimezone(tz).date()
        msg = _insert(key=f"item:{item.id}:{kind}", client=client, campaign=campaign, item=item,
                      channel=channel, kind=kind, due=due, now=now, offer_until=valid_until,
                      offer=offer, valid_until=format_date(valid_until, language))
        if msg is not None:
            made.append(msg)
    return made


def after_booking(item, campaign, client, booked_at_utc, service, now) -> Message | None:
    """Plan the reminder SMS two days before a booking (date and time in the store's zone).

    Skipped when that moment has passed or SMS may not be sent. A booking of
    the same item at another time cancels the reminder of the old time.
    """
    if booked_at_utc.tzinfo is None:
        booked_at_utc = booked_at_utc.replace(tzinfo=timezone.utc)
    due = booked_at_utc - REMINDER_BEFORE
    stamp = clock.naive_utc(now)
    key = f"item:{item.id}:booking_reminder:{clock.naive_utc(booked_at_utc).isoformat(timespec='minutes')}"
    db.session.execute(
        update(Message).where(Message.item_id == item.id, Message.kind == "booking_reminder",
                              Message.status == "scheduled", Message.dedupe_key != key)
        .values(status="cancelled", cancel_reason="rebooked", updated_at=stamp)
        .execution_options(synchronize_session=False))
    if due <= now or _blocked("sms", client):
        return None
    language = rules.language_for(client.language)
    local = booked_at_utc.astimezone(_store_tz(client))
    return _insert(key=key, client=client, campaign=campaign, item=item, channel="sms",
                   kind="booking_reminder", due=due, now=now, service=service,
                   booking_date=format_date(local.date(), language),
                   booking_time=texts.format_time(local, language))


def cancel_pending(client_id, reason, now, *, campaign_id=None, channel=None) -> int:
    """Cancel a client's scheduled messages (do-not-contact, moved away, an
    opt-out…), optionally of one campaign or one channel. Messages already
    being sent are left to finish. Returns how many were cancelled."""
    stmt = (update(Message).where(Message.client_id == client_id, Message.status == "scheduled")
            .values(status="cancelled", cancel_reason=reason, updated_at=clock.naive_utc(now)))
    if campaign_id is not None:
        stmt = stmt.where(Message.campaign_id == campaign_id)
    if channel is not None:
        stmt = stmt.where(Message.channel == channel)
    result = db.session.execute(stmt.execution_options(synchronize_session="fetch"))
    return result.rowcount or 0


def cancel_message(message_id: int, *, actor_id: int | None, now) -> Message:
    """A manager cancels one scheduled message (409 once it is no longer scheduled)."""
    result = db.session.execute(
        update(Message).where(Message.id == message_id, Message.status == "scheduled")
        .values(status="cancelled", cancel_reason="manager", updated_at=clock.naive_utc(now))
        .execution_options(synchronize_session="fetch"))
    if not result.rowcount:
        raise Conflict("only a scheduled message can be cancelled; this one is no longer scheduled")
    msg = db.session.get(Message, message_id)
    audit.record("message.cancel", actor_id=actor_id, target=f"message:{message_id}",
                 client_id=msg.client_id, kind=msg.kind, channel=msg.channel)
    return msg


def inbound_sms(sender: str | None, text: str | None, now) -> dict:
    """An SMS from a client: an opt-out keyword withdraws SMS consent of every
    client with that phone (audited) and cancels their scheduled SMS. Anything
    else is only logged."""
    phone = rules.phone_key(sender)
    if not rules.is_stop(text) or not phone:
        log.info("inbound SMS from %s ignored (not an opt-out)", phone)
        return {"opt_out": False, "clients": 0, "cancelled": 0}
    clients = db.session.scalars(select(Client).where(Client.phone == phone)).all()
    cancelled = 0
    for client in clients:
        if client.consent_sms:
            client.consent_sms = False
            client.updated_at = clock.naive_utc(now)
            audit.record("client.sms_opt_out", actor_id=None, target=f"client:{client.ref}",
                         phone=phone, text=(text or "")[:160])
        cancelled += cancel_pending(client.id, "opt_out", now, channel="sms")
    db.session.flush()
    return {"opt_out": True, "clients": len(clients), "cancelled": cancelled}


def kick() -> None:
    """Ask for a dispatch right after the caller's commit (once per transaction,
    and not when one is already waiting in the queue). The periodic tick is the
    backstop for everything else (retries, letters 2–3, reminders)."""
    if not current_app.config.get("OUTBOX_KICK", True):
        return
    info = db.session.info
    if info.get(_KICKED):
        return
    info[_KICKED] = True
    start_dispatch_job()


def schedule_tick(at) -> None:
    """With Redis, ask RQ's scheduler for a tick when this message falls due
    (one per 10 seconds however many messages ask); the periodic ticker is
    the backstop, and the only way on the embedded queue. A Redis hiccup
    here never fails the caller."""
    if not current_app.config.get("OUTBOX_SCHEDULE", True):
        return
    try:
        core_jobs.call_at("outbox_tick", at)
    except Exception:  # noqa: BLE001 - the ticker still finds the message
        log.warning("could not schedule an outbox tick at %s", at, exc_info=True)


def start_dispatch_job() -> Job | None:
    """Start an ``outbox_dispatch`` job unless one is already queued (it will
    see everything due when it runs)."""
    waiting = db.session.scalar(select(Job.id).where(Job.kind == DISPATCH_JOB, Job.status == "queued")
                                .limit(1))
    if waiting:
        return None
    return core_jobs.start(DISPATCH_JOB, starter_id=None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_kick(session):
    session.info.pop(_KICKED, None)

"""Sending due messages (SMS and e-mail), safely from any number of workers.

A dispatch run:

1. **claims** a batch of due messages in one statement that flips them
   ``scheduled → sending`` (PostgreSQL: the ids come from ``FOR UPDATE SKIP
   LOCKED``; SQLite: the UPDATE holds the database's write lock and re-checks
   the status), and commits, so no two runs ever hold the same message;
2. for each one **re-checks the stop rules** at send time (a completed visit
   since the message was planned, do-not-contact or moved away, the channel's
   consent and address, the lifetime contact cap) and cancels it with the
   reason when one holds;
3. **sends** it with no transaction open, then in one transaction marks it
   ``sent`` and writes its ``contacts`` row; a channel error records
   ``last_error`` and schedules a retry with backoff, and after
   ``OUTBOX_MAX_ATTEMPTS`` tries marks it ``failed``.

A run that dies between sending and recording leaves the message ``sending``;
after ``STALE_AFTER`` another run takes it again (at least once, never lost).
Letters are not claimed here: a due letter is "ready to print" (``letters.py``).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, or_, select, update

from ..clients.models import Client, Contact, Visit
from ..core import clock
from ..extensions import db
from . import channels, rules
from .models import Message
from .services import contact_count, facts_of, recipient_for

log = logging.getLogger(__name__)

MACHINE_CHANNELS = ("sms", "email")
STALE_AFTER = timedelta(minutes=10)
BATCH = 100


def _due(now_naive: datetime):
    return and_(Message.channel.in_(MACHINE_CHANNELS), or_(
        and_(Message.status == "scheduled", Message.due_at <= now_naive),
        and_(Message.status == "sending", Message.claimed_at < now_naive - STALE_AFTER)))


def claim(now, limit: int = BATCH) -> list[int]:
    """Take up to ``limit`` due messages for this run and commit; returns their ids."""
    db.session.commit()  # the claim must open its own transaction
    stamp = clock.naive_utc(now)
    pick = select(Message.id).where(_due(stamp)).order_by(Message.due_at, Message.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        # A CTE runs once. As an IN (subquery) PostgreSQL may re-run the
        # subquery per row, each run skipping the rows this UPDATE already
        # changed, and so claim far more than ``limit``.
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        target = Message.id == picked.c.id
    else:
        # SQLite: the UPDATE holds the write lock; the status test in _due() decides.
        target = Message.id.in_(pick.scalar_subquery())
    stmt = (update(Message).where(target, _due(stamp))
            .values(status="sending", claimed_at=stamp, updated_at=stamp).returning(Message.id)
            .execution_options(synchronize_session=False))
    ids = list(db.session.execute(stmt).scalars())
    db.session.commit()
    return sorted(ids)


def visited_since(client_id: int, since: datetime, until: datetime) -> bool:
    return bool(db.session.scalar(select(exists().where(
        Visit.client_id == client_id, Visit.status == "completed",
        Visit.visited_at > since, Visit.visited_at <= until))))


def stop_reason(msg: Message, client: Client, now) -> str | None:
    """Why ``msg`` must not go out now (None: send it). Shared with the letter export."""
    if visited_since(client.id, msg.created_at, clock.naive_utc(now)):
        return "visited"
    return rules.block_reason(msg.channel, facts_of(client), contact_count(client.id),
                              current_app.config["CONTACT_CAP"])


def _finish(message_id: int, **values) -> bool:
    """Update a message we hold (status sending); False if someone else changed it."""
    result = db.session.execute(update(Message).where(Message.id == message_id, Message.status == "sending")
                                .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)


def send_one(message_id: int, now) -> str:
    """Check, send and record one claimed message; returns its new status."""
    config = current_app.config
    stamp = clock.naive_utc(now)
    msg = db.session.get(Message, message_id)
    if msg is None or msg.status != "sending":
        db.session.rollback()
        return "skipped"
    client = db.session.get(Client, msg.client_id)
    reason = stop_reason(msg, client, now)
    if reason:
        _finish(message_id, status="cancelled", cancel_reason=reason, updated_at=stamp)
        db.session.commit()
        return "cancelled"
    out = channels.Outgoing(id=msg.id, channel=msg.channel, recipient=recipient_for(msg.channel, client),
                            subject=msg.subject, body=msg.body, name=client.name)
    attempts = msg.attempts + 1
    campaign_id, client_id, channel = msg.campaign_id, msg.client_id, msg.channel
    db.session.commit()  # nothing is held open while the channel works
    try:
        channels.send(config, out)
    except channels.ChannelError as exc:
        error = str(exc)[:2000]
        if attempts >= config.get("OUTBOX_MAX_ATTEMPTS", 5):
            _finish(message_id, status="failed", attempts=attempts, last_error=error, updated_at=stamp)
            status = "failed"
        else:
            retry_at = stamp + rules.backoff(attempts, config.get("OUTBOX_RETRY_SECONDS", 60))
            _finish(message_id, status="scheduled", attempts=attempts, last_error=error,
                    due_at=retry_at, claimed_at=None, updated_at=stamp)
            status = "retry"
        db.session.commit()
        if status == "retry":
            from .services import schedule_tick
            schedule_tick(retry_at)
        log.warning("message %s (%s) not sent, attempt %s: %s", message_id, channel, attempts, error)
        return status
    contact = Contact(client_id=client_id, channel=channel, at=stamp, reached=False, campaign_id=campaign_id)
    db.session.add(contact)
    db.session.flush()
    _finish(message_id, status="sent", sent_at=stamp, attempts=attempts, recipient=out.recipient,
            last_error=None, contact_id=contact.id, updated_at=stamp)
    db.session.commit()
    return "sent"


def dispatch_due(now, *, limit: int = BATCH, max_batches: int = 50) -> dict:
    """Send everything due at ``now`` (batch after batch); returns counts by result."""
    counts = {"sent": 0, "cancelled": 0, "retry": 0, "failed": 0, "skipped": 0}
    for _ in range(max_batches):
        ids = claim(now, limit)
        if not ids:
            break
        for message_id in ids:
            try:
                counts[send_one(message_id, now)] += 1
            except Exception:
                db.session.rollback()
                # Leave it 'sending': STALE_AFTER hands it to a later run.
                log.exception("message %s: unexpected error while dispatching", message_id)
                raise
    return counts


def anything_due(now) -> bool:
    """Cheap check for the ticker: is a message waiting for a dispatcher?"""
    return bool(db.session.scalar(select(exists().where(_due(clock.naive_utc(now))))))

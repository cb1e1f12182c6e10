"""Printed letters: no machine sends them. A letter whose ``due_at`` has come
is *ready to print*; a manager exports the ready letters as one batch (a
mail-merge CSV and a printable HTML page, one letter per page). Exporting is
what sends them: each letter of the batch is re-checked against the stop rules
(cancelled with the reason when one holds), the rest become ``sent`` with a
``contacts`` row, all in the caller's transaction.
"""
from __future__ import annotations

import uuid

from sqlalchemy import func, select, update

from ..accounts.models import Store
from ..clients.models import Client, Contact
from ..core import audit, clock
from ..core.errors import Conflict
from ..extensions import db
from .dispatch import stop_reason
from .models import Message

CSV_HEADER = ("batch", "message_id", "client_ref", "first_name", "last_name", "name", "language",
              "store_code", "store_name", "kind", "subject", "body", "offer_valid_until", "due_date",
              "campaign_id")


def ready_query(now):
    """Letters ready to print at ``now``, oldest first."""
    return (select(Message).where(Message.channel == "letter", Message.status == "scheduled",
                                  Message.due_at <= clock.naive_utc(now))
            .order_by(Message.due_at, Message.id))


def ready_count(now) -> int:
    return db.session.scalar(select(func.count()).select_from(ready_query(now).subquery())) or 0


def export_ready(now, *, actor_id: int | None) -> dict:
    """Export every letter ready at ``now`` as one batch (409 when there is none).

    The batch is taken in one conditional UPDATE, so two managers exporting at
    the same moment never print the same letter twice. Returns
    ``{"batch", "sent", "cancelled"}``; the caller commits.
    """
    stamp = clock.naive_utc(now)
    batch = f"{stamp:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    ids = list(db.session.execute(
        update(Message).where(Message.channel == "letter", Message.status == "scheduled",
                              Message.due_at <= stamp)
        .values(export_batch=batch, status="sending", claimed_at=stamp, updated_at=stamp)
        .returning(Message.id).execution_options(synchronize_session=False)).scalars())
    if not ids:
        raise Conflict("no letters are ready to print")
    sent = cancelled = 0
    for msg in db.session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)
                                  .execution_options(populate_existing=True)):
        client = db.session.get(Client, msg.client_id)
        reason = stop_reason(msg, client, now)
        if reason:
            msg.status, msg.cancel_reason, msg.export_batch = "cancelled", reason, None
            cancelled += 1
            continue
        contact = Contact(client_id=msg.client_id, channel="letter", at=stamp, reached=False,
                          campaign_id=msg.campaign_id)
        db.session.add(contact)
        db.session.flush()
        msg.status, msg.sent_at, msg.attempts, msg.contact_id = "sent", stamp, msg.attempts + 1, contact.id
        sent += 1
    db.session.flush()
    if not sent:
        # Every letter was stopped: nothing to print, but the cancellations stand.
        audit.record("letters.export", actor_id=actor_id, target=None, sent=0, cancelled=cancelled)
        return {"batch": None, "sent": 0, "cancelled": cancelled}
    audit.record("letters.export", actor_id=actor_id, target=f"letters:{batch}", sent=sent, cancelled=cancelled)
    return {"batch": batch, "sent": sent, "cancelled": cancelled}


def batch_rows(batch: str) -> list[tuple[Message, Client, Store]]:
    """The letters of one export batch, in print order (store, then client)."""
    return db.session.execute(
        select(Message, Client, Store).join(Client, Client.id == Message.client_id)
        .join(Store, Store.id == Client.store_id)
        .where(Message.export_batch == batch, Message.status == "sent")
        .order_by(Store.code, Client.ref, Message.id)).all()


def csv_rows(batch: str):
    yield CSV_HEADER
    for msg, client, store in batch_rows(batch):
        yield (batch, msg.id, client.ref, client.first_name, client.last_name, client.name, msg.language,
               store.code, store.name, msg.kind, msg.subject, msg.body,
               msg.offer_valid_until.isoformat() if msg.offer_valid_until else "",
               msg.due_at.date().isoformat(), msg.campaign_id or "")


def recent_batches(limit: int = 20) -> list[dict]:
    rows = db.session.execute(
        select(Message.export_batch, func.count(), func.max(Message.sent_at))
        .where(Message.export_batch.is_not(None), Message.status == "sent")
        .group_by(Message.export_batch).order_by(func.max(Message.sent_at).desc(), Message.export_batch.desc())
        .limit(limit)).all()
    return [{"batch": b, "letters": n, "at": at} for b, n, at in rows]

"""Tables of the outbox package: every follow-up message, from the moment it
is planned until it is sent, cancelled or given up on (SPEC §6)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clients.models import Client
from ..extensions import db

CHANNELS = ("sms", "email", "letter")
# scheduled: waiting for due_at (a due letter is "ready to print");
# sending: claimed by a dispatcher; sent: delivered to the channel (a letter: exported);
# failed: the channel kept refusing; cancelled: a stop rule or a person stopped it.
STATUSES = ("scheduled", "sending", "sent", "failed", "cancelled")
KINDS = ("no_answer_sms", "letter_1", "letter_2", "letter_3", "booking_reminder")


def _in(values) -> str:
    return "(" + ",".join(f"'{v}'" for v in values) + ")"


class Message(db.Model):
    """One message to one client on one channel.

    ``dedupe_key`` makes every planned follow-up exist at most once (for
    example ``item:42:letter_2``): planning the same follow-up again inserts
    nothing. The subject and body are rendered when the message is planned,
    in the client's language, so the outbox shows exactly what goes out.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("channel IN " + _in(CHANNELS), name="channel"),
        CheckConstraint("status IN " + _in(STATUSES), name="status"),
        # "Due now": the dispatcher's claim and the letters ready to print.
        Index("ix_messages_status_due", "status", "due_at"),
        Index("ix_messages_client_status", "client_id", "status"),
        Index("ix_messages_campaign", "campaign_id"),
        Index("ix_messages_export_batch", "export_batch",
              postgresql_where=text("export_batch IS NOT NULL"),
              sqlite_where=text("export_batch IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_items.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(254))  # phone, e-mail; None for a letter
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The last day of the offer the message makes (store local date), for the mail merge.
    offer_valid_until: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    due_at: Mapped[datetime]  # UTC; a retry moves it forward
    claimed_at: Mapped[datetime | None]  # when a dispatcher took it (status sending)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    # The letter export that printed it (letters only).
    export_batch: Mapped[str | None] = mapped_column(String(32))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    client = relationship(Client, lazy="select")

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import Store
from ..extensions import db
from .rules import full_name

VISIT_STATUSES = ("completed", "no_show", "cancelled")


class Client(db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    # E.164 when it parsed; otherwise the text as given (kept, not callable).
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_callable: Mapped[bool] = mapped_column(default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    consent_call: Mapped[bool] = mapped_column(default=False)
    consent_sms: Mapped[bool] = mapped_column(default=False)
    consent_email: Mapped[bool] = mapped_column(default=False)
    consent_post: Mapped[bool] = mapped_column(default=False)
    do_not_contact: Mapped[bool] = mapped_column(default=False)
    dnc_reason: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # A manager lifting a no-show ban: only no-shows after this moment count again.
    ban_lifted_at: Mapped[datetime | None]
    # A manager's own ban (whatever the no-show count), with the reason given.
    manual_ban: Mapped[bool] = mapped_column(default=False)
    ban_reason: Mapped[str | None] = mapped_column(Text)
    # The client asked to be contacted: the exception to "never visited, leave alone".
    contact_requested: Mapped[bool] = mapped_column(default=False)
    # Moved away (a call outcome): excluded from future campaigns.
    moved_away: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    store = relationship(Store, lazy="joined")

    @property
    def name(self) -> str:
        return full_name(self.first_name, self.last_name, self.language)


class Visit(db.Model):
    """A visit as the point of sale reports it. ``visited_at`` is UTC;
    ``local_date`` is the date in the store's time zone, the unit of every
    day count (days since, attribution windows, months)."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint("status IN ('completed','no_show','cancelled')", name="status"),
        # Covers the per-client aggregate of segmentation (amount included), so
        # PostgreSQL reads it in client order without touching the table.
        Index("ix_visits_client_status_date", "client_id", "status", "local_date",
              postgresql_include=["amount"]),
        # Upcoming bookings (visits dated in the future) are found through it.
        Index("ix_visits_visited_at", "visited_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    visited_at: Mapped[datetime]
    local_date: Mapped[date]
    date_only: Mapped[bool] = mapped_column(default=False)
    service: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int | None] = mapped_column(BigInteger)  # minor units of the store currency
    status: Mapped[str] = mapped_column(String(12), default="completed")
    # Employee code of whoever served the visit (often a technician who is not a
    # Winback user, so it is kept as text and matched to staff when it exists).
    served_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    client = relationship(Client, lazy="raise")


CONTACT_CHANNELS = ("call", "sms", "email", "letter")


class Contact(db.Model):
    """Every contact with a client: each logged call outcome and each message sent.

    The contact policy reads it (cooldown after a reached contact, the lifetime
    contact cap, open complaints and service-failure reasons that put a client
    first in the queue); the client card lists it. Calls and messages write it
    in the same transaction as their own records.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint("channel IN ('call','sms','email','letter')", name="channel"),
        Index("ix_contacts_client_at", "client_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    channel: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]  # UTC
    reached: Mapped[bool] = mapped_column(default=False)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    disposition: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(20))
    # A complaint stays open (and first in any queue) until a manager resolves it.
    resolved_at: Mapped[datetime | None]


class ClientErasure(db.Model):
    """A client whose personal data was erased at their request (GDPR; docs/privacy.md).

    The client row stays (visits, outcomes and conversions keep pointing at
    it, so every count and bonus stays the same) with its personal fields
    emptied and its ref replaced by ``ERASED-<id>``. ``ref_digest`` is the
    SHA-256 of the ref it had (``rules.erased_ref_digest``): an import or the
    POS API that sends that ref again is refused, without the ref itself being
    kept. ``reason`` is the eraser's, with the client's own name, phone,
    e-mail and ref taken out.
    """

    __tablename__ = "client_erasures"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True, autoincrement=False)
    ref_digest: Mapped[str] = mapped_column(String(64), unique=True)
    erased_at: Mapped[datetime]  # UTC
    erased_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: an operator's CLI
    via: Mapped[str] = mapped_column(String(10))  # web, api, cli
    reason: Mapped[str] = mapped_column(Text)

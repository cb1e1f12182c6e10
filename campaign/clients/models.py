from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import Store
from ..extensions import db

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
    notes: Mapped[str | None] = mapped_column(Text)
    # A manager lifting a no-show ban: only no-shows after this moment count again.
    ban_lifted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    store = relationship(Store, lazy="joined")

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class Visit(db.Model):
    """A visit as the point of sale reports it. ``visited_at`` is UTC;
    ``local_date`` is the date in the store's time zone, the unit of every
    day count (days since, attribution windows, months)."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint("status IN ('completed','no_show','cancelled')", name="status"),
        Index("ix_visits_client_status_date", "client_id", "status", "local_date"),
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

"""Campaigns, their quotas and their queue items (SPEC §5).

A campaign's clients are rows of ``campaign_items`` from the moment it is
launched: the eligible clients of the target, each ``holdout`` (the control
group, never contacted), ``pool`` (waiting for an agent with quota) or given
to an agent (``queued`` and the calling states after it). One row per client
per campaign, enforced by a unique constraint.
"""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import Staff
from ..extensions import db

CAMPAIGN_STATUSES = ("draft", "active", "paused", "closed")
ITEM_STATUSES = ("pool", "holdout", "queued", "claimed", "callback", "retry", "closed")
# Items of these statuses hold the client in the campaign ("in another active campaign").
OPEN_ITEM_STATUSES = ("pool", "holdout", "queued", "claimed", "callback", "retry")
POOL_REASONS = ("no_agent_language", "quota_full")


class Script(db.Model):
    """A call script; a campaign refers to one (the default when none is chosen).
    Its steps, branches, remedies and translations are ``script_texts`` rows
    (``campaign/scripts``)."""

    __tablename__ = "scripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('draft','active','paused','closed')", name="status"),
        CheckConstraint("holdout_bp >= 0 AND holdout_bp <= 9000", name="holdout_bp"),
        CheckConstraint("call_start < call_end", name="calling_hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # None: "today" in each client's store time zone, fixed at launch.
    as_of: Mapped[date | None]
    # Target filter; an empty list means "all". Stores by id.
    buckets: Mapped[list] = mapped_column(JSON, default=list)
    tiers: Mapped[list] = mapped_column(JSON, default=list)
    value_classes: Mapped[list] = mapped_column(JSON, default=list)
    store_ids: Mapped[list] = mapped_column(JSON, default=list)
    languages: Mapped[list] = mapped_column(JSON, default=list)
    last_services: Mapped[list] = mapped_column(JSON, default=list)
    call_start: Mapped[time] = mapped_column(default=time(10, 0))
    call_end: Mapped[time] = mapped_column(default=time(20, 0))
    max_attempts: Mapped[int] = mapped_column(default=3)
    retry_delay_hours: Mapped[int] = mapped_column(default=24)
    # Share of the eligible clients kept as the control group, in basis points.
    holdout_bp: Mapped[int] = mapped_column(default=1000)
    # Seed of the holdout sample: the same seed always draws the same clients.
    holdout_seed: Mapped[int]
    attribution_window_days: Mapped[int] = mapped_column(default=30)
    script_id: Mapped[int | None] = mapped_column(ForeignKey("scripts.id"))
    offers: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    launched_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # The as-of date the launch fixed (the campaign's or the launch day).
    launched_as_of: Mapped[date | None]
    # The latest assignment job (a soft reference: jobs are pruned on their own schedule).
    last_job_id: Mapped[str | None] = mapped_column(String(32))
    # Optimistic locking: an edit made on a stale copy answers 409.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    script = relationship(Script, lazy="select")

    @property
    def holdout_share(self) -> float:
        return self.holdout_bp / 10000


class Quota(db.Model):
    """How many clients an agent takes in a campaign, and their daily call cap."""

    __tablename__ = "quotas"
    __table_args__ = (
        CheckConstraint("target >= 0", name="target"),
        CheckConstraint("daily_cap IS NULL OR daily_cap > 0", name="daily_cap"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    target: Mapped[int] = mapped_column(default=0)
    daily_cap: Mapped[int | None]
    # On leave: gets nothing new; their untouched items can be moved to others.
    absent: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]

    staff = relationship(Staff, lazy="joined")


class CampaignItem(db.Model):
    """One client in one campaign: a queue item once an agent has it.

    The priority inputs are copied at launch (``wronged``, ``value_class``,
    ``days_since``) and ``priority`` is the client's place in the campaign
    (1 = called first), so the queue order never needs the visits again.
    """

    __tablename__ = "campaign_items"
    __table_args__ = (
        # Client first: it also finds a client's items in every campaign.
        UniqueConstraint("client_id", "campaign_id", name="uq_campaign_items_client"),
        CheckConstraint("status IN ('pool','holdout','queued','claimed','callback','retry','closed')",
                        name="status"),
        Index("ix_campaign_items_campaign_status", "campaign_id", "status", "staff_id"),
        Index("ix_campaign_items_staff_status", "staff_id", "status"),
        # "Next client": an agent's fresh items in priority order, read one row at a time.
        Index("ix_campaign_items_fresh", "staff_id", "priority", "id",
              postgresql_where=text("status = 'queued'"), sqlite_where=text("status = 'queued'")),
        Index("ix_campaign_items_booked_for", "booked_for",
              postgresql_where=text("booked_for IS NOT NULL"), sqlite_where=text("booked_for IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[str] = mapped_column(String(10), default="pool")
    # Why an item is still in the pool after the last assignment run.
    pool_reason: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(16))
    # The client's store when the item was made (a snapshot for own-store
    # dealing and reports, so no foreign-key check on every launched row).
    store_id: Mapped[int]
    wronged: Mapped[bool] = mapped_column(default=False)
    value_class: Mapped[str | None] = mapped_column(String(1))
    days_since: Mapped[int | None]
    priority: Mapped[int]
    attempts: Mapped[int] = mapped_column(default=0)
    assigned_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    # Each claim gets a fresh token: an outcome sent from a tab holding an older
    # claim of the same item is refused (the item was taken again meanwhile).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # The status the item had when claimed; an expired claim returns to it.
    claimed_from: Mapped[str | None] = mapped_column(String(10))
    due_at: Mapped[datetime | None]  # a callback or retry is due from then
    booked_for: Mapped[datetime | None]  # an appointment agreed on the call (UTC)
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime]

"""Call outcomes (SPEC §6): append-only; a correction is a new row that
references the row it corrects."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

DISPOSITIONS = ("no_answer", "busy", "voicemail", "wrong_number", "callback", "booked",
                "will_visit", "not_interested", "do_not_contact", "moved_away", "complaint")


class Outcome(db.Model):
    __tablename__ = "outcomes"
    __table_args__ = (
        CheckConstraint("disposition IN (" + ",".join(f"'{d}'" for d in DISPOSITIONS) + ")",
                        name="disposition"),
        Index("ix_outcomes_item_at", "item_id", "at"),
        Index("ix_outcomes_staff_at", "staff_id", "at"),
        Index("ix_outcomes_campaign_at", "campaign_id", "at"),
        # The leaderboard roll-up rebuilds one agent's numbers in one campaign.
        Index("ix_outcomes_staff_campaign", "staff_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("campaign_items.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime]  # UTC, when it was logged
    # When the call was made (UTC) and its date in the client's store time
    # zone: a correction keeps the call's own (attribution windows, months).
    call_at: Mapped[datetime]
    local_date: Mapped[date]
    # The agent's team at the time of the call: conversions are credited to it.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    disposition: Mapped[str] = mapped_column(String(20))
    reached: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(String(20))
    offer: Mapped[str | None] = mapped_column(String(30))
    notes: Mapped[str | None] = mapped_column(Text)
    callback_at: Mapped[datetime | None]  # UTC
    booked_at: Mapped[datetime | None]  # UTC
    service: Mapped[str | None] = mapped_column(String(200))
    # The answer to "may we contact you later?" (None: not asked).
    consent: Mapped[bool | None]
    # The script's questions and the answers picked: {step_key: answer_key}.
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    # A correction names the outcome it replaces; each outcome is corrected at most once.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("outcomes.id"), unique=True)
    # The contact row this call wrote (cooldown, contact cap, complaints, the card's history).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))

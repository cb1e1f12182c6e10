"""Conversions, the leaderboard's day cells, competitions (SPEC §7).

``conversions`` is the truth of who brought whom back: one row per client per
campaign, rewritten set-based whenever that client's visits or reached calls
change (``attribution.py``). ``score_days`` and ``score_items`` are derived
roll-ups that make every leaderboard a sum over a few thousand small rows;
``score_dirty`` names the (agent, campaign) pairs whose roll-ups are behind
(and the clients whose attribution is), so logging a call adds one upsert and
the roll-up is rebuilt for that pair before the next read (``scores.py``).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

COMPETITION_KINDS = ("agent", "team")


class Conversion(db.Model):
    """The first completed visit of a campaign client after a reached call and
    within the window, credited to the agent of the latest reached call
    before it and to that agent's team at the time of that call."""

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("client_id", "campaign_id", name="uq_conversions_client_campaign"),
        Index("ix_conversions_month_staff", "month", "staff_id"),
        Index("ix_conversions_campaign_staff", "campaign_id", "staff_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    # The reached call credited (the latest one before the visit).
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcomes.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    visited_at: Mapped[datetime]  # UTC
    local_date: Mapped[date]  # the visit's date in its store's time zone
    month: Mapped[int]  # YYYYMM of local_date: the leaderboard and bonus month
    amount: Mapped[int | None] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]


class ScoreDay(db.Model):
    """One agent's numbers in one campaign on one (call or visit) local day,
    per team at the time of the call and per currency of the visits.

    ``reached_m`` counts a client on the day of their first reached call
    with this agent in this campaign *in that month*, ``reached_c`` on the
    day of the first one in the campaign at all; so a month's sum of
    ``reached_m`` and a campaign's sum of ``reached_c`` are distinct client
    counts (likewise ``booked_m`` / ``booked_c``)."""

    __tablename__ = "score_days"
    __table_args__ = (
        Index("ix_score_days_pair", "staff_id", "campaign_id"),
        Index("ix_score_days_day", "day"),
        Index("ix_score_days_campaign_day", "campaign_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    day: Mapped[date]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    currency: Mapped[str] = mapped_column(String(3), default="")
    calls: Mapped[int] = mapped_column(default=0)
    reached_m: Mapped[int] = mapped_column(default=0)
    reached_c: Mapped[int] = mapped_column(default=0)
    booked_m: Mapped[int] = mapped_column(default=0)
    booked_c: Mapped[int] = mapped_column(default=0)
    conversions: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)


class ScoreItem(db.Model):
    """An agent's queue items in a campaign by list segment (bucket × value
    class), with how many of those clients converted (whoever is credited):
    ``assigned`` and the difficulty-adjusted view read it."""

    __tablename__ = "score_items"
    __table_args__ = (Index("ix_score_items_pair", "staff_id", "campaign_id"),
                      Index("ix_score_items_campaign", "campaign_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))  # the agent's team now
    bucket: Mapped[str] = mapped_column(String(8))
    value_class: Mapped[str] = mapped_column(String(1))  # A/B/C, "-" for none
    items: Mapped[int] = mapped_column(default=0)
    converted: Mapped[int] = mapped_column(default=0)


class ScoreDirty(db.Model):
    """A pair whose roll-ups must be rebuilt; ``client_id`` (0 = none) also
    asks for that client's attribution to be recomputed first. ``seq`` grows
    with each mark, so a rebuild only clears the marks it has read."""

    __tablename__ = "score_dirty"

    staff_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    campaign_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    client_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(default=1)


class Competition(db.Model):
    """A head-to-head for a month: two agents or two teams; the higher visit
    rate wins, equal rates draw."""

    __tablename__ = "competitions"
    __table_args__ = (
        CheckConstraint("kind IN ('agent','team')", name="kind"),
        CheckConstraint("side_a <> side_b", name="two_sides"),
        UniqueConstraint("month", "kind", "side_a", "side_b", name="uq_competitions_sides"),
        Index("ix_competitions_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[int]  # YYYYMM
    kind: Mapped[str] = mapped_column(String(5))
    # Staff ids or team ids, by kind.
    side_a: Mapped[int]
    side_b: Mapped[int]
    name: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]

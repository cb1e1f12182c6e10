"""Bonus plans, runs, statement lines, adjustments and the conversions a run paid on (SPEC §8)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class BonusPlan(db.Model):
    """How a month's bonuses are computed; money in integer minor units of ``currency``."""

    __tablename__ = "bonus_plans"
    __table_args__ = (
        CheckConstraint("team_per_visit >= 0 AND min_calls >= 0 AND competition_reward >= 0 "
                        "AND competition_penalty >= 0 AND (cap IS NULL OR cap >= 0)", name="amounts"),
    )

    month: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # YYYYMM
    currency: Mapped[str] = mapped_column(String(3))
    team_per_visit: Mapped[int] = mapped_column(BigInteger, default=0)
    rank_rewards: Mapped[list] = mapped_column(JSON, default=list)
    min_calls: Mapped[int] = mapped_column(default=0)
    competition_reward: Mapped[int] = mapped_column(BigInteger, default=0)
    competition_penalty: Mapped[int] = mapped_column(BigInteger, default=0)
    cap: Mapped[int | None] = mapped_column(BigInteger)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


RUN_STATUSES = ("draft", "approved", "exported")


class BonusRun(db.Model):
    """A month's bonus run: draft → approved → exported (locked).

    One run per month: computing again replaces an unlocked run; a locked
    month is corrected by adjustment lines in a later run. ``lock_seq``
    orders the locked runs; ``basis_seq`` is the last one that existed when
    this run was computed, so a run whose corrections went stale (another run
    locked meanwhile) cannot be locked without recomputing. The exported
    files are stored with their SHA-256: a re-export serves the same bytes."""

    __tablename__ = "bonus_runs"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'approved', 'exported')", name="status"),
        CheckConstraint("(status = 'exported') = (lock_seq IS NOT NULL)", name="locked_has_seq"),
        {"sqlite_autoincrement": True},  # a replaced run's id is never given to another run
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[int] = mapped_column(unique=True)  # YYYYMM
    status: Mapped[str] = mapped_column(String(10), default="draft")
    currency: Mapped[str] = mapped_column(String(3))
    plan: Mapped[dict] = mapped_column(JSON)  # the plan as it was computed with
    basis_seq: Mapped[int] = mapped_column(default=0)
    lock_seq: Mapped[int | None] = mapped_column(unique=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    lines_count: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    approved_at: Mapped[datetime | None]
    exported_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    exported_at: Mapped[datetime | None]
    csv_file: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    csv_sha256: Mapped[str | None] = mapped_column(String(64))
    xlsx_file: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    xlsx_sha256: Mapped[str | None] = mapped_column(String(64))


class BonusLine(db.Model):
    """One agent's statement in a run: the month's numbers behind it, each
    component, and the total (minor units of the run's currency)."""

    __tablename__ = "bonus_lines"
    __table_args__ = (UniqueConstraint("run_id", "staff_id", name="uq_bonus_lines_run_staff"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("bonus_runs.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    employee_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    team: Mapped[str | None] = mapped_column(String(200))
    calls: Mapped[int] = mapped_column(default=0)
    reached: Mapped[int] = mapped_column(default=0)
    conversions: Mapped[int] = mapped_column(default=0)
    eligible: Mapped[bool] = mapped_column(default=False)
    team_conversions: Mapped[int] = mapped_column(default=0)
    team_eligible: Mapped[int] = mapped_column(default=0)  # members sharing the pool
    places: Mapped[list] = mapped_column(JSON, default=list)
    tie: Mapped[list] = mapped_column(JSON, default=list)  # employee codes sharing those places
    competitions: Mapped[list] = mapped_column(JSON, default=list)  # [{id, name, result, amount}]
    team_share: Mapped[int] = mapped_column(BigInteger, default=0)
    rank_reward: Mapped[int] = mapped_column(BigInteger, default=0)
    competition: Mapped[int] = mapped_column(BigInteger, default=0)
    own: Mapped[int] = mapped_column(BigInteger, default=0)
    floored: Mapped[bool] = mapped_column(default=False)
    capped: Mapped[bool] = mapped_column(default=False)
    adjustments: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    carried: Mapped[int] = mapped_column(BigInteger, default=0)


class BonusAdjustment(db.Model):
    """A correction carried by a run for an earlier, locked run: ``recalc``
    (that month recomputed on today's data, with its own plan, minus what
    was paid for it so far) or ``carry`` (a clawback the earlier run could
    not recover because a total never goes below 0)."""

    __tablename__ = "bonus_adjustments"
    __table_args__ = (CheckConstraint("kind IN ('recalc', 'carry')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("bonus_runs.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    ref_run_id: Mapped[int] = mapped_column(ForeignKey("bonus_runs.id"), index=True)
    ref_month: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)  # paid for that month before this
    due: Mapped[int] = mapped_column(BigInteger, default=0)   # due for it on today's data
    detail: Mapped[dict] = mapped_column(JSON, default=dict)  # the recomputed components


class BonusConversion(db.Model):
    """The conversions a run paid on: its own month's, and an earlier
    month's whenever it recomputed that month and found them changed (so a
    statement can name what was added and what was clawed back)."""

    __tablename__ = "bonus_conversions"
    __table_args__ = (Index("ix_bonus_conversions_run_month", "run_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("bonus_runs.id", ondelete="CASCADE"))
    month: Mapped[int]
    conversion_id: Mapped[int]  # conversions.id when paid (not a key: conversions are rewritten)
    campaign_id: Mapped[int]
    client_id: Mapped[int]
    visit_id: Mapped[int]
    staff_id: Mapped[int]
    team_id: Mapped[int | None]
    local_date: Mapped[date]
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))

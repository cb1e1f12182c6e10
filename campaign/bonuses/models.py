"""Bonus plans per month (SPEC §8). Runs, statements and exports come next."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String
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

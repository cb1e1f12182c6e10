from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class ImportReject(db.Model):
    """One rejected row of an import job: where, which column, why, and the row as sent."""

    __tablename__ = "import_rejects"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    line: Mapped[int]
    column: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
    raw: Mapped[str | None] = mapped_column(Text)

"""Tables of the scripts package.

A script's texts are one row per language in ``script_texts``. The row marked
``is_base`` holds the structure (the steps in order, their branches, each
reason's suggested offer) with its texts; the other rows are translations that
carry the same keys with translated texts only (``rules.validate_translation``).
A script with no rows renders the shipped default (``content.py``): nothing has
to be seeded, and the first edit stores every shipped language.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class ScriptText(db.Model):
    __tablename__ = "script_texts"
    __table_args__ = (
        # One base language per script.
        Index("uq_script_texts_base", "script_id", unique=True,
              sqlite_where=text("is_base"), postgresql_where=text("is_base")),
    )

    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    is_base: Mapped[bool] = mapped_column(default=False)
    content: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Optimistic locking: an editor saving over a newer row answers 409.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

ROLES = ("agent", "manager", "payroll", "admin")
TOKEN_ONLY_ROLES = ("pos",)  # integration role: API tokens only, never a sign-in


class Store(db.Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class StaffRole(db.Model):
    __tablename__ = "staff_roles"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class StaffLanguage(db.Model):
    """One row per language a person speaks; assignment joins on it set-based."""

    __tablename__ = "staff_languages"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)


class Staff(UserMixin, db.Model):
    """A person: agent, manager, payroll clerk and/or admin (several roles allowed)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    ui_language: Mapped[str | None] = mapped_column(String(16))

    team = relationship(Team, lazy="joined")
    store = relationship(Store, lazy="joined")
    role_rows = relationship(StaffRole, lazy="selectin", cascade="all, delete-orphan")
    # Loaded when read (lists that show languages ask for them with selectinload):
    # most requests, the agent's "next client" among them, never need them.
    language_rows = relationship(StaffLanguage, lazy="select", cascade="all, delete-orphan",
                                 order_by=StaffLanguage.language)

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.role_rows}

    @property
    def languages(self) -> list[str]:
        return [r.language for r in self.language_rows]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    # Flask-Login: the id in the cookie is the server-side session id, so a
    # session can be revoked without touching the person (see auth.py).
    def get_id(self):  # pragma: no cover - set per request by the loader
        return getattr(self, "_session_id", None)


class UserSession(db.Model):
    """A signed-in browser. Deleting/revoking the row signs that browser out."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))


class ApiToken(db.Model):
    """A bearer token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    staff = relationship(Staff, lazy="joined")

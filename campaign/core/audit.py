"""Append to the audit log inside the caller's transaction (flush, never commit)."""
from __future__ import annotations

from ..extensions import db
from . import clock
from .models import AuditLog


def record(action: str, *, actor_id: int | None, target: str | None = None, **details) -> AuditLog:
    row = AuditLog(at=clock.utcnow_naive(), actor_id=actor_id, action=action,
                   target=target, details=details or None)
    db.session.add(row)
    db.session.flush()
    return row

"""Tables owned by core: background jobs, their stored input files, the audit log."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DDL, JSON, ForeignKey, Index, LargeBinary, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

JOB_STATUSES = ("queued", "started", "finished", "failed")


def _uuid() -> str:
    return uuid.uuid4().hex


class Job(db.Model):
    """One background job: who started it, what kind, how far it got, what it gave.

    The row is the source of truth for progress pages and ``GET /api/v1/jobs/{id}``,
    whichever queue (embedded or Redis) runs it.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_uuid)
    kind: Mapped[str] = mapped_column(String(40))
    starter_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class JobFileChunk(db.Model):
    """An uploaded file kept in the database in 1 MiB pieces.

    Any worker on any machine can stream it in constant memory; nothing depends
    on the web server's disk.
    """

    __tablename__ = "job_file_chunks"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict | None] = mapped_column(JSON)


# The audit log is append-only in the database too (PostgreSQL): UPDATE and
# DELETE raise, whoever sends them. The one lawful edit, a privacy erasure
# taking an erased client's data out of entries about them, first sets
# ``winback.audit_scrub`` for its own transaction (privacy.services). TRUNCATE
# is left to operators. The same SQL is in migration 3f2a9c1d7e55; this
# listener gives it to schemas made with create_all (the tests).
AUDIT_APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('winback.audit_scrub', true) = 'on' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION USING MESSAGE = 'the audit log is append-only: ' || TG_OP || ' refused',
    ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
event.listen(AuditLog.__table__, "after_create",
             DDL(AUDIT_APPEND_ONLY_SQL).execute_if(dialect="postgresql"))

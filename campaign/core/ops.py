"""What an operator watches: is the process healthy, and how is the work
queue doing. ``health()`` is cheap (a load balancer asks it every few
seconds); ``status()`` counts what is queued, running, scheduled and failed,
in RQ and in the ``jobs`` table, and which workers are alive.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, text

from ..extensions import db
from . import clock
from .models import Job

STUCK_AFTER = timedelta(minutes=15)  # a queued job nobody has started for this long needs a look


def health() -> tuple[bool, dict]:
    """(healthy, checks): the database answers; with REDIS_URL, Redis does too."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", named
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    if current_app.config.get("REDIS_URL"):
        from .jobs import backend_for
        try:
            backend_for(current_app).connection.ping()
            checks["queue"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["queue"] = f"error: {type(exc).__name__}"
    else:
        checks["queue"] = "embedded"
    return all(v in ("ok", "embedded") for v in checks.values()), checks


def status() -> dict:
    """Queue depth, running and failed jobs, workers; the jobs table's view of
    the same, and what is stuck."""
    from rq import Worker
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    from .jobs import backend_for
    backend = backend_for(current_app)
    q = backend.queue
    conn = backend.connection
    workers = [{"name": w.name, "state": w.get_state(), "current_job": w.get_current_job_id(),
                "hostname": w.hostname, "pid": w.pid}
               for w in Worker.all(connection=conn)] if backend.name == "redis" else \
        [{"name": "embedded thread", "state": "in the web process"}]
    now = clock.utcnow_naive()
    by_status = dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    oldest = db.session.scalar(select(func.min(Job.created_at)).where(Job.status == "queued"))
    stuck = db.session.scalar(select(func.count()).select_from(Job).where(
        Job.status == "queued", Job.created_at < now - STUCK_AFTER))
    failed_day = db.session.scalar(select(func.count()).select_from(Job).where(
        Job.status == "failed", Job.finished_at >= now - timedelta(days=1)))
    return {
        "backend": backend.name,
        "queue": {"name": q.name, "queued": q.count,
                  "started": StartedJobRegistry(queue=q).count,
                  "scheduled": ScheduledJobRegistry(queue=q).count,
                  "failed": FailedJobRegistry(queue=q).count},
        "workers": workers,
        "jobs": {"queued": by_status.get("queued", 0), "started": by_status.get("started", 0),
                 "finished": by_status.get("finished", 0), "failed": by_status.get("failed", 0),
                 "failed_last_24h": failed_day or 0,
                 "oldest_queued_seconds": int((now - oldest).total_seconds()) if oldest else None,
                 "stuck": stuck or 0},
    }


def problems(st: dict) -> list[str]:
    """What in a ``status()`` needs an operator, in words (empty when fine)."""
    out = []
    if st["backend"] == "redis" and not st["workers"]:
        out.append("no worker is running: jobs wait in the queue (start flask --app wsgi worker)")
    if st["jobs"]["stuck"]:
        out.append(f"{st['jobs']['stuck']} job(s) queued for over {int(STUCK_AFTER.total_seconds() // 60)} "
                   "minutes")
    if st["jobs"]["failed_last_24h"]:
        out.append(f"{st['jobs']['failed_last_24h']} job(s) failed in the last 24 hours (see their errors in "
                   "the jobs table or GET /api/v1/status)")
    return out

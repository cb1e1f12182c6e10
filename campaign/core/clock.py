"""The one clock. ``now()`` is the only reader of the real time.

``WINBACK_NOW`` (ISO 8601) pins it for demos and end-to-end tests. Services
read it once per request/job and pass ``now`` down; pure rules take it as an
argument.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app, g, has_app_context


JOB_PIN = "winback_job_now"


def pinned_value() -> str | None:
    """The pinned "now" as configured (None on the real clock)."""
    return current_app.config.get("WINBACK_NOW") if has_app_context() else None


def is_pinned() -> bool:
    """Whether ``now()`` is pinned here (configured, or a job started under a pin)."""
    return has_app_context() and bool(g.get(JOB_PIN) or current_app.config.get("WINBACK_NOW"))


def parse_pinned(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def now() -> datetime:
    """Aware UTC datetime: the pinned clock if configured, else the real one."""
    pinned = None
    if has_app_context():
        # A job started under a pinned clock runs under the same pin (jobs.execute sets it).
        pinned = g.get(JOB_PIN) or current_app.config.get("WINBACK_NOW")
    if pinned:
        return parse_pinned(pinned)
    return datetime.now(timezone.utc)


def naive_utc(at: datetime) -> datetime:
    """An aware datetime as the naive UTC stored in DateTime columns (naive ones pass as they are)."""
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def utcnow_naive() -> datetime:
    """UTC without tzinfo, the form stored in DateTime columns."""
    return now().replace(tzinfo=None)


def local_today(tz_name: str, at: datetime | None = None) -> date:
    at = at or now()
    return at.astimezone(ZoneInfo(tz_name)).date()

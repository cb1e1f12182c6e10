"""Filters over the audit log, as SELECTs (the page paginates, the CSV streams)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select

from ..accounts.models import Staff
from ..core.models import AuditLog
from ..core.sql import like_escape
from ..core.msgid import N_


@dataclass(frozen=True)
class Filters:
    area: str | None = None       # the part of the action before the dot: "bonus_run", "client", …
    actor: str | None = None      # an employee code, exactly (case-insensitive)
    target: str | None = None     # part of the target, e.g. "client:C-1001" or "bonus_run:3"
    since: date | None = None     # first day, inclusive (UTC)
    until: date | None = None     # last day, inclusive (UTC)

    def args(self) -> dict:
        """The query-string arguments that reproduce these filters."""
        out = {"area": self.area, "actor": self.actor, "target": self.target,
               "since": self.since.isoformat() if self.since else None,
               "until": self.until.isoformat() if self.until else None}
        return {k: v for k, v in out.items() if v}


def entries(f: Filters, *, with_names: bool = True) -> Select:
    """Newest first, each with its actor's code and name (None for the system);
    just the entries with ``with_names`` off (the page reads the names of the
    people on one page by itself)."""
    if with_names:
        q = select(AuditLog, Staff.employee_code, Staff.name).outerjoin(Staff, Staff.id == AuditLog.actor_id)
    else:
        q = select(AuditLog)
        if f.actor:
            q = q.join(Staff, Staff.id == AuditLog.actor_id)
    q = q.order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if f.area:
        q = q.where(AuditLog.action.like(like_escape(f.area) + ".%", escape="\\")
                    | (AuditLog.action == f.area))
    if f.actor:
        q = q.where(func.lower(Staff.employee_code) == f.actor.lower())
    if f.target:
        q = q.where(func.lower(AuditLog.target).like(f"%{like_escape(f.target.lower())}%", escape="\\"))
    if f.since:
        q = q.where(AuditLog.at >= datetime.combine(f.since, time.min))
    if f.until:
        q = q.where(AuditLog.at < datetime.combine(f.until + timedelta(days=1), time.min))
    return q


# The areas of the log, by the part of the action before its dot, with what
# the filter shows. tests/test_audit.py fails when code records an action of
# an area missing here.
AREAS = {
    "session": N_("Sign-ins and sessions"),
    "user": N_("People and passwords"),
    "token": N_("API tokens"),
    "client": N_("Clients: consent, bans, privacy"),
    "campaign": N_("Campaigns, quotas and assignment"),
    "complaint": N_("Complaints"),
    "message": N_("Follow-up messages"),
    "letters": N_("Letters"),
    "script": N_("Scripts"),
    "competition": N_("Competitions"),
    "import": N_("Imports"),
    "bonus_plan": N_("Bonus plans"),
    "bonus_run": N_("Bonus runs and payroll exports"),
}

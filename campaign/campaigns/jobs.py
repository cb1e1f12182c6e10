"""The assignment job body (``jobs.HANDLERS["campaign_assign"]``).

The whole run is one transaction, committed together with the job row's
``finished`` status by the jobs seam: a worker killed half-way leaves nothing
behind, and the retry runs from the start. Progress is therefore written on a
connection of its own (PostgreSQL); SQLite has a single writer, so there the
page shows the job as running until it finishes.
"""
from __future__ import annotations

from sqlalchemy import update

from ..core.models import Job
from ..extensions import db
from . import assignment


def run_assignment(job: Job, progress) -> dict:
    params = dict(job.params)
    job_id = job.id

    def side_progress(fraction: float) -> None:
        if db.engine.dialect.name != "postgresql":
            return
        with db.engine.begin() as conn:
            conn.execute(update(Job).where(Job.id == job_id).values(progress=float(fraction)))

    side_progress(0.0)  # a retry starts over: nothing of a killed attempt was kept
    return assignment.run(int(params["campaign_id"]), move_absent=bool(params.get("move_absent")),
                          progress=side_progress)

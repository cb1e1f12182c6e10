"""RQ entry point of the outbox: one dispatch run (``outbox_dispatch``).

Idempotent by construction: a run only sends what it claims, and a claim
flips ``scheduled → sending`` in one statement, so a redelivered or parallel
job finds nothing left to send twice.
"""
from __future__ import annotations

from ..core import clock
from . import dispatch


def run_dispatch(job, progress) -> dict:
    counts = dispatch.dispatch_due(clock.now())
    progress(1.0)
    return counts

"""The roll-up refresh job body (``jobs.HANDLERS["scores_refresh"]``): a
visits import starts it when it finishes, so the first leaderboard read
after a big import does not pay for the attribution."""
from __future__ import annotations

from ..core.models import Job
from . import scores


def run_refresh(job: Job, progress) -> dict:
    return scores.refresh(progress=progress)

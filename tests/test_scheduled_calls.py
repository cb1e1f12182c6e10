"""Timed follow-ups through RQ's scheduler: a message that falls due later
asks for a tick at that moment; ``flask worker`` (which runs the scheduler)
runs it, and the dispatcher takes the message. One call per 10-second slot
however many ask. On the embedded queue nothing is scheduled (its ticker
covers it); under a pinned clock neither (its times mean nothing to a
scheduler)."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from campaign.core import clock, jobs
from campaign.extensions import db
from campaign.outbox import services as outbox
from campaign.outbox.models import Message
from tests.campaign_helpers import add_clients

needs_worker = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason=(
    "needs Redis and a running `flask worker` (its RQ scheduler): .ci/run's second pass provides both"))


def test_nothing_is_scheduled_on_the_embedded_queue_or_under_a_pinned_clock(app, ctx, pin_clock):
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)
    if not app.config.get("REDIS_URL"):
        assert jobs.call_at("outbox_tick", soon) is None, "the embedded ticker covers it"
    pin_clock("2026-06-01T10:00:00+00:00")
    assert jobs.call_at("outbox_tick", soon) is None
    with pytest.raises(ValueError):
        jobs.call_at("no_such_call", soon)


@needs_worker
def test_a_message_due_in_seconds_is_taken_by_the_dispatcher_at_that_time(app, ctx, make_store):
    from rq.job import Job as RQJob
    from rq.registry import ScheduledJobRegistry
    backend = jobs.backend_for(app)
    store = make_store("WAW")
    (client_id,) = add_clients(store, 1, consent_sms=True)
    due = clock.utcnow_naive() + timedelta(seconds=3)
    msg = Message(dedupe_key="sched-test", client_id=client_id, channel="sms", kind="no_answer", language="en",
                  recipient="+48501234567", body="We miss you", status="scheduled", due_at=due, attempts=0,
                  created_at=clock.utcnow_naive(), updated_at=clock.utcnow_naive())
    db.session.add(msg)
    db.session.commit()
    rq_id = jobs.call_at("outbox_tick", due)
    assert rq_id is not None
    assert jobs.call_at("outbox_tick", due) is None, "one call per 10-second slot however many ask"
    registry = ScheduledJobRegistry(queue=backend.queue)
    assert rq_id in registry.get_job_ids()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db.session.expire_all()
            row = db.session.get(Message, msg.id)
            if row.attempts >= 1 or row.status != "scheduled":
                break
            time.sleep(0.5)
        assert RQJob.fetch(rq_id, connection=backend.connection).get_status() == "finished"
        row = db.session.get(Message, msg.id)
        assert row.attempts >= 1 or row.status != "scheduled", \
            "the scheduled tick started a dispatch that took the message"
        assert row.due_at >= due
    finally:
        # A retry asks for another tick a minute on: do not let it run into later tests.
        db.session.execute(db.update(Message).values(status="cancelled", cancel_reason="test over"))
        db.session.commit()
        for job_id in registry.get_job_ids():
            job = RQJob.fetch(job_id, connection=backend.connection)
            if job.func_name == "campaign.core.jobs.run_scheduled_call":
                registry.remove(job, delete_job=True)


def test_a_timed_message_asks_for_a_tick_only_when_it_is_not_due_yet(app, ctx, monkeypatch):
    asked = []
    monkeypatch.setattr(jobs, "call_at", lambda name, at: asked.append((name, at)))
    now = clock.utcnow_naive()
    outbox.schedule_tick(now + timedelta(days=2))
    assert asked == [("outbox_tick", now + timedelta(days=2))]
    monkeypatch.setitem(app.config, "OUTBOX_SCHEDULE", False)
    outbox.schedule_tick(now + timedelta(days=3))
    assert len(asked) == 1, "WINBACK_OUTBOX_SCHEDULE=0 turns it off"

"""The jobs seam: rows first, enqueue after commit, progress and results in the table."""
from campaign.core import jobs
from campaign.core.models import Job
from campaign.extensions import db


def test_job_is_enqueued_only_after_commit(app, ctx, wait_for_job):
    job = jobs.start("noop", starter_id=None, params={"echo": "hi"})
    backend = jobs.backend_for(app)
    assert backend.queue.fetch_job(job.id) is None  # flushed, not committed: not in the queue
    db.session.commit()
    done = wait_for_job(job.id)
    assert done.status == "finished"
    assert done.progress == 1.0
    assert done.result == {"ok": True, "echo": "hi"}
    assert done.started_at is not None and done.finished_at is not None


def test_rolled_back_job_is_never_enqueued(app, ctx):
    job = jobs.start("noop", starter_id=None)
    job_id = job.id
    db.session.rollback()
    assert jobs.backend_for(app).queue.fetch_job(job_id) is None
    assert db.session.get(Job, job_id) is None
    # A later commit of other work does not resurrect it.
    db.session.commit()
    assert jobs.backend_for(app).queue.fetch_job(job_id) is None


def test_failed_job_records_its_error(ctx, wait_for_job):
    job = jobs.start("fail", starter_id=None, params={"message": "disk on fire"})
    db.session.commit()
    done = wait_for_job(job.id)
    assert done.status == "failed"
    assert "disk on fire" in done.error


def test_unknown_kind_is_refused(ctx):
    import pytest
    with pytest.raises(ValueError):
        jobs.start("no-such-kind", starter_id=None)


def test_job_api_shows_the_starter_only(client, ctx, make_staff, token_for, wait_for_job):
    owner, other = make_staff(roles=("manager",)), make_staff(roles=("manager",))
    job = jobs.start("noop", starter_id=owner.id)
    db.session.commit()
    wait_for_job(job.id)
    resp = client.get(f"/api/v1/jobs/{job.id}", headers=token_for(owner))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "finished" and body["progress"] == 1.0 and body["result"]["ok"] is True
    assert client.get(f"/api/v1/jobs/{job.id}", headers=token_for(other)).status_code == 404


def test_execute_is_idempotent_for_a_finished_job(ctx, wait_for_job):
    job = jobs.start("noop", starter_id=None, params={"echo": 1})
    db.session.commit()
    wait_for_job(job.id)
    db.session.expire_all()
    assert jobs.execute(job.id) == {"ok": True, "echo": 1}


def test_a_pinned_clock_travels_with_the_job(ctx, pin_clock, wait_for_job):
    """Demos and end-to-end tests pin "now"; a job they start runs under the
    same pin, even in a worker process with its own configuration (CI)."""
    pin_clock("2026-06-02T10:00:00+00:00")
    job = jobs.start("noop", starter_id=None, params={"tell_time": True})
    db.session.commit()
    done = wait_for_job(job.id)
    assert done.result["now"] == "2026-06-02T10:00:00+00:00"


def test_each_kind_runs_under_its_own_timeout_and_is_retried(app, ctx, wait_for_job):
    """The RQ job carries the kind's timeout and a Retry (2 more tries; with
    Redis the worker's scheduler spaces them 5 s and 30 s apart)."""
    job = jobs.start("noop", starter_id=None)
    db.session.commit()
    wait_for_job(job.id)
    rq_job = jobs.backend_for(app).queue.fetch_job(job.id)
    assert rq_job.timeout == jobs.JOB_TIMEOUTS["noop"] == 60
    assert rq_job.retries_left == 2
    assert rq_job.description == f"winback noop {job.id}"
    assert jobs.JOB_TIMEOUTS["import"] >= 3600 and set(jobs.HANDLERS) <= set(jobs.JOB_TIMEOUTS), \
        "every kind has a timeout sized to it"
    if app.config.get("REDIS_URL"):
        assert rq_job.retry_intervals == [5, 30]

"""``flask worker``'s RQ worker: a ``SimpleWorker`` that notices when another
worker died in the middle of a job and runs that job again at once.

Why: RQ 2.12's ``SimpleWorker`` (a job runs in the worker process, inside
the app context) puts a running job in RQ's ``StartedJobRegistry`` for the
job's timeout + 60 s and never renews it; only when that has passed does
RQ's registry cleanup call the job abandoned and retry it. A worker killed
in the middle of an import (timeout 2 h) therefore left the job "started"
for two hours.

How: while a job runs, a thread of the worker renews the job's *lease*, an
entry of the sorted set ``winback:job_leases`` (job id → when the lease
ends), every ``WORKER_HEARTBEAT_SECONDS`` for three times that long. The
same thread, in every ``flask worker``, looks for leases that ran out: their
worker stopped beating (killed, crashed, its machine gone). Such a job is
taken out of RQ's ``StartedJobRegistry`` and put back on its queue at once,
spending one of its retries (``Retry(max=2)``: a dead worker is not a
failing job, so no back-off, and no wait for RQ's scheduler), or failed
when none is left. Removing a lease is the claim on it, so one worker
requeues it however many look. Job bodies are idempotent (an import goes
on after its last committed batch, an assignment is one transaction), so
the retry ends as one clean run would.

A plain ``rq worker`` takes no leases: its jobs keep RQ's own rule.
"""
from __future__ import annotations

import logging
import threading
import time

from rq import SimpleWorker

log = logging.getLogger(__name__)

LEASES_KEY = "winback:job_leases"
LEASE_BEATS = 3  # a lease lasts this many heartbeats


class WinbackWorker(SimpleWorker):
    """``SimpleWorker`` + job leases + requeueing the jobs of dead workers."""

    def __init__(self, *args, app=None, heartbeat_seconds: int = 10, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app
        self.beat = max(1, int(heartbeat_seconds))
        self._running: str | None = None
        self._beat_lock = threading.Lock()
        self._beater: threading.Thread | None = None

    # ------------------------------------------------------------ leases

    def execute_job(self, job, queue):
        with self._beat_lock:
            self.connection.zadd(LEASES_KEY, {job.id: time.time() + LEASE_BEATS * self.beat})
            self._running = job.id
        try:
            super().execute_job(job, queue)
        finally:
            with self._beat_lock:
                self._running = None
        # Only once the job has ended (finished, failed or retried by RQ): a worker
        # stopped by an exception here keeps the lease, which then runs out.
        self.connection.zrem(LEASES_KEY, job.id)

    def _renew(self) -> None:
        with self._beat_lock:
            if self._running:
                # xx: renew only, never bring back a lease that was taken away.
                self.connection.zadd(LEASES_KEY, {self._running: time.time() + LEASE_BEATS * self.beat},
                                     xx=True)

    # ------------------------------------------------------------ the thread

    def work(self, *args, **kwargs):
        if self._beater is None:
            self._beater = threading.Thread(target=self._beat_forever, name="winback-worker-heartbeat",
                                            daemon=True)
            self._beater.start()
        return super().work(*args, **kwargs)

    def _beat_forever(self) -> None:
        while True:
            try:
                self._renew()
                requeue_abandoned(self.connection, self.app)
            except Exception:  # noqa: BLE001 - Redis or the database away for a moment: next beat
                log.exception("worker heartbeat")
            time.sleep(self.beat)


def requeue_abandoned(connection, app=None) -> list[str]:
    """Requeue (or fail) every job whose lease ran out; returns their ids."""
    done = []
    for raw in connection.zrangebyscore(LEASES_KEY, "-inf", time.time()):
        job_id = raw.decode() if isinstance(raw, bytes) else raw
        if not connection.zrem(LEASES_KEY, job_id):
            continue  # another worker took it
        try:
            if _requeue(connection, job_id, app):
                done.append(job_id)
        except Exception:
            connection.zadd(LEASES_KEY, {job_id: 0})  # try again at the next beat
            raise
    return done


def _requeue(connection, job_id: str, app) -> bool:
    from rq import Queue
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob
    from rq.job import JobStatus
    from rq.registry import FailedJobRegistry, StartedJobRegistry
    from rq.worker_registration import clean_worker_registry

    try:
        job = RQJob.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    if job.get_status() != JobStatus.STARTED:
        return False  # it ended after all (the worker died just after)
    queue = Queue(job.origin, connection=connection)
    dead = job.worker_name
    # Out of RQ's started registry, or RQ would retry it once more when its own timeout passes.
    StartedJobRegistry(queue=queue).remove_executions(job)
    if dead:  # the dead worker's entry would stay "busy" for the job's timeout
        connection.delete(SimpleWorker.redis_worker_namespace_prefix + dead)
        clean_worker_registry(queue)
    if job.retries_left:
        _job_row(app, job_id, "queued")
        job.retries_left -= 1
        queue.enqueue_job(job)  # now: a dead worker is not a failing job
        log.warning("job %s: its worker %s stopped in the middle of it; back on the queue (%s retries left)",
                    job_id, dead or "?", job.retries_left)
    else:
        message = f"its worker {dead or '?'} stopped in the middle of it and no retry is left"
        _job_row(app, job_id, "failed", error=f"WorkerDied: {message}")
        job.set_status(JobStatus.FAILED)
        FailedJobRegistry(queue=queue).add(job, ttl=job.failure_ttl, exc_string=message)
        log.error("job %s: %s", job_id, message)
    return True


def _job_row(app, job_id: str, status: str, error: str | None = None) -> None:
    """The jobs row follows: queued again (a started job only), or failed."""
    if app is None:
        return
    from sqlalchemy import update

    from ..extensions import db
    from . import clock
    from .models import Job
    with app.app_context():
        try:
            values = {"status": status}
            if status == "failed":
                values |= {"error": error, "finished_at": clock.utcnow_naive()}
            db.session.execute(update(Job).where(Job.id == job_id, Job.status.in_(("queued", "started")))
                               .values(**values))
            db.session.commit()
        finally:
            db.session.remove()

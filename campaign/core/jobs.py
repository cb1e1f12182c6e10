"""The jobs seam: one code path (RQ) for the embedded default and production.

* With ``REDIS_URL`` jobs go to RQ on that Redis; ``flask --app wsgi worker``
  runs them (any number of workers on any number of machines).
* Without it, RQ runs over an in-process fakeredis server with a worker thread
  started on first use, so the embedded default needs no server yet runs the
  very same RQ code.

A job is a row in ``jobs`` first. ``start()`` adds the row to the caller's
transaction; the RQ job is enqueued only after that transaction commits (a
fast worker can never look for a row that is not there yet), and forgotten if
it rolls back. Job bodies are registered by kind, take the job id, report
progress to the row and are idempotent, so an RQ retry is harmless.
"""
from __future__ import annotations

import importlib
import logging
import math
import threading
import time
import traceback
from datetime import datetime, timezone

from flask import current_app, g, has_app_context
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from ..extensions import db
from . import clock
from .models import Job

log = logging.getLogger(__name__)

QUEUE_NAME = "winback"
QUEUES = (QUEUE_NAME,)

# How long RQ lets a job run before it is stopped and (by its Retry) run
# again: sized to the work, with room over the benchmarks (docs/BENCHMARKS.md:
# a 1,000,000-row import ≈ 10 s, a 1M-client launch ≈ 35 s, attribution of a
# 1M-visit import ≈ 50 s, a dispatch batch seconds). Unknown kinds get the default.
JOB_TIMEOUTS: dict[str, int] = {
    "import": 2 * 3600,          # 10M-row files, a slow database
    "campaign_assign": 3600,
    "scores_refresh": 3600,
    "outbox_dispatch": 15 * 60,  # a batch of messages; the next tick picks up the rest
    "noop": 60,
    "fail": 60,
}
JOB_TIMEOUT_SECONDS = 2 * 3600

# kind -> "module:function". Bodies are looked up by string so that core
# imports no feature package.
HANDLERS: dict[str, str] = {
    "import": "campaign.imports.jobs:run_import",
    "campaign_assign": "campaign.campaigns.jobs:run_assignment",
    "outbox_dispatch": "campaign.outbox.jobs:run_dispatch",
    "scores_refresh": "campaign.scoring.jobs:run_refresh",
    "noop": "campaign.core.jobs:_noop",
    "fail": "campaign.core.jobs:_fail",
}

_PENDING_KEY = "winback_pending_jobs"
_PIN_PARAM = "_now"


def _noop(job: Job, progress) -> dict:
    """A job that does nothing; used by tests of the seam itself."""
    progress(1.0)
    out = {"ok": True, "echo": job.params.get("echo")}
    if job.params.get("tell_time"):
        out["now"] = clock.now().isoformat()
    return out


def _fail(job: Job, progress) -> dict:
    raise RuntimeError(job.params.get("message") or "failed on purpose")


# ---------------------------------------------------------------- enqueueing

def start(kind: str, *, starter_id: int | None, params: dict | None = None) -> Job:
    """Create the job row in the current transaction; enqueue after commit."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    params = dict(params or {})
    if clock.pinned_value():
        # Demos and end-to-end tests pin the clock; the job runs under the same pin
        # wherever it runs (another process has its own configuration).
        params[_PIN_PARAM] = clock.pinned_value()
    job = Job(kind=kind, starter_id=starter_id, params=params, status="queued",
              progress=0.0, created_at=clock.utcnow_naive())
    db.session.add(job)
    db.session.flush()
    pending = db.session.info.setdefault(_PENDING_KEY, [])
    pending.append((current_app._get_current_object(), job.id, kind))
    return job


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session):
    pending = session.info.pop(_PENDING_KEY, None)
    for app, job_id, kind in pending or ():
        backend_for(app).enqueue(job_id, kind)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_PENDING_KEY, None)


def execute(job_id: str) -> dict | None:
    """RQ entry point: run one job body, keeping its row up to date."""
    job = db.session.get(Job, job_id)
    if job is None:
        # The row is committed before enqueueing, so this means it was deleted.
        log.warning("job %s vanished before it ran", job_id)
        return None
    if job.status == "finished":
        return job.result  # idempotent on redelivery
    job.status, job.started_at, job.error = "started", clock.utcnow_naive(), None
    db.session.commit()
    module_name, func_name = HANDLERS[job.kind].split(":")
    body = getattr(importlib.import_module(module_name), func_name)

    def progress(fraction: float, **columns) -> None:
        """Record progress (and any other ``columns`` of the job's row, in the
        same statement); commits, so call it at batch boundaries."""
        db.session.execute(update(Job).where(Job.id == job_id)
                           .values(progress=max(0.0, min(1.0, float(fraction))), **columns))
        db.session.commit()

    pin = job.params.get(_PIN_PARAM) if isinstance(job.params, dict) else None
    if pin:
        setattr(g, clock.JOB_PIN, pin)
    try:
        result = body(job, progress)
    except Exception as exc:
        db.session.rollback()
        db.session.execute(update(Job).where(Job.id == job_id).values(
            status="failed", error=f"{type(exc).__name__}: {exc}",
            finished_at=clock.utcnow_naive()))
        db.session.commit()
        log.error("job %s (%s) failed\n%s", job_id, job.kind, traceback.format_exc())
        raise
    finally:
        g.pop(clock.JOB_PIN, None)
    db.session.execute(update(Job).where(Job.id == job_id).values(
        status="finished", progress=1.0, result=result, finished_at=clock.utcnow_naive()))
    db.session.commit()
    return result


_worker_app = None


def run_rq_job(job_id: str):
    """What RQ calls. Inside ``flask worker`` or the embedded thread an app
    context exists; under a plain ``rq worker`` one is built from the
    environment, once per process."""
    return _in_app(execute, job_id)


def _in_app(fn, *args):
    global _worker_app
    if not has_app_context():
        if _worker_app is None:
            from .. import create_app
            _worker_app = create_app()
        with _worker_app.app_context():
            return _in_app(fn, *args)
    try:
        return fn(*args)
    finally:
        db.session.remove()


# ---------------------------------------------------------------- timed calls

# name -> "module:function", called with no arguments inside an app context
# when RQ's scheduler (run by ``flask worker``) reaches the time asked for.
SCHEDULED_CALLS: dict[str, str] = {
    "outbox_tick": "campaign.outbox.ticker:tick",
}
SLOT_SECONDS = 10  # calls asked for the same 10 seconds are one call


def call_at(name: str, at: datetime) -> str | None:
    """Ask RQ's scheduler to run the registered call ``name`` at ``at`` (UTC),
    rounded up to the next 10-second slot; one call per name per slot,
    however many ask. Only with Redis (the embedded queue has no scheduler:
    its ticker covers it) and on the real clock (a pinned clock's times mean
    nothing to a scheduler). Returns the RQ job id, or None when nothing
    was scheduled."""
    if name not in SCHEDULED_CALLS:
        raise ValueError(f"unknown scheduled call {name!r}")
    backend = backend_for(current_app)
    if backend.name != "redis" or clock.is_pinned():
        return None
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    slot = math.ceil(at.timestamp() / SLOT_SECONDS) * SLOT_SECONDS
    ttl = max(60, int(slot - time.time()) + 3600)
    if not backend.connection.set(f"winback:call_at:{name}:{slot}", 1, nx=True, ex=ttl):
        return None
    return backend.queue.enqueue_at(datetime.fromtimestamp(slot, timezone.utc), "campaign.core.jobs.run_scheduled_call",
                             name, job_timeout=JOB_TIMEOUTS.get("outbox_dispatch", JOB_TIMEOUT_SECONDS),
                             result_ttl=600, failure_ttl=7 * 86400, description=f"winback {name} at {slot}").id


def run_scheduled_call(name: str):
    module_name, func_name = SCHEDULED_CALLS[name].split(":")
    return _in_app(getattr(importlib.import_module(module_name), func_name))


# ---------------------------------------------------------------- backends

class _Backend:
    def __init__(self, app, connection):
        from rq import Queue
        self.app = app
        self.connection = connection
        self.queue = Queue(QUEUE_NAME, connection=connection)

    # Retry intervals need RQ's scheduler (``flask worker`` runs it); see EmbeddedBackend.
    retry_intervals: list[int] | None = [5, 30]

    def enqueue(self, job_id: str, kind: str | None = None) -> None:
        from rq import Retry
        retry = Retry(max=2, interval=self.retry_intervals) if self.retry_intervals else Retry(max=2)
        self.queue.enqueue("campaign.core.jobs.run_rq_job", job_id, job_id=job_id,
                           job_timeout=JOB_TIMEOUTS.get(kind or "", JOB_TIMEOUT_SECONDS), result_ttl=3600,
                           failure_ttl=7 * 86400, retry=retry, description=f"winback {kind or 'job'} {job_id}")


class RedisBackend(_Backend):
    name = "redis"


class EmbeddedBackend(_Backend):
    """RQ over an in-process fakeredis, worked by a daemon thread."""

    name = "embedded"
    # RQ's scheduler runs as a forked process; forking a threaded web process
    # leaves a child that outlives it. Without a scheduler, retries are
    # re-enqueued at once instead of after a delay.
    retry_intervals = None

    def __init__(self, app):
        import fakeredis
        self.server = fakeredis.FakeServer()
        super().__init__(app, fakeredis.FakeStrictRedis(server=self.server))
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def enqueue(self, job_id: str, kind: str | None = None) -> None:
        super().enqueue(job_id, kind)
        self.ensure_worker()

    def ensure_worker(self) -> None:
        with self._lock:
            if self._thread and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._work, name="winback-embedded-worker",
                                            daemon=True)
            self._thread.start()

    def _work(self) -> None:
        import fakeredis
        worker = thread_worker_class()([self.queue], connection=fakeredis.FakeStrictRedis(server=self.server))
        with self.app.app_context():
            worker.work(burst=False, with_scheduler=False, logging_level="WARNING")


def thread_worker_class():
    """An RQ SimpleWorker that can live in a non-main thread."""
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self):  # signals only work in the main thread
            pass

    return ThreadWorker


def init_app(app) -> None:
    app.extensions["winback_jobs"] = None  # built on first use (no network at start-up)


def backend_for(app) -> _Backend:
    if hasattr(app, "_get_current_object"):  # current_app: the backend outlives the context
        app = app._get_current_object()
    backend = app.extensions.get("winback_jobs")
    if backend is None:
        url = app.config.get("REDIS_URL")
        if url:
            from redis import Redis
            backend = RedisBackend(app, Redis.from_url(url))
        else:
            backend = EmbeddedBackend(app)
        app.extensions["winback_jobs"] = backend
    return backend


def requeue_unfinished(app) -> int:
    """Embedded mode loses its in-memory queue on restart; put queued jobs back."""
    with app.app_context():
        ids = db.session.query(Job.id, Job.kind).filter(Job.status.in_(("queued", "started"))).all()
        db.session.remove()
    backend = backend_for(app)
    for job_id, kind in ids:
        backend.enqueue(job_id, kind)
    return len(ids)

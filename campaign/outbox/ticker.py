"""The periodic tick that sends timed messages without a human.

Timed messages (letters 2 and 3, booking reminders, retries after a channel
error) become due while nobody is doing anything, so something must look at
the clock. ``tick()`` does one look: when an SMS or e-mail is due it starts an
``outbox_dispatch`` job (unless one is already queued), which runs on
whichever queue the app uses. It works the same in both modes:

* embedded (no ``REDIS_URL``): ``start_ticker(app)`` runs ``tick()`` every
  ``OUTBOX_TICK_SECONDS`` in a daemon thread of the web process, next to the
  embedded worker thread (``flask serve`` starts it);
* production (``REDIS_URL``): cron runs ``flask --app wsgi outbox tick`` (or
  ``outbox send-due``, which sends in the foreground), or one long-lived
  ``flask --app wsgi outbox ticker`` process; many tickers are harmless,
  because dispatching claims each message once.
"""
from __future__ import annotations

import logging
import threading

from ..core import clock
from ..extensions import db
from . import dispatch, services

log = logging.getLogger(__name__)
_started: set[int] = set()
_lock = threading.Lock()


def tick() -> str | None:
    """One look at the clock (inside an app context); returns the started job's id."""
    if not dispatch.anything_due(clock.now()):
        return None
    job = services.start_dispatch_job()
    db.session.commit()
    return job.id if job else None


def run_forever(app, interval: float, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    while not stop.is_set():
        with app.app_context():
            try:
                tick()
            except Exception:  # a database hiccup must not end the ticker
                log.exception("outbox tick failed")
            finally:
                db.session.remove()
        stop.wait(interval)


def start_ticker(app) -> threading.Thread | None:
    """Start the daemon ticker thread once per process (no-op when
    ``OUTBOX_TICK_SECONDS`` is 0)."""
    interval = app.config.get("OUTBOX_TICK_SECONDS", 60)
    if not interval:
        return None
    with _lock:
        if id(app) in _started:
            return None
        _started.add(id(app))
    thread = threading.Thread(target=run_forever, args=(app, interval), name="winback-outbox-ticker",
                              daemon=True)
    thread.start()
    return thread


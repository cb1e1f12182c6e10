"""``flask --app wsgi outbox …``: send due messages from cron or a ticker process."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..core import clock
from . import dispatch, ticker

outbox_group = AppGroup("outbox", help="Follow-up messages (SMS, e-mail, letters).")


@outbox_group.command("send-due")
def send_due():
    """Send every due SMS and e-mail now, in the foreground (for cron)."""
    counts = dispatch.dispatch_due(clock.now())
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@outbox_group.command("tick")
def tick_once():
    """Start a dispatch job on the app's queue when something is due."""
    job_id = ticker.tick()
    click.echo(f"started job {job_id}" if job_id else "nothing to start")


@outbox_group.command("ticker")
@click.option("--every", default=None, type=float, help="Seconds between ticks (default OUTBOX_TICK_SECONDS).")
def ticker_loop(every):
    """Tick forever (a long-lived process beside ``flask worker``)."""
    app = current_app._get_current_object()
    ticker.run_forever(app, every or app.config.get("OUTBOX_TICK_SECONDS") or 60)

"""Operator commands: ``flask --app wsgi …`` (SPEC §9)."""
from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .extensions import db
from .outbox.cli import outbox_group
from .outbox.ticker import start_ticker

IMPORT_KINDS = ("stores", "staff", "clients", "visits")


def init_app(app) -> None:
    for command in (import_command, demo_command, segments_command, worker_command, serve_command,
                    status_command):
        app.cli.add_command(command)
    app.cli.add_command(token_group)
    app.cli.add_command(user_group)
    app.cli.add_command(outbox_group)
    app.cli.add_command(scores_group)
    app.cli.add_command(bonus_group)
    app.cli.add_command(client_group)


@click.command("import")
@with_appcontext
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_command(kind, file):
    """Import a CSV file (runs the import job in the foreground)."""
    from .imports import services
    try:
        summary = services.import_path(kind, file)
    except services.FileRefused as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(2)
    click.echo(f"inserted={summary['inserted']} updated={summary['updated']} "
               f"unchanged={summary['unchanged']} rejected={summary['rejected']}")
    if summary.get("scores_job"):
        # Attribute the new visits now rather than leave it to a worker this
        # command does not wait for (the queued refresh then finds nothing to do).
        from .scoring import scores
        done = scores.refresh()
        click.echo(f"attributed: clients={done['clients']} score_pairs={done['pairs']}", err=True)
    for r in summary["rejects"][:20]:
        click.echo(f"  line {r['line']}, {r['column'] or '-'}: {r['reason']}", err=True)
    if summary["rejected"] > 20:
        click.echo(f"  … and {summary['rejected'] - 20} more rejected rows", err=True)


@click.command("demo")
@with_appcontext
@click.option("--clients", default=3000, show_default=True, help="How many clients to generate.")
@click.option("--seed", default=7, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has clients.")
def demo_command(clients, seed, if_empty):
    """Load the demo data set (stores, teams, staff, clients, visits) and demo logins."""
    from . import demo
    if if_empty and not demo.database_is_empty():
        click.echo("demo: database already has data; nothing loaded")
        return
    report = demo.load(clients=clients, seed=seed, echo=click.echo)
    click.echo(report)


@click.command("segments")
@with_appcontext
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date (YYYY-MM-DD); default: today in each store's time zone.")
@click.option("--store", default=None, help="Only this store code.")
def segments_command(as_of, store):
    """Print dormant clients by bucket × tier."""
    from .clients import queries
    from .core.errors import AppError
    try:
        rows = queries.segment_counts(as_of.date() if as_of else None, store_code=store)
    except AppError as exc:
        raise click.ClickException(exc.message)
    click.echo(f"{'bucket':<8} {'tier':<9} {'clients':>8}")
    for r in rows:
        click.echo(f"{r['bucket']:<8} {r['tier']:<9} {r['clients']:>8}")
    click.echo(f"{'total':<18} {sum(r['clients'] for r in rows):>8}")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--ticker/--no-ticker", default=True, show_default=True,
              help="Also look every OUTBOX_TICK_SECONDS for timed messages that are due (letters, "
                   "reminders); off for a worker that serves a test suite with a pinned clock.")
def worker_command(burst, ticker):
    """Run an RQ worker on all of the app's queues (needs REDIS_URL)."""
    from redis import Redis

    from .core.jobs import QUEUES
    from .core.worker import WinbackWorker
    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException("the worker needs REDIS_URL; without it jobs run inside the web "
                                   "process (embedded queue)")
    conn = Redis.from_url(url)
    # A SimpleWorker runs jobs in this process, inside this app context, so a job
    # uses the same configuration and connection pool as the CLI gave it; Winback's
    # adds job leases, so a job whose worker died runs again at once (core/worker.py).
    app = current_app._get_current_object()
    if ticker and not burst:
        start_ticker(app)
    WinbackWorker(list(QUEUES), connection=conn, app=app,
                  heartbeat_seconds=app.config["WORKER_HEARTBEAT_SECONDS"]).work(burst=burst, with_scheduler=True)


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="embedded default only")
@click.option("--workers", default=None, type=int,
              help="with REDIS_URL: sync worker processes (default $WEB_CONCURRENCY, else 2 × cores + 1)")
def serve_command(host, port, threads, workers):
    """Run the web app under gunicorn. Embedded default (no REDIS_URL): one
    process with threads, the job queue inside it. With REDIS_URL: sync
    worker processes (stateless; jobs go to `flask worker`)."""
    from gunicorn.app.base import BaseApplication

    from .core import jobs
    app = current_app._get_current_object()
    embedded = not app.config.get("REDIS_URL")
    if workers is None:
        workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("accesslog", "-")
            # gunicorn's control socket has one default path per user: two
            # servers on a machine would fight over it; Winback does not use it.
            self.cfg.set("control_socket_disable", True)
            if embedded:
                self.cfg.set("workers", 1)
                self.cfg.set("threads", threads)
                self.cfg.set("worker_class", "gthread")
            else:
                # Sync workers: one request per process at a time, no threads
                # sharing a connection pool; put a buffering proxy in front.
                self.cfg.set("workers", workers)
                self.cfg.set("worker_class", "sync")
                self.cfg.set("timeout", 60)

                def post_fork(server, worker):
                    # The app was built in the master: never share its pooled
                    # connections with a forked child.
                    with app.app_context():
                        db.engine.dispose(close=False)
                self.cfg.set("post_fork", post_fork)

            def post_worker_init(worker):
                if embedded:
                    jobs.requeue_unfinished(app)
                    start_ticker(app)
            self.cfg.set("post_worker_init", post_worker_init)

        def load(self):
            return app

    _Server().run()


@click.command("status")
@with_appcontext
def status_command():
    """Health, queue depth, workers and failed jobs; exits 1 when something
    needs an operator (for cron or a monitoring agent)."""
    from .core import ops
    ok, checks = ops.health()
    click.echo("health     " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    if not ok:
        raise SystemExit(1)
    st = ops.status()
    q, j = st["queue"], st["jobs"]
    click.echo(f"queue      {st['backend']} '{q['name']}': queued={q['queued']} started={q['started']} "
               f"scheduled={q['scheduled']} failed={q['failed']}")
    click.echo(f"workers    {len(st['workers'])}: " + ", ".join(f"{w['name']} ({w['state']})" for w in st["workers"]))
    click.echo(f"jobs       queued={j['queued']} started={j['started']} finished={j['finished']} "
               f"failed={j['failed']} (last 24 h: {j['failed_last_24h']}) oldest queued: "
               f"{'-' if j['oldest_queued_seconds'] is None else str(j['oldest_queued_seconds']) + ' s'}")
    issues = ops.problems(st)
    for line in issues:
        click.echo(f"PROBLEM    {line}")
    if issues:
        raise SystemExit(1)


token_group = AppGroup("token", help="API tokens.")


@token_group.command("create")
@click.argument("employee_code")
@click.option("--label", default=None)
def token_create(employee_code, label):
    """Print a new API token for that person (with that person's roles)."""
    from .accounts import services
    from .core.errors import NotFound
    try:
        staff = services.staff_by_code(employee_code)
    except NotFound as exc:
        raise click.ClickException(exc.message)
    token = services.create_token(staff, label=label, actor_id=None)
    db.session.commit()
    click.echo(token)


user_group = AppGroup("user", help="People.")


@user_group.command("set-password")
@click.argument("employee_code")
@click.option("--password", envvar="WINBACK_PASSWORD", default=None,
              help="Default: asked for twice (or WINBACK_PASSWORD).")
def user_set_password(employee_code, password):
    """Set a person's sign-in password (signs out their browsers)."""
    from .accounts import services
    from .core.errors import AppError
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        staff = services.staff_by_code(employee_code)
        services.set_password(staff, password, actor_id=None)
    except AppError as exc:
        raise click.ClickException(exc.message)
    db.session.commit()
    click.echo(f"password set for {staff.employee_code} ({staff.name})")


@user_group.command("set-language")
@click.argument("employee_code")
@click.argument("language")
def user_set_language(employee_code, language):
    """Set the language of a person's pages (en, ja, zh, ru, pl; "browser" to follow the browser)."""
    from .accounts import services
    from .core.errors import AppError
    try:
        staff = services.staff_by_code(employee_code)
        services.set_ui_language(staff, None if language == "browser" else language, actor_id=None)
    except AppError as exc:
        raise click.ClickException(exc.message)
    db.session.commit()
    click.echo(f"page language of {staff.employee_code} ({staff.name}): {staff.ui_language or 'browser'}")


@user_group.command("deactivate")
@click.argument("employee_code")
def user_deactivate(employee_code):
    """Stop a person signing in: their browsers are signed out and their API tokens refused."""
    _user_active(employee_code, False)


@user_group.command("activate")
@click.argument("employee_code")
def user_activate(employee_code):
    """Let a deactivated person sign in again."""
    _user_active(employee_code, True)


def _user_active(employee_code: str, active: bool) -> None:
    from .accounts import services
    from .core.errors import AppError
    try:
        staff = services.staff_by_code(employee_code)
        changed = services.set_active(staff, active, actor_id=None)
    except AppError as exc:
        raise click.ClickException(exc.message)
    db.session.commit()
    state = "active" if active else "deactivated"
    click.echo(f"{staff.employee_code} ({staff.name}) {'is now' if changed else 'was already'} {state}")


scores_group = AppGroup("scores", help="Conversions and leaderboard roll-ups.")


@scores_group.command("refresh")
def scores_refresh():
    """Attribute what arrived and bring the leaderboard roll-ups up to date."""
    from .scoring import scores
    done = scores.refresh()
    click.echo(f"marks={done['marks']} clients={done['clients']} pairs={done['pairs']}")


@scores_group.command("rebuild")
def scores_rebuild():
    """Re-attribute every called client and rebuild every roll-up from scratch."""
    from .scoring import scores
    pairs = scores.rebuild_all()
    db.session.commit()
    click.echo(f"rebuilt pairs={pairs}")


bonus_group = AppGroup("bonus", help="Bonus runs and the payroll export.")


@bonus_group.command("export")
@click.argument("period")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="the file to write ('-' for standard output)")
def bonus_export(period, fmt, out):
    """Write PERIOD's (YYYY-MM) payroll file. An approved run is locked by
    its first export; an exported run gives the same bytes again. Audited."""
    from .bonuses import runs
    from .core.errors import AppError
    from .scoring import services as scoring
    try:
        run = runs.run_of_month(scoring.period_arg(period, required=True))
        run, data = runs.export(run.id, fmt, None, via="cli")
    except AppError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(out, "wb") as fh:
            fh.write(data)
    digest = run.csv_sha256 if fmt == "csv" else run.xlsx_sha256
    rows = len(runs.export_rows(run))
    from .bonuses.exports import amount_text
    click.echo(f"{period}: run #{run.id}, {rows} rows, total {amount_text(run.total, run.currency)} {run.currency}, "
               f"sha256 {digest} -> {out} (the run is exported and locked)", err=out == "-")


client_group = AppGroup("client", help="One client's privacy requests (GDPR; docs/privacy.md).")


def _privacy_actor(employee_code: str | None) -> int | None:
    """The person the audit log names for a command (None: the operator)."""
    if not employee_code:
        return None
    from .accounts import services
    return services.staff_by_code(employee_code).id


@client_group.command("export")
@click.argument("client_ref")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="the JSON file to write ('-' for standard output)")
@click.option("--by", "by", default=None, metavar="EMPLOYEE_CODE", help="who asked (named in the audit log)")
def client_export(client_ref, out, by):
    """Write everything held about CLIENT_REF as one JSON file. Audited."""
    from .core.errors import AppError
    from .privacy import rules, services
    try:
        client = services.find_client(client_ref)
        data = services.export_client(client, _privacy_actor(by), via="cli")
    except AppError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    text = rules.export_json(data)
    if out == "-":
        click.echo(text, nl=False)
    else:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
    counts = ", ".join(f"{key}={len(data[key])}" for key in ("visits", "outcomes", "messages", "conversions",
                                                            "bonus_conversions", "audit_log"))
    click.echo(f"{data['client']['client_ref']}: {counts} -> {out}", err=out == "-")


@client_group.command("erase")
@click.argument("client_ref")
@click.option("--reason", required=True, help="why (kept in the audit log, without the client's own data)")
@click.option("--by", "by", default=None, metavar="EMPLOYEE_CODE", help="who erased it (named in the audit log)")
def client_erase(client_ref, reason, by):
    """Erase CLIENT_REF's personal data and keep every count (cannot be undone). Audited."""
    from .core.errors import AppError
    from .privacy import services
    try:
        client = services.find_client(client_ref)
        done = services.erase_client(client, _privacy_actor(by), reason, via="cli")
    except AppError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    removed = " ".join(f"{k}={v}" for k, v in done["removed"].items())
    kept = " ".join(f"{k}={v}" for k, v in done["kept"].items())
    click.echo(f"erased: now {done['client_ref']}\nremoved: {removed}\nkept: {kept}")

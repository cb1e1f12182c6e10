"""Faults (issue 8), each an automated test on this machine.

1. A worker killed in the middle of a job: ``flask worker`` processes on
   PostgreSQL and Redis; the test holds a lock the job needs later (a row
   lock for the import, ``LOCK TABLE`` for the assignment), waits until
   PostgreSQL shows the worker's backend blocked on it *after* writing in
   its transaction (and, for the import, with batches committed), then
   SIGKILLs the worker's process group and starts a new worker. The new
   worker sees the dead worker's job lease run out and requeues the job
   (campaign/core/worker.py); the end state is compared row by row with the
   same job run once, uninterrupted, in this process on a database seeded
   alike.
2. The bonus run is computed inside the web request (one transaction), not
   in a job: the gunicorn worker process serving ``POST /api/v1/bonus-runs``
   is SIGKILLed while PostgreSQL shows it blocked on a lock after writing the
   run and its lines; nothing of it is left, and the retried request gives
   the run a clean computation gives.
3. PostgreSQL restarted under claim load (a server of the test's own,
   ``pg_ctl restart -m fast`` and ``-m immediate``, then a stop): no item is
   handed out twice, every failed request is a 503 with Retry-After (JSON
   for the API, a plain page for pages), and the same gunicorn processes
   serve again once the server is back.

(A claim abandoned by a closed browser: tests/test_faults_browser.py.)

The process tests need PostgreSQL and Redis (``.ci/run``'s second pass sets
DATABASE_URL and REDIS_URL); they use their own databases on that server
(``wb_fault_clean``, ``wb_fault_run``: the same seed in both), Redis databases
9 and 10 of that Redis, ports 56000-56999, and for 3 a PostgreSQL server of
their own (initdb as the ``postgres`` user into a temporary directory).
"""
from __future__ import annotations

import glob
import io
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from campaign.extensions import db
from tests.processes import Proc, Web, stop_all, tails, wait_until

_DB_URL = os.environ.get("DATABASE_URL", "")
SERVERS = _DB_URL.startswith(("postgresql", "postgres://")) and bool(os.environ.get("REDIS_URL"))
needs_servers = pytest.mark.skipif(
    not SERVERS, reason="needs PostgreSQL and Redis: .ci/run's second pass provides them (DATABASE_URL, REDIS_URL)")

NOW = "2026-06-02T10:00:00+00:00"  # a Tuesday, 12:00 in Warsaw: inside the calling hours
OWN_DBS = ("wb_fault_clean", "wb_fault_run")
REDIS_RUN, REDIS_SINK = 9, 10  # the processes' queue; where the in-process clean runs enqueue (nobody works it)
BATCH = 100
DEADLINE = 60.0

CLIENTS_HEADER = ("client_ref,first_name,last_name,phone,email,language,store_code,consent_call,consent_sms,"
                  "consent_email,consent_post,do_not_contact,notes")


# ------------------------------------------------------------------ the import file


def clients_file(n: int = 600, update_at: int = 350, duplicate_at: int = 450) -> tuple[bytes, dict]:
    """``n`` rows of clients.csv (line = row + 1): new clients N0001…, the
    existing client U0001 updated at row ``update_at``, an unknown store every
    97th row, and at ``duplicate_at`` a second row for N0010 (a batch the
    retry of a killed run skips, so the duplicate is only caught if the
    retry took back the keys it had seen)."""
    lines, rejected = [CLIENTS_HEADER], {}
    for i in range(1, n + 1):
        if i == update_at:
            lines.append("U0001,Urszula,Updated,+48 501 000 999,u@example.test,pl,WAW,1,1,0,0,0,moved desk")
        elif i == duplicate_at:
            lines.append("N0010,Twice,Again,+48 501 999 010,,pl,WAW,1,0,0,0,0,")
            rejected[i + 1] = "client_ref"
        elif i % 97 == 0:
            lines.append(f"N{i:04d},Nowhere,Store,+48 501 {i:03d} 000,,pl,NOPE,1,0,0,0,0,")
            rejected[i + 1] = "store_code"
        else:
            phone = f"+48 601 {i:03d} {i % 1000:03d}" if i % 50 else "n/a"  # every 50th: not callable
            lines.append(f"N{i:04d},First{i},Last{i},{phone},,{'en' if i % 3 == 0 else 'pl'},WAW,1,"
                         f"{i % 2},0,0,0,note {i}")
    expected = {"inserted": n - 1 - len(rejected), "updated": 1, "unchanged": 0, "rejected": len(rejected),
                "reject_lines": rejected}
    return ("\n".join(lines) + "\n").encode(), expected


# ------------------------------------------------------------------ checkpoints (any database)


def test_an_import_stopped_after_some_batches_goes_on_from_its_checkpoint(app, ctx, make_store, make_client,
                                                                         tmp_path, monkeypatch):
    """The unit under the kill test below, on whatever database the suite runs:
    a batch fails after three were committed; the retry goes on from the
    checkpoint and reports exactly what one clean run reports."""
    from campaign.clients.models import Client
    from campaign.core import jobs
    from campaign.core.models import Job
    from campaign.imports import services
    from campaign.imports.models import ImportReject
    from campaign.imports.upsert import Import

    waw = make_store("WAW", timezone="Europe/Warsaw")
    make_client("U0001", store=waw, first_name="Urszula", last_name="Before")
    data, expected = clients_file()
    path = tmp_path / "clients.csv"
    path.write_bytes(data)
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", BATCH)
    write, calls = Import._write, []

    def crash_in_fourth_batch(self, *args):
        write(self, *args)  # written (flushed), not committed
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("the worker died here")

    monkeypatch.setattr(Import, "_write", crash_in_fourth_batch)
    with pytest.raises(RuntimeError):
        services.import_path("clients", str(path))
    job = db.session.scalar(select(Job).where(Job.kind == "import"))
    assert (job.status, job.params["checkpoint"]["line"]) == ("failed", 3 * BATCH + 1)
    assert 0 < job.progress < 1
    kept = db.session.scalar(select(db.func.count()).select_from(Client).where(Client.ref.like("N%")))
    assert kept == 3 * BATCH - 3, "three batches (3 unknown stores among them) were committed, the fourth not"

    calls.clear()
    result = jobs.execute(job.id)  # RQ's retry
    assert {k: result[k] for k in ("inserted", "updated", "unchanged", "rejected")} == \
        {k: expected[k] for k in ("inserted", "updated", "unchanged", "rejected")}
    assert {r["line"]: r["column"] for r in result["rejects"]} == expected["reject_lines"]
    assert len(calls) == 3, "batches 4 to 6 only"
    assert sorted(db.session.scalars(select(ImportReject.line))) == sorted(expected["reject_lines"])
    db.session.expire_all()
    assert (job.status, job.progress) == ("finished", 1.0)
    assert db.session.scalar(select(Client.last_name).where(Client.ref == "U0001")) == "Updated"
    assert db.session.scalar(select(db.func.count()).select_from(Client)) == 1 + expected["inserted"]


# ------------------------------------------------------------------ servers of our own


def own_port() -> int:
    """A free TCP port in 56000-56999 (this test's range on the machine)."""
    ports = list(range(56000, 57000))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 56000-56999")


def server_urls(database: str) -> tuple[str, str]:
    """(admin URL, URL of ``database``) on the suite's PostgreSQL server."""
    from sqlalchemy.engine import make_url
    outer = make_url(_DB_URL.replace("postgres://", "postgresql://", 1))
    assert outer.database not in OWN_DBS, "the suite's own database must not be one of this test's"
    admin = outer.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    return admin, outer.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def redis_url(number: int) -> str:
    parts = urlsplit(os.environ["REDIS_URL"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", "", ""))


def reset_database(admin_url: str, url: str, name: str) -> None:
    """``name`` exists and is empty (an empty schema, not a new database:
    DROP DATABASE waits for a checkpoint of the whole shared server)."""
    import psycopg
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        # Left over from an earlier run that was killed: nothing else uses this database.
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (name,))
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def in_process_app(url: str, **config):
    """An app of this test process on ``url`` (not the suite's database)."""
    from campaign import create_app
    from campaign.config import _normalise_db_url
    return create_app({"SQLALCHEMY_DATABASE_URI": _normalise_db_url(url), "REDIS_URL": redis_url(REDIS_SINK),
                       "WINBACK_NOW": NOW, "SECRET_KEY": "fault-test", "IMPORT_BATCH_ROWS": BATCH,
                       "OUTBOX_TICK_SECONDS": 0, "RATELIMIT_STORAGE_URI": SUITE_LIMITS, **config})


# Flask-Limiter keeps one storage for every app of a process: an app made here
# must not move the suite's sign-in counts elsewhere (tests/conftest.py's choice).
SUITE_LIMITS = os.environ.get("REDIS_URL") or "memory://"


def process_env(url: str, redis: str, **extra) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis, "SECRET_KEY": "fault-test-secret",
           "WINBACK_ENV": "production", "WINBACK_NOW": NOW, "WINBACK_OUTBOX_TICK_SECONDS": "0",
           "WINBACK_IMPORT_BATCH_ROWS": str(BATCH), "WINBACK_WORKER_HEARTBEAT_SECONDS": "1",
           "PYTHONUNBUFFERED": "1", **extra}
    for key in ("FLASK_APP", "WEB_CONCURRENCY", "PGOPTIONS"):
        env.pop(key, None)
    return env


def start_web(name: str, env: dict, log_dir: Path, workers: int = 2) -> tuple[Proc, Web]:
    port = own_port()
    proc = Proc(name, [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(workers), "-t", "60",
                       "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "--no-control-socket",
                       "--access-logfile", "-", "wsgi:app"], env, log_dir)
    web = Web(name, f"http://127.0.0.1:{port}")
    wait_until(web.answers, timeout=DEADLINE, what=f"{name} to answer", watch=[proc])
    return proc, web


def start_worker(name: str, env: dict, log_dir: Path) -> Proc:
    return Proc(name, [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--no-ticker"], env, log_dir)


def kill_group(proc: Proc) -> None:
    """SIGKILL a process and everything it forked (a machine losing it)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.popen.wait(timeout=10)


def children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def pid_with_tcp_port(local_port: int, remote_port: int, pids) -> int | None:
    """Which of ``pids`` holds the TCP connection 127.0.0.1:local_port → :remote_port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if int(f[1].rsplit(":", 1)[1], 16) == local_port and int(f[2].rsplit(":", 1)[1], 16) == remote_port:
                inodes.add(f"socket:[{f[9]}]")
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                pass
    return None


# ------------------------------------------------------------------ the world


PEOPLE = [  # code, name, roles, team, store, languages
    ("M01", "Maria Manager", ("manager",), None, None, ("pl",)),
    ("A01", "Anna Nowak", ("agent",), "North", "WAW", ("pl", "en")),
    ("A02", "Adam Wiśniewski", ("agent",), "North", "WAW", ("pl",)),
    ("B01", "Bożena Kowalska", ("agent",), "South", "KRK", ("pl",)),
    ("B02", "Bartek Zieliński", ("agent",), "South", "KRK", ("en",)),
]
C1_QUOTA = {"A01": 4, "A02": 3, "B01": 3}                   # June's calls (the bonus month)
C1_VISITS = {"A01": 3, "A02": 1, "B01": 2}                  # of their clients, how many came back
C2_QUOTA = {"A01": 40, "A02": 45, "B01": 50, "B02": 30}     # the campaign launched under a kill
BONUS_PLAN = {"currency": "PLN", "team_per_visit": 1000, "rank_rewards": [50000, 30000, 10000], "min_calls": 2,
              "cap": 200000}


def seed(url: str) -> dict:
    """Stores, people and tokens; June's calls and visits with a bonus plan
    (campaign 1, launched); campaign 2 (Kraków, draft with quotas); the
    client U0001 that the import updates. Returns ids and tokens."""
    from itertools import count

    from tests import campaign_helpers
    saved, campaign_helpers._refs = campaign_helpers._refs, count(1)  # the same client refs in both seeds
    try:
        return _seed(url)
    finally:
        campaign_helpers._refs = saved


def _seed(url: str) -> dict:
    from campaign.accounts.models import Staff, StaffLanguage, StaffRole, Store, Team
    from campaign.accounts.services import create_token
    from campaign.bonuses.services import put_plan
    from campaign.calls import services as calls
    from campaign.clients.models import Client
    from campaign.core import clock
    from campaign.imports.services import upsert_visits
    from campaign.scoring.rules import Period
    from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

    app = in_process_app(url)
    with app.app_context():
        db.create_all()
        stores = {code: Store(code=code, name=name, timezone="Europe/Warsaw", country="PL", currency="PLN")
                  for code, name in (("WAW", "Warszawa"), ("KRK", "Kraków"))}
        teams = {name: Team(name=name) for name in ("North", "South")}
        staff = {}
        for code, name, roles, team, store, langs in PEOPLE:
            s = Staff(employee_code=code, name=name, email=f"{code.lower()}@example.test",
                      team=teams.get(team), store=stores.get(store))
            s.role_rows = [StaffRole(role=r) for r in roles]
            s.language_rows = [StaffLanguage(language=lang) for lang in langs]
            db.session.add(s)
            staff[code] = s
        db.session.commit()
        tokens = {code: create_token(s, actor_id=None) for code, s in staff.items()}
        db.session.commit()

        add_clients(stores["WAW"], 12, language="pl", days=45, step=1, prefix="W")
        c1 = new_campaign(staff["M01"], name="June calls", stores=["WAW"])
        c1.holdout_seed = 4241
        quotas(c1, [(staff[c], n) for c, n in C1_QUOTA.items()])
        launch(c1)
        called = {}
        for code in C1_QUOTA:
            called[code] = []
            for _ in range(C1_QUOTA[code]):
                c = calls.claim_next(staff[code], clock.now())
                calls.log_outcome(c.item_id, staff[code], {"disposition": "will_visit", "claim": c.token},
                                  clock.now())
                db.session.commit()
                called[code].append(db.session.get(Client, c.client_id).ref)
        visits = [{"visit_ref": f"JV-{ref}", "client_ref": ref, "store_code": "WAW",
                   "visited_at": f"2026-06-{5 + n:02d}",
                   "amount": "80.00", "status": "completed"}
                  for code, k in C1_VISITS.items() for n, ref in enumerate(sorted(called[code])[:k])]
        assert upsert_visits(visits)["rejected"] == 0
        put_plan(Period.parse("2026-06"), BONUS_PLAN, staff["M01"].id)
        db.session.commit()

        add_clients(stores["KRK"], 150, language="pl", days=35, step=1, prefix="P")
        add_clients(stores["KRK"], 90, language="en", days=40, step=2, spend=20000, prefix="E")
        c2 = new_campaign(staff["M01"], name="Kraków win-back", stores=["KRK"], holdout_share=0.1)
        c2.holdout_seed = 4242  # the same draw in both databases
        quotas(c2, [(staff[c], n) for c, n in C2_QUOTA.items()])

        db.session.add(Client(ref="U0001", first_name="Urszula", last_name="Before", phone="+48501000001",
                              phone_callable=True, language="pl", store=stores["WAW"], consent_call=True,
                              created_at=clock.utcnow_naive(), updated_at=clock.utcnow_naive()))
        db.session.commit()
        out = {"tokens": tokens, "staff": {c: s.id for c, s in staff.items()}, "c2": c2.id}
        db.session.remove()
        db.engine.dispose()
    return out


class World:
    """Two databases seeded alike: ``clean`` gets each operation run once in
    this process, ``run`` gets it through web and worker processes that the
    tests kill."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[Proc] = []
        self.watch = self.clean = self.redis = None

    def start(self) -> None:
        import psycopg
        from redis import Redis
        self.admin, self.clean_url = server_urls("wb_fault_clean")
        _, self.run_url = server_urls("wb_fault_run")
        reset_database(self.admin, self.clean_url, "wb_fault_clean")
        reset_database(self.admin, self.run_url, "wb_fault_run")
        seed(self.clean_url)
        self.seeded = seed(self.run_url)
        self.tokens = self.seeded["tokens"]
        self.redis = Redis.from_url(redis_url(REDIS_RUN))
        self.redis.flushdb()
        Redis.from_url(redis_url(REDIS_SINK)).flushdb()
        self.clean_app = in_process_app(self.clean_url)
        self.env = process_env(self.run_url, redis_url(REDIS_RUN))
        self.watch = psycopg.connect(self.run_url, autocommit=True)
        self.clean = psycopg.connect(self.clean_url, autocommit=True)
        self.pg_port = urlsplit(self.run_url).port or 5432
        for table in ("clients", "visits", "campaigns", "campaign_items", "quotas", "outcomes"):
            clean, run = self.both(f"SELECT to_jsonb(t) - 'claim_token' FROM {table} t ORDER BY 1")
            assert clean == run, f"the two seeds differ in {table}"
        self.web_proc, self.web = start_web("web", self.env, self.tmp)
        self.procs.append(self.web_proc)

    def sql(self, query: str, params=(), *, clean: bool = False) -> list[tuple]:
        return (self.clean if clean else self.watch).execute(query, params).fetchall()

    def both(self, query: str, params=()) -> tuple[list, list]:
        return self.sql(query, params, clean=True), self.sql(query, params)

    def worker(self, name: str) -> Proc:
        """A new worker, the only one: those of an earlier test are stopped first."""
        stop_all([p for p in self.procs if p is not self.web_proc and p.alive()])
        proc = start_worker(name, self.env, self.tmp)
        self.procs.append(proc)
        return proc

    def blocked_by(self, lock_pid: int) -> dict | None:
        """The backend waiting for a lock that ``lock_pid`` holds, once it has
        written in its transaction (a transaction id): the job is mid-way."""
        rows = self.sql("SELECT pid, backend_xid::text, wait_event_type, query, client_port FROM pg_stat_activity "
                        "WHERE datname = 'wb_fault_run' AND %s = ANY(pg_blocking_pids(pid))", (lock_pid,))
        if not rows:
            return None
        assert len(rows) == 1, rows
        pid, xid, wait, query, port = rows[0]
        if xid is None or wait != "Lock":
            return None
        tables = {t for (t,) in self.sql("SELECT relation::regclass::text FROM pg_locks WHERE pid = %s AND granted "
                                         "AND mode = 'RowExclusiveLock' AND relation IS NOT NULL", (pid,))}
        return {"pid": pid, "query": query, "port": port, "writes": tables}

    def uncommitted(self, table: str) -> int:
        """Rows inserted into ``table`` by transactions not committed (yet, or
        ever): its id sequence is past its largest committed id."""
        return self.sql(f"SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')), 0) "
                        f"- coalesce(max(id), 0) FROM {table}")[0][0]

    def backend_gone(self, pid: int) -> bool:
        return not self.sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))

    def job_row(self, job_id: str) -> dict:
        rows = self.sql("SELECT to_jsonb(j) FROM jobs j WHERE id = %s", (job_id,))
        return rows[0][0] if rows else None

    def wait_job(self, job_id: str, seen: list | None = None) -> dict:
        """Poll the job's row until it ends; ``seen`` collects (status, progress) on the way."""
        def ended():
            row = self.job_row(job_id)
            if seen is not None:
                seen.append((row["status"], row["progress"]))
            return row if row["status"] in ("finished", "failed") else None
        row = wait_until(ended, timeout=DEADLINE, what=f"job {job_id}", watch=[p for p in self.procs if p.alive()])
        assert row["status"] == "finished", (row, tails(self.procs))
        return row

    def close(self) -> None:
        stop_all(self.procs)
        if getattr(self, "clean_app", None) is not None:
            with self.clean_app.app_context():
                db.engine.dispose()
        for conn in (self.watch, self.clean):
            if conn is not None:
                conn.close()
        if self.redis is not None:
            self.redis.flushdb()
            self.redis.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("faults"))
    try:
        w.start()
        yield w
    finally:
        w.close()


def assert_retried_once(w: World, job_id: str, dead: Proc, new: Proc) -> None:
    """RQ ran the job again on the new worker (one retry spent), once; the
    dead worker's lease, registry entry and worker entry are gone."""
    from rq import Queue
    from rq.job import Job as RQJob
    from rq.registry import StartedJobRegistry

    from campaign.core.worker import LEASES_KEY
    rq_job = RQJob.fetch(job_id, connection=w.redis)
    assert (rq_job.get_status(), rq_job.retries_left) == ("finished", 1)
    assert f"Job OK ({job_id})" not in dead.log.read_text(errors="replace")
    log = new.log.read_text(errors="replace")
    assert log.count(f"Job OK ({job_id})") == 1, new.tail()
    assert f"job {job_id}: its worker" in log and "back on the queue" in log, new.tail()
    assert w.redis.zcard(LEASES_KEY) == 0
    assert StartedJobRegistry(queue=Queue("winback", connection=w.redis)).get_job_ids(cleanup=False) == []


# ------------------------------------------------------------------ 1. a worker killed mid-import


@needs_servers
def test_a_worker_killed_in_the_middle_of_an_import_is_retried_and_ends_as_one_clean_run(world):
    import psycopg

    from campaign.core import jobs
    from campaign.imports import services
    w = world
    data, expected = clients_file()
    m01 = w.seeded["staff"]["M01"]

    # The reference: the same upload run once, uninterrupted, on the clean database.
    with w.clean_app.app_context():
        job = services.store_upload(io.BytesIO(data), kind="clients", filename="clients.csv", starter_id=m01)
        db.session.commit()
        clean_result = jobs.execute(job.id)
        db.session.remove()
    assert {k: clean_result[k] for k in ("inserted", "updated", "unchanged", "rejected")} == \
        {k: expected[k] for k in ("inserted", "updated", "unchanged", "rejected")}

    # The run: a worker, and a row lock on the client the 4th batch updates.
    worker1 = w.worker("worker1")
    holder = psycopg.connect(w.run_url)
    try:
        holder.execute("SELECT 1 FROM clients WHERE ref = 'U0001' FOR UPDATE")
        lock_pid = holder.info.backend_pid
        r = w.web.post("/api/v1/imports/clients", w.tokens["M01"], file=("clients.csv", data))
        assert r.status == 202, r
        job_id = r.json()["job_id"]
        blocked = wait_until(lambda: w.blocked_by(lock_pid), timeout=DEADLINE, what="the import to reach U0001",
                             watch=[worker1, w.web_proc])
        # Mid-way, provably: three batches committed with their checkpoint, the fourth has
        # inserted its new clients (its transaction writes clients) and waits to update U0001.
        assert blocked["query"].lstrip().upper().startswith("UPDATE CLIENTS"), blocked
        assert "clients" in blocked["writes"] and w.uncommitted("clients") >= BATCH - 2, blocked
        row = w.job_row(job_id)
        assert row["status"] == "started" and row["params"]["checkpoint"]["line"] == 3 * BATCH + 1, row
        assert 0 < row["progress"] < 1
        checkpoint_progress = row["progress"]
        committed = w.sql("SELECT count(*) FROM clients WHERE ref LIKE 'N%%'")[0][0]
        assert committed == 3 * BATCH - 3

        kill_group(worker1)
    finally:
        holder.rollback()
        holder.close()
    wait_until(lambda: w.backend_gone(blocked["pid"]), timeout=DEADLINE, what="the dead worker's backend to end")
    assert w.sql("SELECT count(*) FROM clients WHERE ref LIKE 'N%%'")[0][0] == committed, \
        "the fourth batch was rolled back with its worker"
    assert w.job_row(job_id)["status"] == "started", "nobody has noticed yet"

    worker2 = w.worker("worker2")
    seen = []
    row = w.wait_job(job_id, seen)
    assert_retried_once(w, job_id, worker1, worker2)
    # Progress never went back: the retry went on from the checkpoint.
    progress = [p for _s, p in seen]
    assert progress == sorted(progress) and progress[0] >= checkpoint_progress and progress[-1] == 1.0, seen

    # Row by row, as the clean run: the clients, the rejects, the job, its audit entry.
    clean, run = w.both("SELECT to_jsonb(c) - 'id' FROM clients c ORDER BY ref")
    assert len(run) == len(clean) and run == clean
    clean, run = w.both("SELECT line, \"column\", reason, raw FROM import_rejects ORDER BY line")
    assert run == clean and [line for line, *_ in run] == sorted(expected["reject_lines"])
    clean, run = w.both("SELECT to_jsonb(j) - 'id' FROM jobs j WHERE kind = 'import'")
    assert run == clean and len(run) == 1
    assert (row["status"], row["progress"], row["error"], row["result"]) == ("finished", 1.0, None, clean_result)
    clean, run = w.both("SELECT details FROM audit_log WHERE action = 'import'")
    assert run == clean and len(run) == 1, "audited once: the import ended once"
    assert w.sql("SELECT count(*) FROM job_file_chunks")[0][0] == 0


# ------------------------------------------------------------------ 2. a worker killed mid-assignment


@needs_servers
def test_a_worker_killed_in_the_middle_of_an_assignment_is_retried_and_ends_as_one_clean_run(world):
    import psycopg

    from campaign.campaigns import services
    from campaign.campaigns.models import Campaign
    from campaign.core import jobs
    w = world
    cid, m01 = w.seeded["c2"], w.seeded["staff"]["M01"]

    with w.clean_app.app_context():
        job = services.launch(db.session.get(Campaign, cid), m01)
        db.session.commit()
        clean_result = jobs.execute(job.id)
        db.session.remove()
    assert clean_result["placed"] == sum(C2_QUOTA.values())

    worker1 = w.worker("assign-worker1")
    holder = psycopg.connect(w.run_url)
    try:
        # The run is one transaction; near its end it marks the leaderboard roll-ups dirty.
        holder.execute("LOCK TABLE score_dirty IN ACCESS EXCLUSIVE MODE")
        lock_pid = holder.info.backend_pid
        r = w.web.post(f"/api/v1/campaigns/{cid}/launch", w.tokens["M01"])
        assert r.status == 202, r
        job_id = r.json()["job_id"]
        blocked = wait_until(lambda: w.blocked_by(lock_pid), timeout=DEADLINE,
                             what="the assignment to reach score_dirty", watch=[worker1, w.web_proc])
        # Mid-way: the queue items are inserted (uncommitted), the job said 70 %.
        assert "score_dirty" in blocked["query"], blocked
        assert "campaign_items" in blocked["writes"] and w.uncommitted("campaign_items") >= 240, blocked
        row = w.job_row(job_id)
        assert (row["status"], row["progress"]) == ("started", 0.7), row
        kill_group(worker1)
    finally:
        holder.rollback()
        holder.close()
    wait_until(lambda: w.backend_gone(blocked["pid"]), timeout=DEADLINE, what="the dead worker's backend to end")
    assert w.sql("SELECT count(*) FROM campaign_items WHERE campaign_id = %s", (cid,))[0][0] == 0, \
        "nothing of the killed run is left"

    worker2 = w.worker("assign-worker2")
    row = w.wait_job(job_id)
    assert_retried_once(w, job_id, worker1, worker2)
    assert (row["progress"], row["error"], row["result"]) == (1.0, None, clean_result)

    clean, run = w.both("SELECT to_jsonb(i) - 'id' FROM campaign_items i WHERE campaign_id = %s "
                        "ORDER BY client_id", (cid,))
    assert len(run) == len(clean) > sum(C2_QUOTA.values()) and run == clean
    clean, run = w.both("SELECT to_jsonb(c) - 'last_job_id' FROM campaigns c WHERE id = %s", (cid,))
    assert run == clean and run[0][0]["status"] == "active"
    clean, run = w.both("SELECT to_jsonb(j) - 'id' FROM jobs j WHERE kind = 'campaign_assign'")
    assert run == clean and len(run) == 1
    clean, run = w.both("SELECT staff_id, campaign_id, client_id, seq FROM score_dirty ORDER BY 1, 2, 3")
    assert run == clean
    # And on its own terms: nobody over quota, no client twice.
    per_agent = dict(w.sql("SELECT s.employee_code, count(*) FROM campaign_items i JOIN staff s ON s.id = i.staff_id "
                           "WHERE i.campaign_id = %s GROUP BY 1", (cid,)))
    assert per_agent == C2_QUOTA
    assert w.sql("SELECT count(*) - count(DISTINCT client_id) FROM campaign_items WHERE campaign_id = %s",
                 (cid,))[0][0] == 0


# ------------------------------------------------------------------ 3. the web process killed mid-bonus-run


@needs_servers
def test_a_web_process_killed_in_the_middle_of_a_bonus_run_leaves_nothing_and_the_retry_is_a_clean_run(world):
    import psycopg

    from campaign.bonuses import runs
    from campaign.scoring.rules import Period
    w = world
    m01 = w.seeded["staff"]["M01"]

    with w.clean_app.app_context():
        clean_json = runs.run_json(runs.compute_run(Period.parse("2026-06"), m01))
        db.session.commit()
        db.session.remove()
    # Independently (SPEC §8): North 4 conversions × 10.00 shared by A01 and A02, South 2 × 10.00 for
    # B01 alone; places by conversions: A01 (3), B01 (2), A02 (1).
    assert {s["employee_code"]: (s["team_share"], s["rank_reward"], s["total"]) for s in clean_json["statements"]
            if s["total"]} == {"A01": (2000, 50000, 52000), "A02": (2000, 10000, 12000), "B01": (2000, 30000, 32000)}

    holder = psycopg.connect(w.run_url)
    outcome: dict = {}
    before = children(w.web_proc.pid)
    try:
        # The run's last write is its audit entry: hold the audit log.
        holder.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
        lock_pid = holder.info.backend_pid

        def post():
            try:
                outcome["response"] = w.web.post("/api/v1/bonus-runs", w.tokens["M01"],
                                                 json_body={"period": "2026-06"}, timeout=DEADLINE)
            except OSError as exc:  # the process serving it died: no HTTP answer at all
                outcome["error"] = exc

        request = threading.Thread(target=post)
        request.start()
        blocked = wait_until(lambda: w.blocked_by(lock_pid), timeout=DEADLINE,
                             what="the bonus run to reach its audit entry", watch=[w.web_proc])
        assert "audit_log" in blocked["query"], blocked
        assert {"bonus_runs", "bonus_lines", "bonus_conversions"} <= blocked["writes"], blocked
        assert w.uncommitted("bonus_runs") == 1 and w.uncommitted("bonus_lines") >= 3, blocked
        serving = pid_with_tcp_port(blocked["port"], w.pg_port, children(w.web_proc.pid))
        assert serving in before, (serving, before)
        os.kill(serving, signal.SIGKILL)
        request.join(timeout=DEADLINE)
        assert "error" in outcome or outcome["response"].status >= 500, outcome
    finally:
        holder.rollback()
        holder.close()
    wait_until(lambda: w.backend_gone(blocked["pid"]), timeout=DEADLINE, what="the dead process's backend to end")
    for table in ("bonus_runs", "bonus_lines", "bonus_conversions", "bonus_adjustments"):
        assert w.sql(f"SELECT count(*) FROM {table}")[0][0] == 0, f"{table}: something of the killed run is left"
    assert w.sql("SELECT count(*) FROM audit_log WHERE action LIKE 'bonus_run.%%'")[0][0] == 0

    # gunicorn replaced its worker; the same request again is a clean run.
    wait_until(lambda: len(children(w.web_proc.pid)) == len(before), timeout=DEADLINE, what="a new web worker")
    r = w.web.post("/api/v1/bonus-runs", w.tokens["M01"], json_body={"period": "2026-06"})
    assert r.status == 201, r

    assert {k: v for k, v in r.json().items() if k != "id"} == {k: v for k, v in clean_json.items() if k != "id"}
    clean, run = w.both("SELECT to_jsonb(r) - 'id' FROM bonus_runs r")
    assert run == clean and len(run) == 1
    for table, order in (("bonus_lines", "employee_code"), ("bonus_conversions", "client_id, visit_id")):
        clean, run = w.both(f"SELECT to_jsonb(t) - 'id' - 'run_id' - 'conversion_id' FROM {table} t ORDER BY {order}")
        assert run == clean and run, table
    clean, run = w.both("SELECT details FROM audit_log WHERE action = 'bonus_run.compute'")
    assert run == clean and len(run) == 1


# ------------------------------------------------------------------ 4. PostgreSQL restarted under claim load


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


PG_BIN = _pg_bin()


class OwnPostgres:
    """A PostgreSQL server of this test: initdb into a temporary directory as
    the ``postgres`` user (the tests run as root), trust authentication, TCP
    on 127.0.0.1 only."""

    def __init__(self, port: int):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="wb_fault_pg_", dir="/tmp"))
        self.data, self.logfile = self.dir / "data", self.dir / "server.log"
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "-E", "UTF8", "--no-locale", "--no-sync"])
        self.opts = (f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
                     "-c fsync=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB")
        self.start()
        self.url = f"postgresql://postgres@127.0.0.1:{port}/winback"

    def _as_postgres(self, argv: list[str]) -> None:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/tmp")
        assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}\n{self.log()}"

    def start(self) -> None:
        self.ctl("-o", self.opts, "start")

    def ctl(self, *args: str) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w",
                           "-t", "60", *args])

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


pg_servers = pytest.mark.skipif(
    not (SERVERS and PG_BIN and (os.geteuid() != 0 or shutil.which("runuser"))),
    reason="needs Redis and PostgreSQL's server binaries (.ci/run's second pass has both)")

AGENTS = ("A1", "A2", "A3", "A4", "A5", "A6")
AGENT_PASSWORD = "restarts-do-not-lose-claims"
TABS = 2
PER_AGENT = 90


def seed_claims(url: str) -> dict:
    from campaign.accounts.models import Staff, StaffLanguage, StaffRole, Store
    from campaign.accounts.services import create_token, set_password
    from tests.campaign_helpers import add_clients, launch, new_campaign, quotas
    app = in_process_app(url)
    with app.app_context():
        db.create_all()
        store = Store(code="WAW", name="Warszawa", timezone="Europe/Warsaw", country="PL", currency="PLN")
        people = {}
        for code in ("M1", *AGENTS):
            s = Staff(employee_code=code, name=f"Person {code}", email=f"{code.lower()}@example.test", store=store)
            s.role_rows = [StaffRole(role="manager" if code == "M1" else "agent")]
            s.language_rows = [StaffLanguage(language="pl")]
            db.session.add(s)
            people[code] = s
        db.session.commit()
        set_password(people["A1"], AGENT_PASSWORD, actor_id=None)
        db.session.commit()
        add_clients(store, PER_AGENT * len(AGENTS), language="pl", days=45, step=0, prefix="Q")
        camp = new_campaign(people["M1"], name="Under restarts", stores=["WAW"])
        quotas(camp, [(people[a], PER_AGENT) for a in AGENTS])
        launch(camp)
        tokens = {a: create_token(people[a], actor_id=None) for a in AGENTS}
        ids = {a: people[a].id for a in AGENTS}
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"tokens": tokens, "ids": ids}


class Load:
    """Agents, two tabs each, taking the next client and logging an outcome
    as fast as they can; everything they get back is recorded."""

    def __init__(self, web: Web, tokens: dict):
        self.web, self.tokens = web, tokens
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.phase = "before"
        self.handed: list[tuple] = []      # (agent, item_id, claim, phase)
        self.logged: list[tuple] = []      # (agent, item_id, outcome_id)
        self.unknown: list[tuple] = []     # outcomes whose answer was lost (503) and then 409: logged or not
        self.refusals: Counter = Counter()  # phase -> 503s
        self.bad: list = []                # anything that is not 200/201/204/503-as-promised
        self.ok_after: Counter = Counter()  # phase -> successful requests

    def _call(self, method, path, token, body=None):
        try:
            r = self.web.request(method, path, token, json_body=body, timeout=30)
        except OSError as exc:
            with self.lock:
                self.bad.append((path, repr(exc)))
            return None
        if r.status == 503:
            body_ok = False
            try:
                body_ok = r.json()["error"]["code"] == "database_unavailable" and r.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            if not (body_ok and r.headers.get("Retry-After") and
                    r.headers.get("Content-Type", "").startswith("application/json")):
                with self.lock:
                    self.bad.append((path, r.status, r.headers.get("Content-Type"), r.body[:200]))
            with self.lock:
                self.refusals[self.phase] += 1
        elif r.status in (200, 201, 204):
            with self.lock:
                self.ok_after[self.phase] += 1
        return r

    def tab(self, agent: str, n: int) -> None:
        token, rnd = self.tokens[agent], random.Random(f"{agent}-{n}")
        while not self.stop.is_set():
            r = self._call("POST", "/api/v1/queue/next", token, {})
            if r is None or r.status == 503:
                time.sleep(0.02)
                continue
            if r.status == 204:
                return
            if r.status != 200:
                with self.lock:
                    self.bad.append(("next", r.status, r.body[:200]))
                continue
            item, claim = r.json()["item_id"], r.json()["claim"]
            with self.lock:
                self.handed.append((agent, item, claim, self.phase))
            disposition = rnd.choice(("will_visit", "not_interested", "busy", "wrong_number"))
            lost = False
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                o = self._call("POST", f"/api/v1/queue/{item}/outcome", token,
                               {"disposition": disposition, "claim": claim})
                if o is None or o.status == 503:
                    lost = True
                    time.sleep(0.02)
                    continue
                with self.lock:
                    if o.status == 201:
                        self.logged.append((agent, item, o.json()["id"]))
                    elif o.status == 409 and lost:
                        self.unknown.append((agent, item))
                    else:
                        self.bad.append(("outcome", o.status, o.body[:200]))
                break


def sign_in_page(base: str, code: str, password: str) -> tuple[int, object, str]:
    """Sign in through the form (CSRF included) as a browser would: status, headers, body of the answer."""
    import http.cookiejar
    import re
    import urllib.error
    import urllib.parse
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    html = opener.open(base + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    data = urllib.parse.urlencode({"login": code, "password": password, "csrf_token": token}).encode()
    try:
        with opener.open(base + "/login", data, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode(errors="replace")


@pg_servers
def test_postgresql_restarted_under_claim_load_fails_cleanly_and_the_app_recovers(tmp_path):
    import psycopg
    pg = OwnPostgres(own_port())
    procs: list[Proc] = []
    try:
        with psycopg.connect(pg.url.replace("/winback", "/postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE winback")
        seeded = seed_claims(pg.url)
        from redis import Redis
        Redis.from_url(redis_url(REDIS_SINK)).flushdb()
        # (Not WINBACK_ENV=production: its cookies are Secure, and this test signs in over plain HTTP.)
        env = process_env(pg.url, redis_url(REDIS_SINK), WINBACK_DB_POOL_SIZE="2", WINBACK_DB_MAX_OVERFLOW="2",
                          WINBACK_ENV="development")
        web_proc, web = start_web("web", env, tmp_path, workers=3)
        procs.append(web_proc)
        gunicorn_workers = children(web_proc.pid)
        load = Load(web, seeded["tokens"])
        tabs = [threading.Thread(target=load.tab, args=(a, n), daemon=True) for a in AGENTS for n in range(TABS)]
        for t in tabs:
            t.start()

        def some_work(phase: str, n: int = 25):
            wait_until(lambda: load.ok_after[phase] >= n, timeout=DEADLINE, what=f"{n} answers ({phase})",
                       watch=[web_proc])

        some_work("before")
        for mode in ("fast", "immediate"):
            load.phase = f"restart {mode}"
            pg.ctl("-m", mode, "restart")
            load.phase = f"after {mode}"
            some_work(load.phase)  # the same processes serve again: pre-ping reconnects
        load.stop.set()
        for t in tabs:
            t.join(timeout=DEADLINE)
        assert not any(t.is_alive() for t in tabs)

        print(f"handed out {len(load.handed)}, outcomes {len(load.logged)} (+{len(load.unknown)} lost answers), "
              f"503s by phase {dict(load.refusals)}, answers by phase {dict(load.ok_after)}")
        assert load.bad == [], load.bad[:10]

        # The server stopped, deterministically: the API and a page both say 503, then serve again.
        pg.ctl("-m", "fast", "stop")
        r = web.post("/api/v1/queue/next", seeded["tokens"]["A1"], json_body={})
        assert (r.status, r.headers.get("Retry-After"), r.headers.get("Content-Type")) == (
            503, "5", "application/json"), r
        assert r.json()["error"]["code"] == "database_unavailable" and "database" in r.json()["error"]["message"]
        status, headers, body = sign_in_page(web.base, "A1", AGENT_PASSWORD)
        assert (status, headers.get_content_type()) == (503, "text/html"), body
        assert int(headers.get("Retry-After")) > 0  # (the sign-in form's limiter writes its own)
        assert "Service unavailable" in body and "Traceback" not in body
        pg.start()
        assert web.post("/api/v1/queue/next", seeded["tokens"]["A1"], json_body={}).status in (200, 204)
        assert sign_in_page(web.base, "A1", AGENT_PASSWORD)[0] == 200  # signed in, on the call workspace
        assert children(web_proc.pid) == gunicorn_workers, "recovered without a restart of any web process"
        for mode in ("fast", "immediate"):  # (a refusal answered just after pg_ctl returned counts as "after")
            assert load.refusals[f"restart {mode}"] + load.refusals[f"after {mode}"] > 0, \
                f"no request met the {mode} restart: {dict(load.refusals)}"
        # No item to two claimants, ever (the clock is pinned: no claim expires, a busy is not due again).
        handed = Counter(item for _a, item, _c, _p in load.handed)
        assert [i for i, n in handed.items() if n > 1] == []
        owner = {item: agent for agent, item, _c, _p in load.handed}
        with psycopg.connect(pg.url, autocommit=True) as conn:
            outcomes = conn.execute("SELECT o.item_id, s.employee_code, o.id FROM outcomes o "
                                    "JOIN staff s ON s.id = o.staff_id").fetchall()
            per_item = Counter(item for item, _s, _o in outcomes)
            assert [i for i, n in per_item.items() if n > 1] == [], "one outcome per claim"
            assert all(owner.get(item) == code for item, code, _o in outcomes), \
                "every outcome is on an item handed to its agent"
            logged = {o for _a, _i, o in load.logged}
            assert logged <= {o for _i, _s, o in outcomes}, "every 201 is in the database"
            # An outcome whose answer was lost is in the database at most once (409 on the retry).
            assert len(outcomes) - len(logged) <= len(load.unknown)
            # Items claimed whose answer was lost stay with their agent until the claim expires.
            stray = conn.execute("SELECT ci.id, s.employee_code FROM campaign_items ci "
                                 "JOIN staff s ON s.id = ci.staff_id WHERE ci.status = 'claimed'").fetchall()
            assert all(owner.get(item, code) == code for item, code in stray)
    except BaseException:
        print(tails(procs), pg.log(), sep="\n")
        raise
    finally:
        stop_all(procs)
        pg.stop()

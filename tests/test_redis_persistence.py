"""Production keeps the job queue in Redis with append-only persistence
(docs/operations.md): queued jobs survive Redis being killed and started
again, and a worker started afterwards runs each of them once.

The test runs its own redis-server (a free port, a temporary directory,
``appendonly yes``) so the shared Redis is never touched, and a real
``flask worker --burst`` process against the suite's database.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from redis import Redis

from campaign.core import jobs
from campaign.core.models import Job
from campaign.extensions import db
from tests.processes import ROOT, free_port

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed (.ci/run needs it "
                                                             "and the machine has it)")


def start_redis(port: int, folder) -> subprocess.Popen:
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            conn.ping()
            return proc
        except Exception:  # noqa: BLE001 - not listening yet
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)


def test_queued_jobs_survive_a_killed_redis_and_run_once_afterwards(app, ctx, tmp_path, monkeypatch):
    port = free_port()
    redis_proc = start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        monkeypatch.setitem(app.config, "REDIS_URL", url)
        monkeypatch.setitem(app.extensions, "winback_jobs", jobs.RedisBackend(app, Redis.from_url(url)))
        started = [jobs.start("noop", starter_id=None, params={"echo": i}) for i in range(3)]
        db.session.commit()
        ids = [j.id for j in started]
        assert jobs.backend_for(app).queue.count == 3, "queued; no worker listens to this Redis yet"

        redis_proc.send_signal(signal.SIGKILL)  # a crash, not a polite shutdown
        redis_proc.wait(10)
        redis_proc = start_redis(port, tmp_path)
        queue = jobs.RedisBackend(app, Redis.from_url(url)).queue
        assert sorted(queue.job_ids) == sorted(ids), "the append-only file brought the queue back"

        env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": url,
               "SECRET_KEY": "test-secret"}
        env.pop("WINBACK_NOW", None)
        out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst", "--no-ticker"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        db.session.expire_all()
        rows = {j.id: j for j in db.session.query(Job).filter(Job.id.in_(ids))}
        assert {i: (rows[i].status, rows[i].result["echo"]) for i in ids} == \
            {i: ("finished", n) for n, i in enumerate(ids)}
        assert queue.count == 0
        assert sum(out.stderr.count(f"Job OK ({i})") + out.stdout.count(f"Job OK ({i})") for i in ids) == 3, \
            "each ran once"
    finally:
        redis_proc.kill()
        redis_proc.wait(10)

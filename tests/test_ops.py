"""Health and status for operators: /healthz for a load balancer, the
admin status with queue depth, workers and failed jobs, and the CLI that
exits 1 when something needs a look."""
from __future__ import annotations

from datetime import datetime, timedelta

from campaign.core import jobs
from campaign.core.models import Job
from campaign.extensions import db


def test_healthz_is_public_cheap_and_names_its_checks(client):
    for url in ("/healthz", "/api/v1/health"):
        resp = client.get(url)
        assert resp.status_code == 200
        body = resp.get_json()
        assert body["status"] == "ok" and body["database"] == "ok" and body["queue"] in ("ok", "embedded")
        assert resp.headers["Cache-Control"] == "no-store"


def test_healthz_says_503_and_which_check_failed_when_redis_is_gone(app, client, monkeypatch):
    from redis import Redis
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    monkeypatch.setitem(app.extensions, "winback_jobs", jobs.RedisBackend(app, Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.5)))
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "unavailable", "database": "ok", "queue": "error: ConnectionError"}


def test_status_counts_jobs_and_names_problems_for_admins_only(client, ctx, make_staff, token_for, wait_for_job):
    admin, manager = make_staff("ADM", roles=("admin",)), make_staff("M01", roles=("manager",))
    done = jobs.start("noop", starter_id=admin.id)
    db.session.commit()
    wait_for_job(done.id)
    db.session.add(Job(kind="noop", status="failed", params={}, progress=0.0, error="RuntimeError: x",
                       created_at=datetime.utcnow(), finished_at=datetime.utcnow()))
    db.session.add(Job(kind="noop", status="queued", params={}, progress=0.0,
                       created_at=datetime.utcnow() - timedelta(hours=1)))   # never picked up
    db.session.commit()
    assert client.get("/api/v1/status", headers=token_for(manager)).status_code == 403
    resp = client.get("/api/v1/status", headers=token_for(admin))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["jobs"]["finished"] >= 1 and body["jobs"]["failed_last_24h"] == 1 and body["jobs"]["stuck"] == 1
    assert body["jobs"]["oldest_queued_seconds"] >= 3600
    assert set(body["queue"]) == {"name", "queued", "started", "scheduled", "failed"}
    assert body["workers"], "the embedded thread or the CI's worker"
    assert any("queued for over 15 minutes" in p for p in body["problems"])
    assert any("failed in the last 24 hours" in p for p in body["problems"])


def test_the_status_command_exits_1_on_a_problem(runner, ctx):
    ok = runner.invoke(args=["status"])
    assert ok.exit_code == 0, ok.output
    assert "health     database ok" in ok.output and "queue " in ok.output
    db.session.add(Job(kind="noop", status="failed", params={}, progress=0.0, error="RuntimeError: x",
                       created_at=datetime.utcnow(), finished_at=datetime.utcnow()))
    db.session.commit()
    bad = runner.invoke(args=["status"])
    assert bad.exit_code == 1 and "PROBLEM    1 job(s) failed in the last 24 hours" in bad.output

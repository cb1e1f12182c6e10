"""Scale-out (SPEC §10): two gunicorn web processes and two ``flask worker``
processes on one PostgreSQL and one Redis; every step of a month is done with
requests that land on different processes, so anything kept in one process's
memory would show.

* claims: agents, two "tabs" each, take the next client on one web process
  and log the outcome on the other, all at once; no item is handed out twice
  and every outcome is recorded once;
* imports: an upload accepted by one web process runs on a worker and is
  read back through the other; both workers run jobs (RQ's ``worker_name``
  and the worker logs say which);
* attribution: the visits import ends with a ``scores_refresh`` job on a
  worker; the conversions are there before any leaderboard read, and both
  web processes give the same leaderboards; a late POS visit posted to one
  process is seen by leaderboard reads racing on both;
* bonus runs: plan, run, approval and export alternate between the web
  processes; the first exports race on both at once; every download is the
  same bytes and the run is locked once.

Everything goes through the real interfaces (the CLI for the first people
and the tokens, the JSON API for the rest); the test reads its own database
directly only to check. It uses its own database (``winback_scale``) and its
own Redis database, never the suite's (``.ci/run`` runs a worker on db 5
alongside); only the PostgreSQL and Redis servers are shared.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import processes
from tests.processes import Proc, Web, run_cli, start_cli, stop_all, tails, wait_until

_DB_URL = os.environ.get("DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not (_DB_URL.startswith(("postgresql", "postgres://")) and os.environ.get("REDIS_URL")),
    reason="needs PostgreSQL and Redis: .ci/run's second pass provides them")

NOW = "2026-06-02T10:00:00+00:00"  # a Tuesday, 12:00 in Warsaw: inside the calling hours
OWN_DB = "winback_scale"
OWN_REDIS_DB = 7
JOB_DEADLINE = 30.0

PEOPLE = [  # employee_code, name, roles, team
    ("M01", "Maria Manager", "manager", ""),
    ("P01", "Paul Payroll", "payroll", ""),
    ("A01", "Anna Nowak", "agent", "North"),
    ("A02", "Adam Wiśniewski", "agent", "North"),
    ("B01", "Bożena Kowalska", "agent", "South"),
    ("B02", "Bartek Zieliński", "agent", "South"),
    ("T01", "Till Integration", "pos", ""),  # a point-of-sale integration (POST /visits)
]
AGENTS = ("A01", "A02", "B01", "B02")
TEAM = {"A01": "North", "A02": "North", "B01": "South", "B02": "South"}
# Dispositions each agent logs, in the order the outcomes are logged (which
# client gets which depends on the race, the counts do not). busy = not reached.
PLAN = {
    "A01": ["booked"] + ["will_visit"] * 3 + ["not_interested"] * 2 + ["busy"] * 4,
    "A02": ["will_visit"] * 2 + ["not_interested"] * 2 + ["busy"] * 4,
    "B01": ["will_visit"] * 4 + ["not_interested"] * 2 + ["busy"] * 2,
    "B02": ["will_visit"] + ["not_interested"] + ["busy"] * 4,
}
QUOTA = {a: len(PLAN[a]) for a in AGENTS}                                      # 10 8 8 6 = 32 of 40 clients
REACHED = {a: sum(d != "busy" for d in PLAN[a]) for a in AGENTS}               # 6 4 6 2
CONVERSIONS = {"A01": 4, "A02": 2, "B01": 3, "B02": 1}                         # of the reached, by client_ref
# …and one more for A01 that arrives late over the POS API (95.50; the imported ones are 80.00 each).
FINAL_CONVERSIONS = CONVERSIONS | {"A01": 5}
FINAL_REVENUE = {a: 8000 * n for a, n in CONVERSIONS.items()} | {"A01": 4 * 8000 + 9550}
N_CLIENTS = 40
BONUS_PLAN = {"currency": "PLN", "team_per_visit": 1000, "rank_rewards": [50000, 30000, 10000], "min_calls": 2,
              "competition_reward": 5000, "competition_penalty": 2000, "cap": 200000}
PAYROLL_HEADER = "period,employee_code,name,team,team_share,rank_reward,competition,adjustments,total,currency"


# ------------------------------------------------------------------ the cluster


def own_urls() -> tuple[str, str, str]:
    """(the admin database URL, this test's database URL, this test's Redis URL):
    the suite's servers, never the suite's databases."""
    from sqlalchemy.engine import make_url
    outer = make_url(_DB_URL.replace("postgres://", "postgresql://", 1))
    assert outer.database != OWN_DB, f"the suite itself runs on {OWN_DB}; this test needs that name for itself"
    admin = outer.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    own = outer.set(drivername="postgresql", database=OWN_DB).render_as_string(hide_password=False)
    redis = urlsplit(os.environ["REDIS_URL"])
    outer_db = int((redis.path or "/0").strip("/") or 0)
    db_number = OWN_REDIS_DB if outer_db != OWN_REDIS_DB else OWN_REDIS_DB + 1
    return admin, own, urlunsplit((redis.scheme, redis.netloc, f"/{db_number}", "", ""))


def reset_database(admin_url: str, own_url: str) -> None:
    import psycopg
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (OWN_DB,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{OWN_DB}"')
    with psycopg.connect(own_url, autocommit=True) as conn:
        # Left over from an earlier run that was killed: nothing else uses this database.
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (OWN_DB,))
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


class Cluster:
    def __init__(self, env, webs, workers, procs, tokens, redis, sql_conn, worker_names):
        self.env, self.webs, self.workers, self.procs = env, webs, workers, procs
        self.tokens, self.redis, self._sql, self.worker_names = tokens, redis, sql_conn, worker_names
        self._sql_lock = threading.Lock()

    def sql(self, query: str, params=()) -> list[tuple]:
        with self._sql_lock:
            return self._sql.execute(query, params).fetchall()

    def wait_job(self, web: Web, who: str, job_id: str) -> dict:
        """Poll ``GET /api/v1/jobs/{id}`` on ``web`` until the job ends."""
        def done():
            r = web.get(f"/api/v1/jobs/{job_id}", self.tokens[who])
            assert r.status == 200, (web, r)
            body = r.json()
            return body if body["status"] in ("finished", "failed") else None
        body = wait_until(done, timeout=JOB_DEADLINE, what=f"job {job_id} (read through {web.name})",
                          watch=self.procs)
        assert body["status"] == "finished", (body, tails(self.workers))
        return body


@pytest.fixture
def cluster(request, tmp_path):
    import psycopg
    from redis import Redis
    from rq import Worker

    admin_url, own_url, redis_url = own_urls()
    reset_database(admin_url, own_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    env = {**os.environ, "DATABASE_URL": own_url, "REDIS_URL": redis_url, "SECRET_KEY": "scale-out-test-secret",
           "WINBACK_ENV": "production", "WINBACK_NOW": NOW, "WINBACK_OUTBOX_TICK_SECONDS": "0",
           "PYTHONUNBUFFERED": "1"}
    for key in ("FLASK_APP", "WEB_CONCURRENCY"):
        env.pop(key, None)
    run_cli(["db", "upgrade"], env)

    procs: list[Proc] = []
    failed_before, ready = request.session.testsfailed, False
    sql_conn = psycopg.connect(own_url, autocommit=True)
    try:
        webs, web_procs = [], []
        for n in (1, 2):
            port = processes.free_port()
            web_procs.append(Proc(f"web{n}", [
                sys.executable, "-m", "gunicorn", "-k", "sync", "-w", "2", "-b", f"127.0.0.1:{port}",
                "--graceful-timeout", "5", "--no-control-socket", "--access-logfile", "-", "wsgi:app"], env, tmp_path))
            webs.append(Web(f"web{n}", f"http://127.0.0.1:{port}"))
        workers = [Proc(f"worker{n}", [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--no-ticker"],
                        env, tmp_path) for n in (1, 2)]
        procs += web_procs + workers

        # The first people come in through the CLI (nobody has a token yet), while the processes start.
        (tmp_path / "stores.csv").write_text("store_code,name,timezone,country,currency\n"
                                             "WAW,Winback Mokotów,Europe/Warsaw,PL,PLN\n")
        (tmp_path / "staff.csv").write_text(
            "employee_code,name,email,roles,team,store_code,languages\n"
            + "".join(f"{c},{n},{c.lower()}@example.test,{r},{t},WAW,en\n" for c, n, r, t in PEOPLE))
        assert run_cli(["import", "stores", str(tmp_path / "stores.csv")], env).strip() == \
            "inserted=1 updated=0 unchanged=0 rejected=0"
        assert run_cli(["import", "staff", str(tmp_path / "staff.csv")], env).strip() == \
            "inserted=7 updated=0 unchanged=0 rejected=0"
        pending = {code: start_cli(["token", "create", code], env) for code, *_ in PEOPLE}
        tokens = {}
        for code, p in pending.items():
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, (code, out, err)
            tokens[code] = out.strip()

        for web, proc in zip(webs, web_procs):
            wait_until(web.answers, timeout=30, what=f"{web.name} to answer HTTP", watch=[proc])
        pids = {w.pid: w.name for w in workers}

        def registered():
            seen = {w.name: pids[w.pid] for w in Worker.all(connection=redis) if w.pid in pids}
            return seen if len(seen) == len(workers) else None
        worker_names = wait_until(registered, timeout=30, what="both workers to register with Redis",
                                  watch=workers)
        ready = True
        yield Cluster(env, webs, workers, procs, tokens, redis, sql_conn, worker_names)
    finally:
        stop_all(procs)
        sql_conn.close()
        if procs and (not ready or request.session.testsfailed > failed_before):
            capman = request.config.pluginmanager.getplugin("capturemanager")
            with capman.global_and_fixture_disabled():
                print("\n===== scale-out process logs (tail) =====\n" + tails(procs, 60), flush=True)


# ------------------------------------------------------------------ the month


def test_claims_imports_attribution_and_bonus_runs_across_processes(cluster):
    started = time.monotonic()
    web1, web2 = cluster.webs
    jobs: dict[str, str] = {}  # what -> job id, to see which worker ran what
    cid = load_clients_and_launch(cluster, jobs)
    handed_out = work_the_queues(cluster, cid)
    attribute_visits(cluster, cid, handed_out, jobs)
    ran_by = jobs_ran_on_both_workers(cluster, jobs)
    pay_the_month(cluster)
    # Nothing above needed a retry or a restart.
    assert all(p.alive() for p in cluster.procs), tails([p for p in cluster.procs if not p.alive()])
    print(f"scale-out scenario: {time.monotonic() - started:.1f}s on {web1}, {web2}; jobs ran on {ran_by}")


def load_clients_and_launch(c: Cluster, jobs: dict) -> int:
    """Imports: accepted by one web process, run by a worker, read through the other."""
    web1, web2 = c.webs
    m = c.tokens["M01"]
    rows = "".join(f"K{i:03d},First{i},Last{i},+48 501 234 {i:03d},,en,WAW,1,0,0,0,0,\n"
                   for i in range(1, N_CLIENTS + 1))
    clients_csv = ("client_ref,first_name,last_name,phone,email,language,store_code,consent_call,consent_sms,"
                   "consent_email,consent_post,do_not_contact,notes\n" + rows + "K999,Bad,Row,,,en,NOPE,1,0,0,0,0,\n")
    r = web1.post("/api/v1/imports/clients", m, file=("clients.csv", clients_csv.encode()))
    assert r.status == 202, r
    jobs["clients import"] = r.json()["job_id"]
    body = c.wait_job(web2, "M01", jobs["clients import"])
    assert (body["result"]["inserted"], body["result"]["rejected"]) == (N_CLIENTS, 1), body
    assert [(x["line"], x["column"]) for x in body["result"]["rejects"]] == [(N_CLIENTS + 2, "store_code")]
    assert c.sql("SELECT count(*) FROM clients")[0][0] == N_CLIENTS
    assert c.sql("SELECT count(*) FROM job_file_chunks")[0][0] == 0, "the stored upload is dropped once imported"

    # Two completed visits each, the last 47–61 days before as_of: d1/d2, regulars.
    history = "visit_ref,client_ref,store_code,visited_at,service,amount,status,served_by\n" + "".join(
        f"H{i:03d}-{k},K{i:03d},WAW,2026-{month:02d}-{1 + i % 15:02d}T11:00,massage,{100 + i}.00,completed,\n"
        for i in range(1, N_CLIENTS + 1) for k, month in ((1, 3), (2, 4)))
    r = web2.post("/api/v1/imports/visits", m, file=("history.csv", history.encode()))
    assert r.status == 202, r
    jobs["history import"] = r.json()["job_id"]
    body = c.wait_job(web1, "M01", jobs["history import"])
    assert (body["result"]["inserted"], body["result"]["rejected"]) == (2 * N_CLIENTS, 0), body
    assert "scores_job" not in body["result"], "nobody has been called: nothing to attribute"
    assert c.sql("SELECT count(*) FROM visits")[0][0] == 2 * N_CLIENTS

    r = web1.post("/api/v1/campaigns", m, json_body={
        "name": "Scale-out win-back", "as_of": "2026-06-01", "holdout_share": 0, "max_attempts": 3,
        "retry_delay_hours": 24, "attribution_window_days": 30})
    assert r.status == 201, r
    cid = r.json()["id"]
    r = web2.get(f"/api/v1/campaigns/{cid}/preview", m)
    assert r.status == 200 and (r.json()["eligible"], r.json()["holdout"]) == (N_CLIENTS, 0), r
    r = web2.put(f"/api/v1/campaigns/{cid}/quotas", m,
                 json_body=[{"employee_code": a, "target": QUOTA[a]} for a in AGENTS])
    assert r.status == 200, r
    r = web1.post(f"/api/v1/campaigns/{cid}/launch", m)
    assert r.status == 202, r
    jobs["launch"] = r.json()["job_id"]
    c.wait_job(web2, "M01", jobs["launch"])
    for web in (web1, web2):
        counts = web.get(f"/api/v1/campaigns/{cid}", m).json()["counts"]
        assert (counts["assigned"], counts["pool"], counts["attempted"]) == (sum(QUOTA.values()),
                                                                            N_CLIENTS - sum(QUOTA.values()), 0)
    return cid


def work_the_queues(c: Cluster, cid: int) -> list[dict]:
    """Claims: two tabs per agent, each taking the next client on one web
    process and logging the outcome on the other, all at once."""
    plans = {a: list(PLAN[a]) for a in AGENTS}
    lock = threading.Lock()
    log: list[dict] = []
    errors: list[str] = []
    tabs = [(a, t) for a in AGENTS for t in (0, 1)]
    start = threading.Barrier(len(tabs))

    def tab(agent: str, t: int) -> None:
        token = c.tokens[agent]
        try:
            start.wait(timeout=30)
            for k in range(100):
                claim_web, outcome_web = c.webs[(t + k) % 2], c.webs[(t + k + 1) % 2]
                r = claim_web.post("/api/v1/queue/next", token)
                if r.status == 204:
                    return
                if r.status != 200:
                    errors.append(f"{agent}/{t}: next on {claim_web.name} → {r}")
                    return
                claim = r.json()
                with lock:
                    if not plans[agent]:
                        errors.append(f"{agent}/{t}: item {claim['item_id']} handed out beyond the quota")
                        return
                    disposition = plans[agent].pop(0)
                body = {"disposition": disposition, "claim": claim["claim"], "notes": f"tab {t}"}
                if disposition == "booked":
                    body |= {"booked_at": "2026-06-09T12:00", "service": "massage"}
                r = outcome_web.post(f"/api/v1/queue/{claim['item_id']}/outcome", token, json_body=body)
                with lock:
                    log.append({"agent": agent, "tab": t, "item_id": claim["item_id"], "disposition": disposition,
                                "claimed_on": claim_web.name, "logged_on": outcome_web.name, "status": r.status})
                if r.status != 201:
                    errors.append(f"{agent}/{t}: outcome on {outcome_web.name} → {r}")
                    return
            errors.append(f"{agent}/{t}: the queue never ran dry")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{agent}/{t}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=tab, args=ta) for ta in tabs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors

    # No item was handed out twice; each agent called exactly their quota, from their own queue.
    per_item = Counter(e["item_id"] for e in log)
    assert [i for i, n in per_item.items() if n > 1] == [], "an item was claimed by two tabs"
    assert Counter(e["agent"] for e in log) == Counter(QUOTA)
    owners = dict(c.sql("SELECT ci.id, s.employee_code FROM campaign_items ci JOIN staff s ON s.id = ci.staff_id "
                        "WHERE ci.campaign_id = %s", (cid,)))
    assert all(owners[e["item_id"]] == e["agent"] for e in log), "a claim outside the agent's own queue"
    assert set(owners) == set(per_item), "every assigned item was called"
    # Claims and outcomes really crossed processes, both ways.
    assert Counter((e["claimed_on"], e["logged_on"]) for e in log).keys() == {("web1", "web2"), ("web2", "web1")}

    # Every outcome is recorded once, as sent; the items are where the outcomes put them.
    rows = c.sql("SELECT o.item_id, s.employee_code, o.disposition, o.reached FROM outcomes o "
                 "JOIN staff s ON s.id = o.staff_id WHERE o.campaign_id = %s", (cid,))
    assert len(rows) == len(log) == sum(QUOTA.values())
    assert sorted((i, a, d) for i, a, d, _ in rows) == sorted((e["item_id"], e["agent"], e["disposition"]) for e in log)
    assert Counter(a for _, a, _, reached in rows if reached) == Counter(REACHED)
    statuses = dict(c.sql("SELECT status, count(*) FROM campaign_items WHERE campaign_id = %s GROUP BY status",
                          (cid,)))
    busy = sum(QUOTA.values()) - sum(REACHED.values())
    assert statuses == {"closed": sum(REACHED.values()), "retry": busy, "pool": N_CLIENTS - sum(QUOTA.values())}
    # The queues are empty on both processes (retries are due in 24 h; the clock is pinned).
    for a in AGENTS:
        for web in c.webs:
            assert web.post("/api/v1/queue/next", c.tokens[a]).status == 204
    for web in c.webs:
        counts = web.get(f"/api/v1/campaigns/{cid}", c.tokens["M01"]).json()["counts"]
        assert (counts["attempted"], counts["reached"], counts["converted"]) == (sum(QUOTA.values()),
                                                                                 sum(REACHED.values()), 0)
    refs = dict(c.sql("SELECT ci.id, cl.ref FROM campaign_items ci JOIN clients cl ON cl.id = ci.client_id "
                      "WHERE ci.campaign_id = %s", (cid,)))
    return [e | {"client_ref": refs[e["item_id"]]} for e in log]


def attribute_visits(c: Cluster, cid: int, handed_out: list[dict], jobs: dict) -> None:
    """Attribution: visits imported through web2 are attributed by a worker;
    both web processes then give the same leaderboards."""
    web1, web2 = c.webs
    m = c.tokens["M01"]
    reached = {a: sorted(e["client_ref"] for e in handed_out if e["agent"] == a and e["disposition"] != "busy")
               for a in AGENTS}
    not_reached = {a: sorted(e["client_ref"] for e in handed_out if e["agent"] == a and e["disposition"] == "busy")
                   for a in AGENTS}
    called = {e["client_ref"] for e in handed_out}
    uncalled = sorted(f"K{i:03d}" for i in range(1, N_CLIENTS + 1) if f"K{i:03d}" not in called)
    lines, expected = [], set()
    for a in AGENTS:
        for ref in reached[a][:CONVERSIONS[a]]:
            lines.append(f"N-{ref},{ref},WAW,2026-06-05T12:00,massage,80.00,completed,{a}")
            expected.add((a, ref, 8000))
        # A reached client who did not come (no-show) and one who was never reached: no conversion.
        lines.append(f"N-{reached[a][CONVERSIONS[a]]},{reached[a][CONVERSIONS[a]]},WAW,2026-06-06T12:00,massage,"
                     f"80.00,no_show,")
        lines.append(f"N-{not_reached[a][0]},{not_reached[a][0]},WAW,2026-06-05T12:00,massage,80.00,completed,")
    first = reached["A01"][0]
    lines.append(f"N2-{first},{first},WAW,2026-06-08T12:00,massage,120.00,completed,")  # counted once, the first
    lines.append(f"N-{uncalled[0]},{uncalled[0]},WAW,2026-06-05T12:00,massage,80.00,completed,")  # still in the pool
    r = web2.post("/api/v1/imports/visits", m, file=("visits.csv", (
        "visit_ref,client_ref,store_code,visited_at,service,amount,status,served_by\n" + "\n".join(lines) + "\n"
    ).encode()))
    assert r.status == 202, r
    jobs["visits import"] = r.json()["job_id"]
    body = c.wait_job(web1, "M01", jobs["visits import"])
    assert (body["result"]["inserted"], body["result"]["rejected"]) == (len(lines), 0), body
    jobs["scores refresh"] = body["result"]["scores_job"]
    refresh = c.wait_job(web2, "M01", jobs["scores refresh"])
    assert refresh["result"]["clients"] >= len(expected), refresh

    # Attributed by the worker, before any leaderboard read (which would refresh by itself).
    got = c.sql("SELECT s.employee_code, cl.ref, cv.amount, cv.month, t.name FROM conversions cv "
                "JOIN staff s ON s.id = cv.staff_id JOIN clients cl ON cl.id = cv.client_id "
                "LEFT JOIN teams t ON t.id = cv.team_id WHERE cv.campaign_id = %s", (cid,))
    assert {(a, ref, amount) for a, ref, amount, _, _ in got} == expected
    assert len(got) == len(expected) and {(mo, team) for _, _, _, mo, team in got} <= {
        (202606, "North"), (202606, "South")}
    assert all(TEAM[a] == team for a, _, _, _, team in got)
    assert c.sql("SELECT count(*) FROM score_dirty")[0][0] == 0, "the refresh job left nothing behind"

    total_conv = sum(CONVERSIONS.values())
    for web in (web1, web2):
        assert web.get(f"/api/v1/campaigns/{cid}", m).json()["counts"]["converted"] == total_conv

    check_boards(c, cid, CONVERSIONS, {a: 8000 * n for a, n in CONVERSIONS.items()})

    # A late visit over the POS API on web1 (no job: the next read attributes it), then the
    # leaderboard read on both processes at the same moment (each read refreshes first; the
    # refreshes take turns on a PostgreSQL advisory lock): both see it.
    late = reached["A01"][CONVERSIONS["A01"]]  # the no-show of 6 June comes on the 7th after all
    r = web1.post("/api/v1/visits", c.tokens["T01"], json_body=[{
        "visit_ref": f"P-{late}", "client_ref": late, "store_code": "WAW", "visited_at": "2026-06-07T15:30",
        "service": "massage", "amount": "95.50", "status": "completed"}])
    assert r.status == 200 and (r.json()["inserted"], r.json()["rejected"]) == (1, 0), r
    reads: dict[str, object] = {}
    gate = threading.Barrier(2)

    def read(web: Web) -> None:
        gate.wait(timeout=30)
        reads[web.name] = web.get(f"/api/v1/leaderboard?campaign={cid}&by=agent", c.tokens["B01"])

    racers = [threading.Thread(target=read, args=(w,)) for w in (web2, web1)]
    for th in racers:
        th.start()
    for th in racers:
        th.join(timeout=60)
    assert {k: v.status for k, v in reads.items()} == {"web1": 200, "web2": 200}, reads
    assert reads["web1"].json() == reads["web2"].json(), "the racing reads disagree"
    assert c.sql("SELECT count(*) FROM score_dirty")[0][0] == 0
    assert [(r["employee_code"], r["conversions"]) for r in reads["web1"].json()] == [
        (a, FINAL_CONVERSIONS[a]) for a in ("A01", "B01", "A02", "B02")]
    check_boards(c, cid, FINAL_CONVERSIONS, FINAL_REVENUE)


def check_boards(c: Cluster, cid: int, conv: dict, revenue: dict) -> None:
    """The agent and team leaderboards, by campaign and by month, read through
    both web processes: the same rows, with the expected numbers."""
    def board(web, **q):
        query = "&".join(f"{k}={v}" for k, v in q.items())
        r = web.get(f"/api/v1/leaderboard?{query}", c.tokens["A02"])  # everyone reads it; an agent here
        assert r.status == 200, r
        return r.json()

    web1, web2 = c.webs
    ranked = sorted(AGENTS, key=lambda a: (-conv[a], -conv[a] / REACHED[a], QUOTA[a], a))
    for q in ({"campaign": cid, "by": "agent"}, {"period": "2026-06", "by": "agent"}):
        one, two = board(web1, **q), board(web2, **q)
        assert one == two, f"web1 and web2 disagree on {q}"
        assert [r["employee_code"] for r in one] == ranked == ["A01", "B01", "A02", "B02"]
        for place, row in enumerate(one, 1):
            a = row["employee_code"]
            assert (row["rank"], row["team"], row["assigned"], row["calls"], row["reached"], row["booked"],
                    row["conversions"], row["revenue"]) == (
                place, TEAM[a], QUOTA[a], QUOTA[a], REACHED[a], int(a == "A01"), conv[a], revenue[a]), (q, row)
            assert row["visit_rate"] == pytest.approx(conv[a] / REACHED[a], abs=1e-3)
    teams = {"North": ("A01", "A02"), "South": ("B01", "B02")}
    for q in ({"campaign": cid, "by": "team"}, {"period": "2026-06", "by": "team"}):
        one, two = board(web1, **q), board(web2, **q)
        assert one == two, f"web1 and web2 disagree on {q}"
        assert [(r["team"], r["calls"], r["reached"], r["conversions"], r["revenue"]) for r in one] == [
            (team, sum(QUOTA[a] for a in members), sum(REACHED[a] for a in members),
             sum(conv[a] for a in members), sum(revenue[a] for a in members))
            for team, members in teams.items()]


def jobs_ran_on_both_workers(c: Cluster, jobs: dict) -> dict:
    """Every job ran on one of the two workers, and both did work. (Redis hands a
    job to the worker that has waited longest, so jobs started one after the
    other alternate, and the scores refresh, started by the visits import,
    goes to the worker that is not busy with that import.)"""
    from rq.job import Job as RQJob
    ran_by = {}
    for what, job_id in jobs.items():
        rq_job = RQJob.fetch(job_id, connection=c.redis)
        assert rq_job.get_status() == "finished", (what, rq_job.get_status())
        ran_by[what] = c.worker_names.get(rq_job.worker_name, rq_job.worker_name)
    assert set(ran_by.values()) == {w.name for w in c.workers}, f"jobs by worker: {ran_by}"
    # The workers' own logs agree: each job is in the log of the worker that ran it, and only there.
    logs = {w.name: w.log.read_text(errors="replace") for w in c.workers}
    for what, job_id in jobs.items():
        assert [name for name, text in logs.items() if job_id in text] == [ran_by[what]], (what, job_id)
    # And no job of the month failed or is left behind (the CLI's own imports never go to a queue).
    left = c.sql("SELECT kind, status FROM jobs WHERE status <> 'finished'")
    assert left == [], left
    return ran_by


def pay_the_month(c: Cluster) -> None:
    """Bonus runs: plan on web1, run on web2, approval on web1, exports on both
    (the first two at the same moment): one lock, identical bytes."""
    web1, web2 = c.webs
    m, p = c.tokens["M01"], c.tokens["P01"]
    r = web1.put("/api/v1/bonus-plans/2026-06", m, json_body=BONUS_PLAN)
    assert r.status == 201, r
    r = web2.post("/api/v1/competitions", m, json_body={"period": "2026-06", "kind": "agent",
                                                        "side_a": "A01", "side_b": "B01"})
    assert r.status == 201, r
    r = web2.post("/api/v1/bonus-runs", m, json_body={"period": "2026-06"})
    assert r.status == 201, r
    run = r.json()
    rid = run["id"]
    # North: 7 conversions × 10.00 split by 2; South 4 × 10.00 by 2. Places: A01 (5), B01 (3), A02 (2);
    # A01 (5/6) beats B01 (3/6).
    statements = {s["employee_code"]: (s["team_share"], s["rank_reward"], s["competition"], s["adjustments"],
                                       s["total"]) for s in run["statements"]}
    assert statements == {"A01": (3500, 50000, 5000, 0, 58500), "A02": (3500, 10000, 0, 0, 13500),
                          "B01": (2000, 30000, -2000, 0, 30000), "B02": (2000, 0, 0, 0, 2000)}
    assert web1.get(f"/api/v1/bonus-runs/{rid}", m).json()["statements"] == run["statements"]
    r = web1.post(f"/api/v1/bonus-runs/{rid}/approve", m)
    assert r.status == 200 and r.json()["status"] == "approved", r
    assert web2.get(f"/api/v1/bonus-runs/{rid}", p).json()["status"] == "approved"

    # The first export, twice at the same moment on the two processes.
    first: dict[str, processes.Response] = {}
    gate = threading.Barrier(2)

    def export(web: Web) -> None:
        gate.wait(timeout=30)
        first[web.name] = web.get(f"/api/v1/bonus-runs/{rid}/export.csv", p)

    racers = [threading.Thread(target=export, args=(w,)) for w in (web2, web1)]
    for th in racers:
        th.start()
    for th in racers:
        th.join(timeout=60)
    assert {k: v.status for k, v in first.items()} == {"web1": 200, "web2": 200}, first
    again = [web2.get(f"/api/v1/bonus-runs/{rid}/export.csv", p), web1.get(f"/api/v1/bonus-runs/{rid}/export.csv", p),
             web1.get(f"/api/v1/bonus-runs/{rid}/export.csv", m)]  # a manager may download it once locked
    files = [first["web2"], first["web1"], *again]
    assert all(f.status == 200 for f in files), files
    assert len({f.body for f in files}) == 1, "every export of the run is the same bytes"
    data = files[0].body
    assert data.decode().split("\r\n") == [
        PAYROLL_HEADER,
        "2026-06,A01,Anna Nowak,North,35.00,500.00,50.00,0.00,585.00,PLN",
        "2026-06,A02,Adam Wiśniewski,North,35.00,100.00,0.00,0.00,135.00,PLN",
        "2026-06,B01,Bożena Kowalska,South,20.00,300.00,-20.00,0.00,300.00,PLN",
        "2026-06,B02,Bartek Zieliński,South,20.00,0.00,0.00,0.00,20.00,PLN",
        ""]
    assert list(csv.reader(io.StringIO(data.decode())))[0] == PAYROLL_HEADER.split(",")
    digest = hashlib.sha256(data).hexdigest()
    assert {f.headers["X-Content-SHA256"] for f in files} == {digest}
    xlsx = [w.get(f"/api/v1/bonus-runs/{rid}/export.xlsx", p) for w in (web1, web2)]
    assert xlsx[0].status == xlsx[1].status == 200 and xlsx[0].body == xlsx[1].body and xlsx[0].body[:2] == b"PK"

    for web in (web1, web2):
        body = web.get(f"/api/v1/bonus-runs/{rid}", p).json()
        assert (body["status"], body["csv_sha256"]) == ("exported", digest)
        assert body["xlsx_sha256"] == hashlib.sha256(xlsx[0].body).hexdigest()
    assert web2.post(f"/api/v1/bonus-runs/{rid}/approve", m).status == 409
    assert web1.post("/api/v1/bonus-runs", m, json_body={"period": "2026-06"}).status == 409

    # Locked once: one lock sequence number, and of the seven audited downloads one locked the run.
    assert c.sql("SELECT status, lock_seq FROM bonus_runs") == [("exported", 1)]
    exports = [d for (d,) in c.sql("SELECT details FROM audit_log WHERE action = 'bonus_run.export' "
                                   "AND target = %s ORDER BY id", (f"bonus_run:{rid}",))]
    assert len(exports) == len(files) + len(xlsx)
    assert [d["locked_now"] for d in exports].count(True) == 1, exports
    assert exports[0]["locked_now"] is True and exports[0]["format"] == "csv"
    assert {d["sha256"] for d in exports if d["format"] == "csv"} == {digest}

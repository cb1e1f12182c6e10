"""Two payroll clerks press Export on the same approved run at once, and a
manager computes the next month meanwhile: the run is locked exactly once
(one lock number, one pair of stored files), both clerks get the same bytes,
and nobody sees an error. Real threads against the real database (SQLite's
one writer, or PostgreSQL's advisory lock under .ci/run)."""
from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import select

from campaign.bonuses.models import BonusRun
from campaign.core.models import AuditLog
from campaign.extensions import db
from tests.bonus_world import PLAN, at, june  # noqa: F401 (june is a fixture)


def test_simultaneous_exports_lock_once_and_give_the_same_file(app, client, june, pin_clock):
    h = june["h"]
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    rid = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).get_json()["id"]
    client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["manager"])
    client.put("/api/v1/bonus-plans/2026-07", headers=h["manager"], json=PLAN)
    db.session.remove()
    results, errors = {}, []
    start = threading.Barrier(4)

    def export(name):
        try:
            c = app.test_client()
            start.wait()
            resp = c.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["payroll"])
            results[name] = (resp.status_code, resp.data)
        except Exception as exc:  # noqa: BLE001 - reported below with the thread's name
            errors.append(f"{name}: {exc!r}")

    def compute(name):
        try:
            c = app.test_client()
            start.wait()
            resp = c.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-07"})
            results[name] = (resp.status_code, resp.get_json())
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=export, args=(f"clerk{i}",)) for i in range(3)]
    threads.append(threading.Thread(target=compute, args=("manager",)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    files = {results[f"clerk{i}"] for i in range(3)}
    assert len(files) == 1 and next(iter(files))[0] == 200, "every clerk got the same file"
    assert results["manager"][0] == 201
    db.session.remove()
    run = db.session.get(BonusRun, rid)
    assert (run.status, run.lock_seq) == ("exported", 1)
    exports = db.session.scalars(select(AuditLog.details).where(AuditLog.action == "bonus_run.export")).all()
    assert sorted(d["locked_now"] for d in exports) == [False, False, True], "locked exactly once"

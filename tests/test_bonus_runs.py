"""Bonus runs end to end (SPEC §8, §9): a month of calls and visits through
the real services, a plan, a draft run, approval, export (which locks),
byte-identical re-export, then corrections in the next month's run —
a clawback for a visit later corrected to a no-show, a late visit paid,
the shortfall carried — and nothing paid twice the month after.

Runs on SQLite by default and on PostgreSQL under ``.ci/run``; the clock is pinned.
"""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime

import pytest
from sqlalchemy import select

from campaign.bonuses.models import BonusRun
from campaign.core.models import AuditLog
from campaign.extensions import db

from tests.bonus_world import HEADER, PLAN, at, june, visit  # noqa: F401 (june is a fixture)


def lines(body) -> dict:
    return {s["employee_code"]: (s["team_share"], s["rank_reward"], s["competition"], s["adjustments"], s["total"])
            for s in body["statements"]}


def test_a_month_from_calls_to_an_exported_locked_run_then_corrections_next_month(client, june, pin_clock):
    h, called = june["h"], june["called"]
    at(pin_clock, datetime(2026, 7, 1, 8, 0))

    # Draft: North's pool 3 × 10.00 split by A01/A02; A01 1st; A02 and B01 tie on 1 conversion at 1/2
    # and share 2nd + 3rd place; A01 beats B01 (2/3 against 1/2).
    resp = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"})
    assert resp.status_code == 201, resp.get_json()
    run = resp.get_json()
    assert (run["period"], run["status"]) == ("2026-06", "draft")
    assert lines(run) == {"A01": (1500, 50000, 5000, 0, 56500), "A02": (1500, 20000, 0, 0, 21500),
                          "B01": (1000, 20000, -2000, 0, 19000)}
    rid = run["id"]

    # Payroll does not see a draft; exports come after a manager's approval.
    assert client.get(f"/api/v1/bonus-runs/{rid}", headers=h["payroll"]).status_code == 404
    assert client.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["payroll"]).status_code == 404
    assert client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["payroll"]).status_code == 403
    assert client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["A01"]).status_code == 403
    approved = client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["manager"])
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert client.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["manager"]).status_code == 403, \
        "a manager downloads only what payroll locked"

    exported = client.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["payroll"])
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert text.split("\r\n") == [
        HEADER,
        "2026-06,A01,Anna Nowak,North,15.00,500.00,50.00,0.00,565.00,PLN",
        "2026-06,A02,Adam Wiśniewski,North,15.00,200.00,0.00,0.00,215.00,PLN",
        "2026-06,B01,Bożena Kowalska,South,10.00,200.00,-20.00,0.00,190.00,PLN",
        ""]
    assert exported.headers["X-Content-SHA256"] == hashlib.sha256(exported.data).hexdigest()
    assert client.get(f"/api/v1/bonus-runs/{rid}", headers=h["payroll"]).get_json()["status"] == "exported"

    # Locked: approval, recomputing and re-exporting change nothing.
    assert client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["manager"]).status_code == 409
    assert client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).status_code == 409
    xlsx = client.get(f"/api/v1/bonus-runs/{rid}/export.xlsx", headers=h["payroll"])
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    visit(called["A01"][2], "V9", "2026-06-20")  # a late June visit: the locked run does not move
    again = client.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["manager"])
    assert again.data == exported.data, "re-export is byte-identical"
    assert client.get(f"/api/v1/bonus-runs/{rid}/export.xlsx", headers=h["payroll"]).data == xlsx.data
    # (that visit is cancelled again so the scenario below stays readable)
    visit(called["A01"][2], "V9", "2026-06-20", status="cancelled")

    # Agents read their own statement only.
    own = client.get(f"/api/v1/bonus-runs/{rid}/statements/A02", headers=h["A02"])
    assert own.status_code == 200
    st = own.get_json()
    assert st["rank"] == {"places": [2, 3], "tied_with": ["B01"], "place_rewards": [30000, 10000], "reward": 20000}
    assert st["team_pool"] == {"team_per_visit": 1000, "conversions": 3, "pool": 3000, "shared_by": 2,
                               "share": 1500}
    assert [c["date"] for c in st["conversions_credited"]] == ["2026-06-07"]
    assert sorted(c["employee_code"] for c in st["team_conversions"]) == ["A01", "A01", "A02"]
    assert all(c["client_ref"] is None for c in st["team_conversions"] if c["employee_code"] != "A02"), \
        "a teammate's clients are not named to an agent"
    assert client.get(f"/api/v1/bonus-runs/{rid}/statements/A01", headers=h["A02"]).status_code == 403

    # July: A02's June visit is corrected to a no-show (clawback); B01's second client's 20 June
    # visit arrives late (paid now). June recomputed with June's plan: B01 now leads on rate
    # (2/2), A01 second (2/3) and loses the competition; A02 has nothing left but the team share.
    at(pin_clock, datetime(2026, 7, 28, 9, 0))
    visit(called["A02"][0], "V3", "2026-06-07", status="no_show")
    visit(called["B01"][1], "V5", "2026-06-20")
    assert client.put("/api/v1/bonus-plans/2026-07", headers=h["manager"],
                      json=PLAN | {"min_calls": 0}).status_code == 201
    july = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-07"})
    assert july.status_code == 201, july.get_json()
    jbody = july.get_json()
    # due: A01 10.00 + 300.00 − 20.00 = 290.00 (paid 565.00); A02 10.00 (paid 215.00); B01 20 + 500 + 50 = 570.00
    assert lines(jbody) == {"A01": (0, 0, 0, -27500, 0), "A02": (0, 0, 0, -20500, 0),
                            "B01": (0, 0, 0, 38000, 38000)}
    a02 = client.get(f"/api/v1/bonus-runs/{jbody['id']}/statements/A02", headers=h["manager"]).get_json()
    (adj,) = a02["adjustments"]
    assert (adj["ref_run"], adj["ref_period"], adj["kind"], adj["paid"], adj["due"], adj["amount"]) == \
        (rid, "2026-06", "recalc", 21500, 1000, -20500)
    assert [c["date"] for c in adj["removed"]] == ["2026-06-07"] and adj["added"] == []
    assert a02["carried"] == 20500, "the clawback the month could not recover is carried"
    b01 = client.get(f"/api/v1/bonus-runs/{jbody['id']}/statements/B01", headers=h["manager"]).get_json()
    assert [c["date"] for c in b01["adjustments"][0]["added"]] == ["2026-06-20"]

    jid = jbody["id"]
    assert client.post(f"/api/v1/bonus-runs/{jid}/approve", headers=h["manager"]).status_code == 200
    jcsv = client.get(f"/api/v1/bonus-runs/{jid}/export.csv", headers=h["payroll"]).get_data(as_text=True)
    assert jcsv.split("\r\n")[1:] == [
        "2026-07,A01,Anna Nowak,North,0.00,0.00,0.00,-275.00,0.00,PLN",
        "2026-07,A02,Adam Wiśniewski,North,0.00,0.00,0.00,-205.00,0.00,PLN",
        "2026-07,B01,Bożena Kowalska,South,0.00,0.00,0.00,380.00,380.00,PLN", ""]

    # August: June is settled (nothing recalculated twice); July's shortfalls are carried in.
    at(pin_clock, datetime(2026, 8, 30, 9, 0))
    assert client.put("/api/v1/bonus-plans/2026-08", headers=h["manager"], json=PLAN).status_code == 201
    aug = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-08"}).get_json()
    assert {k: v[3] for k, v in lines(aug).items()} == {"A01": -27500, "A02": -20500, "B01": 0}
    a01 = client.get(f"/api/v1/bonus-runs/{aug['id']}/statements/A01", headers=h["A01"])
    assert a01.status_code == 404, "an agent does not see a draft"
    a01 = client.get(f"/api/v1/bonus-runs/{aug['id']}/statements/A01", headers=h["manager"]).get_json()
    assert [(a["kind"], a["ref_run"], a["amount"]) for a in a01["adjustments"]] == [("carry", jid, -27500)]

    # Every approval, export and adjustment is in the audit log.
    actions = [a for (a,) in db.session.execute(select(AuditLog.action).where(
        AuditLog.action.like("bonus_run.%")).order_by(AuditLog.id))]
    assert actions.count("bonus_run.approve") == 2
    assert actions.count("bonus_run.export") == 5
    assert actions.count("bonus_run.adjustment") == 3 + 2
    runs = {r.month: r for r in db.session.scalars(select(BonusRun))}
    assert (runs[202606].status, runs[202607].status, runs[202608].status) == ("exported", "exported", "draft")
    assert runs[202606].lock_seq < runs[202607].lock_seq


def test_a_run_whose_corrections_went_stale_must_be_recomputed_before_it_locks(client, june, pin_clock):
    h = june["h"]
    at(pin_clock, datetime(2026, 7, 2, 8, 0))
    client.put("/api/v1/bonus-plans/2026-07", headers=h["manager"], json=PLAN)
    june_run = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).get_json()
    july_run = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-07"}).get_json()
    for r in (june_run, july_run):
        assert client.post(f"/api/v1/bonus-runs/{r['id']}/approve", headers=h["manager"]).status_code == 200
    assert client.get(f"/api/v1/bonus-runs/{june_run['id']}/export.csv", headers=h["payroll"]).status_code == 200
    stale = client.get(f"/api/v1/bonus-runs/{july_run['id']}/export.csv", headers=h["payroll"])
    assert stale.status_code == 409 and "computes and approves it again" in stale.get_json()["error"]["message"]
    fresh = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-07"}).get_json()
    assert fresh["status"] == "draft" and fresh["id"] != july_run["id"]
    assert client.get(f"/api/v1/bonus-runs/{july_run['id']}", headers=h["manager"]).status_code == 404
    client.post(f"/api/v1/bonus-runs/{fresh['id']}/approve", headers=h["manager"])
    assert client.get(f"/api/v1/bonus-runs/{fresh['id']}/export.xlsx", headers=h["payroll"]).status_code == 200


@pytest.mark.parametrize("body, status", [
    ({"period": "2026-13"}, 422), ({"period": "2026-06", "extra": 1}, 422), ([], 422), (None, 422),
    ({"period": "2026-05"}, 422),   # no plan for May
    ({"period": "2026-09"}, 422),   # a month that has not started
])
def test_bad_run_requests_are_refused_with_the_reason(client, june, pin_clock, body, status):
    at(pin_clock, datetime(2026, 7, 2, 8, 0))
    resp = client.post("/api/v1/bonus-runs", headers=june["h"]["manager"], json=body)
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"]["message"]
    assert db.session.scalar(select(BonusRun.id)) is None


def test_the_csv_of_a_run_matches_its_xlsx_cell_for_cell(client, june, pin_clock):
    """Read back with openpyxl (the LibreOffice check is in test_bonus_export_libreoffice.py)."""
    from openpyxl import load_workbook
    h = june["h"]
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    rid = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).get_json()["id"]
    client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["manager"])
    rows = list(csv.reader(io.StringIO(
        client.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["payroll"]).get_data(as_text=True))))
    wb = load_workbook(io.BytesIO(client.get(f"/api/v1/bonus-runs/{rid}/export.xlsx", headers=h["payroll"]).data))
    ws = wb.active
    got = [[("%.2f" % c.value if isinstance(c.value, (int, float)) else str(c.value or "")) for c in row]
           for row in ws.iter_rows()]
    assert got == rows
    assert ws["I2"].number_format == "0.00"


def test_the_cli_exports_a_months_approved_run_and_locks_it(client, june, pin_clock, runner, tmp_path):
    h = june["h"]
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    rid = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).get_json()["id"]
    draft = runner.invoke(args=["bonus", "export", "2026-06", "--format", "csv", "--out", str(tmp_path / "x.csv")])
    assert draft.exit_code != 0 and "approves it before payroll exports" in draft.output
    assert not (tmp_path / "x.csv").exists()
    client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["manager"])
    out = runner.invoke(args=["bonus", "export", "2026-06", "--format", "xlsx", "--out", str(tmp_path / "p.xlsx")])
    assert out.exit_code == 0, out.output
    assert "run #%d, 3 rows, total 970.00 PLN" % rid in out.output
    api = client.get(f"/api/v1/bonus-runs/{rid}/export.xlsx", headers=h["payroll"])
    assert (tmp_path / "p.xlsx").read_bytes() == api.data, "the CLI and the API give the same locked file"
    assert runner.invoke(args=["bonus", "export", "2026-07", "--out", str(tmp_path / "y.csv")]).exit_code != 0
    assert runner.invoke(args=["bonus", "export", "2026-6", "--out", str(tmp_path / "y.csv")]).exit_code != 0
    via = db.session.scalars(select(AuditLog.details).where(AuditLog.action == "bonus_run.export")
                             .order_by(AuditLog.id)).all()
    assert [(d["via"], d["locked_now"]) for d in via] == [("cli", True), ("api", False)]


def test_computing_a_run_takes_the_same_statements_for_3_agents_or_43(client, june, pin_clock, make_staff):
    """Set-based: the number of SQL statements does not grow with agents."""
    from sqlalchemy import event

    from campaign.bonuses import runs
    from campaign.scoring.rules import Period
    at(pin_clock, datetime(2026, 7, 1, 8, 0))

    def statements() -> int:
        seen = []
        count = lambda *a, **k: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            runs.compute_run(Period.parse("2026-06"), None)
            db.session.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    statements()        # the first run; the ones measured below replace it
    few = statements()
    for i in range(40):
        make_staff(f"Z{i:02d}", team="North" if i % 2 else "South")
    many = statements()
    assert many == few, (few, many)
    assert few < 40


def test_a_hire_or_a_team_move_after_the_lock_does_not_move_a_locked_months_pools(client, june, pin_clock,
                                                                                  make_staff):
    """With min_calls 0, an agent without a call shares their team's pool.
    Recomputing the locked month keeps its people and their teams as they
    were, so nothing is corrected when someone joins or moves later."""
    from campaign.accounts.models import Team
    h = june["h"]
    idle = make_staff("N01", team="North")
    client.put("/api/v1/bonus-plans/2026-06", headers=h["manager"] | {"If-Match": "1"},
               json=PLAN | {"min_calls": 0, "rank_rewards": []})
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    run = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).get_json()
    assert {k: v[0] for k, v in lines(run).items()} == {"A01": 1000, "A02": 1000, "N01": 1000, "B01": 1000}
    client.post(f"/api/v1/bonus-runs/{run['id']}/approve", headers=h["manager"])
    assert client.get(f"/api/v1/bonus-runs/{run['id']}/export.csv", headers=h["payroll"]).status_code == 200

    at(pin_clock, datetime(2026, 7, 20, 8, 0))
    idle.team_id = db.session.scalar(select(Team.id).where(Team.name == "South"))
    make_staff("N02", team="North")
    db.session.commit()
    client.put("/api/v1/bonus-plans/2026-07", headers=h["manager"], json=PLAN)
    july = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-07"}).get_json()
    assert all(v[3] == 0 for v in lines(july).values()), lines(july)

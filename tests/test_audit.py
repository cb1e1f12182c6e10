"""The audit log page: managers and admins read it, nobody can edit it."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from campaign.audit.queries import AREAS
from campaign.core import audit
from campaign.core.models import AuditLog
from campaign.extensions import db

from .conftest import csrf_from

ROOT = Path(__file__).resolve().parent.parent


def _entry(action, *, actor=None, target=None, at=None, **details):
    if at is None:
        row = audit.record(action, actor_id=actor.id if actor else None, target=target, **details)
    else:  # an entry of another day, as it was written then (entries are never updated)
        row = AuditLog(at=at, actor_id=actor.id if actor else None, action=action, target=target,
                       details=details or None)
        db.session.add(row)
    db.session.commit()
    return row


def test_only_managers_and_admins_read_the_audit_log(client, make_staff, login_as):
    assert client.get("/audit").status_code == 302  # to the sign-in page
    for roles, status in ((("agent",), 403), (("payroll",), 403), (("manager",), 200), (("admin",), 200)):
        login_as(make_staff(roles=roles))
        assert client.get("/audit").status_code == status, roles
        assert client.get("/audit.csv").status_code == status, roles
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/account").get_data(as_text=True))})


def test_no_route_can_change_the_audit_log(app):
    """The page and its CSV are the log's only routes, and both only read."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("audit.")]
    assert {r.rule for r in rules} == {"/audit", "/audit.csv"}
    assert all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)


def test_sign_ins_and_failed_sign_ins_are_logged_without_the_password(app, client, make_staff, login_as):
    manager = make_staff("M01", roles=("manager",))
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"login": "M01", "password": "wrong-password-123", "csrf_token": csrf_from(page)})
    login_as(manager)
    body = client.get("/audit?area=session").get_data(as_text=True)
    assert "session.sign_in_failed" in body and "login:M01" in body
    assert "session.sign_in" in body
    assert "wrong-password-123" not in body
    with app.app_context():
        assert not db.session.scalar(db.select(db.func.count()).select_from(AuditLog).where(
            db.cast(AuditLog.details, db.Text).contains("wrong-password")))


def test_filters_by_area_person_target_and_days_and_names_a_bad_filter(client, make_staff, login_as):
    manager = make_staff("M02", roles=("manager",), name="Maria Nowak")
    other = make_staff("M03", roles=("manager",))
    _entry("campaign.launch", actor=manager, target="campaign:7", at=datetime(2026, 6, 1, 9))
    _entry("client.ban", actor=other, target="client:C-9", reason="abusive", at=datetime(2026, 6, 3, 9))
    _entry("bonus_run.approve", actor=manager, target="bonus_run:3", at=datetime(2026, 6, 5, 9))
    login_as(manager)

    def shown(query):
        resp = client.get("/audit" + query)
        return resp.status_code, set(re.findall(r"<code>([a-z_.]+)</code>", resp.get_data(as_text=True)))

    assert shown("?area=client") == (200, {"client.ban"})
    assert shown("?actor=m03") == (200, {"client.ban"})
    assert shown("?target=campaign:7")[1] == {"campaign.launch"}
    assert shown("?since=2026-06-02&until=2026-06-04") == (200, {"client.ban"})
    assert shown("?until=2026-06-01")[1] == {"campaign.launch"}
    status, _ = shown("?since=2026-13-01")
    assert status == 400
    body = client.get("/audit?since=yesterday&area=nope").get_data(as_text=True)
    assert "is not a date: use YYYY-MM-DD" in body and "no such area" in body
    body = client.get("/audit?since=2026-06-05&until=2026-06-01").get_data(as_text=True)
    assert "the last day comes before the first" in body
    # Targets link to their pages.
    body = client.get("/audit").get_data(as_text=True)
    assert 'href="/bonuses/runs/3"' in body and 'href="/clients/C-9"' in body and 'href="/campaigns/7"' in body
    assert "Maria Nowak" in body


def test_the_log_pages_newest_first(client, make_staff, login_as):
    manager = make_staff(roles=("manager",))
    for i in range(120):
        _entry("campaign.quotas", actor=manager, target=f"campaign:{i}", at=datetime(2026, 1, 1, 0, i % 60, i // 60))
    login_as(manager)  # one more entry: the sign-in
    first = client.get("/audit?area=campaign").get_data(as_text=True)
    assert "Page 1 of 3" in first and "120 entries" in first
    assert first.index("campaign:119") < first.index("campaign:118")
    third = client.get("/audit?area=campaign&page=3").get_data(as_text=True)
    assert "campaign:0<" in third and "campaign:119" not in third
    assert 'href="/audit?page=2&amp;area=campaign"' in third or "area=campaign&amp;page=2" in third


def test_the_csv_has_every_filtered_entry_and_no_live_formula(client, make_staff, login_as, app):
    manager = make_staff(roles=("manager",))
    _entry("client.ban", actor=manager, target="=HYPERLINK(\"x\")", reason="=1+2")
    for i in range(3):
        _entry("import", target=f"job:{i}", kind="clients")
    with app.app_context():
        db.session.execute(db.insert(AuditLog), [  # more than one page of the streamed CSV
            {"at": datetime(2026, 2, 1), "actor_id": None, "action": "import", "target": f"job:x{i}",
             "details": {"kind": "visits"}} for i in range(1500)])
        db.session.commit()
    login_as(manager)
    resp = client.get("/audit.csv?area=client")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["id", "at_utc", "action", "actor_code", "actor_name", "target", "details"]
    assert [r[2] for r in rows[1:]] == ["client.ban"]
    assert rows[1][5].startswith("'=") and '"\'=1+2"' not in rows[1][6]  # neutralised cell
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    everything = list(csv.reader(io.StringIO(client.get("/audit.csv?area=import").get_data(as_text=True))))
    assert len(everything) - 1 == 1500 + 3
    ids = [int(r[0]) for r in everything[1:]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert client.get("/audit.csv?since=bad").status_code == 400


def test_every_recorded_action_has_an_area():
    """An action recorded anywhere in the code must fall in an area the filter offers."""
    found = set()
    for path in (ROOT / "campaign").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'audit\.record\(\s*"([a-z_.]+)"', source))
        found |= set(re.findall(r'"action":\s*"([a-z_.]+)"', source))
    found |= {"client.ban", "client.unban", "client.do_not_contact"}  # recorded through a variable
    assert len(found) > 20
    assert {a for a in found if a.split(".")[0] not in AREAS} == set()


def test_the_database_refuses_to_change_or_delete_entries(app, ctx, make_staff):
    """On PostgreSQL a trigger makes the log append-only; only a privacy
    erasure's own transaction may scrub entries (tests/test_privacy.py)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's (SQLite, the embedded default, has none: "
                    "docs/security.md); .ci/run's second pass runs this on PostgreSQL")
    row = _entry("campaign.launch", target="campaign:1")
    for sql in ("UPDATE audit_log SET action = 'x' WHERE id = :id", "DELETE FROM audit_log WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(sql), {"id": row.id})
        db.session.rollback()
    assert db.session.get(AuditLog, row.id).action == "campaign.launch"
    db.session.execute(text("SELECT set_config('winback.audit_scrub', 'on', true)"))
    db.session.execute(text("UPDATE audit_log SET target = 'campaign:2' WHERE id = :id"), {"id": row.id})
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):  # the permission ended with its transaction
        db.session.execute(text("UPDATE audit_log SET target = 'campaign:3' WHERE id = :id"), {"id": row.id})
    db.session.rollback()

"""Import API: POST /api/v1/imports/{kind} and the POS endpoint POST /api/v1/visits."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from campaign.clients.models import Visit
from campaign.core.models import Job, JobFileChunk
from campaign.extensions import db

from .test_imports import HEADERS, csv_text


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def post_file(client, kind, content: bytes | None, headers, name="f.csv"):
    data = {} if content is None else {"file": (io.BytesIO(content), name)}
    return client.post(f"/api/v1/imports/{kind}", data=data, headers=headers,
                       content_type="multipart/form-data")


@pytest.fixture
def world(make_store, make_client, make_staff, token_for):
    waw, tyo = make_store("WAW"), make_store("TYO", timezone="Asia/Tokyo", country="JP", currency="JPY")
    make_client("C1", store=waw)
    make_client("C2", store=tyo)
    return {
        "manager": token_for(make_staff(roles=("manager",))),
        "admin": token_for(make_staff(roles=("admin",))),
        "agent": token_for(make_staff(roles=("agent",))),
        "pos": token_for(make_staff("POS-1", roles=("pos",), password=False)),
    }


# ------------------------------------------------------------------ /imports/{kind}


def test_start_an_import_job_and_read_its_result(client, world, wait_for_job):
    text = csv_text("clients", "N1,Ann,A,501 234 567,,pl,WAW,1,0,0,0,0,", "N2,Bob,B,,,,NOPE,,,,,,")
    resp = post_file(client, "clients", text.encode(), world["manager"])
    assert resp.status_code == 202, resp.get_json()
    job_id = resp.get_json()["job_id"]
    assert wait_for_job(job_id).status == "finished"
    body = client.get(f"/api/v1/jobs/{job_id}", headers=world["manager"]).get_json()
    assert body["status"] == "finished" and body["progress"] == 1.0
    assert body["result"] == {
        "kind": "clients", "inserted": 1, "updated": 0, "unchanged": 0, "rejected": 1,
        "rejects": [{"line": 3, "column": "store_code",
                     "reason": "unknown store_code 'NOPE'; import it in stores.csv first"}],
        "rejects_truncated": False}
    # Another manager is told the job does not exist.
    assert client.get(f"/api/v1/jobs/{job_id}", headers=world["admin"]).status_code == 404


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"\x00\x01\x02", "binary"),
    (b"client_ref,store_code\nC9,W\xe9\n", "not UTF-8"),
    (HEADERS["visits"].encode() + b"\n", "looks like a visits file"),
    (b"client_ref,first_name\n", "no store_code column"),
])
def test_a_refused_file_is_422_and_nothing_is_kept(client, world, content, words, ctx):
    resp = post_file(client, "clients", content, world["admin"])
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "file_refused" and words in error["message"]
    assert count(Job) == 0 and count(JobFileChunk) == 0


def test_unknown_kind_missing_file_and_roles(client, world):
    text = csv_text("clients").encode()
    assert post_file(client, "products", text, world["manager"]).status_code == 404
    missing = post_file(client, "clients", None, world["manager"])
    assert missing.status_code == 422 and "'file'" in missing.get_json()["error"]["message"]
    assert post_file(client, "clients", text, {}).status_code == 401
    assert post_file(client, "clients", text, {"Authorization": "Bearer wrong"}).status_code == 401
    forbidden = post_file(client, "clients", text, world["agent"])
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"
    assert post_file(client, "clients", text, world["pos"]).status_code == 403


# ------------------------------------------------------------------ /visits


def visit(ref, **kw) -> dict:
    return {"visit_ref": ref, "client_ref": "C1", "store_code": "WAW", "visited_at": "2026-03-14T15:30",
            "service": "massage", "amount": "45.50", "status": "completed", "served_by": "T1"} | kw


def test_pos_visits_are_upserted_idempotently(client, world, ctx):
    batch = [visit("P1"), visit("P2", amount=45.5, status=None, served_by=None),
             visit("P3", client_ref="C2", store_code="TYO", amount=4400, visited_at="2026-03-14"),
             visit("P4", client_ref="NOBODY"), visit("P5", amount="4,5,0"), visit("P6", visited_at="soon"),
             visit("P1", service="duplicate")]
    resp = client.post("/api/v1/visits", json=batch, headers=world["pos"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert {k: body[k] for k in ("inserted", "updated", "unchanged", "rejected")} == {
        "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 4}
    assert [(r["line"], r["column"]) for r in body["rejects"]] == [
        (4, "client_ref"), (5, "amount"), (6, "visited_at"), (7, "visit_ref")]
    got = {v.ref: v for v in db.session.scalars(select(Visit))}
    assert (got["P1"].amount, got["P1"].visited_at, got["P1"].served_by) == (4550, datetime(2026, 3, 14, 14, 30), "T1")
    assert (got["P2"].amount, got["P2"].status, got["P2"].served_by) == (4550, "completed", None)
    assert (got["P3"].amount, got["P3"].local_date, got["P3"].date_only) == (4400, date(2026, 3, 14), True)

    again = client.post("/api/v1/visits", json=batch[:3], headers=world["pos"]).get_json()
    assert (again["inserted"], again["updated"], again["unchanged"], again["rejected"]) == (0, 0, 3, 0)
    changed = client.post("/api/v1/visits", json=[visit("P1", status="no_show")], headers=world["admin"]).get_json()
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 0)
    db.session.expire_all()
    assert db.session.scalar(select(Visit.status).where(Visit.ref == "P1")) == "no_show"


@pytest.mark.parametrize("body", [{"visit_ref": "x"}, [1, 2], "text", [visit("A"), ["B"]], None])
def test_a_body_that_is_not_an_array_of_objects_is_422(client, world, body):
    resp = client.post("/api/v1/visits", json=body, headers=world["pos"])
    assert resp.status_code == 422 and "array of visit objects" in resp.get_json()["error"]["message"]


def test_not_json_is_422(client, world):
    resp = client.post("/api/v1/visits", data="visit_ref=1", headers=world["pos"],
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 422


def test_more_than_5000_visits_are_refused(client, world, ctx):
    resp = client.post("/api/v1/visits", json=[visit(f"X{i}") for i in range(5001)], headers=world["pos"])
    assert resp.status_code == 422 and "at most 5000" in resp.get_json()["error"]["message"]
    assert count(Visit) == 0


def test_visits_api_roles(client, world):
    assert client.post("/api/v1/visits", json=[visit("A")]).status_code == 401
    assert client.post("/api/v1/visits", json=[visit("A")], headers=world["agent"]).status_code == 403
    assert client.post("/api/v1/visits", json=[visit("A")], headers=world["manager"]).status_code == 403
    assert client.post("/api/v1/visits", json=[], headers=world["admin"]).get_json() == {
        "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0, "rejects": []}


def test_an_upload_over_the_size_limit_is_413_and_nothing_is_kept(app, client, world, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)  # WINBACK_MAX_UPLOAD_MB, scaled down
    big = (HEADERS["clients"] + "\n").encode() + b"x" * (128 * 1024)
    resp = post_file(client, "clients", big, world["manager"])
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "too_large"
    assert count(Job) == 0 and count(JobFileChunk) == 0

"""The Imports pages: upload → progress page → counts → rejects CSV, refusals, who sees what."""
from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime

import pytest
from sqlalchemy import func, select

from campaign.clients.models import Client
from campaign.core.models import Job, JobFileChunk
from campaign.extensions import db
from campaign.imports import services

from .conftest import csrf_from
from .test_imports import HEADERS, csv_text

HOSTILE_SQL = "'; DROP TABLE clients;--"
HOSTILE_JS = "<script>alert(1)</script>"
HOSTILE_FORMULA = '=HYPERLINK("http://evil.example","click")'


def upload(client, content: bytes, *, name="clients.csv", kind="", token=None):
    page = client.get("/imports")
    data = {"csrf_token": token or csrf_from(page.get_data(as_text=True)), "kind": kind,
            "file": (io.BytesIO(content), name)}
    return client.post("/imports", data=data, content_type="multipart/form-data")


def job_id_from(resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    return re.search(r"/imports/([0-9a-f]{32})$", resp.headers["Location"]).group(1)


def poll_until_done(client, job_id: str, timeout: float = 60) -> dict:
    """What static/imports.js does: GET status.json until the job has ended."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/imports/{job_id}/status.json").get_json()
        if status["status"] in ("finished", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


@pytest.fixture
def manager(make_staff, make_store, login_as):
    make_store("WAW")
    staff = make_staff("MGR", roles=("manager",))
    login_as(staff)
    return staff


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ------------------------------------------------------------------ the happy path


def test_upload_page_empty_state_and_form(client, manager):
    html = client.get("/imports").get_data(as_text=True)
    assert "No imports yet" in html and "stores.csv" in html
    assert 'type="file"' in html and 'enctype="multipart/form-data"' in html
    assert '<option selected value="">Detect from the header</option>' in html
    assert "<script>" not in html  # scripts come from static files only (CSP)


def test_upload_progress_counts_and_rejects_csv(app, client, manager, wait_for_job):
    text = csv_text(
        "clients",
        f'H1,"{HOSTILE_SQL}",{HOSTILE_JS},501 234 567,,pl,WAW,1,0,0,0,0,"{HOSTILE_FORMULA.replace(chr(34), 2 * chr(34))}"',
        "G2,Ewa,Nowak,n/a,,pl,WAW,1,0,0,0,0,",
        "=1+2,Eve,X,,,,NOPE,,,,,,",
        f"B4,{HOSTILE_JS},Y,,,,NO-SUCH-STORE,,,,,,",
        'B5,Multi,Line,,,,WAW,maybe,,,,,"a\nb"')
    resp = upload(client, text.encode())
    job_id = job_id_from(resp)

    page = client.get(f"/imports/{job_id}").get_data(as_text=True)
    assert "clients" in page and "(detected from the header)" in page and "comma" in page
    assert 'data-job-id="' + job_id + '"' in page and 'class="progress"' in page

    status = poll_until_done(client, job_id)
    assert status["status"] == "finished" and status["progress"] == 1.0
    assert status["result"] == {"kind": "clients", "inserted": 2, "updated": 0, "unchanged": 0,
                                "rejected": 3, "rejects_truncated": False}
    assert wait_for_job(job_id).status == "finished"

    page = client.get(f"/imports/{job_id}").get_data(as_text=True)
    assert 'data-state="finished"' in page
    assert re.search(r"<b[^>]*>2</b>inserted", page) and re.search(r"<b[^>]*>3</b>rejected", page)
    assert "Download rejects (CSV)" in page
    # Hostile text is shown escaped, never as markup.
    assert HOSTILE_JS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    resp = client.get(f"/imports/{job_id}/rejects.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    body = resp.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:], newline="")))
    assert rows[0] == ["line", "column", "reason", "row as sent"]
    assert [r[:2] for r in rows[1:]] == [["4", "store_code"], ["5", "store_code"], ["6", "consent_call"]]
    # Formula injection is neutralised; the rest of the row is as sent.
    assert rows[1][3] == "'=1+2,Eve,X,,,,NOPE,,,,,," and rows[2][3] == f"B4,{HOSTILE_JS},Y,,,,NO-SUCH-STORE,,,,,,"
    assert rows[3][3] == 'B5,Multi,Line,,,,WAW,maybe,,,,,"a\nb"'
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    with app.app_context():
        h1 = db.session.scalar(select(Client).where(Client.ref == "H1"))
        assert (h1.first_name, h1.last_name, h1.notes) == (HOSTILE_SQL, HOSTILE_JS, HOSTILE_FORMULA)
        assert count(JobFileChunk) == 0  # the stored upload goes once imported

    listing = client.get("/imports").get_data(as_text=True)
    assert "clients.csv" in listing and f"/imports/{job_id}" in listing and "No imports yet" not in listing


def test_semicolon_bom_file_with_chosen_kind(client, manager):
    text = "\ufeff" + csv_text("clients", "C1;Zofia;K;501 234 567;;pl;WAW;1;1;0;0;0;", delimiter=";")
    job_id = job_id_from(upload(client, text.encode(), kind="clients"))
    assert poll_until_done(client, job_id)["result"]["inserted"] == 1
    page = client.get(f"/imports/{job_id}").get_data(as_text=True)
    assert "semicolon" in page and "(as chosen)" in page and "with BOM" in page


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("content, kind, words", [
    (b"", "", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", "binary"),
    (b"client_ref,store_code\nC1,W\xe9\n", "", "not UTF-8"),
    (b"client_ref,first_name\nC1,Ann\n", "clients", "no store_code column"),
    (HEADERS["visits"].encode() + b"\n", "clients", "looks like a visits file"),
    (b"a,b\n1,2\n", "", "does not match any kind"),
])
def test_refused_upload_shows_the_message_with_422_and_writes_nothing(client, manager, content, kind, words):
    resp = upload(client, content, kind=kind)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert words in html and "Nothing was written" in html
    assert count(Job) == 0 and count(JobFileChunk) == 0 and count(Client) == 0


def test_upload_without_a_file_or_csrf(client, manager):
    page = client.get("/imports").get_data(as_text=True)
    resp = client.post("/imports", data={"csrf_token": csrf_from(page), "kind": ""},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "Choose a CSV file" in resp.get_data(as_text=True)
    resp = client.post("/imports", data={"file": (io.BytesIO(b"a\n"), "x.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert count(Job) == 0


def test_a_large_upload_is_kept_in_one_mib_chunks(ctx, make_staff, make_store):
    make_store("WAW")
    staff = make_staff(roles=("manager",))
    row = "C{},Ann,Smith,501 234 567,ann@example.test,pl,WAW,1,1,0,0,0,{}\n"
    text = HEADERS["clients"] + "\n" + "".join(row.format(i, "x" * 200) for i in range(10_000))
    data = text.encode()
    job = services.store_upload(io.BytesIO(data), kind=None, filename="../../etc/big.csv",
                                starter_id=staff.id)
    chunks = db.session.execute(select(JobFileChunk.seq, func.length(JobFileChunk.data))
                                .order_by(JobFileChunk.seq)).all()
    assert [n for _, n in chunks] == [1 << 20] * (len(data) >> 20) + [len(data) % (1 << 20)]
    assert job.params | {} == {"kind": "clients", "detected": True, "delimiter": ",", "filename": "big.csv",
                               "size": len(data), "lines": 10_000, "bom": False}
    db.session.rollback()


# ------------------------------------------------------------------ who sees what


def _finished_job(starter_id) -> str:
    job = Job(kind="import", starter_id=starter_id, status="finished", progress=1.0,
              params={"kind": "clients", "filename": "c.csv", "delimiter": ","},
              result={"kind": "clients", "inserted": 1, "updated": 0, "unchanged": 0, "rejected": 0,
                      "rejects": [], "rejects_truncated": False},
              created_at=datetime(2026, 1, 1))
    db.session.add(job)
    db.session.commit()
    return job.id


def test_only_the_starter_or_an_admin_sees_a_job(app, make_staff, ctx):
    from .conftest import TEST_PASSWORD
    owner, other, admin = (make_staff(roles=("manager",)), make_staff(roles=("manager",)),
                           make_staff(roles=("admin",)))
    job_id = _finished_job(owner.id)
    for who, expected in ((owner, 200), (other, 404), (admin, 200)):
        c = app.test_client()
        page = c.get("/login").get_data(as_text=True)
        c.post("/login", data={"login": who.employee_code, "password": TEST_PASSWORD,
                               "csrf_token": csrf_from(page)})
        for url in (f"/imports/{job_id}", f"/imports/{job_id}/status.json", f"/imports/{job_id}/rejects.csv"):
            assert c.get(url).status_code == expected, (who.employee_code, url)
        listed = job_id in c.get("/imports").get_data(as_text=True)
        assert listed is (expected == 200)


def test_agents_may_not_import(client, make_staff, login_as, ctx):
    login_as(make_staff(roles=("agent",)))
    job_id = _finished_job(None)
    assert client.get("/imports").status_code == 403
    assert client.post("/imports", data={}).status_code in (400, 403)
    for url in (f"/imports/{job_id}", f"/imports/{job_id}/status.json", f"/imports/{job_id}/rejects.csv"):
        assert client.get(url).status_code == 403


def test_signed_out_is_sent_to_sign_in(client):
    assert client.get("/imports").status_code == 302


def test_running_job_page_works_without_javascript(client, manager, ctx):
    job = Job(kind="import", starter_id=manager.id, status="started", progress=0.42,
              params={"kind": "visits", "filename": "v.csv", "delimiter": ";", "lines": 10, "size": 100},
              created_at=datetime(2026, 1, 1))
    db.session.add(job)
    db.session.commit()
    html = client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert 'data-state="started"' in html and "Importing… 42 %" in html and 'style="width: 42%"' in html
    assert f'href="/imports/{job.id}">reload it</a>' in html
    assert f'data-status-url="/imports/{job.id}/status.json"' in html
    assert '<script src="/static/imports.js"></script>' in html
    assert client.get(f"/imports/{job.id}/status.json").get_json() == {
        "id": job.id, "status": "started", "progress": 0.42, "result": None, "error": None}


def test_recent_imports_are_paginated(client, manager, ctx):
    for i in range(23):
        db.session.add(Job(kind="import", starter_id=manager.id, status="finished", progress=1.0,
                           params={"kind": "stores", "filename": f"file{i:02d}.csv"}, result={},
                           created_at=datetime(2026, 1, 1, 0, i)))
    db.session.commit()
    first = client.get("/imports").get_data(as_text=True)
    assert first.count("file") >= 20 and "file22.csv" in first and "file02.csv" not in first
    assert "Page 1 of 2" in first
    second = client.get("/imports?page=2").get_data(as_text=True)
    assert "file02.csv" in second and "file22.csv" not in second

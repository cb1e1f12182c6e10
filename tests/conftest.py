"""Fixtures in the flaskr/Indico style: ``app``, ``client``, factories, ``login_as``.

The database is SQLite (a temp file) unless ``DATABASE_URL`` says otherwise;
jobs run on the embedded queue unless ``REDIS_URL`` is set, in which case a
real ``flask worker`` process must be running (``.ci/run`` starts one).
"""
from __future__ import annotations

import os
import re
import time
from datetime import date, datetime

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from campaign import create_app
from campaign.extensions import db

TEST_PASSWORD = "correct horse battery"


def _test_config(tmp_path_factory) -> dict:
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "WINBACK_NOW": None,
        "SERVER_NAME": None,
    }


class FreshClient(FlaskClient):
    """A test request shares the test's app context (Flask reuses a pushed one),
    hence its SQLAlchemy session. Ending that session's transaction before each
    request makes the request see the database as a real request would."""

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.rollback()
            for key in list(g):  # Flask-Login and Flask-WTF cache per-request state on g
                g.pop(key)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app(_test_config(tmp_path_factory))
    app.test_client_class = FreshClient
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        db.create_all()
    yield app


def wipe_tables(app) -> None:
    """Every table emptied (ids restart on PostgreSQL) and the sign-in throttling reset."""
    from campaign.extensions import limiter
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f'DELETE FROM "{name}"'))
    limiter.reset()  # sign-in throttling counts start afresh


@pytest.fixture(autouse=True)
def _clean_tables(app):
    yield
    wipe_tables(app)
    app.config["WINBACK_NOW"] = None


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def pin_clock(app):
    """Pin ``now`` for the test: ``pin_clock("2026-05-01T09:00:00+00:00")``."""
    def pin(value: str):
        app.config["WINBACK_NOW"] = value
    return pin


# ------------------------------------------------------------------ factories

@pytest.fixture
def make_store(ctx):
    from campaign.accounts.models import Store
    counter = iter(range(1, 10_000))

    def make(code=None, *, name=None, timezone="Europe/Warsaw", country="PL", currency="PLN"):
        n = next(counter)
        store = Store(code=code or f"S{n:03d}", name=name or f"Store {n}", timezone=timezone,
                      country=country, currency=currency)
        db.session.add(store)
        db.session.commit()
        return store
    return make


@pytest.fixture
def make_staff(ctx):
    from campaign.accounts.models import Staff, StaffLanguage, StaffRole, Team
    from campaign.accounts.services import hash_password
    counter = iter(range(1, 10_000))
    hashed = hash_password(TEST_PASSWORD)  # hash once; argon2 is slow on purpose

    def make(code=None, *, roles=("agent",), name=None, email=None, team=None, store=None,
             languages=("en",), password=True):
        n = next(counter)
        code = code or f"E{n:04d}"
        team_row = None
        if team:
            team_row = db.session.query(Team).filter_by(name=team).one_or_none() or Team(name=team)
        staff = Staff(employee_code=code, name=name or f"Person {n}",
                      email=email or f"{code.lower()}@example.test", team=team_row, store=store,
                      password_hash=hashed if password else None)
        staff.role_rows = [StaffRole(role=r) for r in roles]
        staff.language_rows = [StaffLanguage(language=lang) for lang in languages]
        db.session.add(staff)
        db.session.commit()
        return staff
    return make


@pytest.fixture
def make_client(ctx, make_store):
    from campaign.clients.models import Client
    counter = iter(range(1, 1_000_000))

    def make(ref=None, *, store=None, language="en", phone="+48501234567", callable_=True, **kw):
        n = next(counter)
        now = datetime(2026, 1, 1)
        row = Client(ref=ref or f"C{n:06d}", first_name=kw.pop("first_name", f"First{n}"),
                     last_name=kw.pop("last_name", f"Last{n}"), phone=phone, phone_callable=callable_,
                     language=language, store=store or make_store(), created_at=now, updated_at=now,
                     consent_call=kw.pop("consent_call", True), **kw)
        db.session.add(row)
        db.session.commit()
        return row
    return make


@pytest.fixture
def make_visit(ctx):
    from campaign.clients.models import Visit
    counter = iter(range(1, 10_000_000))

    def make(client, on: date | str, *, status="completed", amount=10000, service="massage",
             ref=None, served_by=None):
        n = next(counter)
        day = date.fromisoformat(on) if isinstance(on, str) else on
        row = Visit(ref=ref or f"V{n:07d}", client_id=client.id, store_id=client.store_id,
                    visited_at=datetime(day.year, day.month, day.day, 10), local_date=day,
                    date_only=False, service=service, amount=amount, status=status,
                    served_by=served_by,
                    created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1))
        db.session.add(row)
        db.session.commit()
        return row
    return make


# ------------------------------------------------------------------ helpers

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1) or m.group(2)


@pytest.fixture
def login_as(client):
    """Sign in through the real form (CSRF included); returns the test client."""
    def login(staff, password=TEST_PASSWORD):
        page = client.get("/login")
        resp = client.post("/login", data={"login": staff.employee_code, "password": password,
                                           "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return client
    return login


@pytest.fixture
def token_for(ctx):
    from campaign.accounts.services import create_token

    def make(staff) -> dict:
        token = create_token(staff, actor_id=None)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}
    return make


@pytest.fixture
def wait_for_job(app):
    """Poll the jobs table until the job ends (either queue backend)."""
    from campaign.core.models import Job

    def wait(job_id: str, timeout: float = 60.0) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            with app.app_context():
                job = db.session.get(Job, job_id)
                status = job.status if job else None
                if status in ("finished", "failed"):
                    db.session.expunge(job)
                    db.session.remove()
                    return job
                db.session.remove()
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {status} after {timeout}s")
            time.sleep(0.05)
    return wait

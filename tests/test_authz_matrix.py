"""Issue 8, "Trust": every route, every method, every role, every owner.

``MATRIX`` below is the authorization contract written out by hand from
SPEC §1 (who does what), §9 (the API's "who" column) and SCREENS.md: for each
``METHOD /rule`` of ``app.url_map``, the roles that may use it. It is *not*
derived from the views' ``winback_roles`` (a test that reads its expectation
from the code under test cannot fail); instead the two are cross-checked, and
where a view narrows its declared roles itself (the plan form: payroll reads,
only a manager saves) ``NARROWED`` says so.

* ``test_every_route_is_in_the_matrix``: a new route fails until someone
  decides who may use it; a route that went away fails until its row goes.
* ``test_refused``: each route × each role the matrix refuses, sent for real
  (URL parameters filled from the world below, a CSRF token on every form so
  the role check is what answers, a bearer token on the API). A page answers
  anonymous with a redirect to /login and a wrong role with 403; the API
  answers no token with 401 (a signed-in browser's cookie is no token) and a
  wrong role with 403. Every table's rows are digested before and after:
  a refused request writes nothing.
* ``test_allowed``: each route × each role it admits gets through the role
  check (no 401/403, no redirect to /login, no 5xx); every GET answers 200
  (or a redirect the page makes on purpose). An agent's pages never show a
  client outside the agent's own queue.
* ``test_agent_cannot_reach_another_agents_objects``: agent A against agent B
  (same store, same team) and agent C (another store and team), on pages and
  on the API, for every route that takes the id of a queue item, client,
  outcome, statement, session or job; plus managers' import jobs and payroll
  and drafts. Refused (403/404), nothing written, the victim's clients'
  names, phones and refs not in the answer.
* ``test_form_without_csrf_is_refused``: every browser form (every non-API
  POST; the API is CSRF-exempt because it takes bearer tokens only) answers
  400 without a token and writes nothing.

Managers are not scoped to a store: SPEC §1 gives them every report and the
reassignment of all work, so a manager of one store reading another store's
client is allowed (``test_allowed`` reads a client of the other store).

The world is built once for the module (building it per test would cost
minutes): refusals are checked against a digest of every table, so a refused
request that wrote anything fails, and the tests that are *allowed* to write
come last and take a new digest after each request.
"""
from __future__ import annotations

import hashlib
import io
import re
import time
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from campaign.extensions import db
from tests.conftest import TEST_PASSWORD, csrf_from, wipe_tables
from tests.test_scripts_pages import form_fields

# ------------------------------------------------------------------ the contract

ANON = "anonymous"
SIGNED_IN = ("agent", "manager", "payroll", "admin")
OPEN = (ANON, *SIGNED_IN, "pos")          # public: anyone, signed in or not
GATEWAY = ("gateway",)                    # no person at all: the SMS gateway's shared secret
M = ("manager",)
PAGE_ROLES = (ANON, *SIGNED_IN)           # "pos" cannot sign in (test_auth.py::test_pos_identity_cannot_sign_in)
API_ROLES = (ANON, *SIGNED_IN, "pos")

# Who may use each route (SPEC §1, §9, SCREENS.md). Order inside a tuple is the
# order the allowed requests are sent in (payroll exports before a manager may
# download the locked file).
MATRIX: dict[str, tuple[str, ...]] = {
    # --- sign-in, accounts (everyone signed in manages their own sessions)
    "GET /": OPEN,
    "GET /login": OPEN,
    "POST /login": OPEN,
    "POST /logout": SIGNED_IN,
    "GET /account": SIGNED_IN,
    "POST /account/password": SIGNED_IN,
    "POST /account/sessions/<session_id>/revoke": SIGNED_IN,   # own sessions only (ownership test)
    "POST /account/language": SIGNED_IN,
    "GET /language/<code>": OPEN,                               # the language before signing in (a cookie)
    "GET /healthz": OPEN,
    # --- admin: users, sessions, tokens (SPEC §1 admin)
    "GET /admin/users": ("admin",),
    "POST /admin/sessions/<session_id>/revoke": ("admin",),
    "POST /admin/tokens/<int:token_id>/revoke": ("admin",),
    "POST /admin/users/<int:staff_id>/active": ("admin",),
    # --- audit log: managers (issue 8) and admins
    "GET /audit": ("manager", "admin"),
    "GET /audit.csv": ("manager", "admin"),
    # --- imports: admin and manager (SPEC §9 POST /imports); a job is its starter's or an admin's
    "GET /imports": ("admin", "manager"),
    "POST /imports": ("admin", "manager"),
    "GET /imports/<job_id>": ("admin", "manager"),
    "GET /imports/<job_id>/status.json": ("admin", "manager"),
    "GET /imports/<job_id>/rejects.csv": ("admin", "manager"),
    # --- dormancy and the client card: managers; admins read the card for privacy requests
    "GET /dormancy": M,
    "GET /dormancy/clients": M,
    "GET /clients/<ref>": ("manager", "admin"),
    "POST /clients/<ref>/policy/<action>": M,
    # --- privacy: export for managers and admins, erasure for admins (docs/privacy.md)
    "GET /privacy": ("manager", "admin"),
    "GET /clients/<ref>/export": ("manager", "admin"),
    "POST /clients/<ref>/erase": ("admin",),
    # --- campaigns, quotas, assignment: managers (SPEC §1, §5)
    "GET /campaigns": M,
    "GET /campaigns/new": M,
    "POST /campaigns/new": M,
    "GET /campaigns/target-counts": M,
    "GET /campaigns/<int:campaign_id>": M,
    "GET /campaigns/<int:campaign_id>/edit": M,
    "POST /campaigns/<int:campaign_id>/edit": M,
    "GET /campaigns/<int:campaign_id>/preview": M,
    "GET /campaigns/<int:campaign_id>/preview/clients": M,
    "GET /campaigns/<int:campaign_id>/quotas": M,
    "POST /campaigns/<int:campaign_id>/quotas": M,
    "GET /campaigns/<int:campaign_id>/job.json": M,
    "GET /campaigns/<int:campaign_id>/agents/<code>": M,
    "POST /campaigns/<int:campaign_id>/launch": M,
    "POST /campaigns/<int:campaign_id>/assign": M,
    "POST /campaigns/<int:campaign_id>/status": M,
    "POST /campaigns/<int:campaign_id>/delete": M,
    # --- the call: agents, on their own queue only (SPEC §1, §6)
    "GET /work": ("agent",),
    "POST /work/next": ("agent",),
    "POST /work/<int:item_id>/outcome": ("agent",),
    "GET /complaints": M,
    "POST /complaints/<int:contact_id>/resolve": M,
    # --- scripts and offers: managers
    "GET /scripts": M,
    "GET /scripts/new": M,
    "POST /scripts/new": M,
    "GET /scripts/<int:script_id>": M,
    "POST /scripts/<int:script_id>": M,
    "POST /scripts/<int:script_id>/preview": M,
    "GET /scripts/<int:script_id>/translations": M,
    "GET /scripts/<int:script_id>/translations/<language>": M,
    "POST /scripts/<int:script_id>/translations/<language>": M,
    "POST /scripts/<int:script_id>/translations/<language>/delete": M,
    # --- the outbox: managers
    "GET /outbox": M,
    "GET /outbox/<int:message_id>": M,
    "POST /outbox/<int:message_id>/cancel": M,
    "GET /outbox/letters": M,
    "POST /outbox/letters/export": M,
    "GET /outbox/letters/batches/<batch>": M,
    "GET /outbox/letters/batches/<batch>/letters.csv": M,
    "GET /outbox/letters/batches/<batch>/print": M,
    # --- leaderboards: everyone signed in (SPEC §1 agents see the leaderboards; SCREENS "Everyone")
    "GET /leaderboard": SIGNED_IN,
    "GET /leaderboard/live": SIGNED_IN,
    "GET /leaderboard/me.json": SIGNED_IN,
    "GET /leaderboard/wall": SIGNED_IN,
    "GET /leaderboard/wall/live": SIGNED_IN,
    "GET /competitions": M,
    "POST /competitions": M,
    "POST /competitions/<int:competition_id>/delete": M,
    # --- reports: managers ("sees every report")
    "GET /reports": M,
    "GET /reports/<any(funnel, reasons, offers):name>.csv": M,
    # --- bonuses (SPEC §8): managers plan, compute, approve; payroll reads approved runs and
    #     exports; agents read their own approved statements
    "GET /bonuses/": ("manager", "payroll", "agent"),
    "GET /bonuses/me": ("agent", "manager", "payroll"),
    "GET /bonuses/plans/<period>": ("manager", "payroll"),
    "POST /bonuses/plans/<period>": M,
    "POST /bonuses/runs": M,
    "GET /bonuses/runs/<int:run_id>": ("manager", "payroll"),
    "POST /bonuses/runs/<int:run_id>/approve": M,
    "POST /bonuses/runs/<int:run_id>/export.<fmt>": ("payroll", "manager"),
    "GET /bonuses/runs/<int:run_id>/statements/<code>": ("manager", "payroll", "agent"),
    # --- the JSON API (SPEC §9)
    "GET /api/v1/openapi.json": OPEN,
    "GET /api/v1/health": OPEN,
    "GET /api/v1/status": ("admin",),
    "POST /api/v1/sms/inbound": GATEWAY,
    "POST /api/v1/imports/<kind>": ("admin", "manager"),
    "GET /api/v1/jobs/<job_id>": (*SIGNED_IN, "pos"),               # the starter only (ownership test)
    "POST /api/v1/visits": ("pos", "admin"),
    "GET /api/v1/segments": M,
    "GET /api/v1/clients/<client_ref>": ("manager", "agent"),        # agent: own queue only
    "GET /api/v1/clients/<client_ref>/export": ("manager", "admin"),
    "POST /api/v1/clients/<client_ref>/erase": ("admin",),
    "POST /api/v1/campaigns": M,
    "GET /api/v1/campaigns": M,
    "GET /api/v1/campaigns/<int:campaign_id>": M,
    "PATCH /api/v1/campaigns/<int:campaign_id>": M,
    "GET /api/v1/campaigns/<int:campaign_id>/preview": M,
    "GET /api/v1/campaigns/<int:campaign_id>/quotas": M,
    "PUT /api/v1/campaigns/<int:campaign_id>/quotas": M,
    "POST /api/v1/campaigns/<int:campaign_id>/launch": M,
    "POST /api/v1/campaigns/<int:campaign_id>/assign": M,
    "POST /api/v1/campaigns/<int:campaign_id>/status": M,
    "GET /api/v1/campaigns/<int:campaign_id>/items": M,
    "GET /api/v1/campaigns/<int:campaign_id>/lift": M,
    "POST /api/v1/queue/next": ("agent",),
    "POST /api/v1/queue/<int:item_id>/outcome": ("agent",),         # the agent holding the item
    "GET /api/v1/queue": ("agent",),
    "GET /api/v1/leaderboard": SIGNED_IN,
    "GET /api/v1/leaderboard/trend": SIGNED_IN,
    "GET /api/v1/competitions": SIGNED_IN,
    "POST /api/v1/competitions": M,
    "GET /api/v1/competitions/<int:competition_id>": SIGNED_IN,
    "DELETE /api/v1/competitions/<int:competition_id>": M,
    "GET /api/v1/reports/funnel": M,
    "GET /api/v1/reports/reasons": M,
    "GET /api/v1/reports/offers": M,
    "GET /api/v1/scripts": M,
    "GET /api/v1/scripts/<int:script_id>": M,
    "PUT /api/v1/scripts/<int:script_id>/texts/<language>": M,
    "GET /api/v1/scripts/<int:script_id>/render": M,
    "GET /api/v1/bonus-plans/<period>": ("manager", "payroll"),
    "PUT /api/v1/bonus-plans/<period>": M,
    "POST /api/v1/bonus-runs": M,
    "GET /api/v1/bonus-runs": ("manager", "payroll"),
    "GET /api/v1/bonus-runs/<int:run_id>": ("manager", "payroll"),
    "POST /api/v1/bonus-runs/<int:run_id>/approve": M,
    "GET /api/v1/bonus-runs/<int:run_id>/export.<fmt>": ("payroll", "manager"),
    "GET /api/v1/bonus-runs/<int:run_id>/statements/<code>": ("manager", "payroll", "agent"),
}

# Routes whose view admits more roles at the door than may use this method, and
# refuses the rest itself (the declared ``winback_roles`` of the view).
NARROWED: dict[str, tuple[str, ...]] = {
    "POST /bonuses/plans/<period>": ("manager", "payroll"),  # payroll reads the form; saving is a manager's (403)
}


def _is_api(route: str) -> bool:
    return route.split(" ", 1)[1].startswith("/api/")


def _roles_of(route: str) -> tuple[str, ...]:
    return API_ROLES if _is_api(route) else PAGE_ROLES


def _cases(allowed: bool) -> list:
    out = []
    for route, who in MATRIX.items():
        if allowed and who == GATEWAY:  # the gateway, with its shared secret
            out.append(pytest.param(route, "gateway", id=f"{route} as gateway"))
        for role in (who if allowed else _roles_of(route)):
            if role in _roles_of(route) and (role in who) == allowed:
                out.append(pytest.param(route, role, id=f"{route} as {role}"))
    return out


# ------------------------------------------------------------------ the module's world

NOW_MAY = "2026-05-12T10:00:00+00:00"   # 12:00 in Warsaw: inside the calling hours
NOW_JUNE = "2026-06-02T10:00:00+00:00"
PLAN = {"currency": "PLN", "team_per_visit": 1000, "rank_rewards": [50000, 30000], "min_calls": 1,
        "competition_reward": 5000, "competition_penalty": 0, "cap": None}
CAMPAIGN_FORM = {"name": "Made by the matrix", "as_of": "2026-06-01", "call_start": "10:00", "call_end": "20:00",
                 "max_attempts": "3", "retry_delay_hours": "24", "holdout_pct": "0",
                 "attribution_window_days": "30"}
STORES_CSV = b"store_code,name,timezone,country,currency\nGDN,Gdansk,Europe/Warsaw,PL,PLN\n"
CONFIG = {"WINBACK_NOW": NOW_JUNE, "OUTBOX_KICK": False, "OUTBOX_SCHEDULE": False,
          "SMS_INBOUND_SECRET": "matrix-secret"}
WHO = {"agent": "A01", "manager": "M01", "payroll": "P01", "admin": "D01", "pos": "POS1"}
# Written by every request that reads a session: when it was last seen.
VOLATILE = {("user_sessions", "last_seen_at")}


@pytest.fixture(autouse=True)
def _clean_tables():
    """This module keeps its world between tests (conftest's fixture of the same
    name wipes every table after each test); ``world`` wipes it at the end."""
    yield


def _surname(i: int) -> str:
    """Unique, fixed-width, digit-free: no surname is part of another."""
    return "Zx" + chr(97 + i // 26) + chr(97 + i % 26) + "q"


def _build(app) -> SimpleNamespace:
    from campaign.accounts.models import Staff, StaffLanguage, StaffRole, Store, Team
    from campaign.accounts.services import create_token, hash_password
    from campaign.bonuses import runs
    from campaign.bonuses import services as bonus_services
    from campaign.calls import services as calls
    from campaign.calls.models import Outcome
    from campaign.campaigns import assignment
    from campaign.campaigns import services as campaigns
    from campaign.campaigns.models import CampaignItem
    from campaign.clients.models import Client, Contact, Visit
    from campaign.core import clock
    from campaign.core.models import Job
    from campaign.imports.models import ImportReject
    from campaign.imports.services import upsert_visits
    from campaign.outbox import letters
    from campaign.outbox import services as outbox
    from campaign.outbox.models import Message
    from campaign.scoring import scores
    from campaign.scoring import services as scoring
    from campaign.scoring.rules import Period
    from campaign.scripts import services as scripts

    w = SimpleNamespace()
    app.config["WINBACK_NOW"] = NOW_MAY
    made = datetime(2026, 1, 1)
    waw = Store(code="WAW", name="Warsaw Centre", timezone="Europe/Warsaw", country="PL", currency="PLN")
    krk = Store(code="KRK", name="Krakow Old Town", timezone="Europe/Warsaw", country="PL", currency="PLN")
    north, south = Team(name="North"), Team(name="South")
    db.session.add_all([waw, krk, north, south])
    hashed = hash_password(TEST_PASSWORD)
    people = {}
    for code, roles, store, team in (("A01", ("agent",), waw, north), ("B01", ("agent",), waw, north),
                                     ("C01", ("agent",), krk, south), ("M01", ("manager",), None, None),
                                     ("M02", ("manager",), None, None), ("P01", ("payroll",), None, None),
                                     ("D01", ("admin",), None, None), ("POS1", ("pos",), None, None),
                                     ("E01", ("agent",), None, None)):  # E01: deactivated by the admin
        s = Staff(employee_code=code, name=f"Person {code}", email=f"{code.lower()}@example.test", store=store,
                  team=team, password_hash=None if code == "POS1" else hashed)
        s.role_rows = [StaffRole(role=r) for r in roles]
        s.language_rows = [StaffLanguage(language="en")]
        db.session.add(s)
        people[code] = s
    db.session.flush()
    w.staff = {code: s.id for code, s in people.items()}
    as_of = date(2026, 5, 12)

    def client(i, store, **kw):
        row = Client(ref=f"CL{i:03d}X", first_name="Client", last_name=_surname(i), phone=f"+4850100{i:04d}",
                     phone_callable=True, language="en", store_id=store.id, consent_call=True, consent_sms=True,
                     consent_post=True, created_at=made, updated_at=made, **kw)
        db.session.add(row)
        db.session.flush()
        for n, days in enumerate((45, 75)):
            day = as_of - timedelta(days=days)
            db.session.add(Visit(ref=f"V{row.ref}{n}", client_id=row.id, store_id=store.id,
                                 visited_at=datetime(day.year, day.month, day.day, 10), local_date=day,
                                 date_only=False, service="massage", amount=12000, status="completed",
                                 created_at=made, updated_at=made))
        return row

    everyone = [client(i, waw) for i in range(8)] + [client(i, krk) for i in range(8, 12)]
    db.session.commit()

    camp = campaigns.create_campaign({"name": "Spring win-back", "as_of": as_of.isoformat(), "holdout_share": 0,
                                      "offers": ["free_trial"]}, w.staff["M01"])
    db.session.flush()
    campaigns.set_quotas(camp, [{"employee_code": c, "target": 3} for c in ("A01", "B01", "C01")],
                         w.staff["M01"])
    camp.status, camp.launched_at, camp.launched_as_of = "active", clock.utcnow_naive(), as_of
    db.session.commit()
    assignment.run(camp.id)
    db.session.commit()
    spare = client(20, waw)       # in no queue: the manager's card actions change this one
    erasable = client(21, krk)    # in no queue: the admin's erasure erases this one (page)
    erasable_api = client(22, krk)  # and this one (API)
    db.session.commit()
    w.camp = camp.id

    def call(code, disposition, **data):
        me = db.session.get(Staff, w.staff[code])
        claim = calls.claim_next(me, clock.now())
        assert claim is not None, f"{code} has a client to call"
        if disposition:
            calls.log_outcome(claim.item_id, me, {"disposition": disposition, "claim": claim.token, **data},
                              clock.now())
        db.session.commit()
        return claim

    # May: each agent calls; B's complaint, B's unanswered call (an SMS), callbacks.
    a_closed = call("A01", "will_visit")
    a_callback = call("A01", "callback", callback_at="2026-06-20T12:00")
    b_complaint = call("B01", "complaint", reason="service")
    b_no_answer = call("B01", "no_answer")
    c_callback = call("C01", "callback", callback_at="2026-06-25T12:00")
    now = clock.now()
    for claim, export in ((b_no_answer, True), (c_callback, False)):   # printed letters: one batch, one ready
        item = db.session.get(CampaignItem, claim.item_id)
        outbox.after_attempts_exhausted(item, camp, db.session.get(Client, claim.client_id), now)
        db.session.commit()
        if export:
            w.batch = letters.export_ready(now, actor_id=w.staff["M01"])["batch"]
            db.session.commit()
    w.message = db.session.scalar(select(Message.id).where(Message.item_id == b_no_answer.item_id,
                                                           Message.channel == "sms"))
    w.complaint = db.session.scalar(select(Contact.id).where(Contact.client_id == b_complaint.client_id,
                                                             Contact.disposition == "complaint"))
    w.b_outcome = db.session.scalar(select(Outcome.id).where(Outcome.item_id == b_complaint.item_id))
    a_visit = db.session.get(Client, a_closed.client_id)
    assert upsert_visits([{"visit_ref": "MATRIX-V1", "client_ref": a_visit.ref, "store_code": "WAW",
                           "visited_at": "2026-05-20", "amount": "80.00"}])["rejected"] == 0
    db.session.commit()

    # June: plans, the May run approved, the June run a draft; A and B each hold a claim.
    app.config["WINBACK_NOW"] = NOW_JUNE
    for month in ("2026-05", "2026-06"):
        bonus_services.put_plan(Period.parse(month), dict(PLAN), w.staff["M01"])
    db.session.commit()
    may = runs.compute_run(Period.parse("2026-05"), w.staff["M01"])
    db.session.commit()
    runs.approve(may.id, w.staff["M01"])
    db.session.commit()
    june = runs.compute_run(Period.parse("2026-06"), w.staff["M01"])
    db.session.commit()
    w.runs = {"may": may.id, "june": june.id}
    a_held, b_held = call("A01", None), call("B01", None)
    w.items = {"a_held": a_held.item_id, "a_token": a_held.token, "b_held": b_held.item_id,
               "b_token": b_held.token, "b_closed": b_complaint.item_id, "c_callback": c_callback.item_id,
               "a_closed": a_closed.item_id, "a_callback": a_callback.item_id}

    owner = {sid: code for code, sid in w.staff.items()}
    w.clients = {"A01": [], "B01": [], "C01": [], None: []}
    for sid, ref in db.session.execute(select(CampaignItem.staff_id, Client.ref)
                                       .join(Client, Client.id == CampaignItem.client_id)):
        w.clients[owner.get(sid)].append(ref)
    assert [len(w.clients[c]) for c in ("A01", "B01", "C01")] == [3, 3, 3], w.clients
    assert None not in (w.message, w.complaint, w.b_outcome, w.batch), "the world has every kind of object"
    w.b_client = db.session.get(Client, b_held.client_id).ref
    w.b_closed_client = db.session.get(Client, b_complaint.client_id).ref
    w.c_client = db.session.get(Client, c_callback.client_id).ref
    w.a_client = db.session.get(Client, a_held.client_id).ref
    w.a_surname = db.session.get(Client, a_held.client_id).last_name
    w.spare, w.erasable, w.erasable_api = spare.ref, erasable.ref, erasable_api.ref
    mine = set(w.clients["A01"])
    # What agent A must never see: every client outside A's own queue.
    others = everyone + [spare, erasable, erasable_api]
    w.not_a = {c.ref: (c.ref, c.last_name, c.phone) for c in others if c.ref not in mine}
    w.not_b = {c.ref: (c.ref, c.last_name, c.phone) for c in others
               if c.ref not in set(w.clients["B01"])}

    w.comp = {}
    # main: read by everyone; the spares are called off by the page and by the API
    for key, a, b in (("main", "A01", "C01"), ("spare", "B01", "E01"), ("spare_api", "C01", "E01")):
        w.comp[key] = scoring.create_competition({"period": "2026-06", "kind": "agent", "side_a": a, "side_b": b},
                                                 w.staff["M01"]).id
    default = campaigns.default_script()
    db.session.flush()
    w.script = scripts.create_script("Matrix script", start_from=default.id, language=None,
                                     actor_id=w.staff["M01"]).id
    db.session.commit()
    w.pl_texts = scripts.texts_of(scripts.get_script(w.script)).translations["pl"]

    w.drafts = {}
    for key in ("edit", "delete", "launch", "launch_api"):
        draft = campaigns.create_campaign({"name": f"Draft to {key}", "as_of": "2026-06-01"}, w.staff["M01"])
        db.session.flush()
        campaigns.set_quotas(draft, [{"employee_code": "A01", "target": 1}], w.staff["M01"])
        db.session.commit()
        w.drafts[key] = draft.id

    stamp = clock.utcnow_naive()

    def job(code, kind, **kw):
        row = Job(kind=kind, starter_id=w.staff[code], status="finished", progress=1.0, created_at=stamp,
                  started_at=stamp, finished_at=stamp, **kw)
        db.session.add(row)
        db.session.flush()
        return row.id
    w.jobs = {code: job(code, "noop", result={}) for code in ("A01", "B01", "M01", "P01", "D01", "POS1")}
    import_result = {"inserted": 0, "updated": 0, "unchanged": 0, "rejected": 1, "rejects": []}
    w.import_job = job("M01", "import", params={"kind": "stores", "filename": "stores.csv"}, result=import_result)
    w.import_job_m2 = job("M02", "import", params={"kind": "stores", "filename": "stores.csv"},
                          result=import_result)
    db.session.add(ImportReject(job_id=w.import_job, line=2, column="timezone", reason="not an IANA time zone",
                                raw="GDN,Gdansk,Mars/Olympus,PL,PLN"))
    db.session.get(type(camp), w.camp).last_job_id = job("M01", "campaign_assign",
                                                        params={"campaign_id": w.camp}, result={"placed": 9})

    w.tokens = {code: {"Authorization": f"Bearer {create_token(people[code], actor_id=None)}"}
                for code in ("A01", "B01", "C01", "M01", "M02", "P01", "D01", "POS1")}
    create_token(people["B01"], label="spare", actor_id=None)
    db.session.flush()
    from campaign.accounts.models import ApiToken
    w.token_b = db.session.scalar(select(ApiToken.id).where(ApiToken.staff_id == w.staff["B01"],
                                                            ApiToken.label.is_(None)))
    w.token_spare = db.session.scalar(select(ApiToken.id).where(ApiToken.label == "spare"))
    db.session.commit()
    scores.refresh()
    db.session.commit()
    return w


def _browser(app, code: str | None = None):
    """A test client, signed in as ``code`` through the real form; ``.csrf`` is a valid token."""
    c = app.test_client()
    if code is not None:
        page = c.get("/login").get_data(as_text=True)
        resp = c.post("/login", data={"login": code, "password": TEST_PASSWORD, "csrf_token": csrf_from(page)})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    c.csrf = csrf_from(c.get("/login").get_data(as_text=True))
    return c


def _session_of(app, code: str) -> str:
    """The newest live session of a person (the one their latest sign-in opened)."""
    from campaign.accounts.models import Staff, UserSession
    with app.app_context():
        sid = db.session.scalar(select(UserSession.id).join(Staff, Staff.id == UserSession.staff_id)
                                .where(Staff.employee_code == code, UserSession.revoked_at.is_(None))
                                .order_by(UserSession.created_at.desc(), UserSession.id).limit(1))
        db.session.remove()
    return sid


def _digest(app) -> dict[str, str]:
    """Every table's rows (in any order) as one hash per table. On PostgreSQL
    the server hashes, in one statement (a round trip per table would cost
    more than the requests); SQLite is in process and hashes in Python."""
    out = {}
    with app.app_context():
        with db.engine.connect() as conn:
            tables = [(t, [c.name for c in t.columns if (t.name, c.name) not in VOLATILE])
                      for t in db.metadata.sorted_tables]
            if conn.dialect.name == "postgresql":
                parts = []
                for t, cols in tables:
                    row = "ROW(" + ", ".join(f'"{c}"' for c in cols) + ")::text"
                    parts.append(f"SELECT '{t.name}', count(*), md5(coalesce(string_agg({row}, '|' ORDER BY {row}),"
                                 f" '')) FROM \"{t.name}\"")
                for name, n, digest in conn.execute(text(" UNION ALL ".join(parts))):
                    out[name] = f"{n} rows {digest[:12]}"
                return out
            for t, cols in tables:
                rows = sorted(repr(tuple(r)) for r in conn.execute(select(*(t.c[c] for c in cols))))
                out[t.name] = f"{len(rows)} rows " + hashlib.sha256("\n".join(rows).encode()).hexdigest()[:12]
    return out


def _settle(app, timeout: float = 60.0) -> None:
    """Wait until no background job is queued or running (an allowed launch,
    assignment or import starts one), so no job writes during a later test."""
    from campaign.core.models import Job
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            busy = db.session.scalar(select(Job.id).where(Job.status.in_(("queued", "started"))).limit(1))
            db.session.remove()
        if busy is None:
            return
        assert time.monotonic() < deadline, f"job {busy} still running after {timeout}s"
        time.sleep(0.05)


def _wipe(app) -> None:
    """As conftest's ``_clean_tables`` after every other test."""
    wipe_tables(app)


@pytest.fixture(scope="module")
def world(app):
    saved = {k: app.config.get(k) for k in CONFIG}
    app.config.update(CONFIG)
    try:
        with app.app_context():
            w = _build(app)
            db.session.remove()
        app.config.update(CONFIG)
        w.app = app
        w.anon = _browser(app)
        w.browsers = {code: _browser(app, code) for code in ("A01", "B01", "C01", "M01", "M02", "P01", "D01")}
        w.sessions = {code: _session_of(app, code) for code in w.browsers}
        manager = w.browsers["M01"]
        w.script_form = _form(manager.get(f"/scripts/{w.script}").get_data(as_text=True))
        w.translation_form = _form(manager.get(f"/scripts/{w.script}/translations/pl").get_data(as_text=True))
        w.baseline = _digest(app)
        yield w
    finally:
        _settle(app)
        _wipe(app)
        app.config.update(saved)
        app.config["WINBACK_NOW"] = None


def _form(page: str) -> dict:
    fields = form_fields(page)
    fields.pop("csrf_token", None)
    return fields


# ------------------------------------------------------------------ what each request carries

def _now_in_db(w, statement):
    """One value as the database has it at this moment (earlier tests may have changed it)."""
    with w.app.app_context():
        value = db.session.scalar(statement)
        db.session.remove()
    return value


def _version(w, model: str, key) -> str:
    from campaign.bonuses.models import BonusPlan
    from campaign.campaigns.models import Campaign
    if model == "plan":
        version = _now_in_db(w, select(BonusPlan.version).where(BonusPlan.month == key))
    else:
        version = _now_in_db(w, select(Campaign.version).where(Campaign.id == key))
    return "" if version is None else str(version)


def _june_run(w) -> int:
    """The June draft as it is now (computing the month again replaces it)."""
    from campaign.bonuses.models import BonusRun
    return _now_in_db(w, select(BonusRun.id).where(BonusRun.month == 202606))


def _flip(w) -> str:
    """The campaign's other state: pause it when active, resume it when paused."""
    from campaign.campaigns.models import Campaign
    return "paused" if _now_in_db(w, select(Campaign.status).where(Campaign.id == w.camp)) == "active" \
        else "active"


def _own(role: str) -> bool:
    return role == "agent"


# URL parameters: the defaults, then per route (``role`` picks the caller's own
# object where the route is about ownership and the caller may use it).
def _args(w, route: str, role: str) -> dict:
    args = {
        "session_id": w.sessions["B01"], "token_id": w.token_b, "period": "2026-07", "run_id": w.runs["may"],
        "fmt": "csv", "code": "B01", "campaign_id": w.camp, "client_ref": w.b_client, "ref": w.b_client,
        "action": "ban", "competition_id": w.comp["main"], "job_id": w.import_job, "kind": "stores",
        "item_id": w.items["b_held"], "script_id": w.script, "language": "pl", "contact_id": w.complaint,
        "message_id": w.message, "batch": w.batch, "name": "funnel", "staff_id": w.staff["E01"],
    }
    special = {
        "POST /admin/tokens/<int:token_id>/revoke": {"token_id": w.token_spare} if role == "admin" else {},
        "GET /api/v1/bonus-plans/<period>": {"period": "2026-06"},
        "GET /bonuses/runs/<int:run_id>/statements/<code>": {"code": "A01"} if _own(role) else {},
        "GET /api/v1/bonus-runs/<int:run_id>/statements/<code>": {"code": "A01"} if _own(role) else {},
        "GET /api/v1/clients/<client_ref>": {"client_ref": w.a_client} if _own(role) else
        {"client_ref": w.c_client},  # a manager of no store reads a client of any store
        "POST /clients/<ref>/policy/<action>": {"ref": w.spare},
        "POST /clients/<ref>/erase": {"ref": w.erasable},
        "POST /api/v1/clients/<client_ref>/erase": {"client_ref": w.erasable_api},
        "GET /language/<code>": {"code": "en"},
        "GET /api/v1/jobs/<job_id>": {"job_id": w.jobs[WHO[role]]} if role in WHO else {},
        "POST /work/<int:item_id>/outcome": {"item_id": w.items["a_held"]} if _own(role) else {},
        "POST /api/v1/queue/<int:item_id>/outcome": {"item_id": w.items["a_held"]} if _own(role) else {},
        "POST /competitions/<int:competition_id>/delete": {"competition_id": w.comp["spare"]},
        "DELETE /api/v1/competitions/<int:competition_id>": {"competition_id": w.comp["spare_api"]},
    }
    for key in ("GET /campaigns/<int:campaign_id>/edit", "POST /campaigns/<int:campaign_id>/edit",
                "POST /campaigns/<int:campaign_id>/quotas", "PATCH /api/v1/campaigns/<int:campaign_id>",
                "PUT /api/v1/campaigns/<int:campaign_id>/quotas"):
        special[key] = {"campaign_id": w.drafts["edit"]}
    special["POST /campaigns/<int:campaign_id>/launch"] = {"campaign_id": w.drafts["launch"]}
    special["POST /api/v1/campaigns/<int:campaign_id>/launch"] = {"campaign_id": w.drafts["launch_api"]}
    special["POST /campaigns/<int:campaign_id>/delete"] = {"campaign_id": w.drafts["delete"]}
    if route in ("POST /bonuses/runs/<int:run_id>/approve", "POST /api/v1/bonus-runs/<int:run_id>/approve"):
        special[route] = {"run_id": _june_run(w)}
    return {**args, **special.get(route, {})}


QUERY = {
    "GET /campaigns/<int:campaign_id>/preview/clients": "?reason=eligible",
    "GET /reports/<any(funnel, reasons, offers):name>.csv": "?campaign={camp}",
    "GET /api/v1/reports/funnel": "?campaign={camp}",
    "GET /dormancy/clients": "?bucket=d1",
    "GET /campaigns/target-counts": "?buckets=d1",
    "GET /api/v1/leaderboard": "?period=2026-05",
}


def _url(w, route: str, role: str) -> str:
    rule = route.split(" ", 1)[1]
    args = _args(w, route, role)
    url = re.sub(r"<(?:[^<>]*:)?(\w+)>", lambda m: str(args[m.group(1)]), rule)
    return url + QUERY.get(route, "").format(camp=w.camp)


def _multipart() -> dict:
    return {"kind": "stores", "file": (io.BytesIO(STORES_CSV), "stores.csv")}


def _body(w, route: str, role: str, purpose: str):
    """("form" | "json" | "multipart", data) of a request that would change
    something if it got through (so a refusal that wrote anything shows)."""
    def edit_version():
        return _version(w, "campaign", w.drafts["edit"])
    outcome = {"disposition": "busy", "claim": w.items["a_token"] if _own(role) else w.items["b_token"]}
    forms = {
        "POST /login": lambda: {"login": WHO.get(role, "A01"), "password": TEST_PASSWORD},
        "POST /account/language": lambda: {"ui_language": "en" if purpose == "allowed" else "pl"},
        "POST /admin/users/<int:staff_id>/active": lambda: {"active": "0"},
        # the real password on the CSRF check (a hole would change it); a wrong one when allowed
        "POST /account/password": lambda: {"current": TEST_PASSWORD if purpose != "allowed" else "not my password",
                                           "new": "a brand new long passphrase"},
        "POST /imports": _multipart,
        "POST /clients/<ref>/policy/<action>": lambda: {"reason": "asked on the phone"},
        "POST /clients/<ref>/erase": lambda: {"reason": "the client's request by e-mail"},
        "POST /campaigns/new": lambda: CAMPAIGN_FORM,
        "POST /campaigns/<int:campaign_id>/edit": lambda: {**CAMPAIGN_FORM, "name": "Renamed by the matrix",
                                                           "version": edit_version()},
        "POST /campaigns/<int:campaign_id>/quotas": lambda: {f"target-{w.staff['B01']}": "2",
                                                             "version": edit_version()},
        "POST /campaigns/<int:campaign_id>/launch": lambda: {"version": _version(w, "campaign", w.drafts["launch"])},
        "POST /campaigns/<int:campaign_id>/delete": lambda: {"version": _version(w, "campaign", w.drafts["delete"])},
        "POST /campaigns/<int:campaign_id>/status": lambda: {"status": _flip(w),
                                                             "version": _version(w, "campaign", w.camp)},
        "POST /work/<int:item_id>/outcome": lambda: outcome,
        "POST /complaints/<int:contact_id>/resolve": lambda: {"note": "called back, sorted"},
        "POST /scripts/new": lambda: {"name": "Copy by the matrix", "start_from": str(w.script), "language": "en"},
        "POST /scripts/<int:script_id>": lambda: {**w.script_form, "name": "Renamed script", "action": "save"},
        "POST /scripts/<int:script_id>/preview": lambda: {**w.script_form, "mode": "base", "preview": "en"},
        "POST /scripts/<int:script_id>/translations/<language>": lambda: {**w.translation_form,
                                                                          "s-0-title": "Dzień dobry (matrix)"},
        "POST /competitions": lambda: {"period": "2026-06", "kind": "agent", "side_a": "B01", "side_b": "C01"},
        "POST /bonuses/plans/<period>": lambda: {
            "currency": "PLN", "team_per_visit": "10.00", "rank_rewards": "100", "min_calls": "1",
            "competition_reward": "", "competition_penalty": "", "cap": "", "version": _version(w, "plan", 202607)},
        "POST /bonuses/runs": lambda: {"period": "2026-06"},
    }
    if route in forms:
        return ("multipart" if route == "POST /imports" else "form"), forms[route]()
    if not _is_api(route):
        return "form", {}
    if route == "POST /api/v1/imports/<kind>":
        return "multipart", {"file": (io.BytesIO(STORES_CSV), "stores.csv")}
    if route == "POST /api/v1/campaigns/<int:campaign_id>/status":
        return "json", {"status": _flip(w)}
    pl = {**w.pl_texts, "steps": [{**s, "title": (s.get("title") or "") + " (matrix)"} for s in w.pl_texts["steps"]]}
    json_bodies = {
        "POST /api/v1/sms/inbound": {"from": w.not_a[w.b_client][2], "text": "STOP"},
        "POST /api/v1/visits": [{"visit_ref": "MATRIX-POS-1", "client_ref": w.b_client, "store_code": "WAW",
                                 "visited_at": "2026-06-01", "amount": "50.00"}],
        "POST /api/v1/clients/<client_ref>/erase": {"reason": "the client's request by e-mail"},
        "POST /api/v1/campaigns": {"name": "API campaign by the matrix", "as_of": "2026-06-01"},
        "PATCH /api/v1/campaigns/<int:campaign_id>": {"name": "Patched by the matrix"},
        "PUT /api/v1/campaigns/<int:campaign_id>/quotas": [{"employee_code": "B01", "target": 2}],
        "POST /api/v1/campaigns/<int:campaign_id>/launch": {},
        "POST /api/v1/campaigns/<int:campaign_id>/assign": {},
        "POST /api/v1/queue/next": {},
        "POST /api/v1/queue/<int:item_id>/outcome": outcome,
        "POST /api/v1/competitions": {"period": "2026-06", "kind": "team", "side_a": "North", "side_b": "South"},
        "PUT /api/v1/scripts/<int:script_id>/texts/<language>": pl,
        "PUT /api/v1/bonus-plans/<period>": PLAN,
        "POST /api/v1/bonus-runs": {"period": "2026-06"},
    }
    return ("json", json_bodies[route]) if route in json_bodies else (None, None)


def _send(w, route: str, role: str, *, purpose: str, browser=None, csrf: bool = True, headers=None,
          url: str | None = None):
    method, _rule = route.split(" ", 1)
    url = url or _url(w, route, role)
    kind, data = _body(w, route, role, purpose)
    if _is_api(route):
        c = browser or w.anon
        if headers is None:
            headers = w.tokens[WHO[role]] if role in WHO else {}
        if route == "POST /api/v1/sms/inbound" and role == "gateway":
            headers = {"X-Winback-Secret": CONFIG["SMS_INBOUND_SECRET"]}
    else:
        c = browser or (w.anon if role == ANON else w.browsers[WHO[role]])
        headers = {}
    kw: dict = {"headers": headers}
    if kind == "json":
        kw["json"] = data
    elif kind in ("form", "multipart"):
        data = dict(data)
        if csrf and not _is_api(route):
            data["csrf_token"] = c.csrf
        kw["data"] = data
    elif method in ("POST", "PUT", "PATCH") and not _is_api(route) and csrf:
        kw["data"] = {"csrf_token": c.csrf}
    return c.open(url, method=method, **kw)


def _changed(w) -> list[str]:
    """Tables whose rows differ from the last digest; the digest moves on."""
    after = _digest(w.app)
    changed = [f"{t}: {w.baseline[t]} → {after[t]}" for t in after if after[t] != w.baseline[t]]
    w.baseline = after
    return changed


def _to_login(resp) -> bool:
    return resp.status_code == 302 and "/login" in resp.headers.get("Location", "")


# ------------------------------------------------------------------ the table itself

def _declared(app) -> dict[str, tuple[str, ...] | None]:
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out[f"{method} {rule.rule}"] = getattr(view, "winback_roles", None)
    return out


def test_every_route_is_in_the_matrix(app):
    """A new route forces a decision here; a removed route must leave the table."""
    routes = set(_declared(app))
    new, gone = sorted(routes - set(MATRIX)), sorted(set(MATRIX) - routes)
    assert new == [], f"routes nobody has decided about, add them to MATRIX: {new}"
    assert gone == [], f"MATRIX names routes that no longer exist: {gone}"
    assert set(NARROWED) <= set(MATRIX)


def test_the_matrix_agrees_with_what_each_view_declares(app):
    """The hand-written table and the views' ``roles_required``/``api_roles``/``public``
    say the same thing (``pos`` only exists on the API; pages it cannot sign in to)."""
    disagree = []
    for route, declared in sorted(_declared(app).items()):
        if route not in MATRIX:
            continue
        expected = NARROWED.get(route, MATRIX[route])
        if expected in (OPEN, GATEWAY):
            want: set = set()   # public (the gateway route checks its own secret)
        else:
            want = set(expected) - {ANON}
        if declared is None or set(declared) != want:
            disagree.append(f"{route}: table {sorted(want)} but the view declares {declared}")
    assert disagree == []


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize("route,role", _cases(allowed=False))
def test_refused(world, route, role):
    w = world
    resp = _send(w, route, role, purpose="refused")
    if MATRIX[route] == GATEWAY:
        expected = "401 (no gateway secret)"
        ok = resp.status_code == 401
    elif _is_api(route) and role == ANON:
        expected = "401"
        ok = resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
        # A signed-in browser's cookie is not a token: the API still answers 401.
        cookie = _send(w, route, role, purpose="refused", browser=w.browsers["M01"], headers={})
        ok = ok and cookie.status_code == 401
    elif _is_api(route):
        expected = "403"
        ok = resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    elif role == ANON:
        expected = "a redirect to /login"
        ok = _to_login(resp)
    else:
        expected = "403"
        ok = resp.status_code == 403
    changed = _changed(w)
    assert ok, f"{route} as {role}: {resp.status_code} {resp.headers.get('Location', '')}, expected {expected} " \
               f"(wrote: {changed or 'nothing'}): {resp.get_data(as_text=True)[:300]}"
    assert changed == [], f"{route} as {role} was refused but wrote: {changed}"


# ------------------------------------------------------------------ CSRF on every browser form

def _form_routes() -> list:
    out = []
    for route, who in MATRIX.items():
        method = route.split(" ", 1)[0]
        if method != "GET" and not _is_api(route):
            role = next(r for r in who if r in PAGE_ROLES)
            out.append(pytest.param(route, role, id=f"{route} as {role}"))
    return out


@pytest.mark.parametrize("route,role", _form_routes())
def test_form_without_csrf_is_refused(world, route, role):
    """CSRF is on in the tests (conftest does not turn WTF_CSRF_ENABLED off); a
    form sent by a role that may use it, without its token, answers 400."""
    w = world
    assert w.app.config.get("WTF_CSRF_ENABLED", True)
    resp = _send(w, route, role, purpose="csrf", csrf=False)
    changed = _changed(w)
    assert resp.status_code == 400, f"{route} as {role} without a CSRF token: {resp.status_code}"
    assert changed == [], f"{route} without a CSRF token wrote: {changed}"


# ------------------------------------------------------------------ ownership

def _secrets(w, of: str) -> list[str]:
    """Names, phones and refs of the clients ``of`` must never be shown."""
    table = {"A01": w.not_a, "B01": w.not_b}[of]
    return [s for ref in table for s in table[ref]]


def _ownership_cases():
    """(id, caller, method, url(w), body kind, body(w), accepted statuses)."""
    b_item, a_item = (lambda w: w.items["b_held"]), (lambda w: w.items["a_held"])
    outcome = lambda w: {"disposition": "do_not_contact", "claim": w.items["b_token"]}  # noqa: E731
    return [
        # agent A and agent B: the same store, the same team
        ("B's client card (API)", "A01", "GET", lambda w: f"/api/v1/clients/{w.b_client}", None, None, (403,)),
        ("B's called client's card (API)", "A01", "GET", lambda w: f"/api/v1/clients/{w.b_closed_client}",
         None, None, (403,)),
        ("a client in nobody's queue (API)", "A01", "GET", lambda w: f"/api/v1/clients/{w.spare}", None, None,
         (403,)),
        ("an unknown client ref answers the same (API)", "A01", "GET", lambda w: "/api/v1/clients/NOPE",
         None, None, (403,)),
        ("outcome on B's claimed item (API)", "A01", "POST",
         lambda w: f"/api/v1/queue/{b_item(w)}/outcome", "json", outcome, (403,)),
        ("outcome on B's closed item (API)", "A01", "POST",
         lambda w: f"/api/v1/queue/{w.items['b_closed']}/outcome", "json",
         lambda w: {"disposition": "busy", "corrects": w.b_outcome}, (403,)),
        ("outcome on B's claimed item (page)", "A01", "POST",
         lambda w: f"/work/{b_item(w)}/outcome", "form", outcome, (403,)),
        ("correcting B's outcome from A's own item (API)", "A01", "POST",
         lambda w: f"/api/v1/queue/{a_item(w)}/outcome", "json",
         lambda w: {"disposition": "busy", "corrects": w.b_outcome}, (403, 404, 422)),
        ("correcting B's outcome from A's own item (page)", "A01", "POST",
         lambda w: f"/work/{a_item(w)}/outcome", "form",
         lambda w: {"disposition": "busy", "corrects": str(w.b_outcome)}, (403, 404, 422)),
        ("B's statement (page)", "A01", "GET", lambda w: f"/bonuses/runs/{w.runs['may']}/statements/B01",
         None, None, (403,)),
        ("B's statement (API)", "A01", "GET",
         lambda w: f"/api/v1/bonus-runs/{w.runs['may']}/statements/B01", None, None, (403,)),
        ("B's job (API)", "A01", "GET", lambda w: f"/api/v1/jobs/{w.jobs['B01']}", None, None, (404,)),
        ("B's session (page)", "A01", "POST", lambda w: f"/account/sessions/{w.sessions['B01']}/revoke",
         "form", lambda w: {}, (404,)),
        ("next client never hands out B's or C's item (API)", "A01", "POST", lambda w: "/api/v1/queue/next",
         "json", lambda w: {"campaign_id": w.camp}, (204,)),
        ("next client never hands out B's or C's item (page)", "A01", "POST", lambda w: "/work/next",
         "form", lambda w: {"campaign_id": str(w.camp)}, (302,)),
        ("the workspace shows only A's claim, not B's", "A01", "GET", lambda w: "/work", None, None, (200,)),
        ("B cannot log an outcome on A's claim either (API)", "B01", "POST",
         lambda w: f"/api/v1/queue/{a_item(w)}/outcome", "json",
         lambda w: {"disposition": "do_not_contact", "claim": w.items["a_token"]}, (403,)),
        ("B cannot read A's client card (API)", "B01", "GET", lambda w: f"/api/v1/clients/{w.a_client}",
         None, None, (403,)),
        # agent A and agent C: another store, another team
        ("C's client card (API)", "A01", "GET", lambda w: f"/api/v1/clients/{w.c_client}", None, None, (403,)),
        ("outcome on C's callback (API)", "A01", "POST",
         lambda w: f"/api/v1/queue/{w.items['c_callback']}/outcome", "json",
         lambda w: {"disposition": "do_not_contact"}, (403,)),
        ("outcome on C's callback (page)", "A01", "POST", lambda w: f"/work/{w.items['c_callback']}/outcome",
         "form", lambda w: {"disposition": "do_not_contact"}, (403,)),
        ("C's statement (page)", "A01", "GET", lambda w: f"/bonuses/runs/{w.runs['may']}/statements/C01",
         None, None, (403,)),
        ("C's statement (API)", "A01", "GET",
         lambda w: f"/api/v1/bonus-runs/{w.runs['may']}/statements/C01", None, None, (403,)),
        ("C's session (page)", "A01", "POST", lambda w: f"/account/sessions/{w.sessions['C01']}/revoke",
         "form", lambda w: {}, (404,)),
        # an agent's own statement exists only once the run is approved
        ("A's statement of a draft run (page)", "A01", "GET",
         lambda w: f"/bonuses/runs/{w.runs['june']}/statements/A01", None, None, (404,)),
        ("A's statement of a draft run (API)", "A01", "GET",
         lambda w: f"/api/v1/bonus-runs/{w.runs['june']}/statements/A01", None, None, (404,)),
        # jobs belong to their starter (an admin sees every import)
        ("a manager's job (API) as an agent", "A01", "GET", lambda w: f"/api/v1/jobs/{w.import_job}",
         None, None, (404,)),
        ("another manager's import (page)", "M02", "GET", lambda w: f"/imports/{w.import_job}", None, None,
         (404,)),
        ("another manager's import progress", "M02", "GET", lambda w: f"/imports/{w.import_job}/status.json",
         None, None, (404,)),
        ("another manager's import rejects", "M02", "GET", lambda w: f"/imports/{w.import_job}/rejects.csv",
         None, None, (404,)),
        ("another manager's import (API)", "M02", "GET", lambda w: f"/api/v1/jobs/{w.import_job}", None, None,
         (404,)),
        ("another manager's session (page)", "M02", "POST",
         lambda w: f"/account/sessions/{w.sessions['M01']}/revoke", "form", lambda w: {}, (404,)),
        # payroll never sees a draft run
        ("a draft run (page) as payroll", "P01", "GET", lambda w: f"/bonuses/runs/{w.runs['june']}", None, None,
         (404,)),
        ("a draft run (API) as payroll", "P01", "GET", lambda w: f"/api/v1/bonus-runs/{w.runs['june']}",
         None, None, (404,)),
        ("a draft run's statement (API) as payroll", "P01", "GET",
         lambda w: f"/api/v1/bonus-runs/{w.runs['june']}/statements/B01", None, None, (404,)),
        ("exporting a draft run (API) as payroll", "P01", "GET",
         lambda w: f"/api/v1/bonus-runs/{w.runs['june']}/export.csv", None, None, (404,)),
    ]


@pytest.mark.parametrize("case", _ownership_cases(), ids=lambda c: c[0])
def test_agent_cannot_reach_another_agents_objects(world, case):
    w = world
    name, who, method, url, kind, body, statuses = case
    url = url(w)
    if url.startswith("/api/"):
        c, kw = w.anon, {"headers": w.tokens[who]}
        if kind == "json":
            kw["json"] = body(w)
    else:
        c = w.browsers[who]
        kw = {"data": {**body(w), "csrf_token": c.csrf}} if kind == "form" else {}
    resp = c.open(url, method=method, **kw)
    page = resp.get_data(as_text=True)
    if resp.status_code == 302 and not url.startswith("/api/"):
        page += c.get(resp.headers["Location"]).get_data(as_text=True)  # the flashed message, the page after
    changed = _changed(w)
    assert resp.status_code in statuses, f"{name}: {method} {url} as {who} answered {resp.status_code}: {page[:300]}"
    assert changed == [], f"{name}: {method} {url} as {who} wrote: {changed}"
    if who in ("A01", "B01"):
        shown = [s for s in _secrets(w, who) if s in page]
        assert shown == [], f"{name}: {who} was shown {shown}"
    if name.startswith("the workspace"):
        assert w.a_surname in page, "A's own claimed client is on A's workspace"


# ------------------------------------------------------------------ allowed

def _allowed_cases() -> list:
    cases = _cases(allowed=True)
    # Reads first, on the world as built; then the changes, destructive ones last.
    last = ("erase", "delete", "status", "logout", "/revoke", "export")

    def key(p):
        route = p.values[0]
        return (route.split(" ")[0] != "GET", any(x in route.lower() for x in last))
    return sorted(cases, key=key)


SIGNS_OUT = {"POST /logout", "POST /account/sessions/<session_id>/revoke"}


@pytest.mark.parametrize("route,role", _allowed_cases())
def test_allowed(world, route, role):
    w = world
    browser, url = None, None
    if route in SIGNS_OUT or route == "POST /login" or route == "POST /admin/sessions/<session_id>/revoke":
        # Sessions are ended in a browser of their own, never the shared ones.
        code = WHO.get(role)
        browser = _browser(w.app, code if route != "POST /admin/sessions/<session_id>/revoke" else "B01")
        if route == "POST /login":
            browser = _browser(w.app)
        if route == "POST /account/sessions/<session_id>/revoke":
            url = f"/account/sessions/{_session_of(w.app, code)}/revoke"
        if route == "POST /admin/sessions/<session_id>/revoke":
            url = f"/admin/sessions/{_session_of(w.app, 'B01')}/revoke"
            browser = w.browsers["D01"]
    resp = _send(w, route, role, purpose="allowed", browser=browser, url=url)
    body = resp.get_data(as_text=True)
    _settle(w.app)
    _changed(w)
    assert resp.status_code < 500, f"{route} as {role}: {resp.status_code} {body[:500]}"
    assert resp.status_code not in (401, 403), f"{route} as {role} was refused: {body[:300]}"
    ends_session = route == "POST /logout" or (route.endswith("/revoke") and "sessions" in route)
    if MATRIX[route] != OPEN and not ends_session:  # a public page may lead to the sign-in page on purpose
        assert not _to_login(resp), f"{route} as {role} was sent to sign in"
    if route.startswith("GET "):
        assert resp.status_code in (200, 302), f"{route} as {role}: {resp.status_code} {body[:300]}"
    if role == "agent":
        shown = [s for s in _secrets(w, "A01") if s in body]
        assert shown == [], f"{route} showed agent A clients outside A's queue: {shown}"

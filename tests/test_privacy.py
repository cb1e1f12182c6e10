"""Privacy requests (GDPR, docs/privacy.md): the export holds every kind of
record about a client; the erasure leaves no personal string anywhere in the
database while leaderboards, reports and bonus statements keep their numbers;
roles, the audit log, the re-import rule, the pages and the CLI.

A June of calls, messages, visits and a bonus run is made through the real
services (claims, outcomes, the outbox, the POS visit upsert, the CSV import,
the bonus run). Runs on SQLite by default and on PostgreSQL with DATABASE_URL.
"""
from __future__ import annotations

import json
import threading
from datetime import date, datetime

import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, cast, func, select

from campaign.bonuses import runs
from campaign.bonuses import services as bonus_services
from campaign.calls import services as calls
from campaign.calls.models import Outcome
from campaign.campaigns.models import Campaign, CampaignItem
from campaign.clients import queries as client_queries
from campaign.clients import services as client_services
from campaign.clients.models import Client, ClientErasure, Contact, Visit
from campaign.core import clock
from campaign.core.errors import Conflict, ValidationError
from campaign.core.models import AuditLog, Job
from campaign.extensions import db
from campaign.imports import services as imports
from campaign.imports.models import ImportReject
from campaign.outbox import services as outbox
from campaign.outbox.models import Message
from campaign.privacy import rules as privacy_rules
from campaign.privacy import services as privacy
from campaign.scoring import lift, reports, scores
from campaign.scoring import services as scoring
from campaign.scoring.models import Conversion
from campaign.bonuses.models import BonusConversion
from tests.bonus_world import PLAN, at, visit
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas
from tests.conftest import csrf_from
from tests.test_outbox_fixtures import outbox_settings  # noqa: F401 (autouse: no dispatch on commit)

FIRST, LAST = "Zofiaqx", "Privatowska"
PHONE = "+48601999888"
EMAIL = "zofia.privat@example.test"
NOTES = "Allergic to lavender oil; prefers Olga on Fridays"
CALL_NOTES = "Says the new stylist was rude to her; wants the old one back"
BAN_REASON = f"{LAST} shouted at the reception desk"
BAD_EMAIL = "zofiaqx@@wrong"
CLIENTS_HEADER = ("client_ref,first_name,last_name,phone,email,language,store_code,consent_call,consent_sms,"
                  "consent_email,consent_post,do_not_contact,notes")


def _claim_and_log(agent, disposition: str, **extra):
    c = calls.claim_next(agent, clock.now())
    assert c is not None, "the agent has a client to call"
    calls.log_outcome(c.item_id, agent, {"disposition": disposition, "claim": c.token, **extra}, clock.now())
    db.session.commit()
    return c


@pytest.fixture
def world(ctx, pin_clock, make_store, make_staff, tmp_path):
    """June 2026 in Warsaw: two agents call four clients; the target client
    (personal data everywhere) is not answered, gets an SMS, is reached on
    the retry (notes), visits and converts; a manager bans her with a typed
    reason, she texts STOP, e-mail letters are planned, an import row of hers
    is rejected; on 1 July a bonus run pays June."""
    at(pin_clock, datetime(2026, 6, 2, 10, 0))
    store = make_store("WAW", name="Warsaw Centre", timezone="Europe/Warsaw")
    people = {"manager": make_staff("M01", roles=("manager",), name="Maria Manager"),
              "admin": make_staff("AD1", roles=("admin",), name="Ada Admin"),
              "payroll": make_staff("P01", roles=("payroll",), name="Paul Payroll"),
              "A01": make_staff("A01", store=store, team="North", name="Anna Agent"),
              "A02": make_staff("A02", store=store, team="South", name="Bruno Agent")}
    ids = add_clients(store, 4, days=45, step=1, prefix="PRV", consent_sms=True, consent_email=True)
    target = db.session.get(Client, ids[0])
    target.first_name, target.last_name, target.phone, target.email, target.notes = FIRST, LAST, PHONE, EMAIL, NOTES
    db.session.commit()
    ref, target_id = target.ref, target.id

    camp = new_campaign(people["manager"], attribution_window_days=30, max_attempts=3, retry_delay_hours=1)
    quotas(camp, [(people["A01"], 2), (people["A02"], 2)])
    launch(camp)
    camp.launched_at = datetime(2026, 6, 2, 9, 0)  # (the helper runs the assignment without the launch use-case)
    db.session.commit()
    item = db.session.scalar(select(CampaignItem).where(CampaignItem.client_id == target_id))
    holder = next(p for p in (people["A01"], people["A02"]) if p.id == item.staff_id)
    for agent in (people["A01"], people["A02"]):
        while True:
            c = calls.claim_next(agent, clock.now())
            if c is None:
                break
            disposition = "no_answer" if c.client_id == target_id else "will_visit"
            calls.log_outcome(c.item_id, agent, {"disposition": disposition, "claim": c.token}, clock.now())
            db.session.commit()
    at(pin_clock, datetime(2026, 6, 2, 12, 0))  # the retry is due
    c = _claim_and_log(holder, "will_visit", notes=CALL_NOTES, reason="service")
    assert c.client_id == target_id

    target = db.session.get(Client, target_id)
    client_services.ban(target, BAN_REASON, people["manager"].id)
    db.session.commit()
    outbox.inbound_sms(PHONE, "STOP", clock.now())  # the no-answer SMS is cancelled, the opt-out audited
    db.session.commit()
    item = db.session.get(CampaignItem, item.id)
    letters = outbox.after_attempts_exhausted(item, db.session.get(Campaign, camp.id),
                                              db.session.get(Client, target_id), clock.now())
    db.session.commit()
    assert len(letters) == 3 and all(m.channel == "email" and FIRST in m.body for m in letters)

    csv = tmp_path / "clients.csv"
    csv.write_text(f"{CLIENTS_HEADER}\n{ref},{FIRST},{LAST},601 999 888,{BAD_EMAIL},en,WAW,1,1,1,0,0,{NOTES}\n",
                   encoding="utf-8")
    result = imports.import_path("clients", str(csv))
    assert result["rejected"] == 1 and BAD_EMAIL in result["rejects"][0]["reason"]

    visit(db.session.get(Client, target_id), "V-PRV-1", "2026-06-10", amount="80.00")
    visit(db.session.get(Client, ids[1]), "V-PRV-2", "2026-06-12", amount="55.50")
    scores.refresh()

    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    june = scoring.period_arg("2026-06")
    bonus_services.put_plan(june, dict(PLAN), people["manager"].id)
    db.session.commit()
    run = runs.compute_run(june, people["manager"].id)
    db.session.commit()
    return {"people": people, "camp_id": camp.id, "ref": ref, "target_id": target_id, "ids": ids,
            "holder": holder, "run_id": run.id, "june": june, "store": store}


def needles() -> list[str]:
    """Every personal string the world put in the database, the texts of her messages too."""
    bodies = db.session.scalars(select(Message.body).order_by(Message.id)).all()
    return [FIRST, LAST, PHONE, PHONE.lstrip("+"), EMAIL, NOTES, CALL_NOTES, BAN_REASON, BAD_EMAIL, "601 999 888",
            *bodies]


def personal_hits(strings: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, string) for every text, JSON or binary column of every
    table that holds one of the strings (any case): a scan of the whole schema."""
    hits = []
    for table in db.metadata.sorted_tables:
        for col in table.columns:
            if isinstance(col.type, LargeBinary):
                for (data,) in db.session.execute(select(col).where(col.is_not(None))):
                    hits += [(table.name, col.name, s) for s in strings if s.lower().encode() in bytes(data).lower()]
                continue
            if not isinstance(col.type, (String, Text, JSON)):
                continue
            expr = func.lower(cast(col, Text)) if isinstance(col.type, JSON) else func.lower(col)
            for s in strings:
                if db.session.scalar(select(func.count()).select_from(table).where(expr.like(f"%{s.lower()}%"))):
                    hits.append((table.name, col.name, s))
    return hits


def numbers(w) -> dict:
    """What reports, leaderboards and bonuses say, through their own functions."""
    camp = db.session.get(Campaign, w["camp_id"])
    run = runs.get_run(w["run_id"])
    statements = {}
    for line in run_json_lines(run):
        st = runs.statement(run, line)
        statements[line] = {"line": (st["line"].calls, st["line"].reached, st["line"].conversions, st["line"].total),
                            "own": [(c["date"], c["amount"], c["currency"], c["employee_code"])
                                    for c in st["own_conversions"]],
                            "pool": [(c["date"], c["amount"]) for c in st["pool_conversions"]], "pool_total": st["pool"]}
    return {
        "agents_month": scoring.board(campaign=None, period=w["june"], by="agent"),
        "teams_month": scoring.board(campaign=None, period=w["june"], by="team"),
        "agents_campaign": scoring.board(campaign=camp, period=None, by="agent"),
        "funnel": reports.funnel(camp), "reasons": reports.reasons(campaign=camp),
        "offers": reports.offers(campaign=camp), "lift": lift.lift(camp, clock.utcnow_naive()),
        "segments": client_queries.segment_counts(date(2026, 7, 1)),
        "run": runs.run_json(run), "statements": statements,
        "rows": {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)
                                                    .where(m.client_id == w["target_id"]))
                 for m in (Visit, Contact, Outcome, CampaignItem, Message, Conversion, BonusConversion)},
    }


def run_json_lines(run) -> list[str]:
    return [s["employee_code"] for s in runs.run_json(run)["statements"]]


# ------------------------------------------------------------------ export

def test_export_holds_every_kind_of_record(client, world, token_for):
    w = world
    headers = token_for(w["people"]["manager"])
    resp = client.get(f"/api/v1/clients/{w['ref']}/export", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="client-{w["ref"]}.json"'
    data = json.loads(resp.get_data(as_text=True))

    assert data["export"]["format"] == "winback-client-export" and data["export"]["generated_at"].endswith("Z")
    c = data["client"]
    assert (c["client_ref"], c["first_name"], c["last_name"], c["phone"], c["email"], c["notes"]) == \
        (w["ref"], FIRST, LAST, PHONE, EMAIL, NOTES)
    assert c["store"]["code"] == "WAW" and c["banned_by_manager"] is True and c["ban_reason"] == BAN_REASON
    assert c["consent_sms"] is False, "the STOP withdrew SMS consent"
    assert data["erasure"] is None

    assert [(v["visit_ref"], v["status"], v["currency"]) for v in data["visits"] if v["visit_ref"] == "V-PRV-1"] == \
        [("V-PRV-1", "completed", "PLN")]
    assert len(data["visits"]) == 3  # two from before the campaign, one after the call
    assert next(v for v in data["visits"] if v["visit_ref"] == "V-PRV-1")["amount"] == 8000
    assert all(v["visited_at"].endswith("Z") and len(v["local_date"]) == 10 for v in data["visits"])

    assert [o["disposition"] for o in data["outcomes"]] == ["no_answer", "will_visit"]
    reached = data["outcomes"][1]
    assert reached["notes"] == CALL_NOTES and reached["reached"] is True and reached["reason"] == "service"
    assert reached["employee_code"] == w["holder"].employee_code and reached["at"].endswith("Z")
    assert [x["channel"] for x in data["contacts"]] == ["call", "call"]

    assert [i["campaign"] for i in data["queue_items"]] == ["Spring win-back"]
    assert data["queue_items"][0]["employee_code"] == w["holder"].employee_code
    assert [x["name"] for x in data["campaigns"]] == ["Spring win-back"]

    msgs = data["messages"]
    assert sorted((m["channel"], m["kind"], m["status"]) for m in msgs) == [
        ("email", "letter_1", "scheduled"), ("email", "letter_2", "scheduled"), ("email", "letter_3", "scheduled"),
        ("sms", "no_answer_sms", "cancelled")]
    sms = next(m for m in msgs if m["channel"] == "sms")
    assert sms["recipient"] == PHONE and FIRST in sms["body"] and sms["cancel_reason"] == "opt_out"
    letter = next(m for m in msgs if m["kind"] == "letter_1")
    assert letter["recipient"] == EMAIL and letter["subject"] and FIRST in letter["body"]
    assert letter["due_at"].endswith("Z") and letter["created_at"].endswith("Z")

    [conv] = data["conversions"]
    assert conv["credited_to"]["employee_code"] == w["holder"].employee_code
    assert (conv["visit_ref"], conv["amount"], conv["currency"], conv["period"], conv["local_date"]) == \
        ("V-PRV-1", 8000, "PLN", "2026-06", "2026-06-10")
    [bonus] = data["bonus_conversions"]
    assert (bonus["run_id"], bonus["run_period"], bonus["run_status"], bonus["amount"], bonus["currency"],
            bonus["employee_code"]) == (w["run_id"], "2026-06", "draft", 8000, "PLN", w["holder"].employee_code)

    actions = {a["action"] for a in data["audit_log"]}
    assert {"client.ban", "client.sms_opt_out"} <= actions
    ban = next(a for a in data["audit_log"] if a["action"] == "client.ban")
    assert ban["details"]["reason"] == BAN_REASON and ban["actor"] == "M01"
    [reject] = data["import_rejects"]
    assert reject["kind"] == "clients" and reject["column"] == "email" and BAD_EMAIL in reject["raw"]

    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "client.export")).one()
    assert (entry.target, entry.actor_id, entry.details) == (f"client:{w['ref']}", w["people"]["manager"].id,
                                                             {"via": "api"})


# ------------------------------------------------------------------ erase

def test_erase_leaves_no_personal_string_and_keeps_every_number(world):
    w = world
    strings = needles()
    before_hits = {(t, c) for t, c, _ in personal_hits(strings + [w["ref"]])}
    # The world really put the client's data everywhere the scan looks.
    assert {("clients", "first_name"), ("clients", "notes"), ("outcomes", "notes"), ("messages", "body"),
            ("messages", "recipient"), ("audit_log", "details"), ("audit_log", "target"), ("import_rejects", "raw"),
            ("jobs", "result")} <= before_hits
    before = numbers(w)

    target = db.session.get(Client, w["target_id"])
    done = privacy.erase_client(target, w["people"]["admin"].id,
                                f"Asked by e-mail from {EMAIL} on 2026-06-30 (ticket 4411)", via="api")
    db.session.commit()

    assert personal_hits(strings + [w["ref"]]) == []
    assert done["client_ref"] == f"ERASED-{w['target_id']}"
    assert done["reason"] == "Asked by e-mail from [erased] on 2026-06-30 (ticket 4411)"
    assert done["removed"]["messages_cancelled"] == 3 and done["removed"]["messages_cleared"] == 4
    assert done["removed"]["call_notes_cleared"] == 1 and done["removed"]["import_rejects_cleared"] == 1
    assert done["kept"] == {"visits": 3, "contacts": 2, "outcomes": 2, "queue_items": 1, "messages": 4,
                            "conversions": 1, "bonus_conversions": 1}

    after = numbers(w)
    assert after == before, "leaderboards, reports, segments, bonus lines and statements keep their numbers"

    target = db.session.get(Client, w["target_id"])
    assert (target.ref, target.first_name, target.last_name, target.phone, target.email, target.notes) == \
        (f"ERASED-{w['target_id']}", "", "", None, None, None)
    assert (target.do_not_contact, target.dnc_reason, target.consent_call, target.consent_email) == \
        (True, "erased", False, False)
    assert target.manual_ban is True and target.ban_reason == "[erased]"
    assert db.session.scalars(select(Message.status).where(Message.client_id == target.id)).all().count("cancelled") == 4
    erasure = db.session.get(ClientErasure, target.id)
    assert (erasure.erased_by, erasure.via) == (w["people"]["admin"].id, "api")

    entries = db.session.scalars(select(AuditLog).where(AuditLog.target == f"client:{target.ref}")
                                 .order_by(AuditLog.id)).all()
    assert [e.action for e in entries] == ["client.ban", "client.sms_opt_out", "client.erase"]
    ban, opt_out, erase = entries
    assert ban.details == {"reason": "[erased]"} and opt_out.details == {"phone": "[erased]", "text": "[erased]"}
    assert erase.actor_id == w["people"]["admin"].id and erase.details["via"] == "api"
    assert erase.details["reason"] == done["reason"] and erase.details["kept"]["conversions"] == 1
    job = db.session.scalars(select(Job).where(Job.kind == "import")).one()
    assert job.result["rejects"][0]["reason"] == privacy_rules.REJECT_ERASED

    # A second erasure changes nothing: by the new ref and by the one it had.
    with pytest.raises(Conflict):
        privacy.erase_client(target, w["people"]["admin"].id, "again")
    db.session.rollback()
    with pytest.raises(Conflict, match="already erased"):
        privacy.erase_client(privacy.find_client(w["ref"]), None, "again")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "client.erase")) == 1

    # What an export of the erased client still says: no personal data, the erasure, the numbers.
    data = privacy.export_client(privacy.find_client(w["ref"]), w["people"]["admin"].id)
    db.session.commit()
    text = json.dumps(data)
    assert not [s for s in strings if s.lower() in text.lower()]
    assert data["client"]["client_ref"] == target.ref and data["erasure"]["erased_by"] == "AD1"
    assert len(data["visits"]) == 3 and len(data["conversions"]) == 1 and len(data["bonus_conversions"]) == 1

    # The run recomputed after the erasure pays exactly the same.
    run = runs.compute_run(w["june"], w["people"]["manager"].id)
    db.session.commit()
    assert runs.run_json(run)["statements"] == before["run"]["statements"]
    assert runs.run_json(run)["total"] == before["run"]["total"]


def test_the_reason_is_required_and_kept_without_the_clients_own_strings(world):
    w = world
    target = db.session.get(Client, w["target_id"])
    for empty in (None, "", "   ", 42):
        with pytest.raises(ValidationError, match="reason"):
            privacy.erase_client(target, w["people"]["admin"].id, empty)
        db.session.rollback()
    with pytest.raises(ValidationError, match="too long"):
        privacy.erase_client(target, None, "x" * 501)
    db.session.rollback()
    target = db.session.get(Client, w["target_id"])
    assert target.first_name == FIRST, "a refused erasure changes nothing"
    done = privacy.erase_client(target, None, f"{FIRST} {LAST} ({PHONE}, ref {w['ref']}) phoned the salon")
    db.session.commit()
    assert done["reason"] == "[erased] ([erased], ref [erased]) phoned the salon"
    assert db.session.get(ClientErasure, w["target_id"]).erased_by is None


def test_a_manager_cannot_change_an_erased_clients_card(world):
    w = world
    privacy.erase_client(db.session.get(Client, w["target_id"]), None, "client request")
    db.session.commit()
    target = db.session.get(Client, w["target_id"])
    for change in (client_services.clear_do_not_contact, client_services.lift_ban):
        with pytest.raises(ValidationError, match="erased"):
            change(target, "they called back", w["people"]["manager"].id)
        db.session.rollback()


# ------------------------------------------------------------------ re-import

def test_an_import_of_the_erased_ref_is_refused_and_stores_nothing_personal(world, tmp_path, client, token_for):
    w = world
    target = db.session.get(Client, w["target_id"])
    privacy.erase_client(target, None, "client request")
    db.session.commit()
    new_ref = f"ERASED-{w['target_id']}"

    csv = tmp_path / "again.csv"
    csv.write_text(f"{CLIENTS_HEADER}\n"
                   f"{w['ref']},{FIRST},{LAST},{PHONE},{EMAIL},en,WAW,1,1,1,0,0,{NOTES}\n"
                   f"{new_ref},{FIRST},{LAST},{PHONE},{EMAIL},en,WAW,1,1,1,0,0,\n"
                   f"PRV-NEW-1,{FIRST},{LAST},{PHONE},{EMAIL},en,WAW,1,1,1,0,0,\n", encoding="utf-8")
    result = imports.import_path("clients", str(csv))
    assert (result["inserted"], result["updated"], result["rejected"]) == (1, 0, 2)
    assert [(r["line"], r["column"]) for r in result["rejects"]] == [(2, "client_ref"), (3, "client_ref")]
    assert all("personal data was erased" in r["reason"] and "new client_ref" in r["reason"]
               for r in result["rejects"])
    assert db.session.scalars(select(ImportReject.raw).order_by(ImportReject.line)).all()[-2:] == [None, None]
    target = db.session.get(Client, w["target_id"])
    assert (target.ref, target.first_name, target.phone, target.email) == (new_ref, "", None, None)
    # A new ref is a new client: the documented way back, with fresh consent.
    assert db.session.scalar(select(Client.first_name).where(Client.ref == "PRV-NEW-1")) == FIRST

    # The POS API: a visit for the old ref or the new token is refused with the reason.
    headers = token_for(w["people"]["admin"])
    resp = client.post("/api/v1/visits", headers=headers, json=[
        {"visit_ref": "V-LATE-1", "client_ref": w["ref"], "store_code": "WAW", "visited_at": "2026-06-20"},
        {"visit_ref": "V-LATE-2", "client_ref": new_ref, "store_code": "WAW", "visited_at": "2026-06-21"}])
    body = resp.get_json()
    assert resp.status_code == 200 and body["rejected"] == 2 and body["inserted"] == 0
    assert all("erased" in r["reason"] for r in body["rejects"])
    assert db.session.scalar(select(func.count()).select_from(Visit).where(Visit.client_id == w["target_id"])) == 3


# ------------------------------------------------------------------ the API and its roles

def test_api_roles_and_errors(client, world, token_for):
    w = world
    h = {k: token_for(w["people"][k]) for k in ("manager", "admin", "payroll", "A01")}
    url = f"/api/v1/clients/{w['ref']}"
    assert client.get(f"{url}/export").status_code == 401
    for who in ("payroll", "A01"):
        assert client.get(f"{url}/export", headers=h[who]).status_code == 403, who
    assert client.get(f"{url}/export", headers=h["admin"]).status_code == 200
    assert client.get("/api/v1/clients/NOPE/export", headers=h["manager"]).status_code == 404

    for who in ("manager", "payroll", "A01"):
        resp = client.post(f"{url}/erase", headers=h[who], json={"reason": "asked"})
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden", who
    resp = client.post(f"{url}/erase", headers=h["admin"], json={})
    assert resp.status_code == 422 and resp.get_json()["error"]["details"] == {"reason": "is required"}
    assert client.post(f"{url}/erase", headers=h["admin"]).status_code == 422
    assert client.post("/api/v1/clients/NOPE/erase", headers=h["admin"], json={"reason": "x"}).status_code == 404

    resp = client.post(f"{url}/erase", headers=h["admin"], json={"reason": "request by e-mail, ticket 4411"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["client_ref"] == f"ERASED-{w['target_id']}" and body["via"] == "api"
    assert body["erased_at"].endswith("Z") and body["kept"]["conversions"] == 1
    for ref in (w["ref"], body["client_ref"]):
        again = client.post(f"/api/v1/clients/{ref}/erase", headers=h["admin"], json={"reason": "again"})
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict", ref
    exported = client.get(f"/api/v1/clients/{body['client_ref']}/export", headers=h["manager"]).get_json()
    assert exported["erasure"]["reason"] == "request by e-mail, ticket 4411"
    assert client.get(f"/api/v1/clients/{body['client_ref']}", headers=h["manager"]).get_json()["erased"]["by_code"] == "AD1"


# ------------------------------------------------------------------ pages

def test_card_offers_export_to_managers_and_erasure_to_admins(client, world, login_as):
    w = world
    card = f"/clients/{w['ref']}"
    login_as(w["people"]["manager"])
    page = client.get(card).get_data(as_text=True)
    assert "Export data (GDPR)" in page and f'href="/clients/{w["ref"]}/export"' in page
    assert "Erase personal data</button>" not in page and "Manager's changes" in page
    resp = client.get(f"{card}/export")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(resp.data)["client"]["email"] == EMAIL
    assert client.post(f"{card}/erase", data={"reason": "x", "csrf_token": csrf_from(page)}).status_code == 403
    found = client.get(f"/privacy?q={EMAIL}").get_data(as_text=True)
    assert f'href="/clients/{w["ref"]}#privacy"' in found
    assert f'/clients/{w["ref"]}#privacy' in client.get("/privacy?q=601-999-888").get_data(as_text=True)
    assert f'/clients/{w["ref"]}#privacy' in client.get(f"/privacy?q={LAST.lower()}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})

    login_as(w["people"]["admin"])
    page = client.get(card).get_data(as_text=True)
    assert "Erase personal data</button>" in page and "Manager's changes" not in page
    confirm = page.split('data-confirm="', 1)[1].split('"', 1)[0]
    assert "cannot be undone" in confirm and f"ERASED-{w['target_id']}" in confirm
    assert "Removed: name, phone, e-mail, notes" in confirm and "Kept, without personal data: visits" in confirm
    assert "bonus" in confirm and 'src="/static/confirm.js"' in page

    resp = client.post(f"{card}/erase", data={"reason": "  ", "csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert "Nothing was erased" in client.get(resp.headers["Location"]).get_data(as_text=True)
    resp = client.post(f"{card}/erase", data={"reason": "Client's e-mail of 30 June", "csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/clients/ERASED-{w['target_id']}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Personal data erased</strong>" in page and "by Ada Admin (AD1)" in page
    assert "Reason: Client&#39;s e-mail of 30 June" in page and "Erase personal data</button>" not in page
    assert FIRST not in page and EMAIL not in page
    assert f"/clients/ERASED-{w['target_id']}#privacy" in client.get(f"/privacy?q={w['ref']}").get_data(as_text=True)


def test_pages_refuse_agents_and_payroll(client, world, login_as):
    w = world
    for who in ("A01", "payroll"):
        login_as(w["people"][who])
        page = client.get("/account").get_data(as_text=True)
        for url in (f"/clients/{w['ref']}", f"/clients/{w['ref']}/export", "/privacy?q=x"):
            assert client.get(url).status_code == 403, (who, url)
        assert client.post(f"/clients/{w['ref']}/erase",
                           data={"reason": "x", "csrf_token": csrf_from(page)}).status_code == 403
        client.post("/logout", data={"csrf_token": csrf_from(page)})


# ------------------------------------------------------------------ CLI

def test_cli_export_and_erase(runner, world, tmp_path):
    w = world
    admin_id = w["people"]["admin"].id
    out = tmp_path / "export.json"
    res = runner.invoke(args=["client", "export", w["ref"], "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8"))["client"]["phone"] == PHONE
    assert "visits=3" in res.output and "conversions=1" in res.output

    res = runner.invoke(args=["client", "erase", w["ref"], "--reason", "written request", "--by", "AD1"])
    assert res.exit_code == 0, res.output
    assert f"erased: now ERASED-{w['target_id']}" in res.output and "kept: visits=3" in res.output
    res = runner.invoke(args=["client", "erase", w["ref"], "--reason", "again"])
    assert res.exit_code != 0 and "already erased" in res.output
    res = runner.invoke(args=["client", "erase", "NOPE", "--reason", "x"])
    assert res.exit_code != 0 and "no client" in res.output
    db.session.remove()
    erasure = db.session.get(ClientErasure, w["target_id"])
    assert (erasure.via, erasure.erased_by) == ("cli", admin_id)
    entries = db.session.scalars(select(AuditLog.details).where(AuditLog.action == "client.export")).all()
    assert entries == [{"via": "cli"}]


# ------------------------------------------------------------------ two erasures at once

def test_two_erasures_at_once_erase_once(app, world):
    """Two admins press "Erase" together, each on their own connection: one
    erases, the other is told it is already erased (SQLite and PostgreSQL)."""
    w = world
    ref, admin_id = w["ref"], w["people"]["admin"].id
    db.session.remove()
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def admin(n: int):
        with app.app_context():
            try:
                target = privacy.find_client(ref)
                start.wait(timeout=30)
                privacy.erase_client(target, admin_id, f"request {n}", via="web")
                db.session.commit()
                outcome = "erased"
            except Conflict:
                db.session.rollback()
                outcome = "conflict"
            except BaseException as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                outcome = f"{type(exc).__name__}: {exc}"
            finally:
                db.session.remove()
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=admin, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == ["conflict", "conflict", "conflict", "erased"], results
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "client.erase")) == 1

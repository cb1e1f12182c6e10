"""The outbox's manager pages (with CSRF), the letter exports and the SMS
gateway's inbound callback (opt-out keywords)."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import select

from campaign.core import clock
from campaign.core.models import AuditLog
from campaign.extensions import db
from campaign.outbox import services
from campaign.outbox.models import Message
from tests.conftest import csrf_from
from tests.test_outbox_fixtures import T0, contacts_of, make_item, outbox_settings  # noqa: F401

SECRET = {"X-Winback-Secret": "s3cret"}


def _all(client_id):
    return db.session.scalars(select(Message).where(Message.client_id == client_id).order_by(Message.id)).all()


# ------------------------------------------------------------------ inbound SMS

def test_inbound_stop_in_several_languages(client, ctx, pin_clock, make_client, make_item):
    pin_clock(T0)
    words = {"+48501000010": "STOP", "+48501000011": "Стоп", "+48501000012": "退订",
             "+48501000013": "配信停止", "+48501000014": "Rezygnuję"}
    people = {}
    for phone in words:
        c = make_client(phone=phone, consent_sms=True, consent_email=True, email=f"{phone[1:]}@example.test")
        item, camp = make_item(c)
        services.after_no_answer(item, camp, c, clock.now())
        services.after_attempts_exhausted(item, camp, c, clock.now())
        people[phone] = c.id
    db.session.commit()
    for phone, word in words.items():
        resp = client.post("/api/v1/sms/inbound", json={"from": phone.replace("+", ""), "text": word}, headers=SECRET)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json() == {"opt_out": True, "clients": 1, "cancelled": 1}
    db.session.rollback()
    from campaign.clients.models import Client
    for phone, cid in people.items():
        c = db.session.get(Client, cid)
        assert c.consent_sms is False and c.consent_email is True
        by_channel = {(m.channel, m.status) for m in _all(cid)}
        assert by_channel == {("sms", "cancelled"), ("email", "scheduled")}
    audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "client.sms_opt_out")).all()
    assert len(audits) == 5


def test_inbound_other_text_is_ignored_and_secret_is_required(client, ctx, make_client):
    c = make_client(phone="+48501000020", consent_sms=True)
    resp = client.post("/api/v1/sms/inbound", json={"from": "+48501000020", "text": "See you Friday!"}, headers=SECRET)
    assert resp.status_code == 200 and resp.get_json()["opt_out"] is False
    assert client.post("/api/v1/sms/inbound", json={"from": "+48501000020", "text": "STOP"}).status_code == 401
    assert client.post("/api/v1/sms/inbound", json={"from": "+48501000020", "text": "STOP"},
                       headers={"X-Winback-Secret": "wrong"}).status_code == 401
    assert client.post("/api/v1/sms/inbound", json={"text": "STOP"}, headers=SECRET).status_code == 422
    db.session.rollback()
    db.session.refresh(c)
    assert c.consent_sms is True


# ------------------------------------------------------------------ pages

def _manager(make_staff, login_as):
    return login_as(make_staff(roles=("manager",)))


def test_outbox_page_lists_filters_and_counts(client, ctx, pin_clock, make_staff, login_as, make_client, make_item):
    pin_clock(T0)
    http = _manager(make_staff, login_as)
    empty = http.get("/outbox").get_data(as_text=True)
    assert "The outbox is empty" in empty
    a = make_client(consent_sms=True, first_name="Zofia")
    b = make_client(consent_email=True, email="b@example.test", first_name="Boris")
    services.after_no_answer(*make_item(a), a, clock.now())
    services.after_attempts_exhausted(*make_item(b), b, clock.now())
    db.session.commit()
    page = http.get("/outbox").get_data(as_text=True)
    assert "Zofia" in page and "Boris" in page and "no_answer_sms" in page and "letter_3" in page
    sms_only = http.get("/outbox?channel=sms").get_data(as_text=True)
    assert "Zofia" in sms_only and "Boris" not in sms_only
    none = http.get("/outbox?status=failed").get_data(as_text=True)
    assert "No message matches these filters" in none


def test_outbox_pages_paginate(client, ctx, pin_clock, make_staff, login_as, make_client, make_item):
    pin_clock(T0)
    http = _manager(make_staff, login_as)
    for _ in range(18):  # 54 letters: two pages
        c = make_client(consent_email=True, email="p@example.test")
        services.after_attempts_exhausted(*make_item(c), c, clock.now())
    db.session.commit()
    first = http.get("/outbox?channel=email").get_data(as_text=True)
    assert "Page 1 of 2" in first and "channel=email" in first
    assert "Page 2 of 2" in http.get("/outbox?channel=email&page=2").get_data(as_text=True)


def test_message_detail_and_cancel_with_csrf(client, ctx, pin_clock, make_staff, login_as, make_client, make_item):
    pin_clock(T0)
    http = _manager(make_staff, login_as)
    c = make_client(consent_sms=True, first_name="Pia")
    msg = services.after_no_answer(*make_item(c), c, clock.now())
    db.session.commit()
    page = http.get(f"/outbox/{msg.id}").get_data(as_text=True)
    assert "Pia" in page and "Cancel this message" in page and "data-confirm" in page
    assert http.post(f"/outbox/{msg.id}/cancel").status_code == 400  # no CSRF token
    resp = http.post(f"/outbox/{msg.id}/cancel", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    db.session.rollback()
    db.session.refresh(msg)
    assert (msg.status, msg.cancel_reason) == ("cancelled", "manager")
    again = http.post(f"/outbox/{msg.id}/cancel", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "only a scheduled message can be cancelled" in again.get_data(as_text=True)
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "message.cancel")).one()
    assert http.get("/outbox/999999").status_code == 404


def test_agents_may_not_see_the_outbox(client, ctx, make_staff, login_as):
    http = login_as(make_staff(roles=("agent",)))
    assert http.get("/outbox").status_code == 403
    assert http.get("/outbox/letters").status_code == 403


# ------------------------------------------------------------------ letters

def test_letters_ready_export_csv_and_printable(client, ctx, pin_clock, make_staff, login_as, make_client, make_item,
                                                make_visit, make_store):
    pin_clock(T0)
    http = _manager(make_staff, login_as)
    assert "No letters are ready to print" in http.get("/outbox/letters").get_data(as_text=True)
    store = make_store(timezone="Europe/Moscow", name="Салон Мира")
    ivan = make_client(store=store, language="ru", first_name="Иван", consent_post=True, ref="R-IVAN")
    came_back = make_client(consent_post=True, first_name="Gone")
    eve = make_client(consent_post=True, first_name="=cmd()", ref="R-EVE")
    for c in (ivan, came_back, eve):
        services.after_attempts_exhausted(*make_item(c), c, clock.now())
    db.session.commit()
    make_visit(came_back, "2026-05-01")  # 10:00 UTC, after the letters were planned
    pin_clock("2026-05-02T09:00:00+00:00")
    page = http.get("/outbox/letters").get_data(as_text=True)
    assert "Letters ready to print (3)" in page and "Иван" in page
    assert http.post("/outbox/letters/export").status_code == 400  # no CSRF token
    resp = http.post("/outbox/letters/export", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and "/outbox/letters/batches/" in resp.headers["Location"]
    batch_url = resp.headers["Location"]
    batch_page = http.get(batch_url).get_data(as_text=True)
    assert "2 letter(s)" in batch_page

    csv_resp = http.get(batch_url + "/letters.csv")
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(csv_resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(r["client_ref"] for r in rows) == ["R-EVE", "R-IVAN"]
    ivan_row = next(r for r in rows if r["client_ref"] == "R-IVAN")
    assert ivan_row["language"] == "ru" and ivan_row["store_name"] == "Салон Мира"
    assert ivan_row["kind"] == "letter_1" and ivan_row["offer_valid_until"] == "2026-05-08"
    assert "Иван" in ivan_row["body"] and "08.05.2026" in ivan_row["body"]
    assert next(r for r in rows if r["client_ref"] == "R-EVE")["first_name"] == "'=cmd()"

    printable = http.get(batch_url + "/print").get_data(as_text=True)
    assert printable.count('<article class="letter"') == 2 and "page-break-after: always" in printable
    assert 'lang="ru"' in printable and "Иван" in printable

    db.session.rollback()
    assert [m.status for m in _all(ivan.id)] == ["sent", "scheduled", "scheduled"]
    assert [x.channel for x in contacts_of(ivan.id)] == ["letter"]
    assert [(m.status, m.cancel_reason) for m in _all(came_back.id)] == [
        ("cancelled", "visited"), ("scheduled", None), ("scheduled", None)]
    assert contacts_of(came_back.id) == []
    # Nothing left to export; the batch stays downloadable.
    page = http.get("/outbox/letters").get_data(as_text=True)
    assert "No letters are ready to print" in page and "Earlier exports" in page
    again = http.post("/outbox/letters/export", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "No letters are ready to print" in again.get_data(as_text=True)
    assert http.get("/outbox/letters/batches/nope/letters.csv").status_code == 404


def test_letter_two_is_ready_a_week_later(client, ctx, pin_clock, make_staff, login_as, make_client, make_item):
    pin_clock(T0)
    http = _manager(make_staff, login_as)
    c = make_client(consent_post=True)
    services.after_attempts_exhausted(*make_item(c), c, clock.now())
    db.session.commit()
    pin_clock("2026-05-08T09:00:00+00:00")
    assert "Letters ready to print (2)" in http.get("/outbox/letters").get_data(as_text=True)
    assert datetime(2026, 5, 15, 9) == _all(c.id)[2].due_at

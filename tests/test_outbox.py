"""Planning follow-ups (the after_* interface) and sending them over real
channels: SMTP to a local aiosmtpd server, SMS to a local HTTP gateway."""
from __future__ import annotations

import os
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from campaign.core import clock
from campaign.extensions import db
from campaign.outbox import dispatch, services
from campaign.outbox.models import Message
from tests.test_outbox_fixtures import (T0, add_contacts, contacts_of, make_item,  # noqa: F401
                                        outbox_settings, smtp_server, sms_gateway)


def _messages(client_id=None):
    q = select(Message).order_by(Message.due_at, Message.id)
    if client_id:
        q = q.where(Message.client_id == client_id)
    return db.session.scalars(q).all()


# ------------------------------------------------------------------ planning

def test_no_answer_sms_is_planned_once_per_item(ctx, pin_clock, make_client, make_item):
    pin_clock(T0)
    c = make_client(first_name="Anna", consent_sms=True, language="pl")
    item, camp = make_item(c)
    msg = services.after_no_answer(item, camp, c, clock.now())
    db.session.commit()
    assert msg.channel == "sms" and msg.kind == "no_answer_sms" and msg.status == "scheduled"
    assert msg.due_at == datetime(2026, 5, 1, 9, 0) and msg.recipient == c.phone
    assert "Anna" in msg.body and c.store.name in msg.body and msg.language == "pl"
    assert "darmowa karta próbna" in msg.body  # the campaign's offer, in Polish
    assert services.after_no_answer(item, camp, c, clock.now()) is None
    db.session.commit()
    assert len(_messages(c.id)) == 1


def test_no_answer_sms_needs_consent_phone_and_room_under_the_cap(ctx, app, pin_clock, make_client, make_item):
    pin_clock(T0)
    now = clock.now()
    cases = [make_client(consent_sms=False), make_client(consent_sms=True, callable_=False),
             make_client(consent_sms=True, do_not_contact=True), make_client(consent_sms=True, moved_away=True)]
    capped = make_client(consent_sms=True)
    add_contacts(capped, 17)
    for c in cases + [capped]:
        item, camp = make_item(c)
        assert services.after_no_answer(item, camp, c, now) is None
    ok = make_client(consent_sms=True)
    add_contacts(ok, 16)
    item, camp = make_item(ok)
    assert services.after_no_answer(item, camp, ok, now) is not None


def test_three_letter_sequence_by_email(ctx, pin_clock, make_client, make_item, make_store):
    pin_clock(T0)
    store = make_store(timezone="Asia/Tokyo", name="Ginza Spa")
    c = make_client(store=store, language="ja", first_name="Yuki", last_name="Tanaka", consent_email=True,
                    consent_post=True,
                    email="yuki@example.test")
    item, camp = make_item(c)
    made = services.after_attempts_exhausted(item, camp, c, clock.now())
    db.session.commit()
    assert [m.kind for m in made] == ["letter_1", "letter_2", "letter_3"]
    assert {m.channel for m in made} == {"email"}
    assert [m.due_at for m in made] == [datetime(2026, 5, 1, 9), datetime(2026, 5, 8, 9), datetime(2026, 5, 15, 9)]
    assert [m.offer_valid_until for m in made] == [date(2026, 5, 8), date(2026, 5, 15), date(2026, 5, 22)]
    assert made[0].body.startswith("Tanaka様") and "2026年5月8日" in made[0].body and "Ginza Spa" in made[0].subject
    assert services.after_attempts_exhausted(item, camp, c, clock.now()) == []
    db.session.commit()
    assert len(_messages(c.id)) == 3


def test_letters_go_by_post_without_email_and_not_at_all_without_consent(ctx, pin_clock, make_client, make_item):
    pin_clock(T0)
    post = make_client(consent_post=True, consent_email=True, email=None)
    item, camp = make_item(post)
    assert {m.channel for m in services.after_attempts_exhausted(item, camp, post, clock.now())} == {"letter"}
    nobody = make_client(consent_email=False, consent_post=False, email="x@example.test")
    item, camp = make_item(nobody)
    assert services.after_attempts_exhausted(item, camp, nobody, clock.now()) == []


def test_language_falls_back_to_english(ctx, pin_clock, make_client, make_item):
    pin_clock(T0)
    de = make_client(language="de", consent_sms=True)
    zh = make_client(language="zh-Hans", consent_sms=True)
    m1 = services.after_no_answer(*make_item(de), de, clock.now())
    m2 = services.after_no_answer(*make_item(zh), zh, clock.now())
    assert m1.language == "en" and "we tried to call you" in m1.body
    assert m2.language == "zh" and "退订" in m2.body


def test_booking_reminder_two_days_before_in_store_time(ctx, pin_clock, make_client, make_item, make_store):
    pin_clock(T0)
    store = make_store(timezone="Europe/Warsaw")
    c = make_client(store=store, consent_sms=True, language="en")
    item, camp = make_item(c)
    booked = datetime(2026, 5, 10, 13, 30, tzinfo=timezone.utc)  # 15:30 in Warsaw (CEST)
    msg = services.after_booking(item, camp, c, booked, "pedicure", clock.now())
    db.session.commit()
    assert msg.due_at == datetime(2026, 5, 8, 13, 30)
    assert "10 May 2026" in msg.body and "15:30" in msg.body and "pedicure" in msg.body
    assert services.after_booking(item, camp, c, booked, "pedicure", clock.now()) is None
    # Rebooked: the old reminder is cancelled and a new one planned.
    moved = services.after_booking(item, camp, c, booked + timedelta(days=3), "pedicure", clock.now())
    db.session.commit()
    db.session.refresh(msg)
    assert msg.status == "cancelled" and msg.cancel_reason == "rebooked" and moved.status == "scheduled"
    # Too late for a reminder: booked for tomorrow.
    other = make_client(store=store, consent_sms=True)
    item2, camp2 = make_item(other)
    assert services.after_booking(item2, camp2, other, datetime(2026, 5, 2, 10, tzinfo=timezone.utc), None,
                                  clock.now()) is None


def test_cancel_pending_by_client_and_campaign(ctx, pin_clock, make_client, make_item):
    pin_clock(T0)
    c = make_client(consent_sms=True, consent_email=True, email="c@example.test")
    item1, camp1 = make_item(c)
    services.after_attempts_exhausted(item1, camp1, c, clock.now())
    item2, camp2 = make_item(make_client(), None)
    item2b, _ = make_item(c, camp2)
    services.after_no_answer(item2b, camp2, c, clock.now())
    db.session.commit()
    assert services.cancel_pending(c.id, "moved_away", clock.now(), campaign_id=camp2.id) == 1
    assert services.cancel_pending(c.id, "do_not_contact", clock.now()) == 3
    assert services.cancel_pending(c.id, "do_not_contact", clock.now()) == 0
    db.session.commit()
    assert {(m.status, m.cancel_reason) for m in _messages(c.id)} == {("cancelled", "moved_away"),
                                                                       ("cancelled", "do_not_contact")}


# ------------------------------------------------------------------ sending

def test_sms_goes_to_the_http_gateway_and_writes_a_contact(ctx, pin_clock, make_client, make_item, sms_gateway):
    pin_clock(T0)
    c = make_client(consent_sms=True, first_name="Olga", language="ru", phone="+48501000001")
    item, camp = make_item(c)
    msg = services.after_no_answer(item, camp, c, clock.now())
    db.session.commit()
    counts = dispatch.dispatch_due(clock.now())
    assert counts["sent"] == 1
    assert sms_gateway.posts == [{"to": "+48501000001", "text": msg.body, "reference": str(msg.id)}]
    assert "Olga" in sms_gateway.posts[0]["text"] and "СТОП" in sms_gateway.posts[0]["text"]
    assert sms_gateway.headers[0]["Authorization"] == "Bearer gw-token"
    db.session.refresh(msg)
    assert msg.status == "sent" and msg.sent_at == datetime(2026, 5, 1, 9) and msg.attempts == 1
    [contact] = contacts_of(c.id)
    assert (contact.channel, contact.campaign_id, contact.id) == ("sms", camp.id, msg.contact_id)
    assert dispatch.dispatch_due(clock.now())["sent"] == 0 and len(sms_gateway.posts) == 1


def test_email_goes_over_smtp(ctx, pin_clock, make_client, make_item, smtp_server):
    pin_clock(T0)
    c = make_client(consent_email=True, email="mei@example.test", language="zh", first_name="美")
    item, camp = make_item(c)
    first, *_ = services.after_attempts_exhausted(item, camp, c, clock.now())
    db.session.commit()
    assert dispatch.dispatch_due(clock.now())["sent"] == 1  # letters 2 and 3 are not due yet
    [got] = smtp_server.messages
    assert got["to"] == ["mei@example.test"] and got["from"] == "shop@winback.test"
    mail = got["mail"]
    assert mail["Subject"] == first.subject and mail["X-Winback-Message"] == str(first.id)
    assert "美您好" in mail.get_content() and "2026年5月8日" in mail.get_content()
    assert [x.channel for x in contacts_of(c.id)] == ["email"]
    pin_clock("2026-05-08T09:00:00+00:00")
    assert dispatch.dispatch_due(clock.now())["sent"] == 1
    assert len(smtp_server.messages) == 2


def test_gateway_error_is_retried_with_backoff_then_failed(ctx, app, pin_clock, make_client, make_item, sms_gateway):
    pin_clock(T0)
    sms_gateway.statuses = [503, 500, 502]
    c = make_client(consent_sms=True)
    msg = services.after_no_answer(*make_item(c), c, clock.now())
    db.session.commit()
    assert dispatch.dispatch_due(clock.now())["retry"] == 1
    db.session.refresh(msg)
    assert (msg.status, msg.attempts) == ("scheduled", 1) and "503" in msg.last_error
    assert msg.due_at == datetime(2026, 5, 1, 9, 1)  # 60 s later
    assert dispatch.dispatch_due(clock.now())["retry"] == 0  # not due yet
    pin_clock("2026-05-01T09:01:00+00:00")
    assert dispatch.dispatch_due(clock.now())["retry"] == 1
    db.session.refresh(msg)
    assert msg.due_at == datetime(2026, 5, 1, 9, 5)  # then 4 minutes
    pin_clock("2026-05-01T09:05:00+00:00")
    assert dispatch.dispatch_due(clock.now())["failed"] == 1
    db.session.refresh(msg)
    assert (msg.status, msg.attempts) == ("failed", 3) and "502" in msg.last_error
    assert len(sms_gateway.posts) == 3 and contacts_of(c.id) == []


def test_unreachable_smtp_records_the_error(ctx, app, pin_clock, make_client, make_item):
    pin_clock(T0)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1, SMTP_TIMEOUT=2)
    c = make_client(consent_email=True, email="a@example.test")
    services.after_attempts_exhausted(*make_item(c), c, clock.now())
    db.session.commit()
    assert dispatch.dispatch_due(clock.now())["retry"] == 1
    [msg] = [m for m in _messages(c.id) if m.last_error]
    assert msg.last_error.startswith("SMTP:")


def test_stop_rules_at_send_time(ctx, app, pin_clock, make_client, make_item, make_visit, sms_gateway, smtp_server):
    pin_clock(T0)
    visited = make_client(consent_email=True, email="v@example.test")
    services.after_attempts_exhausted(*make_item(visited), visited, clock.now())
    withdrawn = make_client(consent_sms=True)
    services.after_no_answer(*make_item(withdrawn), withdrawn, clock.now())
    capped = make_client(consent_sms=True)
    services.after_no_answer(*make_item(capped), capped, clock.now())
    dnc = make_client(consent_sms=True)
    services.after_no_answer(*make_item(dnc), dnc, clock.now())
    db.session.commit()
    withdrawn.consent_sms = False
    dnc.do_not_contact = True
    db.session.commit()
    add_contacts(capped, 17)
    assert dispatch.dispatch_due(clock.now()) == {"sent": 1, "cancelled": 3, "retry": 0, "failed": 0, "skipped": 0}
    assert sms_gateway.posts == [] and len(smtp_server.messages) == 1  # visited's letter 1
    reasons = {m.client_id: m.cancel_reason for m in _messages() if m.status == "cancelled"}
    assert reasons == {withdrawn.id: "no_consent", capped.id: "contact_cap", dnc.id: "do_not_contact"}
    make_visit(visited, "2026-05-04")  # came back: letters 2 and 3 stop
    pin_clock("2026-05-15T09:00:00+00:00")
    assert dispatch.dispatch_due(clock.now())["cancelled"] == 2
    assert {m.cancel_reason for m in _messages(visited.id) if m.status == "cancelled"} == {"visited"}
    assert len(smtp_server.messages) == 1


def test_two_dispatchers_send_each_message_once(app, ctx, pin_clock, make_client, make_item, sms_gateway):
    pin_clock(T0)
    sms_gateway.delay = 0.01
    clients = [make_client(consent_sms=True, phone=f"+4850100{i:04d}") for i in range(24)]
    for c in clients:
        services.after_no_answer(*make_item(c), c, clock.now())
    db.session.commit()
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            with app.app_context():
                barrier.wait()
                results.append(dispatch.dispatch_due(clock.now(), limit=5))
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r["sent"] for r in results) == 24 and all(r["sent"] for r in results)
    assert sorted(p["to"] for p in sms_gateway.posts) == sorted(c.phone for c in clients)
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).where(Message.status == "sent")) == 24
    assert sum(len(contacts_of(c.id, "sms")) for c in clients) == 24


_OWN_WORKER = pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")),
    reason="the SMS gateway of this test listens in the test process and is set in its config; a separate "
           "worker process (REDIS_URL) has its own settings. The same test runs with the embedded queue "
           "(the README's test command, CI's first half), where the job runs the very same RQ path.")


@_OWN_WORKER
def test_a_due_message_is_sent_by_a_job_after_commit(app, ctx, pin_clock, make_client, make_item, sms_gateway,
                                                      wait_for_job):
    from campaign.core.models import Job
    pin_clock(T0)
    app.config["OUTBOX_KICK"] = True
    c = make_client(consent_sms=True)
    services.after_no_answer(*make_item(c), c, clock.now())
    db.session.commit()
    [job] = db.session.scalars(select(Job).where(Job.kind == "outbox_dispatch")).all()
    done = wait_for_job(job.id)
    assert done.status == "finished" and done.result["sent"] == 1
    assert len(sms_gateway.posts) == 1


@_OWN_WORKER
def test_ticker_starts_a_job_only_when_something_is_due(app, ctx, pin_clock, make_client, make_item, sms_gateway,
                                                         wait_for_job):
    from campaign.outbox import ticker
    pin_clock(T0)
    assert ticker.tick() is None
    c = make_client(consent_email=True, consent_sms=True, email="t@example.test")
    services.after_booking(*make_item(c), c, datetime(2026, 5, 20, 12, tzinfo=timezone.utc), "nails", clock.now())
    db.session.commit()
    assert ticker.tick() is None  # the reminder is due on 18 May
    pin_clock("2026-05-18T12:00:00+00:00")
    job_id = ticker.tick()
    assert job_id and wait_for_job(job_id).result["sent"] == 1
    assert sms_gateway.posts[0]["to"] == c.phone


def test_cli_send_due(app, ctx, runner, pin_clock, make_client, make_item, sms_gateway):
    pin_clock(T0)
    c = make_client(consent_sms=True)
    services.after_no_answer(*make_item(c), c, clock.now())
    db.session.commit()
    result = runner.invoke(args=["outbox", "send-due"])
    assert result.exit_code == 0, result.output
    assert "sent=1" in result.output and len(sms_gateway.posts) == 1


def test_a_claim_takes_at_most_its_limit(ctx, pin_clock, make_client, make_item):
    pin_clock(T0)
    for i in range(12):
        c = make_client(consent_sms=True)
        services.after_no_answer(*make_item(c), c, clock.now())
    db.session.commit()
    first = dispatch.claim(clock.now(), 5)
    second = dispatch.claim(clock.now(), 5)
    assert len(first) == 5 and len(second) == 5 and not set(first) & set(second)
    assert db.session.scalar(select(db.func.count()).where(Message.status == "sending")) == 10

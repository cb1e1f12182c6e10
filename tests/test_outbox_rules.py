"""The outbox's pure rules and texts, table-driven, without an app."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from campaign.core.dates import format_date
from campaign.outbox import rules, texts

FACTS = dict(do_not_contact=False, moved_away=False, consent_sms=True, consent_email=True, consent_post=True,
             phone="+48501234567", phone_callable=True, email="a@example.test")


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop. ", "STOP please", "Unsubscribe", "СТОП", "стоп!",
                                  "Отписаться", "退订", "停止", "配信停止", "ストップ", "NIE", "Rezygnuję",
                                  "rezygnuje", "ＳＴＯＰ", "TD"])
def test_stop_keywords(text):
    assert rules.is_stop(text)


@pytest.mark.parametrize("text", ["", None, "Thanks, see you Friday", "Stopped by yesterday", "NIEDZIELA?",
                                  "はい", "好的", "Да"])
def test_not_stop(text):
    assert not rules.is_stop(text)


@pytest.mark.parametrize("code,expected", [("en", "en"), ("pl", "pl"), ("ru-RU", "ru"), ("zh-Hans", "zh"),
                                           ("ja_JP", "ja"), ("de", "en"), (None, "en"), ("", "en")])
def test_language_for(code, expected):
    assert rules.language_for(code) == expected


@pytest.mark.parametrize("channel,change,contacts,expected", [
    ("sms", {}, 0, None),
    ("sms", {"consent_sms": False}, 0, "no_consent"),
    ("sms", {"phone_callable": False}, 0, "no_address"),
    ("email", {"email": None}, 0, "no_address"),
    ("email", {"consent_email": False}, 0, "no_consent"),
    ("letter", {"consent_post": False}, 0, "no_consent"),
    ("letter", {"email": None, "phone": None}, 0, None),
    ("sms", {"do_not_contact": True}, 0, "do_not_contact"),
    ("email", {"moved_away": True}, 0, "moved_away"),
    ("sms", {}, 16, None),
    ("sms", {}, 17, "contact_cap"),
])
def test_block_reason(channel, change, contacts, expected):
    facts = rules.ClientFacts(**{**FACTS, **change})
    assert rules.block_reason(channel, facts, contacts, 17) == expected


@pytest.mark.parametrize("change,expected", [({}, "email"), ({"email": None}, "letter"),
                                             ({"consent_email": False}, "letter"),
                                             ({"consent_email": False, "consent_post": False}, None)])
def test_letter_channel(change, expected):
    assert rules.letter_channel(rules.ClientFacts(**{**FACTS, **change})) == expected


def test_backoff_grows_and_is_capped():
    assert [rules.backoff(n, 60) for n in (1, 2, 3)] == [timedelta(minutes=1), timedelta(minutes=4),
                                                          timedelta(minutes=16)]
    assert rules.backoff(20, 60) == timedelta(days=1)


def test_phone_key():
    assert rules.phone_key("48 501 234 567") == "+48501234567"
    assert rules.phone_key("+48 (501) 234-567") == "+48501234567"
    assert rules.phone_key("0048501234567") == "+48501234567"
    assert rules.phone_key("") is None


@pytest.mark.parametrize("kind", list(texts.TEXTS))
@pytest.mark.parametrize("language", rules.LANGUAGES)
def test_every_text_renders_fully(kind, language):
    used, subject, body = texts.render(kind, language, first_name="Ann", last_name="Lee", full_name="Ann Lee",
                                       store_name="Spa One", offer="OFFER", valid_until="VALID",
                                       booking_date="DAY", booking_time="12:00", service="manicure")
    assert used == language
    # Japanese texts address the family name, Chinese ones the whole name, the others the first name.
    addressed = {"ja": "Lee様", "zh": "Ann Lee"}.get(language, "Ann")
    assert addressed in body and "Spa One" in (subject or "") + body
    assert not re.search(r"[{}]", (subject or "") + body)
    assert (subject is None) == (kind in ("no_answer_sms", "booking_reminder"))
    if kind.startswith("letter"):
        assert "VALID" in body
    if kind == "booking_reminder":
        assert "DAY" in body and "12:00" in body


def test_sms_texts_are_short():
    for kind in ("no_answer_sms", "booking_reminder"):
        for language in rules.LANGUAGES:
            _, _, body = texts.render(kind, language, first_name="Katarzyna", store_name="Salon Piękności Nr 1",
                                      offer=texts.offer_text("free_trial", language), booking_date="10.05.2026",
                                      booking_time="15:30", service="manicure")
            assert len(body) <= 320, (kind, language, len(body))


def test_missing_language_falls_back_to_english():
    used, subject, body = texts.render("letter_1", "de", first_name="X", store_name="S", offer="O", valid_until="V")
    assert used == "en" and subject == "We miss you at S"


def test_dates_per_language():
    d = date(2026, 5, 8)
    assert [format_date(d, lg) for lg in ("en", "pl", "ru", "ja", "zh")] == [
        "8 May 2026", "08.05.2026", "08.05.2026", "2026年5月8日", "2026年5月8日"]

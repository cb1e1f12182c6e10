"""The pure parts of scripts: the shipped content, validation, translation
fallback and placeholder filling. No app, no database."""
from __future__ import annotations

import copy
import re
from datetime import date

import pytest

from campaign.campaigns.rules import OFFERS, SERVICE_FAILURE_REASONS
from campaign.scripts import content, rendering, rules

LEFTOVER = re.compile(r"\{[^{}]*\}|\x00")


def _render(language, ctx=None, base=None, translation=None):
    base = base or content.base()
    if translation is None and language != content.BASE_LANGUAGE:
        translation = content.translations().get(language)
    labels = content.offer_labels(language)
    values = rendering.placeholder_values(ctx or {}, language, neutral=content.neutral(language),
                                          offer_labels=labels)
    return rendering.render_content(base, translation, values, labels)


def _all_strings(rendered) -> list[str]:
    out = []
    for s in rendered["steps"]:
        out += [s["title"], s["text"]]
        if s["question"]:
            out += [s["question"]["text"], *(a["label"] for a in s["question"]["answers"])]
    for r in rendered["reasons"]:
        out += [r["label"], r["remedy"]]
    for o in rendered["objections"]:
        out += [o["question"], o["answer"]]
    return out


FULL_CTX = {"first_name": "Anna", "last_name": "Nowak", "full_name": "Anna Nowak", "agent_name": "Beata", "store_name": "Mokotów", "last_service": "massage",
            "last_visit_date": date(2026, 3, 12), "days_since": 74, "offer": "renewal_discount"}


@pytest.mark.parametrize("language", content.LANGUAGES)
@pytest.mark.parametrize("ctx", [FULL_CTX, {}], ids=["full", "empty"])
def test_default_script_renders_every_language_without_leftover_placeholders(language, ctx):
    rendered = _render(language, ctx)
    texts = _all_strings(rendered)
    assert all(t.strip() for t in texts[:2])
    for text in texts:
        assert not LEFTOVER.search(text), text
    # Every language has its own words, not the English ones.
    if language != "en":
        english = _all_strings(_render("en", ctx))
        same = [t for t, e in zip(texts, english) if t == e and t]
        assert same == [], same


@pytest.mark.parametrize("language", content.LANGUAGES)
def test_default_script_fills_the_client_in(language):
    first = _render(language, FULL_CTX)["steps"][0]["text"]
    # Japanese addresses the family name (Nowak様), Chinese the whole name, the others the first name.
    addressed = {"ja": "Nowak様", "zh": "Anna Nowak"}.get(language, "Anna")
    assert addressed in first and "Beata" in first
    news = next(s for s in _render(language, FULL_CTX)["steps"] if s["key"] == "news")["text"]
    assert content.offer_labels(language)["renewal_discount"] in news


def test_default_script_structure_follows_the_domain():
    base = content.base()
    keys = [s["key"] for s in base["steps"]]
    steps = {s["key"]: s for s in base["steps"]}
    for s in base["steps"]:
        assert s["next"] in ("", "end", *keys)
        for a in (s["question"] or {}).get("answers", []):
            assert a["next"] == "end" or a["next"] in keys
    greeting = {a["key"]: a["next"] for a in steps["greeting"]["question"]["answers"]}
    assert greeting == {"yes": "introduce", "no": "callback"}
    assert steps["callback"]["next"] == "end"
    reason = {a["key"]: a["next"] for a in steps["reason"]["question"]["answers"]}
    assert list(reason) == list(rules.REASON_CODES)
    for code, nxt in reason.items():
        assert nxt == ("apology" if code in SERVICE_FAILURE_REASONS else "news")
    assert [r["code"] for r in base["reasons"]] == list(rules.REASON_CODES)
    assert all(r["remedy"] and r["offer"] in OFFERS for r in base["reasons"])
    assert 4 <= len(base["objections"]) <= 6


@pytest.mark.parametrize("language", [lg for lg in content.LANGUAGES if lg != "en"])
def test_every_shipped_translation_is_complete(language):
    assert rules.untranslated(content.base(), content.translations()[language]) == 0


def test_rendered_steps_say_where_they_lead():
    steps = {s["key"]: s for s in _render("en")["steps"]}
    assert steps["introduce"]["next"] == "thanks"
    assert steps["apology"]["next"] == "booking"
    assert steps["close"]["next"] == "end"


# ------------------------------------------------------------------ filling

@pytest.mark.parametrize("text, values, expected", [
    ("Good afternoon, {first_name}!", {"first_name": ""}, "Good afternoon!"),
    ("Good afternoon, {first_name}!", {"first_name": "Emma"}, "Good afternoon, Emma!"),
    ("{first_name}, hello.", {}, "hello."),
    ("czy to Pani/Pan {first_name}?", {}, "czy to Pani/Pan?"),
    ("Hi {nope} there", {}, "Hi there"),
    ("<b>{first_name}</b>", {"first_name": "<i>"}, "<b><i></b>"),  # plain text: the template escapes
])
def test_fill(text, values, expected):
    assert rendering.fill(text, values) == expected


def test_placeholder_values_format_dates_and_offers_per_language():
    ja = rendering.placeholder_values({"last_visit_date": date(2026, 3, 12), "offer": "free_trial"}, "ja",
                                      neutral={}, offer_labels=content.offer_labels("ja"))
    assert ja["last_visit_date"] == "2026年3月12日"
    assert ja["offer"] == content.offer_labels("ja")["free_trial"]
    en = rendering.placeholder_values({"days_since": 0, "offer": "free text"}, "en", neutral={"first_name": "x"},
                                      offer_labels={})
    assert en["days_since"] == "0" and en["offer"] == "free text" and en["first_name"] == "x"


def test_match_language():
    assert rules.match_language("zh-CN", ["en", "zh"]) == "zh"
    assert rules.match_language("pl", ["en", "pl"]) == "pl"
    assert rules.match_language("de", ["en", "pl"]) is None
    assert rules.match_language(None, ["en"]) is None


# ------------------------------------------------------------------ validation

def _errors(fn, *args) -> dict:
    with pytest.raises(rules.ContentErrors) as exc:
        fn(*args)
    return exc.value.errors


def test_validate_base_accepts_the_default():
    assert rules.validate_base(content.base()) == content.base()


def test_bad_branch_is_reported_on_the_answer():
    base = content.base()
    base["steps"][0]["question"]["answers"][1]["next"] = "nowhere"
    base["steps"][1]["next"] = "missing"
    errors = _errors(rules.validate_base, base)
    assert errors == {"steps[0].question.answers[1].next": "leads to “nowhere”, which is not a step",
                      "steps[1].next": "leads to “missing”, which is not a step"}


def test_unknown_placeholder_and_stray_brace():
    base = content.base()
    base["steps"][0]["text"] = "Hello {firstname}"
    base["objections"][0]["answer"] = "It costs {price"
    errors = _errors(rules.validate_base, base)
    assert "unknown placeholder {firstname}" in errors["steps[0].text"]
    assert "{first_name}" in errors["steps[0].text"]
    assert "not part of a placeholder" in errors["objections[0].answer"]
    assert len(errors) == 2


def test_duplicate_keys():
    base = content.base()
    base["steps"][2]["key"] = "greeting"
    base["steps"][0]["question"]["answers"][1]["key"] = "yes"
    base["objections"][1]["key"] = base["objections"][0]["key"]
    errors = _errors(rules.validate_base, base)
    assert errors["steps[2].key"] == "“greeting” is already the key of step 1"
    assert errors["steps[0].question.answers[1].key"] == "“yes” is already the key of answer 1"
    assert "objections[1].key" in errors


@pytest.mark.parametrize("change, path, fragment", [
    (lambda b: b["steps"][0].update(title=""), "steps[0].title", "is required"),
    (lambda b: b["steps"][0].update(key="End"), "steps[0].key", "lower-case"),
    (lambda b: b["steps"][3].update(key="end"), "steps[3].key", "reserved"),
    (lambda b: b["steps"][0]["question"].update(answers=[]), "steps[0].question.answers", "at least one"),
    (lambda b: b["steps"][0]["question"]["answers"][0].update(next=""), "steps[0].question.answers[0].next",
     "is required"),
    (lambda b: b["reasons"].pop(), "reasons", "missing: other"),
    (lambda b: b["reasons"][0].update(offer="cheap"), "reasons[0].offer", "must be one of"),
    (lambda b: b["reasons"][0].update(code="bored"), "reasons[0].code", "must be one of"),
    (lambda b: b.update(steps=[]), "steps", "at least one"),
    (lambda b: b["steps"][0].update(text=7), "steps[0].text", "must be text"),
])
def test_validation_messages(change, path, fragment):
    base = content.base()
    change(base)
    errors = _errors(rules.validate_base, base)
    assert fragment in errors[path], errors


def test_not_an_object():
    assert _errors(rules.validate_base, []) == {"body": "must be an object with steps, reasons and objections"}


# ------------------------------------------------------------------ translations

def test_translation_keeps_base_order_and_falls_back_to_base_text():
    base = content.base()
    tr = rules.validate_translation(base, {"steps": [{"key": "thanks", "title": "Dziękujemy", "text": ""}]})
    assert [s["key"] for s in tr["steps"]] == [s["key"] for s in base["steps"]]
    rendered = _render("pl", translation=tr)
    thanks = next(s for s in rendered["steps"] if s["key"] == "thanks")
    assert thanks["title"] == "Dziękujemy"
    assert thanks["text"] == next(s for s in base["steps"] if s["key"] == "thanks")["text"]
    assert rules.untranslated(base, tr) > 0


def test_translation_errors():
    base = content.base()
    errors = _errors(rules.validate_translation, base, {
        "steps": [{"key": "ghost", "title": "x"},
                  {"key": "greeting", "text": "Hallo {vorname}",
                   "question": {"answers": [{"key": "maybe", "label": "Vielleicht"}]}}],
        "objections": [{"key": "unknown", "question": "?"}]})
    assert set(errors) == {"steps[0].key", "steps[1].text", "steps[1].question.answers[0].key", "objections[0].key"}


def test_translation_ignores_structure_it_cannot_change():
    base = content.base()
    tr = rules.validate_translation(base, {"steps": [{"key": "greeting", "title": "Hallo", "next": "end"}],
                                           "reasons": [{"code": "price", "label": "Preis", "offer": "free_redo"}]})
    merged = rules.merge(base, tr)
    assert merged["steps"][0]["next"] == base["steps"][0]["next"]
    assert merged["reasons"][6]["offer"] == base["reasons"][6]["offer"]
    assert merged["reasons"][6]["label"] == "Preis"


def test_merge_drops_keys_the_base_no_longer_has():
    base = content.base()
    tr = content.translations()["ja"]
    smaller = copy.deepcopy(base)
    smaller["steps"] = [s for s in smaller["steps"] if s["key"] != "thanks"]
    smaller["steps"][1]["next"] = ""
    merged = rules.merge(smaller, tr)
    assert "thanks" not in [s["key"] for s in merged["steps"]]


def test_answer_keys():
    keys = rules.answer_keys(content.base())
    assert keys["greeting"] == {"yes", "no"}
    assert keys["reason"] == set(rules.REASON_CODES)
    assert keys["follow_up"] == {"yes", "no"}
    assert "introduce" not in keys


def test_blank_content_is_valid_in_its_language():
    blank = content.blank("ja")
    assert rules.validate_base(blank)["reasons"][0]["label"] == "駐車・アクセスが不便"
    assert rules.validate_base(content.blank("de"))["steps"][0]["key"] == "greeting"

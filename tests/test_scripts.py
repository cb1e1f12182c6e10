"""Scripts with the database: the workspace's interface (render, reason_codes,
answer_keys), storing the shipped texts on first edit, translations, versions."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from campaign.campaigns import services as campaign_services
from campaign.campaigns.models import Script
from campaign.core.errors import Conflict, NotFound, ValidationError
from campaign.core.models import AuditLog
from campaign.extensions import db
from campaign.scripts import content, rules, services
from campaign.scripts.models import ScriptText

CTX = {"first_name": "Anna", "agent_name": "Beata", "store_name": "Mokotów", "last_service": "massage",
       "last_visit_date": date(2026, 3, 12), "days_since": 74, "offer": "free_trial"}


@pytest.fixture
def default(ctx):
    script = campaign_services.default_script()
    db.session.commit()
    return script


@pytest.fixture
def manager(make_staff):
    return make_staff("M1", roles=("manager",))


def _step(rendered, key):
    return next(s for s in rendered["steps"] if s["key"] == key)


def test_render_shape_for_the_workspace(default):
    out = services.render(None, "en", CTX)
    assert set(out) == {"script_id", "name", "language", "languages", "steps", "reasons", "objections"}
    assert out["script_id"] == default.id and out["name"] == default.name
    assert out["language"] == "en" and out["languages"] == ["en", "ja", "pl", "ru", "zh"]
    step = out["steps"][0]
    assert set(step) == {"key", "title", "text", "next", "question"}
    assert step["text"].startswith("Good afternoon, Anna! This is Beata from Mokotów.")
    assert set(step["question"]) == {"text", "answers"}
    assert set(step["question"]["answers"][0]) == {"key", "label", "next"}
    assert _step(out, "introduce")["question"] is None
    assert "12 March 2026" in _step(out, "introduce")["text"]
    assert [r["code"] for r in out["reasons"]] == services.reason_codes()
    assert set(out["reasons"][0]) == {"code", "label", "remedy", "offer", "offer_label"}
    assert set(out["objections"][0]) == {"key", "question", "answer"}


def test_render_without_any_script_row_uses_the_shipped_default(ctx):
    out = services.render(None, "ru", {})
    assert out["script_id"] is None and out["name"] == campaign_services.DEFAULT_SCRIPT_NAME
    assert out["language"] == "ru"
    assert not any("{" in s["text"] for s in out["steps"])


@pytest.mark.parametrize("asked, used", [("ja", "ja"), ("zh-CN", "zh"), ("de", "en"), (None, "en"), ("", "en")])
def test_client_language_else_base_language(default, asked, used):
    assert services.render(default.id, asked, CTX)["language"] == used


def test_unknown_script_is_not_found(ctx):
    with pytest.raises(NotFound):
        services.render(999, "en", {})
    with pytest.raises(NotFound):
        services.answer_keys(999, "en")


def test_answer_keys_for_the_outcome_endpoint(default):
    keys = services.answer_keys(default.id, "pl")
    assert keys["greeting"] == {"yes", "no"}
    assert keys["reason"] == set(rules.REASON_CODES)
    assert keys["booking"] == {"book", "think", "decline"}
    assert services.answer_keys(None, None) == keys


def test_first_edit_stores_every_shipped_language(default, manager):
    base = content.base()
    base["steps"][0]["title"] = "Hello"
    services.save_base(default, base, manager.id, version="0")
    db.session.commit()
    rows = {r.language: r for r in db.session.scalars(select(ScriptText))}
    assert set(rows) == set(content.LANGUAGES)
    assert rows["en"].is_base and rows["en"].content["steps"][0]["title"] == "Hello"
    assert rows["ja"].content == content.translations()["ja"]
    assert _step(services.render(default.id, "ja", CTX), "greeting")["title"] == "ご挨拶"
    assert services.render(default.id, "en", CTX)["steps"][0]["title"] == "Hello"
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "script.texts_saved")).one()
    assert audit.actor_id == manager.id and audit.details == {"language": "en", "base": True}


def test_stale_version_is_refused(default, manager):
    services.save_base(default, content.base(), manager.id, version="0")
    db.session.commit()
    with pytest.raises(Conflict):
        services.save_base(default, content.base(), manager.id, version="0")
    db.session.rollback()
    version = db.session.get(ScriptText, (default.id, "en")).version
    services.save_base(default, content.base(), manager.id, version=str(version))
    db.session.commit()
    assert db.session.get(ScriptText, (default.id, "en")).version == version + 1


def test_invalid_base_changes_nothing(default, manager):
    base = content.base()
    base["steps"][0]["question"]["answers"][0]["next"] = "nowhere"
    with pytest.raises(ValidationError) as exc:
        services.save_base(default, base, manager.id, name="")
    assert set(exc.value.details) == {"name", "steps[0].question.answers[0].next"}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ScriptText)) == 0


def test_translation_new_language_and_fallback(default, manager):
    services.save_translation(default, "de", {"steps": [{"key": "greeting", "title": "Begrüßung",
                                                         "text": "Guten Tag, {first_name}!"}]}, manager.id)
    db.session.commit()
    out = services.render(default.id, "de", CTX)
    assert out["language"] == "de" and "de" in out["languages"]
    assert out["steps"][0]["text"] == "Guten Tag, Anna!"
    assert _step(out, "thanks")["text"] == _step(services.render(default.id, "en", CTX), "thanks")["text"]
    with pytest.raises(ValidationError) as exc:
        services.save_translation(default, "en", {}, manager.id)
    assert "base language" in exc.value.details["language"]
    with pytest.raises(ValidationError):
        services.save_translation(default, "not a code", {}, manager.id)


def test_structure_change_keeps_translations_in_step(default, manager):
    base = content.base()
    base["steps"].insert(1, {"key": "allergy", "title": "Check allergies", "text": "Any allergies, {first_name}?",
                             "next": "", "question": None})
    services.save_base(default, base, manager.id)
    db.session.commit()
    ja = services.render(default.id, "ja", CTX)
    assert [s["key"] for s in ja["steps"]][:3] == ["greeting", "allergy", "introduce"]
    assert _step(ja, "allergy")["text"] == "Any allergies, Anna?"  # not translated yet: the base text
    assert _step(ja, "greeting")["title"] == "ご挨拶"


def test_create_copy_and_blank(default, manager):
    services.save_translation(default, "de", {"steps": [{"key": "greeting", "title": "Begrüßung"}]}, manager.id)
    copy = services.create_script("Spring", start_from=default.id, language=None, actor_id=manager.id)
    blank = services.create_script("Blank JA", start_from=None, language="ja", actor_id=manager.id)
    db.session.commit()
    assert services.render(copy.id, "de", CTX)["steps"][0]["title"] == "Begrüßung"
    assert services.texts_of(copy).languages == ["en", "de", "ja", "pl", "ru", "zh"]
    out = services.render(blank.id, "en", CTX)
    assert out["language"] == "ja" and out["languages"] == ["ja"]
    assert [s["key"] for s in out["steps"]] == ["greeting"]
    with pytest.raises(ValidationError) as exc:
        services.create_script("Spring", start_from=None, language="??", actor_id=manager.id)
    assert set(exc.value.details) == {"name", "language"}


def test_delete_translation(default, manager):
    services.delete_translation(default, "pl", manager.id)
    db.session.commit()
    assert services.render(default.id, "pl", CTX)["language"] == "en"
    with pytest.raises(NotFound):
        services.delete_translation(default, "pl", manager.id)
    with pytest.raises(ValidationError):
        services.delete_translation(default, "en", manager.id)


def test_script_list_counts_campaign_use(default, manager):
    other = services.create_script("Other", start_from=None, language="en", actor_id=manager.id)
    db.session.commit()
    rows = {r["script"].name: r for r in services.script_list()}
    assert rows[default.name]["stored"] is False and rows[default.name]["base_language"] == "en"
    assert rows["Other"]["languages"] == ["en"] and rows["Other"]["stored"] is True
    assert rows["Other"]["campaigns"] == [] and other.id


def test_client_context(make_client, make_visit, pin_clock, default):
    pin_clock("2026-06-01T09:00:00+00:00")
    client = make_client("C-1", first_name="Ola", language="pl")
    make_visit(client, "2026-03-19", service="manicure")
    ctx, language = services.client_context("C-1", "Beata")
    assert language == "pl"
    out = services.render(default.id, language, ctx)
    assert "Ola" in out["steps"][0]["text"]
    assert "19.03.2026 – manicure" in _step(out, "introduce")["text"]
    assert not re.search(r"\{\w+\}", str(out))
    with pytest.raises(NotFound):
        services.client_context("nobody", "Beata")


def test_default_script_row_is_not_duplicated(default):
    assert db.session.scalar(select(func.count()).select_from(Script)) == 1

"""The manager's script pages through the real pages: sign-in, CSRF, the
editor's buttons, errors on their fields, translations side by side."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from campaign.campaigns import services as campaign_services
from campaign.campaigns.models import Script
from campaign.extensions import db
from campaign.scripts import services
from campaign.scripts.models import ScriptText

from .conftest import csrf_from


class _Form(HTMLParser):
    """The fields a browser would send from the form with ``form_id``
    (checked boxes only, the selected option, no buttons)."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []
        self._textarea = self._select = None
        self._first_option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.fields.append([a["name"], a.get("value") or ""])
        elif tag == "textarea":
            self._textarea = [a["name"], ""]
            self.fields.append(self._textarea)
        elif tag == "select":
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = [self._select, a.get("value", "")]
                self.fields.append(self._first_option)
            if "selected" in a:
                self._first_option[1] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data


def form_fields(page: str, form_id: str = "script-form") -> dict:
    parser = _Form(form_id)
    parser.feed(page)
    return {k: html.unescape(v) if "&" in v else v for k, v in parser.fields}


def _text(body: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def world(ctx, make_staff, login_as):
    manager = make_staff("M1", roles=("manager",), name="Maria Manager")
    agent = make_staff("A1", roles=("agent",))
    default = campaign_services.default_script()
    db.session.commit()
    return {"manager": manager, "agent": agent, "default": default}


def _get(client, url, status=200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    return resp.get_data(as_text=True)


def _post(client, url, data, status=200) -> str:
    resp = client.post(url, data=data, follow_redirects=True)
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    return resp.get_data(as_text=True)


def test_only_managers(world, client, login_as):
    assert client.get("/scripts").status_code == 302  # to the sign-in page
    login_as(world["agent"])
    assert client.get("/scripts").status_code == 403
    assert client.get(f"/scripts/{world['default'].id}").status_code == 403


def test_list_shows_the_default_with_its_languages(world, login_as):
    client = login_as(world["manager"])
    page = _text(_get(client, "/scripts"))
    assert "Default win-back call default" in page
    assert "en, ja, pl, ru, zh" in page.replace(" ,", ",")


def test_editor_round_trip(world, login_as):
    client = login_as(world["manager"])
    url = f"/scripts/{world['default'].id}"
    page = _get(client, url)
    assert "Good afternoon, Emma! This is Maria Manager from City Centre Spa." in html.unescape(page)
    fields = form_fields(page)
    assert fields["s-0-key"] == "greeting" and fields["s-0-ask"] == "1" and fields["version"] == "0"
    fields.update({"s-2-title": "Say thank you", "name": "Win-back 2026", "action": "save"})
    page = _post(client, url, fields)
    assert "Script saved." in page and "Win-back 2026" in page
    rows = {r.language: r for r in db.session.scalars(select(ScriptText))}
    assert rows["en"].content["steps"][2]["title"] == "Say thank you" and len(rows) == 5
    assert db.session.get(Script, world["default"].id).name == "Win-back 2026"
    # The saved form carries the new version; the old one is now stale.
    assert form_fields(page)["version"] == str(rows["en"].version)


def test_errors_sit_on_their_fields_and_nothing_typed_is_lost(world, login_as):
    client = login_as(world["manager"])
    url = f"/scripts/{world['default'].id}"
    fields = form_fields(_get(client, url))
    fields.update({"s-0-text": "Hello {firstname}, typed with care", "s-1-key": "greeting",
                   "s-0-a-1-next": "nowhere", "s-4-title": "", "action": "save"})
    resp = client.post(url, data=fields)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'id="err-s-0-text"' in page and "unknown placeholder {firstname}" in page
    assert 'id="err-s-1-key"' in page and "already the key of step 1" in page
    assert 'id="err-s-0-a-1-next"' in page and "nowhere (no such step)" in page
    assert 'id="err-s-4-title"' in page
    assert 'href="#s-0-text"' in page  # the summary links to the field
    again = form_fields(page)
    assert again["s-0-text"] == "Hello {firstname}, typed with care"
    assert again["s-1-key"] == "greeting" and again["s-0-a-1-next"] == "nowhere"
    assert "The preview shows the saved texts" in page
    assert db.session.scalar(select(ScriptText.script_id).limit(1)) is None


def test_buttons_add_move_and_remove_without_saving(world, login_as):
    client = login_as(world["manager"])
    url = f"/scripts/{world['default'].id}"
    fields = form_fields(_get(client, url))
    n = int(fields["steps_count"])
    fields["s-0-text"] = "Typed before adding"
    page = _post(client, url, {**fields, "action": "add_step"})
    f = form_fields(page)
    assert int(f["steps_count"]) == n + 1 and f[f"s-{n}-key"] == "step_1"
    assert f["s-0-text"] == "Typed before adding"
    assert "Nothing is saved until you press Save" in page
    f.update({f"s-{n}-title": "Allergies", f"s-{n}-text": "Any allergies, {first_name}?"})
    f = form_fields(_post(client, url, {**f, "action": f"up:{n}"}))
    assert f[f"s-{n - 1}-key"] == "step_1" and f[f"s-{n}-key"] == "callback"
    f = form_fields(_post(client, url, {**f, "action": "add_answer:1"}))
    assert f["s-1-answers"] == "1" and f["s-1-ask"] == "1" and f["s-1-a-0-key"] == "answer_1"
    f = form_fields(_post(client, url, {**f, "action": "remove_answer:1:0"}))
    assert f["s-1-answers"] == "0"
    f.pop("s-1-ask")
    f = form_fields(_post(client, url, {**f, "action": "add_objection"}))
    k = int(f["objections_count"]) - 1
    f.update({f"o-{k}-question": "Is there parking?", f"o-{k}-answer": "Yes, behind the building."})
    f = form_fields(_post(client, url, {**f, "action": "remove_step:2"}))
    assert db.session.scalar(select(ScriptText.script_id).limit(1)) is None  # nothing saved yet
    page = _post(client, url, {**f, "action": "save"})
    assert "Script saved." in page
    out = services.render(world["default"].id, "en", {"first_name": "Ola"})
    keys = [s["key"] for s in out["steps"]]
    assert "thanks" not in keys and keys.index("step_1") == len(keys) - 2
    assert next(s for s in out["steps"] if s["key"] == "step_1")["text"] == "Any allergies, Ola?"
    assert out["objections"][-1]["question"] == "Is there parking?"


def test_removing_a_branch_target_is_an_error_until_fixed(world, login_as):
    client = login_as(world["manager"])
    url = f"/scripts/{world['default'].id}"
    f = form_fields(_get(client, url))
    callback = int(f["steps_count"]) - 1
    assert f[f"s-{callback}-key"] == "callback"
    f = form_fields(_post(client, url, {**f, "action": f"remove_step:{callback}"}))
    page = _post(client, url, {**f, "action": "save"}, status=422)
    assert "leads to “callback”, which is not a step" in html.unescape(page)
    f = form_fields(page)
    f["s-0-a-1-next"] = "end"
    assert "Script saved." in _post(client, url, {**f, "action": "save"})


def test_stale_form_answers_409_and_keeps_the_typing(world, login_as):
    client = login_as(world["manager"])
    url = f"/scripts/{world['default'].id}"
    first = form_fields(_get(client, url))
    _post(client, url, {**first, "s-0-title": "Mine", "action": "save"})
    resp = client.post(url, data={**first, "s-0-title": "Theirs", "action": "save"})
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "Someone else saved these texts" in page
    again = form_fields(page)
    assert again["s-0-title"] == "Theirs" and again["version"] != first["version"]
    _post(client, url, {**again, "action": "save"})  # saving again on purpose replaces theirs
    assert services.render(world["default"].id, "en", {})["steps"][0]["title"] == "Theirs"


def test_csrf_is_required(world, login_as):
    client = login_as(world["manager"])
    url = f"/scripts/{world['default'].id}"
    fields = form_fields(_get(client, url))
    fields.pop("csrf_token")
    assert client.post(url, data={**fields, "action": "save"}).status_code == 400
    assert db.session.scalar(select(ScriptText.script_id).limit(1)) is None


def test_translation_side_by_side(world, login_as):
    client = login_as(world["manager"])
    sid = world["default"].id
    url = f"/scripts/{sid}/translations/ja"
    page = _get(client, url)
    assert "Good afternoon, {first_name}!" in html.unescape(page)  # the base text on the left
    f = form_fields(page)
    assert f["s-0-title"] == "ご挨拶"
    f["s-0-title"] = "ごあいさつ"
    f["o-0-answer"] = "{price} です"
    resp = client.post(url, data=f)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'id="err-o-0-answer"' in page and form_fields(page)["s-0-title"] == "ごあいさつ"
    f["o-0-answer"] = ""  # empty: agents see the English answer
    page = _post(client, url, f)
    assert "Translation “ja” saved." in page
    out = services.render(sid, "ja", {})
    assert out["steps"][0]["title"] == "ごあいさつ"
    assert out["objections"][0]["answer"].startswith("I understand.")


def test_new_translation_and_removal(world, login_as):
    client = login_as(world["manager"])
    sid = world["default"].id
    resp = client.get(f"/scripts/{sid}/translations?language=de")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/scripts/{sid}/translations/de")
    page = _get(client, f"/scripts/{sid}/translations/de")
    assert "Nothing is stored until you save" in page
    f = form_fields(page)
    f["s-0-title"] = "Begrüßung"
    _post(client, f"/scripts/{sid}/translations/de", f)
    assert services.render(sid, "de", {})["steps"][0]["title"] == "Begrüßung"
    token = csrf_from(_get(client, f"/scripts/{sid}/translations/de"))
    page = _post(client, f"/scripts/{sid}/translations/de/delete", {"csrf_token": token})
    assert "Translation “de” removed" in page
    assert services.render(sid, "de", {})["language"] == "en"
    assert client.get(f"/scripts/{sid}/translations/not%20a%20code").status_code == 404


def test_new_script_copy_and_errors(world, login_as):
    client = login_as(world["manager"])
    page = _get(client, "/scripts/new")
    token = csrf_from(page)
    resp = client.post("/scripts/new", data={"csrf_token": token, "name": "Default win-back call",
                                             "start_from": "blank", "language": "x y"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'id="err-f-name"' in page and 'id="err-f-language"' in page and 'value="x y"' in page
    page = _post(client, "/scripts/new", {"csrf_token": token, "name": "Spring", "start_from": "blank",
                                          "language": "pl"})
    assert "Script “Spring” created." in page
    spring = db.session.scalar(select(Script).where(Script.name == "Spring"))
    assert services.texts_of(spring).base_language == "pl"


def test_preview_follows_what_is_typed(world, login_as):
    client = login_as(world["manager"])
    sid = world["default"].id
    f = form_fields(_get(client, f"/scripts/{sid}"))
    f.update({"s-0-text": "Hi {first_name}, quick question", "mode": "base", "preview": "en"})
    body = client.post(f"/scripts/{sid}/preview", data=f).get_data(as_text=True)
    assert "Hi Emma, quick question" in body and 'id="preview"' in body
    f["s-0-text"] = "Hi {oops}"
    body = client.post(f"/scripts/{sid}/preview", data=f).get_data(as_text=True)
    assert "The preview shows the saved texts" in body
    t = form_fields(_get(client, f"/scripts/{sid}/translations/ru"))
    t.update({"s-0-title": "Привет", "mode": "translation", "preview": "ru"})
    body = client.post(f"/scripts/{sid}/preview", data=t).get_data(as_text=True)
    assert "Привет" in body and "Елена" in body
    assert 'data-preview-language' not in body


def test_preview_language_tabs(world, login_as):
    client = login_as(world["manager"])
    page = _get(client, f"/scripts/{world['default'].id}?preview=zh")
    assert "丽华，您好！" in page
    assert re.search(r'data-preview-language="zh"\s+aria-current', page)

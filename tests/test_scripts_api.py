"""The script API: auth, read, replace a language's texts (422 per field, 409
on a stale version), render for a client."""
from __future__ import annotations

import pytest

from campaign.campaigns import services as campaign_services
from campaign.extensions import db
from campaign.scripts import content


@pytest.fixture
def api(ctx, make_staff, token_for, client):
    manager = make_staff("M1", roles=("manager",), name="Maria")
    agent = make_staff("A1", roles=("agent",))
    default = campaign_services.default_script()
    db.session.commit()
    return {"client": client, "h": token_for(manager), "agent_h": token_for(agent), "id": default.id}


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/scripts"), ("get", "/api/v1/scripts/{id}"), ("put", "/api/v1/scripts/{id}/texts/en"),
    ("get", "/api/v1/scripts/{id}/render"),
])
def test_auth(api, method, path):
    url = path.format(id=api["id"])
    c = api["client"]
    assert getattr(c, method)(url, json={}).status_code == 401
    assert getattr(c, method)(url, json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
    resp = getattr(c, method)(url, json={}, headers=api["agent_h"])
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/scripts/999"), ("put", "/api/v1/scripts/999/texts/en"), ("get", "/api/v1/scripts/999/render"),
])
def test_not_found(api, method, path):
    resp = getattr(api["client"], method)(path, json=content.base(), headers=api["h"])
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_list_and_read(api):
    c, h = api["client"], api["h"]
    [row] = c.get("/api/v1/scripts", headers=h).get_json()
    assert row["id"] == api["id"] and row["is_default"] and row["stored"] is False
    assert row["base_language"] == "en" and row["languages"] == ["en", "ja", "pl", "ru", "zh"]
    one = c.get(f"/api/v1/scripts/{api['id']}", headers=h).get_json()
    assert one["texts"]["en"]["base"] and one["texts"]["en"]["version"] == 0
    assert one["texts"]["en"]["content"] == content.base()
    assert one["texts"]["ja"]["content"]["steps"][0]["title"] == "ご挨拶"


def test_put_base_with_validation_errors_per_field(api):
    c, h = api["client"], api["h"]
    body = content.base()
    body["steps"][0]["question"]["answers"][1]["next"] = "nowhere"
    body["steps"][1]["text"] = "Hi {nickname}"
    body["steps"][2]["key"] = "greeting"
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/en", json=body, headers=h)
    assert resp.status_code == 422
    details = resp.get_json()["error"]["details"]
    assert set(details) == {"steps[0].question.answers[1].next", "steps[1].text", "steps[2].key"}
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/en", data="nope", headers=h)
    assert resp.status_code == 422
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/en", json=[], headers=h)
    assert resp.status_code == 422 and "body" in resp.get_json()["error"]["details"]


def test_put_base_then_stale_version(api):
    c, h = api["client"], api["h"]
    body = content.base()
    body["steps"][0]["title"] = "Hello"
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/en", json=body, headers={**h, "If-Match": "0"})
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    assert out["base"] and out["content"]["steps"][0]["title"] == "Hello"
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/en", json=body, headers={**h, "If-Match": "0"})
    assert resp.status_code == 409
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/en", json=body,
                 headers={**h, "If-Match": str(out["version"])})
    assert resp.status_code == 200


def test_put_translation(api):
    c, h = api["client"], api["h"]
    body = {"steps": [{"key": "greeting", "title": "Begrüßung", "text": "Guten Tag, {first_name}!"}]}
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/de", json=body, headers=h)
    assert resp.status_code == 200
    out = resp.get_json()
    assert out["base"] is False and out["content"]["steps"][0]["title"] == "Begrüßung"
    assert out["content"]["steps"][1]["title"] == ""  # not translated yet
    bad = {"steps": [{"key": "ghost", "title": "x"}]}
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/de", json=bad, headers=h)
    assert resp.status_code == 422 and "steps[0].key" in resp.get_json()["error"]["details"]
    resp = c.put(f"/api/v1/scripts/{api['id']}/texts/not_a_language", json=body, headers=h)
    assert resp.status_code == 422 and "language" in resp.get_json()["error"]["details"]


def test_render_for_a_client(api, make_client, make_visit, pin_clock):
    pin_clock("2026-06-01T09:00:00+00:00")
    client = make_client("C-9", first_name="Елена", last_name="Соколова", language="ru")
    make_visit(client, "2026-03-19", service="массаж спины")
    c, h = api["client"], api["h"]
    resp = c.get(f"/api/v1/scripts/{api['id']}/render?client_ref=C-9&offer=free_redo", headers=h)
    assert resp.status_code == 200
    out = resp.get_json()
    assert out["language"] == "ru" and out["script_id"] == api["id"]
    assert out["steps"][0]["text"].startswith("Здравствуйте, Елена! Вас беспокоит Maria")
    assert "бесплатная переделка у другого мастера" in next(s for s in out["steps"] if s["key"] == "news")["text"]
    out = c.get(f"/api/v1/scripts/{api['id']}/render?client_ref=C-9&language=ja", headers=h).get_json()
    # Japanese addresses the family name ("Соколова様"), as Japanese business calls do.
    assert out["language"] == "ja" and "Соколова様" in out["steps"][0]["text"]
    assert c.get(f"/api/v1/scripts/{api['id']}/render?client_ref=nobody", headers=h).status_code == 404
    assert c.get(f"/api/v1/scripts/{api['id']}/render?offer=cheap", headers=h).status_code == 422
    sample = c.get(f"/api/v1/scripts/{api['id']}/render?language=pl", headers=h).get_json()
    assert "Anna" in sample["steps"][0]["text"]

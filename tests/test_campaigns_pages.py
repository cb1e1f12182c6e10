"""The manager's campaign pages and the client card's contact policy, through
the real pages with the test client (sign-in, CSRF, redirects, flashes)."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from campaign.campaigns import services
from campaign.campaigns.models import Campaign, CampaignItem, Quota
from campaign.clients.models import Client
from campaign.core.models import AuditLog
from campaign.extensions import db
from tests.campaign_helpers import add_clients, new_campaign, quotas

from .conftest import csrf_from


def _page(client, url, status=200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:1500]
    return resp.get_data(as_text=True)


def _post(client, url, data, *, token_page="/campaigns", follow=True, status=200):
    """POST a form with a CSRF token from ``token_page``; follows the redirect."""
    token = csrf_from(_page(client, token_page))
    resp = client.post(url, data={"csrf_token": token, **data}, follow_redirects=follow)
    assert resp.status_code == status, resp.get_data(as_text=True)[:1500]
    return resp.get_data(as_text=True)


def _text(body: str) -> str:
    """The page's words (tags dropped, entities decoded, whitespace squeezed)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def world(ctx, make_store, make_staff, make_client, make_visit, pin_clock):
    pin_clock("2026-06-01T09:00:00+00:00")
    store = make_store("WAW-1", name="Warsaw Mokotów")
    manager = make_staff("M1", roles=("manager",), name="Maria Manager")
    a1 = make_staff("A1", store=store, languages=("en",), name="Adam Agent")
    a2 = make_staff("A2", store=store, languages=("en", "pl"), name="Beata Agent")
    agent = make_staff("A3", store=store, languages=("en",), name="Celina Agent")
    add_clients(store, 20, step=1)
    add_clients(store, 6, language="pl", step=1)
    special = {}
    for ref, kw in (("DNC-1", {"do_not_contact": True, "consent_call": False}),
                    ("NOC-1", {"consent_call": False}),
                    ("JA-1", {"language": "ja"})):
        c = make_client(ref, store=store, first_name=ref.title(), **kw)
        make_visit(c, "2026-04-01")
        make_visit(c, "2026-03-01")
        special[ref] = c
    return {"store": store, "manager": manager, "a1": a1, "a2": a2, "agent": agent, **special}


@pytest.fixture
def manager(world, login_as):
    return login_as(world["manager"])


def _count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def _camp(cid) -> Campaign:
    db.session.rollback()
    return db.session.get(Campaign, cid)


FORM = {"name": "Spring win-back", "as_of": "2026-06-01", "call_start": "10:00", "call_end": "20:00",
        "max_attempts": "3", "retry_delay_hours": "24", "holdout_pct": "0", "attribution_window_days": "30"}


# ------------------------------------------------------------------ roles

def test_an_agent_gets_403_on_every_campaign_page(client, world, login_as):
    camp = new_campaign(world["manager"])
    login_as(world["agent"])
    cid = camp.id
    for url in ("/campaigns", "/campaigns/new", f"/campaigns/{cid}", f"/campaigns/{cid}/edit",
                f"/campaigns/{cid}/preview", f"/campaigns/{cid}/preview/clients?reason=eligible",
                f"/campaigns/{cid}/quotas", f"/campaigns/{cid}/job.json", f"/campaigns/{cid}/agents/A1",
                "/campaigns/target-counts?buckets=d1", "/clients/DNC-1"):
        assert client.get(url).status_code == 403, url
    token = csrf_from(_page(client, "/account"))
    for url in ("/campaigns/new", f"/campaigns/{cid}/edit", f"/campaigns/{cid}/quotas", f"/campaigns/{cid}/launch",
                f"/campaigns/{cid}/status", f"/campaigns/{cid}/assign", f"/campaigns/{cid}/delete",
                "/clients/DNC-1/policy/ban"):
        assert client.post(url, data={"csrf_token": token, "status": "closed", "reason": "x"}).status_code == 403, url
    assert _camp(cid).status == "draft"
    assert "Campaigns</a>" not in _page(client, "/account")  # no nav link for agents


def test_list_empty_state_and_nav(client, manager):
    body = _page(client, "/campaigns")
    assert "No campaigns yet" in body and 'href="/campaigns/new"' in body
    assert 'href="/campaigns" aria-current="page">Campaigns' in body


# ------------------------------------------------------------------ the form

def test_create_with_bad_input_shows_each_error_and_keeps_the_input(client, manager):
    form = _page(client, "/campaigns/new")
    assert 'name="buckets" value="d1"' in form and "30–59 days" in form
    assert 'value="WAW-1"' in form and 'name="languages" value="pl"' in form and 'value="free_redo"' in form
    bad = {**FORM, "name": "", "holdout_pct": "abc", "call_start": "25:00", "max_attempts": "0",
           "languages_other": "english", "last_services": "massage, pedicure", "buckets": ["d1", "d2"],
           "stores": "WAW-1"}
    body = _post(client, "/campaigns/new", bad, status=422)
    text = _text(body)
    for message in ("Name is required", "Holdout share must be a percentage from 0 to 90",
                    "Calling hours from must be a time HH:MM", "Max call attempts must be between 1 and 10",
                    "Languages: 'english' is not a language code"):
        assert text.count(message) == 2, message  # in the summary and next to the field
    assert 'value="english"' in body and 'value="massage, pedicure"' in body and 'value="abc"' in body
    assert 'value="d1" checked' in body and 'value="d2" checked' in body and 'value="d3" checked' not in body
    assert 'value="WAW-1" checked' in body and 'id="f-name"' in body and 'aria-invalid="true"' in body
    assert _count(Campaign) == 0
    body = _post(client, "/campaigns/new", {**FORM, "stores": ["WAW-1", "NOPE"], "call_start": "21:00"},
                 status=422)
    text = _text(body)
    assert "Calling hours: the start must be before the end" in text
    assert _count(Campaign) == 0
    body = _post(client, "/campaigns/new", {**FORM, "stores": ["WAW-1", "NOPE"]}, status=422)
    assert "Stores: unknown store code(s): NOPE" in _text(body)
    assert _count(Campaign) == 0


def test_create_then_edit(client, manager):
    resp = client.post("/campaigns/new", data={
        **FORM, "csrf_token": csrf_from(_page(client, "/campaigns/new")), "name": "Spring <b>win</b>-back",
        "buckets": ["d1", "d2"], "tiers": "regular", "value_classes": ["A", "none"], "stores": "WAW-1",
        "languages": "pl", "languages_other": "uk, EN", "last_services": "massage; manicure",
        "holdout_pct": "12.5", "offers": ["free_trial", "bring_a_friend"], "call_end": "19:30"})
    assert resp.status_code == 302
    camp = db.session.scalars(select(Campaign)).one()
    assert resp.headers["Location"].endswith(f"/campaigns/{camp.id}/preview")
    assert (camp.buckets, camp.tiers, camp.value_classes) == (["d1", "d2"], ["regular"], ["A", "none"])
    assert camp.languages == ["pl", "uk", "en"] and camp.last_services == ["massage", "manicure"]
    assert camp.holdout_bp == 1250 and camp.offers == ["free_trial", "bring_a_friend"]
    assert camp.call_end.strftime("%H:%M") == "19:30" and camp.status == "draft"
    preview = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Spring &lt;b&gt;win&lt;/b&gt;-back" in preview and "<b>win</b>" not in preview
    edit = _page(client, f"/campaigns/{camp.id}/edit")
    assert 'value="12.5"' in edit and 'value="uk"' in edit and 'value="pl" checked' in edit and 'value="en" checked' in edit
    assert f'name="version" value="{camp.version}"' in edit
    resp = client.post(f"/campaigns/{camp.id}/edit", data={
        **FORM, "csrf_token": csrf_from(edit), "version": str(camp.version), "name": "Renamed", "buckets": "d3"})
    assert resp.status_code == 302
    camp = _camp(camp.id)
    assert camp.name == "Renamed" and camp.buckets == ["d3"] and camp.languages == []


def test_stale_version_shows_a_conflict_and_keeps_the_input(client, manager, world):
    camp = new_campaign(world["manager"])
    edit = _page(client, f"/campaigns/{camp.id}/edit")
    old_version = camp.version
    camp.name = "Changed by someone else"
    db.session.commit()
    resp = client.post(f"/campaigns/{camp.id}/edit", data={
        **FORM, "csrf_token": csrf_from(edit), "version": str(old_version), "name": "My new name"})
    assert resp.status_code == 409
    body = resp.get_data(as_text=True)
    assert "Someone else changed this campaign since you opened it" in body and 'value="My new name"' in body
    assert _camp(camp.id).name == "Changed by someone else"
    # Having seen the conflict, saving again on purpose replaces the other change.
    assert f'name="version" value="{_camp(camp.id).version}"' in body
    resp = client.post(f"/campaigns/{camp.id}/edit", data={
        **FORM, "csrf_token": csrf_from(body), "version": str(_camp(camp.id).version), "name": "My new name"})
    assert resp.status_code == 302 and _camp(camp.id).name == "My new name"
    old_version = _camp(camp.id).version - 1
    # A button pressed on a stale page says so after the redirect.
    body = _post(client, f"/campaigns/{camp.id}/delete", {"version": str(old_version)})
    assert "Not deleted" in body and "changed by someone else" in body
    assert _camp(camp.id) is not None and _camp(camp.id).status == "draft"
    body = _post(client, f"/campaigns/{camp.id}/launch", {"version": str(old_version)})
    assert "changed by someone else" in _text(body) and _camp(camp.id).status == "draft"


def test_live_target_counts(client, manager, world):
    everyone = client.get("/campaigns/target-counts").get_json()
    assert everyone == {"targeted": 29, "eligible": 27}  # DNC-1 and NOC-1 may not be called
    pl = client.get("/campaigns/target-counts?languages=pl&stores=WAW-1&buckets=d1&buckets=d2").get_json()
    assert pl == {"targeted": 6, "eligible": 6}
    other = client.get("/campaigns/target-counts?languages_other=ja").get_json()
    assert other == {"targeted": 1, "eligible": 1}
    bad = client.get("/campaigns/target-counts?buckets=d9&as_of=nope")
    assert bad.status_code == 422 and "as_of" in bad.get_json()["error"]["details"]
    assert client.get("/campaigns/target-counts?stores=NOPE").status_code == 422


# ------------------------------------------------------------------ preview

def test_preview_counts_reasons_and_languages(client, manager, world):
    camp = new_campaign(world["manager"])
    quotas(camp, [(world["a1"], 10), (world["a2"], 10)])
    body = _page(client, f"/campaigns/{camp.id}/preview")
    text = _text(body)
    assert "29 targeted" in text and "27 eligible (holdout included)" in text and "2 excluded" in text
    dnc = f"/campaigns/{camp.id}/preview/clients?reason=do_not_contact"
    noc = f"/campaigns/{camp.id}/preview/clients?reason=no_call_consent"
    assert f'href="{dnc}"' in body and f'href="{noc}"' in body
    # DNC-1 also has no consent: first-reason counts add up, the "all with it" column counts both.
    row = re.search(r"No consent to calls</th>(.*?)</tr>", body, re.S).group(1)
    assert re.findall(r">\s*(\d+)\s*<", row) == ["1", "2"]
    listing = _page(client, dnc)
    assert 'href="/clients/DNC-1"' in listing and "NOC-1" not in listing
    assert 'href="/clients/NOC-1"' in _page(client, noc)
    assert _page(client, f"/campaigns/{camp.id}/preview/clients?reason=eligible").count('href="/clients/') == 27
    assert client.get(f"/campaigns/{camp.id}/preview/clients?reason=nope").status_code == 404
    ja = re.search(r'<tr class="alert">\s*<th scope="row">ja</th>(.*?)</tr>', body, re.S)
    assert ja and "No agent with a quota speaks ja" in ja.group(1)
    assert 'href="/campaigns/%d/quotas"' % camp.id in body and "Set quotas" in body


def test_preview_paginates(client, manager, world):
    add_clients(world["store"], 60, step=1)
    camp = new_campaign(world["manager"])
    url = f"/campaigns/{camp.id}/preview/clients?reason=eligible"
    first = _page(client, url)
    assert first.count('href="/clients/') == 50 and "Page 1 of 2" in first
    assert "reason=eligible&amp;page=2" in first
    assert _page(client, url + "&page=2").count('href="/clients/') == 37


# ------------------------------------------------------------------ quotas

def test_quota_grid_bad_row_then_good_save(client, manager, world):
    camp = new_campaign(world["manager"])
    grid = _page(client, f"/campaigns/{camp.id}/quotas")
    for code in ("A1", "A2", "A3"):
        assert f'id="agent-{code}"' in grid
    assert "M1" not in re.sub(r"Maria Manager", "", grid.split('<table class="quota-grid">')[1])
    a1, a2 = world["a1"].id, world["a2"].id
    body = _post(client, f"/campaigns/{camp.id}/quotas",
                 {"version": camp.version, f"target-{a1}": "-3", f"target-{a2}": "5", f"cap-{a2}": "abc"},
                 status=422)
    rows = {code: re.search(rf'id="agent-{code}">(.*?)</tr>', body, re.S).group(1) for code in ("A1", "A2", "A3")}
    assert "Target must be between 0 and 100000" in rows["A1"] and 'value="-3"' in rows["A1"]
    assert "Daily cap must be a whole number" in rows["A2"] and 'value="abc"' in rows["A2"]
    assert "field-error" not in rows["A3"] and "The quotas were not saved" in body
    assert _count(Quota) == 0
    body = _post(client, f"/campaigns/{camp.id}/quotas",
                 {"version": camp.version, f"target-{a1}": "12", f"target-{a2}": "8", f"cap-{a2}": "5",
                  f"absent-{a2}": "1"})
    assert "Quotas saved" in body
    saved = {q.staff_id: (q.target, q.daily_cap, q.absent) for q in db.session.scalars(select(Quota))}
    assert saved == {a1: (12, None, False), a2: (8, 5, True)}
    # Setting a prior quota to 0 keeps the row; an untouched agent is not added.
    stale = _camp(camp.id).version
    _post(client, f"/campaigns/{camp.id}/quotas", {"version": stale, f"target-{a1}": "0", f"target-{a2}": "8"})
    saved = {q.staff_id: (q.target, q.absent) for q in db.session.scalars(select(Quota))}
    assert saved == {a1: (0, False), a2: (8, False)}
    # A grid saved from a stale page: 409, the message, and what was typed is kept.
    body = _post(client, f"/campaigns/{camp.id}/quotas",
                 {"version": stale, f"target-{a1}": "77"}, status=409)
    assert "changed by someone else" in body and 'value="77"' in body
    assert db.session.scalar(select(Quota.target).where(Quota.staff_id == a1)) == 0


# ------------------------------------------------------------------ launch and the dashboard

def test_launch_runs_the_assignment_and_the_dashboard_shows_queues(client, manager, world, wait_for_job):
    camp = new_campaign(world["manager"])
    cid = camp.id
    body = _page(client, f"/campaigns/{cid}")
    assert "No agent has a quota yet" in body and 'aria-label="Steps to launch"' in body
    body = _post(client, f"/campaigns/{cid}/launch", {"version": camp.version})
    assert "not launched" in body and "Give at least one agent" in body and _camp(cid).status == "draft"
    a1, a2 = world["a1"].id, world["a2"].id
    _post(client, f"/campaigns/{cid}/quotas", {"version": _camp(cid).version, f"target-{a1}": "10",
                                               f"target-{a2}": "20"})
    body = _page(client, f"/campaigns/{cid}")
    assert "data-confirm=\"Launch" in body
    body = _post(client, f"/campaigns/{cid}/launch", {"version": _camp(cid).version})
    assert "Launched" in body
    camp = _camp(cid)
    assert camp.status == "active" and camp.last_job_id
    job = wait_for_job(camp.last_job_id)
    assert job.status == "finished", job.error
    status = client.get(f"/campaigns/{cid}/job.json").get_json()
    assert status["status"] == "finished" and status["result"]["assigned"] == 26
    body = _page(client, f"/campaigns/{cid}")
    text = _text(body)
    assert "26 assigned" in text and "27 eligible" in text and "1 in the pool" in text
    assert "1 waiting: no agent with quota speaks the client's language" in text  # JA-1 waits in the pool
    assert f'href="/campaigns/{cid}/agents/A1"' in body and f'href="/campaigns/{cid}/agents/A2"' in body
    assert 'data-job-status' not in body  # finished: no progress bar
    for action in ("Pause", "Close", "Run assignment again"):
        assert f">{action}</button>" in body, action
    assert ">Launch</button>" not in body and ">Delete draft</button>" not in body
    card = _text(_page(client, "/clients/JA-1"))
    assert "In a campaign now (Spring win-back)" in card and "waiting in the pool" in card
    queue = _page(client, f"/campaigns/{cid}/agents/A1")
    held = db.session.scalar(select(func.count()).select_from(CampaignItem)
                             .where(CampaignItem.staff_id == world["a1"].id))
    assert 0 < held <= 10 and queue.count('href="/clients/') == held
    assert client.get(f"/campaigns/{cid}/agents/NOPE").status_code == 404


def test_status_workflow_and_illegal_moves(client, manager, world, wait_for_job):
    camp = new_campaign(world["manager"])
    quotas(camp, [(world["a1"], 5)])
    cid = camp.id
    body = _post(client, f"/campaigns/{cid}/status", {"status": "paused"})
    assert "Nothing changed" in body and "cannot go from draft to paused" in body
    body = _post(client, f"/campaigns/{cid}/status", {"status": "active"})
    assert "Launch a draft with its Launch action" in _text(body)
    body = _post(client, f"/campaigns/{cid}/status", {"status": "bogus"})
    assert "Unknown status 'bogus'" in _text(body)
    body = _post(client, f"/campaigns/{cid}/assign", {})
    assert "The assignment did not start" in body
    _post(client, f"/campaigns/{cid}/launch", {})
    wait_for_job(_camp(cid).last_job_id)
    body = _post(client, f"/campaigns/{cid}/launch", {})
    assert "only a draft can be launched" in body
    body = _post(client, f"/campaigns/{cid}/delete", {})
    assert "Only a draft can be deleted" in body and _camp(cid) is not None
    assert "Paused" in _post(client, f"/campaigns/{cid}/status", {"status": "paused"})
    assert _camp(cid).status == "paused"
    body = _page(client, f"/campaigns/{cid}")
    assert ">Resume</button>" in body and ">Pause</button>" not in body
    assert "Resumed" in _post(client, f"/campaigns/{cid}/status", {"status": "active"})
    body = _page(client, f"/campaigns/{cid}")
    assert "Every open queue item will be closed" in body
    assert "Closed" in _post(client, f"/campaigns/{cid}/status", {"status": "closed"})
    assert _camp(cid).status == "closed"
    assert db.session.scalar(select(func.count()).select_from(CampaignItem)
                             .where(CampaignItem.status != "closed")) == 0
    body = _page(client, f"/campaigns/{cid}")
    assert "<button" not in body.split('aria-label="Campaign actions"')[1].split("</div>")[0]
    body = _post(client, f"/campaigns/{cid}/status", {"status": "active"})
    assert "cannot go from closed to active" in body
    resp = client.get(f"/campaigns/{cid}/edit", follow_redirects=True)
    assert "A closed campaign cannot be changed" in resp.get_data(as_text=True)
    assert client.get("/campaigns/99999").status_code == 404


def test_move_absent_agents_items_and_live_edit(client, manager, world, wait_for_job):
    camp = new_campaign(world["manager"])
    quotas(camp, [(world["a1"], 10), (world["a2"], 10)])
    _post(client, f"/campaigns/{camp.id}/launch", {})
    wait_for_job(_camp(camp.id).last_job_id)
    a1, a2 = world["a1"].id, world["a2"].id
    body = _post(client, f"/campaigns/{camp.id}/quotas", {
        "version": _camp(camp.id).version, f"target-{a1}": "10", f"absent-{a1}": "1", f"target-{a2}": "30"})
    assert "The assignment is running again" in body
    wait_for_job(_camp(camp.id).last_job_id)
    body = _page(client, f"/campaigns/{camp.id}")
    assert "untouched items wait with absent agents" in body and 'name="move_absent" value="1"' in body
    body = _post(client, f"/campaigns/{camp.id}/assign", {"move_absent": "1"})
    wait_for_job(_camp(camp.id).last_job_id)
    held = dict(db.session.execute(select(CampaignItem.staff_id, func.count()).where(CampaignItem.staff_id.is_not(None))
                                   .group_by(CampaignItem.staff_id)).all())
    assert held == {a2: 26}
    body = _page(client, f"/campaigns/{camp.id}")
    assert "untouched items wait with absent agents" not in body
    # After launch only the calling settings change; the target is shown, not editable.
    edit = _page(client, f"/campaigns/{camp.id}/edit")
    assert 'name="buckets"' not in edit and 'name="holdout_pct"' not in edit and "fixed once launched" in edit
    resp = client.post(f"/campaigns/{camp.id}/edit", data={
        "csrf_token": csrf_from(edit), "version": _camp(camp.id).version, "name": "Live name",
        "call_start": "09:00", "call_end": "18:00", "max_attempts": "4", "retry_delay_hours": "48",
        "attribution_window_days": "14", "buckets": "d3", "holdout_pct": "50"})
    assert resp.status_code == 302
    camp = _camp(camp.id)
    assert (camp.name, camp.max_attempts, camp.attribution_window_days) == ("Live name", 4, 14)
    assert camp.buckets == [] and camp.holdout_bp == 0


def test_delete_a_draft(client, manager, world):
    camp = new_campaign(world["manager"])
    body = _page(client, f"/campaigns/{camp.id}")
    assert 'data-confirm="Delete the draft' in body
    body = _post(client, f"/campaigns/{camp.id}/delete", {"version": camp.version})
    assert "deleted" in body and _count(Campaign) == 0


# ------------------------------------------------------------------ the client card

def test_card_policy_lists_reasons_in_words(client, manager, world):
    text = _text(_page(client, "/clients/DNC-1"))
    assert "Contact policy" in text and "Will not be put in a call queue" in text
    assert "asked not to be contacted" in text and "has not consented to calls" in text
    text = _text(_page(client, "/clients/JA-1"))
    assert "May be put in a call queue" in text and "agents who speak ja" in text
    assert "Not in any campaign yet" in text
    camp = new_campaign(world["manager"], name="Card campaign")
    quotas(camp, [(world["a1"], 10)])
    text = _text(_page(client, "/clients/JA-1"))
    assert "Not in any campaign yet" in text  # a draft has no items yet


def _audits(action):
    db.session.rollback()
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_card_changes_need_a_reason_and_are_audited(client, manager, world):
    def act(action, reason):
        return _text(_post(client, f"/clients/JA-1/policy/{action}", {"reason": reason},
                           token_page="/clients/JA-1"))

    def ja():
        db.session.rollback()
        return db.session.scalar(select(Client).where(Client.ref == "JA-1"))

    assert "Nothing changed. Give a reason" in act("ban", "   ")
    assert "at most 500" in act("ban", "x" * 501)
    assert not ja().manual_ban and _audits("client.ban") == []
    text = act("ban", "abusive on the phone")
    assert "Banned" in text and "banned by a manager abusive on the phone" in text
    assert "is banned (repeated no-shows or a manager's ban)" in text
    c = ja()
    assert c.manual_ban and c.ban_reason == "abusive on the phone"
    [row] = _audits("client.ban")
    assert row.target == "client:JA-1" and row.details["reason"] == "abusive on the phone"
    assert row.actor_id == world["manager"].id
    assert "already banned" in act("ban", "again")
    assert "Nothing changed" in act("lift-ban", "")
    assert "Ban lifted" in act("lift-ban", "apologised")
    c = ja()
    assert not c.manual_ban and c.ban_lifted_at is not None and len(_audits("client.ban_lift")) == 1
    assert "not banned" in act("lift-ban", "again")

    assert "Nothing changed" in act("dnc", "")
    text = act("dnc", "asked by e-mail")
    assert "Marked do-not-contact" in text and "asked not to be contacted" in text
    assert ja().do_not_contact and ja().dnc_reason == "asked by e-mail"
    assert "Nothing changed" in act("dnc-clear", " ")
    assert "Do-not-contact cleared" in act("dnc-clear", "wants offers again")
    assert not ja().do_not_contact and len(_audits("client.dnc_set")) == len(_audits("client.dnc_clear")) == 1

    assert "Nothing changed" in act("contact-requested", "")
    assert "asked to be contacted" in act("contact-requested", "web form")
    assert ja().contact_requested
    assert "no longer asks" in act("contact-requested-clear", "changed their mind")
    assert not ja().contact_requested
    assert [r.details["requested"] for r in _audits("client.contact_requested")] == [True, False]
    assert client.post("/clients/JA-1/policy/explode",
                       data={"csrf_token": csrf_from(_page(client, "/clients/JA-1"))}).status_code == 404
    assert client.post("/clients/NOPE/policy/ban",
                       data={"csrf_token": csrf_from(_page(client, "/clients/JA-1")), "reason": "x"}).status_code == 404


def test_lifting_a_no_show_ban_restarts_the_count(client, manager, world, make_client, make_visit):
    c = make_client("NS-1", store=world["store"])
    make_visit(c, "2026-04-20")
    for day in ("2026-05-01", "2026-05-02", "2026-05-03"):
        make_visit(c, day, status="no_show")
    text = _text(_page(client, "/clients/NS-1"))
    assert "is banned (repeated no-shows" in text and "Lift the ban" in text
    text = _text(_post(client, "/clients/NS-1/policy/lift-ban", {"reason": "paid the fee"}, token_page="/clients/NS-1"))
    assert "Ban lifted" in text and "is banned" not in text
    assert "No rule of the contact policy holds" in text


def test_do_not_contact_or_ban_on_the_card_closes_open_queue_items(client, manager, world, wait_for_job):
    camp = new_campaign(world["manager"])
    quotas(camp, [(world["a1"], 30), (world["a2"], 30)])
    job = services.launch(camp, world["manager"].id)
    db.session.commit()
    assert wait_for_job(job.id).status == "finished"
    db.session.rollback()
    queued = db.session.scalars(select(CampaignItem).where(CampaignItem.campaign_id == camp.id,
                                                           CampaignItem.status == "queued")
                                .order_by(CampaignItem.priority).limit(2)).all()
    refs = [db.session.get(Client, i.client_id).ref for i in queued]
    _post(client, f"/clients/{refs[0]}/policy/dnc", {"reason": "asked on the phone"}, token_page=f"/clients/{refs[0]}")
    _post(client, f"/clients/{refs[1]}/policy/ban", {"reason": "abusive"}, token_page=f"/clients/{refs[1]}")
    db.session.rollback()
    closed = {db.session.get(CampaignItem, i.id).close_reason for i in queued}
    assert {db.session.get(CampaignItem, i.id).status for i in queued} == {"closed"}
    assert closed == {"do_not_contact", "banned"}

"""Reports and lift over HTTP: the API (bearer tokens, JSON and CSV, every
error) and the pages (/reports, its CSV downloads, the campaign page's
results panel), on the known history of ``test_reports``."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime

import pytest

from campaign.extensions import db
from tests.campaign_helpers import add_clients, new_campaign, quotas
from tests.test_reports import at, launched, world  # noqa: F401  (the fixture)


@pytest.fixture
def api(world, token_for, make_staff):  # noqa: F811
    return {"m": token_for(world["manager"]), "agent": token_for(world["ann"]),
            "payroll": token_for(make_staff("P01", roles=("payroll",)))}


def _text(body: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def _csv(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# ------------------------------------------------------------------ API

def test_funnel_json_and_csv(client, world, api):  # noqa: F811
    cid = world["camp"].id
    r = client.get(f"/api/v1/reports/funnel?campaign={cid}", headers=api["m"])
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["by"] == "store" and body["campaign"]["id"] == cid
    assert [(x["store_code"], x["targeted"], x["attempted"], x["reached"], x["booked"], x["visited"])
            for x in body["rows"]] == [("KRK", 4, 2, 2, 1, 1), ("WAW", 6, 5, 4, 1, 2)]
    assert body["totals"]["visited"] == 3 and body["totals"]["share"]["reached"] == 0.6
    agents = client.get(f"/api/v1/reports/funnel?campaign={cid}&by=agent", headers=api["m"]).get_json()
    assert [x["employee_code"] for x in agents["rows"]] == ["A01", "B01", None]
    rows = _csv(client.get(f"/api/v1/reports/funnel?campaign={cid}&by=store&format=csv", headers=api["m"]))
    assert rows == [["store_code", "store_name", "targeted", "attempted", "reached", "booked", "visited"],
                    ["KRK", "Kraków Kazimierz", "4", "2", "2", "1", "1"],
                    ["WAW", "Warsaw Mokotów", "6", "5", "4", "1", "2"]]


def test_reasons_and_offers_json_and_csv(client, world, api):  # noqa: F811
    cid = world["camp"].id
    body = client.get(f"/api/v1/reports/reasons?campaign={cid}&year=2026", headers=api["m"]).get_json()
    assert body["total"] == 7 and body["year"] == 2026
    assert [(x["quarter"], x["store_code"], x["total"]) for x in body["rows"]] == \
        [("2026-Q3", "KRK", 1), ("2026-Q2", "KRK", 2), ("2026-Q2", "WAW", 4)]
    assert body["overall"][0] == {"reason": "price", "label": "Found it cheaper elsewhere", "count": 3,
                                  "share": 0.4286}
    assert client.get("/api/v1/reports/reasons?year=2025", headers=api["m"]).get_json()["rows"] == []
    rows = _csv(client.get("/api/v1/reports/reasons?format=csv", headers=api["m"]))
    assert rows[0][:3] == ["quarter", "store_code", "store_name"] and rows[0][-1] == "total" and len(rows) == 4
    offers = client.get("/api/v1/reports/offers", headers=api["m"]).get_json()
    assert [(x["offer"], x["offered"], x["booked"], x["converted"], x["rate"]) for x in offers["rows"]] == \
        [("renewal_discount", 2, 1, 2, 1.0), ("free_trial", 2, 1, 1, 0.5), ("none", 2, 0, 0, 0.0)]
    rows = _csv(client.get(f"/api/v1/reports/offers?campaign={cid}&format=csv", headers=api["m"]))
    assert rows[2] == ["free_trial", "A free trial card to collect in store", "2", "1", "1", "0.5000", "0.0945",
                       "0.9055"]


def test_lift_endpoint(client, world, api):  # noqa: F811
    cid = world["camp"].id
    body = client.get(f"/api/v1/campaigns/{cid}/lift", headers=api["m"]).get_json()
    assert body["groups"]["contacted"] == {"clients": 7, "came_back": 3, "rate": 3 / 7}
    assert body["groups"]["holdout"] == {"clients": 0, "came_back": 0, "rate": None}
    assert body["groups"]["not_called"]["clients"] == 3
    assert body["measurable"] is False and body["difference"] is None
    assert body["window"]["start"] == "2026-06-02T10:00:00Z" and body["window"]["end"] == "2026-07-02T09:00:00Z"
    assert "No holdout group" in body["in_words"]
    draft = new_campaign(None, name="Draft")
    r = client.get(f"/api/v1/campaigns/{draft.id}/lift", headers=api["m"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"
    assert client.get("/api/v1/campaigns/99999/lift", headers=api["m"]).status_code == 404
    assert client.get(f"/api/v1/campaigns/{cid}/lift?x=1", headers=api["m"]).status_code == 422


@pytest.mark.parametrize("path", ["/reports/funnel?campaign={cid}", "/reports/reasons", "/reports/offers",
                                  "/campaigns/{cid}/lift"])
def test_roles(client, world, api, path):  # noqa: F811
    url = "/api/v1" + path.format(cid=world["camp"].id)
    r = client.get(url)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    for who in ("agent", "payroll"):
        r = client.get(url, headers=api[who])
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert client.get(url, headers=api["m"]).status_code == 200


@pytest.mark.parametrize("query, status, param", [
    ("/reports/funnel", 422, "campaign"),
    ("/reports/funnel?campaign=abc", 422, "campaign"),
    ("/reports/funnel?campaign=99999", 404, None),
    ("/reports/funnel?campaign={cid}&by=team", 422, "by"),
    ("/reports/funnel?campaign={cid}&format=xlsx", 422, "format"),
    ("/reports/reasons?year=26", 422, "year"),
    ("/reports/reasons?year=2026-Q1", 422, "year"),
    ("/reports/reasons?campaign=99999", 404, None),
    ("/reports/reasons?yaer=2026", 422, "yaer"),
    ("/reports/offers?campaign=x", 422, "campaign"),
    ("/reports/offers?by=store", 422, "by"),
    ("/reports/offers?campaign=99999&format=csv", 404, None),
])
def test_parameter_errors(client, world, api, query, status, param):  # noqa: F811
    r = client.get("/api/v1" + query.format(cid=world["camp"].id), headers=api["m"])
    assert r.status_code == status, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["code"] == ("invalid" if status == 422 else "not_found") and error["message"]
    if param:
        assert param in error["details"] and param in error["message"]


# ------------------------------------------------------------------ pages

@pytest.fixture
def manager(world, login_as):  # noqa: F811
    return login_as(world["manager"])


def test_reports_page_with_data(manager, world):  # noqa: F811
    cid = world["camp"].id
    r = manager.get(f"/reports?campaign={cid}&by=agent&year=2026")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    words = _text(body)
    assert "Funnel: Spring win-back" in words and "Ann Agent A01" in words and "Not assigned (pool)" in words
    assert "Reasons for leaving, by quarter and store" in words and "2026-Q3" in words
    assert "Found it cheaper elsewhere" in words and "A renewal or package discount" in words
    assert "No holdout group" in words
    assert f'href="/reports/funnel.csv?campaign={cid}&amp;by=agent"' in body
    assert f'href="/reports/reasons.csv?campaign={cid}&amp;year=2026"' in body
    assert f'href="/reports/offers.csv?campaign={cid}"' in body
    for label in ('for="f-campaign"', 'for="f-by"', 'for="f-year"'):
        assert label in body
    everything = _text(manager.get("/reports").get_data(as_text=True))
    assert "Choose a campaign above" in everything and "2026-Q2" in everything


def test_reports_page_csv_downloads(manager, world):  # noqa: F811
    cid = world["camp"].id
    rows = _csv(manager.get(f"/reports/funnel.csv?campaign={cid}&by=agent"))
    assert rows[1] == ["A01", "Ann Agent", "6", "5", "4", "1", "2"]
    assert len(_csv(manager.get("/reports/reasons.csv?year=2026"))) == 4
    assert _csv(manager.get("/reports/offers.csv"))[-1][0] == "none"
    assert manager.get("/reports/funnel.csv").status_code == 422
    assert manager.get("/reports/funnel.csv?campaign=99999").status_code == 404
    assert manager.get("/reports/nope.csv").status_code == 404


def test_reports_page_bad_filters_are_shown_not_fatal(manager, world):  # noqa: F811
    r = manager.get("/reports?by=team&year=abc")
    assert r.status_code == 422
    words = _text(r.get_data(as_text=True))
    assert "Break the funnel down by store or by agent." in words and "Year:" in words
    assert "2026-Q2" in words, "the page still shows the reports with the defaults"
    assert manager.get("/reports?campaign=99999").status_code == 404


def test_reports_page_empty(ctx, make_staff, login_as):
    page = login_as(make_staff("M01", roles=("manager",))).get("/reports")
    assert page.status_code == 200
    words = _text(page.get_data(as_text=True))
    assert "No reasons recorded yet" in words and "No clients reached yet" in words
    assert "Download CSV" not in words


def test_reports_page_is_for_managers(client, world, login_as):  # noqa: F811
    assert client.get("/reports").status_code == 302   # to the sign-in page
    agent = login_as(world["ann"])
    assert agent.get("/reports").status_code == 403
    assert agent.get("/reports/offers.csv").status_code == 403


def test_campaign_page_shows_the_results_panel(manager, world):  # noqa: F811
    cid = world["camp"].id
    r = manager.get(f"/campaigns/{cid}")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    words = _text(body)
    assert "Results" in words and "Lift against the holdout" in words and "No holdout group" in words
    assert "Targeted 10" in words and "Visited 3 30 %" in words
    assert "Top reasons for leaving" in words and "Found it cheaper elsewhere 3 43 %" in words
    assert "Offers that work" in words and "A renewal or package discount 2 2 100.0 %" in words
    assert f'href="/reports?campaign={cid}&amp;by=agent#funnel"' in body


def test_campaign_page_with_a_holdout_states_the_lift_in_words(ctx, pin_clock, make_store, make_staff, login_as):
    at(pin_clock, datetime(2026, 6, 2, 10, 0))
    store = make_store("WAW")
    manager = make_staff("M01", roles=("manager",))
    agent = make_staff("A01", store=store)
    add_clients(store, 30, days=45)
    camp = new_campaign(None, holdout_share=0.3)
    quotas(camp, [(agent, 30)])
    launched(camp)
    words = _text(login_as(manager).get(f"/campaigns/{camp.id}").get_data(as_text=True))
    assert "Nobody has been called yet" in words and "No calls logged yet" in words
    assert "No reasons recorded yet" in words and "No clients reached yet" in words


def test_a_draft_campaign_page_has_no_results_panel(ctx, make_staff, login_as):
    manager = make_staff("M01", roles=("manager",))
    camp = new_campaign(manager, name="Just a draft")
    db.session.commit()
    words = _text(login_as(manager).get(f"/campaigns/{camp.id}").get_data(as_text=True))
    assert "Before you launch" in words and "Lift against the holdout" not in words

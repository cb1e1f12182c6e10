"""Bonus pages (SCREENS.md "Payroll and agents — bonuses") through the
real forms: the plan form in decimal amounts, compute → approve → export
(which locks) by the roles that may, statements that explain every amount,
an agent's own statements only."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from campaign.bonuses.models import BonusPlan, BonusRun
from campaign.extensions import db
from tests.bonus_world import at, june, visit  # noqa: F401 (june is a fixture)
from tests.conftest import TEST_PASSWORD, csrf_from


def browser(app, staff):
    c = app.test_client()
    page = c.get("/login")
    resp = c.post("/login", data={"login": staff.employee_code, "password": TEST_PASSWORD,
                                  "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 302
    return c


def post(c, page_url: str, action: str, data: dict | None = None):
    html = c.get(page_url).get_data(as_text=True)
    return c.post(action, data={"csrf_token": csrf_from(html), **(data or {})})


def text(resp) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True)))


def test_plan_form_takes_decimal_amounts_and_says_what_is_wrong_where(app, june, pin_clock):
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    m = browser(app, june["people"]["manager"])
    bad = post(m, "/bonuses/plans/2026-07", "/bonuses/plans/2026-07",
               {"currency": "PLN", "team_per_visit": "15,005", "rank_rewards": "500.00\nlots", "min_calls": "x",
                "competition_reward": "", "competition_penalty": "", "cap": ""})
    assert bad.status_code == 422
    body = text(bad)
    assert "3 fields need attention" in body and "more decimals than PLN allows" in body
    assert "place 2" in body and "a whole number of calls" in body
    assert db.session.get(BonusPlan, 202607) is None, "nothing saved"
    ok = post(m, "/bonuses/plans/2026-07", "/bonuses/plans/2026-07",
              {"currency": "PLN", "team_per_visit": "15,00", "rank_rewards": "500\n300.50; 100", "min_calls": "12",
               "competition_reward": "50", "competition_penalty": "0", "cap": "2000"})
    assert ok.status_code == 302
    plan = db.session.get(BonusPlan, 202607)
    assert (plan.team_per_visit, plan.rank_rewards, plan.min_calls, plan.competition_reward, plan.cap) == \
        (1500, [50000, 30050, 10000], 12, 5000, 200000)
    page = m.get("/bonuses/plans/2026-07").get_data(as_text=True)
    assert "15.00" in page and "300.50" in page and 'value="1"' in page  # the version for the next save
    payroll = browser(app, june["people"]["payroll"])
    ro = payroll.get("/bonuses/plans/2026-07")
    assert ro.status_code == 200 and "Save changes" not in ro.get_data(as_text=True) and "disabled" in \
        ro.get_data(as_text=True)
    assert post(payroll, "/bonuses/plans/2026-07", "/bonuses/plans/2026-07", {"currency": "PLN"}).status_code == 403


def test_compute_approve_export_through_the_pages(app, june, pin_clock):
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    people = june["people"]
    m, p, a02 = browser(app, people["manager"]), browser(app, people["payroll"]), browser(app, people["A02"])
    computed = post(m, "/bonuses/", "/bonuses/runs", {"period": "2026-06"})
    assert computed.status_code == 302
    run = db.session.scalar(select(BonusRun))
    page = text(m.get(f"/bonuses/runs/{run.id}"))
    assert "2026-06 draft" in page and "970.00 PLN to pay" in page.replace("\u2009", " ")
    assert "Approve" in page and "Export and lock" not in page
    assert str(run.id) not in text(p.get("/bonuses/")).split("Runs")[1].split("Plans")[0], "payroll: no drafts"
    assert a02.get(f"/bonuses/runs/{run.id}").status_code == 403
    assert a02.get(f"/bonuses/runs/{run.id}/statements/A02").status_code == 404, "not before approval"

    html = m.get(f"/bonuses/runs/{run.id}").get_data(as_text=True)
    assert "data-confirm=\"Approve the 2026-06 run: 3 statements" in html
    assert post(m, f"/bonuses/runs/{run.id}", f"/bonuses/runs/{run.id}/approve").status_code == 302
    phtml = p.get(f"/bonuses/runs/{run.id}").get_data(as_text=True)
    assert "Export and lock CSV" in phtml and "locks the run for good" in phtml and "Approve" not in text(
        p.get(f"/bonuses/runs/{run.id}")).split("History")[0].replace("Approved", "")
    refused = post(m, f"/bonuses/runs/{run.id}", f"/bonuses/runs/{run.id}/export.csv")
    assert refused.status_code == 302 and db.session.get(BonusRun, run.id).status == "approved"
    got = post(p, f"/bonuses/runs/{run.id}", f"/bonuses/runs/{run.id}/export.csv")
    assert got.status_code == 200 and got.headers["Content-Disposition"].endswith('winback-bonus-2026-06.csv"')
    assert got.get_data(as_text=True).startswith("period,employee_code,")
    db.session.expire_all()
    assert db.session.get(BonusRun, run.id).status == "exported"
    again = post(m, f"/bonuses/runs/{run.id}", f"/bonuses/runs/{run.id}/export.csv")
    assert again.data == got.data, "a manager downloads the locked file, byte for byte"
    audit = text(m.get(f"/bonuses/runs/{run.id}"))
    assert "exported and locked (CSV, web)" in audit and "downloaded again (CSV, web)" in audit and "approved" in audit

    mine = text(a02.get("/bonuses/me"))
    assert "2026-06" in mine and "215.00 PLN" in mine.replace("\u2009", " ")
    st = text(a02.get(f"/bonuses/runs/{run.id}/statements/A02")).replace("\u2009", " ")
    assert "Tied with B01 on 1 conversion and a visit rate of 50.0 %" in st
    assert "places 2, 3 (300.00 PLN + 100.00 PLN), shared equally" in st
    assert "Team North brought back 3 clients × 10.00 PLN = 30.00 PLN." in st
    assert "It is shared equally by the 2 members" in st
    assert "a teammate's client" in st
    assert a02.get(f"/bonuses/runs/{run.id}/statements/A01").status_code == 403
    a01 = text(m.get(f"/bonuses/runs/{run.id}/statements/A01")).replace("\u2009", " ")
    assert "Place 1 with 2 conversions" in a01 and "won (50.00 PLN)" in a01


def test_a_clawback_is_explained_on_the_next_months_statement(app, june, pin_clock, client):
    h, called = june["h"], june["called"]
    at(pin_clock, datetime(2026, 7, 1, 8, 0))
    rid = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-06"}).get_json()["id"]
    client.post(f"/api/v1/bonus-runs/{rid}/approve", headers=h["manager"])
    client.get(f"/api/v1/bonus-runs/{rid}/export.csv", headers=h["payroll"])
    at(pin_clock, datetime(2026, 7, 20, 8, 0))
    visit(called["A02"][0], "V3", "2026-06-07", status="no_show")
    client.put("/api/v1/bonus-plans/2026-07", headers=h["manager"], json={"currency": "PLN"})
    jid = client.post("/api/v1/bonus-runs", headers=h["manager"], json={"period": "2026-07"}).get_json()["id"]
    client.post(f"/api/v1/bonus-runs/{jid}/approve", headers=h["manager"])
    a02 = browser(app, june["people"]["A02"])
    st = text(a02.get(f"/bonuses/runs/{jid}/statements/A02")).replace("\u2009", " ")
    assert "2026-06 (locked run #%d) recomputed" % rid in st
    assert "No longer counted (clawed back):" in st and "on 2026-06-07 (80.00 PLN)" in st
    assert "is carried into the next run" in st
    page = text(browser(app, june["people"]["manager"]).get(f"/bonuses/runs/{jid}")).replace("\u2009", " ")
    assert "Corrections of locked runs" in page and "2026-06 (run #%d)" % rid in page

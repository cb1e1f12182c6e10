"""Reports (funnel, reasons by quarter and store, offers), lift against the
holdout and the campaign page's results panel, on small known histories
built through the real services with the clock pinned: outcomes through
``calls.services`` (claim + log, corrections included), visits through the
POS upsert (the CSV import's code).

Runs on SQLite by default and on PostgreSQL with ``DATABASE_URL``.
"""
from __future__ import annotations

import csv
import io
import math
from datetime import datetime

import pytest
from sqlalchemy import event, func, select

from campaign.calls import services as calls
from campaign.campaigns import services as campaign_services
from campaign.campaigns.models import CampaignItem
from campaign.clients.models import Client
from campaign.core import clock
from campaign.core.errors import Conflict, NotFound, ValidationError
from campaign.extensions import db
from campaign.imports.services import upsert_visits
from campaign.scoring import lift as lift_mod
from campaign.scoring import reports, rules, scores
from campaign.scoring.report_views import campaign_panel
from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

CALL = datetime(2026, 6, 2, 10, 0)  # UTC: 12:00 in Warsaw and Kraków
Z = 1.959964


def at(pin_clock, when: datetime) -> None:
    pin_clock(when.isoformat() + "+00:00")


def call(agent, disposition="will_visit", **data):
    """The agent's next client, with this outcome logged; returns (client, outcome)."""
    c = calls.claim_next(agent, clock.now())
    assert c is not None, "the agent has a client to call"
    o = calls.log_outcome(c.item_id, agent, {"disposition": disposition, "claim": c.token, **data}, clock.now())
    db.session.commit()
    return db.session.get(Client, c.client_id), o


_refs = iter(range(1, 1_000_000))


def visit(client, when: str, *, status="completed", store="WAW"):
    result = upsert_visits([{"visit_ref": f"RV{next(_refs):06d}", "client_ref": client.ref, "store_code": store,
                             "visited_at": when, "amount": "50.00", "status": status}])
    db.session.commit()
    assert result["rejected"] == 0, result


def launched(camp):
    """Launch as the Launch button does (launched_at set), running the assignment here."""
    camp.launched_at = clock.utcnow_naive()
    db.session.commit()
    return launch(camp)


# ------------------------------------------------------------------ the known history

@pytest.fixture
def world(ctx, pin_clock, make_store, make_staff):
    """Two stores, two agents, ten clients; Ann holds the six Warsaw clients,
    Bob three of the four Kraków ones (the fourth waits in the pool).

    Ann:  a1 will_visit (price, renewal_discount) → visits 5 June
          a2 booked (service, free_trial)          → visits 10 June
          a3 no_answer
          a4 not_interested (price, no offer)
          a5 booked (moved, free_trial), corrected to not_interested (parking, no offer)
          a6 not called
    Bob:  b1 callback (technique, free_trial) 2 June, callback again (technique) 3 June,
             will_visit (technique) 1 July — Q3
          b2 booked (price, renewal_discount)      → visits 6 June
          b3 not called; b4 in the pool
    """
    at(pin_clock, CALL)
    waw = make_store("WAW", name="Warsaw Mokotów")
    krk = make_store("KRK", name="Kraków Kazimierz")
    manager = make_staff("M01", roles=("manager",), name="Maria Manager")
    ann = make_staff("A01", store=waw, team="North", name="Ann Agent")
    bob = make_staff("B01", store=krk, team="South", name="Bob Agent")
    add_clients(waw, 6, days=45, step=1)
    add_clients(krk, 4, days=45, step=1)
    camp = new_campaign(manager, attribution_window_days=30, max_attempts=3, retry_delay_hours=1)
    quotas(camp, [(ann, 6), (bob, 3)])
    launched(camp)
    held = dict(db.session.execute(select(CampaignItem.staff_id, func.count())
                                   .where(CampaignItem.campaign_id == camp.id)
                                   .group_by(CampaignItem.staff_id)).all())
    assert held == {ann.id: 6, bob.id: 3, None: 1}
    assert {s for (s,) in db.session.execute(select(CampaignItem.store_id).where(
        CampaignItem.staff_id == ann.id).distinct())} == {waw.id}, "own-store dealing"

    a1, _ = call(ann, "will_visit", reason="price", offer="renewal_discount")
    a2, _ = call(ann, "booked", reason="service", offer="free_trial",
                 booked_at="2026-06-10T15:00:00+02:00", service="massage")
    a3, _ = call(ann, "no_answer")
    a4, _ = call(ann, "not_interested", reason="price")
    a5, wrong = call(ann, "booked", reason="moved", offer="free_trial",
                     booked_at="2026-06-12T15:00:00+02:00", service="massage")
    calls.log_outcome(wrong.item_id, ann, {"disposition": "not_interested", "reason": "parking",
                                           "corrects": wrong.id}, clock.now())
    db.session.commit()
    b1, _ = call(bob, "callback", reason="technique", offer="free_trial",
                 callback_at="2026-06-03T12:00:00+02:00")
    b2, _ = call(bob, "booked", reason="price", offer="renewal_discount",
                 booked_at="2026-06-06T15:00:00+02:00", service="massage")
    at(pin_clock, datetime(2026, 6, 3, 10, 5))
    again, _ = call(bob, "callback", reason="technique", callback_at="2026-07-01T12:00:00+02:00")
    assert again.id == b1.id
    at(pin_clock, datetime(2026, 7, 1, 10, 5))
    again, _ = call(bob, "will_visit", reason="technique")
    assert again.id == b1.id
    visit(a1, "2026-06-05T11:00")
    visit(a2, "2026-06-10T15:00")
    visit(b2, "2026-06-06T15:00", store="KRK")
    visit(a4, "2026-06-08T10:00", status="no_show")
    at(pin_clock, datetime(2026, 7, 2, 9, 0))
    return {"camp": camp, "waw": waw, "krk": krk, "manager": manager, "ann": ann, "bob": bob,
            "clients": {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "a5": a5, "b1": b1, "b2": b2}}


def _counts(row):
    return tuple(row[s] for s in reports.STAGES)


# ------------------------------------------------------------------ funnel

def test_funnel_by_store_by_agent_and_totals(world):
    f = reports.funnel(world["camp"])
    # targeted, attempted, reached, booked, visited
    assert [(r["store_code"], _counts(r)) for r in f["by_store"]] == [
        ("KRK", (4, 2, 2, 1, 1)),
        ("WAW", (6, 5, 4, 1, 2)),   # a5's booking was corrected away; a3 was not reached
    ]
    assert [(r["employee_code"], r["name"], _counts(r)) for r in f["by_agent"]] == [
        ("A01", "Ann Agent", (6, 5, 4, 1, 2)),
        ("B01", "Bob Agent", (3, 2, 2, 1, 1)),
        (None, None, (1, 0, 0, 0, 0)),   # the pool
    ]
    t = f["totals"]
    assert _counts(t) == (10, 7, 6, 2, 3)
    assert t["share"] == {"targeted": 1.0, "attempted": 0.7, "reached": 0.6, "booked": 0.2, "visited": 0.3}
    assert f["by_store"][0]["store_name"] == "Kraków Kazimierz"


def test_the_funnel_leaves_the_holdout_out(ctx, pin_clock, make_store, make_staff):
    at(pin_clock, CALL)
    store = make_store("WAW")
    agent = make_staff("A01", store=store)
    add_clients(store, 40, days=45)
    camp = new_campaign(None, holdout_share=0.5)
    quotas(camp, [(agent, 40)])
    launched(camp)
    held = db.session.scalar(select(func.count()).where(CampaignItem.status == "holdout"))
    assert 0 < held < 40
    assert reports.funnel(camp)["totals"]["targeted"] == 40 - held
    campaign_services.set_status(camp, "closed", None)   # closing closes the holdout items too
    db.session.commit()
    assert reports.funnel(camp)["totals"]["targeted"] == 40 - held, "the draw still tells them apart"


# ------------------------------------------------------------------ reasons

def test_reasons_by_quarter_and_store(world):
    r = reports.reasons()
    rows = [(x["quarter"], x["store_code"], {k: v for k, v in x["counts"].items() if v}, x["total"])
            for x in r["rows"]]
    assert rows == [
        ("2026-Q3", "KRK", {"technique": 1}, 1),
        ("2026-Q2", "KRK", {"technique": 1, "price": 1}, 2),   # b1's two June calls count once
        ("2026-Q2", "WAW", {"price": 2, "service": 1, "parking": 1}, 4),   # a5: the correction's reason
    ]
    assert r["total"] == 7
    top = [(x["reason"], x["count"], x["share"]) for x in r["overall"] if x["count"]]
    assert top == [("price", 3, round(3 / 7, 4)), ("technique", 2, round(2 / 7, 4)),
                   ("parking", 1, round(1 / 7, 4)), ("service", 1, round(1 / 7, 4))]
    assert r["reasons"][:3] == ["parking", "moved", "service"], "every code is a column, in DOMAIN order"
    assert r["rows"][0]["counts"]["moved"] == 0, "the corrected outcome's reason is gone"


def test_reasons_filtered_by_year_and_campaign(world, make_store):
    assert reports.reasons(year=2025)["total"] == 0 and reports.reasons(year=2025)["rows"] == []
    assert reports.reasons(year=2026)["total"] == 7
    assert reports.reasons(campaign=world["camp"], year=2026)["total"] == 7
    other = new_campaign(None, name="Other")
    assert reports.reasons(campaign=other)["total"] == 0
    assert reports.years() == [2026]


# ------------------------------------------------------------------ offers

def test_offers_with_wilson_intervals_best_first_baseline_last(world):
    o = reports.offers(campaign=world["camp"])
    got = [(r["offer"], r["offered"], r["booked"], r["converted"], r["rate"]) for r in o["rows"]]
    assert got == [
        ("renewal_discount", 2, 1, 2, 1.0),   # a1 (converted), b2 (booked, converted)
        ("free_trial", 2, 1, 1, 0.5),         # a2 (booked, converted), b1 (reached, no visit); a5's was corrected
        ("none", 2, 0, 0, 0.0),               # a4, a5: reached and offered nothing
    ]
    by = {r["offer"]: r for r in o["rows"]}
    # Wilson 95 %: 1/2 → [0.0945, 0.9055], 2/2 → [0.3424, 1], 0/2 → [0, 0.6576]
    assert (by["free_trial"]["low"], by["free_trial"]["high"]) == (0.0945, 0.9055)
    assert (by["renewal_discount"]["low"], by["renewal_discount"]["high"]) == (0.3424, 1.0)
    assert (by["none"]["low"], by["none"]["high"]) == (0.0, 0.6576)
    assert o["baseline"]["offer"] == "none" and o["reached"] == 6
    assert reports.offers()["rows"] == o["rows"], "one campaign: all campaigns is the same"


def test_reports_with_nothing_logged(ctx, pin_clock, make_store, make_staff):
    at(pin_clock, CALL)
    store = make_store("WAW")
    add_clients(store, 3, days=45)
    agent = make_staff("A01", store=store)
    camp = new_campaign(None)
    quotas(camp, [(agent, 3)])
    launched(camp)
    assert _counts(reports.funnel(camp)["totals"]) == (3, 0, 0, 0, 0)
    assert reports.reasons()["rows"] == [] and reports.reasons()["total"] == 0
    assert reports.offers()["rows"] == [] and reports.offers()["baseline"] is None
    assert reports.years() == []


# ------------------------------------------------------------------ CSV

def _csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_tables(world):
    camp = world["camp"]
    name, text = reports.csv_file("funnel", reports.funnel(camp), by="agent")
    assert name == f"funnel-by-agent-campaign-{camp.id}.csv"
    assert _csv(text) == [["employee_code", "name", "targeted", "attempted", "reached", "booked", "visited"],
                          ["A01", "Ann Agent", "6", "5", "4", "1", "2"],
                          ["B01", "Bob Agent", "3", "2", "2", "1", "1"],
                          ["", "", "1", "0", "0", "0", "0"]]
    name, text = reports.csv_file("reasons", reports.reasons(year=2026))
    rows = _csv(text)
    assert name == "reasons-2026.csv"
    assert rows[0] == ["quarter", "store_code", "store_name", "parking", "moved", "service", "technique",
                       "mismatch", "pushy_sales", "price", "policy", "personal", "other", "total"]
    assert rows[3] == ["2026-Q2", "WAW", "Warsaw Mokotów", "1", "0", "1", "0", "0", "0", "2", "0", "0", "0", "4"]
    assert len(rows) == 4
    name, text = reports.csv_file("offers", reports.offers())
    assert _csv(text) == [
        ["offer", "label", "offered", "booked", "converted", "conversion_rate", "ci_low", "ci_high"],
        ["renewal_discount", "A renewal or package discount", "2", "1", "2", "1.0000", "0.3424", "1.0000"],
        ["free_trial", "A free trial card to collect in store", "2", "1", "1", "0.5000", "0.0945", "0.9055"],
        ["none", "No offer made", "2", "0", "0", "0.0000", "0.0000", "0.6576"]]


def test_arguments_are_checked_and_name_the_parameter(world):
    for parse, value, param in ((reports.by_arg, "team", "by"), (reports.year_arg, "26", "year"),
                                (reports.year_arg, "abcd", "year"), (reports.format_arg, "xlsx", "format"),
                                (reports.campaign_arg, "x", "campaign")):
        with pytest.raises(ValidationError) as exc:
            parse(value)
        assert param in exc.value.details and exc.value.message.startswith(param)
    with pytest.raises(NotFound):
        reports.campaign_arg("99999")
    with pytest.raises(ValidationError) as exc:
        reports.build("funnel", {})
    assert "campaign" in exc.value.details
    with pytest.raises(ValidationError) as exc:
        reports.build("offers", {"campagin": "1"})
    assert "campagin" in exc.value.details
    assert (reports.by_arg(None), reports.year_arg(""), reports.format_arg(None)) == ("store", None, "json")


# ------------------------------------------------------------------ lift

def newcombe(x1, n1, x0, n0):
    """Newcombe's method 10 written out by hand (Wilson limits of each group)."""
    def wilson(x, n):
        p = x / n
        centre = (2 * n * p + Z * Z) / (2 * (n + Z * Z))
        half = Z * math.sqrt(Z * Z + 4 * n * p * (1 - p)) / (2 * (n + Z * Z))
        return centre - half, centre + half
    p1, p0 = x1 / n1, x0 / n0
    (l1, u1), (l0, u0) = wilson(x1, n1), wilson(x0, n0)
    d = p1 - p0
    return d, d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def test_lift_interval_matches_newcombes_published_examples():
    # Newcombe (1998), Statistics in Medicine 17:873–890, table II, method 10.
    for (x1, n1, x0, n0), (low, high) in (((56, 70, 48, 80), (0.0524, 0.3339)),
                                          ((9, 10, 3, 10), (0.1705, 0.8090)),
                                          ((6, 7, 2, 7), (0.0582, 0.8062)),
                                          ((5, 56, 0, 29), (-0.0381, 0.1926))):
        got = rules.lift_interval(x1, n1, x0, n0)
        assert (round(got["low"], 4), round(got["high"], 4)) == (low, high)


@pytest.fixture
def holdout_world(ctx, pin_clock, make_store, make_staff):
    """40 Warsaw clients, half drawn into the holdout; Ann holds the rest."""
    at(pin_clock, CALL)
    store = make_store("WAW")
    ann = make_staff("A01", store=store)
    add_clients(store, 40, days=45)
    camp = new_campaign(None, holdout_share=0.5, attribution_window_days=30)
    quotas(camp, [(ann, 40)])
    launched(camp)
    ids = lambda status: [c for (c,) in db.session.execute(  # noqa: E731
        select(CampaignItem.client_id).where(CampaignItem.status == status).order_by(CampaignItem.client_id))]
    held = [db.session.get(Client, c) for c in ids("holdout")]
    assert 4 <= len(held) <= 36
    return {"camp": camp, "ann": ann, "held": held, "queued": len(ids("queued"))}


def test_lift_counts_both_groups_over_the_same_window(holdout_world, pin_clock):
    w = holdout_world
    camp, ann, held = w["camp"], w["ann"], w["held"]
    called = [call(ann, d)[0] for d in ("will_visit", "no_answer", "not_interested", "booked")[:3]]
    called.append(call(ann, "booked", booked_at="2026-06-09T15:00:00+02:00", service="massage")[0])
    visit(called[0], "2026-06-05T11:00")
    visit(called[1], "2026-06-06T11:00")   # unreached, came back anyway: contacted counts it (no conversion)
    visit(called[3], "2026-06-09T15:00")
    visit(called[2], "2026-06-07T11:00", status="no_show")   # not a completed visit
    visit(held[0], "2026-06-04T10:00")
    visit(held[1], "2026-06-02T11:00")     # 11:00 Warsaw = 09:00 UTC: before the 10:00 UTC launch
    visit(held[2], "2026-06-20T10:00", status="cancelled")
    at(pin_clock, datetime(2026, 6, 30, 9, 0))
    result = lift_mod.lift(camp, clock.utcnow_naive())
    g = result["groups"]
    n0 = len(held)
    assert (g["contacted"]["clients"], g["contacted"]["came_back"]) == (4, 3)
    assert (g["holdout"]["clients"], g["holdout"]["came_back"]) == (n0, 1)
    assert (g["not_called"]["clients"], g["not_called"]["came_back"]) == (40 - n0 - 4, 0)
    assert g["contacted"]["rate"] == 0.75 and g["holdout"]["rate"] == 1 / n0
    d, low, high = newcombe(3, 4, 1, n0)
    assert result["difference"] == pytest.approx(d) and result["low"] == pytest.approx(low)
    assert result["high"] == pytest.approx(high)
    assert result["relative"] == pytest.approx(0.75 * n0 - 1)
    assert result["significant"] == (low > 0)
    assert result["window"]["start"] == CALL and result["window"]["end"] == datetime(2026, 6, 30, 9, 0)
    assert not result["window"]["closed"]


def test_lift_window_ends_at_the_close_plus_the_attribution_window(holdout_world, pin_clock):
    w = holdout_world
    camp, held = w["camp"], w["held"]
    call(w["ann"])
    at(pin_clock, datetime(2026, 6, 10, 10, 0))
    campaign_services.set_status(camp, "closed", None)
    db.session.commit()
    visit(held[0], "2026-07-10T11:00")     # 09:00 UTC, the close + 30 days is 10:00 UTC: in
    visit(held[1], "2026-07-10T13:00")     # 11:00 UTC: after the window
    at(pin_clock, datetime(2026, 7, 5, 9, 0))
    early = lift_mod.lift(camp, clock.utcnow_naive())
    assert early["window"]["end"] == datetime(2026, 7, 5, 9, 0), "now, while that is earlier"
    assert early["groups"]["holdout"]["came_back"] == 0
    at(pin_clock, datetime(2026, 9, 1, 9, 0))
    late = lift_mod.lift(camp, clock.utcnow_naive())
    assert late["window"]["end"] == datetime(2026, 7, 10, 10, 0) and late["window"]["closed"]
    assert late["groups"]["holdout"] == {"clients": len(held), "came_back": 1, "rate": 1 / len(held)}, \
        "the closed campaign's holdout items are still its holdout"
    assert late["groups"]["contacted"]["clients"] == 1


def test_lift_of_a_draft_is_a_conflict_and_words_for_each_case(ctx, pin_clock, world):
    draft = new_campaign(None, name="Draft")
    with pytest.raises(Conflict):
        lift_mod.lift(draft, clock.utcnow_naive())
    assert "launched" in lift_mod.in_words(None)
    no_holdout = lift_mod.lift(world["camp"], clock.utcnow_naive())
    assert not no_holdout["measurable"] and no_holdout["difference"] is None
    assert "No holdout group" in lift_mod.in_words(no_holdout)
    base = {"groups": {"contacted": {"clients": 100}, "holdout": {"clients": 100}}}
    assert lift_mod.in_words({**base, "difference": 0.041, "low": 0.012, "high": 0.07, "significant": True}) \
        == "+4.1 points (95% CI +1.2 to +7.0), significant."
    assert lift_mod.in_words({**base, "difference": 0.01, "low": -0.02, "high": 0.04, "significant": False}) \
        == "+1.0 points (95% CI \u22122.0 to +4.0): not yet distinguishable from the holdout."


# ------------------------------------------------------------------ the campaign page's panel

def test_panel_context(world):
    template, ctx = campaign_panel(world["camp"], clock.utcnow_naive())
    assert template == "scoring/_campaign_panel.html"
    assert _counts(ctx["funnel"]["totals"]) == (10, 7, 6, 2, 3)
    assert [r["reason"] for r in ctx["reasons"]] == ["price", "technique", "parking", "service"]
    assert [r["offer"] for r in ctx["offers"]] == ["renewal_discount", "free_trial"]
    assert ctx["baseline"]["offered"] == 2
    assert "No holdout group" in ctx["lift_words"]


# ------------------------------------------------------------------ statements do not grow with clients

class Statements:
    def __init__(self):
        self.n = 0

    def __call__(self, _conn, _cursor, statement, *_args):
        self.n += 1

    def __enter__(self):
        self.n = 0
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self)


def _busy_campaign(pin_clock, store, agent, n):
    """n clients in a campaign with a holdout; every called client gives a reason and an offer."""
    at(pin_clock, CALL)
    add_clients(store, n, days=45, prefix=f"N{n}-")
    camp = new_campaign(None, name=f"Busy {n}", holdout_share=0.2, stores=[store.code])
    quotas(camp, [(agent, n)])
    launched(camp)
    codes = ("price", "service", "parking")
    offers = ("free_trial", None, "renewal_discount")
    while True:
        c = calls.claim_next(agent, clock.now(), campaign_id=camp.id)
        if c is None:
            break
        i = c.client_id % 3
        calls.log_outcome(c.item_id, agent, {"disposition": "will_visit" if i else "no_answer", "claim": c.token,
                                             "reason": codes[i], "offer": offers[i]}, clock.now())
        db.session.commit()
        if i:
            visit(db.session.get(Client, c.client_id), "2026-06-05T11:00", store=store.code)
    scores.refresh()
    return camp


def _costs(camp):
    now = clock.utcnow_naive()
    scores.refresh()
    out = {}
    for name, run in (("funnel", lambda: reports.funnel(camp)), ("reasons", lambda: reports.reasons(campaign=camp)),
                      ("offers", lambda: reports.offers(campaign=camp)), ("lift", lambda: lift_mod.lift(camp, now)),
                      ("panel", lambda: campaign_panel(camp, now))):
        with Statements() as s:
            run()
        out[name] = s.n
    return out


def test_statement_counts_do_not_grow_with_the_number_of_clients(ctx, pin_clock, make_store, make_staff):
    small_store, big_store = make_store("S1"), make_store("S2")
    small = _busy_campaign(pin_clock, small_store, make_staff("A01", store=small_store), 6)
    big = _busy_campaign(pin_clock, big_store, make_staff("A02", store=big_store), 30)
    at(pin_clock, datetime(2026, 6, 20, 9, 0))
    few, many = _costs(small), _costs(big)
    assert reports.funnel(big)["totals"]["visited"] > reports.funnel(small)["totals"]["visited"] > 0
    assert few == many, (few, many)
    # the refresh (one read when nothing is behind; its commit expires the campaign row, read again
    # once) + one statement per report
    assert many["funnel"] <= 3 and many["reasons"] <= 2 and many["offers"] <= 2 and many["lift"] <= 1
    assert many["panel"] <= 8, "a refresh, four reports, the open complaints (count and rows)"

"""Who is dormant (SPEC §3), computed in SQL: edges, ties, bans, overdue, time zones,
statement counts, and an oracle comparison with the pure rules on random data."""
import random
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from campaign.clients import queries, rules
from campaign.clients.models import Client, Visit
from campaign.extensions import db

AS_OF = date(2026, 3, 1)


def seg(client, as_of=AS_OF) -> dict:
    row = db.session.execute(queries.client_segments(as_of, client_ids=[client.id])).mappings().one()
    return dict(row)


def ago(days: int, as_of=AS_OF) -> date:
    return as_of - timedelta(days=days)


# ------------------------------------------------------------------ buckets and tiers

@pytest.mark.parametrize("days, bucket", [
    (0, "active"), (29, "active"), (30, "d1"), (59, "d1"), (60, "d2"), (89, "d2"),
    (90, "d3"), (119, "d3"), (120, "d3plus"), (400, "d3plus"),
])
def test_bucket_edges(make_client, make_visit, days, bucket):
    c = make_client()
    make_visit(c, ago(days))
    row = seg(c)
    assert (row["bucket"], row["days_since"], row["last_visit_date"]) == (bucket, days, ago(days))


def test_never_and_tiers(make_client, make_visit):
    never, once, twice = make_client(), make_client(), make_client()
    make_visit(once, ago(10))
    make_visit(twice, ago(100))
    make_visit(twice, ago(40))
    assert (seg(never)["bucket"], seg(never)["tier"], seg(never)["days_since"]) == ("never", "never", None)
    assert seg(never)["completed_visits"] == 0 and seg(never)["value_class"] is None
    assert (seg(once)["tier"], seg(once)["completed_visits"]) == ("one_time", 1)
    assert (seg(twice)["tier"], seg(twice)["bucket"], seg(twice)["days_since"]) == ("regular", "d1", 40)


def test_only_completed_visits_make_the_last_visit(make_client, make_visit):
    c = make_client()
    make_visit(c, ago(70))
    make_visit(c, ago(5), status="no_show")
    make_visit(c, ago(3), status="cancelled")
    row = seg(c)
    assert (row["bucket"], row["days_since"], row["completed_visits"], row["tier"]) == ("d2", 70, 1, "one_time")
    only_no_shows = make_client()
    make_visit(only_no_shows, ago(2), status="no_show")
    assert seg(only_no_shows)["bucket"] == "never" and seg(only_no_shows)["no_shows"] == 1


def test_visits_after_as_of_are_ignored(make_client, make_visit):
    c = make_client()
    make_visit(c, ago(45), amount=1000)
    make_visit(c, AS_OF + timedelta(days=1), amount=5000)
    make_visit(c, AS_OF + timedelta(days=2), status="no_show")
    row = seg(c)
    assert (row["bucket"], row["completed_visits"], row["lifetime_spend"], row["no_shows"]) == ("d1", 1, 1000, 0)
    later = seg(c, AS_OF + timedelta(days=3))
    assert (later["bucket"], later["completed_visits"], later["lifetime_spend"], later["no_shows"]) == \
        ("active", 2, 6000, 1)
    assert seg(c, ago(46))["bucket"] == "never"


def test_bucket_bounds_are_settings(app, make_client, make_visit):
    c = make_client()
    make_visit(c, ago(25))
    app.config["BUCKET_BOUNDS"] = (20, 40, 60, 80)
    try:
        assert seg(c)["bucket"] == "d1"
    finally:
        app.config["BUCKET_BOUNDS"] = (30, 60, 90, 120)


# ------------------------------------------------------------------ value classes

def _spenders(make_client, make_visit, spends, store=None):
    out = []
    for amount in spends:
        c = make_client(store=store)
        make_visit(c, ago(10), amount=amount)
        out.append(c)
    return out


def test_value_class_ties_straddling_the_boundaries_go_up(make_client, make_visit, make_store):
    store = make_store()
    spends = [100, 90, 90, 80, 70, 70, 60, 50, 40, 30]  # n = 10: A = ranks 1–2, B = ranks ≤ 5
    clients = _spenders(make_client, make_visit, spends, store)
    make_client(store=store)  # a client without visits is not in the ranking
    got = [seg(c)["value_class"] for c in clients]
    assert got == ["A", "A", "A", "B", "B", "B", "C", "C", "C", "C"]


def test_value_class_without_ties_and_lifetime_sums(make_client, make_visit, make_store):
    store = make_store()
    clients = _spenders(make_client, make_visit, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], store)
    make_visit(clients[0], ago(5), amount=1000)    # the cheapest becomes the top spender: 1010
    make_visit(clients[1], ago(5), amount=None)    # a visit without amount counts 0
    make_visit(clients[2], ago(5), amount=5000, status="no_show")  # not completed: no spend
    got = {c.id: seg(c) for c in clients}
    assert got[clients[0].id]["lifetime_spend"] == 1010 and got[clients[0].id]["value_class"] == "A"
    assert got[clients[1].id]["lifetime_spend"] == 20
    assert got[clients[2].id]["lifetime_spend"] == 30
    assert [got[c.id]["value_class"] for c in clients] == ["A", "C", "C", "C", "C", "C", "B", "B", "B", "A"]


def test_value_class_is_ranked_per_currency(make_client, make_visit, make_store):
    pln = make_store(currency="PLN")
    jpy = make_store(timezone="Asia/Tokyo", country="JP", currency="JPY")
    zloty = _spenders(make_client, make_visit, [500, 400, 300, 200, 100], pln)
    yen = _spenders(make_client, make_visit, [50000, 40000, 30000, 20000, 10000], jpy)
    # n = 5 in each currency: A = rank 1, B = ranks 2–3, C = the rest.
    assert [seg(c)["value_class"] for c in zloty] == ["A", "B", "B", "C", "C"]
    assert [seg(c)["value_class"] for c in yen] == ["A", "B", "B", "C", "C"]


def test_value_class_does_not_depend_on_the_store_filter(make_client, make_visit, make_store):
    s1, s2 = make_store(), make_store()
    _spenders(make_client, make_visit, [1000, 900, 800, 700], s1)
    low = _spenders(make_client, make_visit, [10], s2)[0]
    rows = db.session.execute(queries.client_segments(AS_OF, store_ids=[s2.id])).mappings().all()
    assert [(r["client_id"], r["value_class"]) for r in rows] == [(low.id, "C")]


# ------------------------------------------------------------------ no-shows and bans

def test_ban_at_the_threshold(make_client, make_visit):
    two, three = make_client(), make_client()
    for c, n in ((two, 2), (three, 3)):
        for i in range(n):
            make_visit(c, ago(10 + i), status="no_show")
    assert (seg(two)["no_shows"], seg(two)["banned"]) == (2, False)
    assert (seg(three)["no_shows"], seg(three)["banned"]) == (3, True)


def test_lifted_ban_counts_only_later_no_shows(make_client, make_visit):
    c = make_client()
    for i in range(3):
        make_visit(c, ago(40 - i), status="no_show")
    c.ban_lifted_at = datetime.combine(ago(20), datetime.min.time())
    db.session.commit()
    row = seg(c)
    assert (row["no_shows"], row["banned"]) == (3, False)  # every no-show is still on the record
    for i in range(2):
        make_visit(c, ago(10 - i), status="no_show")
    assert seg(c)["banned"] is False
    make_visit(c, ago(5), status="no_show")
    assert (seg(c)["no_shows"], seg(c)["banned"]) == (6, True)


def test_ban_threshold_is_a_setting(app, make_client, make_visit):
    c = make_client()
    make_visit(c, ago(3), status="no_show")
    app.config["NO_SHOW_BAN"] = 1
    try:
        assert seg(c)["banned"] is True
    finally:
        app.config["NO_SHOW_BAN"] = 3


# ------------------------------------------------------------------ overdue

def _rhythm(make_client, make_visit, gaps, days_since):
    """A client whose visits are ``gaps`` apart, the last one ``days_since`` ago."""
    c = make_client()
    day = ago(days_since)
    make_visit(c, day)
    for g in reversed(gaps):
        day -= timedelta(days=g)
        make_visit(c, day)
    return c


@pytest.mark.parametrize("gaps, days_since, overdue", [
    ([10, 14, 12], 18, False),      # odd: median 12, 1.5 × 12 = 18 is not more
    ([10, 14, 12], 19, True),
    ([20, 11, 14, 10], 18, False),  # even: median 12.5, 1.5 × = 18.75
    ([20, 11, 14, 10], 19, True),
    ([9, 10], 14, False),           # three visits, median 9.5, 1.5 × = 14.25
    ([9, 10], 15, True),
    ([5], 29, False),               # two visits are not enough
    ([10, 10], 31, False),          # d1: not active any more, so dormant, not overdue
])
def test_overdue_around_one_and_a_half_median_gaps(make_client, make_visit, gaps, days_since, overdue):
    c = _rhythm(make_client, make_visit, gaps, days_since)
    assert seg(c)["overdue"] is overdue


def test_overdue_ignores_same_day_repeats_and_other_statuses(make_client, make_visit):
    c = _rhythm(make_client, make_visit, [10, 12], 16)  # median 11 -> 16.5
    first = ago(16 + 12 + 10)
    make_visit(c, first, service="manicure")            # a second service the same day adds no gap
    make_visit(c, ago(20), status="no_show")            # not a visit that sets a rhythm
    make_visit(c, ago(18), status="cancelled")
    assert seg(c)["completed_visits"] == 4
    assert seg(c)["overdue"] is False
    assert seg(c, AS_OF + timedelta(days=1))["overdue"] is True


def test_three_visits_on_one_day_are_never_overdue(make_client, make_visit):
    c = make_client()
    for _ in range(3):
        make_visit(c, ago(20))
    assert (seg(c)["completed_visits"], seg(c)["overdue"]) == (3, False)


def test_overdue_uses_only_visits_up_to_as_of(make_client, make_visit):
    c = _rhythm(make_client, make_visit, [10, 10], 16)  # median 10 -> 15: overdue
    assert seg(c)["overdue"] is True
    make_visit(c, AS_OF + timedelta(days=1))            # a later visit changes nothing today
    assert seg(c)["overdue"] is True


# ------------------------------------------------------------------ as_of = each store's today

def test_default_as_of_is_each_stores_local_date(pin_clock, make_store, make_client, make_visit):
    # 20:00 UTC on 1 March: already 2 March 09:00 in Auckland, still 1 March 12:00 in Los Angeles.
    pin_clock("2026-03-01T20:00:00+00:00")
    akl = make_store(timezone="Pacific/Auckland", country="NZ", currency="NZD")
    lax = make_store(timezone="America/Los_Angeles", country="US", currency="USD")
    a, b = make_client(store=akl), make_client(store=lax)
    make_visit(a, date(2026, 1, 31))
    make_visit(b, date(2026, 1, 31))
    a_row, b_row = seg(a, None), seg(b, None)
    assert (a_row["days_since"], a_row["bucket"]) == (30, "d1")
    assert (b_row["days_since"], b_row["bucket"]) == (29, "active")
    # A visit dated 2 March has happened in Auckland, not yet in Los Angeles.
    make_visit(a, date(2026, 3, 2))
    make_visit(b, date(2026, 3, 2))
    assert (seg(a, None)["days_since"], seg(a, None)["completed_visits"]) == (0, 2)
    assert (seg(b, None)["days_since"], seg(b, None)["completed_visits"]) == (29, 1)
    counts = queries.segment_counts(None)
    assert {(r["bucket"], r["tier"]): r["clients"] for r in counts} == \
        {("active", "regular"): 1, ("active", "one_time"): 1}


# ------------------------------------------------------------------ counts

def test_segment_counts_order_and_store_filter(make_store, make_client, make_visit):
    s1, s2 = make_store("W1"), make_store("W2")
    for days, store in ((5, s1), (5, s1), (45, s1), (200, s2)):
        make_visit(make_client(store=store), ago(days))
    regular = make_client(store=s2)
    make_visit(regular, ago(300))
    make_visit(regular, ago(130))
    make_client(store=s1)
    assert queries.segment_counts(AS_OF) == [
        {"bucket": "active", "tier": "one_time", "clients": 2},
        {"bucket": "d1", "tier": "one_time", "clients": 1},
        {"bucket": "d3plus", "tier": "regular", "clients": 1},
        {"bucket": "d3plus", "tier": "one_time", "clients": 1},
        {"bucket": "never", "tier": "never", "clients": 1},
    ]
    assert queries.segment_counts(AS_OF, store_code="W2") == [
        {"bucket": "d3plus", "tier": "regular", "clients": 1},
        {"bucket": "d3plus", "tier": "one_time", "clients": 1},
    ]
    with pytest.raises(queries.ValidationError):
        queries.segment_counts(AS_OF, store_code="NOPE")


def test_overview_and_lists(make_store, make_client, make_visit):
    pln, jpy = make_store("P", currency="PLN"), make_store("J", currency="JPY", timezone="Asia/Tokyo")
    for amount in (1000, 2000):
        make_visit(make_client(store=pln), ago(40), amount=amount)
    make_visit(make_client(store=jpy), ago(40), amount=700)
    banned = make_client(store=pln)
    for i in range(3):
        make_visit(banned, ago(i + 1), status="no_show")
    overdue = _rhythm(make_client, make_visit, [10, 10], 16)
    ov = queries.overview(AS_OF)
    cell = ov.cells[("d1", "one_time")]
    assert cell.clients == 3 and cell.spend == {"PLN": 3000, "JPY": 700}
    assert (ov.overdue, ov.banned, ov.total.clients) == (1, 1, 5)
    page = queries.segment_clients(AS_OF, bucket="d1", tier="one_time")
    # Class first: amounts in two currencies are not compared. In PLN the overdue
    # regular (300.00) is A of 4, so 20.00 is B and 10.00 C; 700 JPY is A of 1.
    assert [(r["value_class"], r["lifetime_spend"]) for r in page.items] == [("A", 700), ("B", 2000), ("C", 1000)]
    assert page.total == 3
    assert [r["client_id"] for r in queries.segment_clients(AS_OF, flag="banned").items] == [banned.id]
    assert [r["client_id"] for r in queries.segment_clients(AS_OF, flag="overdue").items] == [overdue.id]
    assert queries.overview(AS_OF, "J").total.clients == 1
    # The page's one-statement variant gives the same numbers and lists.
    page_ov, od, bn = queries.dormancy_page(AS_OF)
    assert page_ov == ov
    assert od.items == queries.segment_clients(AS_OF, flag="overdue").items and od.total == 1
    assert bn.items == queries.segment_clients(AS_OF, flag="banned").items and bn.total == 1
    j_ov, od, bn = queries.dormancy_page(AS_OF, store_ids=[jpy.id])
    assert (j_ov.total.clients, od.items, bn.items, [s.code for s in j_ov.stores]) == (1, [], [], ["J"])


def test_lists_are_paginated(make_store, make_client, make_visit):
    store = make_store()
    for i in range(53):
        make_visit(make_client(store=store), ago(40), amount=100 + i)
    first = queries.segment_clients(AS_OF, bucket="d1")
    second = queries.segment_clients(AS_OF, bucket="d1", page=2)
    assert (len(first.items), len(second.items), first.total, second.total, first.pages) == (50, 3, 53, 53, 2)
    assert first.items[0]["lifetime_spend"] == 152 and second.items[-1]["lifetime_spend"] == 100
    beyond = queries.segment_clients(AS_OF, bucket="d1", page=9)
    assert (beyond.items, beyond.total) == ([], 53)
    with pytest.raises(queries.ValidationError):
        queries.segment_clients(AS_OF, bucket="d9")


# ------------------------------------------------------------------ statement counts

class StatementCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _count(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


def _load(make_store, make_client, make_visit, n):
    store = make_store()
    for i in range(n):
        c = make_client(store=store)
        for k in range(i % 4):
            make_visit(c, ago(7 + 13 * k + i), status="no_show" if k == 3 else "completed")


def _statements(fn) -> int:
    db.session.rollback()
    with StatementCounter(db.engine) as counter:
        fn()
    return counter.count


@pytest.mark.parametrize("as_of", [AS_OF, None])
def test_statement_count_does_not_grow_with_clients(make_store, make_client, make_visit, as_of):
    calls = {
        "segment_counts": lambda: queries.segment_counts(as_of),
        "client_segments": lambda: db.session.execute(queries.client_segments(as_of)).all(),
        "overview": lambda: queries.overview(as_of),
        "segment_clients": lambda: queries.segment_clients(as_of, bucket="active"),
        "dormancy_page": lambda: queries.dormancy_page(as_of, overdue_page=2),
    }
    _load(make_store, make_client, make_visit, 5)
    small = {name: _statements(fn) for name, fn in calls.items()}
    _load(make_store, make_client, make_visit, 45)
    assert db.session.scalar(db.select(db.func.count(Client.id))) == 50
    large = {name: _statements(fn) for name, fn in calls.items()}
    assert small == large
    assert large["client_segments"] == (1 if as_of else 2)  # + one read of the stores' time zones
    assert large["segment_counts"] == (1 if as_of else 2)
    assert large["dormancy_page"] == (2 if as_of else 3)  # stores + one UNION ALL statement


# ------------------------------------------------------------------ CLI

def test_cli_segments_prints_the_table(runner, make_client, make_visit):
    make_visit(make_client(), ago(45))
    make_visit(make_client(), ago(3))
    make_client()
    result = runner.invoke(args=["segments", "--as-of", "2026-03-01"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["bucket", "tier", "clients"]
    assert lines[1].split() == ["active", "one_time", "1"]
    assert lines[2].split() == ["d1", "one_time", "1"]
    assert lines[3].split() == ["never", "never", "1"]
    assert lines[4].split() == ["total", "3"]


# ------------------------------------------------------------------ oracle

def _expected(clients, visits, stores, as_of, bounds=(30, 60, 90, 120), ban_at=3, shares=(20, 50)):
    """The SPEC §3 rules one client at a time, from the pure module.

    ``as_of``: a date, or {store_id: date} for each store's own today."""
    by_client = defaultdict(list)
    for v in visits:
        by_client[v["client_id"]].append(v)
    out, spend_by_currency = {}, defaultdict(dict)
    for c in clients:
        client_as_of = as_of[c["store_id"]] if isinstance(as_of, dict) else as_of
        vs = [v for v in by_client[c["id"]] if v["local_date"] <= client_as_of]
        done = [v for v in vs if v["status"] == "completed"]
        last = max((v["local_date"] for v in done), default=None)
        days = (client_as_of - last).days if last else None
        bucket = rules.bucket_for(days, bounds)
        no_shows = [v for v in vs if v["status"] == "no_show"]
        counted = [v for v in no_shows if c["ban_lifted_at"] is None or v["visited_at"] > c["ban_lifted_at"]]
        spend = sum(v["amount"] or 0 for v in done)
        out[c["id"]] = {
            "client_id": c["id"], "store_id": c["store_id"], "last_visit_date": last, "days_since": days,
            "completed_visits": len(done), "lifetime_spend": spend, "no_shows": len(no_shows),
            "bucket": bucket, "tier": rules.tier_for(len(done)), "value_class": None,
            "banned": rules.is_banned(len(counted), ban_at),
            "overdue": rules.is_overdue(bucket, len(done), days,
                                        rules.visit_gaps([v["local_date"] for v in done])),
        }
        if done:
            spend_by_currency[stores[c["store_id"]]][c["id"]] = spend
    for spends in spend_by_currency.values():
        for cid, cls in rules.value_classes(spends, shares).items():
            out[cid]["value_class"] = cls
    return out


def test_sql_matches_the_pure_rules_on_random_data(make_store, make_client, make_visit, pin_clock):
    rnd = random.Random(20260301)
    stores = [make_store(currency="PLN"), make_store(currency="PLN"),
              make_store(currency="JPY", timezone="Asia/Tokyo")]
    clients = []
    for i in range(70):
        c = make_client(store=rnd.choice(stores))
        if rnd.random() < 0.15:
            c.ban_lifted_at = datetime(2026, 1, rnd.randint(1, 28), 12)
        clients.append(c)
    db.session.commit()
    rows = []
    for c in clients:
        base = AS_OF - timedelta(days=rnd.randint(-10, 200))
        for _ in range(rnd.choice([0, 1, 2, 3, 4, 6, 9])):
            day = base - timedelta(days=rnd.choice([0, 0, 5, 9, 10, 14, 21, 35, 60]))
            base = day
            rows.append(Visit(ref=f"R{len(rows):05d}", client_id=c.id, store_id=c.store_id,
                              visited_at=datetime(day.year, day.month, day.day, rnd.randint(8, 20)),
                              local_date=day, service="massage",
                              amount=rnd.choice([None, 1000, 2500, 2500, 4000, 12000]),
                              status=rnd.choice(["completed"] * 6 + ["no_show", "no_show", "cancelled"]),
                              created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1)))
    db.session.add_all(rows)
    db.session.commit()
    plain_clients = [{"id": c.id, "store_id": c.store_id, "ban_lifted_at": c.ban_lifted_at} for c in clients]
    plain_visits = [{"client_id": v.client_id, "local_date": v.local_date, "status": v.status,
                     "amount": v.amount, "visited_at": v.visited_at} for v in rows]
    currency = {s.id: s.currency for s in stores}
    seen = defaultdict(set)
    for as_of in (AS_OF, AS_OF - timedelta(days=17), AS_OF - timedelta(days=90), AS_OF + timedelta(days=30)):
        got = {r["client_id"]: dict(r) for r in
               db.session.execute(queries.client_segments(as_of)).mappings()}
        want = _expected(plain_clients, plain_visits, currency, as_of)
        assert got == want, as_of
        assert all(type(r[k]) is int for r in got.values()
                   for k in ("completed_visits", "lifetime_spend", "no_shows")), "integers, never Decimal"
        assert all(type(r[k]) is bool for r in got.values() for k in ("banned", "overdue"))
        for r in want.values():
            for key in ("bucket", "tier", "value_class", "banned", "overdue"):
                seen[key].add(r[key])
    # Each store's own today: Tokyo is already on 2 March, Warsaw still on 1 March.
    pin_clock("2026-03-01T20:00:00+00:00")
    todays = {s.id: date(2026, 3, 2) if s.currency == "JPY" else AS_OF for s in stores}
    got = {r["client_id"]: dict(r) for r in db.session.execute(queries.client_segments(None)).mappings()}
    assert got == _expected(plain_clients, plain_visits, currency, todays)
    # The random data exercises every value of every column.
    assert seen["bucket"] == set(rules.BUCKETS) and seen["tier"] == set(rules.TIERS)
    assert seen["value_class"] == {"A", "B", "C", None}
    assert seen["banned"] == seen["overdue"] == {True, False}

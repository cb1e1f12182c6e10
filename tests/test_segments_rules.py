"""The pure dormancy rules (campaign.clients.rules): table-driven, no app."""
from datetime import date

import pytest

from campaign.clients import rules

BOUNDS = (30, 60, 90, 120)


@pytest.mark.parametrize("days, bucket", [
    (None, "never"), (0, "active"), (29, "active"), (30, "d1"), (59, "d1"), (60, "d2"),
    (89, "d2"), (90, "d3"), (119, "d3"), (120, "d3plus"), (4000, "d3plus"),
])
def test_bucket_for(days, bucket):
    assert rules.bucket_for(days, BOUNDS) == bucket


@pytest.mark.parametrize("n, tier", [(0, "never"), (1, "one_time"), (2, "regular"), (9, "regular")])
def test_tier_for(n, tier):
    assert rules.tier_for(n) == tier


@pytest.mark.parametrize("rank, n, cls", [
    (1, 10, "A"), (2, 10, "A"), (3, 10, "B"), (5, 10, "B"), (6, 10, "C"),
    (1, 1, "A"), (1, 3, "A"), (2, 3, "B"), (3, 3, "C"),
    (1, 5, "A"), (2, 5, "B"), (3, 5, "B"), (4, 5, "C"),
])
def test_value_class_for_is_ceil_of_the_share(rank, n, cls):
    assert rules.value_class_for(rank, n, (20, 50)) == cls


def test_value_class_ties_go_to_the_higher_class():
    spends = dict(zip("abcdefghij", [100, 90, 90, 80, 70, 70, 60, 50, 40, 30]))
    got = rules.value_classes(spends, (20, 50))
    assert [got[k] for k in "abcdefghij"] == ["A", "A", "A", "B", "B", "B", "C", "C", "C", "C"]


@pytest.mark.parametrize("days, gaps", [
    ([], []), (["2026-01-01"], []),
    (["2026-01-01", "2026-01-11", "2026-01-11", "2026-01-23"], [10, 12]),
    (["2026-01-23", "2026-01-01", "2026-01-11"], [10, 12]),
])
def test_visit_gaps_ignore_same_day_repeats(days, gaps):
    assert rules.visit_gaps([date.fromisoformat(d) for d in days]) == gaps


@pytest.mark.parametrize("gaps, halves", [([], None), ([7], 14), ([10, 12, 14], 24),
                                          ([9, 10], 19), ([14, 10, 20, 11], 25)])
def test_median_halves(gaps, halves):
    assert rules.median_halves(gaps) == halves


@pytest.mark.parametrize("bucket, visits, days, gaps, overdue", [
    ("active", 4, 18, [10, 12, 14], False),   # 18 = 1.5 × 12 is not more
    ("active", 4, 19, [10, 12, 14], True),
    ("active", 3, 14, [9, 10], False),        # 1.5 × 9.5 = 14.25
    ("active", 3, 15, [9, 10], True),
    ("active", 2, 29, [5], False),            # needs 3 visits
    ("d1", 9, 45, [10, 10], False),           # only active clients
    ("active", 3, 5, [], False),              # three visits on one day: no rhythm
])
def test_is_overdue(bucket, visits, days, gaps, overdue):
    assert rules.is_overdue(bucket, visits, days, gaps) is overdue


def test_parse_as_of():
    assert rules.parse_as_of(None) is None
    assert rules.parse_as_of(" ") is None
    assert rules.parse_as_of("2026-03-01") == date(2026, 3, 1)
    for bad in ("2026-02-30", "20260301", "01/03/2026", "2026-3-1", "yesterday"):
        with pytest.raises(ValueError):
            rules.parse_as_of(bad)


def test_bucket_labels_follow_the_bounds():
    assert rules.bucket_label("d1", BOUNDS) == "30–59 days"
    assert rules.bucket_label("d3plus", (20, 40, 60, 80)) == "80+ days"
    assert rules.bucket_label("active", BOUNDS) == "Active (< 30 days)"


def test_rollup_keeps_currencies_apart():
    stores = {1: {"code": "W", "name": "Warsaw", "currency": "PLN"},
              2: {"code": "T", "name": "Tokyo", "currency": "JPY"}}
    rows = [
        {"store_id": 1, "bucket": "d1", "tier": "regular", "clients": 2, "spend": 500, "overdue": 0, "banned": 1},
        {"store_id": 2, "bucket": "d1", "tier": "regular", "clients": 1, "spend": 9000, "overdue": 0, "banned": 0},
        {"store_id": 2, "bucket": "active", "tier": "regular", "clients": 3, "spend": 100, "overdue": 2, "banned": 0},
    ]
    ov = rules.rollup(rows, stores)
    assert ov.cells[("d1", "regular")].clients == 3
    assert ov.cells[("d1", "regular")].spend == {"PLN": 500, "JPY": 9000}
    assert ov.bucket_totals["active"].spend == {"JPY": 100}
    assert ov.total.clients == 6 and ov.overdue == 2 and ov.banned == 1
    assert [s.code for s in ov.stores] == ["W", "T"]
    assert ov.stores[1].total.spend == {"JPY": 9100}


def test_page_numbers():
    page = rules.Page(items=[1], page=2, per_page=50, total=101)
    assert (page.pages, page.has_prev, page.has_next) == (3, True, True)
    assert rules.Page([], 1, 50, 0).pages == 1


@pytest.mark.parametrize("amount, currency, text", [
    (4550, "PLN", "45.50 PLN"), (4550000, "PLN", "45\u2009500.00 PLN"), (123456789, "JPY", "123\u2009456\u2009789 JPY"),
    (0, "PLN", "0.00 PLN"), (None, "PLN", "—"), (-150000, "EUR", "-1\u2009500.00 EUR"),
])
def test_money_text(amount, currency, text):
    assert rules.money_text(amount, currency) == text

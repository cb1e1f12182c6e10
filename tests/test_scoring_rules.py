"""The pure arithmetic of SPEC §7: periods, rank order, competitions, the
difficulty adjustment and the lift interval."""
from __future__ import annotations

from datetime import date

import pytest

from campaign.scoring import rules


def test_period_parsing_and_bounds():
    p = rules.Period.parse("2026-12")
    assert (p.first, p.next, p.key, p.label) == (date(2026, 12, 1), date(2027, 1, 1), 202612, "2026-12")
    assert rules.Period.of_key(202602).next == date(2026, 3, 1)
    assert rules.Period.parse("2026-01").shifted(-1).label == "2025-12"
    for bad in ("2026-13", "2026-00", "26-01", "2026/01", "", None, "1999-12"):
        with pytest.raises(rules.PeriodError):
            rules.Period.parse(bad)


def row(code, conversions, reached, calls):
    return {"employee_code": code, "conversions": conversions, "reached": reached, "calls": calls}


def test_rank_order_is_conversions_then_visit_rate_then_fewer_calls_then_code():
    rows = rules.ranked([
        row("E05", 3, 10, 40),   # 30 %
        row("E04", 3, 6, 50),    # 50 %
        row("E03", 3, 6, 30),    # 50 %, fewer calls
        row("E02", 3, 6, 30),    # same as E03: the code decides
        row("E01", 4, 40, 90),   # most conversions, lowest rate
        row("E06", 0, 0, 5),     # nobody reached: rate 0
    ], "employee_code")
    assert [r["employee_code"] for r in rows] == ["E01", "E02", "E03", "E04", "E05", "E06"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[-1]["visit_rate"] == 0.0 and rows[1]["visit_rate"] == 0.5


def test_visit_rates_are_compared_exactly_not_as_rounded_floats():
    # 1/3 and 333333/1000000 round to the same 4 places but are not equal.
    rows = rules.ranked([row("E02", 333333, 1000000, 1), row("E01", 333333, 999999, 1)], "employee_code")
    assert [r["employee_code"] for r in rows] == ["E01", "E02"]


def test_competition_results():
    assert rules.competition_result({"conversions": 2, "reached": 4}, {"conversions": 1, "reached": 3}) == "a"
    assert rules.competition_result({"conversions": 1, "reached": 2}, {"conversions": 2, "reached": 4}) == "draw"
    assert rules.competition_result({"conversions": 0, "reached": 0}, {"conversions": 0, "reached": 5}) == "draw"
    assert rules.competition_result({"conversions": 0, "reached": 1}, {"conversions": 1, "reached": 9}) == "b"


def test_expected_conversions_follow_the_list_mix():
    segments = [
        {"staff_id": 1, "bucket": "d1", "value_class": "A", "items": 10, "converted": 5},
        {"staff_id": 2, "bucket": "d1", "value_class": "A", "items": 10, "converted": 3},
        {"staff_id": 2, "bucket": "d3plus", "value_class": "C", "items": 20, "converted": 1},
    ]
    rates = rules.segment_rates(segments)
    assert rates[("d1", "A")] == rules.Fraction(8, 20) and rates[("d3plus", "C")] == rules.Fraction(1, 20)
    assert rules.expected_conversions(segments[:1], rates) == pytest.approx(4.0)
    assert rules.expected_conversions(segments[1:], rates) == pytest.approx(4.0 + 1.0)


def test_lift_interval_matches_newcombes_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873–890, Table II example (a):
    # 56/70 against 48/80, method 10 interval 0.0524 to 0.3339.
    out = rules.lift_interval(56, 70, 48, 80)
    assert out["difference"] == pytest.approx(0.2, abs=1e-9)
    assert (round(out["low"], 4), round(out["high"], 4)) == (0.0524, 0.3339)
    assert out["significant"] and out["relative"] == pytest.approx(0.8 / 0.6 - 1)


def test_lift_with_empty_or_zero_groups():
    none = rules.lift_interval(0, 0, 0, 0)
    assert none["difference"] == 0 and not none["significant"] and none["relative"] is None
    zero = rules.lift_interval(3, 100, 0, 10)
    assert zero["relative"] is None and zero["low"] < 0 < zero["high"]

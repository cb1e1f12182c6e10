"""Pure campaign rules: the workflow, settings validation, the holdout draw and
the capacity maths of assignment, checked against brute-force oracles."""
from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.campaigns import capacity, rules


@pytest.mark.parametrize("current,new,ok", [
    ("draft", "active", True), ("draft", "paused", False), ("draft", "closed", False),
    ("active", "paused", True), ("paused", "active", True), ("active", "closed", True),
    ("paused", "closed", True), ("closed", "active", False), ("closed", "paused", False),
    ("active", "draft", False), ("paused", "draft", False), ("active", "active", False),
])
def test_status_workflow(current, new, ok):
    assert rules.may_transition(current, new) is ok


def test_parse_campaign_defaults_and_values():
    c = rules.parse_campaign({"name": " Spring ", "buckets": ["d1", "d2"], "holdout_share": 0.15,
                              "calling_hours": {"start": "09:30", "end": "18:00"}, "languages": "PL; ja",
                              "offers": ["free_trial"]})
    assert c.name == "Spring" and c.buckets == ["d1", "d2"] and c.holdout_bp == 1500
    assert (c.call_start, c.call_end) == (time(9, 30), time(18, 0))
    assert c.languages == ["pl", "ja"] and c.offers == ["free_trial"]
    d = rules.parse_campaign({"name": "x"})
    assert (d.max_attempts, d.retry_delay_hours, d.holdout_bp, d.attribution_window_days) == (3, 24, 1000, 30)
    assert (d.call_start, d.call_end) == (time(10), time(20))


def test_parse_campaign_reports_every_bad_field():
    with pytest.raises(rules.InputErrors) as exc:
        rules.parse_campaign({"name": "", "buckets": ["d9"], "holdout_share": 1.5, "max_attempts": 0,
                              "calling_hours": {"start": "21:00", "end": "20:00"}, "as_of": "2026-13-01",
                              "offers": ["free_beer"], "languages": ["english"], "retry_delay_hours": "x"})
    assert set(exc.value.errors) == {"name", "buckets", "holdout_share", "max_attempts", "calling_hours",
                                     "as_of", "offers", "languages", "retry_delay_hours"}
    with pytest.raises(rules.InputErrors) as exc:
        rules.parse_campaign({"name": "x", "calling_hours": {"start": "25:00"}})
    assert "calling_hours.start" in exc.value.errors
    with pytest.raises(rules.InputErrors):
        rules.parse_campaign({"name": "x", "holdout_share": 0.123456})
    with pytest.raises(rules.InputErrors):
        rules.parse_campaign(["not", "an", "object"])


def test_parse_quota_rows():
    rows = rules.parse_quota_rows([{"employee_code": "A1", "target": 10, "daily_cap": 5},
                                   {"employee_code": "A2", "target": 0, "absent": True}])
    assert rows == [{"employee_code": "A1", "target": 10, "daily_cap": 5, "absent": False},
                    {"employee_code": "A2", "target": 0, "daily_cap": None, "absent": True}]
    with pytest.raises(rules.InputErrors) as exc:
        rules.parse_quota_rows([{"employee_code": "A1", "target": -1}, {"employee_code": "A1"},
                                {"target": 3}, {"employee_code": "A3", "daily_cap": 0, "absent": "yes"}])
    assert set(exc.value.errors) == {"[1].target", "[2].employee_code", "[3].employee_code",
                                     "[4].daily_cap", "[4].absent"}


def test_holdout_hash_share_and_reproducibility():
    draws = [rules.holdout_hash(i, 12345) for i in range(1, 20001)]
    assert all(0 <= d < 10000 for d in draws)
    share = sum(d < 1000 for d in draws) / len(draws)
    assert 0.09 < share < 0.11
    assert draws == [rules.holdout_hash(i, 12345) for i in range(1, 20001)]
    other = [rules.holdout_hash(i, 54321) for i in range(1, 20001)]
    # A different seed draws a different sample (overlap near 10 % of 10 %).
    overlap = sum(a < 1000 and b < 1000 for a, b in zip(draws, other))
    assert overlap < 400


# ------------------------------------------------------------------ capacity

def _oracle_greedy(caps, speaks, order):
    """Client by client: place if the placed set plus this client still routes."""
    placed: dict = {}
    for lang in order:
        trial = dict(placed)
        trial[lang] = trial.get(lang, 0) + 1
        if capacity.feasible(caps, speaks, trial):
            placed = trial
        else:
            placed.setdefault(lang, 0)
    return placed


def _bins(order, size):
    bins = []
    for i in range(0, len(order), size):
        b = {}
        for lang in order[i:i + size]:
            b[lang] = b.get(lang, 0) + 1
        bins.append(b)
    return bins, (lambda i: order[i * size:(i + 1) * size])


instance = st.fixed_dictionaries({
    "caps": st.lists(st.integers(0, 6), min_size=1, max_size=5),
    "speaks": st.lists(st.sets(st.sampled_from("xyz"), min_size=1, max_size=3), min_size=5, max_size=5),
    "order": st.lists(st.sampled_from("xyzw"), min_size=0, max_size=40),
    "size": st.integers(1, 7),
})


@settings(max_examples=300, deadline=None)
@given(instance)
def test_greedy_by_priority_matches_client_by_client_oracle(inst):
    caps = {i: c for i, c in enumerate(inst["caps"])}
    speaks = {i: sorted(inst["speaks"][i]) for i in caps}
    order = inst["order"]
    bins, exact = _bins(order, inst["size"])
    got = capacity.greedy_by_priority(caps, speaks, bins, exact)
    want = _oracle_greedy(caps, speaks, order)
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}


@settings(max_examples=200, deadline=None)
@given(instance)
def test_balanced_split_carries_exactly_the_placed_counts(inst):
    caps = {i: c for i, c in enumerate(inst["caps"])}
    speaks = {i: sorted(inst["speaks"][i]) for i in caps}
    bins, exact = _bins(inst["order"], inst["size"])
    placed = capacity.greedy_by_priority(caps, speaks, bins, exact)
    split = capacity.balanced_split(caps, speaks, placed)
    for lang, n in placed.items():
        assert sum(v for (a, lg), v in split.items() if lg == lang) == n
    for agent, cap in caps.items():
        assert sum(v for (a, lg), v in split.items() if a == agent) <= cap
    for (agent, lang), v in split.items():
        assert lang in speaks[agent] and v > 0


def test_balanced_split_shares_load_in_proportion_to_quota():
    caps = {"a": 100, "b": 50, "c": 50}
    speaks = {"a": ["en"], "b": ["en"], "c": ["en"]}
    split = capacity.balanced_split(caps, speaks, {"en": 100})
    assert split == {("a", "en"): 50, ("b", "en"): 25, ("c", "en"): 25}


def test_greedy_reroutes_through_a_multilingual_agent():
    # Agent 0 speaks x and y, agent 1 only y. Order x, y, y: the first y goes
    # to agent 1, the second cannot be placed (agent 0 holds the x client).
    caps = {0: 1, 1: 1}
    speaks = {0: ["x", "y"], 1: ["y"]}
    order = ["y", "x", "y"]
    bins, exact = _bins(order, 3)
    assert capacity.greedy_by_priority(caps, speaks, bins, exact) == {"y": 1, "x": 1}


def test_forecast_shares_contested_agents_in_proportion_to_demand():
    caps = {"a": 100}
    speaks = {"a": ["en", "pl"]}
    got = capacity.placeable(caps, speaks, {"en": 50, "pl": 150})
    assert got == {"en": 25, "pl": 75}
    assert capacity.placeable({"a": 10, "b": 10}, {"a": ["en"], "b": ["pl"]}, {"en": 5, "pl": 30}) == \
        {"en": 5, "pl": 10}
    assert capacity.placeable({"a": 10}, {"a": ["en"]}, {"ja": 4}) == {"ja": 0}


@settings(max_examples=100, deadline=None)
@given(instance)
def test_forecast_places_the_maximum(inst):
    caps = {i: c for i, c in enumerate(inst["caps"])}
    speaks = {i: sorted(inst["speaks"][i]) for i in caps}
    demand = {}
    for lang in inst["order"]:
        demand[lang] = demand.get(lang, 0) + 1
    got = capacity.placeable(caps, speaks, demand)
    assert capacity.feasible(caps, speaks, got)
    assert sum(got.values()) == capacity._flow(caps, speaks, demand)[0]
    assert all(0 <= got[k] <= demand[k] for k in demand)

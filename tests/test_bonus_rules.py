"""SPEC §8's bonus rules on integer cents: table-driven cases and properties
(Hypothesis): shares always sum to the pool, totals are never negative, ties
are symmetric."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.bonuses import rules
from campaign.bonuses.rules import Agent, Plan, Result


def agent(code, team="T", calls=10, reached=10, conversions=0):
    return Agent(code, team, calls, reached, conversions)


# ------------------------------------------------------------------ team pool

def test_the_team_pool_is_split_equally_and_leftover_cents_go_by_conversions_then_code():
    plan = Plan(team_per_visit=1000)  # 10.00 a conversion
    team = [agent("E03", conversions=1), agent("E01", conversions=1), agent("E02", conversions=4)]
    shares = rules.team_shares(team, {"T": 1}, plan)   # 10.00 among 3
    assert shares == {"E02": 334, "E01": 333, "E03": 333}
    assert sum(shares.values()) == 1000


def test_only_eligible_members_share_the_pool():
    plan = Plan(team_per_visit=500, min_calls=20)
    team = [agent("E01", calls=19, conversions=3), agent("E02", calls=20), agent("E03", calls=40)]
    assert rules.team_shares(team, {"T": 3}, plan) == {"E02": 750, "E03": 750}
    assert rules.team_shares(team[:1], {"T": 3}, plan) == {}, "nobody eligible: nobody paid"


# ------------------------------------------------------------------ rank rewards

def test_rank_rewards_in_spec_order_and_places_beyond_the_list_pay_nothing():
    plan = Plan(rank_rewards=(50000, 30000, 10000))
    board = [agent("E01", reached=10, conversions=5), agent("E02", reached=5, conversions=5),
             agent("E03", reached=10, conversions=3), agent("E04", reached=10, conversions=2),
             agent("E05", reached=10, conversions=0)]
    got = rules.rank_rewards(board, plan)
    assert got == {"E02": (50000, (1,)), "E01": (30000, (2,)), "E03": (10000, (3,)), "E04": (0, (4,))}
    assert "E05" not in got, "no conversion, no rank reward"


def test_a_tie_on_conversions_and_visit_rate_shares_the_places_it_occupies():
    plan = Plan(rank_rewards=(50000, 30000, 10000))
    # E02 and E03 tie on 4 conversions at 4/8; their calls differ, which does not break the tie.
    board = [agent("E01", reached=5, conversions=5), agent("E03", calls=30, reached=8, conversions=4),
             agent("E02", calls=10, reached=8, conversions=4), agent("E04", reached=10, conversions=1)]
    got = rules.rank_rewards(board, plan)
    assert got["E01"] == (50000, (1,))
    assert got["E02"] == (20000, (2, 3)) and got["E03"] == (20000, (2, 3)), "30,000 + 10,000 shared"
    assert got["E04"] == (0, (4,))


def test_a_tie_across_the_end_of_the_list_shares_what_is_left_with_cents_by_code():
    plan = Plan(rank_rewards=(50000, 10001))
    board = [agent("E09", reached=4, conversions=2), agent("E01", reached=4, conversions=2),
             agent("E05", reached=4, conversions=2)]
    got = rules.rank_rewards(board, plan)
    assert {c: v[0] for c, v in got.items()} == {"E01": 20001, "E05": 20000, "E09": 20000}


# ------------------------------------------------------------------ competitions, floor, cap

def test_competitions_floor_and_cap():
    plan = Plan(team_per_visit=1000, rank_rewards=(5000,), competition_reward=2000, competition_penalty=3000,
                cap=6000)
    agents = [agent("E01", team="A", reached=2, conversions=2), agent("E02", team="B", reached=2, conversions=0),
              agent("E03", team="B", reached=2, conversions=1)]
    results = [Result(winners=("E01",), losers=("E02",)), Result()]  # a draw moves nothing
    lines = {ln.employee_code: ln for ln in rules.statements(agents, {"A": 2, "B": 1}, results, plan)}
    e1, e2, e3 = lines["E01"], lines["E02"], lines["E03"]
    assert (e1.team_share, e1.rank_reward, e1.competition) == (2000, 5000, 2000)
    assert (e1.total, e1.capped) == (6000, True), "9,000 capped at 6,000"
    assert (e2.team_share, e2.competition, e2.total, e2.floored) == (500, -3000, 0, True), "never below 0"
    assert (e3.team_share, e3.rank_reward, e3.total) == (500, 0, 500)


def test_adjustments_come_after_the_cap_and_a_clawback_beyond_the_month_is_carried():
    plan = Plan(team_per_visit=1000, cap=1500)
    agents = [agent("E01", team="A", reached=2, conversions=2), agent("E02", team="A", reached=2, conversions=0)]
    lines = {ln.employee_code: ln for ln in rules.statements(agents, {"A": 4}, [], plan,
                                                               adjustments={"E01": 700, "E02": -2500})}
    e1, e2 = lines["E01"], lines["E02"]
    assert (e1.team_share, e1.own, e1.capped, e1.adjustments, e1.total, e1.carried) == (2000, 1500, True, 700, 2200, 0), \
        "last month's correction was capped in its own month; this month's cap does not cut it again"
    assert (e2.own, e2.adjustments, e2.total, e2.carried) == (1500, -2500, 0, 1000), "1,000 still owed: carried"


# ------------------------------------------------------------------ properties

codes = st.lists(st.text("ABCDEFG0123456789", min_size=2, max_size=5), min_size=1, max_size=12, unique=True)


@given(amount=st.integers(0, 10**9), members=codes)
def test_a_split_always_sums_to_the_amount_and_differs_by_at_most_a_cent(amount, members):
    shares = rules.split(amount, members, lambda c: c)
    assert sum(shares.values()) == amount
    assert max(shares.values()) - min(shares.values()) <= 1


@st.composite
def months(draw):
    names = draw(codes)
    agents = []
    for code in names:
        reached = draw(st.integers(0, 30))
        agents.append(Agent(code, draw(st.sampled_from(["A", "B", None])), draw(st.integers(0, 60)), reached,
                            draw(st.integers(0, reached))))
    plan = Plan(team_per_visit=draw(st.integers(0, 5000)),
                rank_rewards=tuple(draw(st.lists(st.integers(0, 100000), max_size=5))),
                min_calls=draw(st.integers(0, 30)), competition_reward=draw(st.integers(0, 5000)),
                competition_penalty=draw(st.integers(0, 5000)),
                cap=draw(st.one_of(st.none(), st.integers(0, 200000))))
    team_conv = {t: draw(st.integers(0, 50)) for t in ("A", "B")}
    results = []
    for _ in range(draw(st.integers(0, 3))):
        pair = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True)) if len(names) > 1 else []
        if pair and draw(st.booleans()):
            results.append(Result(winners=(pair[0],), losers=(pair[1],)))
    return agents, team_conv, results, plan


@settings(max_examples=300, deadline=None)
@given(months())
def test_totals_are_never_negative_pools_are_paid_in_full_and_ties_are_symmetric(month):
    agents, team_conv, results, plan = month
    lines = rules.statements(agents, team_conv, results, plan)
    assert all(ln.total >= 0 and ln.carried == 0 for ln in lines)
    assert all(plan.cap is None or ln.total <= plan.cap for ln in lines)
    for team, n in team_conv.items():
        members = [a for a in agents if a.team == team and rules.eligible(a, plan)]
        paid = sum(ln.team_share for ln in lines if ln.employee_code in {a.employee_code for a in members})
        assert paid == (plan.team_per_visit * n if members else 0)
    ranks = rules.rank_rewards(agents, plan)
    ranked = [a for a in agents if rules.eligible(a, plan) and a.conversions >= 1]
    paid_places = min(len(ranked), len(plan.rank_rewards))
    assert sum(v[0] for v in ranks.values()) == sum(plan.rank_rewards[:paid_places])
    by_code = {a.employee_code: a for a in agents}
    for code, (cents, places) in ranks.items():
        for other, (cents2, places2) in ranks.items():
            a, b = by_code[code], by_code[other]
            if (a.conversions, a.visit_rate) == (b.conversions, b.visit_rate):
                assert places == places2 and abs(cents - cents2) <= 1, "tied agents share alike"

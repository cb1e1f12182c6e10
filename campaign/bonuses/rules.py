"""The bonus arithmetic of SPEC §8 as pure functions on integer cents.

No database, no floats: money is integer minor units, visit rates are exact
fractions. The bonus run (issue 6) gathers each agent's month (outcomes,
conversions credited, team, competitions) and calls these.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class Agent:
    """One agent's month as the rules need it."""

    employee_code: str
    team: str | None
    calls: int          # outcomes logged in the month (eligibility)
    reached: int        # distinct clients reached (SPEC §7, visit rate)
    conversions: int    # credited to the agent, by visit month

    @property
    def visit_rate(self) -> Fraction:
        return Fraction(self.conversions, self.reached) if self.reached else Fraction(0)


@dataclass(frozen=True)
class Plan:
    """A month's bonus plan (SPEC §8)."""

    team_per_visit: int = 0
    rank_rewards: tuple[int, ...] = ()
    min_calls: int = 0
    competition_reward: int = 0
    competition_penalty: int = 0
    cap: int | None = None


@dataclass(frozen=True)
class Result:
    """A competition's outcome: the members of the winning and losing sides
    (empty both for a draw)."""

    winners: tuple[str, ...] = ()
    losers: tuple[str, ...] = ()


@dataclass
class Line:
    """One agent's statement: each component and the total, in cents."""

    employee_code: str
    team_share: int = 0
    rank_reward: int = 0
    competition: int = 0
    adjustments: int = 0
    total: int = 0
    capped: bool = False
    floored: bool = False
    place: tuple[int, ...] = field(default_factory=tuple)  # places occupied (shared when tied)


def split(amount: int, members: list[str], order_key) -> dict[str, int]:
    """``amount`` cents split equally among ``members``; the leftover cents go
    one each to the first members in ``order_key`` order. Always sums to
    ``amount`` (every member gets the same or one cent more)."""
    if amount < 0:
        raise ValueError("a split amount is never negative")
    if not members:
        return {}
    share, left = divmod(amount, len(members))
    ordered = sorted(members, key=order_key)
    return {m: share + (1 if i < left else 0) for i, m in enumerate(ordered)}


def eligible(agent: Agent, plan: Plan) -> bool:
    return agent.calls >= plan.min_calls


def team_shares(agents: list[Agent], team_conversions: dict[str, int], plan: Plan) -> dict[str, int]:
    """Each team's pool = ``team_per_visit`` × the conversions credited to the
    team (team at the time of the call), split equally among its eligible
    members; leftover cents by conversions desc, then employee code. A team
    with no eligible member pays nobody."""
    by_code = {a.employee_code: a for a in agents}
    out: dict[str, int] = {}
    for team, n in sorted(team_conversions.items()):
        members = [a.employee_code for a in agents if a.team == team and eligible(a, plan)]
        out.update(split(plan.team_per_visit * n, members,
                         lambda code: (-by_code[code].conversions, code)))
    return out


def rank_key(a: Agent):
    """SPEC §7 order: conversions desc, visit rate desc, calls asc, employee code."""
    return (-a.conversions, -a.visit_rate, a.calls, a.employee_code)


def rank_rewards(agents: list[Agent], plan: Plan) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Rank rewards among eligible agents with at least one conversion:
    ``{code: (cents, places occupied)}``. Agents tied on conversions *and*
    visit rate share the sum of the places they occupy equally (leftover cents
    by employee code); places beyond the list pay nothing."""
    field_ = sorted((a for a in agents if eligible(a, plan) and a.conversions >= 1), key=rank_key)
    out: dict[str, tuple[int, tuple[int, ...]]] = {}
    place = 1
    i = 0
    while i < len(field_):
        tie = [field_[i]]
        while i + len(tie) < len(field_) and \
                (field_[i + len(tie)].conversions, field_[i + len(tie)].visit_rate) == \
                (tie[0].conversions, tie[0].visit_rate):
            tie.append(field_[i + len(tie)])
        places = tuple(range(place, place + len(tie)))
        pot = sum(plan.rank_rewards[p - 1] for p in places if p <= len(plan.rank_rewards))
        shares = split(pot, [a.employee_code for a in tie], lambda code: code)
        for a in tie:
            out[a.employee_code] = (shares[a.employee_code], places)
        place += len(tie)
        i += len(tie)
    return out


def competition_amounts(results: list[Result], plan: Plan) -> dict[str, int]:
    """Each competition pays every winner the reward and charges every loser
    the penalty; a draw moves nothing."""
    out: dict[str, int] = {}
    for r in results:
        for code in r.winners:
            out[code] = out.get(code, 0) + plan.competition_reward
        for code in r.losers:
            out[code] = out.get(code, 0) - plan.competition_penalty
    return out


def statements(agents: list[Agent], team_conversions: dict[str, int], results: list[Result], plan: Plan,
               adjustments: dict[str, int] | None = None) -> list[Line]:
    """Every agent's line: team share + rank reward + competition +
    adjustments, never below 0, then at most ``cap``. Sorted by employee code."""
    adjustments = adjustments or {}
    teams = team_shares(agents, team_conversions, plan)
    ranks = rank_rewards(agents, plan)
    comps = competition_amounts(results, plan)
    codes = sorted({a.employee_code for a in agents} | set(comps) | set(adjustments))
    lines = []
    for code in codes:
        reward, places = ranks.get(code, (0, ()))
        line = Line(code, team_share=teams.get(code, 0), rank_reward=reward, competition=comps.get(code, 0),
                    adjustments=adjustments.get(code, 0), place=places)
        raw = line.team_share + line.rank_reward + line.competition + line.adjustments
        total = max(0, raw)
        line.floored = raw < 0
        if plan.cap is not None and total > plan.cap:
            total, line.capped = plan.cap, True
        line.total = total
        lines.append(line)
    return lines

"""The bonus arithmetic of SPEC §8 as pure functions on integer cents.

No database, no floats: money is integer minor units, visit rates are exact
fractions. The bonus run (issue 6) gathers each agent's month (outcomes,
conversions credited, team, competitions) and calls these.
"""
from __future__ import annotations

import re
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
    """One agent's statement: each component and the total, in cents.

    ``own`` is the month's own amount (team share + rank reward +
    competition), floored at 0 and capped; ``total`` = ``own`` +
    ``adjustments`` (corrections of locked runs), floored at 0; what a
    clawback could not recover this month is ``carried`` to the next run."""

    employee_code: str
    team_share: int = 0
    rank_reward: int = 0
    competition: int = 0
    adjustments: int = 0
    own: int = 0
    total: int = 0
    carried: int = 0
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


def own_total(team_share: int, rank_reward: int, competition: int, plan: Plan) -> tuple[int, bool, bool]:
    """The month's own amount: never below 0, then at most ``cap``.
    Returns (amount, floored, capped)."""
    raw = team_share + rank_reward + competition
    amount = max(0, raw)
    capped = plan.cap is not None and amount > plan.cap
    return (plan.cap if capped else amount), raw < 0, capped


def statements(agents: list[Agent], team_conversions: dict[str, int], results: list[Result], plan: Plan,
               adjustments: dict[str, int] | None = None) -> list[Line]:
    """Every agent's line, sorted by employee code: the month's own amount
    (team share + rank reward + competition, floored at 0 and capped), plus
    ``adjustments`` (corrections of earlier, locked months: they were capped
    in their own month), floored at 0 again; a shortfall is ``carried``."""
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
        line.own, line.floored, line.capped = own_total(line.team_share, line.rank_reward, line.competition, plan)
        raw = line.own + line.adjustments
        line.total, line.carried = max(0, raw), max(0, -raw)
        lines.append(line)
    return lines


# ------------------------------------------------------------------ plan input

PLAN_FIELDS = ("currency", "team_per_visit", "rank_rewards", "min_calls", "competition_reward",
               "competition_penalty", "cap")
MAX_RANK_REWARDS = 50
MAX_AMOUNT = 10**12  # minor units: far above any monthly bonus, below any integer overflow
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class PlanErrors(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _amount(value, errors: dict, name: str, *, optional: bool = False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = "must be a whole number of minor units (cents), e.g. 50000 for 500.00"
        return None
    if value < 0 or value > MAX_AMOUNT:
        errors[name] = f"must be between 0 and {MAX_AMOUNT}"
        return None
    return value


def parse_plan(data, currencies: set[str]) -> tuple[str, Plan]:
    """A plan body of SPEC §9 → (currency, Plan); every field checked, all
    errors at once (``PlanErrors``). ``currencies``: those the chain's stores use."""
    if not isinstance(data, dict):
        raise PlanErrors({"body": "send a JSON object with " + ", ".join(PLAN_FIELDS)})
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - set(PLAN_FIELDS) - {"version"})
    if unknown:
        errors[unknown[0]] = "is not a field of a bonus plan (" + ", ".join(PLAN_FIELDS) + ")"
    currency = data.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        errors["currency"] = "is required: an ISO 4217 code such as PLN or JPY"
    elif currencies and currency not in currencies:
        errors["currency"] = f"{currency} is not a currency of any store ({', '.join(sorted(currencies))})"
    team = _amount(data.get("team_per_visit", 0), errors, "team_per_visit")
    rewards = data.get("rank_rewards", [])
    if not isinstance(rewards, list) or len(rewards) > MAX_RANK_REWARDS:
        errors["rank_rewards"] = f"must be a list of at most {MAX_RANK_REWARDS} amounts, 1st place first"
        rewards = []
    else:
        checked = {}
        rewards = [_amount(r, checked, "rank_rewards") for r in rewards]
        if checked:
            errors["rank_rewards"] = "each place's reward " + checked["rank_rewards"]
    min_calls = data.get("min_calls", 0)
    if isinstance(min_calls, bool) or not isinstance(min_calls, int) or not 0 <= min_calls <= 100000:
        errors["min_calls"] = "must be a whole number of calls from 0 to 100000"
    reward = _amount(data.get("competition_reward", 0), errors, "competition_reward")
    penalty = _amount(data.get("competition_penalty", 0), errors, "competition_penalty")
    cap = _amount(data.get("cap"), errors, "cap", optional=True)
    if errors:
        raise PlanErrors(errors)
    return currency, Plan(team_per_visit=team, rank_rewards=tuple(rewards), min_calls=min_calls,
                          competition_reward=reward, competition_penalty=penalty, cap=cap)

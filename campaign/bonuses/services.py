"""Bonus plan use-cases: read and replace a month's plan (audited). Flush, never commit."""
from __future__ import annotations

from sqlalchemy import select

from ..accounts.models import Store
from ..core import audit, clock
from ..core.errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..scoring.rules import Period
from . import rules
from .models import BonusPlan


def plan_json(plan: BonusPlan) -> dict:
    return {"period": Period.of_key(plan.month).label, "currency": plan.currency,
            "team_per_visit": plan.team_per_visit, "rank_rewards": list(plan.rank_rewards or []),
            "min_calls": plan.min_calls, "competition_reward": plan.competition_reward,
            "competition_penalty": plan.competition_penalty, "cap": plan.cap, "version": plan.version,
            "updated_at": plan.updated_at.isoformat() + "Z"}


def get_plan(period: Period) -> BonusPlan:
    plan = db.session.get(BonusPlan, period.key)
    if plan is None:
        raise NotFound(f"no bonus plan for {period.label} yet")
    return plan


def put_plan(period: Period, data, actor_id: int | None, *, version=None) -> tuple[BonusPlan, bool]:
    """Create or replace the month's plan; returns (plan, created). A stale
    ``version`` (the one the editor read) is a 409."""
    currencies = set(db.session.scalars(select(Store.currency).distinct()))
    try:
        currency, parsed = rules.parse_plan(data, currencies)
    except rules.PlanErrors as exc:
        first = next(iter(exc.errors.items()))
        raise ValidationError(f"{first[0]}: {first[1]}" if len(exc.errors) == 1
                              else f"{len(exc.errors)} fields need attention", details=exc.errors) from None
    plan = db.session.get(BonusPlan, period.key)
    created = plan is None
    if created:
        plan = BonusPlan(month=period.key)
        db.session.add(plan)
    elif version is not None and str(version) != str(plan.version):
        raise Conflict(f"the {period.label} plan was changed meanwhile (version {plan.version}); reload it")
    plan.currency = currency
    plan.team_per_visit, plan.rank_rewards = parsed.team_per_visit, list(parsed.rank_rewards)
    plan.min_calls, plan.cap = parsed.min_calls, parsed.cap
    plan.competition_reward, plan.competition_penalty = parsed.competition_reward, parsed.competition_penalty
    plan.updated_by, plan.updated_at = actor_id, clock.utcnow_naive()
    db.session.flush()
    audit.record("bonus_plan.put", actor_id=actor_id, target=f"bonus_plan:{period.label}",
                 created=created, **{k: (list(v) if isinstance(v, tuple) else v)
                                     for k, v in plan_json(plan).items() if k in rules.PLAN_FIELDS})
    return plan, created

"""Use-cases of scoring: read a leaderboard, hold competitions.

Every read first works off the marks (``scores.refresh``), so what it shows
includes every call logged and every visit imported before it; that refresh
commits its own work. Competition changes flush, never commit.
"""
from __future__ import annotations

from sqlalchemy import and_, or_, select

from ..accounts.models import Staff, Team
from ..campaigns.models import Campaign
from ..core import audit, clock
from ..core.errors import Conflict, NotFound, ValidationError
from ..core.sql import MAX_ID
from ..extensions import db
from . import queries, rules, scores
from .models import COMPETITION_KINDS, Competition


def check_params(args, allowed: tuple[str, ...]) -> None:
    """A misspelt parameter is a 422 rather than silently ignored."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown parameter {unknown[0]!r}: use {', '.join(allowed)}",
                              details={p: "is not a parameter" for p in unknown})


def period_arg(text: str | None, *, required: bool = False) -> rules.Period | None:
    if text is None or text == "":
        if required:
            raise ValidationError("period: say which month, as YYYY-MM", details={"period": "is required"})
        return None
    try:
        return rules.Period.parse(text)
    except rules.PeriodError as exc:
        raise ValidationError(f"period: {exc}", details={"period": str(exc)}) from None


def campaign_arg(value) -> Campaign | None:
    if value is None or value == "":
        return None
    try:
        cid = int(value)
    except (TypeError, ValueError):
        raise ValidationError("campaign: give the campaign's id (a number)",
                              details={"campaign": "is not a number"}) from None
    camp = db.session.get(Campaign, cid) if 0 < cid <= MAX_ID else None
    if camp is None:
        raise NotFound(f"no campaign {cid}")
    return camp


def by_arg(value: str | None) -> str:
    value = value or "agent"
    if value not in queries.BY:
        raise ValidationError("by: agent or team", details={"by": "must be agent or team"})
    return value


def board(*, campaign: Campaign | None, period: rules.Period | None, by: str) -> list[dict]:
    scores.refresh()
    return queries.leaderboard(campaign_id=campaign.id if campaign else None, period=period, by=by)


# ------------------------------------------------------------------ competitions

def _side_ids(kind: str, names: list[str]) -> list[int]:
    """Employee codes (agents) or team names → ids, in order; unknown ones are a 422."""
    if kind == "agent":
        found = dict(db.session.execute(select(Staff.employee_code, Staff.id)
                                        .where(Staff.employee_code.in_(names))).all())
    else:
        found = dict(db.session.execute(select(Team.name, Team.id).where(Team.name.in_(names))).all())
    errors = {}
    for field, name in zip(("side_a", "side_b"), names):
        if name not in found:
            errors[field] = (f"no agent with employee code {name!r}" if kind == "agent"
                             else f"no team named {name!r}")
    if errors:
        raise ValidationError(next(iter(errors.values())), details=errors)
    return [found[n] for n in names]


def create_competition(data, actor_id: int | None) -> Competition:
    """``{"period", "kind": agent/team, "side_a", "side_b", "name"?}``."""
    if not isinstance(data, dict):
        raise ValidationError("send a JSON object with period, kind, side_a and side_b")
    errors = {}
    try:
        period = rules.Period.parse(data.get("period"))
    except rules.PeriodError as exc:
        errors["period"], period = str(exc), None
    kind = data.get("kind")
    if kind not in COMPETITION_KINDS:
        errors["kind"] = "must be agent or team"
    sides = []
    for field in ("side_a", "side_b"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            errors[field] = "is required: an employee code (agents) or a team name (teams)"
        else:
            sides.append(value.strip())
    if len(sides) == 2 and sides[0] == sides[1]:
        errors["side_b"] = "must differ from side_a: a competition has two sides"
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        errors["name"] = "must be text of at most 200 characters"
    if errors:
        first = next(iter(errors.items()))
        raise ValidationError(f"{first[0]}: {first[1]}" if len(errors) == 1
                              else f"{len(errors)} fields need attention", details=errors)
    a, b = _side_ids(kind, sides)
    clash = db.session.scalar(select(Competition.id).where(
        Competition.month == period.key, Competition.kind == kind,
        or_(and_(Competition.side_a == a, Competition.side_b == b),
            and_(Competition.side_a == b, Competition.side_b == a))))
    if clash is not None:
        raise Conflict(f"these two already compete in {period.label} (competition {clash})")
    comp = Competition(month=period.key, kind=kind, side_a=a, side_b=b, name=(name or "").strip() or None,
                       created_by=actor_id, created_at=clock.utcnow_naive())
    db.session.add(comp)
    db.session.flush()
    audit.record("competition.create", actor_id=actor_id, target=f"competition:{comp.id}",
                 period=period.label, kind=kind, side_a=sides[0], side_b=sides[1])
    return comp


def delete_competition(comp_id: int, actor_id: int | None) -> None:
    comp = db.session.get(Competition, comp_id)
    if comp is None:
        raise NotFound(f"no competition {comp_id}")
    audit.record("competition.delete", actor_id=actor_id, target=f"competition:{comp.id}",
                 period=rules.Period.of_key(comp.month).label, kind=comp.kind)
    db.session.delete(comp)
    db.session.flush()


def competitions(period: rules.Period | None = None, *, refresh: bool = True,
                 competition_id: int | None = None) -> list[dict]:
    """Competitions (of a month, or all), each with both sides' numbers and
    the result: ``winner`` "a"/"b"/"draw" ("draw" too while nobody has been
    reached). A fixed number of statements."""
    if refresh:
        scores.refresh()
    q = select(Competition).order_by(Competition.month.desc(), Competition.id)
    if period is not None:
        q = q.where(Competition.month == period.key)
    if competition_id is not None:
        q = q.where(Competition.id == competition_id)
    comps = list(db.session.scalars(q))
    if not comps:
        return []
    staff_ids = {s for c in comps if c.kind == "agent" for s in (c.side_a, c.side_b)}
    team_ids = {s for c in comps if c.kind == "team" for s in (c.side_a, c.side_b)}
    labels = {("agent", i): (code, name) for i, code, name in db.session.execute(
        select(Staff.id, Staff.employee_code, Staff.name).where(Staff.id.in_(staff_ids)))} if staff_ids else {}
    if team_ids:
        labels.update({("team", i): (name, name) for i, name in db.session.execute(
            select(Team.id, Team.name).where(Team.id.in_(team_ids)))})
    numbers: dict = {}
    for kind in COMPETITION_KINDS:
        for month in {c.month for c in comps if c.kind == kind}:
            ids = [s for c in comps if c.kind == kind and c.month == month for s in (c.side_a, c.side_b)]
            for sid, row in queries.side_numbers(kind, ids, rules.Period.of_key(month)).items():
                numbers[(kind, month, sid)] = row
    out = []
    for c in comps:
        sides = []
        for sid in (c.side_a, c.side_b):
            row = dict(numbers[(c.kind, c.month, sid)])
            code, name = labels.get((c.kind, sid), (str(sid), str(sid)))
            row.update(key=code, name=name,
                       visit_rate=round(float(rules.visit_rate(row["conversions"], row["reached"])), 4))
            sides.append(row)
        out.append({"id": c.id, "period": rules.Period.of_key(c.month).label, "kind": c.kind, "name": c.name,
                    "side_a": sides[0], "side_b": sides[1],
                    "winner": rules.competition_result(sides[0], sides[1])})
    return out

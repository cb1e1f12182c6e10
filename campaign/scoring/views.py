"""Leaderboard, wall screen and competition pages (SCREENS.md "Everyone — leaderboards").

The leaderboard page renders its live part from one template fragment; the
page's script fetches ``/leaderboard/live`` with the same query string every
20 s and swaps it in, so the numbers move without a reload.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import roles_required
from ..accounts.models import Staff, StaffRole, Team
from ..core import clock
from ..core.errors import AppError
from ..extensions import db
from . import queries, rules, services

bp = Blueprint("scoring", __name__)

EVERYONE = ("agent", "manager", "payroll", "admin")
REFRESH_SECONDS = 20


def _this_month() -> rules.Period:
    return rules.Period.containing(clock.now().date())


def _scope(errors: list) -> dict:
    """campaign, period, by, view from the query string; a bad value is
    reported and replaced by the default (this month, all campaigns, agents)."""
    args = request.args
    try:
        camp = services.campaign_arg(args.get("campaign"))
    except AppError as exc:
        errors.append(exc.message)
        camp = None
    period = None
    if args.get("period") != "all":
        try:
            period = services.period_arg(args.get("period")) or (None if camp else _this_month())
        except AppError as exc:
            errors.append(exc.message)
            period = _this_month()
    by = args.get("by") if args.get("by") in queries.BY else "agent"
    view = "adjusted" if args.get("view") == "adjusted" and camp is not None and by == "agent" else "board"
    return {"campaign": camp, "period": period, "by": by, "view": view}


def _trend_chart(days: list[dict], period: rules.Period | None) -> dict:
    """Columns of conversions and a line of calls per day, as SVG coordinates."""
    if not days:
        return {"bars": [], "line": "", "width": 0, "height": 0}
    if period is not None:
        span = (period.next - period.first).days
        index = {d: i for i, d in enumerate((date.fromordinal(period.first.toordinal() + i).isoformat()
                                              for i in range(span)))}
    else:
        first = date.fromisoformat(days[0]["day"])
        span = (date.fromisoformat(days[-1]["day"]) - first).days + 1
        index = {date.fromordinal(first.toordinal() + i).isoformat(): i for i in range(span)}
    step, height = 18, 120
    top_conv = max(1, max(d["conversions"] for d in days))
    top_calls = max(1, max(d["calls"] for d in days))
    bars, points = [], []
    for d in days:
        i = index.get(d["day"])
        if i is None:
            continue
        h = round(d["conversions"] / top_conv * (height - 20))
        bars.append({"x": i * step + 3, "y": height - h, "h": h, "w": step - 6, **d})
        points.append((i * step + step / 2, height - round(d["calls"] / top_calls * (height - 20))))
    return {"bars": bars, "line": " ".join(f"{x:.0f},{y}" for x, y in sorted(points)),
            "width": span * step, "height": height, "top_conv": top_conv, "top_calls": top_calls,
            "first": min(index, key=index.get), "last": max(index, key=index.get)}


def _live_context(scope: dict) -> dict:
    camp, period, by = scope["campaign"], scope["period"], scope["by"]
    rows = services.board(campaign=camp, period=period, by=by)
    if scope["view"] == "adjusted":
        rows = queries.adjusted(camp.id, rows)
    days = queries.trend(campaign_id=camp.id if camp else None, period=period)
    comps = services.competitions(period or _this_month(), refresh=False)
    top = max([r["conversions"] for r in rows] or [0])
    return {"rows": rows, "scope": scope, "trend": _trend_chart(days, period), "days": days,
            "competitions": comps, "top": top, "segments": queries.segment_table(camp.id)
            if scope["view"] == "adjusted" else [], "me": current_user.id,
            "my_team": current_user.team.name if current_user.team else None,
            "updated": clock.now().strftime("%H:%M:%S UTC")}


def _periods(scope: dict) -> list[str]:
    months = queries.active_months()
    this = _this_month().label
    if this not in months:
        months.insert(0, this)
    chosen = scope["period"].label if scope["period"] else None
    if chosen and chosen not in months:
        months.append(chosen)
    return sorted(months, reverse=True)


@bp.get("/leaderboard")
@roles_required(*EVERYONE)
def leaderboard():
    errors: list = []
    scope = _scope(errors)
    live = _live_context(scope)
    return render_template("scoring/leaderboard.html", errors=errors, campaigns=queries.launched_campaigns(),
                           periods=_periods(scope), refresh=REFRESH_SECONDS, **live), 422 if errors else 200


@bp.get("/leaderboard/live")
@roles_required(*EVERYONE)
def live():
    errors: list = []
    scope = _scope(errors)
    return render_template("scoring/_live.html", **_live_context(scope)), 422 if errors else 200


@bp.get("/leaderboard/me.json")
@roles_required(*EVERYONE)
def my_rank():
    """The signed-in agent's place this month (the call workspace shows it):
    ``{"period", "rank", "of", "conversions"}``; rank null before their first call."""
    period = _this_month()
    rows = services.board(campaign=None, period=period, by="agent")
    mine = next((r for r in rows if r["staff_id"] == current_user.id), None)
    return jsonify({"period": period.label, "rank": mine["rank"] if mine else None, "of": len(rows),
                    "conversions": mine["conversions"] if mine else 0})


@bp.get("/leaderboard/wall")
@roles_required(*EVERYONE)
def wall():
    """The TV in the call room: large, dark, no controls, refreshes itself."""
    errors: list = []
    scope = _scope(errors)
    return render_template("scoring/wall.html", **_wall_context(scope), refresh=REFRESH_SECONDS)


@bp.get("/leaderboard/wall/live")
@roles_required(*EVERYONE)
def wall_live():
    errors: list = []
    scope = _scope(errors)
    return render_template("scoring/_wall_live.html", **_wall_context(scope))


def _wall_context(scope: dict) -> dict:
    camp, period = scope["campaign"], scope["period"]
    agents = services.board(campaign=camp, period=period, by="agent")
    teams = queries.leaderboard(campaign_id=camp.id if camp else None, period=period, by="team")
    comps = services.competitions(period or _this_month(), refresh=False)
    return {"agents": agents[:10], "teams": teams[:6], "competitions": comps, "scope": scope,
            "total": sum(r["conversions"] for r in agents), "updated": clock.now().strftime("%H:%M")}


# ------------------------------------------------------------------ competitions

def _sides() -> dict:
    agents = db.session.execute(
        select(Staff.employee_code, Staff.name).join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(StaffRole.role == "agent", Staff.active.is_(True)).order_by(Staff.employee_code)).all()
    teams = db.session.scalars(select(Team.name).order_by(Team.name)).all()
    return {"agents": agents, "teams": teams}


@bp.route("/competitions", methods=["GET", "POST"])
@roles_required("manager")
def competitions():
    errors: dict = {}
    form = {"period": _this_month().label, "kind": "agent", "side_a": "", "side_b": "", "name": ""}
    status = 200
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in form}
        data = dict(form)
        data["side_a"] = form["side_a"] if form["kind"] == "agent" else request.form.get("team_a", "").strip()
        data["side_b"] = form["side_b"] if form["kind"] == "agent" else request.form.get("team_b", "").strip()
        form.update(team_a=request.form.get("team_a", ""), team_b=request.form.get("team_b", ""))
        data["name"] = form["name"] or None
        try:
            comp = services.create_competition(data, current_user.id)
        except AppError as exc:
            db.session.rollback()
            errors = dict(exc.details or {}) or {"form": exc.message}
            errors.setdefault("form", exc.message)
            status = exc.status
        else:
            db.session.commit()
            flash(gettext("Competition started for %(period)s.", period=rules.Period.of_key(comp.month).label))
            return redirect(url_for("scoring.competitions", period=rules.Period.of_key(comp.month).label))
    try:
        period = services.period_arg(request.args.get("period"))
    except AppError as exc:
        errors["filter"], period = exc.message, None
    return render_template("scoring/competitions.html", comps=services.competitions(period), form=form,
                           errors=errors, sides=_sides(), period=period), status


@bp.post("/competitions/<int:competition_id>/delete")
@roles_required("manager")
def delete_competition(competition_id: int):
    services.delete_competition(competition_id, current_user.id)
    db.session.commit()
    flash(gettext("Competition called off."))
    return redirect(url_for("scoring.competitions"))

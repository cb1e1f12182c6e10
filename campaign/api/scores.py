"""Leaderboards and competitions under /api/v1 (SPEC §7, §9)."""
from __future__ import annotations

from flask import g, jsonify, request
from werkzeug.exceptions import BadRequest

from ..accounts.auth import api_error, api_roles
from ..extensions import db
from ..scoring import queries, services
from . import bp

EVERYONE = ("agent", "manager", "payroll", "admin")
BOARD_FIELDS = ("rank", "assigned", "calls", "reached", "booked", "conversions", "visit_rate", "revenue",
                "currency", "revenue_by_currency")


def _row(r: dict, by: str) -> dict:
    head = {"employee_code": r["employee_code"], "name": r["name"], "team": r["team"]} if by == "agent" \
        else {"team": r["team"]}
    return {**head, **{k: r[k] for k in BOARD_FIELDS}}


@bp.get("/leaderboard")
@api_roles(*EVERYONE)
def leaderboard():
    """SPEC §7 rows in rank order; ``campaign`` and ``period`` narrow it, ``by`` picks agents or teams."""
    services.check_params(request.args, ("campaign", "period", "by", "adjusted"))
    camp = services.campaign_arg(request.args.get("campaign"))
    period = services.period_arg(request.args.get("period"))
    by = services.by_arg(request.args.get("by"))
    rows = services.board(campaign=camp, period=period, by=by)
    out = [_row(r, by) for r in rows]
    if request.args.get("adjusted") in ("1", "true") and camp is not None and by == "agent":
        extra = {r["employee_code"]: r for r in queries.adjusted(camp.id, rows)}
        for row in out:
            a = extra[row["employee_code"]]
            row.update(expected=a["expected"], above_expected=a["above_expected"], index=a["index"],
                       adjusted_rank=a["adjusted_rank"])
    return jsonify(out)


@bp.get("/leaderboard/trend")
@api_roles(*EVERYONE)
def leaderboard_trend():
    """Per day: calls, reached, conversions for the same scope as the leaderboard."""
    camp = services.campaign_arg(request.args.get("campaign"))
    period = services.period_arg(request.args.get("period"))
    services.board(campaign=camp, period=period, by="agent")  # refreshes the roll-ups
    return jsonify(queries.trend(campaign_id=camp.id if camp else None, period=period))


@bp.get("/competitions")
@api_roles(*EVERYONE)
def list_competitions():
    period = services.period_arg(request.args.get("period"))
    return jsonify(services.competitions(period))


@bp.post("/competitions")
@api_roles("manager")
def create_competition():
    try:
        body = request.get_json(silent=False)
    except BadRequest:
        body = None
    comp = services.create_competition(body, g.api_user.id)
    db.session.commit()
    (out,) = services.competitions(competition_id=comp.id)
    return jsonify(out), 201


@bp.get("/competitions/<int:competition_id>")
@api_roles(*EVERYONE)
def get_competition(competition_id: int):
    found = services.competitions(competition_id=competition_id)
    if not found:
        return api_error(404, "not_found", f"no competition {competition_id}")
    return jsonify(found[0])


@bp.delete("/competitions/<int:competition_id>")
@api_roles("manager")
def delete_competition(competition_id: int):
    services.delete_competition(competition_id, g.api_user.id)
    db.session.commit()
    return "", 204

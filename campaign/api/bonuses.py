"""Bonus plans under /api/v1 (SPEC §8, §9)."""
from __future__ import annotations

from flask import g, jsonify, request
from werkzeug.exceptions import BadRequest

from ..accounts.auth import api_roles
from ..bonuses import services
from ..extensions import db
from ..scoring import services as scoring
from . import bp


@bp.get("/bonus-plans/<period>")
@api_roles("manager", "payroll")
def get_bonus_plan(period: str):
    return jsonify(services.plan_json(services.get_plan(scoring.period_arg(period, required=True))))


@bp.put("/bonus-plans/<period>")
@api_roles("manager")
def put_bonus_plan(period: str):
    month = scoring.period_arg(period, required=True)
    try:
        body = request.get_json(silent=False)
    except BadRequest:
        body = None
    plan, created = services.put_plan(month, body, g.api_user.id, version=request.headers.get("If-Match"))
    out = services.plan_json(plan)
    db.session.commit()
    return jsonify(out), 201 if created else 200

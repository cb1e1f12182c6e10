"""Bonus plans and runs under /api/v1 (SPEC §8, §9)."""
from __future__ import annotations

from flask import g, jsonify, request

from ..accounts.auth import api_roles
from ..bonuses import exports, runs, services
from ..core.errors import ValidationError
from ..extensions import db
from ..scoring import services as scoring
from . import bp


def _body():
    """The JSON body, or None when there is none or it does not parse (the
    use-case then says what to send)."""
    return request.get_json(silent=True)


@bp.get("/bonus-plans/<period>")
@api_roles("manager", "payroll")
def get_bonus_plan(period: str):
    return jsonify(services.plan_json(services.get_plan(scoring.period_arg(period, required=True))))


@bp.put("/bonus-plans/<period>")
@api_roles("manager")
def put_bonus_plan(period: str):
    month = scoring.period_arg(period, required=True)
    plan, created = services.put_plan(month, _body(), g.api_user.id, version=request.headers.get("If-Match"))
    out = services.plan_json(plan)
    db.session.commit()
    return jsonify(out), 201 if created else 200


@bp.post("/bonus-runs")
@api_roles("manager")
def create_bonus_run():
    body = _body()
    if not isinstance(body, dict) or set(body) - {"period"}:
        raise ValidationError('send {"period": "YYYY-MM"}', details={"body": 'send {"period": "YYYY-MM"}'})
    run = runs.compute_run(scoring.period_arg(body.get("period"), required=True), g.api_user.id)
    out = runs.run_json(run)
    db.session.commit()
    return jsonify(out), 201


@bp.get("/bonus-runs")
@api_roles("manager", "payroll")
def list_bonus_runs():
    manager = g.api_user.has_role("manager")
    return jsonify([runs.run_json(r["run"], lines=False) for r in runs.runs_list()
                    if manager or r["run"].status != "draft"])


@bp.get("/bonus-runs/<int:run_id>")
@api_roles("manager", "payroll")
def get_bonus_run(run_id: int):
    return jsonify(runs.run_json(runs.run_for(run_id, g.api_user)))


@bp.post("/bonus-runs/<int:run_id>/approve")
@api_roles("manager")
def approve_bonus_run(run_id: int):
    run = runs.approve(run_id, g.api_user.id)
    out = runs.run_json(run, lines=False)
    db.session.commit()
    return jsonify(out)


@bp.get("/bonus-runs/<int:run_id>/export.<fmt>")
@api_roles("payroll", "manager")
def export_bonus_run(run_id: int, fmt: str):
    run, data = runs.download(run_id, fmt, g.api_user, via="api")
    db.session.commit()
    return exports.response(run, data, fmt)


@bp.get("/bonus-runs/<int:run_id>/statements/<code>")
@api_roles("manager", "payroll", "agent")
def get_bonus_statement(run_id: int, code: str):
    return jsonify(runs.statement_json(runs.statement_for(run_id, code, g.api_user)))

"""Reports and lift under /api/v1 (manager): JSON by default, CSV with
``format=csv``. Every query parameter is checked (a bad one is a 422 naming
it, an unknown campaign a 404); definitions in docs/reports.md."""
from __future__ import annotations

from flask import jsonify, request

from ..accounts.auth import api_roles
from ..campaigns import services as campaigns
from ..core import clock
from ..scoring import lift as lift_mod
from ..scoring import reports
from ..scoring.report_views import csv_response
from . import bp

MANAGER = ("manager",)


def _iso(dt) -> str:
    return dt.isoformat() + "Z"


@bp.get("/campaigns/<int:campaign_id>/lift")
@api_roles(*MANAGER)
def campaign_lift(campaign_id: int):
    """Contacted vs holdout over the same window; 409 for a campaign not launched yet."""
    reports.check_params(request.args, ())
    camp = campaigns.get(campaign_id)
    out = lift_mod.lift(camp, clock.utcnow_naive())
    out["window"] = {**out["window"], "start": _iso(out["window"]["start"]), "end": _iso(out["window"]["end"])}
    out["in_words"] = lift_mod.in_words(out)
    return jsonify(out)


def _report(name: str):
    fmt = reports.format_arg(request.args.get("format"))
    data, by = reports.build(name, request.args, also=("format",))
    if fmt == "csv":
        return csv_response(name, data, by)
    if name == "funnel":
        data = {"campaign": data["campaign"], "by": by, "rows": data["by_" + by], "totals": data["totals"]}
    return jsonify(data)


@bp.get("/reports/funnel")
@api_roles(*MANAGER)
def report_funnel():
    return _report("funnel")


@bp.get("/reports/reasons")
@api_roles(*MANAGER)
def report_reasons():
    return _report("reasons")


@bp.get("/reports/offers")
@api_roles(*MANAGER)
def report_offers():
    return _report("offers")

"""Reports pages (/reports, CSV downloads) and the campaign dashboard's
results panel: funnel, lift against the holdout, reasons, offers.

Every report brings the scores up to date first (``scores.refresh``); the
panel refreshes once and reads each report without refreshing again, so
the campaign page costs a handful of statements whatever its size.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext

from ..accounts.auth import roles_required
from ..calls import queries as calls_queries
from ..campaigns.models import Campaign
from ..campaigns.views import register_campaign_panel
from ..core import clock
from ..core.errors import ValidationError
from ..core.i18n import N_, translated
from . import lift as lift_mod
from . import queries, reports, scores

bp = Blueprint("reports", __name__)
MANAGER = ("manager",)
TOP_REASONS = 5
TOP_OFFERS = 4
TOP_COMPLAINTS = 5

# Column heads of the reasons table (the full wording is the cell's title and the legend).
REASON_HEADS = {"parking": N_("Parking"), "moved": N_("Moved"), "service": N_("Service"),
                "technique": N_("Technique"), "mismatch": N_("Mismatch"), "pushy_sales": N_("Pushy sales"),
                "price": N_("Price"), "policy": N_("Policy"), "personal": N_("Personal"), "other": N_("Other")}


def lift_words(result: dict | None) -> str:
    """``lift.in_words`` in the page's language (the same sentences; the API and
    the tests read the English of ``lift.in_words``)."""
    if result is None:
        return gettext("Lift is measured once the campaign is launched.")
    g = result["groups"]
    if not g["holdout"]["clients"]:
        return gettext("No holdout group was drawn for this campaign, so its lift cannot be measured.")
    if not g["contacted"]["clients"]:
        return gettext("Nobody has been called yet: nothing to compare with the holdout.")
    p = lift_mod.points
    values = {"diff": p(result["difference"]), "low": p(result["low"]), "high": p(result["high"])}
    if result["significant"] and result["difference"] < 0:
        return gettext("%(diff)s points (95%% CI %(low)s to %(high)s), significant: fewer came back than in "
                       "the holdout.", **values)
    if result["significant"]:
        return gettext("%(diff)s points (95%% CI %(low)s to %(high)s), significant.", **values)
    return gettext("%(diff)s points (95%% CI %(low)s to %(high)s): not yet distinguishable from the holdout.",
                   **values)


def csv_response(name: str, data: dict, by: str) -> Response:
    filename, text = reports.csv_file(name, data, by=by)
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _lift_or_none(camp: Campaign, now) -> dict | None:
    return lift_mod.lift(camp, now) if lift_mod.launched(camp) else None


@bp.get("/reports")
@roles_required(*MANAGER)
def index():
    """The three reports for one filter (campaign, by, year); a bad filter
    value is shown next to the form (422) and the page falls back to its
    default, an unknown campaign is a 404."""
    args = request.args
    errors = []

    def checked(parse, value, default, message):
        try:
            return parse(value)
        except ValidationError:
            errors.append(message)
            return default

    camp = checked(reports.campaign_arg, args.get("campaign"), None, gettext("Campaign: choose one from the list."))
    by = checked(reports.by_arg, args.get("by"), "store", gettext("Break the funnel down by store or by agent."))
    year = checked(reports.year_arg, args.get("year"), None, gettext("Year: a year such as 2026, or all years."))
    scores.refresh()
    now = clock.utcnow_naive()
    funnel = reports.funnel(camp, refresh=False) if camp else None
    lift = _lift_or_none(camp, now) if camp else None
    return render_template(
        "scoring/reports.html", camp=camp, by=by, year=year, errors=errors,
        campaigns=queries.launched_campaigns(), years=reports.years(), funnel=funnel, lift=lift,
        lift_words=lift_words(lift), points=lift_mod.points,
        reasons=reports.reasons(campaign=camp, year=year, refresh=False),
        offers=reports.offers(campaign=camp, refresh=False),
        STAGES=reports.STAGES, STAGE_LABELS=translated(reports.STAGE_LABELS), REASON_HEADS=translated(REASON_HEADS),
    ), 422 if errors else 200


@bp.get("/reports/<any(funnel, reasons, offers):name>.csv")
@roles_required(*MANAGER)
def download(name):
    data, by = reports.build(name, request.args)
    return csv_response(name, data, by)


# ------------------------------------------------------------------ the campaign page's panel

def campaign_panel(camp: Campaign, now) -> tuple[str, dict]:
    """Results of a launched campaign: the funnel, lift with its interval in
    words, top reasons for leaving, offers that work, links to the reports.
    One refresh, then seven statements."""
    scores.refresh()
    funnel = reports.funnel(camp, refresh=False)
    lift = _lift_or_none(camp, now)
    why = reports.reasons(campaign=camp, refresh=False)
    offered = reports.offers(campaign=camp, refresh=False)
    top = [r for r in why["overall"] if r["count"]][:TOP_REASONS]
    open_complaints, complaint_rows = calls_queries.complaints(campaign_id=camp.id, per_page=TOP_COMPLAINTS)
    return "scoring/_campaign_panel.html", {
        "complaints": complaint_rows, "complaints_open": open_complaints,
        "camp": camp, "funnel": funnel, "lift": lift, "lift_words": lift_words(lift),
        "reasons": top, "reasons_total": why["total"],
        "offers": [r for r in offered["rows"] if r["offer"] != reports.NO_OFFER][:TOP_OFFERS],
        "baseline": offered["baseline"], "STAGES": reports.STAGES, "STAGE_LABELS": translated(reports.STAGE_LABELS),
    }


register_campaign_panel(bp, campaign_panel)

"""Campaign API (SPEC §9): create, read, preview, quotas, launch, status, items.

Thin adapters over ``campaign.campaigns.services`` and ``queries``: the same
validation and workflow as the manager's pages.
"""
from __future__ import annotations

from flask import g, jsonify, request, url_for
from sqlalchemy import select

from ..accounts.auth import api_error, api_roles
from ..accounts.models import Staff, Store
from ..campaigns import queries, rules, services
from ..campaigns.models import ITEM_STATUSES, Campaign
from ..core import clock
from ..core.sql import MAX_ID
from ..scoring import scores
from ..extensions import db
from . import bp


def _body():
    body = request.get_json(silent=True)
    if body is None:
        return None, api_error(422, "invalid", "send a JSON body (Content-Type: application/json)")
    return body, None


def campaign_json(camp: Campaign, *, counts: dict | None = None) -> dict:
    codes = dict(db.session.execute(select(Store.id, Store.code)).all()) if camp.store_ids else {}
    out = {
        "id": camp.id, "name": camp.name, "status": camp.status, "version": camp.version,
        "as_of": camp.as_of.isoformat() if camp.as_of else None,
        "buckets": camp.buckets, "tiers": camp.tiers, "value_classes": camp.value_classes,
        "stores": [codes.get(i, str(i)) for i in camp.store_ids], "languages": camp.languages,
        "last_services": camp.last_services,
        "calling_hours": {"start": camp.call_start.strftime("%H:%M"), "end": camp.call_end.strftime("%H:%M")},
        "max_attempts": camp.max_attempts, "retry_delay_hours": camp.retry_delay_hours,
        "holdout_share": camp.holdout_bp / 10000, "attribution_window_days": camp.attribution_window_days,
        "script_id": camp.script_id, "offers": camp.offers,
        "created_at": camp.created_at.isoformat() + "Z",
        "launched_at": camp.launched_at.isoformat() + "Z" if camp.launched_at else None,
        "closed_at": camp.closed_at.isoformat() + "Z" if camp.closed_at else None,
        "last_job_id": camp.last_job_id,
    }
    if counts is not None:
        out["counts"] = {k: counts[k] for k in ("pool", "holdout", "assigned", "attempted", "reached",
                                                "converted")}
        out["pool_reasons"] = counts["pool_reasons"]
    return out


@bp.post("/campaigns")
@api_roles("manager")
def create_campaign():
    body, error = _body()
    if error:
        return error
    camp = services.create_campaign(body, g.api_user.id)
    db.session.commit()
    return jsonify(campaign_json(camp)), 201


@bp.get("/campaigns")
@api_roles("manager")
def list_campaigns():
    return jsonify([{**campaign_json(r["campaign"]),
                     "counts": {k: r[k] for k in ("pool", "holdout", "assigned")}}
                    for r in queries.campaign_list()])


@bp.get("/campaigns/<int:campaign_id>")
@api_roles("manager")
def get_campaign(campaign_id):
    camp = services.get(campaign_id)
    scores.refresh()  # "converted" includes every call and visit so far
    return jsonify(campaign_json(camp, counts=queries.counts(camp)))


@bp.patch("/campaigns/<int:campaign_id>")
@api_roles("manager")
def patch_campaign(campaign_id):
    """Change settings: send the fields to change (the rest are kept) and
    ``version`` from the last read; a stale version answers 409."""
    body, error = _body()
    if error:
        return error
    if not isinstance(body, dict):
        return api_error(422, "invalid", "send a JSON object")
    camp = services.get(campaign_id)
    merged = {**campaign_json(camp), **body}
    services.update_campaign(camp, merged, g.api_user.id, version=body.get("version"))
    db.session.commit()
    return jsonify(campaign_json(camp))


@bp.get("/campaigns/<int:campaign_id>/preview")
@api_roles("manager")
def preview(campaign_id):
    camp = services.get(campaign_id)
    pv = queries.preview(camp, clock.utcnow_naive())
    return jsonify({"eligible": pv["eligible"], "holdout": pv["holdout"], "targeted": pv["targeted"],
                    "excluded": pv["excluded"], "excluded_any": pv["excluded_any"],
                    "placed": pv["placed"], "pool": pv["pool"], "languages": pv["languages"]})


def _quota_json(camp):
    return [{"employee_code": a["employee_code"], "name": a["name"], "languages": a["languages"],
             "store": a["store_code"], "target": a["target"], "daily_cap": a["daily_cap"],
             "absent": a["absent"]} for a in queries.quota_grid(camp)]


@bp.get("/campaigns/<int:campaign_id>/quotas")
@api_roles("manager")
def get_quotas(campaign_id):
    return jsonify(_quota_json(services.get(campaign_id)))


@bp.put("/campaigns/<int:campaign_id>/quotas")
@api_roles("manager")
def put_quotas(campaign_id):
    """Replace the quota grid. On an active or paused campaign the assignment
    runs again (only the difference moves) and ``job_id`` says which job.
    An ``If-Match: <version>`` header guards against overwriting another
    manager's edit (409)."""
    body, error = _body()
    if error:
        return error
    camp = services.get(campaign_id, for_update=True)
    services.set_quotas(camp, body, g.api_user.id, version=request.headers.get("If-Match"))
    job = services.start_assignment(camp, g.api_user.id) if camp.status in ("active", "paused") else None
    db.session.commit()
    return jsonify({"quotas": _quota_json(camp), "job_id": job.id if job else None})


@bp.post("/campaigns/<int:campaign_id>/launch")
@api_roles("manager")
def launch(campaign_id):
    camp = services.get(campaign_id, for_update=True)
    job = services.launch(camp, g.api_user.id)
    db.session.commit()
    return jsonify({"job_id": job.id}), 202


@bp.post("/campaigns/<int:campaign_id>/assign")
@api_roles("manager")
def assign(campaign_id):
    """Run the assignment again; ``{"move_absent": true}`` first hands absent
    agents' untouched items back to the pool so others get them."""
    body = request.get_json(silent=True) or {}
    move_absent = body.get("move_absent", False) if isinstance(body, dict) else False
    if not isinstance(move_absent, bool):
        return api_error(422, "invalid", "move_absent must be true or false")
    camp = services.get(campaign_id, for_update=True)
    job = services.start_assignment(camp, g.api_user.id, move_absent=move_absent)
    db.session.commit()
    return jsonify({"job_id": job.id}), 202


@bp.post("/campaigns/<int:campaign_id>/status")
@api_roles("manager")
def set_status(campaign_id):
    """``{"status": "paused" | "active" | "closed"}``; an illegal move answers 409."""
    body, error = _body()
    if error:
        return error
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str) or status not in rules.TRANSITIONS:
        return api_error(422, "invalid", "status must be one of active, paused, closed")
    camp = services.get(campaign_id, for_update=True)
    services.set_status(camp, status, g.api_user.id, version=body.get("version"))
    db.session.commit()
    return jsonify(campaign_json(camp))


@bp.get("/campaigns/<int:campaign_id>/items")
@api_roles("manager")
def items(campaign_id):
    """Items in id order, ``limit`` (default 1000, at most 5000) per page from
    ``after`` (an item id); the next page's URL is in the ``Link`` header."""
    camp = services.get(campaign_id)
    status = request.args.get("status") or None
    if status and status not in ITEM_STATUSES:
        return api_error(422, "invalid", f"status must be one of {', '.join(ITEM_STATUSES)}")
    staff_id = None
    code = request.args.get("employee_code")
    if code:
        staff_id = db.session.scalar(select(Staff.id).where(Staff.employee_code == code))
        if staff_id is None:
            return api_error(422, "invalid", f"no staff member {code}")
    after = max(0, min(request.args.get("after", 0, type=int) or 0, MAX_ID))  # ids are 1…MAX_ID
    limit = request.args.get("limit", 1000, type=int) or 1000
    if not 1 <= limit <= queries.ITEMS_PAGE_MAX:
        return api_error(422, "invalid", f"limit must be between 1 and {queries.ITEMS_PAGE_MAX}")
    rows = queries.items(camp, status=status, staff_id=staff_id, after_id=after, limit=limit)
    resp = jsonify([{"item_id": r["item_id"], "client_ref": r["client_ref"],
                     "employee_code": r["employee_code"], "status": r["status"], "attempts": r["attempts"],
                     "priority": r["priority"], "pool_reason": r["pool_reason"]} for r in rows])
    if len(rows) == limit:
        args = {k: v for k, v in request.args.items() if k != "after"}
        nxt = url_for("api.items", campaign_id=campaign_id, after=rows[-1]["item_id"], **args)
        resp.headers["Link"] = f'<{nxt}>; rel="next"'
    return resp

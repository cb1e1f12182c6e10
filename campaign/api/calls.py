"""The agent's queue over the API (SPEC §9): next client, outcome, progress."""
from __future__ import annotations

from flask import g, jsonify, request
from werkzeug.exceptions import BadRequest

from ..accounts.auth import api_error, api_roles
from ..calls import queries, services
from ..core import clock
from ..core.sql import MAX_ID
from ..extensions import db
from . import bp


def _progress_json(rows) -> list[dict]:
    return [{**r, "next_due": r["next_due"].isoformat() + "Z" if r["next_due"] else None} for r in rows]


@bp.post("/queue/next")
@api_roles("agent")
def queue_next():
    body = request.get_json(silent=True) if request.content_length else {}
    if body is None or not isinstance(body, dict):
        return api_error(422, "invalid", "send a JSON object, e.g. {} or {\"campaign_id\": 3}")
    campaign_id = body.get("campaign_id")
    if campaign_id is not None and (isinstance(campaign_id, bool) or not isinstance(campaign_id, int)
                                    or not 0 < campaign_id <= MAX_ID):
        return api_error(422, "invalid", "campaign_id must be an integer",
                         details={"campaign_id": "must be an integer"})
    now = clock.now()
    claim = services.claim_next(g.api_user, now, campaign_id=campaign_id)
    if claim is None:
        db.session.rollback()
        return "", 204
    payload = queries.workspace(claim, g.api_user, now)
    db.session.commit()
    return jsonify(payload), 200


@bp.post("/queue/<int:item_id>/outcome")
@api_roles("agent")
def queue_outcome(item_id: int):
    try:
        body = request.get_json(silent=False)
    except BadRequest:
        body = None
    if not isinstance(body, dict):
        return api_error(422, "invalid", "send a JSON object with at least a disposition")
    outcome = services.log_outcome(item_id, g.api_user, body, clock.now())
    payload = {"id": outcome.id, "item_id": outcome.item_id, "disposition": outcome.disposition,
               "reached": outcome.reached, "at": outcome.at.isoformat() + "Z", "corrects": outcome.corrects_id}
    db.session.commit()  # after reading the row: a commit expires it
    return jsonify(payload), 201


@bp.get("/queue")
@api_roles("agent")
def queue_progress():
    return jsonify(_progress_json(queries.progress(g.api_user, clock.now())))

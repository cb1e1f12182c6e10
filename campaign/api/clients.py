"""GET /api/v1/segments and GET /api/v1/clients/{client_ref} (SPEC §9)."""
from __future__ import annotations

from datetime import date, datetime

from flask import g, jsonify, request
from sqlalchemy import select

from ..accounts.auth import api_error, api_roles
from ..campaigns import policy
from ..campaigns import queries as campaign_queries
from ..clients import queries, rules
from ..clients.models import Client
from ..core import clock
from ..core.errors import ValidationError
from ..extensions import db
from . import bp


def _as_of_arg():
    try:
        return rules.parse_as_of(request.args.get("as_of")), None
    except ValueError as exc:
        return None, api_error(422, "invalid", str(exc))


@bp.get("/segments")
@api_roles("manager")
def get_segments():
    """[{bucket, tier, clients}] as of a date (default: each store's local today)."""
    as_of, error = _as_of_arg()
    if error:
        return error
    try:
        rows = queries.segment_counts(as_of, store_code=(request.args.get("store") or "").strip() or None)
    except ValidationError as exc:
        return api_error(422, exc.code, exc.message)
    return jsonify(rows)


def _agent_may_see(client: Client | None) -> bool:
    """May an agent (without the manager role) read this client's card?

    SPEC §1/§9: only a client in the agent's own queue — an open queue item
    of an active or paused campaign held by this agent. Unknown clients
    answer the same 403, so an agent cannot probe which refs exist.
    """
    if client is None:
        return False
    return campaign_queries.holds_client(g.api_user.id, client.id)


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


@bp.get("/clients/<client_ref>")
@api_roles("manager", "agent")
def get_client(client_ref):
    """The client card with its segment; money in minor units with ``currency``."""
    if not g.api_user.has_role("manager"):
        client = db.session.scalar(select(Client).where(Client.ref == client_ref))
        if not _agent_may_see(client):
            return api_error(403, "forbidden", "agents see only clients in their own queue")
    as_of, error = _as_of_arg()
    if error:
        return error
    card = queries.client_card(client_ref, as_of)
    if card is None:
        return api_error(404, "not_found", "no such client")
    client_id = db.session.scalar(select(Client.id).where(Client.ref == client_ref))
    status = policy.client_status(client_id, now=clock.utcnow_naive(), as_of=as_of)
    card["contact_policy"] = {"may_queue": status["may_queue"],
                              "reasons": [{"code": r["code"], "text": r["sentence"]} for r in status["reasons"]]}
    return jsonify(_json_value(card))

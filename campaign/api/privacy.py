"""GET /api/v1/clients/{client_ref}/export and POST /api/v1/clients/{client_ref}/erase
(GDPR requests, docs/privacy.md): thin adapters over ``privacy.services``."""
from __future__ import annotations

from flask import Response, g, jsonify, request

from ..accounts.auth import api_roles
from ..extensions import db
from ..privacy import rules, services
from . import bp


@bp.get("/clients/<client_ref>/export")
@api_roles("manager", "admin")
def export_client(client_ref):
    """Everything about the client, as an attachment; audited (client.export)."""
    client = services.find_client(client_ref)
    data = services.export_client(client, g.api_user.id, via="api")
    db.session.commit()
    return Response(rules.export_json(data), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{rules.export_filename(client.ref)}"',
                             "Cache-Control": "no-store"})


@bp.post("/clients/<client_ref>/erase")
@api_roles("admin")
def erase_client(client_ref):
    """Erase the client's personal data: 404 unknown, 409 already erased, 422 without a reason."""
    body = request.get_json(silent=True)
    reason = body.get("reason") if isinstance(body, dict) else None
    client = services.find_client(client_ref)
    done = services.erase_client(client, g.api_user.id, reason, via="api")
    db.session.commit()
    return jsonify(done)

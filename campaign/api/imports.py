"""Import API: start a CSV import job, and the point-of-sale visits endpoint.

Thin adapters over ``campaign.imports.services``: the same checks, rules and
batch upsert as the web upload and the CLI.
"""
from __future__ import annotations

from flask import g, jsonify, request

from ..accounts.auth import api_error, api_roles
from ..core.errors import ValidationError
from ..extensions import db
from ..imports import rules, services
from . import bp


@bp.post("/imports/<kind>")
@api_roles("admin", "manager")
def start_import(kind):
    if kind not in rules.KINDS:
        return api_error(404, "not_found", f"no import of kind {kind!r}; kinds are "
                                           f"{', '.join(rules.KINDS)}")
    upload = request.files.get("file")
    if upload is None:
        return api_error(422, "invalid", "send the CSV as the multipart form field 'file'")
    try:
        job = services.store_upload(upload.stream, kind=kind, filename=upload.filename or f"{kind}.csv",
                                    starter_id=g.api_user.id)
    except services.FileRefused as exc:
        db.session.rollback()
        return api_error(422, exc.code, exc.message)
    db.session.commit()
    return jsonify({"job_id": job.id}), 202


@bp.post("/visits")
@api_roles("pos", "admin")
def post_visits():
    body = request.get_json(silent=True)
    try:
        result = services.upsert_visits(body)
    except ValidationError as exc:
        db.session.rollback()
        return api_error(422, exc.code, exc.message)
    db.session.commit()
    return jsonify(result), 200

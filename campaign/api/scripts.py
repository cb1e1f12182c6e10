"""Script API: list, read per language, replace one language's texts, render for a client.

Thin adapters over ``campaign.scripts.services``: the same validation (422
with ``error.details`` keyed by field path, e.g. ``steps[2].question.answers[0].next``)
and the same "changed meanwhile" check (``If-Match: <version>``, 409) as the editor.
"""
from __future__ import annotations

from flask import g, jsonify, request

from ..accounts.auth import api_error, api_roles
from ..campaigns.rules import OFFERS
from ..extensions import db
from ..scripts import rules, services
from . import bp


def _summary(row: dict) -> dict:
    s = row["script"]
    return {"id": s.id, "name": s.name, "is_default": s.is_default, "base_language": row["base_language"],
            "languages": row["languages"], "stored": row["stored"],
            "campaigns": [c["id"] for c in row["campaigns"]], "created_at": s.created_at.isoformat() + "Z"}


def _language_json(texts: services.Texts, language: str) -> dict:
    base = language == texts.base_language
    return {"language": language, "base": base, "version": texts.version(language),
            "content": texts.base if base else rules.project(texts.base, texts.translations.get(language))}


@bp.get("/scripts")
@api_roles("manager")
def list_scripts():
    return jsonify([_summary(r) for r in services.script_list()])


@bp.get("/scripts/<int:script_id>")
@api_roles("manager")
def get_script(script_id):
    script = services.get_script(script_id)
    row = next(r for r in services.script_list() if r["script"].id == script.id)
    texts = services.texts_of(script)
    return jsonify({**_summary(row), "texts": {lg: _language_json(texts, lg) for lg in texts.languages}})


@bp.put("/scripts/<int:script_id>/texts/<language>")
@api_roles("manager")
def put_texts(script_id, language):
    """Replace one language's texts: the base language's content (structure
    included) or a translation (texts only; a new language adds one)."""
    body = request.get_json(silent=True)
    if body is None:
        return api_error(422, "invalid", "send a JSON body (Content-Type: application/json)")
    script = services.get_script(script_id)
    services.save_texts(script, language, body, g.api_user.id, version=request.headers.get("If-Match"))
    db.session.commit()
    return jsonify(_language_json(services.texts_of(script), language))


@bp.get("/scripts/<int:script_id>/render")
@api_roles("manager")
def render_script(script_id):
    """The script as the agent reads it: for ``client_ref`` (in their language
    unless ``language`` says otherwise) or for a sample client."""
    services.get_script(script_id)
    offer = request.args.get("offer") or None
    if offer is not None and offer not in OFFERS:
        return api_error(422, "invalid", "offer must be one of " + ", ".join(OFFERS),
                         details={"offer": "unknown offer"})
    language = request.args.get("language") or None
    ref = request.args.get("client_ref")
    if ref:
        ctx, client_language = services.client_context(ref, g.api_user.name, offer)
        language = language or client_language
    else:
        ctx = services.sample_context(language, g.api_user.name)
        if offer:
            ctx["offer"] = offer
    return jsonify(services.render(script_id, language, ctx))

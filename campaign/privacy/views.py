"""Pages of a privacy request: find the client a request is about, download
everything about them (managers, admins), erase their personal data
(admins), and the client card's "Privacy (GDPR)" panel that offers both."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..accounts.auth import roles_required
from ..clients import queries as client_queries
from ..clients.models import Client
from ..clients.views import register_card_panel
from ..core.errors import Conflict, ValidationError
from ..extensions import db
from . import rules, services

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
@roles_required("manager", "admin")
def index():
    q = (request.args.get("q") or "").strip()
    return render_template("privacy/index.html", q=q, found=services.lookup(q) if q else None,
                           limit=services.LOOKUP_LIMIT, REMOVED=rules.REMOVED, KEPT=rules.KEPT)


@bp.get("/clients/<ref>/export")
@roles_required("manager", "admin")
def export(ref):
    client = services.find_client(ref)
    data = services.export_client(client, current_user.id, via="web")
    db.session.commit()
    return Response(rules.export_json(data), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{rules.export_filename(client.ref)}"',
                             "Cache-Control": "no-store"})


@bp.post("/clients/<ref>/erase")
@roles_required("admin")
def erase(ref):
    client = services.find_client(ref)
    try:
        done = services.erase_client(client, current_user.id, request.form.get("reason"), via="web")
    except (ValidationError, Conflict) as exc:
        db.session.rollback()
        flash(f"Nothing was erased. {exc.message}", "error")
        return redirect(url_for("clients.card", ref=client.ref, _anchor="privacy"))
    db.session.commit()
    flash(f"Personal data erased: the client is now {done['client_ref']}. Visits, outcomes, conversions "
          "and bonus records were kept without personal data.")
    return redirect(url_for("clients.card", ref=done["client_ref"]))


def card_panel(client_id: int, now) -> tuple[str, dict]:
    """The card's "Privacy (GDPR)" panel: the export, the erasure form or the erasure done."""
    client = db.session.get(Client, client_id)
    return "privacy/_card_panel.html", {
        "ref": client.ref, "erased": client_queries.erasure_of(client_id),
        "confirm": rules.confirm_text(client.name, client.ref, client.id),
        "removed": [r.replace("ERASED-<number>", rules.erased_ref(client.id)) for r in rules.REMOVED],
        "kept": rules.KEPT, "reason_max": rules.REASON_MAX}


register_card_panel(bp, card_panel)

"""Pages of a privacy request: find the client a request is about, download
everything about them (managers, admins), erase their personal data
(admins), and the client card's "Privacy (GDPR)" panel that offers both."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from ..accounts.auth import roles_required
from ..clients import queries as client_queries
from ..clients.models import Client
from ..clients.views import register_card_panel
from ..core.errors import Conflict, ValidationError
from ..core.i18n import known_message
from ..core.msgid import N_
from ..extensions import db
from . import rules, services

bp = Blueprint("privacy", __name__)

# Service messages without values that a page shows (the API keeps them in
# English): marked here, translated when flashed. A message with values
# (a length, a date, a ref) stays English.
_FIXED_MESSAGES = (
    N_("Give the reason for the erasure (e.g. the client's request by e-mail on 2026-06-01): "
       "it is kept in the audit log."),
)


def _removed(ref: str) -> list[str]:
    return [gettext(r, ref=ref) for r in rules.REMOVED]


def _kept() -> list[str]:
    return [gettext(k) for k in rules.KEPT]


@bp.get("/privacy")
@roles_required("manager", "admin")
def index():
    q = (request.args.get("q") or "").strip()
    return render_template("privacy/index.html", q=q, found=services.lookup(q) if q else None,
                           limit=services.LOOKUP_LIMIT, REMOVED=_removed(rules.REF_PREFIX + "<number>"),
                           KEPT=_kept())


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
        why = known_message(exc.message, _FIXED_MESSAGES)
        flash(gettext("Nothing was erased. %(why)s", why=why), "error")
        return redirect(url_for("clients.card", ref=client.ref, _anchor="privacy"))
    db.session.commit()
    flash(gettext("Personal data erased: the client is now %(ref)s. Visits, outcomes, conversions "
                  "and bonus records were kept without personal data.", ref=done["client_ref"]))
    return redirect(url_for("clients.card", ref=done["client_ref"]))


def card_panel(client_id: int, now) -> tuple[str, dict]:
    """The card's "Privacy (GDPR)" panel: the export, the erasure form or the erasure done."""
    client = db.session.get(Client, client_id)
    removed, kept = _removed(rules.erased_ref(client.id)), _kept()
    return "privacy/_card_panel.html", {
        "ref": client.ref, "erased": client_queries.erasure_of(client_id),
        "confirm": _confirm_text(client.name, client.ref, removed, kept),
        "removed": removed, "kept": kept, "reason_max": rules.REASON_MAX}


def _confirm_text(name: str | None, ref: str, removed: list[str], kept: list[str]) -> str:
    """The confirmation an admin answers before erasing (data-confirm), in the page's language."""
    return gettext("Erase the personal data of %(name)s (%(ref)s)? This cannot be undone.\n\n"
                   "Removed: %(removed)s. Every open queue item and scheduled message is cancelled and "
                   "the client is marked do-not-contact (\"erased\").\n\n"
                   "Kept, without personal data: %(kept)s; so reports, leaderboards and bonuses do not change.",
                   name=name or ref, ref=ref, removed=", ".join(removed), kept=", ".join(kept))


register_card_panel(bp, card_panel)

"""Manager pages of the outbox: every message with its delivery status, one
message, cancelling a scheduled one, and the letters ready to print with
their mail-merge CSV and printable page."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ..accounts.auth import roles_required
from ..clients.models import Client
from ..core import clock, csvio
from ..core.errors import Conflict
from ..core.i18n import N_, translated
from ..extensions import db
from . import letters, queries, rules, services
from .models import CHANNELS, KINDS, STATUSES, Message

bp = Blueprint("outbox", __name__)
MANAGER = ("manager",)
PER_PAGE = 50
# The services' fixed messages (the API gives them in English), in the page's language when a page shows them.
SERVICE_MESSAGES = {
    "only a scheduled message can be cancelled; this one is no longer scheduled":
        N_("only a scheduled message can be cancelled; this one is no longer scheduled"),
    "no letters are ready to print": N_("No letters are ready to print."),
}


def _choice(name: str, allowed) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


@bp.get("/outbox")
@roles_required(*MANAGER)
def index():
    status = _choice("status", STATUSES)
    channel = _choice("channel", CHANNELS)
    kind = _choice("kind", KINDS)
    campaign_id = request.args.get("campaign", type=int)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(queries.messages(status=status, channel=channel, campaign_id=campaign_id, kind=kind),
                             page=page, per_page=PER_PAGE, error_out=False)
    counts = dict(db.session.execute(queries.status_counts(channel=channel, campaign_id=campaign_id)).all())
    clients = {c.id: c for c in db.session.scalars(
        db.select(Client).where(Client.id.in_({m.client_id for m in pagination.items})))} if pagination.items else {}
    filters = {k: v for k, v in (("status", status), ("channel", channel), ("kind", kind),
                                 ("campaign", campaign_id)) if v}
    return render_template("outbox/index.html", pagination=pagination, counts=counts, clients=clients,
                           filters=filters, STATUSES=STATUSES, CHANNELS=CHANNELS, KINDS=KINDS,
                           campaigns=db.session.execute(queries.campaign_names()).all(),
                           ready=letters.ready_count(clock.now()), REASONS=translated(rules.CANCEL_REASONS))


@bp.get("/outbox/<int:message_id>")
@roles_required(*MANAGER)
def show(message_id):
    msg = db.session.get(Message, message_id) or abort(404)
    return render_template("outbox/show.html", msg=msg, client=db.session.get(Client, msg.client_id),
                           REASONS=translated(rules.CANCEL_REASONS))


@bp.post("/outbox/<int:message_id>/cancel")
@roles_required(*MANAGER)
def cancel(message_id):
    db.session.get(Message, message_id) or abort(404)
    try:
        services.cancel_message(message_id, actor_id=current_user.id, now=clock.now())
    except Conflict as exc:
        db.session.rollback()
        flash(gettext(SERVICE_MESSAGES[exc.message]) if exc.message in SERVICE_MESSAGES else exc.message, "error")
        return redirect(url_for("outbox.show", message_id=message_id))
    db.session.commit()
    flash(gettext("Message cancelled."), "ok")
    return redirect(url_for("outbox.show", message_id=message_id))


@bp.get("/outbox/letters")
@roles_required(*MANAGER)
def letters_ready():
    now = clock.now()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(letters.ready_query(now), page=page, per_page=PER_PAGE, error_out=False)
    clients = {c.id: c for c in db.session.scalars(
        db.select(Client).where(Client.id.in_({m.client_id for m in pagination.items})))} if pagination.items else {}
    return render_template("outbox/letters.html", pagination=pagination, clients=clients,
                           batches=letters.recent_batches())


@bp.post("/outbox/letters/export")
@roles_required(*MANAGER)
def letters_export():
    try:
        result = letters.export_ready(clock.now(), actor_id=current_user.id)
    except Conflict as exc:
        db.session.rollback()
        flash(gettext(SERVICE_MESSAGES[exc.message]) if exc.message in SERVICE_MESSAGES
              else exc.message[:1].upper() + exc.message[1:] + ".", "error")
        return redirect(url_for("outbox.letters_ready"))
    db.session.commit()
    if result["cancelled"]:
        flash(ngettext("%(num)s letter was stopped by the contact rules and cancelled.",
                       "%(num)s letters were stopped by the contact rules and cancelled.", result["cancelled"]), "warn")
    if not result["batch"]:
        return redirect(url_for("outbox.letters_ready"))
    flash(ngettext("%(num)s letter exported and marked sent.", "%(num)s letters exported and marked sent.",
                   result["sent"]), "ok")
    return redirect(url_for("outbox.letters_batch", batch=result["batch"]))


def _batch_or_404(batch: str):
    rows = letters.batch_rows(batch)
    if not rows:
        abort(404)
    return rows


@bp.get("/outbox/letters/batches/<batch>")
@roles_required(*MANAGER)
def letters_batch(batch):
    return render_template("outbox/batch.html", batch=batch, rows=_batch_or_404(batch))


@bp.get("/outbox/letters/batches/<batch>/letters.csv")
@roles_required(*MANAGER)
def letters_csv(batch):
    _batch_or_404(batch)
    return Response("".join(csvio.csv_lines(list(letters.csv_rows(batch)))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="letters-{batch}.csv"'})


@bp.get("/outbox/letters/batches/<batch>/print")
@roles_required(*MANAGER)
def letters_print(batch):
    return render_template("outbox/print.html", batch=batch, rows=_batch_or_404(batch))

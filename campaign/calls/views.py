"""The agent's call workspace and the managers' complaint list.

Parse → one service → commit → render/redirect. The workspace works with
the keyboard alone (``static/work.js``) and without JavaScript (every field
is then simply shown).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from ..accounts.auth import roles_required
from ..campaigns.rules import OFFERS
from ..core import clock
from ..core.i18n import format_moment, translated
from ..core.errors import AppError, Forbidden, NotFound, ValidationError
from ..extensions import db
from . import queries, rules, services

bp = Blueprint("calls", __name__)
PER_PAGE = 50


def _local_input(now: datetime, tz: str, *, days: int = 0, hour: int | None = None) -> str:
    """A ``datetime-local`` default in the store's time zone."""
    local = now.astimezone(ZoneInfo(tz)) + timedelta(days=days)
    if hour is not None:
        local = local.replace(hour=hour, minute=0)
    else:
        local = (local + timedelta(minutes=90)).replace(minute=0)  # the next full hour, ≥ 30 min ahead
    return local.strftime("%Y-%m-%dT%H:%M")


def _render(ws: dict | None, now: datetime, *, form=None, errors=None, status: int = 200):
    campaign_id = request.values.get("campaign_id", type=int)
    progress = queries.progress(current_user, now)
    defaults = {}
    if ws:
        tz = ws["client"]["store"]["timezone"]
        defaults = {"callback_at": _local_input(now, tz), "booked_at": _local_input(now, tz, days=2, hour=12)}
        ws = {**ws, "warnings": queries.warnings(ws["client"], gettext)}  # the API's stay English
    return render_template(
        "calls/work.html", ws=ws, progress=progress, last=queries.last_outcome(current_user), campaign_id=campaign_id, form=form or {},
        errors=errors or {}, defaults=defaults, dispositions=translated(rules.DISPOSITION_LABELS),
        keys=rules.DISPOSITION_KEYS, reasons=translated(rules.REASON_LABELS), offers=translated(OFFERS),
        closing=rules.CLOSING), status


@bp.get("/work")
@roles_required("agent")
def work():
    now = clock.now()
    claim = services.held_claim(current_user, now)
    ws = queries.workspace(claim, current_user, now) if claim else None
    return _render(ws, now)


def _take_next(now: datetime):
    campaign_id = request.form.get("campaign_id", type=int)
    claim = services.claim_next(current_user, now, campaign_id=campaign_id)
    db.session.commit()
    if claim is None:
        flash(gettext("Nothing to call right now.") + " "
              + queries.why_nothing(queries.progress(current_user, now), gettext), "info")
    return redirect(url_for("calls.work", campaign_id=campaign_id))


@bp.post("/work/next")
@roles_required("agent")
def take_next():
    return _take_next(clock.now())


def _outcome_data(form) -> dict:
    data = {k: form.get(k) for k in ("disposition", "reason", "offer", "notes", "callback_at", "booked_at",
                                     "service", "consent", "claim", "corrects")}
    data["answers"] = {k[len("answers."):]: v for k, v in form.items() if k.startswith("answers.") and v}
    if form.get("when"):  # the correction form has one time field for a callback or a booking
        data["callback_at"] = data["callback_at"] or form["when"]
        data["booked_at"] = data["booked_at"] or form["when"]
    if data["disposition"] != "callback":
        data["callback_at"] = None
    if data["disposition"] != "booked":
        data["booked_at"], data["service"] = None, None
    return data


@bp.post("/work/<int:item_id>/outcome")
@roles_required("agent")
def log_outcome(item_id: int):
    now = clock.now()
    try:
        outcome = services.log_outcome(item_id, current_user, _outcome_data(request.form), now)
    except ValidationError as exc:
        db.session.rollback()
        claim = services.held_claim(current_user, now)
        ws = queries.workspace(claim, current_user, now) if claim and claim.item_id == item_id else None
        if ws is None:
            flash(exc.message, "error")
            return redirect(url_for("calls.work"))
        return _render(ws, now, form=request.form, errors=exc.details or {"disposition": exc.message},
                       status=422)
    except (Forbidden, NotFound):
        # Another agent's item (or none): 403/404 as on the API, not a redirect that looks like a retry.
        db.session.rollback()
        raise
    except AppError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("calls.work"))
    db.session.commit()
    label = gettext(rules.DISPOSITION_LABELS[outcome.disposition])
    flash(gettext("Corrected: now %(label)s.", label=label) if outcome.corrects_id
          else gettext("Saved: %(label)s.", label=label), "success")
    if request.form.get("then") == "next":
        return _take_next(now)
    return redirect(url_for("calls.work"))


# ------------------------------------------------------------------ complaints

@bp.get("/complaints")
@roles_required("manager")
def complaints():
    show_all = request.args.get("all") == "1"
    page = max(1, request.args.get("page", 1, type=int))
    total, rows = queries.complaints(open_only=not show_all, page=page, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("calls/complaints.html", rows=rows, total=total, page=page, pages=pages,
                           show_all=show_all, reasons=translated(rules.REASON_LABELS))


@bp.post("/complaints/<int:contact_id>/resolve")
@roles_required("manager")
def resolve_complaint(contact_id: int):
    try:
        services.resolve_complaint(contact_id, current_user, request.form.get("note"), clock.now())
    except AppError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("calls.complaints"))
    db.session.commit()
    flash(gettext("Complaint resolved."), "success")
    return redirect(url_for("calls.complaints"))


@bp.app_template_filter("utc_local")
def _utc_local(value: datetime | None, tz: str | None = None) -> str:
    """A naive UTC datetime shown in a time zone (the store's) as the page's
    language writes it, e.g. "Jun 1, 2026, 3:30 PM", "2026/06/01 15:30"."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.rstrip("Z"))
    aware = value.replace(tzinfo=timezone.utc)
    if tz:
        return format_moment(aware.astimezone(ZoneInfo(tz)))
    return format_moment(aware) + " UTC"

"""Manager pages of a campaign: the list, the form (target → settings), the
preview, the quota grid, the dashboard and one agent's queue.

Each POST parses the form, calls one service, commits and redirects; a
``ValidationError`` shows the form again with every message on its field
(422), a ``Conflict`` says what happened in words (409 on a form, a flash
message after the redirect on a button). The campaign's ``version`` travels
in every form, so saving over someone else's change answers 409 and keeps
what was typed.

The client card's "Contact policy" panel is registered from here (the
clients feature may not import campaigns): see ``card_panel``.
"""
from __future__ import annotations

from decimal import Decimal
from math import ceil

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import roles_required
from ..accounts.models import Staff, StaffLanguage, Store
from ..clients import rules as client_rules
from ..clients.models import Client
from ..clients.services import on_client_excluded
from ..clients.views import bucket_label, register_card_panel
from ..core import clock
from ..core.i18n import format_number, translated
from ..core.msgid import N_
from ..core.errors import Conflict, ValidationError
from ..core.models import Job
from ..extensions import db
from . import forms, policy, queries, rules, services
from .models import Script

bp = Blueprint("campaigns", __name__)
MANAGER = ("manager",)
PER_PAGE = 50
PREVIEW_LISTS = ("eligible", "holdout")


# ------------------------------------------------------------------ helpers

def _message(exc) -> str:
    """A service error in one sentence for a flash message (in the page's
    language when it is a fixed one, ``forms.FIXED_MESSAGES``)."""
    details = getattr(exc, "details", None)
    text = "; ".join(forms.fixed_message(str(v)) for v in details.values()) \
        if isinstance(details, dict) and details else forms.fixed_message(exc.message)
    return text[:1].upper() + text[1:]


def _page_arg() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


def _pager(page: int, total: int, per_page: int = PER_PAGE) -> dict:
    """Page facts and ``url(n)``: this page's URL (same query) at page n."""
    pages = max(1, ceil(total / per_page))

    def url(n: int) -> str:
        return url_for(request.endpoint, **(request.view_args or {}), **{**request.args.to_dict(), "page": n})
    return {"page": page, "pages": pages, "total": total, "has_prev": page > 1, "has_next": page < pages,
            "url": url}


def _holdout_pct(camp) -> str:
    """The holdout share as a percentage in the page's language (12.5 / 12,5)."""
    return format_number(Decimal(camp.holdout_bp).scaleb(-2))


def _store_codes() -> dict:
    return dict(db.session.execute(select(Store.id, Store.code)).all())


def _known_languages() -> list[str]:
    """Languages spoken by staff or given by clients: the checkboxes of the form."""
    staff = select(StaffLanguage.language)
    clients = select(Client.language).where(Client.language.is_not(None))
    u = staff.union(clients).subquery()
    return sorted(lg for lg in db.session.scalars(select(u.c.language)) if lg)


def _form_context(camp=None) -> dict:
    bounds = tuple(current_app.config["BUCKET_BOUNDS"])
    return {
        "stores": db.session.execute(select(Store.code, Store.name).order_by(Store.code)).all(),
        "known_languages": _known_languages(),
        "scripts": db.session.execute(select(Script.id, Script.name).order_by(Script.name)).all(),
        "buckets": [(b, bucket_label(b, bounds)) for b in client_rules.BUCKETS],
        "tiers": [(t, gettext(client_rules.TIER_LABELS[t])) for t in client_rules.TIERS],
        "value_classes": [*client_rules.VALUE_CLASSES, "none"],
        "offers": translated(rules.OFFERS), "camp": camp, "live_only": camp is not None and camp.status != "draft",
        "FIELD_LABELS": forms.FIELD_LABELS, "error_sentence": forms.error_sentence,
    }


def _back_to(camp_id: int):
    """Where a button's POST returns: the page it was pressed on (same site only)."""
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("campaigns.show", campaign_id=camp_id))


# ------------------------------------------------------------------ list

@bp.get("/campaigns")
@roles_required(*MANAGER)
def index():
    return render_template("campaigns/index.html", rows=queries.campaign_list())


# ------------------------------------------------------------------ the form

@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles_required(*MANAGER)
def new():
    ctx = _form_context()
    if request.method == "GET":
        default = db.session.scalar(select(Script.id).where(Script.is_default.is_(True)))
        return render_template("campaigns/form.html", values=forms.blank_values(default_script_id=default),
                               errors={}, conflict=None, **ctx)
    values = forms.values_from_form(request.form)
    try:
        camp = services.create_campaign(forms.data_from_values(values), current_user.id)
    except ValidationError as exc:
        db.session.rollback()
        return render_template("campaigns/form.html", values=values, errors=forms.field_errors(exc.details),
                               conflict=None, **ctx), 422
    db.session.commit()
    flash(gettext("Campaign “%(name)s” saved as a draft. Check who it reaches, then set the quotas.", name=camp.name))
    return redirect(url_for("campaigns.preview", campaign_id=camp.id))


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGER)
def edit(campaign_id):
    camp = services.get(campaign_id)
    if camp.status == "closed":
        flash(gettext("A closed campaign cannot be changed."), "error")
        return redirect(url_for("campaigns.show", campaign_id=camp.id))
    ctx = _form_context(camp)
    saved = forms.values_from_campaign(camp, _store_codes(), ctx["known_languages"])
    if request.method == "GET":
        return render_template("campaigns/form.html", values=saved, errors={}, conflict=None, **ctx)
    typed = forms.values_from_form(request.form)
    values = typed if camp.status == "draft" else forms.live_values(saved, typed)
    try:
        services.update_campaign(camp, forms.data_from_values(values), current_user.id,
                                 version=values["version"] or None)
    except ValidationError as exc:
        db.session.rollback()
        return render_template("campaigns/form.html", values=values, errors=forms.field_errors(exc.details),
                               conflict=None, **ctx), 422
    except Conflict as exc:
        db.session.rollback()
        message = _message(exc)
        current = services.get(campaign_id)
        if values["version"] and values["version"] != str(current.version) and current.status != "closed":
            # Shown the conflict, the person may save again on purpose: the form now
            # carries the current version, so a second Save replaces the other change.
            message = gettext("Someone else changed this campaign since you opened it. Check their changes on "
                              "the campaign page (in another tab); press Save again to replace them with what "
                              "is below.")
            values = {**values, "version": str(current.version)}
        return render_template("campaigns/form.html", values=values, errors={}, conflict=message,
                               **ctx), 409
    db.session.commit()
    flash(gettext("Changes saved."))
    return redirect(url_for("campaigns.show", campaign_id=camp.id))


@bp.get("/campaigns/target-counts")
@roles_required(*MANAGER)
def target_counts():
    """How many clients the filter as typed targets, and how many of them may be
    called (holdout included): the form's live counts. One statement."""
    args = request.args
    data = {"name": "counts", "as_of": args.get("as_of") or None,
            **{k: [v for v in args.getlist(k) if v] for k in ("buckets", "tiers", "value_classes", "stores")},
            "languages": [v for v in args.getlist("languages") if v] + forms.split_text(args.get("languages_other")),
            "last_services": forms.split_text(args.get("last_services"))}
    try:
        parsed = rules.parse_campaign(data)
    except rules.InputErrors as exc:
        return jsonify({"error": {"code": "invalid", "message": "; ".join(exc.errors.values()),
                                  "details": forms.field_errors(exc.errors)}}), 422
    codes = dict(db.session.execute(select(Store.code, Store.id).where(Store.code.in_(parsed.stores))).all())
    unknown = [c for c in parsed.stores if c not in codes]
    if unknown:
        return jsonify({"error": {"code": "invalid", "message": f"unknown store code(s): {', '.join(unknown)}",
                                  "details": {"stores": "unknown store code(s)"}}}), 422
    target = policy.Target(parsed.buckets, parsed.tiers, parsed.value_classes, sorted(codes.values()),
                           parsed.languages, parsed.last_services)
    rows = policy.assess(parsed.as_of, now=clock.utcnow_naive(), target=target,
                         campaign_id=args.get("campaign", type=int)).subquery()
    counts = db.session.execute(policy.verdict_counts(rows)).mappings().one()
    return jsonify({"targeted": int(counts["targeted"] or 0), "eligible": int(counts["eligible"] or 0)})


# ------------------------------------------------------------------ preview

@bp.get("/campaigns/<int:campaign_id>/preview")
@roles_required(*MANAGER)
def preview(campaign_id):
    camp = services.get(campaign_id)
    pv = queries.preview(camp, clock.utcnow_naive())
    return render_template("campaigns/preview.html", camp=camp, pv=pv, REASONS=rules.REASONS,
                           REASON_LABELS=translated(rules.REASON_LABELS),
                           POOL_REASON_LABELS=translated(rules.POOL_REASON_LABELS),
                           store_codes=_store_codes(), bounds=tuple(current_app.config["BUCKET_BOUNDS"]),
                           bucket_label=bucket_label, TIER_LABELS=translated(client_rules.TIER_LABELS),
                           holdout_pct=_holdout_pct(camp))


@bp.get("/campaigns/<int:campaign_id>/preview/clients")
@roles_required(*MANAGER)
def preview_clients(campaign_id):
    camp = services.get(campaign_id)
    reason = request.args.get("reason") or ""
    if reason not in rules.REASONS and reason not in PREVIEW_LISTS:
        abort(404, description=gettext("There is no such list in the preview; go back and pick a number."))
    page = _page_arg()
    rows, total = queries.excluded_clients(camp, clock.utcnow_naive(), reason, page=page, per_page=PER_PAGE)
    title = {"eligible": gettext("May be called (not in the holdout)"),
             "holdout": gettext("Holdout (the control group, never called)")}.get(reason)
    return render_template("campaigns/preview_clients.html", camp=camp, reason=reason, rows=rows,
                           title=title or gettext("Excluded: %(reason)s", reason=gettext(rules.REASON_LABELS[reason])),
                           pg=_pager(page, total), TIER_LABELS=translated(client_rules.TIER_LABELS))


# ------------------------------------------------------------------ quotas

def _inactive(grid) -> set:
    ids = [a["staff_id"] for a in grid if a["has_quota"]]
    if not ids:
        return set()
    return set(db.session.scalars(select(Staff.id).where(Staff.id.in_(ids), Staff.active.is_(False))))


@bp.route("/campaigns/<int:campaign_id>/quotas", methods=["GET", "POST"])
@roles_required(*MANAGER)
def quotas(campaign_id):
    camp = services.get(campaign_id, for_update=request.method == "POST")
    grid = queries.quota_grid(camp, all_agents=True)
    inactive = _inactive(grid)
    typed, row_errors, general, status = None, {}, [], 200
    if request.method == "POST":
        rows, typed = forms.quota_rows_from_form(request.form, grid, inactive)
        try:
            services.set_quotas(camp, rows, current_user.id, version=request.form.get("version") or None)
            job = services.start_assignment(camp, current_user.id) \
                if camp.status in ("active", "paused") else None
        except ValidationError as exc:
            db.session.rollback()
            row_errors, general = forms.quota_row_errors(exc.details, rows, grid)
            status = 422
        except Conflict as exc:
            db.session.rollback()
            general, status = [_message(exc)], 409
        else:
            db.session.commit()
            if job is not None:
                flash(gettext("Quotas saved. The assignment is running again; only the difference moves."))
                return redirect(url_for("campaigns.show", campaign_id=camp.id))
            flash(gettext("Quotas saved. Check the capacity against the demand below, then launch the campaign."))
            return redirect(url_for("campaigns.quotas", campaign_id=camp.id))
        camp = services.get(campaign_id)
    pv = queries.preview(camp, clock.utcnow_naive()) if camp.status != "closed" else None
    return render_template("campaigns/quotas.html", camp=camp, grid=grid, typed=typed, inactive=inactive,
                           row_errors=row_errors, general=general, pv=pv,
                           POOL_REASON_LABELS=translated(rules.POOL_REASON_LABELS),
                           error_sentence=forms.quota_error_sentence), status


# ------------------------------------------------------------------ dashboard

def _job(camp):
    return db.session.get(Job, camp.last_job_id) if camp.last_job_id else None


def _job_json(job) -> dict:
    return {"id": job.id, "status": job.status, "progress": round(job.progress or 0.0, 4),
            "result": job.result if job.status == "finished" else None,
            "error": job.error if job.status == "failed" else None}


# app.extensions key: functions fn(campaign, now) -> (template name, context), shown
# on the campaign page under the live counts (scoring adds the funnel, lift,
# reasons and offers). They run first: scoring's brings its roll-ups up to date.
CAMPAIGN_PANELS = "winback.campaign_panels"


def register_campaign_panel(blueprint, fn) -> None:
    """Add a panel to the campaign page when ``blueprint`` is registered on an app."""
    blueprint.record_once(lambda state: state.app.extensions.setdefault(CAMPAIGN_PANELS, []).append(fn))


@bp.get("/campaigns/<int:campaign_id>")
@roles_required(*MANAGER)
def show(campaign_id):
    camp = services.get(campaign_id)
    now = clock.utcnow_naive()
    panels = [fn(camp, now) for fn in current_app.extensions.get(CAMPAIGN_PANELS, ())] \
        if camp.status != "draft" else []
    agents = queries.agent_queues(camp)
    counts = queries.counts(camp) if camp.status != "draft" else None
    draft = None
    if camp.status == "draft":
        with_quota = [a for a in agents if a["target"] > 0 and not a["absent"]]
        draft = {"quotas": len(with_quota), "total_target": sum(a["target"] for a in with_quota)}
    movable = sum(a["untouched"] for a in agents if a["absent"])
    return render_template("campaigns/show.html", camp=camp, agents=agents, counts=counts, draft=draft,
                           panels=panels,
                           job=_job(camp), movable=movable, total_items=sum(a["items"] for a in agents), store_codes=_store_codes(),
                           TRANSITIONS=rules.TRANSITIONS, STATUS_ACTIONS=translated(rules.STATUS_ACTIONS),
                           POOL_REASON_LABELS=translated(rules.POOL_REASON_LABELS), OFFERS=translated(rules.OFFERS),
                           bounds=tuple(current_app.config["BUCKET_BOUNDS"]),
                           bucket_label=bucket_label, TIER_LABELS=translated(client_rules.TIER_LABELS),
                           holdout_pct=_holdout_pct(camp))


@bp.get("/campaigns/<int:campaign_id>/job.json")
@roles_required(*MANAGER)
def job_status(campaign_id):
    job = _job(services.get(campaign_id))
    if job is None:
        abort(404, description=gettext("This campaign has no assignment job."))
    return jsonify(_job_json(job))


@bp.get("/campaigns/<int:campaign_id>/agents/<code>")
@roles_required(*MANAGER)
def agent_queue(campaign_id, code):
    camp = services.get(campaign_id)
    staff = db.session.scalar(select(Staff).where(Staff.employee_code == code))
    if staff is None:
        abort(404, description=gettext("No staff member %(code)s.", code=code))
    page = _page_arg()
    rows, total = queries.agent_items(camp, staff.id, page=page, per_page=PER_PAGE)
    return render_template("campaigns/agent.html", camp=camp, staff=staff, rows=rows,
                           pg=_pager(page, total), offset=(page - 1) * PER_PAGE)


# ------------------------------------------------------------------ buttons

def _button(campaign_id: int, change, failed: str, done: str, to: str | None = None, name: str | None = None):
    """A dashboard button: lock the campaign, make one change, commit, flash,
    redirect; a refusal (422/409) flashes why and changes nothing. ``failed``
    and ``done`` are marked with ``N_`` and translated here (``done`` may name
    the campaign as ``%(name)s``)."""
    camp = services.get(campaign_id, for_update=True)
    version = request.form.get("version") or None
    try:
        change(camp, version)
    except (ValidationError, Conflict) as exc:
        db.session.rollback()
        flash(gettext("%(what)s: %(why)s", what=gettext(failed), why=_message(exc)), "error")
        return _back_to(campaign_id)
    db.session.commit()
    if done:  # gettext("") would be the catalogue's header
        flash(gettext(done, name=name) if name is not None else gettext(done))
    return redirect(to or url_for("campaigns.show", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/launch")
@roles_required(*MANAGER)
def launch(campaign_id):
    return _button(campaign_id, lambda camp, v: services.launch(camp, current_user.id, version=v),
                   N_("The campaign was not launched"),
                   N_("Launched. The assignment is running; the queues fill in when it finishes."))


_STATUS_DONE = {
    "active": N_("Resumed: agents get clients from this campaign again."),
    "paused": N_("Paused: agents get no clients from this campaign until you resume it."),
    "closed": N_("Closed: every open queue item is closed and its client is free for other campaigns."),
}


@bp.post("/campaigns/<int:campaign_id>/status")
@roles_required(*MANAGER)
def set_status(campaign_id):
    new = request.form.get("status") or ""
    return _button(campaign_id, lambda camp, v: services.set_status(camp, new, current_user.id, version=v),
                   N_("Nothing changed"), _STATUS_DONE.get(new, ""))


@bp.post("/campaigns/<int:campaign_id>/assign")
@roles_required(*MANAGER)
def assign(campaign_id):
    move_absent = request.form.get("move_absent") == "1"
    return _button(campaign_id,
                   lambda camp, v: services.start_assignment(camp, current_user.id, move_absent=move_absent),
                   N_("The assignment did not start"),
                   N_("Absent agents' untouched items are going back to the pool and on to agents with room.")
                   if move_absent else N_("The assignment is running again; only the difference moves."))


@bp.post("/campaigns/<int:campaign_id>/delete")
@roles_required(*MANAGER)
def delete(campaign_id):
    name = services.get(campaign_id).name
    return _button(campaign_id, lambda camp, v: services.delete_draft(camp, current_user.id, version=v),
                   N_("Not deleted"), N_("Draft “%(name)s” deleted."), to=url_for("campaigns.index"), name=name)


# ------------------------------------------------------------------ the client card

def card_panel(client_id: int, now) -> tuple[str, dict]:
    """The card's "Contact policy" panel: may the client be queued, and why not."""
    status = policy.client_status(client_id, now=now)
    cfg = current_app.config
    status["reasons"] = [{**r, "label": gettext(r["label"]),
                          "sentence": _reason_sentence(r["code"], int(cfg["CONTACT_COOLDOWN_DAYS"]),
                                                       int(cfg["CONTACT_CAP"]))}
                         for r in status["reasons"]]
    return "campaigns/_card_policy.html", {"policy": status}


def _reason_sentence(reason: str, cooldown_days: int, contact_cap: int) -> str:
    """``rules.reason_sentence`` (the API's English) in the page's language."""
    if reason == "cooldown":
        return ngettext("was reached by a campaign in the last %(num)s day",
                        "was reached by a campaign in the last %(num)s days", cooldown_days)
    if reason == "contact_cap":
        return ngettext("has had %(num)s or more contacts in total (the lifetime cap)",
                        "has had %(num)s or more contacts in total (the lifetime cap)", contact_cap)
    return gettext(_REASON_SENTENCES[reason])


_REASON_SENTENCES = {
    "do_not_contact": N_("asked not to be contacted"),
    "moved_away": N_("has moved away"),
    "no_call_consent": N_("has not consented to calls"),
    "banned": N_("is banned (repeated no-shows or a manager's ban)"),
    "no_phone": N_("has no phone number we can call"),
    "never_visited": N_("has never visited and has not asked to be contacted"),
    "upcoming_booking": N_("already has an upcoming booking"),
    "in_other_campaign": N_("is already in another active campaign"),
}


register_card_panel(bp, card_panel)
on_client_excluded(bp, services.close_open_items)

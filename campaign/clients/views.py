"""Manager pages: the dormancy overview, the clients behind each number, the
client card and a manager's changes on it (ban, lift, do-not-contact, "asked
to be contacted"). Admins read the card too (privacy requests are theirs to
carry out) but do not change it.

Features that come later (campaigns) add panels to the card without this
package importing them: ``register_card_panel`` at app setup, and the card
includes each panel's template.
"""
from __future__ import annotations

import re
from datetime import date
from functools import partial

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ..accounts.auth import roles_required
from ..core import clock
from ..core.errors import ValidationError
from ..core.i18n import known_message, language as i18n_language, translated
from ..core.msgid import N_
from ..extensions import db
from . import queries, rules, services

bp = Blueprint("clients", __name__)
# A person's name in its own script's order, for every template (clients.rules.full_name).
bp.add_app_template_global(rules.full_name, "person_name")

# app.extensions key: functions fn(client_id, now) -> (template name, context) for the card.
CARD_PANELS = "winback.card_panels"


def register_card_panel(blueprint: Blueprint, fn) -> None:
    """Add a panel to the client card when ``blueprint`` is registered on an app."""
    blueprint.record_once(lambda state: state.app.extensions.setdefault(CARD_PANELS, []).append(fn))


# Service messages without values that the card flashes (the API keeps them in
# English): marked here, translated when shown. Messages with values stay English.
_FIXED_MESSAGES = (
    N_("Give a reason: it is kept in the audit log."),
    N_("The client's personal data was erased; the card can no longer be changed."),
    N_("The client is already banned by a manager."),
    N_("The client is not banned."),
    N_("The client is already marked do-not-contact."),
    N_("The client is not marked do-not-contact."),
    N_("Nothing to change: the card already says so."),
)


def fixed_message(text: str) -> str:
    return known_message(text, _FIXED_MESSAGES)


def bucket_label(bucket: str, bounds: tuple[int, ...]) -> str:
    """``rules.bucket_label`` in the page's language: 'd1' -> '30–59 days'."""
    if bucket == "never":
        return gettext("No completed visit")
    if bucket == "active":
        return ngettext("Active (< %(num)s day)", "Active (< %(num)s days)", bounds[0])
    if bucket == "d3plus":
        return ngettext("%(num)s+ day", "%(num)s+ days", bounds[3])
    i = rules.BUCKETS.index(bucket)
    return ngettext("%(low)s–%(num)s day", "%(low)s–%(num)s days", bounds[i] - 1, low=bounds[i - 1])


def _as_of(errors: list) -> date | None:
    try:
        return rules.parse_as_of(request.args.get("as_of"))
    except ValueError:
        text = (request.args.get("as_of") or "").strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            errors.append(gettext("as_of is not a real date: %(value)s", value=repr(text)))
        else:
            errors.append(gettext("as_of must be a date as YYYY-MM-DD, got %(value)s", value=repr(text)))
        return None


def _filters():
    """as_of and store from the query string; errors are shown next to the form
    (and answer 422) while the page falls back to today and all stores."""
    errors = []
    as_of = _as_of(errors)
    store_code = (request.args.get("store") or "").strip() or None
    try:
        store_ids = queries.store_ids_for(store_code)
    except ValidationError:
        errors.append(gettext("unknown store code %(code)s", code=repr(store_code)))
        store_code, store_ids = None, None
    return as_of, store_code, store_ids, errors


def _page_arg(name: str) -> int:
    return max(1, request.args.get(name, 1, type=int) or 1)


def _url_args(**changes) -> str:
    """This page's URL with some query arguments changed (pagers keep the filters)."""
    args = request.args.to_dict()
    args.update(changes)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def _view_context(as_of, store_code, errors):
    return {"url_args": _url_args, "as_of": as_of, "store_code": store_code, "errors": errors,
            "stores": queries.stores(), "bounds": tuple(current_app.config["BUCKET_BOUNDS"]),
            "BUCKETS": rules.BUCKETS, "TIERS": rules.TIERS, "TIER_LABELS": translated(rules.TIER_LABELS),
            "bucket_label": bucket_label}


@bp.get("/dormancy")
@roles_required("manager")
def dormancy():
    as_of, store_code, store_ids, errors = _filters()
    ov, overdue, banned = queries.dormancy_page(as_of, store_ids=store_ids,
                                                overdue_page=_page_arg("overdue_page"),
                                                banned_page=_page_arg("banned_page"))
    return render_template("clients/dormancy.html", ov=ov, overdue=overdue, banned=banned,
                           **_view_context(as_of, store_code, errors)), 422 if errors else 200


@bp.get("/dormancy/clients")
@roles_required("manager")
def segment_clients():
    as_of, store_code, store_ids, errors = _filters()
    bucket = request.args.get("bucket") or None
    tier = request.args.get("tier") or None
    flag = request.args.get("list") or None
    if bucket not in (None, *rules.BUCKETS):
        errors.append(gettext("unknown bucket %(value)s", value=repr(bucket)))
        bucket = None
    if tier not in (None, *rules.TIERS):
        errors.append(gettext("unknown tier %(value)s", value=repr(tier)))
        tier = None
    if flag not in (None, *rules.FLAGS):
        errors.append(gettext("unknown list %(value)s", value=repr(flag)))
        flag = None
    name = (request.args.get("name") or "").strip()
    if len(name) > 100:
        errors.append(gettext("Search for at most 100 characters of a name."))
        name = ""
    sort = request.args.get("sort") or "value"
    if sort not in ("value", "name"):
        errors.append(gettext("unknown order %(value)s", value=repr(sort)))
        sort = "value"
    page = queries.segment_clients(as_of, bucket=bucket, tier=tier, store_ids=store_ids, flag=flag,
                                   page=_page_arg("page"), name=name or None,
                                   by_name_in=i18n_language() if sort == "name" else None)
    bounds = tuple(current_app.config["BUCKET_BOUNDS"])
    heading = [p for p in ({"overdue": gettext("Overdue"), "banned": gettext("Banned")}.get(flag),
                           bucket and bucket_label(bucket, bounds),
                           tier and gettext(rules.TIER_LABELS[tier])) if p]
    return render_template("clients/segment_clients.html", page=page, bucket=bucket, tier=tier,
                           flag=flag, heading=heading, name=name, sort=sort,
                           **_view_context(as_of, store_code, errors)), 422 if errors else 200


@bp.get("/clients/<ref>")
@roles_required("manager", "admin")  # admins read it to handle privacy requests; changes are managers'
def card(ref):
    errors = []
    as_of = _as_of(errors)
    card = queries.client_card(ref, as_of)
    if card is None:
        abort(404, description=gettext("No client with that reference."))
    client = services.by_ref(ref)
    now = clock.utcnow_naive()
    panels = [fn(client.id, now) for fn in current_app.extensions.get(CARD_PANELS, ())]
    # The words of the earlier contacts' codes (a pure module of the calls feature).
    from ..calls import rules as call_rules
    return render_template("clients/card.html", card=card, client=client, panels=panels, errors=errors,
                           bounds=tuple(current_app.config["BUCKET_BOUNDS"]),
                           bucket_label=bucket_label, TIER_LABELS=translated(rules.TIER_LABELS),
                           reason_max=services.REASON_MAX,
                           DISPOSITIONS=translated(call_rules.DISPOSITION_LABELS),
                           CONTACT_REASONS=translated(call_rules.REASON_LABELS),
                           as_of_arg=as_of), 422 if errors else 200


# A manager's changes on the card: each a small form with a reason, audited.
_CARD_ACTIONS = {
    "ban": (services.ban, N_("Banned: the client is excluded from campaigns.")),
    "lift-ban": (services.lift_ban, N_("Ban lifted: no-shows count again from now.")),
    "dnc": (services.set_do_not_contact, N_("Marked do-not-contact: the client will not be queued for calls.")),
    "dnc-clear": (services.clear_do_not_contact, N_("Do-not-contact cleared.")),
    "contact-requested": (partial(services.set_contact_requested, requested=True),
                          N_("Noted: the client asked to be contacted.")),
    "contact-requested-clear": (partial(services.set_contact_requested, requested=False),
                                N_("Noted: the client no longer asks to be contacted.")),
}


@bp.post("/clients/<ref>/policy/<action>")
@roles_required("manager")
def card_action(ref, action):
    if action not in _CARD_ACTIONS:
        abort(404, description=gettext("No such change on the card."))
    client = services.by_ref(ref)
    change, done = _CARD_ACTIONS[action]
    try:
        change(client, reason=request.form.get("reason"), actor_id=current_user.id)
    except ValidationError as exc:
        db.session.rollback()
        flash(gettext("Nothing changed. %(why)s", why=fixed_message(exc.message)), "error")
    else:
        db.session.commit()
        flash(gettext(done))
    return redirect(url_for("clients.card", ref=ref, _anchor="policy-actions"))

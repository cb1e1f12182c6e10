"""The campaign form and the quota grid: browser fields ↔ the API's shapes.

No WTForms here: the target filter is groups of checkboxes and the quota grid
one row of inputs per agent, which read more plainly from ``request.form``.
CSRF is still checked on every POST (Flask-WTF's ``CSRFProtect``). These
functions only translate; the services validate, and ``field_errors`` puts
each of their messages back on the field the person typed it in.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext

from ..core.i18n import known_message
from ..core.msgid import N_
from .models import Campaign

HOLDOUT_MESSAGE = "must be a percentage from 0 to 90, with at most 2 decimals"

# The services' field messages without values (they stay English in the API),
# each as the whole sentence a page shows with its field's label. Any other
# message (it carries a value: a range, a code) is shown as it comes.
_FIELD_SENTENCES = {
    "is required": N_("%(field)s is required"),
    "must be a whole number": N_("%(field)s must be a whole number"),
    "must be a time HH:MM (24-hour)": N_("%(field)s must be a time HH:MM (24-hour)"),
    "must be a date YYYY-MM-DD": N_("%(field)s must be a date YYYY-MM-DD"),
    "must be at most 200 characters": N_("%(field)s must be at most 200 characters"),
    "must be a list": N_("%(field)s must be a list"),
    "must be a list of strings": N_("%(field)s must be a list of strings"),
    "must be true or false": N_("%(field)s must be true or false"),
    "must be an object": N_("%(field)s must be an object"),
    HOLDOUT_MESSAGE: N_("%(field)s must be a percentage from 0 to 90, with at most 2 decimals"),
    "cannot change once the campaign is launched": N_("%(field)s cannot change once the campaign is launched"),
    "the start must be before the end": N_("%(field)s: the start must be before the end"),
}
# Messages without a field (a refusal of the whole form or button).
FIXED_MESSAGES = (
    N_("this campaign was changed by someone else since you opened it; "
       "reload to see their changes, then make yours again"),
    N_("a closed campaign cannot be changed"),
    N_("only a draft can be deleted; close a launched campaign instead"),
    N_("a closed campaign's quotas cannot be changed"),
    N_("launch a draft with its Launch action (it runs the assignment)"),
    N_("give at least one agent who is not absent a target above 0 first"),
)


def fixed_message(text: str) -> str:
    return known_message(text, FIXED_MESSAGES)

# The fields a launched campaign still takes from the form (services.LIVE_FIELDS).
LIVE_FORM_FIELDS = ("name", "call_start", "call_end", "max_attempts", "retry_delay_hours",
                    "attribution_window_days", "script_id", "offers")
# Service error keys of the database column → the form field they belong to.
_ERROR_FIELDS = {"call_start": "calling_hours.start", "call_end": "calling_hours.end",
                 "holdout_bp": "holdout_share", "store_ids": "stores"}

LIST_FIELDS = ("buckets", "tiers", "value_classes", "stores", "languages", "offers")


def split_text(text: str | None) -> list[str]:
    """'a, b; c' → ['a', 'b', 'c'] (empty parts dropped)."""
    return [p.strip() for p in re.split(r"[,;]", text or "") if p.strip()]


def percent_to_share(text: str | None):
    """'12.5' (or '12,5 %') → '0.125' for the service; '' → None (the
    default); anything else → a value the service refuses, so the message
    lands on the field with the others."""
    text = (text or "").strip().rstrip("%").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "invalid"
    if not value.is_finite():
        return "invalid"
    return str(value / 100)


def share_text(holdout_bp: int) -> str:
    """1000 basis points → '10'; 1250 → '12.5'."""
    return f"{holdout_bp / 100:g}"


def blank_values(*, default_script_id=None) -> dict:
    """A new campaign's form: every filter empty (= everyone), the defaults of SPEC §5."""
    return {"name": "", "as_of": "", "buckets": [], "tiers": [], "value_classes": [], "stores": [],
            "languages": [], "languages_other": "", "last_services": "", "call_start": "10:00",
            "call_end": "20:00", "max_attempts": "3", "retry_delay_hours": "24", "holdout_pct": "10",
            "attribution_window_days": "30", "script_id": str(default_script_id or ""), "offers": [],
            "version": ""}


def values_from_campaign(camp: Campaign, store_codes: dict, known_languages) -> dict:
    """The form as the campaign is saved (languages nobody is known to speak
    go to the free-text box)."""
    langs = list(camp.languages or [])
    return {
        "name": camp.name, "as_of": camp.as_of.isoformat() if camp.as_of else "",
        "buckets": list(camp.buckets or []), "tiers": list(camp.tiers or []),
        "value_classes": list(camp.value_classes or []),
        "stores": [store_codes.get(i, str(i)) for i in camp.store_ids or []],
        "languages": [lg for lg in langs if lg in known_languages],
        "languages_other": ", ".join(lg for lg in langs if lg not in known_languages),
        "last_services": ", ".join(camp.last_services or []),
        "call_start": camp.call_start.strftime("%H:%M"), "call_end": camp.call_end.strftime("%H:%M"),
        "max_attempts": str(camp.max_attempts), "retry_delay_hours": str(camp.retry_delay_hours),
        "holdout_pct": share_text(camp.holdout_bp),
        "attribution_window_days": str(camp.attribution_window_days),
        "script_id": str(camp.script_id or ""), "offers": list(camp.offers or []),
        "version": str(camp.version),
    }


def values_from_form(form) -> dict:
    """What the person typed, kept as typed (for showing the form again)."""
    out = {key: (form.get(key) or "").strip() for key in (
        "name", "as_of", "languages_other", "last_services", "call_start", "call_end", "max_attempts",
        "retry_delay_hours", "holdout_pct", "attribution_window_days", "script_id", "version")}
    for key in LIST_FIELDS:
        out[key] = [v for v in form.getlist(key) if v]
    return out


def data_from_values(values: dict) -> dict:
    """The API's body (SPEC §9 ``POST /campaigns``) from the form's values."""
    return {
        "name": values["name"], "as_of": values["as_of"] or None,
        "buckets": values["buckets"], "tiers": values["tiers"], "value_classes": values["value_classes"],
        "stores": values["stores"],
        "languages": values["languages"] + split_text(values["languages_other"]),
        "last_services": split_text(values["last_services"]),
        "calling_hours": {"start": values["call_start"], "end": values["call_end"]},
        "max_attempts": values["max_attempts"], "retry_delay_hours": values["retry_delay_hours"],
        "holdout_share": percent_to_share(values["holdout_pct"]),
        "attribution_window_days": values["attribution_window_days"],
        "script_id": values["script_id"] or None, "offers": values["offers"],
    }


def live_values(saved: dict, typed: dict) -> dict:
    """A launched campaign: the saved values with only the editable ones typed."""
    out = dict(saved)
    for key in LIVE_FORM_FIELDS:
        out[key] = typed[key]
    out["version"] = typed["version"]
    return out


def field_errors(details: dict | None) -> dict:
    """The service's {key: message} with the keys of the form's fields."""
    out = {}
    for key, message in (details or {}).items():
        key = _ERROR_FIELDS.get(key, key)
        out[key] = HOLDOUT_MESSAGE if key == "holdout_share" else message
    return out


# ------------------------------------------------------------------ quotas

def quota_rows_from_form(form, grid: list[dict], inactive: set) -> tuple[list[dict], dict]:
    """The rows for ``services.set_quotas`` and the grid as typed.

    An agent is sent when they have a quota already (so a target of 0 or a
    change to "absent" is saved) or something was typed for them; agents who
    left (``inactive`` staff ids) are not sent, so their quota is removed.
    """
    rows, typed = [], {}
    for a in grid:
        sid = a["staff_id"]
        target = (form.get(f"target-{sid}") or "").strip()
        cap = (form.get(f"cap-{sid}") or "").strip()
        absent = form.get(f"absent-{sid}") == "1"
        typed[sid] = {"target": target, "daily_cap": cap, "absent": absent}
        if sid in inactive:
            continue
        if a["has_quota"] or target not in ("", "0") or cap or absent:
            rows.append({"employee_code": a["employee_code"], "target": target or 0,
                         "daily_cap": cap or None, "absent": absent})
    return rows, typed


def quota_row_errors(details: dict | None, rows: list[dict], grid: list[dict]) -> tuple[dict, list]:
    """``[3].target`` → {staff_id: {"target": message}}; other messages in a list."""
    by_code = {a["employee_code"]: a["staff_id"] for a in grid}
    per_row, general = {}, []
    for key, message in (details or {}).items():
        m = re.fullmatch(r"\[(\d+)\](?:\.(\w+))?", key)
        if m and 1 <= int(m.group(1)) <= len(rows):
            sid = by_code[rows[int(m.group(1)) - 1]["employee_code"]]
            per_row.setdefault(sid, {})[m.group(2) or "row"] = message
        else:
            general.append(fixed_message(message) if key in ("body", "quotas") else f"{key}: {message}")
    return per_row, general


# The columns of a quota row, for its error messages.
QUOTA_LABELS = {"target": N_("Target"), "daily_cap": N_("Daily cap"), "absent": N_("Absent"),
                "employee_code": N_("Agent"), "row": N_("Row")}


def quota_error_sentence(key: str, message: str) -> str:
    """'target', 'must be a whole number' → 'Target must be a whole number'."""
    return _sentence(gettext(QUOTA_LABELS[key]) if key in QUOTA_LABELS else key, message)


def _sentence(label: str, message: str) -> str:
    if message in _FIELD_SENTENCES:
        return gettext(_FIELD_SENTENCES[message], field=label)
    if message.startswith(("is ", "must ", "cannot ")):
        return gettext("%(field)s %(message)s", field=label, message=message)
    return gettext("%(field)s: %(message)s", field=label, message=message)


# Each error key of the form: its label and the id of the element to jump to.
FIELD_LABELS = {
    "name": (N_("Name"), "f-name"), "as_of": (N_("As-of date"), "f-as_of"),
    "buckets": (N_("Time since last visit"), "g-buckets"), "tiers": (N_("Tier"), "g-tiers"),
    "value_classes": (N_("Value class"), "g-value_classes"), "stores": (N_("Stores"), "g-stores"),
    "languages": (N_("Languages"), "f-languages_other"), "last_services": (N_("Last service"), "f-last_services"),
    "calling_hours.start": (N_("Calling hours from"), "f-call_start"),
    "calling_hours.end": (N_("Calling hours until"), "f-call_end"), "calling_hours": (N_("Calling hours"), "g-hours"),
    "max_attempts": (N_("Max call attempts"), "f-max_attempts"),
    "retry_delay_hours": (N_("Retry delay"), "f-retry_delay_hours"),
    "holdout_share": (N_("Holdout share"), "f-holdout_pct"),
    "attribution_window_days": (N_("Attribution window"), "f-attribution_window_days"),
    "script_id": (N_("Script"), "f-script_id"), "offers": (N_("Offers"), "g-offers"),
}


def error_sentence(key: str, message: str) -> str:
    """'name', 'is required' → 'Name is required' (in the page's language); other
    messages after a colon."""
    label = gettext(FIELD_LABELS[key][0]) if key in FIELD_LABELS else key.replace("_", " ").capitalize()
    return _sentence(label, message)

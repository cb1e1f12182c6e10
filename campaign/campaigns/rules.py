"""Campaign vocabulary and the pure parts of the contact policy and assignment.

No Flask, no SQLAlchemy, no clock. ``policy.py`` and ``assignment.py`` run
the set-based SQL; this module holds what they share with pages, the API and
the tests: the exclusion reasons and their words, the status workflow, the
holdout hash (the SQL computes the very same integers), the validation of a
campaign's settings and the small max-flow that splits agents' quotas between
languages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time

from ..clients.rules import BUCKETS, TIERS, VALUE_CLASSES
from ..core.msgid import N_

# ------------------------------------------------------------------ the policy

# Exclusion reasons in the order the policy checks them (SPEC §4, plus the
# upcoming booking and a move away). A client excluded for several reasons is
# counted once under the first, and listed with all of them on the card.
REASONS = (
    "do_not_contact", "moved_away", "no_call_consent", "banned", "no_phone",
    "never_visited", "upcoming_booking", "in_other_campaign", "cooldown", "contact_cap",
)

REASON_LABELS = {
    "do_not_contact": N_("Do not contact"),
    "moved_away": N_("Moved away"),
    "no_call_consent": N_("No consent to calls"),
    "banned": N_("Banned (no-shows or a manager's ban)"),
    "no_phone": N_("No callable phone"),
    "never_visited": N_("Never visited (and did not ask to be contacted)"),
    "upcoming_booking": N_("Has an upcoming booking"),
    "in_other_campaign": N_("Already in another active campaign"),
    "cooldown": N_("Reached recently (cooldown)"),
    "contact_cap": N_("Lifetime contact cap reached"),
}


def reason_sentence(reason: str, *, cooldown_days: int, contact_cap: int) -> str:
    """The reason in words for a client's card."""
    return {
        "do_not_contact": "asked not to be contacted",
        "moved_away": "has moved away",
        "no_call_consent": "has not consented to calls",
        "banned": "is banned (repeated no-shows or a manager's ban)",
        "no_phone": "has no phone number we can call",
        "never_visited": "has never visited and has not asked to be contacted",
        "upcoming_booking": "already has an upcoming booking",
        "in_other_campaign": "is already in another active campaign",
        "cooldown": f"was reached by a campaign in the last {cooldown_days} days",
        "contact_cap": f"has had {contact_cap} or more contacts in total (the lifetime cap)",
    }[reason]


# Why a client stopped coming (DOMAIN.md), in the order agents see them: the
# reason code of a call outcome and the answers of the script's reason step.
REASON_CODES = ("parking", "moved", "service", "technique", "mismatch", "pushy_sales", "price",
                "policy", "personal", "other")

# Reason codes of an outcome that mean the business was at fault: such
# clients (and those with an open complaint) are called first.
SERVICE_FAILURE_REASONS = ("service", "technique", "pushy_sales")

POOL_REASON_LABELS = {
    "no_agent_language": N_("No agent with quota speaks the client's language"),
    "quota_full": N_("Every agent who speaks the language has a full quota"),
}

# ------------------------------------------------------------------ workflow

TRANSITIONS = {
    "draft": ("active",),
    "active": ("paused", "closed"),
    "paused": ("active", "closed"),
    "closed": (),
}

STATUS_ACTIONS = {"active": N_("Resume"), "paused": N_("Pause"), "closed": N_("Close")}


def may_transition(current: str, new: str) -> bool:
    """draft → active ⇄ paused → closed; active → closed. Nothing leaves closed."""
    return new in TRANSITIONS.get(current, ())


# ------------------------------------------------------------------ holdout

_MASK32 = 0xFFFFFFFF


def holdout_hash(client_id: int, seed: int) -> int:
    """A reproducible pseudo-random number in [0, 10000) for a client.

    Integer-only and non-linear (xor-shift rounds between multiplications), so
    SQLite and PostgreSQL compute exactly the same value in SQL
    (``policy.holdout_value``): every intermediate stays below 2⁶³. A client
    is in the holdout iff ``holdout_hash(client_id, seed) < holdout_bp``.
    """
    h = (client_id * 2654435761 + seed) % 4294967291
    h = h ^ (h >> 15)
    h = (h * 1597334677) & _MASK32
    h = h ^ (h >> 13)
    h = (h * 1103515245) & _MASK32
    return h % 10000


# ------------------------------------------------------------------ settings

OFFERS = {
    "new_service": N_("A new service to try"),
    "renovation": N_("Come and see the renovated salon"),
    "new_staff": N_("Meet our new technicians"),
    "free_trial": N_("A free trial card to collect in store"),
    "talk_it_over": N_("A visit to talk over what went wrong"),
    "renewal_discount": N_("A renewal or package discount"),
    "bring_a_friend": N_("Bring a friend"),
    "holiday_greeting": N_("A holiday greeting with a small gift"),
    "free_redo": N_("A free re-do with another technician"),
}

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass
class CampaignInput:
    """A campaign's settings after validation (stores still as codes)."""

    name: str
    as_of: date | None = None
    buckets: list = field(default_factory=list)
    tiers: list = field(default_factory=list)
    value_classes: list = field(default_factory=list)
    stores: list = field(default_factory=list)
    languages: list = field(default_factory=list)
    last_services: list = field(default_factory=list)
    call_start: time = time(10, 0)
    call_end: time = time(20, 0)
    max_attempts: int = 3
    retry_delay_hours: int = 24
    holdout_bp: int = 1000
    attribution_window_days: int = 30
    script_id: int | None = None
    offers: list = field(default_factory=list)


class InputErrors(Exception):
    """{field: message} for every invalid field at once."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _str_list(value, name, errors, allowed=None, *, lower=False):
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,;]", value)]
    if not isinstance(value, (list, tuple)):
        errors[name] = "must be a list"
        return []
    out = []
    for v in value:
        if not isinstance(v, str):
            errors[name] = "must be a list of strings"
            return []
        v = v.strip()
        if lower:
            v = v.lower()
        if not v:
            continue
        if allowed is not None and v not in allowed:
            errors[name] = f"unknown value {v!r} (allowed: {', '.join(allowed)})"
            return []
        if v not in out:
            out.append(v)
    return out


def _int_field(value, name, errors, default, lo, hi):
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        errors[name] = "must be a whole number"
        return default
    try:
        n = int(value)
        if isinstance(value, float) and value != n:
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: int() of an infinity
        errors[name] = "must be a whole number"
        return default
    if not lo <= n <= hi:
        errors[name] = f"must be between {lo} and {hi}"
    return n


def _time_field(value, name, errors, default):
    if value is None or value == "":
        return default
    m = _TIME.match(str(value).strip())
    if not m:
        errors[name] = "must be a time HH:MM (24-hour)"
        return default
    return time(int(m.group(1)), int(m.group(2)))


def parse_campaign(data: dict, *, partial: bool = False) -> CampaignInput:
    """Validate a campaign's settings as the API and the form send them.

    ``holdout_share`` is a fraction (0.1 = 10 %) with at most 4 decimals,
    0 to 0.9; ``calling_hours`` is ``{"start": "10:00", "end": "20:00"}``.
    Raises ``InputErrors`` with every invalid field. Store codes, languages
    and the script are checked against the database by the service.
    """
    if not isinstance(data, dict):
        raise InputErrors({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "is required"
        name = ""
    elif len(name.strip()) > 200:
        errors["name"] = "must be at most 200 characters"
    out = CampaignInput(name=name.strip())
    raw_as_of = data.get("as_of")
    if raw_as_of not in (None, ""):
        try:
            out.as_of = date.fromisoformat(str(raw_as_of))
        except ValueError:
            errors["as_of"] = "must be a date YYYY-MM-DD"
    out.buckets = _str_list(data.get("buckets"), "buckets", errors, BUCKETS)
    out.tiers = _str_list(data.get("tiers"), "tiers", errors, TIERS)
    out.value_classes = _str_list(data.get("value_classes"), "value_classes", errors,
                                  VALUE_CLASSES + ("none",))
    out.stores = _str_list(data.get("stores"), "stores", errors)
    out.languages = _str_list(data.get("languages"), "languages", errors, lower=True)
    for lang in out.languages:
        if not re.fullmatch(r"[a-z]{2,3}", lang):
            errors["languages"] = f"{lang!r} is not a language code such as 'ja' or 'pl'"
    out.last_services = _str_list(data.get("last_services", data.get("last_service")),
                                  "last_services", errors)
    hours = data.get("calling_hours") or {}
    if not isinstance(hours, dict):
        errors["calling_hours"] = 'must be {"start": "HH:MM", "end": "HH:MM"}'
        hours = {}
    out.call_start = _time_field(hours.get("start"), "calling_hours.start", errors, time(10, 0))
    out.call_end = _time_field(hours.get("end"), "calling_hours.end", errors, time(20, 0))
    if out.call_start >= out.call_end and "calling_hours.start" not in errors \
            and "calling_hours.end" not in errors:
        errors["calling_hours"] = "the start must be before the end"
    out.max_attempts = _int_field(data.get("max_attempts"), "max_attempts", errors, 3, 1, 10)
    out.retry_delay_hours = _int_field(data.get("retry_delay_hours"), "retry_delay_hours", errors,
                                       24, 1, 24 * 14)
    out.attribution_window_days = _int_field(data.get("attribution_window_days"),
                                             "attribution_window_days", errors, 30, 1, 365)
    share = data.get("holdout_share")
    if share not in (None, ""):
        try:
            if isinstance(share, bool):
                raise ValueError
            f = float(share)
            bp = round(f * 10000)
            if abs(f * 10000 - bp) > 1e-6:
                raise ValueError
            if not 0 <= bp <= 9000:
                errors["holdout_share"] = "must be between 0 and 0.9"
            out.holdout_bp = bp
        except (TypeError, ValueError, OverflowError):  # OverflowError: 1e305 * 10000, or "inf"
            errors["holdout_share"] = "must be a fraction such as 0.1 (at most 4 decimals)"
    script = data.get("script_id")
    if script not in (None, ""):
        out.script_id = _int_field(script, "script_id", errors, None, 1, 2**31 - 1)
    out.offers = _str_list(data.get("offers"), "offers", errors, tuple(OFFERS))
    if errors:
        raise InputErrors(errors)
    return out


# ------------------------------------------------------------------ quotas

def parse_quota_rows(rows) -> list[dict]:
    """``[{"employee_code", "target", "daily_cap", "absent"}]`` → cleaned rows.

    ``target`` 0..100000, ``daily_cap`` empty/None or 1..1000, ``absent``
    boolean (default false). Every problem is reported with its row (1-based).
    """
    if not isinstance(rows, list):
        raise InputErrors({"body": "must be a JSON array of quota objects"})
    errors, out, seen = {}, [], set()
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            errors[f"[{i}]"] = "must be an object"
            continue
        code = row.get("employee_code")
        if not isinstance(code, str) or not code.strip():
            errors[f"[{i}].employee_code"] = "is required"
            continue
        code = code.strip()
        if code in seen:
            errors[f"[{i}].employee_code"] = f"{code} is listed twice"
            continue
        seen.add(code)
        e: dict[str, str] = {}
        target = _int_field(row.get("target"), "target", e, 0, 0, 100000)
        cap = row.get("daily_cap")
        cap = None if cap in (None, "") else _int_field(cap, "daily_cap", e, None, 1, 1000)
        absent = row.get("absent", False)
        if not isinstance(absent, bool):
            e["absent"] = "must be true or false"
        for k, v in e.items():
            errors[f"[{i}].{k}"] = v
        out.append({"employee_code": code, "target": target, "daily_cap": cap, "absent": bool(absent)})
    if errors:
        raise InputErrors(errors)
    return out

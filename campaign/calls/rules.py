"""The call's vocabulary and the validation of an outcome (SPEC §6).

Pure: plain data in, plain data out; ``now`` and the store's time zone are
arguments. ``services.py`` applies the effects this module names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ..campaigns.rules import OFFERS, REASON_CODES, InputErrors
from .models import DISPOSITIONS
from ..core.msgid import N_


REASON_LABELS = {
    "parking": N_("Hard to park or get there"), "moved": N_("Moved house or job"),
    "service": N_("Service fell short"), "technique": N_("Unhappy with the technician"),
    "mismatch": N_("What they want isn't what we offer"), "pushy_sales": N_("Felt pressured to buy"),
    "price": N_("Found it cheaper elsewhere"), "policy": N_("Employer or rules restrict it"),
    "personal": N_("Busy, health or family"), "other": N_("Something else"),
}

# The keyboard digit of each disposition on the agent's screen (SCREENS.md).
DISPOSITION_KEYS = {
    "no_answer": "1", "busy": "2", "voicemail": "3", "callback": "4", "booked": "5",
    "will_visit": "6", "not_interested": "7", "do_not_contact": "8", "complaint": "9",
    "wrong_number": "w", "moved_away": "m",
}

DISPOSITION_LABELS = {
    "no_answer": N_("No answer"), "busy": N_("Busy"), "voicemail": N_("Voicemail"), "wrong_number": N_("Wrong number"),
    "callback": N_("Call back at…"), "booked": N_("Booked"), "will_visit": N_("Will visit"),
    "not_interested": N_("Not interested"), "do_not_contact": N_("Do not contact"),
    "moved_away": N_("Moved away"), "complaint": N_("Complaint"),
}

# Not reached: the call counts as an attempt; the item is retried until the last one.
UNREACHED = ("no_answer", "busy", "voicemail", "wrong_number")
# Dispositions that close the item (the rest come back: a retry or a callback).
CLOSING = ("wrong_number", "booked", "will_visit", "not_interested", "do_not_contact", "moved_away",
           "complaint")

# Script steps whose answers are outcome fields (the shipped script's keys):
# the reason question's answers are reason codes; the follow-up question's
# yes/no is the "may we contact you later?" consent.
REASON_STEP, CONSENT_STEP = "reason", "follow_up"

CLAIM_MINUTES = 15            # a claim not closed in this time returns to the queue
NOTES_MAX = 4000
SERVICE_MAX = 200
FUTURE_LIMIT = timedelta(days=366)


def reached(disposition: str) -> bool:
    return disposition not in UNREACHED


@dataclass
class OutcomeInput:
    disposition: str
    reason: str | None = None
    offer: str | None = None
    notes: str | None = None
    callback_at: datetime | None = None   # naive UTC
    booked_at: datetime | None = None     # naive UTC
    service: str | None = None
    consent: bool | None = None
    answers: dict = field(default_factory=dict)
    corrects: int | None = None
    claim: str | None = None


def _when(value, name: str, errors: dict, now: datetime, tz: str) -> datetime | None:
    """An ISO 8601 date-time in the future → naive UTC. Without an offset it is
    the client's store local time (as visits are in the CSV)."""
    if value in (None, ""):
        errors[name] = "is required for this disposition"
        return None
    try:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        errors[name] = "must be a date and time such as 2026-12-01T15:30"
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    dt = dt.astimezone(timezone.utc)
    if dt <= now:
        errors[name] = "is in the past: pick a time after now"
        return None
    if dt - now > FUTURE_LIMIT:
        errors[name] = "is more than a year ahead"
        return None
    return dt.replace(tzinfo=None)


def _text(value, name: str, errors: dict, limit: int) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors[name] = "must be text"
        return None
    value = value.strip()
    if len(value) > limit:
        errors[name] = f"must be at most {limit} characters (got {len(value)})"
    return value or None


def parse_outcome(data, *, now: datetime, tz: str, answer_keys: dict | None = None) -> OutcomeInput:
    """Validate an outcome as the API and the form send it.

    ``now`` is aware UTC; ``tz`` the client's store time zone (for times sent
    without an offset). ``answer_keys`` ``{step: {answer, …}}`` checks the
    script answers when given. Raises ``InputErrors`` naming every bad field.
    """
    if not isinstance(data, dict):
        raise InputErrors({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    disposition = data.get("disposition")
    if disposition not in DISPOSITIONS:
        errors["disposition"] = (f"unknown disposition {disposition!r}; one of: {', '.join(DISPOSITIONS)}"
                                 if disposition else "is required")
    out = OutcomeInput(disposition=disposition if disposition in DISPOSITIONS else "")
    reason = data.get("reason")
    if reason not in (None, ""):
        if reason not in REASON_CODES:
            errors["reason"] = f"unknown reason {reason!r}; one of: {', '.join(REASON_CODES)}"
        else:
            out.reason = reason
    offer = data.get("offer")
    if offer not in (None, ""):
        if not isinstance(offer, str) or offer not in OFFERS:
            errors["offer"] = f"unknown offer {offer!r}; one of: {', '.join(OFFERS)}"
        else:
            out.offer = offer
    out.notes = _text(data.get("notes"), "notes", errors, NOTES_MAX)
    out.service = _text(data.get("service"), "service", errors, SERVICE_MAX)
    if disposition == "callback":
        out.callback_at = _when(data.get("callback_at"), "callback_at", errors, now, tz)
    if disposition == "booked":
        out.booked_at = _when(data.get("booked_at"), "booked_at", errors, now, tz)
    consent = data.get("consent")
    if consent not in (None, ""):
        if isinstance(consent, bool):
            out.consent = consent
        elif str(consent).lower() in ("yes", "true", "1"):
            out.consent = True
        elif str(consent).lower() in ("no", "false", "0"):
            out.consent = False
        else:
            errors["consent"] = "must be true or false (the answer to “may we contact you later?”)"
    answers = data.get("answers") or {}
    if not isinstance(answers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in answers.items()):
        errors["answers"] = "must be an object of step → answer"
    else:
        for step, answer in answers.items():
            if answer_keys is not None and answer not in answer_keys.get(step, ()):
                errors[f"answers.{step}"] = f"{answer!r} is not an answer of the script step {step!r}"
        out.answers = dict(answers)
        if out.reason is None and answers.get(REASON_STEP) in REASON_CODES:
            out.reason = answers[REASON_STEP]
        if out.consent is None and answers.get(CONSENT_STEP) in ("yes", "no"):
            out.consent = answers[CONSENT_STEP] == "yes"
    corrects = data.get("corrects")
    if corrects not in (None, ""):
        try:
            out.corrects = int(corrects)
            if not 0 < out.corrects <= 2**31 - 1:  # ids are 32-bit
                raise ValueError(corrects)
        except (TypeError, ValueError, OverflowError):
            out.corrects = None
            errors["corrects"] = "must be the id of the outcome being corrected"
    claim = data.get("claim")
    if claim not in (None, ""):
        out.claim = str(claim)[:32]
    if errors:
        raise InputErrors(errors)
    return out


@dataclass(frozen=True)
class ItemChange:
    """What an outcome does to its queue item."""

    status: str
    attempts: int
    due_at: datetime | None = None
    close_reason: str | None = None
    booked_for: datetime | None = None
    exhausted: bool = False  # the last attempt failed: the follow-up sequence starts


def item_change(o: OutcomeInput, *, attempts: int, max_attempts: int, retry_delay_hours: int,
                now_naive: datetime, counts_attempt: bool = True) -> ItemChange:
    """The item's next state after an outcome (SPEC §6 effects table).

    Every call is an attempt (``counts_attempt`` is false for a correction of
    a call already counted). Unreached calls are retried after the delay until
    ``max_attempts``; then the item closes and the follow-ups start.
    """
    n = attempts + (1 if counts_attempt else 0)
    d = o.disposition
    if d in ("no_answer", "busy", "voicemail"):
        if n >= max_attempts:
            return ItemChange("closed", n, close_reason="attempts_exhausted", exhausted=True)
        return ItemChange("retry", n, due_at=now_naive + timedelta(hours=retry_delay_hours))
    if d == "callback":
        return ItemChange("callback", n, due_at=o.callback_at)
    if d == "booked":
        return ItemChange("closed", n, close_reason="booked", booked_for=o.booked_at)
    return ItemChange("closed", n, close_reason=d)

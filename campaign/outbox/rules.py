"""Pure rules of the outbox: who may get a message on which channel, retry
backoff, opt-out keywords, language choice. Plain data in, plain data out
(no Flask, no SQLAlchemy, no clock)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from ..core.msgid import N_

LANGUAGES = ("en", "ja", "zh", "ru", "pl")
DEFAULT_LANGUAGE = "en"

# Reasons a message is not made, or is cancelled at send time (the outbox shows them,
# translated: marked with N_).
CANCEL_REASONS = {
    "visited": N_("the client visited since it was planned"),
    "do_not_contact": N_("the client asked not to be contacted"),
    "moved_away": N_("the client moved away"),
    "no_consent": N_("no consent for this channel"),
    "no_address": N_("no phone or e-mail address to send to"),
    "contact_cap": N_("the lifetime contact cap is reached"),
    "opt_out": N_("the client opted out (STOP)"),
    "rebooked": N_("the booking changed"),
    "manager": N_("cancelled by a manager"),
}

# Inbound SMS opt-out keywords, compared after case folding and trimming
# punctuation. The whole text or its first word must be one of them.
STOP_KEYWORDS = frozenset(k.casefold() for k in (
    # English
    "STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "OPT-OUT", "CANCEL", "END", "QUIT",
    # Polish
    "NIE", "REZYGNUJĘ", "REZYGNUJE", "REZYGNACJA", "WYPISZ",
    # Russian
    "СТОП", "ОТПИСАТЬСЯ", "ОТПИСКА", "ХВАТИТ",
    # Chinese (simplified and traditional) and the common "TD" (退订)
    "停止", "退订", "退訂", "取消订阅", "TD",
    # Japanese
    "配信停止", "停止", "ストップ", "解除",
))

_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)


def is_stop(text: str | None) -> bool:
    """True when an inbound SMS asks to stop messages ("STOP", "Stop.", "СТОП пожалуйста", "退订")."""
    if not text:
        return False
    norm = unicodedata.normalize("NFKC", text).strip().casefold()
    norm = _EDGE_PUNCT.sub("", norm)
    if not norm:
        return False
    if norm in STOP_KEYWORDS:
        return True
    first = _EDGE_PUNCT.sub("", norm.split()[0])
    return first in STOP_KEYWORDS


def language_for(code: str | None, available=LANGUAGES) -> str:
    """The client's language if we have texts in it (``zh-Hans`` → ``zh``), else English."""
    if code:
        primary = code.replace("_", "-").split("-")[0].lower()
        if primary in available:
            return primary
    return DEFAULT_LANGUAGE


def phone_key(raw: str | None) -> str | None:
    """An inbound sender in E.164 form (``48 501 234 567`` → ``+48501234567``)."""
    if not raw:
        return None
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("00"):
        digits = digits[2:]
    return "+" + digits if digits else None


@dataclass(frozen=True)
class ClientFacts:
    """What the contact policy needs to know about a client for messages."""

    do_not_contact: bool
    moved_away: bool
    consent_sms: bool
    consent_email: bool
    consent_post: bool
    phone: str | None
    phone_callable: bool
    email: str | None


def block_reason(channel: str, facts: ClientFacts, contacts: int, cap: int) -> str | None:
    """Why a message on ``channel`` may not go to this client now (None: it may).

    Honours do-not-contact and moving away, the channel's consent (an SMS also
    needs a callable phone, an e-mail an address) and the lifetime contact cap
    (calls and messages together, SPEC §4).
    """
    if facts.do_not_contact:
        return "do_not_contact"
    if facts.moved_away:
        return "moved_away"
    if channel == "sms":
        if not facts.consent_sms:
            return "no_consent"
        if not (facts.phone and facts.phone_callable):
            return "no_address"
    elif channel == "email":
        if not facts.consent_email:
            return "no_consent"
        if not facts.email:
            return "no_address"
    elif channel == "letter":
        if not facts.consent_post:
            return "no_consent"
    else:
        raise ValueError(f"unknown channel {channel!r}")
    if contacts >= cap:
        return "contact_cap"
    return None


def letter_channel(facts: ClientFacts) -> str | None:
    """The channel of the three-letter sequence: e-mail when the client agreed
    to it and has an address, else a printed letter with post consent, else none."""
    if facts.consent_email and facts.email:
        return "email"
    if facts.consent_post:
        return "letter"
    return None


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: base × 4^(n−1),
    at most a day (60 s → 1 min, 4 min, 16 min, 64 min, …)."""
    return timedelta(seconds=min(86400, base_seconds * 4 ** max(0, attempts - 1)))

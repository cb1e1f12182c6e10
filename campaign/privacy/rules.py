"""What a privacy request looks for and what it leaves, as plain data.

No Flask, no SQLAlchemy, no clock. ``Identity`` names a client by the strings
that identify them (ref, phone, e-mail) and the strings that are theirs
(names, notes too); the functions here decide whether a piece of text, JSON
or a stored file mentions the client, and take the client's strings out of
free text.
"""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from ..core.msgid import N_

ERASED = "[erased]"
# The cancel / close reason of what an erasure stops, and the do-not-contact reason it leaves.
ERASED_REASON = "erased"
REF_PREFIX = "ERASED-"
REASON_MAX = 500
# What a rejected import row of an erased client says instead of its reason.
REJECT_ERASED = "details removed: the client's personal data was erased"
# Audit details that hold codes, never free text: kept (with the client's strings taken out).
CODE_KEYS = frozenset({"source", "via", "kind", "channel", "action", "language"})
# How many trailing digits of a phone number are compared with numbers written otherwise.
NATIONAL_DIGITS = 9
EXPORT_FORMAT = "winback-client-export"
EXPORT_VERSION = 1

# What the erasure removes and what it keeps, in words: the card, the
# confirmation and docs/privacy.md say the same.
# Marked for the catalogues (pages translate them; ``%(ref)s`` is the new ref).
REMOVED = (N_("name"), N_("phone"), N_("e-mail"), N_("notes"),
           N_("the reasons staff typed (do-not-contact, ban, complaint notes)"),
           N_("call notes and booked-service text"), N_("every message's recipient, subject and text"),
           N_("rejected import rows naming the client"), N_("the client ref (it becomes %(ref)s)"))
KEPT = (N_("visits (dates, amounts, store, service)"), N_("call outcomes (dispositions, reason codes and times)"),
        N_("contacts, queue items and conversions"), N_("bonus runs and statements"),
        N_("language, store and ban/moved-away flags"))


def erased_ref(client_id: int) -> str:
    """The ref an erased client gets: says nothing about the person."""
    return f"{REF_PREFIX}{client_id}"


def digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


@dataclass(frozen=True)
class Identity:
    """One client as text can mention them."""

    client_id: int
    ref: str
    phone: str | None = None
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    notes: str | None = None

    @property
    def national(self) -> str | None:
        """The phone's last digits, to match a number written without the country code."""
        d = digits(self.phone)
        if len(d) < 6:
            return None
        return d[-NATIONAL_DIGITS:]

    def needles(self) -> list[str]:
        """Strings whose presence makes a row worth a closer look (a SQL LIKE prefilter)."""
        out = [self.ref]
        for value in (self.phone, self.email, self.national):
            if value and value not in out:
                out.append(value)
        return out

    def strings(self) -> list[str]:
        """The client's own strings to take out of free text, longest first
        (so "Anna Nowak" goes before "Anna")."""
        first, last = (self.first_name or "").strip(), (self.last_name or "").strip()
        found = {first, last, f"{first} {last}".strip(), f"{last} {first}".strip(), self.ref,
                 self.phone or "", (self.phone or "").lstrip("+"), self.email or "", self.national or "",
                 (self.notes or "").strip()}
        return sorted((s for s in found if len(s) >= 2), key=lambda s: (-len(s), s))


def _ref_pattern(ref: str) -> re.Pattern:
    return re.compile(r"(?<![0-9A-Za-z_-])" + re.escape(ref) + r"(?![0-9A-Za-z_-])")


def text_mentions(text: str | None, who: Identity) -> bool:
    """Whether a text names the client by ref (as a whole word), phone or e-mail."""
    if not text:
        return False
    if _ref_pattern(who.ref).search(text):
        return True
    if who.email and who.email.lower() in text.lower():
        return True
    return bool(who.phone and who.phone in text) or bool(who.national and who.national in text)


def json_mentions(value, who: Identity) -> bool:
    """Whether JSON (audit details, a job's result) names the client: any
    string that ``text_mentions`` them, or a ``client_id`` of theirs."""
    if isinstance(value, dict):
        return any((k == "client_id" and v == who.client_id) or json_mentions(v, who) for k, v in value.items())
    if isinstance(value, list):
        return any(json_mentions(v, who) for v in value)
    return isinstance(value, str) and text_mentions(value, who)


def row_names_client(raw: str | None, delimiter: str, who: Identity) -> bool:
    """Whether a rejected CSV row (as sent) is about the client: a field that
    is their ref, or their e-mail or phone number anywhere in it."""
    if not raw:
        return False
    try:
        fields = next(csv.reader([raw], delimiter=delimiter or ","), [])
    except csv.Error:
        fields = raw.split(delimiter or ",")
    if any(f.strip() == who.ref for f in fields):
        return True
    if who.email and who.email.lower() in raw.lower():
        return True
    national = who.national
    return any(len(digits(f)) >= 6 and national and digits(f).endswith(national) for f in fields) \
        or bool(who.phone and who.phone in raw)


def bytes_mention(chunks: Iterable[bytes], who: Identity) -> bool:
    """Whether a stored file names the client by ref, phone or e-mail (a
    match across two chunks is found too)."""
    needles = [n.encode("utf-8") for n in (who.ref, who.phone, who.email) if n]
    needles_lower = [n.lower() for n in needles]
    keep = max((len(n) for n in needles), default=0)
    tail = b""
    for chunk in chunks:
        data = tail + chunk
        lower = data.lower()
        if any(n in lower for n in needles_lower):
            return True
        tail = data[-keep:] if keep else b""
    return False


def scrub(text: str | None, strings: list[str]) -> str | None:
    """``text`` with each of the client's strings (any case) replaced by ``[erased]``."""
    if not text or not strings:
        return text
    return re.sub("|".join(re.escape(s) for s in strings), ERASED, text, flags=re.IGNORECASE)


def scrub_json(value, strings: list[str]):
    """JSON with the client's strings taken out of every string in it."""
    if isinstance(value, dict):
        return {k: scrub_json(v, strings) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, strings) for v in value]
    if isinstance(value, str):
        return scrub(value, strings)
    return value


def blank_free_text(details, strings: list[str]):
    """An audit entry about the client: every free-text string goes (reasons,
    notes, an opt-out's text and phone); codes, numbers and flags stay."""
    if isinstance(details, dict):
        return {k: (scrub(v, strings) if k in CODE_KEYS and isinstance(v, str) else blank_free_text(v, strings))
                for k, v in details.items()}
    if isinstance(details, list):
        return [blank_free_text(v, strings) for v in details]
    if isinstance(details, str):
        return ERASED
    return details


def iso(value):
    """A stored value as JSON: naive UTC datetimes with a ``Z``, dates as YYYY-MM-DD."""
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    return value


def period_label(month: int | None) -> str | None:
    """YYYYMM as YYYY-MM."""
    return None if month is None else f"{month // 100:04d}-{month % 100:02d}"


def export_filename(ref: str) -> str:
    """The download's file name: the ref with anything unusual replaced."""
    return "client-" + re.sub(r"[^A-Za-z0-9._-]", "_", ref) + ".json"


def export_json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"

"""The win-back script shipped with the product (DOMAIN.md, "The win-back call").

The structure is written once here; the texts of each language live in
``shipped_<language>.py``. English is the base language. A script with no
stored texts renders this content, so nothing needs seeding.

The call: greeting (is now a good time? no → callback) → introduce → thanks →
reason (one answer per reason code; the business's fault → apology, anything
else → news) → booking (two concrete options; "I'll get back to you" → the
follow-up question, whose answer is stored as contact consent) → close.
"""
from __future__ import annotations

import copy
import functools

from ..campaigns.rules import OFFERS, SERVICE_FAILURE_REASONS
from . import rules, shipped_en, shipped_ja, shipped_pl, shipped_ru, shipped_zh

BASE_LANGUAGE = "en"
LANGUAGES = ("en", "ja", "zh", "ru", "pl")
_TEXTS = {"en": shipped_en.TEXTS, "ja": shipped_ja.TEXTS, "zh": shipped_zh.TEXTS, "ru": shipped_ru.TEXTS,
          "pl": shipped_pl.TEXTS}

# (step key, next without a question, [(answer key, next)] or None)
STEPS = (
    ("greeting", "", (("yes", "introduce"), ("no", "callback"))),
    ("introduce", "", None),
    ("thanks", "", None),
    ("reason", "", tuple((code, "apology" if code in SERVICE_FAILURE_REASONS else "news")
                         for code in rules.REASON_CODES)),
    ("apology", "booking", None),
    ("news", "", None),
    ("booking", "", (("book", "close"), ("think", "follow_up"), ("decline", "close"))),
    ("follow_up", "", (("yes", "close"), ("no", "close"))),
    ("close", rules.END, None),
    ("callback", rules.END, None),
)
REASON_OFFERS = {
    "parking": "free_trial", "moved": "holiday_greeting", "service": "talk_it_over", "technique": "free_redo",
    "mismatch": "new_service", "pushy_sales": "free_trial", "price": "renewal_discount",
    "policy": "free_trial", "personal": "new_service", "other": "talk_it_over",
}
OBJECTIONS = ("too_expensive", "no_time", "some_day", "how_number", "elsewhere")


def _build(texts: dict) -> dict:
    steps = []
    for key, nxt, answers in STEPS:
        t = texts["steps"][key]
        step = {"key": key, "title": t["title"], "text": t["text"], "next": nxt, "question": None}
        if answers:
            labels = t.get("answers") or {}
            step["question"] = {"text": t["question"], "answers": [
                {"key": a, "label": labels.get(a) or texts["reasons"][a][0], "next": to} for a, to in answers]}
        steps.append(step)
    return {
        "steps": steps,
        "reasons": [{"code": c, "label": texts["reasons"][c][0], "remedy": texts["reasons"][c][1],
                     "offer": REASON_OFFERS[c]} for c in rules.REASON_CODES],
        "objections": [{"key": k, "question": texts["objections"][k][0], "answer": texts["objections"][k][1]}
                       for k in OBJECTIONS],
    }


_BASE = rules.validate_base(_build(_TEXTS[BASE_LANGUAGE]))
_TRANSLATIONS = {lang: rules.validate_translation(_BASE, _build(_TEXTS[lang]))
                 for lang in LANGUAGES if lang != BASE_LANGUAGE}


# Shared, read-only views of the shipped content for rendering (editing gets copies).
SHIPPED_BASE = _BASE
SHIPPED_TRANSLATIONS = _TRANSLATIONS


@functools.lru_cache(maxsize=None)
def shipped_merged(language: str) -> dict:
    """The shipped content merged for one language, built once per process.
    Shared: read it, never change it (the agent's "next client" renders it on
    every call, so no copy is made per request)."""
    return rules.merge(_BASE, _TRANSLATIONS.get(language))


@functools.lru_cache(maxsize=None)
def shipped_answer_keys() -> dict:
    """{step: answer keys} of the shipped script, computed once (read-only)."""
    return rules.answer_keys(_BASE)


def shipped_languages() -> list[str]:
    return [BASE_LANGUAGE, *sorted(_TRANSLATIONS)]


def base() -> dict:
    """The shipped base-language content (a fresh copy)."""
    return copy.deepcopy(_BASE)


def translations() -> dict[str, dict]:
    """{language: translation content} of the shipped languages other than the base."""
    return copy.deepcopy(_TRANSLATIONS)


def blank(language: str) -> dict:
    """A new script's starting point: one greeting step and the ten reasons
    with their labels (in ``language`` when shipped), remedies to write."""
    texts = _TEXTS.get(rules.match_language(language, LANGUAGES) or BASE_LANGUAGE)
    greeting = texts["steps"]["greeting"]
    return {
        "steps": [{"key": "greeting", "title": greeting["title"], "text": greeting["text"], "next": "",
                   "question": None}],
        "reasons": [{"code": c, "label": texts["reasons"][c][0], "remedy": "", "offer": None}
                    for c in rules.REASON_CODES],
        "objections": [],
    }


def _lang_texts(language: str | None) -> dict | None:
    lang = rules.match_language(language, LANGUAGES)
    return _TEXTS[lang] if lang else None


def neutral(language: str | None) -> dict[str, str]:
    """What a placeholder says when its value is missing (may be "")."""
    texts = _lang_texts(language)
    return dict(texts["neutral"]) if texts else {}


def offer_labels(language: str | None) -> dict[str, str]:
    """The offers in words of the language (English labels where there are none)."""
    texts = _lang_texts(language)
    return {**OFFERS, **(texts["offers"] if texts else {})}


def sample_client(language: str | None) -> dict[str, str]:
    """A made-up client for previews, named as people of the language are."""
    texts = _lang_texts(language) or _TEXTS[BASE_LANGUAGE]
    return dict(texts["sample"])

"""Dates as people read them, per language (the edge: messages, scripts)."""
from __future__ import annotations

from datetime import date

from babel.core import UnknownLocaleError
from babel.dates import format_date as _babel_date

# Babel patterns per language, chosen to read as people of the language write a
# date in a message ("8 May 2026", "08.05.2026", "2026年5月8日").
_PATTERNS = {"en": ("en_GB", "d MMMM y"), "ja": ("ja", "long"), "zh": ("zh_Hans_CN", "long"),
             "ru": ("ru", "dd.MM.y"), "pl": ("pl", "dd.MM.y"), "de": ("de", "dd.MM.y"),
             "uk": ("uk", "dd.MM.y"), "cs": ("cs", "dd.MM.y")}


def format_date(day: date, language: str) -> str:
    """A date as people of the language write it (``zh-CN`` counts as ``zh``);
    ISO 8601 for a language without a pattern here."""
    lang = language.replace("_", "-").split("-")[0].lower()
    if lang not in _PATTERNS:
        return day.isoformat()
    locale, pattern = _PATTERNS[lang]
    try:
        return _babel_date(day, pattern, locale=locale)
    except UnknownLocaleError:  # pragma: no cover - every locale above ships with Babel
        return day.isoformat()

"""Dates as people read them, per language (the edge: messages, scripts)."""
from __future__ import annotations

from datetime import date

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


def format_date(day: date, language: str) -> str:
    """A date as people of the language write it (``zh-CN`` counts as ``zh``)."""
    lang = language.split("-")[0]
    if lang == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    if lang in ("ja", "zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    if lang in ("ru", "pl", "de", "uk", "cs"):
        return day.strftime("%d.%m.%Y")
    return day.isoformat()

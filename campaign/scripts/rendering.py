"""Filling a script's placeholders and putting it in the shape the call workspace reads.

No Flask, no SQLAlchemy, no clock. A missing value never shows as ``{name}``:
it reads as the language's neutral phrase, or disappears with its comma.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from ..core.dates import format_date
from .rules import TOKEN, END, PLACEHOLDERS, merge

def placeholder_values(ctx: dict, language: str, *, neutral: dict, offer_labels: dict) -> dict[str, str]:
    """Each placeholder's text: the context's value (dates formatted, an offer
    key turned into its label), else the language's neutral phrase (may be "")."""
    out = {}
    for name in PLACEHOLDERS:
        value = (ctx or {}).get(name)
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            value = format_date(value, language)
        elif name == "offer" and isinstance(value, str) and value in offer_labels:
            value = offer_labels[value]
        elif value is None or isinstance(value, bool):
            value = ""
        out[name] = str(value).strip() or neutral.get(name, "")
    return out


_GAP = "\x00"


def fill(text: str, values: dict[str, str]) -> str:
    """Placeholders replaced; one left empty takes its comma with it
    ("Hello, {first_name}!" → "Hello!"). Never leaves a ``{name}`` behind."""
    out = TOKEN.sub(lambda m: values.get(m.group(1)) or _GAP, text)
    if _GAP not in out:
        return out
    out = re.sub(r"[ \t]*[,，、][ \t]*\x00[ \t]*(?=[.!?。！？…])", "", out)
    out = re.sub(r"^\x00[ \t]*[,，、][ \t]*", "", out)
    out = re.sub(r"[ \t]*\x00", "", out)
    return out


def render_content(base: dict, translation: dict | None, values: dict[str, str],
                   offer_labels: dict, *, merged: dict | None = None) -> dict:
    """Steps, reasons and objections in the translation's language (base text
    where it has none), placeholders filled. Each step also says where it
    leads without a question (``next``: a step key or ``"end"``). ``merged``:
    the base and translation already merged (read only)."""
    content = merged if merged is not None else merge(base, translation)
    keys = [s["key"] for s in content["steps"]]
    steps = []
    for i, s in enumerate(content["steps"]):
        nxt = s.get("next") or (keys[i + 1] if i + 1 < len(keys) else END)
        q = s["question"]
        steps.append({
            "key": s["key"], "title": fill(s["title"], values), "text": fill(s["text"], values), "next": nxt,
            "question": None if not q else {
                "text": fill(q["text"], values),
                "answers": [{"key": a["key"], "label": fill(a["label"], values), "next": a["next"]}
                            for a in q["answers"]]},
        })
    return {
        "steps": steps,
        "reasons": [{"code": r["code"], "label": fill(r["label"], values), "remedy": fill(r["remedy"], values),
                     "offer": r["offer"], "offer_label": offer_labels.get(r["offer"]) if r["offer"] else None}
                    for r in content["reasons"]],
        "objections": [{"key": o["key"], "question": fill(o["question"], values),
                        "answer": fill(o["answer"], values)} for o in content["objections"]],
    }

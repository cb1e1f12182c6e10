"""The script editor's fields ↔ a script's content.

No WTForms: the editor is lists of steps and answers that grow and shrink,
which read more plainly from ``request.form`` (CSRF is still checked on every
POST by Flask-WTF's ``CSRFProtect``). Adding, removing and moving a step or an
answer is a submit button (``action``) that shows the form again with the
change and everything typed, saving nothing: the editor needs no JavaScript.

Field names: ``s-<i>-key|title|text|next|ask|q``, ``s-<i>-a-<j>-key|label|next``,
``r-<code>-label|remedy|offer``, ``o-<i>-key|question|answer``; the counts of
the lists travel in ``steps_count``, ``s-<i>-answers`` and ``objections_count``.
"""
from __future__ import annotations

import re

from flask_babel import gettext

from ..core.msgid import N_
from . import rules


def _count(form, name: str, limit: int) -> int:
    try:
        return max(0, min(int(form.get(name) or 0), limit))
    except ValueError:
        return 0


def _get(form, name: str) -> str:
    return (form.get(name) or "").replace("\r\n", "\n")


# ------------------------------------------------------------------ base language

def base_values(content: dict, *, name: str, version) -> dict:
    """The editor's values for a stored (or shipped) content."""
    return {
        "name": name, "version": str(version),
        "steps": [{"key": s["key"], "title": s["title"], "text": s["text"], "next": s.get("next") or "",
                   "ask": bool(s["question"]), "question": (s["question"] or {}).get("text", ""),
                   "answers": [dict(a) for a in (s["question"] or {}).get("answers", [])]}
                  for s in content["steps"]],
        "reasons": _reasons(content.get("reasons") or []),
        "objections": [dict(o) for o in content.get("objections") or []],
    }


def _reasons(reasons: list[dict]) -> list[dict]:
    by_code = {r.get("code"): r for r in reasons}
    return [{"code": c, "label": (by_code.get(c) or {}).get("label") or "",
             "remedy": (by_code.get(c) or {}).get("remedy") or "",
             "offer": (by_code.get(c) or {}).get("offer") or ""} for c in rules.REASON_CODES]


def base_values_from_form(form) -> dict:
    """What the manager typed, kept as typed."""
    steps = []
    for i in range(_count(form, "steps_count", rules.MAX_STEPS)):
        p = f"s-{i}-"
        steps.append({
            "key": _get(form, p + "key").strip(), "title": _get(form, p + "title"), "text": _get(form, p + "text"),
            "next": _get(form, p + "next"), "ask": form.get(p + "ask") == "1", "question": _get(form, p + "q"),
            "answers": [{"key": _get(form, f"{p}a-{j}-key").strip(), "label": _get(form, f"{p}a-{j}-label"),
                         "next": _get(form, f"{p}a-{j}-next")}
                        for j in range(_count(form, p + "answers", rules.MAX_ANSWERS))],
        })
    return {
        "name": _get(form, "name"), "version": _get(form, "version"), "steps": steps,
        "reasons": [{"code": c, "label": _get(form, f"r-{c}-label"), "remedy": _get(form, f"r-{c}-remedy"),
                     "offer": _get(form, f"r-{c}-offer")} for c in rules.REASON_CODES],
        "objections": [{"key": _get(form, f"o-{i}-key").strip(), "question": _get(form, f"o-{i}-question"),
                        "answer": _get(form, f"o-{i}-answer")}
                       for i in range(_count(form, "objections_count", rules.MAX_OBJECTIONS))],
    }


def base_data(values: dict) -> dict:
    """The content to validate (``rules.validate_base``) from the editor's values."""
    return {
        "steps": [{"key": s["key"], "title": s["title"], "text": s["text"], "next": s["next"],
                   "question": {"text": s["question"], "answers": s["answers"]} if s["ask"] else None}
                  for s in values["steps"]],
        "reasons": [{**r, "offer": r["offer"] or None} for r in values["reasons"]],
        "objections": values["objections"],
    }


def _fresh_key(prefix: str, taken) -> str:
    taken = set(taken)
    n = 1
    while f"{prefix}_{n}" in taken:
        n += 1
    return f"{prefix}_{n}"


def apply_action(values: dict, action: str) -> str | None:
    """Change the typed values in place as the button asks; a sentence for
    the page, or None for an unknown action."""
    steps, objections = values["steps"], values["objections"]
    parts = action.split(":")
    idx = [int(p) for p in parts[1:] if p.isdigit()]
    name = parts[0]
    if name == "add_step":
        steps.append({"key": _fresh_key("step", (s["key"] for s in steps)), "title": "", "text": "", "next": "",
                      "ask": False, "question": "", "answers": []})
        return gettext("Step added at the end; write its texts, then save.")
    if name == "add_objection":
        objections.append({"key": _fresh_key("objection", (o["key"] for o in objections)), "question": "",
                           "answer": ""})
        return gettext("Objection added at the end; write it, then save.")
    if not idx:
        return None
    i = idx[0]
    if name == "add_answer" and i < len(steps):
        step = steps[i]
        step["ask"] = True
        step["answers"].append({"key": _fresh_key("answer", (a["key"] for a in step["answers"])), "label": "",
                                "next": ""})
        return gettext("Answer added to step %(n)s.", n=i + 1)
    if name == "remove_answer" and len(idx) == 2 and i < len(steps) and idx[1] < len(steps[i]["answers"]):
        steps[i]["answers"].pop(idx[1])
        return gettext("Answer removed from step %(n)s.", n=i + 1)
    if name == "remove_step" and i < len(steps):
        removed = steps.pop(i)
        return gettext("Step “%(key)s” removed. Branches that led to it need a new target before you save.",
                       key=removed["key"])
    if name in ("up", "down") and i < len(steps):
        j = i - 1 if name == "up" else i + 1
        if 0 <= j < len(steps):
            steps[i], steps[j] = steps[j], steps[i]
            if name == "up":
                return gettext("Step “%(key)s” moved up.", key=steps[j]["key"])
            return gettext("Step “%(key)s” moved down.", key=steps[j]["key"])
        return gettext("The step is already there.")
    if name == "remove_objection" and i < len(objections):
        objections.pop(i)
        return gettext("Objection removed.")
    return None


# ------------------------------------------------------------------ translations

def translation_from_form(base: dict, form) -> dict:
    """A translation typed side by side with the base (same field names, texts only)."""
    steps = []
    for i, b in enumerate(base["steps"]):
        p = f"s-{i}-"
        step = {"key": b["key"], "title": _get(form, p + "title"), "text": _get(form, p + "text"), "question": None}
        if b["question"]:
            step["question"] = {"text": _get(form, p + "q"), "answers": [
                {"key": a["key"], "label": _get(form, f"{p}a-{j}-label")}
                for j, a in enumerate(b["question"]["answers"])]}
        steps.append(step)
    return {
        "steps": steps,
        "reasons": [{"code": r["code"], "label": _get(form, f"r-{r['code']}-label"),
                     "remedy": _get(form, f"r-{r['code']}-remedy")} for r in base["reasons"]],
        "objections": [{"key": o["key"], "question": _get(form, f"o-{i}-question"),
                        "answer": _get(form, f"o-{i}-answer")} for i, o in enumerate(base["objections"])],
    }


# ------------------------------------------------------------------ errors

_STEP = re.compile(r"steps\[(\d+)\](?:\.(key|title|text|next))?(?:\.question(?:\.(text|answers))?"
                   r"(?:\[(\d+)\](?:\.(key|label|next))?)?)?")


def field_id(path: str) -> str:
    """The id of the element an error key belongs to (``steps[2].question.answers[0].next`` → ``s-2-a-0-next``)."""
    m = _STEP.fullmatch(path)
    if m:
        i, field, qpart, j, afield = m.groups()
        if j is not None:
            return f"s-{i}-a-{j}-{afield or 'key'}"
        if qpart == "answers":
            return f"s-{i}-answers"
        if qpart == "text" or path.endswith(".question"):
            return f"s-{i}-q"
        return f"s-{i}-{field}" if field else f"s-{i}-title"
    m = re.fullmatch(r"reasons\[(\d+)\](?:\.(\w+))?", path)
    if m:
        i = int(m.group(1))
        code = rules.REASON_CODES[i] if i < len(rules.REASON_CODES) else rules.REASON_CODES[0]
        field = m.group(2) if m.group(2) in ("label", "remedy", "offer") else "label"
        return f"r-{code}-{field}"
    m = re.fullmatch(r"objections\[(\d+)\](?:\.(\w+))?", path)
    if m:
        field = m.group(2) if m.group(2) in ("question", "answer") else "question"
        return f"o-{m.group(1)}-{field}"
    return {"name": "f-name", "steps": "steps-h", "reasons": "reasons-h", "objections": "objections-h",
            "language": "f-language", "start_from": "f-start_from"}.get(path, "errors")


# The names of the fields in an error's place, shown in the page's language.
FIELD_WORDS = {
    "key": N_("key"), "title": N_("title"), "text": N_("text"), "next": N_("next"), "question": N_("question"),
    "question answers": N_("question answers"), "answers": N_("answers"), "label": N_("label"),
    "remedy": N_("remedy"), "offer": N_("offer"), "answer": N_("answer"), "code": N_("code"),
}
TOP_FIELDS = {
    "name": N_("Name"), "steps": N_("Steps"), "reasons": N_("Reasons"), "objections": N_("Objections"),
    "language": N_("Language"), "start_from": N_("Start from"),
}


def _field_word(name: str) -> str:
    return gettext(FIELD_WORDS[name]) if name in FIELD_WORDS else name


def error_sentence(path: str, message: str) -> str:
    """'steps[1].title', 'is required' → 'Step 2, title: is required' (the place in the
    page's language; the message as the validation gives it)."""
    m = re.match(r"steps\[(\d+)\]", path)
    if m:
        n = int(m.group(1)) + 1
        rest = path[m.end():].lstrip(".")
        a = re.match(r"question\.answers\[(\d+)\]\.?(\w*)", rest)
        if a and a.group(2):
            where = gettext("Step %(n)s, answer %(answer)s %(field)s", n=n, answer=int(a.group(1)) + 1,
                            field=_field_word(a.group(2)))
        elif a:
            where = gettext("Step %(n)s, answer %(answer)s", n=n, answer=int(a.group(1)) + 1)
        elif rest:
            where = gettext("Step %(n)s, %(field)s", n=n,
                            field=_field_word(rest.replace("question.text", "question").replace(".", " ")))
        else:
            where = gettext("Step %(n)s", n=n)
    elif (r := re.match(r"reasons\[(\d+)\]\.?(\w*)", path)) and int(r.group(1)) < len(rules.REASON_CODES):
        code = rules.REASON_CODES[int(r.group(1))]
        where = (gettext("Reason “%(code)s”, %(field)s", code=code, field=_field_word(r.group(2))) if r.group(2)
                 else gettext("Reason “%(code)s”", code=code))
    elif o := re.match(r"objections\[(\d+)\]\.?(\w*)", path):
        n = int(o.group(1)) + 1
        where = (gettext("Objection %(n)s, %(field)s", n=n, field=_field_word(o.group(2))) if o.group(2)
                 else gettext("Objection %(n)s", n=n))
    elif path in TOP_FIELDS:
        where = gettext(TOP_FIELDS[path])
    else:
        where = path.replace("_", " ").capitalize()
    return gettext("%(where)s: %(message)s", where=where, message=message)

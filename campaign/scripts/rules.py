"""The content of a call script: its shape, its validation and its rendering.

No Flask, no SQLAlchemy, no clock. A script's content in one language is::

    {"steps": [{"key", "title", "text", "next",
                "question": None | {"text", "answers": [{"key", "label", "next"}]}}],
     "reasons": [{"code", "label", "remedy", "offer"}],
     "objections": [{"key", "question", "answer"}]}

The base language holds the structure: the order of the steps, where each
step and each answer leads (``next``: a step key, ``"end"``, or for a step
``""`` = the following step) and each reason's suggested offer. A translation
has the same shape without ``next`` and ``offer``; an empty text falls back to
the base language's text.

Error keys name the field the way the content does: ``steps[2].question.answers[0].next``
(0-based positions of the list as sent).
"""
from __future__ import annotations

import copy
import re

from ..campaigns.rules import OFFERS, REASON_CODES  # noqa: F401  (REASON_CODES: re-exported for the script content)

PLACEHOLDERS = ("first_name", "last_name", "full_name", "agent_name", "store_name", "last_service",
                "last_visit_date", "days_since", "offer")
END = "end"

MAX_TITLE = 200
MAX_TEXT = 4000
MAX_STEPS = 60
MAX_ANSWERS = 20
MAX_OBJECTIONS = 60

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")
TOKEN = re.compile(r"\{([^{}]*)\}")
KEY_MESSAGE = "must be lower-case letters, digits or _, start with a letter, at most 40 characters"


class ContentErrors(Exception):
    """Every problem of a content at once: {field path: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def valid_language(code: str | None) -> bool:
    """A BCP 47-ish tag: ``en``, ``zh``, ``pt-BR``, at most 16 characters."""
    return bool(code) and len(code) <= 16 and bool(_LANGUAGE.match(code))


def match_language(wanted: str | None, available) -> str | None:
    """``wanted`` itself, else a language with the same primary subtag (``zh-CN`` → ``zh``)."""
    if not wanted:
        return None
    available = list(available)
    if wanted in available:
        return wanted
    primary = wanted.split("-")[0].lower()
    for lang in available:
        if lang.split("-")[0].lower() == primary:
            return lang
    return None


# ------------------------------------------------------------------ texts

def text_problem(text: str) -> str | None:
    """Why a text may not be stored (unknown placeholder, stray brace), or None."""
    unknown = [m for m in TOKEN.findall(text) if m not in PLACEHOLDERS]
    if unknown:
        names = ", ".join("{" + u + "}" for u in dict.fromkeys(unknown))
        return (f"has an unknown placeholder {names}; use "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
    if "{" in TOKEN.sub("", text) or "}" in TOKEN.sub("", text):
        return "has a { or } that is not part of a placeholder such as {first_name}"
    return None


def _text(obj, field: str, path: str, errors: dict, *, required: bool, limit: int = MAX_TEXT) -> str:
    value = obj.get(field) if isinstance(obj, dict) else None
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[f"{path}.{field}"] = "must be text"
        return ""
    value = value.replace("\r\n", "\n").strip()
    if required and not value:
        errors[f"{path}.{field}"] = "is required"
    elif len(value) > limit:
        errors[f"{path}.{field}"] = f"must be at most {limit} characters"
    elif problem := text_problem(value):
        errors[f"{path}.{field}"] = problem
    return value


def _key(obj, path: str, errors: dict, field: str = "key") -> str:
    value = obj.get(field) if isinstance(obj, dict) else None
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        errors[f"{path}.{field}"] = "is required"
    elif not _KEY.match(value):
        errors[f"{path}.{field}"] = KEY_MESSAGE
    return value


def _list(data: dict, field: str, errors: dict, limit: int, *, required: bool) -> list:
    value = data.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        errors[field] = "must be a list"
        return []
    if required and not value:
        errors[field] = "needs at least one entry"
    if len(value) > limit:
        errors[field] = f"may have at most {limit} entries"
        return value[:limit]
    return value


# ------------------------------------------------------------------ base language

def validate_base(data) -> dict:
    """The content of a base language, cleaned; ``ContentErrors`` with every problem.

    Guarantees: step keys are unique and not ``end``, answer keys are unique
    within their step, every ``next`` names an existing step (or ``end``),
    all ten reason codes are there exactly once (in ``REASON_CODES`` order),
    offers exist, objection keys are unique, and every text uses only the
    known placeholders.
    """
    if not isinstance(data, dict):
        raise ContentErrors({"body": "must be an object with steps, reasons and objections"})
    errors: dict[str, str] = {}
    steps, seen = [], {}
    for i, raw in enumerate(_list(data, "steps", errors, MAX_STEPS, required=True)):
        p = f"steps[{i}]"
        if not isinstance(raw, dict):
            errors[p] = "must be an object"
            continue
        key = _key(raw, p, errors)
        if key == END:
            errors[f"{p}.key"] = "“end” is reserved for ending the call"
        elif key in seen:
            errors[f"{p}.key"] = f"“{key}” is already the key of step {seen[key] + 1}"
        elif key and f"{p}.key" not in errors:
            seen[key] = i
        nxt = raw.get("next") or ""
        if not isinstance(nxt, str):
            errors[f"{p}.next"], nxt = "must be a step key, “end” or empty", ""
        step = {"key": key, "title": _text(raw, "title", p, errors, required=True, limit=MAX_TITLE),
                "text": _text(raw, "text", p, errors, required=True), "next": nxt.strip(), "question": None}
        q = raw.get("question")
        if q is not None:
            step["question"] = _question(q, f"{p}.question", errors)
        steps.append((i, step))
    for i, step in steps:
        p = f"steps[{i}]"
        if step["next"] not in ("", END) and step["next"] not in seen:
            errors[f"{p}.next"] = f"leads to “{step['next']}”, which is not a step"
        for j, a in enumerate((step["question"] or {}).get("answers", [])):
            ap = f"{p}.question.answers[{j}].next"
            if not a["next"]:
                errors.setdefault(ap, "is required: the step this answer leads to, or “end”")
            elif a["next"] != END and a["next"] not in seen:
                errors.setdefault(ap, f"leads to “{a['next']}”, which is not a step")
    reasons = _base_reasons(data, errors)
    objections = _objections(data, errors, translation=None)
    if errors:
        raise ContentErrors(errors)
    return {"steps": [s for _, s in steps], "reasons": reasons, "objections": objections}


def _question(q, p: str, errors: dict) -> dict:
    if not isinstance(q, dict):
        errors[p] = "must be an object with text and answers"
        return {"text": "", "answers": []}
    text = _text(q, "text", p, errors, required=True)
    answers, seen = [], {}
    raw_answers = q.get("answers")
    if not isinstance(raw_answers, list) or not raw_answers:
        errors[f"{p}.answers"] = "a question needs at least one answer"
        raw_answers = raw_answers if isinstance(raw_answers, list) else []
    if len(raw_answers) > MAX_ANSWERS:
        errors[f"{p}.answers"] = f"may have at most {MAX_ANSWERS} answers"
    for j, raw in enumerate(raw_answers[:MAX_ANSWERS]):
        ap = f"{p}.answers[{j}]"
        if not isinstance(raw, dict):
            errors[ap] = "must be an object"
            continue
        key = _key(raw, ap, errors)
        if key in seen:
            errors[f"{ap}.key"] = f"“{key}” is already the key of answer {seen[key] + 1}"
        elif key:
            seen[key] = j
        nxt = raw.get("next")
        answers.append({"key": key, "label": _text(raw, "label", ap, errors, required=True, limit=MAX_TITLE),
                        "next": nxt.strip() if isinstance(nxt, str) else ""})
    return {"text": text, "answers": answers}


def _base_reasons(data: dict, errors: dict) -> list[dict]:
    by_code = {}
    for i, raw in enumerate(_list(data, "reasons", errors, len(REASON_CODES) * 2, required=True)):
        p = f"reasons[{i}]"
        code = raw.get("code") if isinstance(raw, dict) else None
        if code not in REASON_CODES:
            errors[f"{p}.code"] = "must be one of " + ", ".join(REASON_CODES)
            continue
        if code in by_code:
            errors[f"{p}.code"] = f"“{code}” is listed twice"
            continue
        offer = raw.get("offer") or None
        if offer is not None and (not isinstance(offer, str) or offer not in OFFERS):
            errors[f"{p}.offer"] = "must be one of " + ", ".join(OFFERS) + " (or empty)"
        by_code[code] = {"code": code, "label": _text(raw, "label", p, errors, required=True, limit=MAX_TITLE),
                         "remedy": _text(raw, "remedy", p, errors, required=False), "offer": offer}
    missing = [c for c in REASON_CODES if c not in by_code]
    if missing and "reasons" not in errors:
        errors["reasons"] = "every reason code needs an entry; missing: " + ", ".join(missing)
    return [by_code[c] for c in REASON_CODES if c in by_code]


def _objections(data: dict, errors: dict, translation: dict | None) -> list[dict]:
    """Base (``translation`` None): key, question and answer required, keys
    unique. Translation: keys must exist in the base, texts optional."""
    out, seen = [], {}
    for i, raw in enumerate(_list(data, "objections", errors, MAX_OBJECTIONS, required=False)):
        p = f"objections[{i}]"
        if not isinstance(raw, dict):
            errors[p] = "must be an object"
            continue
        key = _key(raw, p, errors)
        if key in seen:
            errors[f"{p}.key"] = f"“{key}” is already the key of objection {seen[key] + 1}"
            continue
        if translation is not None and key and key not in translation:
            errors[f"{p}.key"] = f"“{key}” is not an objection of the base language"
            continue
        seen[key] = i
        required = translation is None
        out.append({"key": key, "question": _text(raw, "question", p, errors, required=required),
                    "answer": _text(raw, "answer", p, errors, required=required)})
    return out


# ------------------------------------------------------------------ translations

def validate_translation(base: dict, data) -> dict:
    """A translation of ``base``, cleaned and put in the base's order (``project``).

    Entries are matched by key; a key the base does not have is an error, a
    missing entry or an empty text means "not translated yet" (the base text
    is shown). Placeholders are checked as in the base.
    """
    if not isinstance(data, dict):
        raise ContentErrors({"body": "must be an object with steps, reasons and objections"})
    errors: dict[str, str] = {}
    base_steps = {s["key"]: s for s in base["steps"]}
    steps = {}
    for i, raw in enumerate(_list(data, "steps", errors, MAX_STEPS * 2, required=False)):
        p = f"steps[{i}]"
        key = raw.get("key") if isinstance(raw, dict) and isinstance(raw.get("key"), str) else None
        if key not in base_steps:
            errors[f"{p}.key"] = f"“{key}” is not a step of the base language"
            continue
        step = {"key": key, "title": _text(raw, "title", p, errors, required=False, limit=MAX_TITLE),
                "text": _text(raw, "text", p, errors, required=False), "question": None}
        bq = base_steps[key]["question"]
        q = raw.get("question") if isinstance(raw.get("question"), dict) else {}
        if bq:
            qp = f"{p}.question"
            answers = {}
            base_answers = {a["key"] for a in bq["answers"]}
            for j, a in enumerate(q.get("answers") if isinstance(q.get("answers"), list) else []):
                akey = a.get("key") if isinstance(a, dict) and isinstance(a.get("key"), str) else None
                if akey not in base_answers:
                    errors[f"{qp}.answers[{j}].key"] = f"“{akey}” is not an answer of this step in the base language"
                    continue
                answers[akey] = {"key": akey, "label": _text(a, "label", f"{qp}.answers[{j}]", errors,
                                                             required=False, limit=MAX_TITLE)}
            step["question"] = {"text": _text(q, "text", qp, errors, required=False),
                                "answers": list(answers.values())}
        steps[key] = step
    reasons = {}
    for i, raw in enumerate(_list(data, "reasons", errors, len(REASON_CODES) * 2, required=False)):
        p = f"reasons[{i}]"
        code = raw.get("code") if isinstance(raw, dict) else None
        if code not in REASON_CODES:
            errors[f"{p}.code"] = "must be one of " + ", ".join(REASON_CODES)
            continue
        reasons[code] = {"code": code, "label": _text(raw, "label", p, errors, required=False, limit=MAX_TITLE),
                         "remedy": _text(raw, "remedy", p, errors, required=False)}
    base_objections = {o["key"] for o in base["objections"]}
    objections = _objections(data, errors, translation=base_objections)
    if errors:
        raise ContentErrors(errors)
    return project(base, {"steps": list(steps.values()), "reasons": list(reasons.values()),
                          "objections": objections})


def project(base: dict, translation: dict | None) -> dict:
    """The translation's texts in the base's order and keys; "" where missing.
    Entries whose key the base no longer has are dropped."""
    tr = translation or {}
    t_steps = {s.get("key"): s for s in tr.get("steps") or []}
    t_reasons = {r.get("code"): r for r in tr.get("reasons") or []}
    t_objections = {o.get("key"): o for o in tr.get("objections") or []}
    steps = []
    for b in base["steps"]:
        t = t_steps.get(b["key"]) or {}
        step = {"key": b["key"], "title": t.get("title") or "", "text": t.get("text") or "", "question": None}
        if b["question"]:
            tq = t.get("question") or {}
            labels = {a.get("key"): a.get("label") or "" for a in tq.get("answers") or []}
            step["question"] = {"text": tq.get("text") or "",
                                "answers": [{"key": a["key"], "label": labels.get(a["key"], "")}
                                            for a in b["question"]["answers"]]}
        steps.append(step)
    return {
        "steps": steps,
        "reasons": [{"code": r["code"], "label": (t_reasons.get(r["code"]) or {}).get("label") or "",
                     "remedy": (t_reasons.get(r["code"]) or {}).get("remedy") or ""} for r in base["reasons"]],
        "objections": [{"key": o["key"], "question": (t_objections.get(o["key"]) or {}).get("question") or "",
                        "answer": (t_objections.get(o["key"]) or {}).get("answer") or ""}
                       for o in base["objections"]],
    }


def merge(base: dict, translation: dict | None) -> dict:
    """The base content with the translation's non-empty texts in place of its own."""
    out = copy.deepcopy(base)
    if not translation:
        return out
    tr = project(base, translation)
    for b, t in zip(out["steps"], tr["steps"]):
        b["title"] = t["title"] or b["title"]
        b["text"] = t["text"] or b["text"]
        if b["question"]:
            b["question"]["text"] = t["question"]["text"] or b["question"]["text"]
            for ba, ta in zip(b["question"]["answers"], t["question"]["answers"]):
                ba["label"] = ta["label"] or ba["label"]
    for b, t in zip(out["reasons"], tr["reasons"]):
        b["label"] = t["label"] or b["label"]
        b["remedy"] = t["remedy"] or b["remedy"]
    for b, t in zip(out["objections"], tr["objections"]):
        b["question"] = t["question"] or b["question"]
        b["answer"] = t["answer"] or b["answer"]
    return out


def untranslated(base: dict, translation: dict | None) -> int:
    """How many texts of the base the translation leaves empty."""
    tr = project(base, translation)
    n = 0
    for t, b in zip(tr["steps"], base["steps"]):
        n += (not t["title"]) + (not t["text"])
        if b["question"]:
            n += (not t["question"]["text"]) + sum(not a["label"] for a in t["question"]["answers"])
    n += sum((not t["label"]) + (bool(b["remedy"]) and not t["remedy"])
             for t, b in zip(tr["reasons"], base["reasons"]))
    n += sum((not t["question"]) + (not t["answer"]) for t in tr["objections"])
    return n


def answer_keys(base: dict) -> dict[str, set[str]]:
    """{step key: its answer keys} for the steps that ask a question."""
    return {s["key"]: {a["key"] for a in s["question"]["answers"]} for s in base["steps"] if s["question"]}

"""Script use-cases: read a script's texts, render it for a client, edit it.

Changes flush, never commit; the request or command owns the transaction.
A script with no stored texts is the shipped default (``content.py``); the
first change stores every shipped language as rows, then applies the change,
so a shipped script never becomes half stored.

``render``, ``reason_codes`` and ``answer_keys`` are what the call workspace
and the outcome endpoint call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Store
from ..campaigns.models import Campaign, Script
from ..clients import queries as client_queries
from ..clients.rules import effective_language
from ..campaigns.services import DEFAULT_SCRIPT_NAME
from ..core import audit, clock
from ..core.errors import Conflict, NotFound, ValidationError
from ..extensions import db
from . import content, rendering, rules
from .models import ScriptText

CHANGED_MEANWHILE = "someone else changed these texts since you opened them"


@dataclass
class Texts:
    """A script's content in every language it has (stored or shipped)."""

    script: Script | None
    base_language: str
    base: dict
    translations: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # 0: not stored
    stored: bool = False

    @property
    def languages(self) -> list[str]:
        return [self.base_language, *sorted(self.translations)]

    def version(self, language: str) -> int:
        return self.versions.get(language, 0)


def _invalid(errors: dict[str, str], what: str = "the script") -> ValidationError:
    return ValidationError(f"{what} has {len(errors)} problem(s): "
                           + "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5]), details=errors)


def get_script(script_id: int) -> Script:
    script = db.session.get(Script, script_id)
    if script is None:
        raise NotFound(f"no script with id {script_id}")
    return script


def _default_script() -> Script | None:
    return db.session.scalar(select(Script).where(Script.is_default.is_(True)))


def texts_of(script: Script | None) -> Texts:
    """The script's content per language; the shipped default when nothing is stored. One statement."""
    rows = list(db.session.scalars(select(ScriptText).where(ScriptText.script_id == script.id))) \
        if script is not None else []
    base_row = next((r for r in rows if r.is_base), None)
    if base_row is None:
        return Texts(script, content.BASE_LANGUAGE, content.base(), content.translations())
    return Texts(script, base_row.language, base_row.content,
                 {r.language: r.content for r in rows if not r.is_base},
                 {r.language: r.version for r in rows}, stored=True)


# ------------------------------------------------------------------ the workspace's interface

def reason_codes() -> list[str]:
    """Why clients stop coming (DOMAIN.md), in the order agents see them."""
    return list(rules.REASON_CODES)


def render(script_id: int | None, language: str | None, ctx: dict) -> dict:
    """The script ready to read out, in ``language`` if it has that translation
    (``zh-CN`` matches ``zh``), else in its base language.

    ``script_id`` None is the default script. Placeholders are filled from
    ``ctx`` (first_name, agent_name, store_name, last_service, last_visit_date
    — a date or text —, days_since, offer — an offer key or text); a missing
    value reads as a neutral phrase of the language, never as ``{name}``.
    Strings are plain text: the template escapes them. Two statements.
    """
    return render_texts(_read(script_id), language, ctx)


def _read(script_id: int | None) -> Texts:
    """The script and its stored texts in one statement, for reading only: the
    shipped content is shared, not copied (the agent's hot path)."""
    which = Script.is_default.is_(True) if script_id is None else Script.id == script_id
    rows = db.session.execute(select(Script.id, Script.name, ScriptText.language, ScriptText.is_base,
                                     ScriptText.content, ScriptText.version)
                              .outerjoin(ScriptText, ScriptText.script_id == Script.id).where(which)).all()
    if not rows and script_id is not None:
        raise NotFound(f"no script with id {script_id}")
    # Columns, not entities (the hot path); the script is only named and numbered here.
    script = SimpleNamespace(id=rows[0].id, name=rows[0].name) if rows else None
    stored = [r for r in rows if r.language is not None]
    base_row = next((r for r in stored if r.is_base), None)
    if base_row is None:
        return Texts(script, content.BASE_LANGUAGE, content.SHIPPED_BASE, content.SHIPPED_TRANSLATIONS)
    return Texts(script, base_row.language, base_row.content,
                 {r.language: r.content for r in stored if not r.is_base},
                 {r.language: r.version for r in stored}, stored=True)


def render_texts(texts: Texts, language: str | None, ctx: dict) -> dict:
    """``render`` for texts already read (or typed in the editor and not saved yet)."""
    used = rules.match_language(language, texts.languages) or texts.base_language
    translation = texts.translations.get(used) if used != texts.base_language else None
    labels = content.offer_labels(used)
    values = rendering.placeholder_values(ctx or {}, used, neutral=content.neutral(used), offer_labels=labels)
    shipped = texts.base is content.SHIPPED_BASE
    out = rendering.render_content(texts.base, translation, values, labels,
                                   merged=content.shipped_merged(used) if shipped else None)
    script = texts.script
    return {"script_id": script.id if script else None,
            "name": script.name if script else DEFAULT_SCRIPT_NAME,
            "language": used, "languages": texts.languages, **out}


def answer_keys(script_id: int | None, language: str | None = None) -> dict[str, set[str]]:
    """{step key: the answer keys its question accepts}. The structure is the
    same in every language, so ``language`` changes nothing."""
    texts = _read(script_id)
    return content.shipped_answer_keys() if not texts.stored else rules.answer_keys(texts.base)


def sample_context(language: str | None, agent_name: str | None) -> dict:
    """A made-up client for previews (74 days since a visit, the renewal offer)."""
    today = clock.now().date()
    return {**content.sample_client(language), "agent_name": agent_name or "",
            "last_visit_date": today - timedelta(days=74), "days_since": 74, "offer": "renewal_discount"}


def client_context(client_ref: str, agent_name: str | None, offer: str | None = None) -> tuple[dict, str | None]:
    """The placeholders' values for a real client, and the client's language
    (their own, else their store country's). ``NotFound`` for an unknown ref."""
    card = client_queries.client_card(client_ref)
    if card is None:
        raise NotFound(f"no client {client_ref}")
    country = db.session.scalar(select(Store.country).where(Store.code == card["store_code"]))
    last = card["last_visit"] or {}
    ctx = {"first_name": card["first_name"], "last_name": card["last_name"], "full_name": card["name"],
           "agent_name": agent_name or "", "store_name": card["store"]["name"],
           "last_service": last.get("service") or "", "last_visit_date": last.get("date"),
           "days_since": card["days_since"], "offer": offer or ""}
    return ctx, effective_language(card["language"], country)


# ------------------------------------------------------------------ lists

def script_list() -> list[dict]:
    """Every script with its languages and the campaigns that use it. Three statements."""
    scripts = list(db.session.scalars(select(Script).order_by(Script.is_default.desc(), Script.name)))
    langs: dict[int, list] = {}
    for sid, lang, is_base in db.session.execute(
            select(ScriptText.script_id, ScriptText.language, ScriptText.is_base)
            .order_by(ScriptText.is_base.desc(), ScriptText.language)):
        langs.setdefault(sid, []).append(lang)
    default_id = next((s.id for s in scripts if s.is_default), None)
    used: dict[int, list] = {}
    for cid, name, status, sid in db.session.execute(
            select(Campaign.id, Campaign.name, Campaign.status, Campaign.script_id).order_by(Campaign.id.desc())):
        used.setdefault(sid if sid is not None else default_id, []).append(
            {"id": cid, "name": name, "status": status})
    shipped = [content.BASE_LANGUAGE, *sorted(lg for lg in content.LANGUAGES if lg != content.BASE_LANGUAGE)]
    return [{"script": s, "languages": langs.get(s.id) or shipped, "base_language": (langs.get(s.id) or shipped)[0],
             "stored": s.id in langs, "campaigns": used.get(s.id, [])} for s in scripts]


# ------------------------------------------------------------------ changes

def _check_name(name, script_id: int | None, errors: dict) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = "is required"
    elif len(name) > 200:
        errors["name"] = "must be at most 200 characters"
    elif db.session.scalar(select(Script.id).where(Script.name == name, Script.id != (script_id or 0))):
        errors["name"] = f"“{name}” is already the name of another script"
    return name


def create_script(name: str, *, start_from: int | None, language: str | None, actor_id: int | None) -> Script:
    """A new script: a copy of an existing one (``start_from``: its texts in
    every language) or blank in ``language`` (one greeting step, the reasons)."""
    errors = {}
    name = _check_name(name, None, errors)
    source = None
    if start_from is not None:
        source = db.session.get(Script, start_from)
        if source is None:
            errors["start_from"] = f"no script with id {start_from}"
    elif not rules.valid_language(language):
        errors["language"] = "must be a language code such as en, ja, zh, ru or pl"
    if errors:
        raise _invalid(errors, "the new script")
    now = clock.utcnow_naive()
    script = Script(name=name, is_default=False, created_at=now)
    db.session.add(script)
    db.session.flush()
    if source is not None:
        texts = texts_of(source)
        base_language, base, translations = texts.base_language, texts.base, texts.translations
    else:
        base_language, base, translations = language, content.blank(language), {}
    db.session.add(ScriptText(script_id=script.id, language=base_language, is_base=True, content=base,
                              updated_at=now, updated_by=actor_id))
    for lang, tr in translations.items():
        db.session.add(ScriptText(script_id=script.id, language=lang, is_base=False, content=tr,
                                  updated_at=now, updated_by=actor_id))
    db.session.flush()
    audit.record("script.created", actor_id=actor_id, target=f"script:{script.id}", name=name,
                 copied_from=start_from, language=base_language)
    return script


def _rows(script: Script, actor_id: int | None) -> dict[str, ScriptText]:
    """The stored rows by language, storing the shipped languages first if there are none."""
    rows = {r.language: r for r in db.session.scalars(
        select(ScriptText).where(ScriptText.script_id == script.id).with_for_update())}
    if rows:
        return rows
    now = clock.utcnow_naive()
    rows[content.BASE_LANGUAGE] = ScriptText(script_id=script.id, language=content.BASE_LANGUAGE, is_base=True,
                                             content=content.base(), updated_at=now, updated_by=actor_id)
    for lang, tr in content.translations().items():
        rows[lang] = ScriptText(script_id=script.id, language=lang, is_base=False, content=tr,
                                updated_at=now, updated_by=actor_id)
    db.session.add_all(rows.values())
    _flush()
    return rows


def _check_version(row: ScriptText | None, version) -> None:
    if version in (None, ""):
        return
    current = row.version if row is not None and row.version else 0
    if str(version).strip() != str(current):
        raise Conflict(CHANGED_MEANWHILE)


def _flush() -> None:
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict(CHANGED_MEANWHILE) from None


def save_base(script: Script, data, actor_id: int | None, *, version=None, name: str | None = None) -> ScriptText:
    """Replace the base language's content (the structure and its texts), and
    the script's name when given. ``version``: the base row's version the
    editor started from (0 = shipped, not stored); another one answers 409."""
    errors = {}
    if name is not None:
        name = _check_name(name, script.id, errors)
    try:
        clean = rules.validate_base(data)
    except rules.ContentErrors as exc:
        errors.update(exc.errors)
    if errors:
        raise _invalid(errors)
    stored = db.session.scalar(select(ScriptText.script_id).where(ScriptText.script_id == script.id).limit(1))
    rows = _rows(script, actor_id)
    row = next(r for r in rows.values() if r.is_base)
    _check_version(row if stored else None, version)
    row.content, row.updated_at, row.updated_by = clean, clock.utcnow_naive(), actor_id
    renamed = name is not None and name != script.name
    if renamed:
        script.name = name
    _flush()
    audit.record("script.texts_saved", actor_id=actor_id, target=f"script:{script.id}", language=row.language,
                 base=True, **({"name": name} if renamed else {}))
    return row


def save_translation(script: Script, language: str, data, actor_id: int | None, *, version=None) -> ScriptText:
    """Store a translation (new or replaced) of the base language's texts."""
    if not rules.valid_language(language):
        raise _invalid({"language": "must be a language code such as ja, zh, ru or pl"})
    texts = texts_of(script)
    if language == texts.base_language:
        raise _invalid({"language": f"{language} is the base language; edit it in the script editor"})
    try:
        clean = rules.validate_translation(texts.base, data)
    except rules.ContentErrors as exc:
        raise _invalid(exc.errors, "the translation") from None
    rows = _rows(script, actor_id)
    row = rows.get(language)
    _check_version(row if texts.stored else None, version)
    now = clock.utcnow_naive()
    if row is None:
        row = ScriptText(script_id=script.id, language=language, is_base=False, content=clean,
                         updated_at=now, updated_by=actor_id)
        db.session.add(row)
    else:
        row.content, row.updated_at, row.updated_by = clean, now, actor_id
    _flush()
    audit.record("script.texts_saved", actor_id=actor_id, target=f"script:{script.id}", language=language,
                 base=False)
    return row


def save_texts(script: Script, language: str, data, actor_id: int | None, *, version=None) -> ScriptText:
    """The base language's content or a translation, by ``language`` (the API's PUT)."""
    if language == texts_of(script).base_language:
        return save_base(script, data, actor_id, version=version)
    return save_translation(script, language, data, actor_id, version=version)


def delete_translation(script: Script, language: str, actor_id: int | None) -> None:
    texts = texts_of(script)
    if language == texts.base_language:
        raise _invalid({"language": "the base language cannot be removed"})
    if language not in texts.translations:
        raise NotFound(f"the script has no {language} translation")
    rows = _rows(script, actor_id)
    db.session.delete(rows[language])
    _flush()
    audit.record("script.translation_deleted", actor_id=actor_id, target=f"script:{script.id}", language=language)

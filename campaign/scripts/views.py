"""Manager pages of the scripts: the list, a new script, the editor of the
base language, the translation editor side by side, and the live preview.

Each POST parses the form, calls one service, commits and redirects; a
``ValidationError`` shows the form again with every message on its field
(422) and everything typed; a text changed by someone else meanwhile answers
409 with the form kept and the new version in it, so a second Save replaces
their change on purpose. The preview renders what is typed when it is valid.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts.auth import roles_required
from ..campaigns import services as campaign_services
from ..campaigns.models import Script
from ..campaigns.rules import OFFERS
from ..core.errors import Conflict, ValidationError
from ..core.i18n import translated
from ..extensions import db
from . import content, forms, rules, services

bp = Blueprint("scripts", __name__)
MANAGER = ("manager",)
CONFLICT_MESSAGE = lazy_gettext("Someone else saved these texts since you opened them. Open the script in another "
                                "tab to see their version; press Save again to replace it with what is below.")


def _ensure_default() -> None:
    """The shipped script gets its row (and id) the first time anyone looks."""
    if db.session.scalar(select(Script.id).where(Script.is_default.is_(True))) is None:
        try:
            campaign_services.default_script()
            db.session.commit()
        except IntegrityError:  # created by a request at the same moment
            db.session.rollback()


def _preview(texts: services.Texts, language: str | None) -> dict:
    used = rules.match_language(language, texts.languages) or texts.base_language
    return services.render_texts(texts, used, services.sample_context(used, current_user.name))


def _common(script: Script, texts: services.Texts) -> dict:
    usage = next((r for r in services.script_list() if r["script"].id == script.id), None)
    return {"script": script, "texts": texts, "campaigns": usage["campaigns"] if usage else [],
            "untranslated": {lg: rules.untranslated(texts.base, tr) for lg, tr in texts.translations.items()},
            "field_id": forms.field_id, "error_sentence": forms.error_sentence, "END": rules.END,
            "OFFERS": translated(OFFERS), "REASON_CODES": rules.REASON_CODES, "shipped_languages": content.LANGUAGES}


# ------------------------------------------------------------------ list and new

@bp.get("/scripts")
@roles_required(*MANAGER)
def index():
    _ensure_default()
    return render_template("scripts/index.html", rows=services.script_list())


@bp.route("/scripts/new", methods=["GET", "POST"])
@roles_required(*MANAGER)
def new():
    _ensure_default()
    scripts = db.session.execute(select(Script.id, Script.name, Script.is_default)
                                 .order_by(Script.is_default.desc(), Script.name)).all()
    default_id = next((s.id for s in scripts if s.is_default), "")
    if request.method == "GET":
        values = {"name": "", "start_from": str(default_id), "language": "en"}
        return render_template("scripts/new.html", values=values, errors={}, scripts=scripts,
                               field_id=forms.field_id)
    values = {k: (request.form.get(k) or "").strip() for k in ("name", "start_from", "language")}
    start_from = int(values["start_from"]) if values["start_from"].isdigit() else None
    try:
        script = services.create_script(values["name"], start_from=start_from, language=values["language"],
                                        actor_id=current_user.id)
    except ValidationError as exc:
        db.session.rollback()
        return render_template("scripts/new.html", values=values, errors=exc.details or {}, scripts=scripts,
                               field_id=forms.field_id), 422
    db.session.commit()
    flash(gettext("Script “%(name)s” created. Edit its steps below; campaigns can use it once it reads well.",
                  name=script.name))
    return redirect(url_for("scripts.edit", script_id=script.id))


# ------------------------------------------------------------------ the base language

def _typed_texts(texts: services.Texts, values: dict) -> tuple[services.Texts, bool]:
    """The texts with the typed base in place when it is valid (for the preview)."""
    try:
        base = rules.validate_base(forms.base_data(values))
    except rules.ContentErrors:
        return texts, False
    return services.Texts(texts.script, texts.base_language, base, texts.translations, texts.versions,
                          texts.stored), True


def _edit_page(script, texts, values, *, errors=None, notice=None, conflict=None, status=200):
    preview_language = request.args.get("preview") or request.form.get("preview") or texts.base_language
    shown, typed_ok = _typed_texts(texts, values) if request.method == "POST" else (texts, True)
    return render_template("scripts/edit.html", values=values, errors=errors or {}, notice=notice,
                           conflict=conflict, preview=_preview(shown, preview_language), preview_saved=not typed_ok,
                           **_common(script, texts)), status


@bp.route("/scripts/<int:script_id>", methods=["GET", "POST"])
@roles_required(*MANAGER)
def edit(script_id):
    script = services.get_script(script_id)
    texts = services.texts_of(script)
    if request.method == "GET":
        values = forms.base_values(texts.base, name=script.name, version=texts.version(texts.base_language))
        return _edit_page(script, texts, values)
    values = forms.base_values_from_form(request.form)
    action = request.form.get("action") or "save"
    if action != "save":
        notice = forms.apply_action(values, action)
        if notice is None:
            abort(400, description=gettext("That button is not part of the editor; reload the page."))
        return _edit_page(script, texts, values,
                          notice=gettext("%(notice)s Nothing is saved until you press Save.", notice=notice))
    try:
        services.save_base(script, forms.base_data(values), current_user.id, version=values["version"],
                           name=values["name"])
    except ValidationError as exc:
        db.session.rollback()
        return _edit_page(script, texts, values, errors=exc.details, status=422)
    except Conflict:
        db.session.rollback()
        texts = services.texts_of(services.get_script(script_id))
        values["version"] = str(texts.version(texts.base_language))
        return _edit_page(script, texts, values, conflict=CONFLICT_MESSAGE, status=409)
    db.session.commit()
    flash(gettext("Script saved. Agents see the change on their next client."))
    return redirect(url_for("scripts.edit", script_id=script.id))


@bp.post("/scripts/<int:script_id>/preview")
@roles_required(*MANAGER)
def preview(script_id):
    """The preview pane for what is typed (the editor's small script posts the form)."""
    script = services.get_script(script_id)
    texts = services.texts_of(script)
    language = request.form.get("preview") or texts.base_language
    shown, ok = texts, True
    if request.form.get("mode") == "translation" and language != texts.base_language:
        try:
            typed = rules.validate_translation(texts.base, forms.translation_from_form(texts.base, request.form))
            shown = services.Texts(script, texts.base_language, texts.base, {**texts.translations, language: typed},
                                   texts.versions, texts.stored)
        except rules.ContentErrors:
            ok = False
    elif request.form.get("mode") == "base":
        shown, ok = _typed_texts(texts, forms.base_values_from_form(request.form))
    if language not in shown.languages:  # a translation being written for the first time, not valid yet
        shown = services.Texts(script, texts.base_language, shown.base, {**shown.translations, language: {}},
                               shown.versions, shown.stored)
    return render_template("scripts/_preview.html", preview=_preview(shown, language), preview_saved=not ok,
                           script=script, texts=shown, tabs=request.form.get("mode") != "translation")


# ------------------------------------------------------------------ translations

@bp.get("/scripts/<int:script_id>/translations")
@roles_required(*MANAGER)
def add_translation(script_id):
    script = services.get_script(script_id)
    language = (request.args.get("language") or "").strip()
    if not rules.valid_language(language):
        flash(gettext("Type a language code such as de, uk or pt-BR to add a translation."), "error")
        return redirect(url_for("scripts.edit", script_id=script.id) + "#translations")
    return redirect(url_for("scripts.translate", script_id=script.id, language=language))


@bp.route("/scripts/<int:script_id>/translations/<language>", methods=["GET", "POST"])
@roles_required(*MANAGER)
def translate(script_id, language):
    script = services.get_script(script_id)
    if not rules.valid_language(language):
        abort(404, description=gettext("That is not a language code."))
    texts = services.texts_of(script)
    if language == texts.base_language:
        return redirect(url_for("scripts.edit", script_id=script.id))
    values = rules.project(texts.base, texts.translations.get(language))
    version = str(texts.version(language))
    errors, conflict, status = {}, None, 200
    if request.method == "POST":
        values = forms.translation_from_form(texts.base, request.form)
        version = request.form.get("version") or ""
        try:
            services.save_translation(script, language, values, current_user.id, version=version)
        except ValidationError as exc:
            db.session.rollback()
            errors, status = exc.details or {}, 422
        except Conflict:
            db.session.rollback()
            texts = services.texts_of(services.get_script(script_id))
            version, conflict, status = str(texts.version(language)), CONFLICT_MESSAGE, 409
        else:
            db.session.commit()
            flash(gettext("Translation “%(language)s” saved.", language=language))
            return redirect(url_for("scripts.translate", script_id=script.id, language=language))
    # The preview shows what is typed unless it has errors (then what is saved).
    typed = values if not errors else texts.translations.get(language, {})
    shown = services.Texts(script, texts.base_language, texts.base, {**texts.translations, language: typed},
                           texts.versions, texts.stored)
    return render_template("scripts/translate.html", language=language, values=values, version=version,
                           errors=errors, conflict=conflict, preview=_preview(shown, language),
                           preview_saved=bool(errors), **_common(script, texts)), status


@bp.post("/scripts/<int:script_id>/translations/<language>/delete")
@roles_required(*MANAGER)
def delete_translation(script_id, language):
    script = services.get_script(script_id)
    try:
        services.delete_translation(script, language, current_user.id)
    except ValidationError as exc:
        db.session.rollback()
        flash(gettext("Not removed: %(error)s", error=exc.message), "error")
        return redirect(url_for("scripts.translate", script_id=script.id, language=language))
    db.session.commit()
    flash(gettext("Translation “%(language)s” removed; clients who speak it hear the base language.",
                  language=language))
    return redirect(url_for("scripts.edit", script_id=script.id) + "#translations")

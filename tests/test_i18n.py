"""Every language the staff speak (issue 9; docs/i18n.md).

* Every template string is marked for translation: a static check over the
  Jinja token stream (text outside ``{% trans %}`` blocks, user-facing
  attributes, string literals that read as words).
* Every catalogue has every entry: each msgid of messages.pot is translated (not
  fuzzy, not empty, every plural form) in each language, and messages.pot is
  what ``pybabel extract`` gives for today's sources.
* The locale a request gets, the chooser on *My account*, and Babel formatting
  (money in the store currency, plural forms in Russian and Polish).
"""
from __future__ import annotations

import html
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po
from jinja2 import Environment

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
TRANSLATIONS = ROOT / "campaign" / "translations"
LANGS = ("ja", "zh", "ru", "pl")

# ---------------------------------------------------------------- 1. templates

# Text that is the same in every language. Keep it short: a word here is a word
# nobody translates.
ALLOWED_WORDS = {
    "Winback",          # the brand
    "CSV", "XLSX",      # file formats, as written on the buttons that download them
    "UTC",              # a time zone's name
    "ID", "URL",
    "d1", "d2", "d3", "d3plus",  # dormancy bucket codes (SPEC §3)
}
# Attributes whose value a person reads (or hears, with a screen reader).
USER_ATTRS = ("title", "placeholder", "aria-label", "alt", "data-confirm", "aria-description",
              "aria-valuetext", "label")
# data-t-* and data-msg-* carry texts for the page's JavaScript (docs/i18n.md).
USER_ATTR_PREFIXES = ("data-t-", "data-msg")
GETTEXT_CALLS = {"_", "gettext", "ngettext", "pgettext", "npgettext", "lazy_gettext"}

_ENV = Environment(extensions=["jinja2.ext.i18n"])
_HOLE = "\x00"  # stands for an expression or a tag in the text left to check
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_][\w'’.-]*")


def _has_words(text: str) -> bool:
    text = html.unescape(text)
    words = [w.strip(".-'’") for w in _WORD.findall(text)]
    # A lone letter is a key to press (<kbd>N</kbd>) or a class, not a word to translate.
    return any(len(w) > 1 and w not in ALLOWED_WORDS and _LETTER.search(w) for w in words)


def _strip_code(source: str) -> tuple[str, list[tuple[int, str]]]:
    """The template with every ``{{ }}`` / ``{% %}`` replaced by a hole and every
    trans block dropped; and the string literals outside gettext calls, with
    their line, that read as words (two or more words, or a capitalised word)."""
    out: list[str] = []
    literals: list[tuple[int, str]] = []
    in_trans = False
    block: list[tuple[str, str]] = []
    expr: list[tuple[int, str, str]] = []
    for lineno, kind, value in _ENV.lex(source):
        if kind in ("block_begin", "variable_begin"):
            block, expr = [], []
            continue
        if kind in ("block_end", "variable_end"):
            names = [v for k, v in block if k == "name"]
            if kind == "block_end" and names and names[0] == "trans":
                in_trans = True
            elif kind == "block_end" and names and names[0] == "endtrans":
                in_trans = False
            elif not in_trans:
                literals.extend(_bare_literals(expr))
            if not in_trans:
                out.append(_HOLE)
            continue
        if kind in ("comment_begin", "comment", "comment_end", "linecomment"):
            continue
        if kind == "data":
            if not in_trans:
                out.append(value)
            continue
        block.append((kind, value))
        expr.append((lineno, kind, value))
    return "".join(out), literals


def _bare_literals(tokens: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    found = []
    depth_in_gettext: list[int] = []  # paren depths at which a gettext call opened
    depth = 0
    prev = None
    for i, (lineno, kind, value) in enumerate(tokens):
        if kind == "operator" and value == "(":
            depth += 1
            if prev and prev[1] == "name" and prev[2] in GETTEXT_CALLS:
                depth_in_gettext.append(depth)
        elif kind == "operator" and value == ")":
            if depth_in_gettext and depth_in_gettext[-1] == depth:
                depth_in_gettext.pop()
            depth -= 1
        elif kind == "string" and not depth_in_gettext:
            value = value[1:-1]  # the lexer gives the literal with its quotes
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            # A dictionary key, a test or filter argument, a format: code, not words.
            if nxt and nxt[1] == "operator" and nxt[2] == ":":
                pass
            elif _reads_as_words(value):
                found.append((lineno, value))
        prev = (lineno, kind, value)
    return found


def _reads_as_words(value: str) -> bool:
    text = re.sub(r"%[-#0-9]*[a-zA-Z]|%\([a-z_]+\)[sd]|\{[a-z_]+\}", " ", value)
    if "/" in text or "." in text.strip(".") and " " not in text:  # paths, endpoints
        return False
    words = [w for w in _WORD.findall(text) if w not in ALLOWED_WORDS]
    if not words:
        return False
    if len(words) >= 2 and " " in text.strip():
        # A class list ("badge warn") is code: every word a class of the stylesheets.
        return not all(w in _css_classes() for w in text.split())
    return bool(re.match(r"[A-Z][a-z]", words[0])) and len(words[0]) > 1


def _css_classes() -> set[str]:
    if not _CSS:
        for css in (ROOT / "static").glob("*.css"):
            _CSS.update(re.findall(r"\.([a-zA-Z][\w-]*)", css.read_text(encoding="utf-8")))
    return _CSS


_CSS: set[str] = set()
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[a-zA-Z!/][^>]*>", re.S)
_ATTR = re.compile(r"""([a-zA-Z][\w:-]*)\s*=\s*("([^"]*)"|'([^']*)')""")


def unmarked_in(source: str) -> list[str]:
    """The user-facing texts of a template source that are not marked."""
    text, literals = _strip_code(source)
    found = [f"literal {v!r} (line {n})" for n, v in literals]
    text = _COMMENT.sub(" ", _SCRIPT.sub(" ", text))
    for tag in _TAG.findall(text):
        attrs = {m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(4))
                 for m in _ATTR.finditer(tag)}
        for name, value in attrs.items():
            user = name in USER_ATTRS or name.startswith(USER_ATTR_PREFIXES)
            button_value = name == "value" and tag.lower().startswith("<input") and \
                attrs.get("type", "").lower() in ("submit", "button", "reset")
            if (user or button_value) and _has_words(value.replace(_HOLE, " ")):
                found.append(f'{name}="{value.replace(_HOLE, "{…}")}"')
    for chunk in _TAG.sub(_HOLE, text).split(_HOLE):
        if _has_words(chunk):
            found.append(" ".join(chunk.split()))
    return found


def _templates():
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_template_string_is_marked_for_translation(path):
    found = unmarked_in(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: not marked for translation (wrap in {{{{ _('…') }}}} " \
                      f"or {{% trans %}}):\n  " + "\n  ".join(found)


@pytest.mark.parametrize("source, expected", [
    ("<p>Next client</p>", ["Next client"]),
    ('<button title="Save it">{{ _("Save") }}</button>', ['title="Save it"']),
    ('<input type="submit" value="Send">', ['value="Send"']),
    ("{{ 'a client' if x else y }}", ["literal 'a client' (line 1)"]),
    ('<a data-confirm="Lock the run?">{{ _("Lock") }}</a>', ['data-confirm="Lock the run?"']),
    # Marked, code, or brand only: nothing to report.
    ("<p>{{ _('Next client') }}</p>", []),
    ("<p>{% trans n=3 %}{{ n }} left{% endtrans %}</p>", []),
    ('<p class="badge warn">{{ x }} · {{ y }} → 100 %</p>', []),
    ("<span>Winback</span> <i>CSV</i>", []),
    ('<a title="{{ _(\'Open the card\') }}" href="{{ url_for(\'a.b\') }}">{{ c.ref }}</a>', []),
    ("<script>var x = 'not checked here';</script>", []),
    ("{{ x|default('—') }}{{ {'a': 1}.get('b') }}{{ 'badge warn' if y }}", []),
])
def test_the_template_check_finds_unmarked_text(source, expected):
    """The check can fail: each unmarked kind of text is reported."""
    assert unmarked_in(source) == expected


# ---------------------------------------------------------------- 2. catalogues

def _pot_path() -> Path:
    return TRANSLATIONS / "messages.pot"


def _read(path: Path, locale=None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _msgids(catalog) -> set:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def test_the_pot_is_up_to_date_with_the_sources(tmp_path):
    """Re-extract from today's sources and compare msgids with messages.pot."""
    fresh = tmp_path / "fresh.pot"
    # The same command as scripts/i18n.sh.
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
                    "-k", "lazy_gettext", "-k", "_l", "-k", "N_", "-o", str(fresh), "."],
                   cwd=ROOT, check=True, capture_output=True)
    committed, current = _msgids(_read(_pot_path())), _msgids(_read(fresh))
    assert current - committed == set(), "messages.pot is behind the sources: run bash scripts/i18n.sh"
    assert committed - current == set(), "messages.pot has strings no source uses: run bash scripts/i18n.sh"


@pytest.mark.parametrize("lang", LANGS)
def test_every_catalogue_translates_every_entry(lang):
    pot = _read(_pot_path())
    po = _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", locale=lang)
    forms = po.num_plurals
    expected = {"ja": 1, "zh": 1, "ru": 3, "pl": 3}[lang]
    assert po.num_plurals == expected, f"{lang}: Plural-Forms header has {po.num_plurals} forms, not {expected}"
    missing, fuzzy, short = [], [], []
    for msg in pot:
        if not msg.id:
            continue
        got = po.get(msg.id, msg.context)
        if got is None or not (all(got.string) if isinstance(got.string, (list, tuple)) else got.string):
            missing.append(msg.id)
        elif got.fuzzy:
            fuzzy.append(msg.id)
        elif msg.pluralizable and (not isinstance(got.string, (list, tuple)) or len(got.string) != forms):
            short.append(msg.id)
    assert not (missing or fuzzy or short), (
        f"{lang}: {len(missing)} untranslated, {len(fuzzy)} fuzzy, {len(short)} with the wrong number of "
        f"plural forms; first: {(missing + fuzzy + short)[:5]}")


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_their_placeholders(lang):
    """A translation that drops or renames %(name)s would fail (or lie) at render time."""
    po = _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", locale=lang)
    bad = []
    for msg in po:
        if not msg.id or not msg.string or msg.fuzzy:
            continue
        ids = msg.id if isinstance(msg.id, (list, tuple)) else [msg.id]
        strings = msg.string if isinstance(msg.string, (list, tuple)) else [msg.string]
        wanted = set(re.findall(r"%\((\w+)\)", ids[-1]))
        for s in strings:
            if s and set(re.findall(r"%\((\w+)\)", s)) - wanted:
                bad.append(msg.id)
            # A singular may leave out %(num)s ("one client"), other names must stay.
            if s and (wanted - {"num", "count", "n"}) - set(re.findall(r"%\((\w+)\)", s)):
                bad.append(msg.id)
    assert not bad, f"{lang}: placeholders changed in {bad[:5]}"


# ---------------------------------------------------------------- 3. locale, chooser, formatting

def _lang_of(resp) -> str:
    m = re.search(r'<html lang="([^"]+)"', resp.get_data(as_text=True))
    assert m, "no <html lang>"
    return m.group(1)


@pytest.mark.parametrize("header, expected", [
    ("pl,en;q=0.5", "pl"), ("ja-JP", "ja"), ("zh-CN,zh;q=0.9", "zh-Hans"), ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
    ("de-DE,fr;q=0.8", "en"), ("", "en"), ("de,pl;q=0.3", "pl")])
def test_before_sign_in_the_browser_language_decides(client, header, expected):
    assert _lang_of(client.get("/login", headers={"Accept-Language": header})) == expected


def test_the_sign_in_page_offers_every_language_and_remembers_the_choice(client):
    page = client.get("/login").get_data(as_text=True)
    for code in ("en", "ja", "zh", "ru", "pl"):
        assert f'/language/{code}?next=/login' in page
    resp = client.get("/language/ru?next=/login", headers={"Accept-Language": "ja"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert _lang_of(client.get("/login", headers={"Accept-Language": "ja"})) == "ru"
    # Unknown codes and other sites are refused.
    resp = client.get("/language/xx?next=https://evil.example/")
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]
    assert _lang_of(client.get("/login", headers={"Accept-Language": "ja"})) == "ru"


def test_the_signed_in_persons_choice_wins_over_the_browser(make_staff, login_as):
    staff = make_staff(roles=("manager",))
    staff.ui_language = "ja"
    from campaign.extensions import db
    db.session.commit()
    web = login_as(staff)
    assert _lang_of(web.get("/account", headers={"Accept-Language": "pl"})) == "ja"
    staff.ui_language = None  # no choice: the browser's again
    db.session.commit()
    assert _lang_of(web.get("/account", headers={"Accept-Language": "pl"})) == "pl"
    staff.ui_language = "klingon"  # a value that is no longer supported is ignored
    db.session.commit()
    assert _lang_of(web.get("/account", headers={"Accept-Language": "de"})) == "en"


def test_the_account_page_chooser_saves_a_supported_language_and_refuses_others(make_staff, login_as):
    from campaign.extensions import db
    from tests.conftest import csrf_from
    staff = make_staff(roles=("agent",))
    web = login_as(staff)
    page = web.get("/account").get_data(as_text=True)
    assert 'name="ui_language"' in page and "Polski" in page and "日本語" in page
    token = csrf_from(page)
    resp = web.post("/account/language", data={"ui_language": "pl", "csrf_token": token})
    assert resp.status_code == 302
    db.session.refresh(staff)
    assert staff.ui_language == "pl"
    assert _lang_of(web.get("/account", headers={"Accept-Language": "en"})) == "pl"

    resp = web.post("/account/language", data={"ui_language": "de", "csrf_token": token}, follow_redirects=True)
    db.session.refresh(staff)
    assert staff.ui_language == "pl", "an unsupported language is not saved"
    assert "flash error" in resp.get_data(as_text=True)

    web.post("/account/language", data={"ui_language": "", "csrf_token": token})
    db.session.refresh(staff)
    assert staff.ui_language is None, "empty = follow the browser"


def test_the_set_language_service_refuses_unknown_codes(make_staff):
    from campaign.accounts import services
    from campaign.core.errors import ValidationError
    staff = make_staff()
    with pytest.raises(ValidationError):
        services.set_ui_language(staff, "de", actor_id=None)
    services.set_ui_language(staff, "zh", actor_id=None)
    assert staff.ui_language == "zh"


def test_the_demo_people_cover_every_language():
    """The demo logins read pages in one of their own languages, all five between them."""
    gen_langs = {}
    from campaign.demo import generator
    gen = generator()
    rows = {row[0]: row for row in gen.PEOPLE}
    from campaign.core.i18n import LANGUAGES
    for code in gen.DEMO_LOGINS:
        spoken = [x for x in sorted(rows[code][-1].split(";")) if x in LANGUAGES]
        gen_langs[code] = next((x for x in spoken if x != "en"), "en")
    assert set(gen_langs.values()) == set(LANGUAGES)
    assert gen_langs["M-PL01"] == "pl" and gen_langs["M-JP01"] == "ja" and gen_langs["ADM-01"] == "en"


@pytest.mark.parametrize("amount, currency, locale, expected", [
    (97000, "PLN", "en", "970.00 PLN"),            # English keeps the code after the amount
    (4550000, "PLN", "en", "45,500.00 PLN"),
    (4550000, "PLN", "pl", "45\u00a0500,00\u00a0zł"),
    (455000, "JPY", "ja", "￥455,000"),            # no minor units in yen
    (455000, "JPY", "en", "455,000 JPY"),
    (123450, "RUB", "ru", "1\u00a0234,50\u00a0₽"),
    (1200, "CNY", "zh_Hans_CN", "¥12.00"),
    (None, "PLN", "pl", "—"),
])
def test_money_is_written_per_locale_in_the_store_currency(amount, currency, locale, expected):
    from campaign.core.i18n import format_money
    assert format_money(amount, currency, locale=locale) == expected


def test_numbers_and_dates_per_locale():
    from campaign.core import dates
    from campaign.core.i18n import format_day, format_number
    assert format_number(1234567, locale="en") == "1,234,567"
    assert format_number(1234567, locale="pl") == "1\u00a0234\u00a0567"
    assert format_day(date(2026, 6, 7), "long", locale="ru") == "7 июня 2026\u202fг."
    assert format_day(date(2026, 6, 7), "long", locale="zh_Hans_CN") == "2026年6月7日"
    assert [dates.format_date(date(2026, 5, 8), x) for x in ("en", "pl", "ru", "ja", "zh")] == [
        "8 May 2026", "08.05.2026", "08.05.2026", "2026年5月8日", "2026年5月8日"]


@pytest.mark.parametrize("lang, forms", [("ru", {1: 0, 2: 1, 5: 2, 22: 1, 11: 2, 21: 0}),
                                         ("pl", {1: 0, 2: 1, 5: 2, 22: 1, 12: 2, 21: 2})])
def test_russian_and_polish_plurals_choose_the_right_form(lang, forms, tmp_path):
    """The catalogue's Plural-Forms header picks one/few/many right, and a compiled
    catalogue gives the matching text (1 клиент, 2 клиента, 5 клиентов, 22 клиента)."""
    import gettext

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.support import Translations

    po = _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", locale=lang)
    choose = gettext.c2py(po.plural_expr)
    assert {n: choose(n) for n in forms} == forms

    words = {"ru": ("%(num)s клиент", "%(num)s клиента", "%(num)s клиентов"),
             "pl": ("%(num)s klient", "%(num)s klientów", "%(num)s klientów")}[lang]
    cat = Catalog(locale=lang)
    cat.add(("%(num)s client", "%(num)s clients"), words)
    mo = tmp_path / "t.mo"  # a compiled catalogue, as the app loads it
    with mo.open("wb") as f:
        write_mo(f, cat)
    with mo.open("rb") as f:
        t = Translations(f)
    got = {n: t.ngettext("%(num)s client", "%(num)s clients", n) % {"num": n} for n in (1, 2, 5, 22)}
    if lang == "ru":
        assert got == {1: "1 клиент", 2: "2 клиента", 5: "5 клиентов", 22: "22 клиента"}
    else:
        assert got == {1: "1 klient", 2: "2 klientów", 5: "5 klientów", 22: "22 klientów"}


def test_a_page_is_translated_when_the_catalogue_has_the_text(app, make_staff, login_as, tmp_path):
    """End to end through Flask-Babel: a Polish catalogue with one entry turns the
    English word on the page into Polish for a person who chose Polish."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from campaign.extensions import db
    for lang in ("pl", "zh"):  # zh: the catalogue in zh/ serves the zh_Hans_CN locale
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        cat = Catalog(locale=lang)
        cat.add("Signed-in browsers", {"pl": "Zalogowane przeglądarki", "zh": "已登录的浏览器"}[lang])
        with (folder / "messages.mo").open("wb") as f:
            write_mo(f, cat)
    from flask_babel import get_domain
    babel_cfg = app.extensions["babel"]
    saved = babel_cfg.translation_directories
    with app.test_request_context():
        domain = get_domain()
    babel_cfg.translation_directories = [str(tmp_path)]
    domain.cache.clear()
    try:
        staff = make_staff(roles=("agent",))
        staff.ui_language = "pl"
        db.session.commit()
        web = login_as(staff)
        page = web.get("/account").get_data(as_text=True)
        assert "Zalogowane przeglądarki" in page and 'lang="pl"' in page
        staff.ui_language = "zh"
        db.session.commit()
        page = web.get("/account").get_data(as_text=True)
        assert "已登录的浏览器" in page and 'lang="zh-Hans"' in page
    finally:
        babel_cfg.translation_directories = saved
        domain.cache.clear()

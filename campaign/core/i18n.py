"""Languages of the pages: which locale a request gets, and numbers, money and
dates written the way that locale writes them (Babel). docs/i18n.md.

The locale of a request, first that applies:

1. the signed-in person's ``Staff.ui_language`` (chosen on *My account*);
2. the language picked before signing in (the links on the sign-in page set
   the ``winback_lang`` cookie);
3. the browser's ``Accept-Language``, best match among ``LANGUAGES``;
4. English.

Time zones are not chosen here: a page about a store shows that store's local
times, as it computes them itself (Flask-Babel's time zone stays UTC).

What stays English on purpose: the JSON API's error messages (integrations
match on them), log lines, the CLI, CSV/XLSX files for payroll.
"""
from __future__ import annotations

import logging
import os
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path
from decimal import Decimal

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_currency as _babel_currency
from babel.numbers import format_decimal as _babel_decimal
from flask import has_request_context, request
from flask_babel import get_locale, gettext  # noqa: F401  (gettext: Flask-Login's localize_callback)

from .money import exponent
from .msgid import N_  # noqa: F401  (re-exported: mark without translating)

# The languages the staff can choose, in the chooser's order, each in its own words.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ja": "日本語",
    "zh": "中文（简体）",
    "ru": "Русский",
    "pl": "Polski",
}
DEFAULT = "en"
COOKIE = "winback_lang"
# The Babel locale behind each code. ``zh`` is Simplified Chinese as written in
# mainland China (the catalogue lives in translations/zh; gettext finds it from
# zh_Hans_CN by dropping the script and territory).
BABEL_LOCALES = {"en": "en", "ja": "ja", "zh": "zh_Hans_CN", "ru": "ru", "pl": "pl"}
# The <html lang> value (BCP 47).
HTML_LANG = {"en": "en", "ja": "ja", "zh": "zh-Hans", "ru": "ru", "pl": "pl"}


# Status words shown on pages (campaigns, queue items, bonus runs, jobs, messages,
# visits), so every template can write ``STATUS_WORDS.get(x.status, x.status)``.
STATUS_WORDS = {
    "draft": N_("draft"), "active": N_("active"), "paused": N_("paused"), "closed": N_("closed"),
    "pool": N_("pool"), "holdout": N_("holdout"), "queued": N_("queued"), "claimed": N_("claimed"),
    "callback": N_("callback"), "retry": N_("retry"), "approved": N_("approved"), "exported": N_("exported"),
    "started": N_("started"), "finished": N_("finished"), "failed": N_("failed"),
    "scheduled": N_("scheduled"), "sending": N_("sending"), "sent": N_("sent"), "cancelled": N_("cancelled"),
    "completed": N_("completed"), "no_show": N_("no-show"),
    "call": N_("call"), "sms": N_("SMS"), "email": N_("e-mail"), "letter": N_("letter"),
    "agent": N_("agent"), "manager": N_("manager"), "payroll": N_("payroll"), "admin": N_("admin"),
}


def known_message(text: str, known) -> str:
    """A service's message in the page's language when it is one of the fixed
    messages ``known`` (marked with N_ where they are listed); any other text,
    one with values in it, is shown as the service wrote it (English)."""
    return gettext(text) if text in known else text


def translated(labels: dict) -> dict:
    """``labels`` (code -> English label marked with ``N_``) in the request's language."""
    return {k: gettext(v) for k, v in labels.items()}


def supported(code: str | None) -> str | None:
    """``code`` as one of ``LANGUAGES`` (``zh-CN``, ``ZH_hans`` count as ``zh``), or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].strip().lower()
    return base if base in LANGUAGES else None


def _user_language() -> str | None:
    from flask_login import current_user  # only ever called inside a request
    if current_user and getattr(current_user, "is_authenticated", False):
        return supported(getattr(current_user, "ui_language", None))
    return None


def language() -> str:
    """The language code of the current request (``en`` outside one)."""
    if not has_request_context():
        return DEFAULT
    return (_user_language() or supported(request.cookies.get(COOKIE))
            or supported(request.accept_languages.best_match(
                list(LANGUAGES) + ["zh-CN", "zh-Hans", "zh-SG"]))
            or DEFAULT)


def select_locale() -> str:
    """Flask-Babel's locale selector."""
    return BABEL_LOCALES[language()]


def html_lang() -> str:
    return HTML_LANG[language()]


def _locale() -> Locale:
    return get_locale() if has_request_context() else Locale.parse(DEFAULT)


def format_money(amount: int | None, currency: str = "", locale: Locale | str | None = None) -> str:
    """Integer minor units of ``currency`` as the locale writes money ('—' for None).

    English keeps the house style the payroll files use, the ISO code after the
    amount ("45,500.00 PLN"): in a chain with stores in several currencies a
    bare symbol is ambiguous (¥ is both yen and yuan). The other languages get
    Babel's standard pattern for their locale ("45 500,00 zł", "￥4,550").
    Digits follow the currency (JPY has none)."""
    if amount is None:
        return "\u2014"
    loc = Locale.parse(locale) if locale else _locale()
    if not currency:
        return _babel_decimal(Decimal(amount).scaleb(-2), locale=loc)
    value = Decimal(amount).scaleb(-exponent(currency))
    if loc.language == "en":
        return _babel_currency(value, currency, format="#,##0.00\u00a0¤¤", locale=loc,
                               currency_digits=True).replace("\u00a0", " ")
    return _babel_currency(value, currency, locale=loc, currency_digits=True)


def format_number(n, locale: Locale | str | None = None) -> str:
    """A count with the locale's grouping (1,234 / 1 234)."""
    loc = Locale.parse(locale) if locale else _locale()
    return _babel_decimal(n or 0, locale=loc)


def format_day(day: date | datetime | None, fmt: str = "medium", locale: Locale | str | None = None) -> str:
    """A date as the locale writes it ('—' for None)."""
    if day is None:
        return "\u2014"
    loc = Locale.parse(locale) if locale else _locale()
    if isinstance(day, datetime):
        day = day.date()
    return _babel_date(day, fmt, locale=loc)


def format_moment(at: datetime | None, fmt: str = "short", locale: Locale | str | None = None) -> str:
    """A date and time as the locale writes it, in the zone ``at`` carries (a naive
    value is shown as it is: the caller has put it in the store's or UTC)."""
    if at is None:
        return "\u2014"
    loc = Locale.parse(locale) if locale else _locale()
    # A naive value is taken as the wall time it already is (UTC "conversion" to UTC).
    zone = at.tzinfo or timezone.utc
    if fmt == "short":
        # The day as "medium" (a month name, never the ambiguous 7/1/26) and the
        # time as "short", joined the way the locale joins them.
        from babel.dates import format_date, format_time
        when = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        return (str(loc.datetime_formats["medium"])
                .replace("{1}", format_date(when.astimezone(zone), "medium", locale=loc))
                .replace("{0}", format_time(when, "short", tzinfo=zone, locale=loc)))
    return _babel_datetime(at, fmt, tzinfo=zone, locale=loc)


def compile_catalogues(directory: Path) -> list[Path]:
    """Compile every ``<lang>/LC_MESSAGES/*.po`` under ``directory`` whose ``.mo``
    is missing or older than it; return the files written.

    Only the ``.po`` files are in git: this runs when the app starts, so a fresh
    clone, ``scripts/run.sh``, ``scripts/test.sh`` and CI all get current
    ``.mo`` files without a separate step (``scripts/i18n.sh`` does the same by
    hand). Each file is written to a temporary name and renamed, so processes
    starting together never read half a file. Fuzzy entries are left out (they
    show in English until a translator confirms them). A checkout that cannot be
    written is logged and served in English rather than failing to start."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(Path(directory).glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        try:
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as f:
                catalog = read_po(f, locale=po_path.parent.parent.name)
            fd, tmp = tempfile.mkstemp(dir=po_path.parent, prefix=".messages-", suffix=".mo.tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    write_mo(out, catalog, use_fuzzy=False)
                os.replace(tmp, mo_path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            written.append(mo_path)
        except OSError as exc:
            logging.getLogger(__name__).warning("could not compile %s: %s", po_path, exc)
    return written

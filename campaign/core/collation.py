"""Names in any script: search by a part of a name, sort by the reader's language.

* Search folds both sides the same way — Unicode NFKC (full-width ``ＡＢＣ`` and
  half-width ``ｻｸﾗ`` become ``ABC`` and ``サクラ``) then lower case, which is
  Unicode-aware for Cyrillic, Polish and Greek letters. PostgreSQL does it with
  ``lower(normalize(x, NFKC))``; SQLite's own ``lower()`` folds ASCII only, so
  each SQLite connection gets a Python function ``wb_fold`` that does the same.
* Sorting uses PostgreSQL's ICU collations for the page's language
  (``ja-x-icu``: kana in gojūon order and common kanji by reading, JIS order;
  ``zh-Hans-x-icu``: pinyin; ``ru-x-icu``; ``pl-x-icu``: ``ł`` after ``l``,
  ``ś`` after ``s``; ``en-x-icu``). A server built without ICU falls back to
  its database collation. SQLite has no locale collations: its ``wb_fold``
  collation orders by the folded text (code points after NFKC and lower case),
  so Latin letters with accents and Japanese kanji do not sort as a reader of
  the language expects (docs/i18n.md).
"""
from __future__ import annotations

import unicodedata

from sqlalchemy import func, literal_column, text
from sqlalchemy.sql.elements import ColumnElement

from .sql import like_escape

ICU = {"en": "en-x-icu", "ja": "ja-x-icu", "zh": "zh-Hans-x-icu", "ru": "ru-x-icu", "pl": "pl-x-icu"}


def fold(value: str | None) -> str | None:
    """The text search compares: NFKC, then lower case."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", value).lower()


def _fold_order(a: str, b: str) -> int:
    fa, fb = fold(a) or "", fold(b) or ""
    return (fa > fb) - (fa < fb) or (a > b) - (a < b)


def register_sqlite(dbapi_conn) -> None:
    """Give a SQLite connection ``wb_fold(text)`` and the collation ``wb_fold``."""
    dbapi_conn.create_function("wb_fold", 1, fold, deterministic=True)
    dbapi_conn.create_collation("wb_fold", _fold_order)


def folded(expr, dialect: str) -> ColumnElement:
    """``expr`` folded in SQL the way ``fold`` folds a needle."""
    if dialect == "postgresql":
        return func.lower(func.normalize(expr, literal_column("NFKC")))
    return func.wb_fold(expr)


def contains(expr, needle: str, dialect: str) -> ColumnElement:
    """``expr`` holds ``needle`` (any script, any case, any width); ``%`` and ``_`` are literal."""
    return folded(expr, dialect).like(f"%{like_escape(fold(needle.strip()))}%", escape="\\")


def sort_key(expr, language: str, session) -> ColumnElement:
    """``expr`` collated for ``language`` where the database can."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        name = ICU.get(language)
        if name and _has_collation(session.get_bind().url.render_as_string(hide_password=False), name, session):
            return expr.collate(name)
        return expr
    return expr.collate("wb_fold")


_known: dict[tuple[str, str], bool] = {}


def _has_collation(url: str, name: str, session) -> bool:
    key = (url, name)
    if key not in _known:
        _known[key] = bool(session.execute(
            text("SELECT 1 FROM pg_collation WHERE collname = :n"), {"n": name}).scalar())
    return _known[key]

"""Portable SQL helpers that compile differently on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import ARRAY, Integer, any_, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

MAX_ID = 2**31 - 1  # ids are INTEGER (32-bit on PostgreSQL): a larger number names no row


class day_number(FunctionElement):
    """Days since 1970-01-01 of a DATE expression, as an integer.

    Date arithmetic then becomes integer arithmetic on both databases.
    """

    type = Integer()
    inherit_cache = True
    name = "day_number"


@compiles(day_number)
def _day_number_default(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"({arg} - DATE '1970-01-01')"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(julianday({arg}) - 2440587.5 AS INTEGER)"


def like_escape(text: str) -> str:
    """``text`` for a LIKE pattern with ``escape="\\"``: ``\\``, ``%`` and ``_`` are literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"


class month_key(FunctionElement):
    """YYYYMM of a DATE expression as an integer (202611): the unit of
    leaderboard and bonus months, on both databases."""

    type = Integer()
    inherit_cache = True
    name = "month_key"


@compiles(month_key)
def _month_key_default(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(to_char({arg}, 'YYYYMM') AS INTEGER)"


@compiles(month_key, "sqlite")
def _month_key_sqlite(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%Y%m', {arg}) AS INTEGER)"


def upsert(model, bind):
    """The dialect's ``INSERT`` that has ``on_conflict_do_update`` /
    ``on_conflict_do_nothing`` (PostgreSQL and SQLite spell it the same)."""
    if is_sqlite(bind):
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    return insert(model)


def among(column, keys: list):
    """``column IN (keys)``; on PostgreSQL ``column = ANY(:array)``, one parameter
    instead of thousands (half the time per batch, and one cached statement)."""
    from ..extensions import db
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(keys, ARRAY(column.type)))
    return column.in_(keys)


def one_at_a_time(key: int, model) -> None:
    """Hold the lock named ``key`` until this transaction ends: a
    transaction-scoped advisory lock on PostgreSQL; on SQLite, which has one
    writer, the database's write lock, taken now by an UPDATE of no rows of
    ``model`` — so every read after it sees what this transaction will write
    over, and check-then-act is safe on both."""
    from sqlalchemy import false, func, select, update

    from ..extensions import db
    if is_sqlite(db.session.get_bind()):
        pk = model.__mapper__.primary_key[0]
        db.session.execute(update(model).where(false()).values({pk.key: pk}))
    else:
        db.session.execute(select(func.pg_advisory_xact_lock(key)))

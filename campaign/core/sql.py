"""Portable SQL helpers that compile differently on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


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


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"

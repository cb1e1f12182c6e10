"""The arithmetic of SPEC §7, pure: periods, visit rates, rank order,
competition results, the difficulty-adjusted expectation and the lift's
confidence interval. Plain data in, plain data out.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    """A calendar month: ``first`` day, ``next`` month's first day, ``key`` YYYYMM."""

    first: date
    next: date

    @property
    def key(self) -> int:
        return self.first.year * 100 + self.first.month

    @property
    def label(self) -> str:
        return f"{self.first.year:04d}-{self.first.month:02d}"

    @classmethod
    def of_key(cls, key: int) -> "Period":
        return cls.parse(f"{key // 100:04d}-{key % 100:02d}")

    @classmethod
    def containing(cls, day: date) -> "Period":
        return cls.parse(f"{day.year:04d}-{day.month:02d}")

    @classmethod
    def parse(cls, text: str | None) -> "Period":
        m = PERIOD_RE.match(text.strip()) if isinstance(text, str) else None
        if not m:
            raise PeriodError("a period is a month written YYYY-MM, e.g. 2026-11")
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12 or year < 2000 or year > 2100:
            raise PeriodError(f"{text!r} is not a month between 2000-01 and 2100-12")
        first = date(year, month, 1)
        nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(first, nxt)

    def shifted(self, months: int) -> "Period":
        n = self.first.year * 12 + self.first.month - 1 + months
        return Period.parse(f"{n // 12:04d}-{n % 12 + 1:02d}")


def visit_rate(conversions: int, reached: int) -> Fraction:
    """conversions / reached, 0 when nobody was reached; exact, for ranking."""
    return Fraction(conversions, reached) if reached else Fraction(0)


def rank_key(row: dict, name_field: str):
    """SPEC §7 order: conversions desc, visit_rate desc, calls asc, then the
    employee code (or team name)."""
    return (-row["conversions"], -visit_rate(row["conversions"], row["reached"]), row["calls"],
            row[name_field] or "")


def ranked(rows: list[dict], name_field: str) -> list[dict]:
    """Rows in rank order with ``rank`` 1..n and ``visit_rate`` as a float
    (4 places); the order itself uses exact fractions."""
    out = sorted(rows, key=lambda r: rank_key(r, name_field))
    for i, row in enumerate(out, 1):
        row["rank"] = i
        row["visit_rate"] = round(float(visit_rate(row["conversions"], row["reached"])), 4)
    return out


def competition_result(a: dict, b: dict) -> str:
    """"a", "b" or "draw": the side with the higher visit rate wins."""
    ra, rb = visit_rate(a["conversions"], a["reached"]), visit_rate(b["conversions"], b["reached"])
    if ra == rb:
        return "draw"
    return "a" if ra > rb else "b"


def segment_rates(segments: list[dict]) -> dict:
    """Campaign-wide conversion rate per list segment (bucket, value class):
    converted clients / queue items."""
    items: dict = {}
    won: dict = {}
    for s in segments:
        key = (s["bucket"], s["value_class"])
        items[key] = items.get(key, 0) + s["items"]
        won[key] = won.get(key, 0) + s["converted"]
    return {k: Fraction(won[k], n) if n else Fraction(0) for k, n in items.items()}


def expected_conversions(agent_segments: list[dict], rates: dict) -> float:
    """What the agent's list mix would bring at the campaign's segment rates."""
    return float(sum(s["items"] * rates.get((s["bucket"], s["value_class"]), 0) for s in agent_segments))


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def lift_interval(x1: int, n1: int, x0: int, n0: int, z: float = 1.959964) -> dict:
    """Difference of two independent proportions p1 − p0 (contacted minus
    holdout) with Newcombe's hybrid score interval (his method 10), which
    behaves for small groups and rates near 0 where the plain Wald interval
    does not. Also the relative lift p1 / p0 − 1 (None when p0 = 0)."""
    p1 = x1 / n1 if n1 else 0.0
    p0 = x0 / n0 if n0 else 0.0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return {"contacted_rate": p1, "holdout_rate": p0, "difference": d, "low": max(-1.0, low),
            "high": min(1.0, high), "relative": (p1 / p0 - 1) if p0 > 0 else None,
            "significant": bool(n1 and n0 and (low > 0 or high < 0))}

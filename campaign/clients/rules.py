"""Dormancy vocabulary and reference rules (SPEC §3), as plain data.

No Flask, no SQLAlchemy, no clock: the set-based SQL in ``queries.py`` is the
implementation that runs; the functions here say the same rules one client at
a time, give the words and their order to pages, the API and the CLI, and are
the oracle the tests compare the SQL against.

The unit of every day count is the *local date* of a visit (the date in its
store's time zone) and the as-of date; ``days_since`` is a difference of dates
in whole days.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import date

from ..core.money import format_display
from ..core.msgid import N_

BUCKETS = ("active", "d1", "d2", "d3", "d3plus", "never")
TIERS = ("regular", "one_time", "never")
VALUE_CLASSES = ("A", "B", "C")
FLAGS = ("overdue", "banned")

TIER_LABELS = {"regular": N_("Regular (2+ visits)"), "one_time": N_("One visit"), "never": N_("Never visited")}
VALUE_CLASS_LABELS = {"A": N_("A (top 20 %)"), "B": N_("B (next 30 %)"), "C": N_("C (the rest)")}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


_CJK = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")


def full_name(first_name: str | None, last_name: str | None, language: str | None = None) -> str:
    """A person's name as its own script writes it.

    Japanese, Chinese and Korean names put the family name first: "吉田 愛"
    (Japanese, and a name whose language is unknown, keep a space), "王芳"
    (a Chinese client's: none).
    Every other name reads first then last ("Anna Smirnova"). A missing part
    is left out."""
    parts = [p for p in (first_name, last_name) if p]
    if not parts:
        return ""
    if len(parts) == 2 and any(_CJK.search(p) for p in parts):
        chinese = (language or "").split("-")[0] == "zh" and not any(_KANA.search(p) for p in parts)
        return (last_name + first_name) if chinese else f"{last_name} {first_name}"
    return " ".join(parts)


def erased_ref_digest(ref: str) -> str:
    """What is kept of an erased client's ref (docs/privacy.md): its SHA-256,
    so an import that sends the ref again is recognised and refused while the
    ref itself is gone. Salted with a fixed label, not a secret: it must
    survive a change of SECRET_KEY, and it only ever answers "was this ref
    erased?" for someone who already holds the ref."""
    return hashlib.sha256(f"winback:erased-client-ref:{ref}".encode("utf-8")).hexdigest()


def bucket_for(days_since: int | None, bounds: tuple[int, ...]) -> str:
    """``active`` below bounds[0], then one bucket per bound; ``never`` without a visit."""
    if days_since is None:
        return "never"
    for name, bound in zip(BUCKETS[:4], bounds):
        if days_since < bound:
            return name
    return "d3plus"


def bucket_label(bucket: str, bounds: tuple[int, ...]) -> str:
    """'d1' -> '30–59 days' for bounds (30, 60, 90, 120)."""
    if bucket == "never":
        return "No completed visit"
    if bucket == "active":
        return f"Active (< {bounds[0]} days)"
    if bucket == "d3plus":
        return f"{bounds[3]}+ days"
    i = BUCKETS.index(bucket)
    return f"{bounds[i - 1]}–{bounds[i] - 1} days"


def tier_for(completed_visits: int) -> str:
    if completed_visits >= 2:
        return "regular"
    return "one_time" if completed_visits == 1 else "never"


def value_class_for(rank: int, n: int, shares: tuple[int, int]) -> str:
    """Class of the client at competition ``rank`` (1 = highest spend; tied
    clients share the best rank) among ``n`` clients with a completed visit.

    A iff rank <= ceil(shares[0] % of n), B iff rank <= ceil(shares[1] % of n),
    else C. In integers: A iff 100·(rank−1) < shares[0]·n. Because tied clients
    share their best rank, a tie that straddles a boundary goes to the higher class.
    """
    if 100 * (rank - 1) < shares[0] * n:
        return "A"
    if 100 * (rank - 1) < shares[1] * n:
        return "B"
    return "C"


def value_classes(spends: dict, shares: tuple[int, int]) -> dict:
    """Reference: {key: lifetime spend} of one partition -> {key: class}."""
    ordered = sorted(spends.values(), reverse=True)
    n = len(ordered)
    out = {}
    for key, spend in spends.items():
        rank = 1 + sum(1 for s in ordered if s > spend)
        out[key] = value_class_for(rank, n, shares)
    return out


def visit_gaps(visit_days: list[date]) -> list[int]:
    """Gaps in days between consecutive *distinct* visit days.

    Two completed visits on the same day (two services booked as two visits) are
    one return, not a zero-day rhythm, so same-day repeats add no gap.
    """
    days = sorted(set(visit_days))
    return [(b - a).days for a, b in zip(days, days[1:])]


def median_halves(gaps: list[int]) -> int | None:
    """Twice the median gap (an integer even when the median is x.5); None without gaps."""
    if not gaps:
        return None
    g = sorted(gaps)
    mid = len(g) // 2
    return 2 * g[mid] if len(g) % 2 else g[mid - 1] + g[mid]


def is_overdue(bucket: str, completed_visits: int, days_since: int | None, gaps: list[int]) -> bool:
    """Active, ≥ 3 completed visits, and days_since > 1.5 × median gap
    (compared in integers: 4·days_since > 3·(2·median))."""
    twice_median = median_halves(gaps)
    if bucket != "active" or completed_visits < 3 or twice_median is None or days_since is None:
        return False
    return 4 * days_since > 3 * twice_median


def is_banned(no_shows_counted: int, threshold: int) -> bool:
    """``no_shows_counted`` are the no-shows after the last ban lift (all of them if never lifted)."""
    return no_shows_counted >= threshold


def parse_as_of(text: str | None) -> date | None:
    """'' or None -> None (today in each store's time zone); 'YYYY-MM-DD' -> date.

    Raises ValueError for anything else, so callers answer 422.
    """
    text = (text or "").strip()
    if not text:
        return None
    if not _ISO_DATE.match(text):
        raise ValueError(f"as_of must be a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"as_of is not a real date: {text!r}") from exc


def money_text(amount: int | None, currency: str) -> str:
    """4550000 PLN -> '45 500.00 PLN' (thin-space thousands) for pages; '—' for None."""
    return format_display(amount, currency)


def order_key(bucket: str, tier: str) -> tuple[int, int]:
    return BUCKETS.index(bucket), TIERS.index(tier)


# ------------------------------------------------------------------ overview

@dataclass
class Cell:
    """Clients and the lifetime spend at stake, per currency (minor units)."""

    clients: int = 0
    spend: dict[str, int] = field(default_factory=dict)

    def add(self, clients: int, spend: int, currency: str) -> None:
        self.clients += clients
        self.spend[currency] = self.spend.get(currency, 0) + spend

    @property
    def spend_items(self) -> list[tuple[str, int]]:
        """Non-zero spends by currency code (a cell of never-visited clients has none)."""
        return sorted((cur, amount) for cur, amount in self.spend.items() if amount)


@dataclass
class StoreLine:
    store_id: int
    code: str
    name: str
    currency: str
    by_bucket: dict[str, Cell]
    total: Cell
    overdue: int = 0
    banned: int = 0


@dataclass
class Overview:
    """Bucket × tier totals, per-store lines, overdue and banned counts."""

    cells: dict[tuple[str, str], Cell]
    bucket_totals: dict[str, Cell]
    tier_totals: dict[str, Cell]
    total: Cell
    stores: list[StoreLine]
    overdue: int
    banned: int

    @property
    def empty(self) -> bool:
        return self.total.clients == 0


def rollup(rows, stores: dict[int, dict]) -> Overview:
    """Per-store rows -> the overview.

    ``rows``: dicts with store_id, bucket, tier, clients, spend, overdue, banned
    (one per non-empty store × bucket × tier); ``stores``: {store_id: {code, name,
    currency}} of the stores to show (in display order). Spend is never added
    across currencies.
    """
    cells = {(b, t): Cell() for b in BUCKETS for t in TIERS}
    bucket_totals = {b: Cell() for b in BUCKETS}
    tier_totals = {t: Cell() for t in TIERS}
    total = Cell()
    lines = {sid: StoreLine(sid, s["code"], s["name"], s["currency"],
                            {b: Cell() for b in BUCKETS}, Cell())
             for sid, s in stores.items()}
    overdue = banned = 0
    for r in rows:
        line = lines.get(r["store_id"])
        if line is None:
            continue
        cur, n, spend = line.currency, int(r["clients"]), int(r["spend"] or 0)
        for cell in (cells[(r["bucket"], r["tier"])], bucket_totals[r["bucket"]],
                     tier_totals[r["tier"]], total, line.by_bucket[r["bucket"]], line.total):
            cell.add(n, spend, cur)
        line.overdue += int(r["overdue"] or 0)
        line.banned += int(r["banned"] or 0)
        overdue += int(r["overdue"] or 0)
        banned += int(r["banned"] or 0)
    return Overview(cells, bucket_totals, tier_totals, total, list(lines.values()), overdue, banned)


@dataclass
class Page:
    """One page of a list; ``total`` comes from the same statement as the items."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


# The language a client without one is assumed to speak: the main language of
# their store's country (ISO 3166 alpha-2 → primary BCP 47 subtag). A country
# missing here leaves the language unknown, and no agent is matched.
COUNTRY_LANGUAGE = {
    "JP": "ja", "CN": "zh", "TW": "zh", "HK": "zh", "SG": "en", "KR": "ko", "RU": "ru", "BY": "ru",
    "KZ": "ru", "UA": "uk", "PL": "pl", "CZ": "cs", "SK": "sk", "DE": "de", "AT": "de", "CH": "de",
    "FR": "fr", "BE": "fr", "IT": "it", "ES": "es", "PT": "pt", "NL": "nl", "SE": "sv", "NO": "nb",
    "DK": "da", "FI": "fi", "LT": "lt", "LV": "lv", "EE": "et", "GB": "en", "IE": "en", "US": "en",
    "CA": "en", "AU": "en", "NZ": "en", "TH": "th", "VN": "vi",
}


def effective_language(language: str | None, country: str | None) -> str | None:
    return language or COUNTRY_LANGUAGE.get((country or "").upper())

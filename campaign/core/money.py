"""Money is integer minor units end to end; text happens only at the edges."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# ISO 4217 currencies without minor units (or with 3) that a chain may use.
_EXPONENT = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "HUF": 2,
             "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

_AMOUNT = re.compile(r"^-?\d+(?:[.,]\d+)?$")
# A bound far above any visit, far below what a BIGINT column and its sums hold.
MAX_MINOR = 10**12 - 1


def exponent(currency: str) -> int:
    return _EXPONENT.get((currency or "").upper(), 2)


class AmountError(ValueError):
    pass


def parse_amount(text: str, currency: str) -> int | None:
    """'45,50' or '45.50' in ``currency`` -> 4550 minor units. Empty -> None.

    Thousands separators are refused (ambiguous with the decimal comma);
    more decimals than the currency has are refused rather than rounded.
    """
    text = (text or "").strip().replace("\u00a0", "").replace(" ", "")
    if text == "":
        return None
    if not _AMOUNT.match(text):
        raise AmountError(f"not a decimal amount: {text!r}")
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - regex guards it
        raise AmountError(f"not a decimal amount: {text!r}") from exc
    exp = exponent(currency)
    scaled = value.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{text} has more decimals than {currency or 'the currency'} allows")
    if value < 0:
        raise AmountError("amount must not be negative")
    if scaled > MAX_MINOR:
        raise AmountError(f"{text} is too large (at most {format_minor(MAX_MINOR, currency)})")
    return int(scaled)


def format_minor(amount: int | None, currency: str = "") -> str:
    """4550 -> '45.50' (plain, for CSV/API); JPY 4550 -> '4550'."""
    if amount is None:
        return ""
    exp = exponent(currency)
    if exp == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10 ** exp)
    return f"{sign}{whole}.{frac:0{exp}d}"


def format_display(amount: int | None, currency: str = "") -> str:
    """For pages: 4550000 PLN -> '45 500.00 PLN' (thin-space thousands); '—' for None."""
    text = format_minor(amount, currency)
    if not text:
        return "\u2014"
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, frac = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", "\u2009")
    return f"{sign}{grouped}{dot}{frac} {currency}".strip()

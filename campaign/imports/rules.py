"""What a row of each import kind must look like (SPEC §2.1), as plain data.

No Flask, no SQLAlchemy, no clock: a parser takes the row as ``{column:
text}`` (JSON values are accepted too, for the visits API) and the small
lookups it needs, and returns the values to store or raises ``RowError``
naming the column and the reason in plain words.

Decisions written down here:

* Header names are matched case-insensitively after trimming; unknown columns
  are ignored. The key and the columns a row cannot do without are required
  in the header; an optional column missing from the header is left alone on
  update (and gets its default on insert).
* Values are trimmed. Booleans: ``1/0``, ``true/false``, ``yes/no`` (any
  case); empty = unknown = no.
* Languages (BCP 47, ``_`` tolerated for ``-``) are stored as their primary
  subtag in lower case: ``zh-Hant-TW`` → ``zh``, ``en_GB`` → ``en``; the
  call centre matches agents to clients by language, not by region or script.
* Phones become E.164 with the store's country; a number that does not parse
  or is not valid is kept as written and marked not callable (not a reject).
* A key used twice in one file: the first row counts, later ones are rejected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers

from ..core import csvio
from ..core.csvio import FileRefused
from ..core.money import AmountError, parse_amount

KINDS = ("stores", "staff", "clients", "visits")
COLUMNS = {
    "stores": ("store_code", "name", "timezone", "country", "currency"),
    "staff": ("employee_code", "name", "email", "roles", "team", "store_code", "languages"),
    "clients": ("client_ref", "first_name", "last_name", "phone", "email", "language", "store_code",
                "consent_call", "consent_sms", "consent_email", "consent_post", "do_not_contact",
                "notes"),
    "visits": ("visit_ref", "client_ref", "store_code", "visited_at", "service", "amount", "status",
               "served_by"),
}
REQUIRED = {
    "stores": COLUMNS["stores"],
    "staff": ("employee_code", "name"),
    "clients": ("client_ref", "store_code"),
    "visits": ("visit_ref", "client_ref", "store_code", "visited_at"),
}
KEY = {"stores": "store_code", "staff": "employee_code", "clients": "client_ref", "visits": "visit_ref"}
# Column widths; tests/test_imports_rules.py checks they equal the tables'.
MAX_LENGTH = {
    "store_code": 40, "name": 200, "employee_code": 40, "email": 254, "team": 120,
    "client_ref": 64, "first_name": 120, "last_name": 120, "phone": 64, "visit_ref": 64,
    "service": 200, "served_by": 40,
}
STAFF_ROLES = ("agent", "manager", "payroll", "admin", "pos")
VISIT_STATUSES = ("completed", "no_show", "cancelled")
BOOLEAN_COLUMNS = ("consent_call", "consent_sms", "consent_email", "consent_post", "do_not_contact")

ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD
XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
""".split())

_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"", "0", "false", "no"})
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]{2,}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class RowError(ValueError):
    """A row is rejected: ``column`` (None for the row as a whole) and why."""

    def __init__(self, column: str | None, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class StoreInfo:
    """What row parsers need to know about a store (loaded once per import)."""

    id: int
    timezone: str
    country: str
    currency: str


# ------------------------------------------------------------------ header


def detect_kind(names: list[str]) -> str | None:
    """The kind whose required columns are all in the header and which has the
    most of its columns there; None when no kind fits."""
    present = set(names)
    fits = [(sum(c in present for c in COLUMNS[k]), k) for k in KINDS
            if set(REQUIRED[k]) <= present]
    return max(fits)[1] if fits else None


def header_problem(kind: str | None, names: list[str]) -> str | None:
    """Why a header cannot be imported as ``kind`` (None = detect), or None if it can."""
    seen, twice = set(), []
    for n in names:
        if n and n in seen and n not in twice:
            twice.append(n)
        seen.add(n)
    detected = detect_kind(names)
    expected = ", ".join(KINDS)
    if kind is None:
        if detected is None:
            return ("The header does not match any kind of import file (" + expected + "); "
                    "check the column names in the first line.")
        kind = detected
    missing = [c for c in REQUIRED[kind] if c not in seen]
    # Another kind's key that this kind does not have, or no key of this kind at
    # all: the wrong file was chosen (a visits file has client_ref, yet is no clients file).
    if detected not in (None, kind) and (KEY[detected] not in COLUMNS[kind] or KEY[kind] not in seen):
        return (f"This looks like a {detected} file, not a {kind} file (its header has "
                f"{KEY[detected]}). Choose the {detected} import or the right file.")
    if missing:
        return (f"The header has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}; "
                f"a {kind} file needs {', '.join(REQUIRED[kind])}.")
    dup = [c for c in twice if c in COLUMNS[kind]]
    if dup:
        return f"The column {', '.join(dup)} appears twice in the header; keep one."
    return None


def csv_records(text, delimiter: str, kind: str):
    """``(line, row, raw, error)`` for every data record of a CSV text stream.

    ``row`` maps the header's names to the record's text (the parsers read
    only their kind's columns); a record with the wrong number of fields or
    broken quoting comes with a ``RowError`` instead. Blank lines are skipped.
    Raises ``FileRefused`` if the header is not one of ``kind``."""
    rows = csvio.read_rows(text, delimiter)
    first = next(rows, None)
    if first is None or first[1] is None:
        raise FileRefused("The file has no readable header line.")
    names = [f.strip().lower() for f in first[1]]
    problem = header_problem(kind, names)
    if problem:
        raise FileRefused(problem)
    width = len(names)
    for line, fields, raw in rows:
        if fields is None:
            yield line, None, raw, RowError(None, "the row's quotes are broken (not closed, or text "
                                                  "after a closing quote) or the row is too long to "
                                                  "be read")
        elif not any(fields):  # a blank line, or only delimiters
            continue
        elif len(fields) != width:
            yield line, None, raw, RowError(None, f"the row has {len(fields)} fields but the "
                                                  f"header has {width}")
        else:  # unknown columns ride along unread; the kind's names are unique (checked)
            yield line, dict(zip(names, fields)), raw, None


# ------------------------------------------------------------------ fields


def text(row: dict, column: str, *, required: bool = False) -> str:
    """The trimmed text of a column; JSON numbers are accepted as their text."""
    value = row.get(column)
    if value.__class__ is str:
        value = value.strip()
    elif value is None:
        value = ""
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RowError(column, f"{column} must be text, not {type(value).__name__}")
    else:
        value = str(value)
    if required and not value:
        raise RowError(column, f"{column} is required but empty")
    limit = MAX_LENGTH.get(column)
    if limit and len(value) > limit:
        raise RowError(column, f"{column} is too long ({len(value)} characters; at most {limit})")
    return value


def optional(row: dict, column: str) -> str | None:
    return text(row, column) or None


def boolean(row: dict, column: str) -> bool:
    value = text(row, column).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RowError(column, f"{column} must be 1/0, true/false or yes/no (or empty), "
                           f"not {_show(value)}")


def language(value: str, column: str) -> str | None:
    if not value:
        return None
    m = _LANGUAGE.match(value)
    if not m:
        raise RowError(column, f"{_show(value)} in {column} is not a language tag like en, ru or zh-Hant")
    return m.group(1).lower()


def languages(row: dict, column: str) -> list[str]:
    out: list[str] = []
    for part in re.split(r"[;,]", text(row, column)):
        lang = language(part.strip(), column)
        if lang and lang not in out:
            out.append(lang)
    return sorted(out)


def email(row: dict, column: str = "email") -> str | None:
    value = text(row, column).lower()
    if not value:
        return None
    if not _EMAIL.match(value):
        raise RowError(column, f"{_show(value)} is not an e-mail address")
    return value


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {z.lower(): z for z in available_timezones()}


def time_zone(row: dict) -> str:
    value = text(row, "timezone", required=True)
    zone = _zones().get(value.lower())
    if zone is None:
        raise RowError("timezone", f"{_show(value)} is not an IANA time zone like Europe/Warsaw")
    return zone


def country(row: dict) -> str:
    value = text(row, "country", required=True).upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise RowError("country", f"{_show(value)} is not an ISO 3166 two-letter country code like PL")
    return value


def currency(row: dict) -> str:
    value = text(row, "currency", required=True).upper()
    if value not in ISO_4217:
        raise RowError("currency", f"{_show(value)} is not an ISO 4217 currency code like PLN")
    return value


def phone(value: str, region: str) -> tuple[str | None, bool]:
    """(E.164, True) for a valid number in ``region``'s numbering; else (as written, False)."""
    if not value:
        return None, False
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value, False
    if not phonenumbers.is_valid_number(number):
        return value, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True


def store_of(row: dict, stores: dict[str, StoreInfo], *, required: bool = True) -> StoreInfo | None:
    code = text(row, "store_code", required=required)
    if not code:
        return None
    store = stores.get(code)
    if store is None:
        raise RowError("store_code", f"unknown store_code {_show(code)}; import it in stores.csv first")
    return store


def visited_at(value: str, tz_name: str) -> tuple[datetime, date, bool]:
    """ISO 8601 date or date-time → (naive UTC, local date in the store, date only?).

    With an offset the moment is exact; without one it is the store's local
    time; a date alone is local midnight."""
    if not value:
        raise RowError("visited_at", "visited_at is required but empty")
    date_only = len(value) == 10 and _ISO_DATE.match(value) is not None
    try:
        if not date_only and not _ISO_DATETIME.match(value):
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError("visited_at", f"{_show(value)} in visited_at is not an ISO 8601 date or "
                                     "date-time (e.g. 2026-03-14 or 2026-03-14T15:30)") from None
    zone = ZoneInfo(tz_name)
    if moment.tzinfo is None:
        local_date = moment.date()
        moment = moment.replace(tzinfo=zone)
    else:
        local_date = moment.astimezone(zone).date()
    return moment.astimezone(timezone.utc).replace(tzinfo=None), local_date, date_only


def _show(value: str) -> str:
    value = str(value)
    return repr(value if len(value) <= 40 else value[:40] + "…")


# ------------------------------------------------------------------ rows


def parse_store(row: dict) -> dict:
    return {"code": text(row, "store_code", required=True), "name": text(row, "name", required=True),
            "timezone": time_zone(row), "country": country(row), "currency": currency(row)}


def parse_staff(row: dict, stores: dict[str, StoreInfo]) -> dict:
    """Staff values; ``roles``, ``languages`` and ``team`` (a name) are resolved by the caller."""
    out = {"employee_code": text(row, "employee_code", required=True),
           "name": text(row, "name", required=True)}
    if "email" in row:
        out["email"] = email(row)
    if "roles" in row:
        roles = []
        for part in re.split(r"[;,]", text(row, "roles").lower()):
            part = part.strip()
            if part and part not in STAFF_ROLES:
                raise RowError("roles", f"unknown role {_show(part)}; roles are "
                                        f"{', '.join(STAFF_ROLES)} separated by ;")
            if part and part not in roles:
                roles.append(part)
        out["roles"] = sorted(roles)
    if "team" in row:
        out["team"] = optional(row, "team")
    if "store_code" in row:
        store = store_of(row, stores, required=False)
        out["store_id"] = store.id if store else None
    if "languages" in row:
        out["languages"] = languages(row, "languages")
    return out


def parse_client(row: dict, stores: dict[str, StoreInfo]) -> dict:
    out = {"ref": text(row, "client_ref", required=True)}
    store = store_of(row, stores)
    out["store_id"] = store.id
    for column in ("first_name", "last_name"):
        if column in row:
            out[column] = text(row, column)
    if "phone" in row:
        out["phone"], out["phone_callable"] = phone(text(row, "phone"), store.country)
    if "email" in row:
        out["email"] = email(row)
    if "language" in row:
        out["language"] = language(text(row, "language"), "language")
    for column in BOOLEAN_COLUMNS:
        if column in row:
            out[column] = boolean(row, column)
    if "notes" in row:
        out["notes"] = optional(row, "notes")
    return out


def parse_visit(row: dict, stores: dict[str, StoreInfo]) -> dict:
    """Visit values with ``client_ref`` still as text (the caller resolves it per batch)."""
    ref = text(row, "visit_ref", required=True)
    client_ref = text(row, "client_ref", required=True)
    store = store_of(row, stores)
    utc, local_date, date_only = visited_at(text(row, "visited_at"), store.timezone)
    out = {"ref": ref, "client_ref": client_ref, "store_id": store.id, "visited_at": utc,
           "local_date": local_date, "date_only": date_only}
    if "service" in row:
        out["service"] = optional(row, "service")
    if "amount" in row:
        try:
            out["amount"] = parse_amount(text(row, "amount"), store.currency)
        except AmountError as exc:
            raise RowError("amount", f"amount: {exc}") from None
    if "status" in row:
        out["status"] = status(text(row, "status"))
    if "served_by" in row:
        out["served_by"] = optional(row, "served_by")
    return out


_STATUS = {s: s for s in VISIT_STATUSES} | {"": "completed"}


def status(value: str) -> str:
    """completed / no_show / cancelled (any case, ``-`` or space for ``_``); empty = completed."""
    known = _STATUS.get(value) or _STATUS.get(value.lower().replace("-", "_").replace(" ", "_"))
    if known is None:
        raise RowError("status", f"status must be completed, no_show or cancelled (or empty), "
                                 f"not {_show(value)}")
    return known


PARSERS = {"stores": lambda row, stores: parse_store(row), "staff": parse_staff,
           "clients": parse_client, "visits": parse_visit}

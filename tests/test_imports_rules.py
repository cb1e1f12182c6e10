"""imports/rules: every row rule on plain data, no app and no database."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from campaign.core.csvio import FileRefused
from campaign.imports import rules
from campaign.imports.rules import RowError, StoreInfo

STORES = {
    "WAW": StoreInfo(1, "Europe/Warsaw", "PL", "PLN"),
    "TYO": StoreInfo(2, "Asia/Tokyo", "JP", "JPY"),
    "MOW": StoreInfo(3, "Europe/Moscow", "RU", "RUB"),
    "SHA": StoreInfo(4, "Asia/Shanghai", "CN", "CNY"),
    "LON": StoreInfo(5, "Europe/London", "GB", "GBP"),
}

STORE = {"store_code": "WAW", "name": "Warsaw", "timezone": "Europe/Warsaw", "country": "PL",
         "currency": "PLN"}
STAFF = {"employee_code": "E1", "name": "Ann", "email": "ann@example.test", "roles": "agent;manager",
         "team": "Wisła", "store_code": "WAW", "languages": "pl;en-GB"}
CLIENT = {"client_ref": "C1", "first_name": "Zofia", "last_name": "K", "phone": "501 234 567",
          "email": "z@example.test", "language": "pl", "store_code": "WAW", "consent_call": "1",
          "consent_sms": "0", "consent_email": "", "consent_post": "no", "do_not_contact": "false",
          "notes": ""}
VISIT = {"visit_ref": "V1", "client_ref": "C1", "store_code": "WAW", "visited_at": "2026-03-14T15:30",
         "service": "massage", "amount": "45,50", "status": "", "served_by": "T1"}


def reject_of(kind: str, base: dict, **changes) -> tuple[str | None, str]:
    with pytest.raises(RowError) as exc:
        rules.PARSERS[kind](base | changes, STORES)
    return exc.value.column, exc.value.reason


# ------------------------------------------------------------------ each reject reason


@pytest.mark.parametrize("kind, base, changes, column, words", [
    # missing required values
    ("stores", STORE, {"name": "  "}, "name", "required"),
    ("stores", STORE, {"store_code": ""}, "store_code", "required"),
    ("staff", STAFF, {"name": ""}, "name", "required"),
    ("clients", CLIENT, {"client_ref": ""}, "client_ref", "required"),
    ("visits", VISIT, {"visited_at": ""}, "visited_at", "required"),
    ("visits", VISIT, {"client_ref": ""}, "client_ref", "required"),
    # unknown store
    ("clients", CLIENT, {"store_code": "PAR"}, "store_code", "unknown store_code 'PAR'"),
    ("visits", VISIT, {"store_code": "waw"}, "store_code", "unknown store_code"),
    ("staff", STAFF, {"store_code": "NOPE"}, "store_code", "unknown store_code"),
    # formats
    ("stores", STORE, {"timezone": "Europe/Warszawa"}, "timezone", "IANA time zone"),
    ("stores", STORE, {"timezone": "CET+1"}, "timezone", "IANA time zone"),
    ("stores", STORE, {"country": "XX"}, "country", "ISO 3166"),
    ("stores", STORE, {"country": "POL"}, "country", "ISO 3166"),
    ("stores", STORE, {"currency": "ZLT"}, "currency", "ISO 4217"),
    ("stores", STORE, {"currency": "zł"}, "currency", "ISO 4217"),
    ("clients", CLIENT, {"consent_sms": "maybe"}, "consent_sms", "1/0, true/false or yes/no"),
    ("clients", CLIENT, {"do_not_contact": "2"}, "do_not_contact", "1/0"),
    ("visits", VISIT, {"visited_at": "14.03.2026"}, "visited_at", "ISO 8601"),
    ("visits", VISIT, {"visited_at": "2026-02-30"}, "visited_at", "ISO 8601"),
    ("visits", VISIT, {"visited_at": "2026-03-14T25:00"}, "visited_at", "ISO 8601"),
    ("visits", VISIT, {"amount": "12.3.4"}, "amount", "not a decimal amount"),
    ("visits", VISIT, {"amount": "1 234,50x"}, "amount", "not a decimal amount"),
    ("visits", VISIT, {"amount": "-5"}, "amount", "negative"),
    ("visits", VISIT, {"amount": "45.555"}, "amount", "more decimals"),
    ("visits", VISIT, {"status": "done"}, "status", "completed, no_show or cancelled"),
    ("staff", STAFF, {"roles": "agent;boss"}, "roles", "unknown role 'boss'"),
    ("staff", STAFF, {"languages": "pl;english"}, "languages", "language tag"),
    ("clients", CLIENT, {"language": "polski"}, "language", "language tag"),
    ("clients", CLIENT, {"email": "not-an-email"}, "email", "not an e-mail"),
    ("staff", STAFF, {"email": "ann@localhost"}, "email", "not an e-mail"),
    ("clients", CLIENT, {"email": "a b@example.test"}, "email", "not an e-mail"),
    # too long for the column
    ("clients", CLIENT, {"client_ref": "C" * 65}, "client_ref", "too long (65 characters; at most 64)"),
    ("clients", CLIENT, {"first_name": "x" * 121}, "first_name", "too long"),
    ("stores", STORE, {"store_code": "S" * 41}, "store_code", "too long"),
    ("visits", VISIT, {"service": "s" * 201}, "service", "too long"),
    ("staff", STAFF, {"team": "t" * 121}, "team", "too long"),
    ("clients", CLIENT, {"phone": "5" * 65}, "phone", "too long"),
])
def test_each_reject_reason_names_its_column(kind, base, changes, column, words):
    got_column, reason = reject_of(kind, base, **changes)
    assert got_column == column
    assert words in reason


def test_json_values_of_the_wrong_type_are_rejected_not_crashed():
    assert reject_of("visits", VISIT, amount=True)[0] == "amount"
    assert reject_of("visits", VISIT, service={"a": 1})[0] == "service"


# ------------------------------------------------------------------ good rows


def test_store_values_are_normalised():
    got = rules.parse_store(STORE | {"timezone": "europe/warsaw", "country": "pl", "currency": "pln"})
    assert got == {"code": "WAW", "name": "Warsaw", "timezone": "Europe/Warsaw", "country": "PL",
                   "currency": "PLN"}


def test_staff_values():
    got = rules.parse_staff(STAFF | {"email": " Ann@Example.TEST ", "roles": "Manager; agent;pos",
                                     "languages": "ru;en-GB;ru-RU"}, STORES)
    assert got == {"employee_code": "E1", "name": "Ann", "email": "ann@example.test",
                   "roles": ["agent", "manager", "pos"], "team": "Wisła", "store_id": 1,
                   "languages": ["en", "ru"]}
    technician = rules.parse_staff({"employee_code": "T1", "name": "Tech", "email": "", "roles": "",
                                    "team": "", "store_code": "", "languages": ""}, STORES)
    assert technician == {"employee_code": "T1", "name": "Tech", "email": None, "roles": [],
                          "team": None, "store_id": None, "languages": []}


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("0", False), ("TRUE", True), ("False", False), ("yes", True), ("No", False),
    ("", False), (" 1 ", True),
])
def test_booleans(value, expected):
    assert rules.parse_client(CLIENT | {"consent_call": value}, STORES)["consent_call"] is expected


@pytest.mark.parametrize("tag, primary", [
    ("ru", "ru"), ("RU", "ru"), ("zh-Hant-TW", "zh"), ("en_GB", "en"), ("pt-BR", "pt"), ("yue", "yue"),
    ("", None),
])
def test_languages_keep_the_primary_subtag(tag, primary):
    assert rules.parse_client(CLIENT | {"language": tag}, STORES)["language"] == primary


@pytest.mark.parametrize("store, raw, e164", [
    ("WAW", "+48 512 345 678", "+48512345678"),
    ("WAW", "501 234 567", "+48501234567"),
    ("TYO", "090-2345-6789", "+819023456789"),
    ("TYO", "０９０－３４５６－７８９０", "+819034567890"),
    ("MOW", "8 (916) 234-56-78", "+79162345678"),
    ("SHA", "138 2345 6789", "+8613823456789"),
    ("LON", "07911 234567", "+447911234567"),
    ("WAW", "+7 926 345-67-89", "+79263456789"),  # a Russian number kept by a Warsaw client
])
def test_valid_phones_become_e164_with_the_store_country(store, raw, e164):
    got = rules.parse_client(CLIENT | {"store_code": store, "phone": raw}, STORES)
    assert (got["phone"], got["phone_callable"]) == (e164, True)


@pytest.mark.parametrize("raw", ["n/a", "123", "+48 000", "call reception"])
def test_unparsable_phones_are_kept_as_written_and_not_callable(raw):
    got = rules.parse_client(CLIENT | {"phone": raw}, STORES)
    assert (got["phone"], got["phone_callable"]) == (raw, False)


def test_empty_phone_is_none_and_not_callable():
    got = rules.parse_client(CLIENT | {"phone": ""}, STORES)
    assert (got["phone"], got["phone_callable"]) == (None, False)


def test_missing_optional_columns_are_left_out():
    got = rules.parse_client({"client_ref": "C1", "store_code": "WAW"}, STORES)
    assert got == {"ref": "C1", "store_id": 1}


@pytest.mark.parametrize("store, text, utc, local, date_only", [
    # no offset: the store's local time (Warsaw is UTC+1 in March, UTC+2 in July)
    ("WAW", "2026-03-14T15:30", datetime(2026, 3, 14, 14, 30), date(2026, 3, 14), False),
    ("WAW", "2026-07-14 15:30:05", datetime(2026, 7, 14, 13, 30, 5), date(2026, 7, 14), False),
    ("TYO", "2026-03-14T08:00", datetime(2026, 3, 13, 23, 0), date(2026, 3, 14), False),
    # date only: local midnight
    ("WAW", "2026-03-14", datetime(2026, 3, 13, 23, 0), date(2026, 3, 14), True),
    ("LON", "2026-07-01", datetime(2026, 6, 30, 23, 0), date(2026, 7, 1), True),
    # with an offset: that moment, and the date it was in the store
    ("TYO", "2026-03-14T23:30:00+00:00", datetime(2026, 3, 14, 23, 30), date(2026, 3, 15), False),
    ("MOW", "2026-07-01T10:00:00Z", datetime(2026, 7, 1, 10, 0), date(2026, 7, 1), False),
    ("WAW", "2026-03-14T01:00+05:00", datetime(2026, 3, 13, 20, 0), date(2026, 3, 13), False),
])
def test_visit_times(store, text, utc, local, date_only):
    got = rules.parse_visit(VISIT | {"store_code": store, "visited_at": text, "amount": ""}, STORES)
    assert (got["visited_at"], got["local_date"], got["date_only"]) == (utc, local, date_only)


@pytest.mark.parametrize("store, text, minor", [
    ("WAW", "45,50", 4550), ("WAW", "45.5", 4550), ("WAW", "229", 22900), ("TYO", "4400", 4400),
    ("WAW", "", None), ("WAW", 45.5, 4550), ("WAW", 12, 1200),
])
def test_amounts_in_minor_units_of_the_store_currency(store, text, minor):
    assert rules.parse_visit(VISIT | {"store_code": store, "amount": text}, STORES)["amount"] == minor


@pytest.mark.parametrize("text, status", [("", "completed"), ("No_Show", "no_show"),
                                          ("no-show", "no_show"), ("CANCELLED", "cancelled")])
def test_visit_status(text, status):
    assert rules.parse_visit(VISIT | {"status": text}, STORES)["status"] == status


# ------------------------------------------------------------------ header


@pytest.mark.parametrize("names, kind", [
    (["store_code", "name", "timezone", "country", "currency"], "stores"),
    (["employee_code", "name", "email", "roles", "team", "store_code", "languages"], "staff"),
    (list(rules.COLUMNS["clients"]), "clients"),
    (list(rules.COLUMNS["visits"]), "visits"),
    (["client_ref", "store_code", "extra"], "clients"),
    (["a", "b"], None),
])
def test_kind_is_detected_from_the_header(names, kind):
    assert rules.detect_kind(names) == kind


@pytest.mark.parametrize("kind, names, words", [
    ("clients", list(rules.COLUMNS["visits"]), "looks like a visits file"),
    ("stores", list(rules.COLUMNS["clients"]), "looks like a clients file"),
    ("visits", ["visit_ref", "client_ref", "store_code"], "no visited_at column"),
    ("stores", ["store_code", "name"], "no timezone, country, currency columns"),
    (None, ["a", "b"], "does not match any kind"),
    ("clients", ["client_ref", "store_code", "notes", "notes"], "notes appears twice"),
])
def test_header_problems_are_plain_words(kind, names, words):
    assert words in rules.header_problem(kind, names)


def test_good_headers_have_no_problem():
    for kind in rules.KINDS:
        assert rules.header_problem(kind, list(rules.COLUMNS[kind]) + ["ignored"]) is None
        assert rules.header_problem(None, list(rules.COLUMNS[kind])) is None


def test_csv_records_map_columns_and_flag_bad_rows():
    text = ("Visit_Ref , CLIENT_REF,store_code,visited_at,extra\n"
            "V1,C1,WAW,2026-01-01,zzz\n"
            "\n"
            ",,,,\n"
            "V2,C1,WAW\n"
            'V3,C1,WAW,"2026-01-01",x,y\n')
    got = list(rules.csv_records(io.StringIO(text, newline=""), ",", "visits"))
    assert got[0] == (2, {"visit_ref": "V1", "client_ref": "C1", "store_code": "WAW",
                          "visited_at": "2026-01-01", "extra": "zzz"}, "V1,C1,WAW,2026-01-01,zzz", None)
    assert [(line, err.reason) for line, _, _, err in got[1:]] == [
        (5, "the row has 3 fields but the header has 5"), (6, "the row has 6 fields but the header has 5")]
    with pytest.raises(FileRefused, match="looks like a visits file"):
        list(rules.csv_records(io.StringIO(text, newline=""), ",", "clients"))


def test_column_widths_match_the_tables():
    from campaign.accounts.models import Staff, Store, Team
    from campaign.clients.models import Client, Visit
    columns = {"store_code": Store.code, "name": Store.name, "employee_code": Staff.employee_code,
               "email": Staff.email, "team": Team.name, "client_ref": Client.ref,
               "first_name": Client.first_name, "last_name": Client.last_name, "phone": Client.phone,
               "visit_ref": Visit.ref, "service": Visit.service, "served_by": Visit.served_by}
    assert {k: c.type.length for k, c in columns.items()} == rules.MAX_LENGTH
    assert Staff.name.type.length == rules.MAX_LENGTH["name"]
    assert Client.email.type.length == rules.MAX_LENGTH["email"]

"""Names in any script: search by a part, sort by the reader's language (issue 9)."""
from __future__ import annotations

import re

import pytest

from campaign.clients import queries
from campaign.core import collation
from campaign.extensions import db

NAMES = [  # ref, first, last
    ("R1", "Анна", "Смирнова"),
    ("R2", "анна", "Петрова"),
    ("R3", "Łukasz", "Zieliński"),
    ("R4", "遥", "佐藤"),
    ("R5", "ｻｸﾗ", "ｲﾄｳ"),          # half-width katakana, as some till systems export it
    ("R6", "Zofia", "Śliwa"),
    ("R7", "Adam", "Łęcki"),
    ("R8", "Ewa", "Lis"),
    ("R9", "Jan", "Sowa"),
    ("R10", "芳", "王"),
    ("R11", "娜", "李"),
    ("R12", "伟", "张"),
    ("R13", "静", "陈"),
]


@pytest.fixture
def people(make_store, make_client):
    store = make_store()
    for ref, first, last in NAMES:
        make_client(ref, store=store, first_name=first, last_name=last)
    return store


def _found(name, **kw):
    return [r["ref"] for r in queries.segment_clients(None, name=name, per_page=100, **kw).items]


@pytest.mark.parametrize("needle, refs", [
    ("АННА", {"R1", "R2"}),                 # Cyrillic, either case
    ("смирн", {"R1"}),                      # a part of the last name
    ("анна смирнова", {"R1"}),              # first and last name
    ("Смирнова Анна", {"R1"}),              # last name first
    ("ŁUKASZ", {"R3"}),                     # Polish capitals fold
    ("zielińs", {"R3"}),
    ("佐藤", {"R4"}),                       # kanji
    ("佐藤遥", {"R4"}),                     # family and given name written together
    ("サクラ", {"R5"}),                     # full width finds half width (NFKC)
    ("ｲﾄｳ", {"R5"}),
    ("王", {"R10"}),
    ("100%", set()),                        # % is literal, not a wildcard
    ("_", set()),
])
def test_a_part_of_a_name_finds_the_client_in_any_script_and_case(people, needle, refs):
    assert set(_found(needle)) == refs


def test_names_sort_by_the_readers_language_where_the_database_can(people):
    dialect = db.session.get_bind().dialect.name
    latin = [r for r in _found("", by_name_in="pl") if r in {"R3", "R6", "R7", "R8", "R9"}]
    chinese = [r for r in _found("", by_name_in="zh") if r in {"R10", "R11", "R12", "R13"}]
    if dialect == "postgresql" and all(collation._has_collation(
            db.session.get_bind().url.render_as_string(hide_password=False), c, db.session)
            for c in ("pl-x-icu", "zh-Hans-x-icu")):
        # Polish: L < Ł, S < Ś < Z; Chinese: by pinyin (chen, li, wang, zhang).
        assert latin == ["R8", "R7", "R9", "R6", "R3"]   # Lis, Łęcki, Sowa, Śliwa, Zieliński
        assert chinese == ["R13", "R11", "R10", "R12"]  # 陈 李 王 张
    else:
        # SQLite (documented in docs/i18n.md): folded code-point order, so Ł and Ś
        # come after Z, and Chinese names by code point.
        assert latin == ["R8", "R9", "R3", "R7", "R6"]   # Lis, Sowa, Zieliński, Łęcki, Śliwa
        assert chinese == ["R12", "R11", "R10", "R13"]  # 张 李 王 陈


def test_the_client_list_searches_and_sorts_by_name_and_says_when_nothing_matches(
        people, client, make_staff, login_as):
    login_as(make_staff(roles=("manager",)))
    body = client.get("/dormancy/clients?name=анна&sort=name").get_data(as_text=True)
    refs = re.findall(r'href="/clients/(R\d+)', body)
    assert refs == ["R2", "R1"]  # Петрова before Смирнова
    assert 'value="анна"' in body
    body = client.get("/dormancy/clients?name=Nobody").get_data(as_text=True)
    assert "No client in this list has “Nobody” in their name." in body
    resp = client.get("/dormancy/clients?sort=sideways")
    assert resp.status_code == 422 and "unknown order" in resp.get_data(as_text=True)
    assert client.get("/dormancy/clients?name=" + "x" * 101).status_code == 422


def test_fold_is_nfkc_then_lower_case():
    assert collation.fold("ＡＢＣ ｻｸﾗ Łódź") == "abc サクラ łódź"
    assert collation.fold(None) is None


@pytest.mark.parametrize("first, last, language, shown", [
    ("愛", "吉田", "ja", "吉田 愛"),           # Japanese: family name first, a space
    ("さくら", "伊藤", None, "伊藤 さくら"),    # kana: Japanese even without a language
    ("芳", "王", "zh", "王芳"),                # Chinese: family name first, no space
    ("芳", "王", None, "王 芳"),               # Han only, language unknown: a space keeps both readable
    ("Анна", "Смирнова", "ru", "Анна Смирнова"),
    ("Łukasz", "Zieliński", "pl", "Łukasz Zieliński"),
    (None, "Lis", "pl", "Lis"),
    ("", "", None, ""),
])
def test_a_name_is_written_in_its_own_scripts_order(first, last, language, shown):
    from campaign.clients.rules import full_name
    assert full_name(first, last, language) == shown


def test_japanese_messages_and_scripts_address_the_family_name(make_client):
    from campaign.outbox import texts
    c = make_client("J1", first_name="愛", last_name="吉田", language="ja")
    assert c.name == "吉田 愛"
    _used, _subject, body = texts.render("no_answer_sms", "ja", first_name=c.first_name,
                                         last_name=c.last_name, full_name=c.name, store_name="渋谷店")
    assert body.startswith("吉田様")

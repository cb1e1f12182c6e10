"""Deterministic demo data for Winback: stores, staff, clients and visits as CSV.

The files are written in exactly the SPEC §2.1 formats so that the demo is
loaded through the product's own import (``campaign.demo``), and so that the
same generator can feed benchmarks: rows are streamed to the files (constant
memory) and the per-row work is a handful of ``random()`` calls and look-ups
in tables prepared once.

    python scripts/demo_data.py OUT_DIR --clients 3000 --seed 7 --today 2026-05-01

Guarantees:
- Deterministic: the same ``seed``, ``clients`` and ``today`` give byte-identical
  files. Everything except the date strings is drawn in day offsets from
  ``today``, so client ``C0000042`` has the same name, store and rhythm whatever
  ``today`` is, and a larger ``clients`` only appends rows (the sample files in
  docs/samples/ rely on this).
- No visit lies in the future: visits fall on ``today - 1`` or earlier, in
  business hours, and every store is at UTC or east of it.
- Every dormancy bucket and tier of SPEC §3 is well populated as of ``today``,
  some regulars are overdue, some clients have 3+ no-shows (banned).
- E-mail addresses use the reserved ``.example`` top-level domain (RFC 2606) so
  a demo can never mail a real person. Phone numbers, however, must be valid
  for libphonenumber (the import normalises them); they are random numbers in
  real mobile ranges, so a demo must not be connected to a real SMS gateway.

Standard library only: no Flask, no database. Most of this file is data
(stores, people, names, menus, phone ranges); the generator is its last part.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from datetime import date, timedelta
from math import log
from pathlib import Path
from random import Random

# Header names and order exactly as in SPEC §2.1.
HEADERS = {
    "stores": ["store_code", "name", "timezone", "country", "currency"],
    "staff": ["employee_code", "name", "email", "roles", "team", "store_code", "languages"],
    "clients": ["client_ref", "first_name", "last_name", "phone", "email", "language",
                "store_code", "consent_call", "consent_sms", "consent_email", "consent_post",
                "do_not_contact", "notes"],
    "visits": ["visit_ref", "client_ref", "store_code", "visited_at", "service", "amount",
               "status", "served_by"],
}
KINDS = ("stores", "staff", "clients", "visits")  # the order they must be imported in

HISTORY_DAYS = 3 * 365
STAFF_DOMAIN = "winback.example"

# ------------------------------------------------------------------ stores

# code, name, timezone, country, currency, local language, share of clients,
# decimal-comma share of amounts, date-only share of visited_at
STORES = [
    ("TYO-SHIBUYA", "足つぼ庵 渋谷店", "Asia/Tokyo", "JP", "JPY", "ja", 22, 0.0, 0.10),
    ("OSA-UMEDA", "足つぼ庵 梅田店", "Asia/Tokyo", "JP", "JPY", "ja", 10, 0.0, 0.10),
    ("SHA-JINGAN", "足道养生 静安寺店", "Asia/Shanghai", "CN", "CNY", "zh", 16, 0.0, 0.20),
    ("MOW-ARBAT", "Релакс на Арбате", "Europe/Moscow", "RU", "RUB", "ru", 15, 0.7, 0.30),
    ("WAW-MOKOTOW", "Relaks Mokotów", "Europe/Warsaw", "PL", "PLN", "pl", 17, 0.8, 0.25),
    ("KRK-KAZIMIERZ", "Relaks Kazimierz", "Europe/Warsaw", "PL", "PLN", "pl", 8, 0.8, 0.40),
    ("LON-SOHO", "Soho Foot & Body", "Europe/London", "GB", "GBP", "en", 12, 0.05, 0.15),
]
CURRENCY_EXPONENT = {"JPY": 0, "CNY": 2, "RUB": 2, "PLN": 2, "GBP": 2}

# Languages of a store's clients besides the local one (expats), as shares.
EXPATS = {
    "JP": (("en", 0.05), ("zh", 0.02)),
    "CN": (("en", 0.03), ("ja", 0.02)),
    "RU": (("en", 0.03),),
    "PL": (("ru", 0.05), ("en", 0.03)),
    "GB": (("pl", 0.08), ("ru", 0.04), ("zh", 0.03), ("ja", 0.03)),
}
LANGUAGE_COUNTRY = {"ja": "JP", "zh": "CN", "ru": "RU", "pl": "PL", "en": "GB"}

# Service menus in the local language: name, price today in major units.
MENUS = {
    "JP": [("足つぼマッサージ 40分", 4400), ("全身もみほぐし 60分", 6600),
           ("足つぼ＋全身 90分", 9900), ("ヘッドスパ 30分", 3300),
           ("アロマオイルトリートメント 60分", 8800), ("フェイシャル 45分", 7700)],
    "CN": [("足底按摩 60分钟", 168), ("全身按摩 90分钟", 298), ("中药泡脚 45分钟", 128),
           ("肩颈推拿 30分钟", 98), ("精油SPA 90分钟", 398), ("面部护理 60分钟", 268)],
    "RU": [("Массаж стоп 45 мин", 2500), ("Общий массаж 60 мин", 4200),
           ("Массаж шейно-воротниковой зоны 30 мин", 1800), ("SPA-уход для ног 60 мин", 3500),
           ("Уход за лицом 60 мин", 4800), ("Стоун-терапия 90 мин", 6200)],
    "PL": [("Masaż stóp 45 min", 149), ("Masaż całego ciała 60 min", 199),
           ("Masaż karku i pleców 30 min", 119.5), ("Refleksoterapia 60 min", 179),
           ("Zabieg na twarz 60 min", 229), ("Masaż gorącymi kamieniami 90 min", 289)],
    "GB": [("Foot massage 45 min", 45), ("Full body massage 60 min", 75),
           ("Back, neck & shoulders 30 min", 42.5), ("Reflexology 60 min", 65),
           ("Facial 60 min", 70), ("Hot stone massage 90 min", 95)],
}
# How often each menu item is chosen (the foot massage sells best).
MENU_WEIGHTS = (35, 25, 12, 12, 9, 7)

# ------------------------------------------------------------------ staff

# Technicians serve visits (``served_by``); they have no roles and no sign-in.
TECHNICIANS = {
    "TYO-SHIBUYA": [("T-JP01", "小川 真理"), ("T-JP02", "石井 亮"), ("T-JP03", "前田 千尋")],
    "OSA-UMEDA": [("T-JP04", "藤田 舞"), ("T-JP05", "岡田 翼"), ("T-JP06", "中島 優子")],
    "SHA-JINGAN": [("T-CN01", "孙丽华"), ("T-CN02", "周建国"), ("T-CN03", "吴小梅")],
    "MOW-ARBAT": [("T-RU01", "Ольга Кравцова"), ("T-RU02", "Виктор Орлов"),
                  ("T-RU03", "Марина Белова")],
    "WAW-MOKOTOW": [("T-PL01", "Joanna Kubiak"), ("T-PL02", "Marek Sowa"),
                    ("T-PL03", "Iwona Pająk")],
    "KRK-KAZIMIERZ": [("T-PL04", "Beata Żak"), ("T-PL05", "Adam Nowicki"),
                      ("T-PL06", "Justyna Kłos")],
    "LON-SOHO": [("T-GB01", "Priya Shah"), ("T-GB02", "Liam Murphy"), ("T-GB03", "Mei Hughes")],
}

# employee_code, name, e-mail local part, roles, team, store_code, languages
PEOPLE = [
    # Team Sakura: Japanese-speaking agents (Tokyo and Osaka).
    ("A-JP01", "佐藤 遥", "haruka.sato", "agent", "Sakura", "TYO-SHIBUYA", "ja;en"),
    ("A-JP02", "鈴木 大輝", "daiki.suzuki", "agent", "Sakura", "TYO-SHIBUYA", "ja;en"),
    ("A-JP03", "高橋 美咲", "misaki.takahashi", "agent", "Sakura", "TYO-SHIBUYA", "ja;en"),
    ("A-JP04", "田中 蓮", "ren.tanaka", "agent", "Sakura", "OSA-UMEDA", "ja;en"),
    ("A-JP05", "伊藤 さくら", "sakura.ito", "agent", "Sakura", "OSA-UMEDA", "ja;zh;en"),
    # Team Huangpu: Chinese-speaking agents (Shanghai).
    ("A-CN01", "王芳", "fang.wang", "agent", "Huangpu", "SHA-JINGAN", "zh;en"),
    ("A-CN02", "李娜", "na.li", "agent", "Huangpu", "SHA-JINGAN", "zh;en"),
    ("A-CN03", "张伟", "wei.zhang", "agent", "Huangpu", "SHA-JINGAN", "zh;en"),
    ("A-CN04", "陈静", "jing.chen", "agent", "Huangpu", "SHA-JINGAN", "zh;ja;en"),
    # Team Neva: Russian-speaking agents (Moscow).
    ("A-RU01", "Анна Смирнова", "anna.smirnova", "agent", "Neva", "MOW-ARBAT", "ru;en"),
    ("A-RU02", "Дмитрий Волков", "dmitry.volkov", "agent", "Neva", "MOW-ARBAT", "ru;en"),
    ("A-RU03", "Екатерина Соколова", "ekaterina.sokolova", "agent", "Neva", "MOW-ARBAT", "ru;en"),
    ("A-RU04", "Илья Лебедев", "ilya.lebedev", "agent", "Neva", "MOW-ARBAT", "ru;en"),
    # Team Wisła: Polish-speaking agents (Warsaw and Kraków); one also speaks Russian.
    ("A-PL01", "Katarzyna Wiśniewska", "katarzyna.wisniewska", "agent", "Wisła", "WAW-MOKOTOW",
     "pl;en"),
    ("A-PL02", "Łukasz Zieliński", "lukasz.zielinski", "agent", "Wisła", "WAW-MOKOTOW", "pl;en"),
    ("A-PL03", "Agnieszka Dąbrowska", "agnieszka.dabrowska", "agent", "Wisła", "WAW-MOKOTOW",
     "pl;en"),
    ("A-PL04", "Michał Woźniak", "michal.wozniak", "agent", "Wisła", "KRK-KAZIMIERZ", "pl;en"),
    ("A-PL05", "Olena Kovalenko", "olena.kovalenko", "agent", "Wisła", "WAW-MOKOTOW", "pl;ru;en"),
    # Team Thames: English-speaking agents (London); two speak a second language.
    ("A-GB01", "Emily Clarke", "emily.clarke", "agent", "Thames", "LON-SOHO", "en"),
    ("A-GB02", "James Patel", "james.patel", "agent", "Thames", "LON-SOHO", "en"),
    ("A-GB03", "Sophie Nakamura", "sophie.nakamura", "agent", "Thames", "LON-SOHO", "en;ja"),
    ("A-GB04", "Tom Kowalski", "tom.kowalski", "agent", "Thames", "LON-SOHO", "en;pl"),
    # Managers, one per country; the Moscow one also takes calls (several roles).
    ("M-JP01", "山本 健一", "mgr.tokyo", "manager", "", "TYO-SHIBUYA", "ja;en"),
    ("M-CN01", "刘洋", "mgr.shanghai", "manager", "", "SHA-JINGAN", "zh;en"),
    ("M-RU01", "Сергей Морозов", "mgr.moscow", "manager;agent", "Neva", "MOW-ARBAT", "ru;en"),
    ("M-PL01", "Małgorzata Nowak", "mgr.warsaw", "manager", "", "WAW-MOKOTOW", "pl;en"),
    ("M-GB01", "Oliver Bennett", "mgr.london", "manager", "", "LON-SOHO", "en"),
    ("P-PL01", "Ewa Kaczmarek", "payroll", "payroll", "", "WAW-MOKOTOW", "pl;en"),
    ("ADM-01", "Alex Morgan", "admin", "admin", "", "LON-SOHO", "en"),
]

# The people who get the demo sign-in password (campaign.demo), in report order.
DEMO_LOGINS = ("M-PL01", "M-JP01", "A-PL01", "A-JP01", "A-RU01", "A-CN01", "A-GB01",
               "P-PL01", "ADM-01")

# ------------------------------------------------------------------ names


def _ru_family(masculine: str, latin: str) -> tuple[str, str, str, str]:
    """Russian surnames agree in gender: Иванов/Иванова, Вишневский/Вишневская,
    Толстой/Толстая; those in -ых/-их/-ко do not change."""
    if masculine.endswith(("ский", "цкий")):
        return masculine, masculine[:-2] + "ая", latin, latin[:-1] + "aya"
    if masculine.endswith("ой"):
        return masculine, masculine[:-2] + "ая", latin, latin[:-2] + "aya"
    if masculine.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return masculine, masculine + "а", latin, latin + "a"
    return masculine, masculine, latin, latin


def _pl_family(masculine: str) -> tuple[str, str, str, str]:
    """Polish -ski/-cki/-dzki surnames take -ska/-cka/-dzka for women; others don't change."""
    feminine = masculine[:-1] + "a" if masculine.endswith(("ski", "cki", "dzki")) else masculine
    return masculine, feminine, _ascii(masculine), _ascii(feminine)


_FOLD = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ", "'")


def _ascii(text: str) -> str:
    return text.translate(_FOLD).lower()


def _same(pairs: str) -> list[tuple[str, str, str, str]]:
    """'native:latin' words whose surname is the same for women and men."""
    out = []
    for word in pairs.split():
        native, latin = word.split(":")
        out.append((native, native, latin, latin))
    return out


def _given(pairs: str) -> list[tuple[str, str]]:
    return [tuple(w.split(":")) for w in pairs.split()]  # type: ignore[misc]


# Per language: (surnames as (male, female, male latin, female latin),
# female given names, male given names), given names as (native, latin).
NAMES = {
    "ja": (
        _same("佐藤:sato 鈴木:suzuki 高橋:takahashi 田中:tanaka 伊藤:ito 渡辺:watanabe "
              "山本:yamamoto 中村:nakamura 小林:kobayashi 加藤:kato 吉田:yoshida 山田:yamada "
              "佐々木:sasaki 山口:yamaguchi 松本:matsumoto 井上:inoue 木村:kimura 林:hayashi "
              "斎藤:saito 清水:shimizu 森:mori 池田:ikeda 橋本:hashimoto 石川:ishikawa"),
        _given("陽子:yoko 美咲:misaki 由美:yumi 恵子:keiko 愛:ai 花子:hanako 真由美:mayumi "
               "結衣:yui 明美:akemi さくら:sakura 陽菜:hina 葵:aoi 久美子:kumiko 直美:naomi "
               "彩:aya"),
        _given("健太:kenta 翔太:shota 大輔:daisuke 拓也:takuya 誠:makoto 浩:hiroshi 隆:takashi "
               "直樹:naoki 蓮:ren 悠真:yuma 健一:kenichi 和也:kazuya"),
    ),
    "zh": (
        _same("王:wang 李:li 张:zhang 刘:liu 陈:chen 杨:yang 黄:huang 赵:zhao 吴:wu 周:zhou "
              "徐:xu 孙:sun 马:ma 朱:zhu 胡:hu 郭:guo 何:he 林:lin 罗:luo 高:gao"),
        _given("秀英:xiuying 丽:li 静:jing 敏:min 婷:ting 芳:fang 娜:na 雪:xue 玲:ling 慧:hui "
               "欣怡:xinyi 晓燕:xiaoyan 佳怡:jiayi 梦琪:mengqi"),
        _given("伟:wei 强:qiang 磊:lei 军:jun 洋:yang 勇:yong 杰:jie 涛:tao 明:ming 超:chao "
               "浩然:haoran 子轩:zixuan"),
    ),
    "ru": (
        [_ru_family(m, lat) for m, lat in (
            ("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"),
            ("Попов", "popov"), ("Васильев", "vasiliev"), ("Петров", "petrov"),
            ("Соколов", "sokolov"), ("Михайлов", "mikhailov"), ("Новиков", "novikov"),
            ("Фёдоров", "fedorov"), ("Морозов", "morozov"), ("Волков", "volkov"),
            ("Лебедев", "lebedev"), ("Козлов", "kozlov"), ("Егоров", "egorov"),
            ("Павлов", "pavlov"), ("Никитин", "nikitin"), ("Захаров", "zakharov"),
            ("Ильин", "ilyin"), ("Голубев", "golubev"), ("Вишневский", "vishnevsky"),
            ("Достоевский", "dostoevsky"), ("Трубецкой", "trubetskoy"), ("Толстой", "tolstoy"),
            ("Черных", "chernykh"), ("Шевченко", "shevchenko"), ("Седых", "sedykh"))],
        _given("Анна:anna Мария:maria Елена:elena Ольга:olga Наталья:natalya Татьяна:tatyana "
               "Ирина:irina Екатерина:ekaterina Светлана:svetlana Юлия:yulia Дарья:darya "
               "Ксения:ksenia Алёна:alena"),
        _given("Александр:alexander Дмитрий:dmitry Сергей:sergey Андрей:andrey Алексей:alexey "
               "Иван:ivan Михаил:mikhail Николай:nikolay Владимир:vladimir Павел:pavel "
               "Илья:ilya Артём:artem"),
    ),
    "pl": (
        [_pl_family(m) for m in (
            "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński "
            "Szymański Woźniak Dąbrowski Kozłowski Jankowski Mazur Krawczyk Piotrowski "
            "Grabowski Zając Pawłowski Michalski Wróbel Nowicki Wysocki Górecki Sikora "
            "Łukasik Król Jabłoński Czarnecki Kaczmarek Sadowski").split()],
        [(n, _ascii(n)) for n in (
            "Anna Małgorzata Agnieszka Katarzyna Barbara Ewa Magdalena Joanna Żaneta Zofia "
            "Łucja Krystyna Jadwiga Grażyna Alicja").split()],
        [(n, _ascii(n)) for n in (
            "Piotr Krzysztof Andrzej Tomasz Paweł Michał Łukasz Jakub Grzegorz Wojciech "
            "Jarosław Bartłomiej").split()],
    ),
    "en": (
        [(n, n, _ascii(n), _ascii(n)) for n in (
            "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts "
            "Walker Wright Robinson Thompson White Hughes Edwards Green Hall O'Brien Patel "
            "Khan MacDonald").split()],
        [(n, n.lower()) for n in (
            "Olivia Emily Sophie Charlotte Amelia Grace Jessica Lucy Hannah Chloe Isla "
            "Ella").split()],
        [(n, n.lower()) for n in (
            "James Oliver Harry George Jack William Thomas Daniel Noah Samuel Joe "
            "Callum").split()],
    ),
}

# Reserved-TLD look-alikes of each country's usual mail providers.
MAIL_DOMAINS = {
    "ja": ("docomo.example", "ezweb.example", "yahoo-jp.example", "gmail.example"),
    "zh": ("qq.example", "163.example", "126.example"),
    "ru": ("mail-ru.example", "yandex.example", "gmail.example"),
    "pl": ("wp.example", "onet.example", "o2.example", "gmail.example"),
    "en": ("gmail.example", "outlook.example", "btinternet.example"),
}

# Notes an agent may read on the card, in the client's language: (for women, for men).
NOTES = {
    "ja": [("ラベンダーオイルにアレルギーあり",) * 2, ("18時以降の電話はご遠慮ください",) * 2,
           ("女性スタッフ希望",) * 2, ("膝に古傷あり、弱めの圧で",) * 2],
    "zh": [("对薰衣草精油过敏",) * 2, ("请勿在18:00以后来电",) * 2, ("希望女技师",) * 2,
           ("膝盖旧伤，力度轻一点",) * 2],
    "ru": [("аллергия на лавандовое масло",) * 2,
           ("просила не звонить после 18:00", "просил не звонить после 18:00"),
           ("предпочитает мастера-женщину",) * 2,
           ("старая травма колена, мягкое давление",) * 2],
    "pl": [("uczulenie na olejek lawendowy",) * 2,
           ("prosiła, żeby nie dzwonić po 18:00", "prosił, żeby nie dzwonić po 18:00"),
           ("woli masażystkę",) * 2, ("stara kontuzja kolana, delikatny nacisk",) * 2],
    "en": [("Allergic to lavender oil",) * 2, ("Asked not to be called after 18:00",) * 2,
           ("Prefers a female therapist",) * 2, ("Old knee injury, light pressure",) * 2],
}

# ------------------------------------------------------------------ phones

# Mobile ranges that libphonenumber 9.x holds valid, as the leading digits of
# the national significant number (NSN), and the NSN length.
MOBILE_RANGES = {
    "JP": ([f"{a}0{b}" for a in "789" for b in "123456789"], 10),
    "PL": (["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"], 9),
    "RU": ([f"9{a}" for a in "0123456789"], 10),
    "CN": ([f"13{a}" for a in "0123456789"] + ["150", "151", "152", "153", "155", "156",
                                               "157", "158", "159"]
           + [f"18{a}" for a in "0123456789"], 11),
    "GB": ([f"7{a}{b}" for a in "3458" for b in "0123456789"]
           + [f"77{b}" for b in "123456789"] + [f"79{b}" for b in "23456789"], 10),
}
# Ways people write numbers, per country: local habits, with and without the
# country code, so the import's normalisation is exercised.
PHONE_STYLES = {
    "JP": (lambda n: f"0{n[:2]}-{n[2:6]}-{n[6:]}", lambda n: f"0{n}",
           lambda n: f"+81 {n[:2]}-{n[2:6]}-{n[6:]}", lambda n: f"0{n[:2]} {n[2:6]} {n[6:]}",
           lambda n: f"0{n[:2]}-{n[2:6]}-{n[6:]}".translate(_FULLWIDTH)),
    "PL": (lambda n: f"{n[:3]} {n[3:6]} {n[6:]}", lambda n: f"+48 {n[:3]} {n[3:6]} {n[6:]}",
           lambda n: f"{n[:3]}-{n[3:6]}-{n[6:]}", lambda n: n, lambda n: f"+48{n}"),
    "RU": (lambda n: f"+7 {n[:3]} {n[3:6]}-{n[6:8]}-{n[8:]}",
           lambda n: f"8 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}", lambda n: f"8{n}",
           lambda n: f"+7{n}", lambda n: f"8-{n[:3]}-{n[3:6]}-{n[6:8]}-{n[8:]}"),
    "CN": (lambda n: f"{n[:3]} {n[3:7]} {n[7:]}", lambda n: n,
           lambda n: f"+86 {n[:3]} {n[3:7]} {n[7:]}", lambda n: f"{n[:3]}-{n[3:7]}-{n[7:]}",
           lambda n: f"+86{n}"),
    "GB": (lambda n: f"0{n[:4]} {n[4:]}", lambda n: f"+44 {n[:4]} {n[4:]}",
           lambda n: f"0{n}", lambda n: f"+44 (0){n[:4]} {n[4:]}", lambda n: f"+44{n}"),
}
# Shares of the five styles above; full-width digits are rare but real in Japan.
PHONE_STYLE_WEIGHTS = {"JP": (50, 22, 13, 12, 3), "PL": (45, 20, 15, 12, 8),
                       "RU": (40, 30, 12, 10, 8), "CN": (45, 25, 15, 10, 5),
                       "GB": (50, 20, 15, 7, 8)}
# Written with the country code, for expats who kept their home number.
INTERNATIONAL_STYLE = {"JP": 2, "PL": 1, "RU": 0, "CN": 2, "GB": 1}
_FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
# What ends up in the phone column when there is no number: a word in the
# client's language, or a stray fragment.
JUNK_PHONES = ("12", "-", "0", "unknown")
NO_PHONE = {"ja": "なし", "zh": "无", "ru": "нет", "pl": "brak", "en": "n/a"}

# ------------------------------------------------------------------ rhythms

# Shares of clients by tier-to-be, and of last-visit recency by bucket.
TIER_SHARES = (("regular", 0.70), ("one_time", 0.22), ("never", 0.08))
# (low, high) days since the last completed visit, inclusive, with weights.
RECENCY_REGULAR = (((1, 29), 30), ((30, 59), 12), ((60, 89), 10), ((90, 119), 8),
                   ((120, HISTORY_DAYS - 60), 40))
RECENCY_ONE_TIME = (((1, 29), 15), ((30, 59), 10), ((60, 89), 10), ((90, 119), 8),
                    ((120, HISTORY_DAYS - 1), 57))
NO_SHOW_RATE = 0.03
CANCEL_RATE = 0.04
FLAKY_SHARE = 0.02  # clients who keep not showing up (3+ no-shows: banned)

# Booking slots, local business hours.
SLOTS = [f"{h:02d}:{m:02d}" for h in range(10, 21) for m in (0, 15, 30, 45)][:-1]


def _cumulative(weights) -> list[float]:
    total, out = float(sum(weights)), []
    acc = 0.0
    for w in weights:
        acc += w
        out.append(acc / total)
    out[-1] = 1.0
    return out


def _pick(cum: list[float], u: float) -> int:
    for i, c in enumerate(cum):
        if u < c:
            return i
    return len(cum) - 1


def _money(minor: int, exponent: int, comma: bool) -> str:
    if exponent == 0:
        return str(minor)
    text = f"{minor // 100}.{minor % 100:02d}"
    return text.replace(".", ",") if comma else text


def _price_table(country: str, currency: str):
    """amounts[service][years_ago][variant] -> (dot text, comma text).

    Prices rose about 5 % a year; variant 0 is list price, 1 a 10 % loyalty
    discount, 2 a 20 % first-visit offer. Rounded to 10 yen or 0.50 units."""
    exponent = CURRENCY_EXPONENT[currency]
    step = 10 if exponent == 0 else 50
    table = []
    for _, price in MENUS[country]:
        minor_today = round(price * 10 ** exponent)
        years = []
        for years_ago in range(4):
            base = minor_today * (1 - 0.05 * years_ago)
            variants = []
            for factor in (1.0, 0.9, 0.8):
                minor = int(round(base * factor / step)) * step
                variants.append((_money(minor, exponent, False), _money(minor, exponent, True)))
            years.append(variants)
        table.append(years)
    return table


class _StoreKit:
    """Everything the inner loops need for one store, prepared once."""

    def __init__(self, spec):
        (self.code, self.name, self.timezone, self.country, self.currency, self.language,
         self.weight, self.comma_share, self.date_only_share) = spec
        self.services = [name for name, _ in MENUS[self.country]]
        self.service_cum = _cumulative(MENU_WEIGHTS)
        self.prices = _price_table(self.country, self.currency)
        self.techs = [code for code, _ in TECHNICIANS[self.code]]
        languages = [self.language]
        weights = [1.0 - sum(share for _, share in EXPATS[self.country])]
        for lang, share in EXPATS[self.country]:
            languages.append(lang)
            weights.append(share)
        self.languages = languages
        self.language_cum = _cumulative(weights)


def _phone(rng: Random, country: str, international: bool) -> str:
    prefixes, length = MOBILE_RANGES[country]
    prefix = prefixes[int(rng.random() * len(prefixes))]
    rest = length - len(prefix)
    nsn = prefix + f"{int(rng.random() * 10 ** rest):0{rest}d}"
    styles = PHONE_STYLES[country]
    if international:
        return styles[INTERNATIONAL_STYLE[country]](nsn)
    return styles[_pick(_PHONE_STYLE_CUM[country], rng.random())](nsn)


_PHONE_STYLE_CUM = {country: _cumulative(w) for country, w in PHONE_STYLE_WEIGHTS.items()}
_TIER_CUM = _cumulative([share for _, share in TIER_SHARES])
_RECENCY_REGULAR_CUM = _cumulative([w for _, w in RECENCY_REGULAR])
_RECENCY_ONE_TIME_CUM = _cumulative([w for _, w in RECENCY_ONE_TIME])
# Boolean spellings: (true, false) per style; an empty cell is "unknown = no".
BOOL_STYLES = (("1", "0"), ("true", "false"), ("yes", "no"), ("1", ""))


# ------------------------------------------------------------------ writers


def _write_stores(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADERS["stores"])
        for code, name, tz, country, currency, *_ in STORES:
            w.writerow([code, name, tz, country, currency])


def _write_staff(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADERS["staff"])
        for code, name, local, roles, team, store, languages in PEOPLE:
            w.writerow([code, name, f"{local}@{STAFF_DOMAIN}", roles, team, store, languages])
        for spec in STORES:
            store_code, language = spec[0], spec[5]
            for code, name in TECHNICIANS[store_code]:
                w.writerow([code, name, "", "", "", store_code, language])


def _write_clients_and_visits(clients_path: Path, visits_path: Path, *, clients: int,
                              rng: Random, today: date) -> None:
    """One pass over the clients; each client's visits are written right after
    it is drawn, so memory stays constant whatever ``clients`` is."""
    rnd = rng.random
    kits = [_StoreKit(spec) for spec in STORES]
    store_cum = _cumulative([k.weight for k in kits])
    # Dates by day offset (0 = today); built once, so a visit costs an index.
    dates = [(today - timedelta(days=d)).isoformat() for d in range(HISTORY_DAYS + 2)]
    slot_short = ["T" + s for s in SLOTS]
    slot_long = ["T" + s + ":00" for s in SLOTS]
    n_slots = len(SLOTS)
    visit_no = 0

    with clients_path.open("w", encoding="utf-8", newline="") as cf, \
            visits_path.open("w", encoding="utf-8", newline="") as vf:
        cw = csv.writer(cf, lineterminator="\n")
        vw = csv.writer(vf, lineterminator="\n")
        cw.writerow(HEADERS["clients"])
        vw.writerow(HEADERS["visits"])

        for n in range(1, clients + 1):
            ref = f"C{n:07d}"
            kit = kits[_pick(store_cum, rnd())]
            language = kit.languages[_pick(kit.language_cum, rnd())]
            female = rnd() < 0.68
            families, women, men = NAMES[language]
            fam = families[int(rnd() * len(families))]
            given = (women if female else men)[int(rnd() * (len(women) if female else len(men)))]
            last_name, last_latin = (fam[1], fam[3]) if female else (fam[0], fam[2])
            first_name, first_latin = given

            u = rnd()
            if u < 0.005:
                phone = NO_PHONE[language]
            elif u < 0.01:
                phone = JUNK_PHONES[int(rnd() * len(JUNK_PHONES))]
            elif u < 0.015:
                phone = ""
            elif language != kit.language and rnd() < 0.3:
                # An expat who kept the number from home, written with its country code.
                phone = _phone(rng, LANGUAGE_COUNTRY[language], True)
            else:
                phone = _phone(rng, kit.country, False)

            email = ""
            if rnd() < 0.76:
                domains = MAIL_DOMAINS[language]
                domain = domains[int(rnd() * len(domains))]
                form = rnd()
                if form < 0.5:
                    local = f"{first_latin}.{last_latin}"
                elif form < 0.8:
                    local = f"{first_latin[0]}{last_latin}{int(rnd() * 90) + 10}"
                else:
                    local = f"{last_latin}.{first_latin}{n % 97}"
                email = f"{local}@{domain}"
                if rnd() < 0.03:
                    email = email.capitalize()

            yes, no = BOOL_STYLES[int(rnd() * len(BOOL_STYLES))]
            consent_call = yes if rnd() < 0.82 else no
            consent_sms = yes if rnd() < 0.66 else no
            consent_email = yes if email and rnd() < 0.7 else no
            consent_post = yes if rnd() < 0.3 else no
            do_not_contact = yes if rnd() < 0.02 else (no if rnd() < 0.6 else "")
            notes = ""
            if rnd() < 0.06:
                choices = NOTES[language]
                notes = choices[int(rnd() * len(choices))][0 if female else 1]

            cw.writerow([ref, first_name, last_name, phone, email, language, kit.code,
                         consent_call, consent_sms, consent_email, consent_post,
                         do_not_contact, notes])

            # ---- visits: day offsets (days before today) and statuses
            events = _client_events(rnd)
            if not events:
                continue
            services, prices, techs = kit.services, kit.prices, kit.techs
            service_cum, comma_share = kit.service_cum, kit.comma_share
            date_only_share = kit.date_only_share
            favourite_service = _pick(service_cum, rnd())
            favourite_tech = techs[int(rnd() * len(techs))]
            rows = []
            for d, status in events:
                visit_no += 1
                s = favourite_service if rnd() < 0.6 else _pick(service_cum, rnd())
                v = rnd()
                variant = 0 if v < 0.8 else 1 if v < 0.95 else 2
                amount = prices[s][d // 365][variant][rnd() < comma_share]
                v = rnd()
                if v < date_only_share:
                    visited_at = dates[d]
                else:
                    slot = int(rnd() * n_slots)
                    visited_at = dates[d] + (slot_long if v < 0.6 else slot_short)[slot]
                if status == "completed":
                    served_by = favourite_tech if rnd() < 0.75 else techs[int(rnd() * len(techs))]
                    if rnd() < 0.1:
                        status = ""  # empty means completed
                else:
                    served_by = ""
                rows.append((f"V{visit_no:08d}", ref, kit.code, visited_at, services[s], amount,
                             status, served_by))
            vw.writerows(rows)


def _client_events(rnd) -> list[tuple[int, str]]:
    """A client's visits as (days before today, status), oldest first.

    Regulars come every 2–6 weeks (their own rhythm, ±25 %) and stopped some
    time ago (the recency draw: that is the churn); one-time clients came once;
    "never" clients at most booked and did not come. Some active regulars are
    drawn late against their rhythm (overdue)."""
    u = rnd()
    tier = _pick(_TIER_CUM, u)
    events: list[tuple[int, str]] = []
    if tier == 2:  # never: no visit, or only no-shows and cancellations
        if rnd() < 0.3:
            d = 1 + int(rnd() * 400)
            events.append((d, "no_show" if rnd() < 0.6 else "cancelled"))
        return events

    if tier == 1:  # one visit
        last = _recency(rnd, RECENCY_ONE_TIME, _RECENCY_ONE_TIME_CUM)
        events.append((last, "completed"))
    else:
        gap = 14 + int(rnd() * 29)  # 14..42 days
        last = _recency(rnd, RECENCY_REGULAR, _RECENCY_REGULAR_CUM)
        if last < 30 and gap * 1.75 < 29 and rnd() < 0.4:
            low = int(gap * 1.75) + 1
            last = low + int(rnd() * (30 - low))  # overdue against their own rhythm
        count = 2 + int(-14.0 * log(1.0 - rnd()))  # 2 + exponential, mean ~16
        flaky = rnd() < FLAKY_SHARE
        no_show_rate = 0.35 if flaky else NO_SHOW_RATE
        d = last
        days = [d]
        for _ in range(count - 1):
            d += int(gap * (0.75 + 0.5 * rnd()))
            if d > HISTORY_DAYS:
                break
            days.append(d)
        for d in reversed(days[1:]):
            v = rnd()
            status = ("no_show" if v < no_show_rate else
                      "cancelled" if v < no_show_rate + CANCEL_RATE else "completed")
            events.append((d, status))
        events.append((last, "completed"))
        if flaky:
            # Repeated no-shows (SPEC §3): at least three, so the client is banned.
            have = sum(1 for _, s in events if s == "no_show")
            for _ in range(max(0, 3 - have)):
                events.append((1 + int(rnd() * last) if last > 1 else 1, "no_show"))
            events.sort(key=lambda e: -e[0])

    if last > 7 and rnd() < 0.12:
        # Booked once more after the last visit and did not come (or cancelled).
        events.append((1 + int(rnd() * (last - 1)), "no_show" if rnd() < 0.65 else "cancelled"))
    return events


def _recency(rnd, ranges, cum) -> int:
    low, high = ranges[_pick(cum, rnd())][0]
    return low + int(rnd() * (high - low + 1))


# ------------------------------------------------------------------ entry points


def write_demo_csvs(out_dir, *, clients: int = 3000, seed: int = 7,
                    today: date) -> dict[str, Path]:
    """Write stores.csv, staff.csv, clients.csv and visits.csv into ``out_dir``
    (created if missing) and return their paths by kind, in import order."""
    if clients < 0:
        raise ValueError("clients must be >= 0")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"{kind}.csv" for kind in KINDS}
    _write_stores(paths["stores"])
    _write_staff(paths["staff"])
    _write_clients_and_visits(paths["clients"], paths["visits"], clients=clients,
                              rng=Random(seed), today=today)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the Winback demo CSV files.")
    parser.add_argument("out_dir")
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(),
                        help="YYYY-MM-DD; visits end the day before (default: today)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = write_demo_csvs(args.out_dir, clients=args.clients, seed=args.seed, today=args.today)
    elapsed = time.perf_counter() - started
    for kind, path in paths.items():
        with path.open("rb") as f:
            rows = sum(1 for _ in f) - 1
        print(f"{path}: {rows} rows", file=sys.stderr)
    print(f"written in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hostile CSV uploads of every import kind (issue 8), built by Hypothesis.

Files come in every shape a user or an attacker can send: UTF-8 with and
without a BOM, UTF-16, cp1251, Shift JIS, GB 18030, Latin-1, invalid and
truncated UTF-8; comma, semicolon, tab and ``|`` delimiters; unbalanced and
doubled quotes, quoted line breaks, ``\\n`` / ``\\r\\n`` / ``\\r`` mixed; huge
fields, thousands of columns, empty files, header-only files, binary
garbage, NUL bytes; and byte-level mutations of valid files.

Each one is uploaded through the API (``POST /api/v1/imports/{kind}``) or the
web form (``POST /imports``) and the job is run. Then:

* never a 500, never an exception in the job (status ``failed``);
* a refused file: ``422`` with one message that names what was wrong (the
  bytes alone decide some refusals — empty, UTF-16, NUL, not UTF-8, a first
  line over 64 KiB — and those words must be in it), and the whole database
  is as it was, table by table;
* an accepted file: the job ends ``finished``; every reject has a line, a
  column of the kind (or none) and a reason; the counts match what changed
  in the kind's table; only the kind's tables changed, and only keys that
  are in the file; for files whose records we know (built, not mutated):
  the counts add up to the data records, a record with the wrong number of
  fields is rejected at its line, and every record not rejected is in the
  table with its own values.

Jobs run in this process through ``jobs.execute`` — the function every
worker runs — so an exception surfaces here with its traceback;
``test_hostile_files_through_the_real_queue`` sends a few through the real
queue (embedded, or Redis and a worker process in CI's second pass).
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import os
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaign.accounts.models import Staff, StaffLanguage, StaffRole, Store, Team
from campaign.clients.models import Client, Visit
from campaign.core import jobs
from campaign.core.models import Job, JobFileChunk
from campaign.extensions import db
from campaign.imports import rules

from .conftest import csrf_from

KINDS = rules.KINDS  # every import kind the app has; a new one fails below until it has values
# WINBACK_FUZZ_EXAMPLES=500 for a longer hunt than CI's.
FUZZ = settings(max_examples=int(os.environ.get("WINBACK_FUZZ_EXAMPLES", 40)), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

# Which tables an import of each kind may write (besides its job's own rows).
JOB_TABLES = {"jobs", "job_file_chunks", "import_rejects", "audit_log", "user_sessions"}
WRITES = {
    "stores": {"stores"},
    "staff": {"staff", "staff_roles", "staff_languages", "teams", "score_dirty"},
    "clients": {"clients"},
    # a visit of a called client marks it for attribution; the refresh job writes the scores
    "visits": {"visits", "score_dirty", "conversions", "score_days", "score_items"},
}
# The column whose value a good record must leave in its row (the key aside).
VALUE_COLUMN = {"stores": "name", "staff": "name", "clients": "first_name", "visits": "service"}


# ------------------------------------------------------------------ values

def _long(n: int) -> str:
    return "x" * n


PLAIN = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
NASTY = st.sampled_from([
    '"', '""', 'a"b', '"quoted"', "a\nb", "a\r\nb", "a\rb", "x,y;z|w\tv", " padded ", "\t", "'; DROP TABLE clients;--",
    "=HYPERLINK(\"http://evil\")", "+1", "@x", "<script>alert(1)</script>", "Zoë", "Kamińska", "日本語", "由美",
    "Ωμέγα", "\u2028", "\ufeff", "🙂", "ERASED-1", "\\", "%s%n", "${jndi:x}",
])
HUGE = st.sampled_from([65, 121, 201, 255, 1000, 70_000, 140_000]).map(_long)  # widths, 64 KiB, csv's field limit
HOSTILE = st.one_of(PLAIN, NASTY, HUGE)


def pick(*good: str) -> st.SearchStrategy[str]:
    """Mostly values a real file has (good and wrong), sometimes anything hostile."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), HOSTILE)


NAMES = pick("Ann", "Bob", "Zofia", "佐藤", "", "O'Brien", "Anne-Marie")
BOOL = pick("1", "0", "yes", "NO", "True", "false", "", "maybe", "2")
STORE = pick("WAW", "TYO", " WAW ", "waw", "NOPE", "")
VALUES = {
    "stores": {
        "store_code": pick("WAW", "TYO", "S1", "S2", " S3 ", ""),
        "name": NAMES,
        "timezone": pick("Europe/Warsaw", "Asia/Tokyo", "europe/warsaw", "Mars/Olympus", "UTC", ""),
        "country": pick("PL", "JP", "pl", "XX", "POL", ""),
        "currency": pick("PLN", "JPY", "usd", "ZZZ", "zł", ""),
    },
    "staff": {  # never MGR: the uploader must keep its roles
        "employee_code": pick("A1", "A2", "A3", " B1 ", ""),
        "name": NAMES,
        "email": pick("a2@example.test", "A3@Example.TEST", "mgr@example.test", "not-an-email", "a@b", ""),
        "roles": pick("agent", "agent;manager", "payroll, admin", "pos", "boss", ";;", ""),
        "team": pick("North", "South", "north", "", " "),
        "store_code": STORE,
        "languages": pick("en", "ru;en", "zh-Hant-TW", "en_GB", "123", "e", ""),
    },
    "clients": {
        "client_ref": pick("C1", "C2", "N1", "N2", " N3 ", ""),
        "first_name": NAMES, "last_name": NAMES,
        "phone": pick("+48 512 345 678", "090-2345-6789", "501234567", "abc", "+1", ""),
        "email": pick("zofia@example.test", "Z@EXAMPLE.TEST", "nope", "a@b.c", ""),
        "language": pick("pl", "ja", "en-GB", "zh_Hant", "x1", "english", ""),
        "store_code": STORE,
        **{c: BOOL for c in rules.BOOLEAN_COLUMNS},
        "notes": HOSTILE,
    },
    "visits": {
        "visit_ref": pick("V1", "V2", "V3", " V4 ", ""),
        "client_ref": pick("C1", "C2", "N1", "NOPE", ""),
        "store_code": STORE,
        "visited_at": pick("2026-03-14", "2026-03-14T15:30", "2026-03-14 15:30:00+02:00", "14/03/2026",
                           "2026-02-30", "2026-13-01T00:00", "9999-12-31T23:59", ""),
        "service": pick("massage", "Masaż stóp, 45 min", "", "足つぼ"),
        "amount": pick("45.50", "45,50", "100", "1 000", "-5", "0.001", "abc", "", "99999999999999999999",
                       "1" * 400),
        "status": pick("", "completed", "No-Show", "cancelled", "done"),
        "served_by": pick("T1", "", "A1"),
    },
}
EXTRA_COLUMNS = ("extra", "Notes 2", "ÜBER", "", "x" * 300)


def test_every_import_kind_has_values():
    assert set(VALUES) == set(KINDS)
    for kind in KINDS:
        assert set(VALUES[kind]) == set(rules.COLUMNS[kind]), kind


# ------------------------------------------------------------------ files

LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Upload:
    """One file to upload, how it was made, and what we know of its records."""

    def __init__(self, kind: str, data: bytes, how: str,
                 records: dict[int, tuple[str, str | None, bool]] | None = None,
                 must_refuse: str | None = None):
        self.kind, self.data, self.how = kind, data, how
        # For a file we built and did not mutate: data line -> (key, value of VALUE_COLUMN,
        # wrong number of fields?); blank records are left out. None: not known.
        self.records = records
        # Words the refusal must use when the header alone decides it (tab, |).
        self.must_refuse = must_refuse

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example: short
        shown = self.data if len(self.data) <= 400 else self.data[:300] + b"..." + self.data[-60:]
        return f"Upload({self.kind!r}, {self.how}, {len(self.data)} bytes: {shown!r})"


def _row_text(values: list[str], delimiter: str, quoting: int) -> str:
    out = io.StringIO()
    # The writer quotes a field with CR or LF only when they are in its line terminator.
    csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator="\r\n").writerow(values)
    return out.getvalue().removesuffix("\r\n")


@st.composite
def built(draw, kind: str) -> Upload:
    """A file of ``kind`` with a right header, rows of good and bad values, and a
    random delimiter, quoting, line breaks, BOM and encoding."""
    required = list(rules.REQUIRED[kind])
    optional = [c for c in rules.COLUMNS[kind] if c not in required]
    columns = required + (draw(st.lists(st.sampled_from(optional), unique=True)) if optional else [])
    columns += draw(st.lists(st.sampled_from(EXTRA_COLUMNS), unique=True, max_size=2))
    columns = draw(st.permutations(columns))
    header = [draw(st.sampled_from([c, c.upper(), f" {c} ", c.title()])) for c in columns]
    delimiter = draw(st.sampled_from([",", ";"] * 4 + ["\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    rows = draw(st.lists(st.fixed_dictionaries({c: VALUES[kind].get(c, HOSTILE) for c in columns}),
                         max_size=8))
    breaks = st.sampled_from(["\n", "\r\n", "\r", "\n", "\r\n"])
    parts = [_row_text(header, delimiter, quoting)]
    records: dict[int, tuple[str, str | None, bool]] = {}
    line = 2
    for row in rows:
        values = [row[c] for c in columns]
        wrong = draw(st.sampled_from([0] * 8 + [-1, 1]))
        if wrong < 0:
            values = values[:-1]
        elif wrong > 0:
            values = values + ["surplus"]
        parts.append(draw(breaks))
        body = _row_text(values, delimiter, quoting)
        parts.append(body)
        if any(values) or (wrong > 0):
            value = row.get(VALUE_COLUMN[kind]) if VALUE_COLUMN[kind] in columns else None
            records[line] = (row[rules.KEY[kind]].strip(), value, wrong != 0)
        line += 1 + len(LINE_BREAK.findall(body))
    if draw(st.booleans()):
        parts.append(draw(breaks))
    content = "".join(parts)
    if any(len(v) > 131072 - 10 for row in rows for v in row.values()):
        records = None  # csv's field limit: where reading resumes is the csv module's business
    encoding = draw(st.sampled_from(["utf-8"] * 10 + ["utf-8-sig"] * 4 + [
        "utf-16", "utf-16-le", "cp1251", "shift_jis", "gb18030", "latin-1"]))
    data = content.encode(encoding, errors="replace")
    try:
        same = data.decode("utf-8-sig") == content
    except UnicodeDecodeError:
        same = False
    must_refuse = None
    if delimiter in "\t|" and same:
        must_refuse = "separated by"
    return Upload(kind, data, f"built({delimiter!r}, quoting={quoting}, {encoding})",
                  records if same and must_refuse is None else None, must_refuse)


def _mutate(data: bytes, how: str, at: int, blob: bytes) -> bytes:
    at = at % (len(data) + 1)
    if how == "insert":
        return data[:at] + blob + data[at:]
    if how == "delete":
        return data[:at] + data[at + len(blob):]
    if how == "replace":
        return data[:at] + blob + data[at + len(blob):]
    if how == "truncate":
        return data[:at]
    if how == "duplicate":
        return data[:at] + data[at:at + 200] + data[at:]
    raise AssertionError(how)


BLOBS = st.one_of(
    st.binary(max_size=16),
    st.sampled_from([b"\x00", b'"', b'"""', b"\r", b"\n", b"\r\n", b",", b";", b"\xef\xbb\xbf", b"\xff\xfe",
                     b"\xc3", b"\xe6\x97", b"\xf0\x9f\x99", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\xfe\xff",
                     b"," * 5000, b"\"" + b"y" * 140_000, b"z" * 70_000]),
)


@st.composite
def mutated(draw, kind: str) -> Upload:
    """A built file with a few byte-level mutations."""
    base = draw(built(kind))
    data = base.data
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["insert", "insert", "replace", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, 1 << 20))
        blob = draw(BLOBS)
        data = _mutate(data, how, at, blob)
        steps.append(how)
    return Upload(kind, data, f"mutated({base.how}, {'+'.join(steps)})")


def _header(kind: str, delimiter: str = ",") -> bytes:
    return delimiter.join(rules.COLUMNS[kind]).encode()


@st.composite
def odd(draw, kind: str) -> Upload:
    """Files that are not CSV at all, or only barely."""
    header = _header(kind)
    width = len(rules.COLUMNS[kind])
    choice = draw(st.sampled_from([
        "empty", "garbage", "header only", "header only crlf", "bom only", "newlines", "many columns",
        "huge header", "huge row", "nul", "unclosed quote", "quote in header", "png", "utf16 bom",
        "truncated multibyte", "cr only", "text",
    ]))
    if choice == "empty":
        data = b""
    elif choice == "garbage":
        data = draw(st.binary(min_size=1, max_size=2000))
    elif choice == "header only":
        data = header
    elif choice == "header only crlf":
        data = header + b"\r\n"
    elif choice == "bom only":
        data = b"\xef\xbb\xbf"
    elif choice == "newlines":
        data = draw(st.sampled_from([b"\n", b"\r\n\r\n", b"\r", b" \n"])) + header + b"\n"
    elif choice == "many columns":
        n = draw(st.sampled_from([width + 1, 1000, 20_000]))
        data = header + b"," + b",".join(b"c%d" % i for i in range(n)) + b"\n" + b"," * n + b"\n"
    elif choice == "huge header":
        data = header + b"," + b"h" * draw(st.sampled_from([65_000, 66_000, 300_000])) + b"\n"
    elif choice == "huge row":
        data = header + b"\n" + b"k" * draw(st.sampled_from([140_000, 1_100_000])) + b"\n"
    elif choice == "nul":
        data = header + b"\n" + b"a\x00b" + b"," * (width - 1) + b"\n"
    elif choice == "unclosed quote":
        data = header + b"\n" + b'"never closed,' + b"x," * (width - 1) + b"\n" + header + b"\n"
    elif choice == "quote in header":
        data = draw(st.sampled_from([b'"', b'x"', b'"a""b",'])) + header + b"\n" + b"," * (width - 1) + b"\n"
    elif choice == "png":
        data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + draw(st.binary(max_size=64))
    elif choice == "utf16 bom":
        data = (header.decode() + "\n").encode("utf-16")
    elif choice == "truncated multibyte":
        data = header + b"\n" + "Kamińska日本".encode()[:draw(st.integers(1, 14))]
    elif choice == "cr only":
        data = header + b"\r" + b"," * (width - 1) + b"\r" + b"a" + b"," * (width - 1) + b"\r"
    else:
        data = draw(st.text(max_size=300)).encode("utf-8", errors="surrogatepass")
    return Upload(kind, data, f"odd({choice})")


def uploads(kind: str) -> st.SearchStrategy[Upload]:
    return st.one_of(built(kind), built(kind), built(kind), mutated(kind), mutated(kind), odd(kind))


# ------------------------------------------------------------------ what the bytes alone decide


def byte_problems(data: bytes) -> set[str]:
    """Words the refusal must use when the bytes alone condemn the file (SPEC §2.1)."""
    if not data:
        return {"empty"}
    words = set()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        words.add("UTF-16")
    if b"\x00" in data:
        words.add("binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return words | {"not UTF-8"}
    first = LINE_BREAK.split(text.removeprefix("\ufeff"), maxsplit=1)[0]
    if len(first) > 64 * 1024:
        words.add("64 KiB")
    elif not words and not first.strip():
        words |= {"first line", "header"}  # empty: "first line"; blanks: the header names no column
    return words


def _cut_short(data: bytes) -> bool:
    """UTF-8 but for a character cut off at the very end."""
    for k in (1, 2, 3):
        try:
            data[:-k].decode("utf-8")
            return True
        except UnicodeDecodeError:
            pass
    return False


# ------------------------------------------------------------------ the world and its snapshots


class InlineQueue:
    """Stands in for the queue backend: keeps the jobs started; ``run`` runs
    them here, through ``jobs.execute`` as a worker would."""

    name = "inline"

    def __init__(self):
        self.started: list[str] = []

    def enqueue(self, job_id, kind=None):
        self.started.append(job_id)

    def run(self) -> None:
        while self.started:
            jobs.execute(self.started.pop(0))  # an exception in a job fails the test here


@pytest.fixture
def inline_jobs(app, monkeypatch):
    queue = InlineQueue()
    monkeypatch.setitem(app.extensions, "winback_jobs", queue)
    return queue


@pytest.fixture
def world(ctx, make_store, make_client, make_staff, make_visit, token_for):
    waw = make_store("WAW")
    tyo = make_store("TYO", timezone="Asia/Tokyo", country="JP", currency="JPY")
    c1 = make_client("C1", store=waw)
    make_client("C2", store=tyo)
    make_visit(c1, "2026-03-01", ref="V1")
    make_staff("A1", team="North", store=waw)
    manager = make_staff("MGR", roles=("manager", "admin"), email="mgr@example.test")
    return {"manager": manager, "api": token_for(manager)}


def digest(skip=("user_sessions",)) -> dict[str, str]:
    """Every table's rows, hashed (ids and all)."""
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name in skip:
            continue
        rows = db.session.execute(select(table)).all()
        out[table.name] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    return out


def rows_of(kind: str) -> dict[str, tuple]:
    """The kind's rows by key, as the import compares them."""
    if kind == "stores":
        return {r.code: tuple(r) for r in db.session.execute(select(Store.__table__))}
    if kind == "clients":
        return {r.ref: tuple(r) for r in db.session.execute(select(Client.__table__))}
    if kind == "visits":
        return {r.ref: tuple(r) for r in db.session.execute(select(Visit.__table__))}
    roles, langs = {}, {}
    for sid, role in db.session.execute(select(StaffRole.staff_id, StaffRole.role)):
        roles.setdefault(sid, []).append(role)
    for sid, lang in db.session.execute(select(StaffLanguage.staff_id, StaffLanguage.language)):
        langs.setdefault(sid, []).append(lang)
    teams = dict(db.session.execute(select(Team.id, Team.name)).all())
    return {r.employee_code: (*r, teams.get(r.team_id), sorted(roles.get(r.id, [])), sorted(langs.get(r.id, [])))
            for r in db.session.execute(select(Staff.__table__))}


def stored_value(kind: str, key: str):
    model, key_col, col = {"stores": (Store, Store.code, Store.name), "staff": (Staff, Staff.employee_code, Staff.name),
                           "clients": (Client, Client.ref, Client.first_name),
                           "visits": (Visit, Visit.ref, Visit.service)}[kind]
    return db.session.scalar(select(col).where(key_col == key))


# ------------------------------------------------------------------ the checks


def check(upload: Upload, status: int, message: str | None, job_id: str | None, before: dict,
          rows_before: dict, inline_jobs: InlineQueue) -> dict | None:
    """Everything the issue asks of one upload; returns the job result when accepted."""
    kind = upload.kind
    assert status in (202, 422), (status, message)
    words = byte_problems(upload.data)
    event("refused" if status == 422 else "accepted, records known" if upload.records is not None
          else "accepted")
    event(f"{upload.how.split('(')[0]}: {message[:50] if status == 422 else 'accepted'}")
    if status == 422:
        assert message and len(message) < 1000, message
        if words == {"not UTF-8"} and _cut_short(upload.data):
            words |= {"header", "looks like", "separated by"}  # the header is read before the end
        if words:
            assert any(w in message for w in words), (words, message)
        elif upload.must_refuse:
            assert upload.must_refuse in message, message
        else:  # the bytes are a fine UTF-8 text: only the header can be wrong
            assert any(w in message for w in ("header", "looks like", "separated by")), message
        assert upload.records is None, f"a file with a right header was refused: {message}"
        db.session.rollback()
        assert digest() == before, "a refused file wrote something"
        return None
    assert not words, f"a file the bytes condemn ({words}) was accepted"
    assert upload.must_refuse is None, "a tab- or |-separated file was accepted"
    inline_jobs.run()
    db.session.rollback()
    job = db.session.get(Job, job_id)
    assert job.status == "finished", (job.status, job.error)
    result = job.result
    after = digest()
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed <= WRITES[kind] | JOB_TABLES, f"an import of {kind} changed {changed - WRITES[kind] - JOB_TABLES}"
    assert db.session.scalar(select(func.count()).select_from(JobFileChunk)) == 0, "the upload was left behind"

    # Rejects: where, which column, why.
    for r in result["rejects"]:
        assert isinstance(r["line"], int) and r["line"] >= 2, r
        assert r["column"] is None or r["column"] in rules.COLUMNS[kind], r
        assert isinstance(r["reason"], str) and r["reason"].strip(), r
    assert result["rejected"] >= len(result["rejects"])
    lines_rejected = {r["line"] for r in result["rejects"]}

    # What changed in the kind's table is what the counts say, and only keys of the file.
    rows_after = rows_of(kind)
    new = set(rows_after) - set(rows_before)
    updated = {k for k in rows_before if k in rows_after and rows_after[k] != rows_before[k]}
    assert set(rows_before) <= set(rows_after), "an import deleted rows"
    assert (len(new), len(updated)) == (result["inserted"], result["updated"]), (new, updated, result)
    text_of_file = upload.data.decode("utf-8-sig")
    for key in new | updated:
        assert key and (key in text_of_file or key.replace('"', '""') in text_of_file), key

    if upload.records is not None:
        records = upload.records
        total = result["inserted"] + result["updated"] + result["unchanged"] + result["rejected"]
        assert total == len(records), (total, len(records), result)
        assert lines_rejected <= set(records), (lines_rejected, sorted(records))
        assert {line for line, (_, _, wrong) in records.items() if wrong} <= lines_rejected
        good = {line: rec for line, rec in records.items() if line not in lines_rejected}
        if result["rejected"] == len(result["rejects"]):  # every reject is listed
            assert len(good) == result["inserted"] + result["updated"] + result["unchanged"]
            assert {k for k, _, _ in good.values()} >= new | updated
        for key, value, _ in good.values():
            assert key in rows_after, f"good row {key!r} is not in the table"
            if value is not None:
                stored = stored_value(kind, key)
                assert (stored or "") == value.strip(), (key, stored, value)
    return result


def api_upload(client, world, upload: Upload):
    resp = client.post(f"/api/v1/imports/{upload.kind}", headers=world["api"],
                       data={"file": (io.BytesIO(upload.data), f"{upload.kind}.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code != 500
    body = resp.get_json()
    assert body is not None, resp.get_data()[:300]
    if resp.status_code == 202:
        return resp.status_code, None, body["job_id"]
    assert body["error"]["code"] == "file_refused", body
    return resp.status_code, body["error"]["message"], None


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_hostile_files_through_the_api(client, world, inline_jobs, kind, data):
    upload = data.draw(uploads(kind), label="upload")
    db.session.rollback()
    before, rows_before = digest(), rows_of(kind)
    status, message, job_id = api_upload(client, world, upload)
    result = check(upload, status, message, job_id, before, rows_before, inline_jobs)
    if result is not None:
        body = client.get(f"/api/v1/jobs/{job_id}", headers=world["api"]).get_json()
        assert body["status"] == "finished" and body["result"]["rejected"] == result["rejected"]


_JOB_URL = re.compile(r"/imports/([0-9a-f]{32})$")
_ALERT = re.compile(r'<p class="flash error" role="alert" id="upload-error">(.*?)</p>', re.S)


@pytest.fixture
def browser(client, world, login_as):
    login_as(world["manager"])
    token = csrf_from(client.get("/imports").get_data(as_text=True))
    return client, token


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_hostile_files_through_the_upload_form(browser, world, inline_jobs, kind, data):
    client, token = browser
    upload = data.draw(uploads(kind), label="upload")
    chosen = data.draw(st.sampled_from([kind, ""]), label="kind field")  # "" = detect from the header
    db.session.rollback()
    before, rows_before = digest(), rows_of(kind)
    resp = client.post("/imports", data={"csrf_token": token, "kind": chosen,
                                         "file": (io.BytesIO(upload.data), f"{kind}.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code in (302, 422), resp.status_code
    if resp.status_code == 422:
        alert = _ALERT.search(resp.get_data(as_text=True))
        assert alert and "Nothing was written" in alert.group(1)
        message = html.unescape(alert.group(1))
        job_id = None
        status = 422
    else:
        job_id = _JOB_URL.search(resp.headers["Location"]).group(1)
        message, status = None, 202
    result = check(upload, status, message, job_id, before, rows_before, inline_jobs)
    if result is not None:
        page = client.get(f"/imports/{job_id}")
        assert page.status_code == 200 and 'data-state="finished"' in page.get_data(as_text=True)
        rejects = client.get(f"/imports/{job_id}/rejects.csv")
        assert rejects.status_code == 200
        limit = csv.field_size_limit(1 << 30)  # a row as sent may be longer than csv's default limit
        try:
            rows = list(csv.reader(io.StringIO(rejects.get_data(as_text=True).removeprefix("\ufeff"),
                                               newline="")))
        finally:
            csv.field_size_limit(limit)
        assert len(rows) == 1 + result["rejected"]


HOSTILE_FILES = [
    ("clients", b""),
    ("clients", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("stores", "store_code,name,timezone,country,currency\nKRK,Kraków,Europe/Warsaw,PL,PLN\n".encode("cp1251", "replace")
     + "ŁÓDŹ".encode("cp1250")),
    ("clients", "client_ref;store_code;notes\r\nC1;WAW;\"a\r\nb\"\rC2;TYO;\"\"\"\"\n".encode("utf-8-sig")),
    ("visits", b"visit_ref,client_ref,store_code,visited_at,amount\rV9,C1,WAW,2026-03-14,99999999999999999999\r"),
    ("staff", b"employee_code,name\nB2,\"unclosed\nB3,Bea\n"),
    ("clients", b"client_ref,store_code,\"notes\nC1,WAW,x\n"),
]


@pytest.mark.parametrize("kind, content", HOSTILE_FILES)
def test_hostile_files_through_the_real_queue(client, world, wait_for_job, kind, content):
    """The same checks with the job run by the real queue: the embedded worker
    thread, or RQ on Redis and a worker process (CI's second pass)."""
    before = digest()
    status, message, job_id = api_upload(client, world, Upload(kind, content, "fixed"))
    if status == 422:
        db.session.rollback()
        assert message and digest() == before
        return
    job = wait_for_job(job_id)
    assert job.status == "finished", job.error
    for r in job.result["rejects"]:
        assert r["line"] >= 2 and r["reason"] and (r["column"] is None or r["column"] in rules.COLUMNS[kind])


def test_a_header_line_ended_by_cr_alone_is_read(client, world, inline_jobs):
    """Old Mac line ends (CR alone): the header is the first line, not the whole file."""
    data = b"client_ref,store_code,first_name\rN7,WAW,Ola\rN8,NOPE,Ela\r"
    status, message, job_id = api_upload(client, world, Upload("clients", data, "cr"))
    assert status == 202, message
    inline_jobs.run()
    db.session.rollback()
    job = db.session.get(Job, job_id)
    assert (job.status, job.result["inserted"], job.result["rejects"]) == (
        "finished", 1, [{"line": 3, "column": "store_code",
                         "reason": "unknown store_code 'NOPE'; import it in stores.csv first"}])


@pytest.mark.parametrize("header, words", [
    (b'client_ref,store_code,"notes\n', "quote"),
    ("client_ref\tstore_code\tfirst_name\n".encode(), "separated by tabs"),
    (b"client_ref|store_code|first_name\n", "separated by"),
])
def test_header_problems_are_named(client, world, header, words):
    before = digest()
    status, message, _ = api_upload(client, world, Upload("clients", header + b"C1,WAW,x\n", "header"))
    assert status == 422 and words in message, message
    db.session.rollback()
    assert digest() == before


def test_an_amount_too_large_for_the_table_is_a_reject(client, world, inline_jobs):
    data = b"visit_ref,client_ref,store_code,visited_at,amount\nV8,C1,WAW,2026-03-14,99999999999999999999\n"
    status, message, job_id = api_upload(client, world, Upload("visits", data, "amount"))
    assert status == 202, message
    inline_jobs.run()
    db.session.rollback()
    job = db.session.get(Job, job_id)
    assert job.status == "finished", job.error
    assert [(r["line"], r["column"]) for r in job.result["rejects"]] == [(2, "amount")]
    assert "too large" in job.result["rejects"][0]["reason"]

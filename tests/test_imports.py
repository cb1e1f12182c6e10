"""The CSV import engine end to end through ``services.import_path`` (what the CLI runs):
upserts, every reject reason, whole-file refusals, phones, time zones, batching."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from campaign.accounts.models import Staff, StaffLanguage, StaffRole, Store, Team
from campaign.clients.models import Client, Visit
from campaign.core.models import Job, JobFileChunk
from campaign.extensions import db
from campaign.imports import rules, services
from campaign.imports.models import ImportReject

DATA = Path(__file__).parent / "data"
HEADERS = {kind: ",".join(cols) for kind, cols in rules.COLUMNS.items()}


def write(folder: Path, text: str, name: str = "file.csv", encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(kind: str, *lines: str, delimiter: str = ",") -> str:
    header = HEADERS[kind].replace(",", delimiter)
    return "\n".join((header,) + lines) + "\n"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def where(result: dict) -> list[tuple]:
    return [(r["line"], r["column"]) for r in result["rejects"]]


def counts(result: dict) -> tuple:
    return result["inserted"], result["updated"], result["unchanged"], result["rejected"]


@pytest.fixture
def run(ctx):
    def run(kind: str, path) -> dict:
        return services.import_path(kind, str(path))
    return run


@pytest.fixture
def stores(run):
    assert counts(run("stores", DATA / "stores.csv")) == (5, 0, 0, 0)


@pytest.fixture
def clients(run, stores):
    assert counts(run("clients", DATA / "clients_semicolon_bom.csv")) == (6, 0, 0, 0)


def client_by(ref: str) -> Client:
    return db.session.scalar(select(Client).where(Client.ref == ref))


# ------------------------------------------------------------------ upserts


def test_stores_are_upserted_and_a_second_import_changes_nothing(run, tmp_path):
    first = run("stores", DATA / "stores.csv")
    assert first == {"kind": "stores", "inserted": 5, "updated": 0, "unchanged": 0, "rejected": 0,
                     "rejects": [], "rejects_truncated": False}
    lon = db.session.scalar(select(Store).where(Store.code == "LON"))
    assert (lon.name, lon.timezone, lon.country, lon.currency) == (
        "Soho Feet, London", "Europe/London", "GB", "GBP")
    assert counts(run("stores", DATA / "stores.csv")) == (0, 0, 5, 0)
    changed = DATA.joinpath("stores.csv").read_text().replace("Soho Feet, London", "Soho Feet")
    assert counts(run("stores", write(tmp_path, changed))) == (0, 1, 4, 0)
    db.session.expire_all()
    assert db.session.scalar(select(Store.name).where(Store.code == "LON")) == "Soho Feet"


def test_clients_semicolon_bom_quotes_phones_and_languages(run, clients):
    c1, c2, c3, c4, c5, c6 = (client_by(f"C{i}") for i in range(1, 7))
    assert (c1.phone, c1.phone_callable, c1.email, c1.language) == (
        "+48512345678", True, "zofia@example.test", "pl")
    assert (c1.consent_call, c1.consent_sms, c1.consent_email, c1.do_not_contact) == (True, True, False, False)
    assert c1.store.code == "WAW" and c1.notes is None and c1.last_name == "Kamińska"
    assert (c2.phone, c2.language, c2.notes) == ("+819023456789", "ja", "アレルギー; ラベンダー")
    assert (c2.consent_call, c2.consent_sms, c2.consent_email, c2.consent_post) == (True, True, False, False)
    assert (c3.phone, c3.notes, c3.consent_email, c3.consent_post) == (
        "+79162345678", "line one\nline two", False, False)
    assert (c4.phone, c4.language) == ("+8613823456789", "zh")
    assert (c5.phone, c5.language, c5.last_name) == ("+447911234567", "en", "O'Brien")
    assert (c6.phone, c6.phone_callable) == ("n/a", False)  # kept, not callable, not rejected


def test_reimporting_clients_reports_unchanged_and_writes_nothing(run, clients):
    before = db.session.execute(select(Client.ref, Client.updated_at)).all()
    assert counts(run("clients", DATA / "clients_semicolon_bom.csv")) == (0, 0, 6, 0)
    db.session.expire_all()
    assert db.session.execute(select(Client.ref, Client.updated_at)).all() == before


def test_a_changed_client_is_an_update_and_absent_columns_are_left_alone(run, clients, tmp_path):
    path = write(tmp_path, "client_ref,store_code,phone\nC1,WAW,+48 600 700 800\nC2,TYO,090-2345-6789\n")
    assert counts(run("clients", path)) == (0, 1, 1, 0)
    db.session.expire_all()
    c1 = client_by("C1")
    assert (c1.phone, c1.email, c1.consent_call, c1.first_name) == (
        "+48600700800", "zofia@example.test", True, "Zofia")


def test_visits_time_zones_amounts_and_statuses(run, clients):
    assert counts(run("visits", DATA / "visits.csv")) == (4, 0, 0, 0)
    got = {v.ref: v for v in db.session.scalars(select(Visit))}
    v1, v2, v3, v4 = got["V1"], got["V2"], got["V3"], got["V4"]
    # No offset: Warsaw local time (UTC+1 in March); decimal comma; empty status = completed.
    assert (v1.visited_at, v1.local_date, v1.date_only) == (datetime(2026, 3, 14, 14, 30), date(2026, 3, 14), False)
    assert (v1.amount, v1.status, v1.served_by, v1.service) == (14950, "completed", "T-PL01", "Masaż stóp, 45 min")
    # Date only: local midnight.
    assert (v2.visited_at, v2.local_date, v2.date_only, v2.amount) == (
        datetime(2026, 3, 13, 23, 0), date(2026, 3, 14), True, 10000)
    # With an offset: that moment; the local date is Tokyo's (already the 15th there); yen have no minor unit.
    assert (v3.visited_at, v3.local_date, v3.amount, v3.status) == (
        datetime(2026, 3, 14, 23, 30), date(2026, 3, 15), 4400, "no_show")
    assert (v4.visited_at, v4.local_date, v4.amount, v4.status) == (
        datetime(2026, 7, 1, 10, 0), date(2026, 7, 1), 250000, "cancelled")
    assert v1.client_id == client_by("C1").id and v3.store_id == client_by("C2").store_id


def test_visits_reimport_is_unchanged_and_a_new_status_is_an_update(run, clients, tmp_path):
    run("visits", DATA / "visits.csv")
    assert counts(run("visits", DATA / "visits.csv")) == (0, 0, 4, 0)
    no_show = DATA.joinpath("visits.csv").read_text().replace(";149,50;;", ";149,50;no_show;")
    assert counts(run("visits", write(tmp_path, no_show))) == (0, 1, 3, 0)
    db.session.expire_all()
    assert db.session.scalar(select(Visit.status).where(Visit.ref == "V1")) == "no_show"


def test_staff_with_roles_teams_languages_and_optional_store(run, stores, tmp_path):
    text = csv_text("staff",
                    "A1,Anna Nowak,Anna@Example.test,agent,Wisła,WAW,pl;en-GB",
                    'M1,Max,max@example.test,"manager;agent",,,en',
                    "T1,Tech,,,,TYO,ja",
                    "P1,POS terminal,,pos,,WAW,")
    assert counts(run("staff", write(tmp_path, text))) == (4, 0, 0, 0)
    a1 = db.session.scalar(select(Staff).where(Staff.employee_code == "A1"))
    assert (a1.email, a1.roles, a1.languages, a1.team.name, a1.store.code) == (
        "anna@example.test", {"agent"}, ["en", "pl"], "Wisła", "WAW")
    m1 = db.session.scalar(select(Staff).where(Staff.employee_code == "M1"))
    assert (m1.roles, m1.team, m1.store, m1.password_hash) == ({"agent", "manager"}, None, None, None)
    assert count(Team) == 1
    assert counts(run("staff", write(tmp_path, text))) == (0, 0, 4, 0)

    changed = text.replace('"manager;agent",,,en', 'manager,Thames,,en;ru').replace(
        "A1,Anna Nowak,Anna@Example.test", "A1,Anna Nowak,anna@example.test")
    assert counts(run("staff", write(tmp_path, changed))) == (0, 1, 3, 0)
    db.session.expire_all()
    m1 = db.session.scalar(select(Staff).where(Staff.employee_code == "M1"))
    assert (m1.roles, m1.languages, m1.team.name) == ({"manager"}, ["en", "ru"], "Thames")
    assert count(StaffRole) == 3 and count(StaffLanguage) == 5 and count(Team) == 2


def test_staff_email_of_someone_else_is_rejected(run, make_staff, tmp_path):
    make_staff("E0", email="taken@example.test")
    text = csv_text("staff", "E1,One,TAKEN@example.test,agent,,,en", "E2,Two,two@example.test,agent,,,en")
    result = run("staff", write(tmp_path, text))
    assert counts(result) == (1, 0, 0, 1)
    assert result["rejects"][0]["line"] == 2 and "already belongs to employee E0" in result["rejects"][0]["reason"]


# ------------------------------------------------------------------ rejects


def test_every_bad_client_row_is_reported_and_the_good_ones_imported(run, stores, tmp_path):
    long_ref = "R" * 65
    text = csv_text(
        "clients",
        "G1,Good,One,501 234 567,,pl,WAW,1,0,0,0,0,",                     # 2
        ",No,Ref,501 234 567,,pl,WAW,1,0,0,0,0,",                         # 3 missing client_ref
        "B2,Bad,Store,501 234 567,,pl,PAR,1,0,0,0,0,",                    # 4 unknown store_code
        "B3,Bad,Bool,501 234 567,,pl,WAW,maybe,0,0,0,0,",                 # 5 invalid boolean
        "B4,Bad,Mail,501 234 567,bad@,pl,WAW,1,0,0,0,0,",                 # 6 invalid e-mail
        "B5,Bad,Lang,501 234 567,,polish,WAW,1,0,0,0,0,",                 # 7 invalid language
        'G2,Good,Two,501 234 568,,pl,WAW,1,0,0,0,0,"multi\nline\nnote"',  # 8-10 one record
        "G1,Dup,Licate,501 234 567,,pl,WAW,1,0,0,0,0,",                   # 11 duplicate key
        "B6,Too,Few,501",                                                 # 12 wrong field count
        f"{long_ref},Too,Long,501 234 567,,pl,WAW,1,0,0,0,0,",            # 13 too long
        "G3,Good,Three,n/a,,,WAW,,,,,,",                                  # 14 good, not callable
    )
    result = run("clients", write(tmp_path, text))
    assert counts(result) == (3, 0, 0, 8)
    assert where(result) == [(3, "client_ref"), (4, "store_code"), (5, "consent_call"), (6, "email"),
                             (7, "language"), (11, "client_ref"), (12, None), (13, "client_ref")]
    reasons = [r["reason"] for r in result["rejects"]]
    assert "required" in reasons[0] and "unknown store_code 'PAR'" in reasons[1]
    assert "earlier row" in reasons[5] and "4 fields but the header has 13" in reasons[6]
    assert "too long" in reasons[7]
    assert {c.ref for c in db.session.scalars(select(Client))} == {"G1", "G2", "G3"}
    assert client_by("G1").first_name == "Good"  # the first row with a key counts
    assert client_by("G2").notes == "multi\nline\nnote"
    stored = db.session.scalars(select(ImportReject).order_by(ImportReject.line)).all()
    assert [r.line for r in stored] == [3, 4, 5, 6, 7, 11, 12, 13]
    assert stored[1].raw == "B2,Bad,Store,501 234 567,,pl,PAR,1,0,0,0,0,"


def test_bad_visit_rows_are_rejected_never_dropped(run, clients, tmp_path):
    text = csv_text(
        "visits",
        "V1,C1,WAW,2026-03-14T15:30,massage,45.50,,",      # 2 good
        "V2,C404,WAW,2026-03-14,massage,45.50,,",          # 3 unknown client_ref
        "V3,C1,WAW,14/03/2026,massage,45.50,,",            # 4 invalid date
        "V4,C1,WAW,2026-03-14,massage,45.5.0,,",           # 5 invalid amount
        "V5,C1,WAW,2026-03-14,massage,45.50,done,",        # 6 invalid status
        "V6,C1,NOPE,2026-03-14,massage,45.50,,",           # 7 unknown store
        "V1,C1,WAW,2026-03-15,massage,45.50,,",            # 8 duplicate visit_ref
        ",C1,WAW,2026-03-15,massage,45.50,,",              # 9 missing visit_ref
    )
    result = run("visits", write(tmp_path, text))
    assert counts(result) == (1, 0, 0, 7)
    assert where(result) == [(3, "client_ref"), (4, "visited_at"), (5, "amount"), (6, "status"),
                             (7, "store_code"), (8, "visit_ref"), (9, "visit_ref")]
    assert "unknown client_ref 'C404'" in result["rejects"][0]["reason"]


def test_bad_store_rows(run, tmp_path):
    text = csv_text("stores", "S1,One,Europe/Warsaw,PL,PLN", "S2,Two,Mars/Olympus,PL,PLN",
                    "S3,Three,Europe/Warsaw,ZZ,PLN", "S4,Four,Europe/Warsaw,PL,EURO", "S5,,Europe/Warsaw,PL,PLN")
    result = run("stores", write(tmp_path, text))
    assert counts(result) == (1, 0, 0, 4)
    assert where(result) == [(3, "timezone"), (4, "country"), (5, "currency"), (6, "name")]


def test_duplicates_are_found_across_batches(app, run, clients, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 3)
    lines = [f"V{i},C1,WAW,2026-01-{i:02d},s,1,," for i in range(1, 8)] + ["V2,C1,WAW,2026-02-01,s,1,,"]
    result = run("visits", write(tmp_path, csv_text("visits", *lines)))
    assert counts(result) == (7, 0, 0, 1)
    assert where(result) == [(9, "visit_ref")]


def test_rejects_beyond_a_thousand_are_stored_but_not_in_the_result(run, stores, tmp_path):
    lines = [f"X{i},A,B,,,,NOPE,,,,,," for i in range(1100)]
    result = run("clients", write(tmp_path, csv_text("clients", *lines)))
    assert result["rejected"] == 1100 and len(result["rejects"]) == 1000 and result["rejects_truncated"]
    assert count(ImportReject) == 1100


def test_hostile_text_is_stored_verbatim(run, stores, tmp_path):
    sql, script, formula = "'; DROP TABLE clients;--", "<script>alert(1)</script>", '=HYPERLINK("http://x")'
    text = csv_text("clients", f'H1,"{sql}",{script},,,,WAW,,,,,,"{formula.replace(chr(34), 2 * chr(34))}"')
    assert counts(run("clients", write(tmp_path, text))) == (1, 0, 0, 0)
    h1 = client_by("H1")
    assert (h1.first_name, h1.last_name, h1.notes) == (sql, script, formula)
    assert count(Client) == 1  # the table is still there


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    ((DATA / "binary.gif").read_bytes(), "binary"),
    ((DATA / "latin1.csv").read_bytes(), "not UTF-8"),
    ("client_ref;first_name\nC1;Ann\n".encode(), "no store_code column"),
    (csv_text("visits", "V1,C1,WAW,2026-01-01,,,,").encode(), "looks like a visits file"),
    ("client_ref,store_code\r\nC1,WAW\r\n".encode("utf-16"), "UTF-16"),
    (b"client_ref,store_code\nC1,WAW\nC2,WAW\n" + b"C3,W\xffAW\n", "line 4"),
])
def test_refused_files_write_nothing(run, stores, tmp_path, content, words):
    path = tmp_path / "refused.csv"
    path.write_bytes(content)
    jobs_before = count(Job)
    with pytest.raises(services.FileRefused) as exc:
        run("clients", path)
    assert words in exc.value.message
    assert count(Client) == 0 and count(Job) == jobs_before and count(JobFileChunk) == 0


def test_a_header_only_file_imports_nothing_and_is_fine(run, stores, tmp_path):
    assert counts(run("clients", write(tmp_path, HEADERS["clients"]))) == (0, 0, 0, 0)


def test_header_names_match_case_insensitively_and_extra_columns_are_ignored(run, stores, tmp_path):
    text = " Client_Ref ;STORE_CODE;Favourite Colour;first_name\nC1;WAW;blue;Ann\n"
    assert counts(run("clients", write(tmp_path, text))) == (1, 0, 0, 0)
    assert client_by("C1").first_name == "Ann"


# ------------------------------------------------------------------ the job


def test_a_retried_job_goes_on_from_its_checkpoint_without_doubling_rejects(run, stores, tmp_path):
    from campaign.core import jobs
    path = write(tmp_path, csv_text("clients", "C1,A,B,,,,WAW,,,,,,", "C2,A,B,,,,NOPE,,,,,,"))
    first = run("clients", path)
    job = db.session.scalar(select(Job).where(Job.kind == "import").order_by(Job.created_at.desc()))
    job.status = "queued"  # as if RQ delivered it again after a crash
    db.session.commit()
    again = jobs.execute(job.id)
    # Every batch was committed with its checkpoint: the retry reports the one clean run
    # (tests/test_faults.py kills a worker in the middle of one).
    assert counts(first) == counts(again) == (1, 0, 0, 1)
    assert count(ImportReject) == 1


def test_statements_grow_with_batches_not_rows(app, run, clients, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 50)
    statements = []

    def counter(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def imported(n_rows: int, prefix: str) -> int:
        lines = [f"{prefix}{i},C{1 + i % 6},WAW,2026-01-01T10:00,s,{i},," for i in range(n_rows)]
        lines[7] = f"{prefix}bad,C404,WAW,2026-01-01,s,1,,"  # a reject in the first batch
        path = write(tmp_path, csv_text("visits", *lines), name=f"{prefix}.csv")
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            result = run("visits", path)
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert counts(result) == (n_rows - 1, 0, 0, 1)
        return len(statements)

    three, six = imported(150, "A"), imported(300, "B")
    per_batch = (six - three) / 3
    assert per_batch <= 8, statements  # today: find visits, find clients, insert, progress
    assert three < 150 / 3


def test_cli_prints_the_summary_line(runner, stores, tmp_path):
    path = write(tmp_path, csv_text("clients", "C1,A,B,,,,WAW,,,,,,", "C2,A,B,,,,NOPE,,,,,,"))
    out = runner.invoke(args=["import", "clients", str(path)])
    assert out.exit_code == 0, out.output
    assert "inserted=1 updated=0 unchanged=0 rejected=1" in out.output
    assert "line 3, store_code: unknown store_code 'NOPE'" in out.output
    again = runner.invoke(args=["import", "clients", str(path)])
    assert "inserted=0 updated=0 unchanged=1 rejected=1" in again.output
    refused = runner.invoke(args=["import", "visits", str(path)])
    assert refused.exit_code == 2 and "refused: This looks like a clients file" in refused.output

"""Use-cases of the CSV import (SPEC §2.1) and of the POS visits API (§2.2).

* ``store_upload`` checks an uploaded file whole (UTF-8 everywhere, no NUL
  byte, a header of the right kind) while keeping it in 1 MiB chunks in the
  database, and starts the import job; a refused file raises ``FileRefused``
  and the caller's rollback takes the job row and the chunks with it.
* ``import_path`` does the same for a file on the server's disk and runs the
  job in the foreground (the CLI).
* ``upsert_visits`` runs a JSON array of visits through the very same row
  rules and batch upsert as the CSV (``Import`` below).

They flush, never commit — except ``import_path``, which is a whole command:
it commits the job row and runs the job, which commits per batch.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ARRAY, any_, delete, insert, literal, select, update

from ..accounts.models import Staff, StaffLanguage, StaffRole, Store, Team
from ..clients.models import Client, Visit
from ..core import clock, csvio, jobs
from ..core.csvio import FileRefused
from ..core.errors import NotFound, ValidationError
from ..core.models import Job, JobFileChunk
from ..extensions import db
from . import rules

__all__ = ["FileRefused", "FileInfo", "Import", "ListRejects", "inspect", "store_upload",
           "import_path", "upsert_visits", "MAX_API_VISITS", "visible_job"]

MAX_API_VISITS = 5000


@dataclass
class FileInfo:
    """What the page shows before the rows are read: kind, how it was found, delimiter."""

    kind: str
    detected: bool
    delimiter: str
    columns: list[str]

    def params(self, check: csvio.FileCheck, filename: str) -> dict:
        return {"kind": self.kind, "detected": self.detected, "delimiter": self.delimiter,
                "filename": filename, "size": check.size, "lines": check.lines, "bom": check.bom}


def inspect(header_line: str, kind: str | None) -> FileInfo:
    """The kind and delimiter of a file from its header line; ``kind`` None = detect.

    Raises ``FileRefused`` when the header cannot be imported as that kind
    (missing columns named, or "this looks like a visits file")."""
    if kind is not None and kind not in rules.KINDS:
        raise ValidationError(f"unknown kind {kind!r}; one of {', '.join(rules.KINDS)}")
    delimiter = csvio.sniff_delimiter(header_line)
    names = csvio.split_header(header_line, delimiter)
    problem = rules.header_problem(kind, names)
    if problem:
        raise FileRefused(problem)
    return FileInfo(kind or rules.detect_kind(names), kind is None, delimiter, names)


def store_upload(stream, *, kind: str | None, filename: str, starter_id: int | None) -> Job:
    """Keep an upload in the database for any worker and start its import job.

    The stream is read 1 MiB at a time; every piece is checked (NUL bytes,
    UTF-8 across piece boundaries) before it is stored, and the header is
    checked as soon as it has been read, so a refused file costs at most the
    pieces read so far — all of them rolled back by the caller."""
    filename = os.path.basename(filename or "upload.csv")[:200]
    job = jobs.start("import", starter_id=starter_id, params={"kind": kind, "filename": filename})
    check = csvio.FileCheck()
    info = None
    seq = 0
    for chunk in csvio.file_chunks(stream):
        check.feed(chunk)
        if info is None and check.header_line:  # refuse a wrong file before storing all of it
            info = inspect(check.header_line, kind)
        db.session.execute(insert(JobFileChunk).values(job_id=job.id, seq=seq, data=chunk))
        seq += 1
    check.finish()
    info = info or inspect(check.header_line, kind)
    job.params = info.params(check, filename)
    db.session.flush()
    return job


def import_path(kind: str, path: str) -> dict:
    """Import a file on this machine in the foreground; returns the job result.

    The file is checked whole first (``FileRefused``, nothing written). The
    job row is created directly rather than through ``jobs.start`` so that it
    is never enqueued: only this process can read the path, and it runs the
    job itself with ``jobs.execute`` (committing per batch)."""
    with open(path, "rb") as f:
        check = csvio.check_chunks(csvio.file_chunks(f))
    info = inspect(check.header_line, kind)
    params = info.params(check, os.path.basename(path)) | {"path": os.path.abspath(path)}
    job = Job(kind="import", starter_id=None, params=params, status="queued", progress=0.0,
              created_at=clock.utcnow_naive())
    db.session.add(job)
    db.session.commit()
    return jobs.execute(job.id)


# ------------------------------------------------------------------ POS API


def upsert_visits(items) -> dict:
    """Upsert a JSON array of visit objects through the CSV's rules and batches.

    ``line`` in a reject is the 1-based index in the array. Idempotent by
    visit_ref like the CSV. Raises ``ValidationError`` for a body that is not
    an array of objects or has more than ``MAX_API_VISITS`` items."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValidationError("send a JSON array of visit objects")
    if len(items) > MAX_API_VISITS:
        raise ValidationError(f"at most {MAX_API_VISITS} visits per call (this one has "
                              f"{len(items)}); send them in several calls")
    columns = rules.COLUMNS["visits"]
    records = ((n, {c: item.get(c) for c in columns}, json.dumps(item, ensure_ascii=False), None)
               for n, item in enumerate(items, 1))
    run = Import("visits", ListRejects())
    for _ in run.run(records):
        pass
    result = run.result()
    result.pop("kind")
    result.pop("rejects_truncated")
    return result


# ------------------------------------------------------------------ who may see


def visible_job(job_id: str, user) -> Job:
    """An import job its starter or an admin may see; anything else is "not found"."""
    job = db.session.get(Job, job_id)
    if job is None or job.kind != "import" or not (job.starter_id == user.id or user.has_role("admin")):
        raise NotFound("There is no such import, or it is not yours to see.")
    return job


# ------------------------------------------------------------------ the batch upsert


class ListRejects:
    """Rejects kept in memory: the API's, at most ``MAX_API_VISITS`` of them."""

    truncated = False

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.count = 0

    def add_batch(self, rejects: list[tuple]) -> None:
        self.items.extend({"line": line, "column": column, "reason": reason}
                          for line, column, reason, _raw in rejects)
        self.count += len(rejects)


def load_stores() -> dict[str, rules.StoreInfo]:
    return {r.code: rules.StoreInfo(r.id, r.timezone, r.country, r.currency)
            for r in db.session.execute(select(Store.code, Store.id, Store.timezone, Store.country,
                                               Store.currency))}


class Import:
    """One pass of upserts over the records of one file (or one API call).

    ``run`` takes ``(line, row, raw, error)`` records and handles them in
    batches of ``IMPORT_BATCH_ROWS``: the rows are parsed by ``rules``, one
    SELECT per batch finds the rows that already exist by key, then one bulk
    INSERT and one bulk UPDATE (by primary key) write the new and the changed
    ones; identical rows are not written at all, so a second import of the same
    file changes nothing. It yields after each batch has been flushed so the
    caller can commit and report progress; a failing batch leaves the earlier
    ones committed and a rerun from the start upserts them again harmlessly.
    """

    def __init__(self, kind: str, rejects: ListRejects, *, batch_rows: int | None = None):
        self.kind, self.key_column = kind, rules.KEY[kind]
        self.table = TABLES[kind](clock.utcnow_naive())
        self.rejects = rejects
        self.batch_rows = batch_rows or current_app.config.get("IMPORT_BATCH_ROWS") or 2000
        self.stores = load_stores() if kind != "stores" else {}
        self.seen = csvio.SeenKeys()
        self.inserted = self.updated = self.unchanged = 0

    def run(self, records: Iterable[tuple]) -> Iterator[None]:
        """Parse each record as it comes (only its values and raw text are kept)
        and write every ``batch_rows`` records; yields after each batch."""
        parse, key_attr, stores = rules.PARSERS[self.kind], self.table.key, self.stores
        good: list[tuple] = []
        rejected: list[tuple] = []
        keys: set = set()
        for line, row, raw, error in records:
            try:
                if error is not None:
                    raise error
                values = parse(row, stores)
            except rules.RowError as exc:
                rejected.append((line, exc.column, exc.reason, raw))
            else:
                key = values[key_attr]
                if key in keys or key in self.seen:
                    rejected.append((line, self.key_column, f"{self.key_column} {key!r} is on an "
                                     "earlier row of this file; only the first row with it counts", raw))
                else:
                    keys.add(key)
                    good.append((line, values, raw))
            if len(good) + len(rejected) >= self.batch_rows:
                self._write(good, rejected, keys)
                good, rejected, keys = [], [], set()
                yield
        if good or rejected:
            self._write(good, rejected, keys)
            yield

    def _write(self, good: list[tuple], rejected: list[tuple], keys: set) -> None:
        """One batch: resolve references, one SELECT of what exists, bulk INSERT
        of the new rows, bulk UPDATE of the changed ones, bulk INSERT of rejects."""
        self.seen.add_many(keys)
        good = self.table.resolve(good, lambda *reject: rejected.append(reject))
        key_attr, columns = self.table.key, self.table.columns
        existing = self.table.existing([values[key_attr] for _, values, _ in good])
        inserts, updates = [], []
        for _line, values, _raw in good:
            current = existing.get(values[key_attr])
            if current is None:
                inserts.append(values)
            elif any(current[c] != v for c, v in values.items() if c in columns):
                updates.append(values | {"id": current["id"]})
            else:
                self.unchanged += 1
        self.table.write(inserts, updates)
        self.inserted += len(inserts)
        self.updated += len(updates)
        rejected.sort(key=lambda r: r[0])
        self.rejects.add_batch(rejected)
        db.session.flush()

    def result(self) -> dict:
        return {"kind": self.kind, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejects.count,
                "rejects": self.rejects.items, "rejects_truncated": self.rejects.truncated}


# ------------------------------------------------------------------ tables


def _parts(items: list, size: int = 5000) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _among(column, keys: list):
    """``column IN (keys)``; on PostgreSQL ``column = ANY(:array)``, one parameter
    instead of thousands (half the time per batch, and one cached statement)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(keys, ARRAY(column.type)))
    return column.in_(keys)


class _Table:
    """How one kind's rows meet its table: compared columns, defaults, writes."""

    model = None
    key = "ref"
    columns: tuple[str, ...] = ()
    defaults: dict = {}
    stamped = True  # has created_at / updated_at

    def __init__(self, now):
        self.now = now

    def resolve(self, rows: list, reject) -> list:
        return rows

    def existing(self, keys: list) -> dict:
        key_col = getattr(self.model, self.key)
        cols = [self.model.id, key_col] + [getattr(self.model, c) for c in self.columns]
        out = {}
        for part in _parts(keys):
            for row in db.session.execute(select(*cols).where(_among(key_col, part))):
                out[row[1]] = row._asdict()
        return out

    def write(self, inserts: list, updates: list) -> None:
        stamps = {"created_at": self.now, "updated_at": self.now} if self.stamped else {}
        if inserts:  # Core INSERT of the table: an executemany without ORM bookkeeping
            for values in inserts:
                for column, default in self.defaults.items():
                    values.setdefault(column, default)
                values.update(stamps)
            db.session.execute(insert(self.model.__table__), inserts)
        if updates:
            if self.stamped:
                updates = [u | {"updated_at": self.now} for u in updates]
            db.session.execute(update(self.model), updates)


class _Stores(_Table):
    model, key, stamped = Store, "code", False
    columns = ("name", "timezone", "country", "currency")


class _Clients(_Table):
    model = Client
    columns = ("store_id", "first_name", "last_name", "phone", "phone_callable", "email", "language",
               *rules.BOOLEAN_COLUMNS, "notes")
    defaults = {"first_name": "", "last_name": "", "phone": None, "phone_callable": False, "email": None,
                "language": None, "notes": None, **{c: False for c in rules.BOOLEAN_COLUMNS}}


class _Visits(_Table):
    model = Visit
    columns = ("client_id", "store_id", "visited_at", "local_date", "date_only", "service", "amount",
               "status", "served_by")
    defaults = {"service": None, "amount": None, "status": "completed", "served_by": None}

    def resolve(self, rows, reject):
        """client_ref → client_id with one query per batch; an unknown ref is rejected."""
        refs = list({values["client_ref"] for _, values, _ in rows})
        ids = {}
        for part in _parts(refs):
            ids.update(db.session.execute(select(Client.ref, Client.id)
                                          .where(_among(Client.ref, part))).all())
        out = []
        for line, values, raw in rows:
            ref = values.pop("client_ref")
            if ref not in ids:
                reject(line, "client_ref", f"unknown client_ref {ref!r}; import the client in "
                                           "clients.csv first", raw)
                continue
            values["client_id"] = ids[ref]
            out.append((line, values, raw))
        return out


class _Staff(_Table):
    """Staff with their roles, languages and team (by name, created as needed).

    Passwords and the active flag are never touched by an import."""

    model, key, stamped = Staff, "employee_code", False
    columns = ("name", "email", "store_id", "team", "roles", "languages")
    defaults = {"email": None, "store_id": None, "team": None, "roles": [], "languages": []}

    def __init__(self, now):
        super().__init__(now)
        self.teams = dict(db.session.execute(select(Team.name, Team.id)).all())

    def resolve(self, rows, reject):
        """An e-mail already used by someone else (in the table) is rejected."""
        emails = list({v["email"] for _, v, _ in rows if v.get("email")})
        owner = {}
        for part in _parts(emails):
            owner.update(db.session.execute(select(Staff.email, Staff.employee_code)
                                            .where(_among(Staff.email, part))).all())
        out = []
        for line, values, raw in rows:
            other = owner.get(values.get("email"))
            if other is not None and other != values["employee_code"]:
                reject(line, "email", f"e-mail {values['email']!r} already belongs to employee "
                                      f"{other}", raw)
                continue
            out.append((line, values, raw))
        return out

    def existing(self, keys):
        out = {}
        for part in _parts(keys):
            rows = db.session.execute(
                select(Staff.id, Staff.employee_code, Staff.name, Staff.email, Staff.store_id,
                       Team.name.label("team")).outerjoin(Team, Staff.team_id == Team.id)
                .where(_among(Staff.employee_code, part)))
            found = {r.id: r._asdict() | {"roles": [], "languages": []} for r in rows}
            for model, attr, field in ((StaffRole, StaffRole.role, "roles"),
                                       (StaffLanguage, StaffLanguage.language, "languages")):
                for staff_id, value in db.session.execute(
                        select(model.staff_id, attr).where(model.staff_id.in_(list(found)))
                        .order_by(attr)):
                    found[staff_id][field].append(value)
            out.update({r["employee_code"]: r for r in found.values()})
        return out

    def write(self, inserts, updates):
        wanted = {v.get("team") for v in inserts + updates} - {None} - set(self.teams)
        if wanted:
            db.session.execute(insert(Team), [{"name": name} for name in sorted(wanted)])
            self.teams.update(db.session.execute(select(Team.name, Team.id)
                                                 .where(Team.name.in_(list(wanted)))).all())
        children = []
        if inserts:
            rows = [self._row(self.defaults | v) for v in inserts]
            db.session.execute(insert(Staff), rows)
            ids = dict(db.session.execute(select(Staff.employee_code, Staff.id).where(
                Staff.employee_code.in_([v["employee_code"] for v in inserts]))).all())
            children += [(ids[v["employee_code"]], v) for v in inserts]
        if updates:
            db.session.execute(update(Staff), [self._row(v) | {"id": v["id"]} for v in updates])
            children += [(v["id"], v) for v in updates]
        for model, field in ((StaffRole, "roles"), (StaffLanguage, "languages")):
            attr = "role" if field == "roles" else "language"
            changed = [(sid, v) for sid, v in children if field in v]
            if not changed:
                continue
            db.session.execute(delete(model).where(model.staff_id.in_([sid for sid, _ in changed])))
            new = [{"staff_id": sid, attr: x} for sid, v in changed for x in v[field]]
            if new:
                db.session.execute(insert(model), new)

    def _row(self, values: dict) -> dict:
        row = {k: v for k, v in values.items() if k not in ("roles", "languages", "team", "id")}
        if "team" in values:
            row["team_id"] = self.teams.get(values["team"]) if values["team"] else None
        return row


TABLES = {"stores": _Stores, "staff": _Staff, "clients": _Clients, "visits": _Visits}

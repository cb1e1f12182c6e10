"""Use-cases of the CSV import (SPEC §2.1) and of the POS visits API (§2.2).

* ``store_upload`` checks an uploaded file whole (UTF-8 everywhere, no NUL
  byte, a header of the right kind) while keeping it in 1 MiB chunks in the
  database, and starts the import job; a refused file raises ``FileRefused``
  and the caller's rollback takes the job row and the chunks with it.
* ``import_path`` does the same for a file on the server's disk and runs the
  job in the foreground (the CLI).
* ``upsert_visits`` runs a JSON array of visits through the very same row
  rules and batch upsert as the CSV (``upsert.Import``).

They flush, never commit — except ``import_path``, which is a whole command:
it commits the job row and runs the job, which commits per batch.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from sqlalchemy import insert

from ..core import clock, csvio, jobs
from ..core.csvio import FileRefused
from ..core.errors import NotFound, ValidationError
from ..core.models import Job, JobFileChunk
from ..extensions import db
from . import rules
from .upsert import Import, ListRejects

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
    if not any(d in header_line for d in csvio.DELIMITERS) and any(d in header_line for d in "\t|"):
        # Every kind has two columns or more: this header is not split by , or ;.
        raise FileRefused("The columns are separated by " + ("tabs" if "\t" in header_line else
                                                             "vertical bars (|)")
                          + "; a CSV file separates them by commas or semicolons. Save the file as "
                            "“CSV UTF-8” and upload that.")
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

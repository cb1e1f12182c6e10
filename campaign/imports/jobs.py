"""The import job body (``jobs.HANDLERS["import"]``) and what only it needs.

``run_import(job, progress)`` reads the file back — from the database chunks
of an upload, or from ``params["path"]`` for the CLI — through a byte counter,
upserts it batch by batch and calls ``progress`` (which commits) after each
batch. Each batch also saves a checkpoint in the job's params (the last line
written and the counts so far), in the batch's own transaction; so a retry
(after an error, or after its worker died) goes on after the last committed
batch and ends with the counts, rejects and follow-up of one clean run.
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import delete, func, insert, select

from ..core import audit, csvio, jobs
from ..core.models import Job, JobFileChunk
from ..extensions import db
from . import rules
from .models import ImportReject
from .upsert import Import, ListRejects


def run_import(job: Job, progress) -> dict:
    job_id, params = job.id, dict(job.params)
    kind = params["kind"]
    done = params.pop(CHECKPOINT, None)  # the batches an earlier attempt committed
    if done is None:
        forget_rejects(job_id)
    chunks = path_chunks(params["path"]) if params.get("path") else stored_chunks(job_id)
    reader = csvio.CountingReader(chunks)
    size = max(1, params.get("size") or 1)
    records = rules.csv_records(csvio.text_stream(reader), params["delimiter"], kind)
    rejects = StoredRejects(job_id)
    run = Import(kind, rejects)
    if done is not None:
        rejects.restore()
        records = run.resume(records, done)
    for _ in run.run(records):
        # One UPDATE of the job's row per batch, committed with the batch: progress and checkpoint.
        progress(min(0.99, reader.bytes_read / size), params=params | {CHECKPOINT: run.checkpoint()})
    drop_upload(job_id)
    result = run.result()
    if run.marked:
        # Attribute the visits of called clients that arrived (marked with each batch).
        result["scores_job"] = jobs.start("scores_refresh", starter_id=job.starter_id).id
    audit.record("import", actor_id=job.starter_id, target=f"job:{job_id}", kind=kind,
                 filename=params.get("filename"), **{k: result[k] for k in
                                                     ("inserted", "updated", "unchanged", "rejected")})
    return result


CHECKPOINT = "checkpoint"


class StoredRejects(ListRejects):
    """Rejects of an import job: all in ``import_rejects`` with the row as sent
    (one bulk INSERT per batch), the first ``keep`` also in the job result."""

    def __init__(self, job_id: str, keep: int = 1000) -> None:
        super().__init__()
        self.job_id, self.keep = job_id, keep

    def add_batch(self, rejects: list[tuple]) -> None:
        if not rejects:
            return
        db.session.execute(insert(ImportReject), [
            {"job_id": self.job_id, "line": line, "column": column, "reason": reason[:300],
             "raw": raw} for line, column, reason, raw in rejects])
        room = max(0, self.keep - len(self.items))
        super().add_batch(rejects[:room])
        self.count += len(rejects) - min(room, len(rejects))
        self.truncated = self.count > len(self.items)

    def restore(self) -> None:
        """Take back the rejects of the batches an earlier attempt committed."""
        self.count = db.session.scalar(select(func.count()).select_from(ImportReject)
                                       .where(ImportReject.job_id == self.job_id)) or 0
        self.items = [{"line": line, "column": column, "reason": reason} for line, column, reason in
                      db.session.execute(select(ImportReject.line, ImportReject.column, ImportReject.reason)
                                         .where(ImportReject.job_id == self.job_id)
                                         .order_by(ImportReject.line, ImportReject.id).limit(self.keep))]
        self.truncated = self.count > len(self.items)


def forget_rejects(job_id: str) -> None:
    """An attempt without a checkpoint starts from the first row: no rejects of an earlier one stay."""
    db.session.execute(delete(ImportReject).where(ImportReject.job_id == job_id))


def path_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from csvio.file_chunks(f, csvio.READ_BUFFER)


def stored_chunks(job_id: str) -> Iterator[bytes]:
    """The uploaded file back, one 1 MiB piece (one query) at a time."""
    seq = 0
    while True:
        data = db.session.scalar(select(JobFileChunk.data).where(
            JobFileChunk.job_id == job_id, JobFileChunk.seq == seq))
        if data is None:
            return
        yield bytes(data)
        seq += 1


def drop_upload(job_id: str) -> None:
    """The stored file is not needed once its import has finished."""
    db.session.execute(delete(JobFileChunk).where(JobFileChunk.job_id == job_id))

"""Imports pages: upload, a job's progress and result, its rejects as CSV.

Admins and managers may upload; a job's page and rejects are for its starter
or an admin (404 for anyone else, who need not know it exists).
"""
from __future__ import annotations

from flask import (Blueprint, Response, jsonify, redirect, render_template, request, stream_with_context,
                   url_for)
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import roles_required
from ..accounts.models import Staff
from ..core import csvio
from ..core.i18n import N_, translated
from ..core.models import Job
from ..extensions import db
from . import rules, services
from .forms import UploadForm
from .models import ImportReject

bp = Blueprint("imports", __name__)
ROLES = ("admin", "manager")
PER_PAGE = 20
SHOWN_REJECTS = 50
DELIMITER_NAMES = {",": N_("comma ( , )"), ";": N_("semicolon ( ; )")}


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(*ROLES)
def upload():
    form = UploadForm()
    error = filename = None
    if form.validate_on_submit():
        upload = form.file.data
        filename = upload.filename
        try:
            job = services.store_upload(upload.stream, kind=form.kind.data or None,
                                        filename=upload.filename, starter_id=current_user.id)
        except services.FileRefused as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            return redirect(url_for("imports.show", job_id=job.id))
    elif request.method == "POST":
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render_template("imports/upload.html", form=form, error=error, filename=filename,
                           columns=rules.COLUMNS,
                           pagination=_recent(), names=_names()), 422 if error else 200


def _recent():
    q = select(Job).where(Job.kind == "import").order_by(Job.created_at.desc(), Job.id)
    if not current_user.has_role("admin"):
        q = q.where(Job.starter_id == current_user.id)
    page = max(1, request.args.get("page", 1, type=int))
    return db.paginate(q, page=page, per_page=PER_PAGE, error_out=False)


def _names() -> dict[int, str]:
    if not current_user.has_role("admin"):
        return {current_user.id: current_user.name}
    return dict(db.session.execute(select(Staff.id, Staff.name)).all())


@bp.get("/imports/<job_id>")
@roles_required(*ROLES)
def show(job_id):
    job = services.visible_job(job_id, current_user)
    rejects = db.session.scalars(select(ImportReject).where(ImportReject.job_id == job.id)
                                 .order_by(ImportReject.id).limit(SHOWN_REJECTS)).all()
    starter = db.session.get(Staff, job.starter_id) if job.starter_id else None
    return render_template("imports/job.html", job=job, params=job.params or {},
                           result=job.result or {}, rejects=rejects, shown=SHOWN_REJECTS,
                           starter=starter, delimiter_names=translated(DELIMITER_NAMES))


@bp.get("/imports/<job_id>/status.json")
@roles_required(*ROLES)
def status(job_id):
    job = services.visible_job(job_id, current_user)
    result = {k: v for k, v in (job.result or {}).items() if k != "rejects"}
    return jsonify({"id": job.id, "status": job.status, "progress": round(job.progress or 0.0, 4),
                    "result": result or None, "error": job.error if job.status == "failed" else None})


@bp.get("/imports/<job_id>/rejects.csv")
@roles_required(*ROLES)
def rejects_csv(job_id):
    """Every reject of the job, streamed in pages of 1000; cells are neutralised
    so a spreadsheet never runs a formula that came in with the file."""
    job = services.visible_job(job_id, current_user)
    job_id = job.id

    def rows():
        yield ("line", "column", "reason", "row as sent")
        last = 0
        while True:
            page = db.session.execute(
                select(ImportReject.id, ImportReject.line, ImportReject.column, ImportReject.reason,
                       ImportReject.raw).where(ImportReject.job_id == job_id, ImportReject.id > last)
                .order_by(ImportReject.id).limit(1000)).all()
            if not page:
                return
            for r in page:
                yield r.line, r.column, r.reason, r.raw
            last = page[-1].id

    name = f"{(job.params or {}).get('kind', 'import')}-rejects-{job_id[:8]}.csv"
    return Response(stream_with_context(csvio.csv_lines(rows())), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

from flask import g, jsonify

from ..accounts.auth import api_error, api_roles
from ..core.models import Job
from ..extensions import db
from . import bp


def job_body(job: Job) -> dict:
    return {"id": job.id, "kind": job.kind, "status": job.status,
            "progress": round(job.progress or 0.0, 4), "result": job.result,
            "error": job.error if job.status == "failed" else None}


@bp.get("/jobs/<job_id>")
@api_roles("agent", "manager", "payroll", "admin", "pos")
def get_job(job_id):
    job = db.session.get(Job, job_id)
    # Only the starter sees a job; others are told it does not exist (404).
    if job is None or job.starter_id != g.api_user.id:
        return api_error(404, "not_found", "no such job")
    return jsonify(job_body(job))

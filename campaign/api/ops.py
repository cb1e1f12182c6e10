"""Health and status for operators (docs/operations.md "Monitoring").

``GET /healthz`` (and ``/api/v1/health``) answer a load balancer: 200 when
the database (and Redis, with REDIS_URL) answer, 503 otherwise, naming only
which check failed. ``GET /api/v1/status`` (admin) gives queue depth,
running, scheduled and failed jobs, live workers and what is stuck.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..accounts.auth import api_roles, public
from ..core import ops
from . import bp

root = Blueprint("ops", __name__)


def _health():
    ok, checks = ops.health()
    resp = jsonify({"status": "ok" if ok else "unavailable", **checks})
    resp.status_code = 200 if ok else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


@root.get("/healthz")
@public
def healthz():
    return _health()


@bp.get("/health")
@public
def health():
    return _health()


@bp.get("/status")
@api_roles("admin")
def status():
    st = ops.status()
    return jsonify({**st, "problems": ops.problems(st)})

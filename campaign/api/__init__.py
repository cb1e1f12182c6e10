"""The JSON API under /api/v1: thin adapters over the feature services.

Each module adds its routes to ``bp``; ``openapi.py`` describes them all (a
test fails if a route is missing from the document).
"""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import bonuses, calls, campaigns, clients, imports, jobs, openapi, ops, outbox, privacy, reports, scores, scripts  # noqa: E402,F401  (route registration)

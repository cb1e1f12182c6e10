"""Reports pages and the campaign dashboard's scoring panel (filled in by the reports work)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__)

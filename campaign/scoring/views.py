"""Leaderboard, wall screen and competition pages."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("scoring", __name__)

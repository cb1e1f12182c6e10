"""Leaderboards and competitions under /api/v1."""

"""Conversions, leaderboards, competitions, lift and reports (SPEC §7)."""

"""Bonuses and the payroll export (SPEC §8)."""

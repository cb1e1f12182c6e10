"""Shared infrastructure: clock, money, auth helpers, jobs seam, CSV I/O, errors.

Nothing in ``core`` imports a feature package.
"""

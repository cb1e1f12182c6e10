"""JSON/CSV reports and lift under /api/v1 (filled in by the reports work)."""

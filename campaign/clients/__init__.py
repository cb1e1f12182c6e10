"""Clients, their visits, and who is dormant (SPEC §3)."""

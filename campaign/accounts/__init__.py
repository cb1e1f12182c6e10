"""Stores, teams, staff (users and roles), sign-in sessions and API tokens."""

"""OpenAPI paths and schemas of the leaderboard and competitions endpoints."""
PATHS: dict = {}
SCHEMAS: dict = {}

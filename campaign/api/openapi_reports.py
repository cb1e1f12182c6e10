"""OpenAPI paths and schemas of the reports and lift endpoints."""
PATHS: dict = {}
SCHEMAS: dict = {}

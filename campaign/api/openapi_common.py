"""Building blocks shared by every part of the OpenAPI document."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def err(description: str) -> dict:
    """An error response: the standard ``{"error": {"code", "message"}}`` body."""
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def json_body(description: str, schema: dict) -> dict:
    """A JSON response with its schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}

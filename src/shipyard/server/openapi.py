"""The OpenAPI document states every error a route can answer, with the one JSON envelope.

:func:`document_errors` wraps the app's schema generation, so every operation, whichever router
declares it, lists the error statuses the server's shared machinery can produce:

- every operation: 404 (an object it names does not exist), 422 (invalid parameters or body,
  a URL holding control characters), 503 (a backend is unavailable);
- an operation that needs a token (its security lists the bearer scheme): 401 and 403;
- an operation that changes state (not ``GET``): 409 (conflicts with the current state);
- an operation with a request body: 400 (it cannot be decoded) and 413 (larger than its route
  class allows).

A route's own ``responses=`` entry for a status wins (its description is kept; the envelope schema
is added when it declared no content). Routes added later are covered without doing anything.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

#: Status -> what it means on any route.
DESCRIPTIONS = {
    400: "The body could not be decoded (it is not UTF-8, or not in the declared media type).",
    401: "No token, or an invalid, expired or revoked one.",
    403: "The caller's roles do not allow this action on this object.",
    404: "An object the request names does not exist (or the caller may not read it).",
    409: "The request conflicts with the object's current state.",
    413: "The request body is larger than the server accepts for this route.",
    422: "The request is invalid; `field` names the offending parameter or body field.",
    503: "A backend the server needs is unavailable.",
}


class ErrorDetail(BaseModel):
    type: str = Field(description="The `shipyard.errors` class name, e.g. NotFound, InvalidInput.")
    message: str
    field: str | None = Field(description="The offending field or parameter, when there is one.")


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def _codes(method: str, operation: dict[str, Any]) -> list[int]:
    codes = [404, 422, 503]
    if operation.get("security"):
        codes += [401, 403]
    if method != "get":
        codes.append(409)
    if "requestBody" in operation:
        codes += [400, 413]
    return sorted(codes)


def add_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses and the envelope's schema to an OpenAPI document (in place)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in envelope.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault("ErrorOut", envelope)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code in _codes(method, operation):
                entry = responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
                entry.setdefault("content", content)
    return schema


def document_errors(api: FastAPI) -> None:
    """Make ``api``'s OpenAPI document list the error responses of every operation."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = add_error_responses(generate())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


__all__ = ["ErrorOut", "add_error_responses", "document_errors"]

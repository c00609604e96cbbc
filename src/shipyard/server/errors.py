"""Errors as HTTP responses: one JSON envelope for every failure.

Every error body is ``{"error": {"type": "<ShipyardError class name>", "message": "...", "field":
"..." | null}}``. ``type`` is the name of the :mod:`shipyard.errors` class the remote client raises
again, so a caller sees the same exception locally and remotely; the status code follows HTTP
semantics (table below). Request validation failures are ``InvalidInput`` (422) with the offending
field in ``field`` and in the message. Unexpected exceptions are answered by
:class:`~shipyard.server.telemetry.RequestContextMiddleware` with a generic 500 (the traceback is
logged, never sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shipyard.errors import (
    AlreadyExists,
    BackendUnavailable,
    ConfigError,
    Conflict,
    CorruptArtifact,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ShipyardError,
    Unauthenticated,
)

#: Status code of each error class; subclasses inherit their parent's code (looked up along the MRO).
STATUS: dict[type[ShipyardError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    Unauthenticated: 401,
    PermissionDenied: 403,
    CorruptArtifact: 500,  # stored bytes are damaged: the server's problem, not the caller's
    ConfigError: 500,
    BackendUnavailable: 503,
}

#: The error ``type`` of plain HTTP errors raised by the framework (unknown route, wrong method).
_HTTP_TYPES = {
    401: "Unauthenticated",
    403: "PermissionDenied",
    404: "NotFound",
    409: "Conflict",
    503: "BackendUnavailable",
}

INTERNAL_MESSAGE = "internal server error"


def status_of(exc: ShipyardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def envelope(kind: str, message: str, field: str | None = None) -> dict[str, dict[str, str | None]]:
    return {"error": {"type": kind, "message": message, "field": field}}


def error_response(exc: ShipyardError, *, status: int | None = None) -> JSONResponse:
    """The response for ``exc``; ``status`` overrides the class's default code."""
    code = status if status is not None else status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(
        envelope(type(exc).__name__, exc.message, exc.field), status_code=code, headers=headers
    )


def internal_error_response(request_id: str | None) -> JSONResponse:
    message = INTERNAL_MESSAGE if request_id is None else f"{INTERNAL_MESSAGE} (request id {request_id})"
    return JSONResponse(envelope("InternalError", message), status_code=500)


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "points", 3, 1)`` -> ``"body.points[3][1]"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


async def _shipyard_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShipyardError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = list(exc.errors())
    first: dict[str, Any] = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":  # loc holds a character position, not a field
        detail = (first.get("ctx") or {}).get("error", "")
        message = f"the request body is not valid JSON{f': {detail}' if detail else ''}"
        return JSONResponse(envelope("InvalidInput", message, "body"), status_code=422)
    field = field_path(first.get("loc", ()))
    message = f"{field}: {first['msg']}" if field else str(first["msg"])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return JSONResponse(envelope("InvalidInput", message, field or None), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = _HTTP_TYPES.get(exc.status_code, "InvalidInput" if exc.status_code < 500 else "InternalError")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(envelope(kind, message), status_code=exc.status_code, headers=headers or None)


def install_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(ShipyardError, _shipyard_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(HTTPException, _http_error)

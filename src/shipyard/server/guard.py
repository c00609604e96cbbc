"""The checks every request passes before its route reads the body.

:class:`GuardMiddleware`, in order:

1. Refuses paths and query strings holding control characters (422).
2. On a state-changing request to the web UI (``POST``/``PUT``/``PATCH``/``DELETE`` under ``/ui``),
   refuses another site's request (403): ``Sec-Fetch-Site`` must not be ``cross-site`` or
   ``same-site``, and an ``Origin`` header must name this server.
3. Refuses a request to an API route that needs a token (any route whose dependencies include
   :func:`~shipyard.server.deps.authorize`) and carries none with 401, before the body is read,
   whatever the body holds. The token itself is checked by ``authorize`` (one read transaction
   with the grants), so a wrong token is 401 too, but after the body, within its size limit.
4. Limits the body by the route's class: ``upload`` routes (declared with
   ``openapi_extra=UPLOAD``) take up to ``max_upload_bytes``, every other route
   ``max_body_bytes``. A ``Content-Length`` past the limit is 413 before a byte is read; a body
   streamed past it is cut off with 413.
5. Adds the browser defences to every response: ``X-Content-Type-Options: nosniff``,
   ``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin`` and, on the UI, a
   ``Content-Security-Policy`` that allows only this server's own scripts (inline styles are
   allowed: the charts set them).

New routes are covered without any change here: their class comes from the route itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.errors import InvalidInput, PermissionDenied, Unauthenticated
from shipyard.server.deps import TOKEN_COOKIE
from shipyard.server.errors import envelope, error_response

#: ``openapi_extra`` of a route whose body is a file (artifact, package, Parquet frame).
UPLOAD: dict[str, Any] = {"x-body-class": "upload"}
UI_PREFIX = "/ui"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
#: The browser defences every response carries.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (FastAPI re-raises
    HTTPExceptions from body parsing unchanged, so the caller gets 413, not 400)."""


def _needs_token(route: APIRoute) -> bool:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if getattr(dependant.call, "shipyard_action", None) is not None:
            return True
        stack.extend(dependant.dependencies)
    return False


class GuardMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.limits = {"json": max_body_bytes, "upload": max_upload_bytes}
        self._table: list[tuple[Any, tuple[str, bool]]] | None = None

    def _route_info(self, scope: Scope) -> tuple[str, bool]:
        """The matched route's body class and whether it needs a token."""
        if self._table is None:
            table = []
            for context in iter_route_contexts(scope["app"].routes):
                route = context.original_route
                kind, needs = "json", False
                if isinstance(route, APIRoute):
                    kind = (route.openapi_extra or {}).get("x-body-class", "json")
                    needs = _needs_token(route)
                table.append((context, (kind, needs)))
            self._table = table
        for context, info in self._table:
            match, _ = context.matches(scope)
            if match is Match.FULL:
                return info
        return "json", False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_ui = path == UI_PREFIX or path.startswith(f"{UI_PREFIX}/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers[name.decode()] = value.decode()
                if is_ui:
                    headers["Content-Security-Policy"] = CSP
            await send(message)

        refusal = await self._refusal(scope, is_ui)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, self._limited(scope, receive), send_with_headers)

    async def _refusal(self, scope: Scope, is_ui: bool) -> Any:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_query = scope.get("query_string", b"").decode("latin-1")
        if any(ord(c) < 32 or ord(c) == 127 for c in scope["path"] + unquote(raw_query)):
            return error_response(InvalidInput("the URL holds control characters", field="path"))
        if is_ui and scope["method"] in _UNSAFE_METHODS and not _same_origin(headers):
            return error_response(
                PermissionDenied(
                    "cross-site request refused: the web UI accepts forms from its own pages only"
                )
            )
        kind, needs_token = self._route_info(scope)
        length = headers.get("content-length", "")
        limit = self.limits.get(kind, self.limits["json"])
        if needs_token and not is_ui:
            principal = await self._authenticate(scope, headers)
            if not isinstance(principal, dict):
                return principal
        if length.isdigit() and int(length) > limit:
            return _too_large(kind, limit)
        scope["shipyard.body_limit"] = (kind, limit)
        return None

    async def _authenticate(self, scope: Scope, headers: dict[str, str]) -> Any:
        secret = ""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            secret = auth[7:].strip()
        if not secret:
            secret = _cookie(headers.get("cookie", ""), TOKEN_COOKIE)
        if not secret:
            return error_response(
                Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
            )
        return {}  # the token itself is checked by ``authorize``, in the request's one read transaction

    @staticmethod
    def _limited(scope: Scope, receive: Receive) -> Receive:
        kind, limit = scope.get("shipyard.body_limit", ("json", 0))
        if not limit:
            return receive
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(413, _too_large_message(kind, limit))
            return message

        return limited


def _too_large_message(kind: str, limit: int) -> str:
    setting = "max_upload_bytes" if kind == "upload" else "max_body_bytes"
    return f"the request body is larger than {limit} bytes (setting {setting})"


def _too_large(kind: str, limit: int) -> JSONResponse:
    return JSONResponse(envelope("InvalidInput", _too_large_message(kind, limit), "body"), status_code=413)


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _same_origin(headers: dict[str, str]) -> bool:
    if headers.get("sec-fetch-site", "") in {"cross-site", "same-site"}:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser form post (browsers send Origin on every POST)
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()

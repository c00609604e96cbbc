"""How the web UI answers failures: a browser gets pages, not JSON envelopes.

Every UI route is a :class:`UIRoute`. Authentication is the one in :mod:`shipyard.server.deps`
(each page declares ``authorize(<action>)``); here its :class:`~shipyard.errors.Unauthenticated` turns
into ``303 See Other`` to ``/ui/login?next=<the page>``, and any other Shipyard error into an HTML
error page with the status the API would use.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from shipyard.errors import ShipyardError, Unauthenticated
from shipyard.server.deps import TOKEN_COOKIE
from shipyard.server.errors import field_path, status_of
from shipyard.server.ui.rendering import render

UI_PREFIX = "/ui"
LOGIN_PATH = f"{UI_PREFIX}/login"


def safe_next(target: str | None) -> str:
    """``target`` if it is a page of this UI (a local ``/ui…`` path), else the UI's home.

    Guards the login redirect against open redirects: no scheme, no host, no ``//`` or backslash
    tricks, no control characters."""
    if not target or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return UI_PREFIX
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return UI_PREFIX
    # Dot segments (also percent-encoded) could climb out of /ui once the browser resolves them.
    decoded = unquote(parts.path)
    if "%" in decoded or posixpath.normpath(decoded) != decoded.rstrip("/") or "/." in decoded:
        return UI_PREFIX
    if parts.path != UI_PREFIX and not parts.path.startswith(f"{UI_PREFIX}/"):
        return UI_PREFIX
    if parts.path.startswith(LOGIN_PATH):
        return UI_PREFIX
    return target


def login_url(request: Request, *, reason: str | None = None) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": here} | ({"reason": reason} if reason else {})
    return f"{LOGIN_PATH}?{urlencode(query)}"


def login_redirect(request: Request) -> RedirectResponse:
    # A cookie that no longer authenticates (expired, revoked) is dropped, and the login page says why.
    stale = TOKEN_COOKIE in request.cookies
    response = RedirectResponse(login_url(request, reason="expired" if stale else None), status_code=303)
    if stale:
        response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


class UIRoute(APIRoute):
    """An API route whose failures are answered for a browser (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Unauthenticated:
                return login_redirect(request)
            except ShipyardError as exc:
                return render(
                    request,
                    "error.html",
                    {"message": exc.message, "status": status_of(exc)},
                    status_code=status_of(exc),
                )
            except RequestValidationError as exc:
                first = next(iter(exc.errors()), {"loc": (), "msg": "invalid request"})
                message = f"{field_path(first.get('loc', ()))}: {first['msg']}"
                return render(request, "error.html", {"message": message, "status": 422}, status_code=422)

        return route

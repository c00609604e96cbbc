"""Request dependencies: the composition root's services, and authorization.

:func:`authorize` is the one gate every route except ``/health`` passes: each route declares the
action it performs (``Depends(authorize("tracking.write"))``), and this module decides whether the
caller may. Today that means "holds a valid token", sent as a bearer header (API clients) or in the
``shipyard_token`` cookie the web UI's login sets (HttpOnly, SameSite=Strict); roles will be
checked here, in :func:`authorize`, and nowhere else. A failure is always
:class:`~shipyard.errors.Unauthenticated`: the API answers it with 401 JSON, the web UI's routes
with a redirect to its login page (:mod:`shipyard.server.ui.routing`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipyard.accounts.model import Principal
from shipyard.app import App
from shipyard.errors import Unauthenticated
from shipyard.server.telemetry import Telemetry
from shipyard.tracking.service import TrackingService

#: Every action a route may declare. A typo in a router fails at import, not at request time.
ACTIONS = frozenset(
    {"tracking.read", "tracking.write", "artifacts.read", "artifacts.write", "system.metrics"}
)

#: The cookie holding the web UI's token (set by ``POST /ui/login``).
TOKEN_COOKIE = "shipyard_token"

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`shipyard tokens create <user>`), sent as `Authorization: Bearer <token>`.",
)


def get_app(request: Request) -> App:
    app: App = request.app.state.shipyard
    return app


def get_tracking(request: Request) -> TrackingService:
    return get_app(request).tracking


def get_telemetry(request: Request) -> Telemetry:
    telemetry: Telemetry = request.app.state.telemetry
    return telemetry


@functools.cache
def authorize(action: str) -> Callable[[Request, HTTPAuthorizationCredentials | None], Principal]:
    """A dependency that authenticates the caller and authorizes ``action``; returns the principal.

    The token comes from the ``Authorization: Bearer`` header, else from the :data:`TOKEN_COOKIE`
    cookie. Missing, unknown, expired or revoked tokens raise
    :class:`~shipyard.errors.Unauthenticated` (401 with ``WWW-Authenticate: Bearer``). This is the
    single place where a role check (raising :class:`~shipyard.errors.PermissionDenied`, 403) will
    be added.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(sorted(ACTIONS))}")

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(_bearer)
    ) -> Principal:
        secret = credentials.credentials if credentials else request.cookies.get(TOKEN_COOKIE)
        if not secret:
            raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
        principal = get_app(request).accounts.authenticate(secret)
        # Role check for `action` goes here.
        request.state.principal = principal
        return principal

    dependency.__name__ = f"authorize_{action.replace('.', '_')}"
    return dependency


Shipyard = Annotated[App, Depends(get_app)]
Tracking = Annotated[TrackingService, Depends(get_tracking)]
Metrics = Annotated[Telemetry, Depends(get_telemetry)]

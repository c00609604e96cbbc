"""The REST API: FastAPI over the same domain services the embedded SDK calls.

``create_app(app)`` builds the ASGI application around an already built :class:`~shipyard.app.App`
(tests build many); ``serve(settings, host, port)`` is what ``shipyard server`` runs. Every route
but ``/health`` (and the data-free ``/docs`` and ``/openapi.json``) needs a bearer token; errors
are JSON envelopes (see :mod:`shipyard.server.errors`).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from shipyard.app import App, build_app
from shipyard.config import Settings
from shipyard.errors import ConfigError
from shipyard.server.errors import install_error_handlers
from shipyard.server.routers import ROUTERS
from shipyard.server.routers.system import server_version
from shipyard.server.telemetry import RequestContextMiddleware, Telemetry
from shipyard.server.ui import install_ui

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def create_app(app: App) -> FastAPI:
    """The HTTP application serving ``app``'s services. It does not own ``app``; close it yourself."""
    telemetry = Telemetry()
    api = FastAPI(
        title="Shipyard",
        version=server_version(),
        summary="Experiment tracking and artifacts for the whole machine-learning lifecycle.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    api.state.shipyard = app
    api.state.telemetry = telemetry
    install_error_handlers(api)
    api.add_middleware(RequestContextMiddleware, telemetry=telemetry)
    for router in ROUTERS:
        api.include_router(router)
    install_ui(api)  # the web UI at /ui (see shipyard.server.ui)
    return api


def serve(
    settings: Settings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    announce: Callable[[App], None] | None = None,
) -> None:
    """Build the App once and serve it with uvicorn until interrupted; ``announce(app)`` runs once
    the stores are open, just before the server starts listening."""
    if settings.remote:
        raise ConfigError(
            f"the server serves this machine's stores, but a server URL is configured ({settings.url}); "
            "unset SHIPYARD_URL (or `url` in shipyard.toml) to run a server",
            field="url",
        )
    import uvicorn

    app = build_app(settings)
    try:
        if announce is not None:
            announce(app)
        uvicorn.run(create_app(app), host=host, port=port, log_level="info")
    finally:
        app.close()


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "serve"]

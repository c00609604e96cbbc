"""The REST API: FastAPI over the same domain services the embedded SDK calls.

``create_app(app)`` builds the ASGI application around an already built :class:`~shipyard.app.App`
(tests build many); ``serve(settings, host, port)`` is what ``shipyard server`` runs. Every route
but ``/health`` (and the data-free ``/docs`` and ``/openapi.json``) needs a bearer token; errors
are JSON envelopes (see :mod:`shipyard.server.errors`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

from fastapi import FastAPI

from shipyard.app import App, build_app
from shipyard.config import Settings
from shipyard.errors import ConfigError
from shipyard.server.errors import install_error_handlers
from shipyard.server.guard import GuardMiddleware
from shipyard.server.health import HealthProbe
from shipyard.server.ingest import install_ingest
from shipyard.server.openapi import document_errors
from shipyard.server.routers import ROUTERS
from shipyard.server.routers.system import server_version
from shipyard.server.telemetry import RequestContextMiddleware, Telemetry
from shipyard.server.ui import install_ui
from shipyard.tracking.group_commit import MetricGroupCommit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Seconds a thread holding the GIL runs before another may take it (Python's default: 0.005). The
#: server's event loop and its metric writer (:mod:`shipyard.tracking.group_commit`) hand it back
#: and forth; at 5 ms a request answered by the loop waits behind the writer's Python work, and
#: the REST write load measured 20-30% fewer requests per second.
SWITCH_INTERVAL = 0.0005


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
    app.accounts.cache_tokens(app.settings.token_cache_seconds)  # shipyard.accounts.token_cache
    api.state.metric_writes = MetricGroupCommit(app.tracking)  # metric points by group commit
    api.state.health = HealthProbe(app)
    install_error_handlers(api)
    settings = app.settings
    api.add_middleware(
        GuardMiddleware, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    api.add_middleware(RequestContextMiddleware, telemetry=telemetry)
    for router in ROUTERS:
        api.include_router(router)
    install_ingest(api, app, api.state.metric_writes, telemetry)  # metric writes at speed
    install_ui(api)  # the web UI at /ui (see shipyard.server.ui)
    document_errors(api)  # every operation lists its error responses (shipyard.server.openapi)
    return api


#: Where ``serve`` hands its settings to worker processes (they start from an import string).
_WORKER_SETTINGS_ENV = "_SHIPYARD_SERVER_SETTINGS"


def serve(
    settings: Settings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    *,
    scheduler_interval: float | None = None,
    announce: Callable[[App], None] | None = None,
    access_log: bool = True,
) -> None:
    """Build the App and serve it with uvicorn until interrupted. With ``workers`` > 1, uvicorn
    runs that many processes on the one socket; each builds its own App from ``settings`` (the
    database is upgraded once, here, before they start). With ``scheduler_interval``, this process
    also runs the trigger scheduler in a thread (stopped after the server, once its tick ends).
    ``announce(app)`` runs once the stores are open, just before the server starts listening.
    ``access_log`` logs a line per request to stdout."""
    if settings.remote:
        raise ConfigError(
            f"the server serves this machine's stores, but a server URL is configured ({settings.url}); "
            "unset SHIPYARD_URL (or `url` in shipyard.toml) to run a server",
            field="url",
        )
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}", field="workers")
    import uvicorn

    sys.setswitchinterval(SWITCH_INTERVAL)  # see SWITCH_INTERVAL
    app = build_app(settings)
    stop = threading.Event()
    ticking: threading.Thread | None = None
    if scheduler_interval is not None:
        scheduler = app.scheduler()
        ticking = threading.Thread(
            target=scheduler.run, args=(stop,), kwargs={"interval": scheduler_interval}, name="scheduler"
        )
        ticking.start()
    try:
        if announce is not None:
            announce(app)
        if workers > 1:
            os.environ[_WORKER_SETTINGS_ENV] = settings.model_dump_json(exclude={"token"})
            uvicorn.run(
                "shipyard.server:worker_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="info",
                access_log=access_log,
            )
        else:
            uvicorn.run(create_app(app), host=host, port=port, log_level="info", access_log=access_log)
    finally:
        stop.set()
        if ticking is not None:
            ticking.join()
            scheduler.close()
        app.close()


def worker_app() -> FastAPI:
    """The application of one worker process of ``shipyard server --workers N``."""
    raw = os.environ.get(_WORKER_SETTINGS_ENV)
    if raw is None:
        raise ConfigError("worker_app is started by `shipyard server --workers N`", field="workers")
    sys.setswitchinterval(SWITCH_INTERVAL)
    app = build_app(Settings.model_validate_json(raw), migrate=False)
    api = create_app(app)
    api.router.on_shutdown.append(app.close)
    return api


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "serve", "worker_app"]

"""One router per area; :func:`shipyard.server.create_app` includes them all."""

from __future__ import annotations

from shipyard.server.routers import admin, artifacts, events, features, models, system, tracking

ROUTERS = (
    system.router,
    tracking.router,
    artifacts.router,
    admin.router,
    models.router,
    features.router,
    events.router,
)

__all__ = ["ROUTERS"]

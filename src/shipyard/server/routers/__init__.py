"""One router per area; :func:`shipyard.server.create_app` includes them all."""

from __future__ import annotations

from shipyard.server.routers import (
    admin,
    artifacts,
    deployments,
    events,
    features,
    models,
    monitoring,
    pipelines,
    system,
    tracking,
    triggers,
)

ROUTERS = (
    system.router,
    tracking.router,
    artifacts.router,
    admin.router,
    models.router,
    features.router,
    deployments.router,
    events.router,
    pipelines.router,
    triggers.router,
    monitoring.router,
)

__all__ = ["ROUTERS"]

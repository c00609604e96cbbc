"""The web UI: server-rendered pages for browsing runs, models, features and pipelines, at ``/ui``.

Pages are Jinja2 templates (autoescaped) over the same services the API calls, styled by
one stylesheet at ``/ui/static/ui.css``; no JavaScript framework. Every page passes the API's
:func:`~shipyard.server.deps.authorize`; the browser holds the token in an HttpOnly cookie set by
the login page (:mod:`.session`). Routes are left out of the OpenAPI schema: they are not API.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from shipyard.server.ui import (
    charts,
    deployments_views,
    features_views,
    models_views,
    monitoring_views,
    pipelines_views,
    session,
    tracking_pages,
    triggers_views,
)
from shipyard.server.ui.rendering import STATIC
from shipyard.server.ui.routing import UI_PREFIX

#: Every page of the UI, under ``/ui``.
router = APIRouter(include_in_schema=False)
router.include_router(session.router)
router.include_router(charts.router)
router.include_router(tracking_pages.router)
router.include_router(models_views.router)
router.include_router(features_views.router)
router.include_router(pipelines_views.router)
router.include_router(triggers_views.router)
router.include_router(monitoring_views.router)
router.include_router(deployments_views.router)

root = APIRouter(include_in_schema=False)


@root.get("/")
def home() -> RedirectResponse:
    return RedirectResponse(UI_PREFIX, status_code=307)


def install_ui(api: FastAPI) -> None:
    """Serve the UI from ``api``: its static files, ``/`` (redirects to ``/ui``) and its pages."""
    api.mount(f"{UI_PREFIX}/static", StaticFiles(directory=STATIC), name="ui-static")
    api.include_router(root)
    api.include_router(router)


__all__ = ["install_ui", "router"]

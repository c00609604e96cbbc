"""The triggers page (kind, pipeline, enabled, last firing, next fire time) and one trigger's page
with its latest firings. Both declare the API's gate, ``authorize("pipelines.read")``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.pipelines.triggers.service import TriggerService
from shipyard.server.deps import Shipyard, authorize
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import UI_PREFIX, UIRoute

router = APIRouter(prefix=f"{UI_PREFIX}/triggers", route_class=UIRoute, include_in_schema=False)
READ = [Depends(authorize("pipelines.read"))]


def get_triggers(app: Shipyard) -> TriggerService:
    return app.triggers


Triggers = Annotated[TriggerService, Depends(get_triggers)]


@router.get("", dependencies=READ)
def triggers(request: Request, service: Triggers) -> HTMLResponse:
    return render(request, "triggers.html", {"statuses": service.status()})


@router.get("/{name}", dependencies=READ)
def trigger(request: Request, name: str, service: Triggers) -> HTMLResponse:
    found = service.get(name)
    return render(request, "trigger.html", {"trigger": found, "firings": service.firings(name, limit=50)})

"""The pipelines' pages: pipelines, one pipeline's runs, one run (its DAG, steps and timeline).

Each route declares the API's gate, ``authorize("pipelines.read")``. Step runs link to their
tracking run pages, where their artifacts (outputs and captured logs) are listed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.pipelines.service import PipelineService
from shipyard.server.deps import Shipyard, authorize
from shipyard.server.ui.dag import COLORS, dag_svg, timeline_svg
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import UI_PREFIX, UIRoute

router = APIRouter(prefix=f"{UI_PREFIX}/pipelines", route_class=UIRoute, include_in_schema=False)


def get_pipelines(app: Shipyard) -> PipelineService:
    return app.pipelines


Pipelines = Annotated[PipelineService, Depends(get_pipelines)]
READ = [Depends(authorize("pipelines.read"))]


@router.get("", dependencies=READ)
def pipelines(request: Request, service: Pipelines) -> HTMLResponse:
    rows = []
    for p in service.list_pipelines():
        latest = service.list_runs(p.name, limit=1)
        rows.append((p, latest[0] if latest else None))
    return render(request, "pipelines.html", {"rows": rows})


@router.get("/runs/{run_id}", dependencies=READ)
def run(request: Request, run_id: str, service: Pipelines) -> HTMLResponse:
    found = service.get_run(run_id)
    spec = service.get_pipeline(found.pipeline, found.version)
    context = {
        "run": found,
        "dag": dag_svg(spec, found),
        "timeline": timeline_svg(found),
        "colors": {k.value: v for k, v in COLORS.items()},
    }
    return render(request, "pipeline_run.html", context)


@router.get("/{name}", dependencies=READ)
def pipeline(request: Request, name: str, service: Pipelines) -> HTMLResponse:
    spec = service.get_pipeline(name)
    return render(request, "pipeline.html", {"spec": spec, "runs": service.list_runs(name, limit=100)})

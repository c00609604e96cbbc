"""The tracking pages: experiments, an experiment's runs, one run, and runs compared.

Thin handlers: each declares ``authorize("tracking.read")`` (the same gate as the API), asks
:mod:`.tracking_views` for what the page shows, and renders its template.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from shipyard.server.deps import Tracking, authorize
from shipyard.server.ui import tracking_views as views
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import UI_PREFIX, UIRoute

router = APIRouter(
    prefix=UI_PREFIX,
    route_class=UIRoute,
    include_in_schema=False,
    dependencies=[Depends(authorize("tracking.read"))],
)


@router.get("")
def experiments(request: Request, tracking: Tracking) -> HTMLResponse:
    return render(request, "experiments.html", {"rows": views.experiment_rows(tracking)})


@router.get("/experiments/{name_or_id:path}")
def runs(
    request: Request,
    name_or_id: str,
    tracking: Tracking,
    filter: Annotated[str, Query(max_length=10_000)] = "",
    order_by: Annotated[str, Query(max_length=1_000)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=1_000)] = views.PER_PAGE,
) -> HTMLResponse:
    experiment = tracking.get_experiment(name_or_id)
    query = views.RunsQuery(filter.strip(), order_by.strip(), page, per_page)
    table = views.runs_page(tracking, experiment, query)
    base = f"{UI_PREFIX}/experiments/{experiment.id}"  # links by id: names may hold any character
    context = {
        "experiment": experiment,
        "query": query,
        "table": table,
        "base": base,
        "max_nested": views.MAX_NESTED,
    }
    return render(request, "runs.html", context, status_code=422 if table.error else 200)


@router.get("/runs/{run_id}")
def run(
    request: Request, run_id: str, tracking: Tracking, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1
) -> HTMLResponse:
    detail = views.run_detail(tracking, run_id, page)
    return render(request, "run.html", {"detail": detail, "section_rows": views.SECTION_ROWS})


@router.get("/compare")
def compare(
    request: Request, tracking: Tracking, run: Annotated[list[str] | None, Query(max_length=100)] = None
) -> HTMLResponse:
    return render(request, "compare.html", {"cmp": views.comparison(tracking, run or [])})

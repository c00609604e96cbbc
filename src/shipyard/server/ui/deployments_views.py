"""The deployments' pages: every deployment with its traffic split, and one deployment with its
versions, a traffic-split chart, live figures per version (requests/s, p99, errors, from the
windows replicas report), canary progress and the history of decisions.

Charts are drawn by plotly.js as :mod:`shipyard.server.ui.charts` serves it (no CDN). Each route
declares ``authorize("deployments.read")``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.core.clock import now_ms, to_datetime
from shipyard.server.deps import Shipyard, authorize
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import UI_PREFIX, UIRoute
from shipyard.serving.canary import summed
from shipyard.serving.deployments import DeploymentService
from shipyard.serving.model import Deployment, VersionWindow
from shipyard.serving.records import DecisionRecord

#: How far back the live figures reach, and how many windows a page reads at most.
LIVE_MS = 60 * 60 * 1000
MAX_WINDOWS = 5000

router = APIRouter(prefix=UI_PREFIX, route_class=UIRoute, include_in_schema=False)
_READ = [Depends(authorize("deployments.read"))]


def get_deployments(app: Shipyard) -> DeploymentService:
    return app.deployments


Deployments = Annotated[DeploymentService, Depends(get_deployments)]


@dataclass(frozen=True)
class VersionFigures:
    """One version's figures over the page's window, and its time series for the charts."""

    label: str  # churn@3
    role: str
    requests: int
    errors: int
    rate: float  # requests/s
    p99: float | None
    series: dict[str, list[object]]  # t, rps, p99, errors


@dataclass(frozen=True)
class DeploymentPage:
    deployment: Deployment
    figures: list[VersionFigures]
    decisions: list[DecisionRecord]
    steps: list[dict[str, object]]  # the canary's steps: weight and state (done, current, next)
    chart_data: str  # JSON for the page's script


def _figures(deployment: Deployment, windows: list[VersionWindow]) -> list[VersionFigures]:
    roles = {(t.model, t.version): t.role for t in deployment.targets}
    by_version: dict[tuple[str, int], list[VersionWindow]] = defaultdict(list)
    for w in windows:
        by_version[(w.model, w.version)].append(w)
    out = []
    for key, found in sorted(by_version.items()):
        total = summed(found)
        seconds = max((max(w.end for w in found) - min(w.start for w in found)) / 1000, 1.0)
        by_start: dict[int, list[VersionWindow]] = defaultdict(list)
        for w in found:
            by_start[w.start].append(w)
        series: dict[str, list[object]] = {"t": [], "rps": [], "p99": [], "errors": []}
        for start, group in sorted(by_start.items()):
            part = summed(group)
            span = max((max(w.end for w in group) - start) / 1000, 0.001)
            series["t"].append(to_datetime(start).isoformat())
            series["rps"].append(round(part.requests / span, 3))
            series["p99"].append(part.p99)
            series["errors"].append(part.errors)
        out.append(
            VersionFigures(
                label=f"{key[0]}@{key[1]}",
                role=roles.get(key, "retired"),
                requests=total.requests,
                errors=total.errors,
                rate=total.requests / seconds,
                p99=total.p99,
                series=series,
            )
        )
    return out


def _steps(deployment: Deployment) -> list[dict[str, object]]:
    challenger = deployment.role("challenger")
    if deployment.canary is None or challenger is None:
        return []
    steps = [s for s in deployment.canary.steps if s < 100] + [100]
    return [
        {
            "weight": s,
            "state": "done" if s < challenger.weight else "current" if s == challenger.weight else "next",
        }
        for s in steps
    ]


def deployment_page(service: DeploymentService, name: str) -> DeploymentPage:
    deployment = service.get(name)
    windows = service.windows(name, since=now_ms() - LIVE_MS, limit=MAX_WINDOWS)
    figures = _figures(deployment, windows)
    split = [
        {"label": f"{t.model}@{t.version}", "role": t.role, "weight": t.weight} for t in deployment.targets
    ]
    data = {"split": split, "versions": [{"label": f.label, "role": f.role, **f.series} for f in figures]}
    return DeploymentPage(
        deployment=deployment,
        figures=figures,
        decisions=service.decisions(name, limit=50),
        steps=_steps(deployment),
        chart_data=json.dumps(data).replace("</", "<\\/"),
    )


@router.get("/deployments", dependencies=_READ)
def deployments(request: Request, service: Deployments) -> HTMLResponse:
    return render(request, "deployments.html", {"deployments": service.list_deployments()})


@router.get("/deployments/{name}", dependencies=_READ)
def deployment(request: Request, name: str, service: Deployments) -> HTMLResponse:
    return render(request, "deployment.html", {"page": deployment_page(service, name)})

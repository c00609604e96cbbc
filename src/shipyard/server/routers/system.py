"""Operations routes: ``/health`` (open, for load balancers and orchestrators) and ``/metrics``
(Prometheus text format, behind a token like everything else that carries data)."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import generate_latest
from pydantic import BaseModel

from shipyard.server.deps import Metrics, Shipyard, authorize
from shipyard.server.health import HealthProbe
from shipyard.server.telemetry import METRICS_CONTENT_TYPE

router = APIRouter(tags=["system"])


class HealthOut(BaseModel):
    status: str
    version: str
    database: str


@functools.cache
def server_version() -> str:
    try:
        return version("shipyard")
    except PackageNotFoundError:
        return "unknown"


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The metadata database is unavailable."}},
)
async def health(request: Request) -> JSONResponse:
    """Answered on the event loop from memory (:mod:`shipyard.server.health`): prompt under load."""
    probe: HealthProbe = request.app.state.health
    ok = await probe.database_ok()
    body = HealthOut(
        status="ok" if ok else "unavailable", version=server_version(), database="ok" if ok else "unavailable"
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    dependencies=[Depends(authorize("system.metrics"))],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
def metrics(telemetry: Metrics, app: Shipyard) -> Response:
    """The server's own figures and, once monitors were evaluated here, their figures and alerts
    (``shipyard_monitor_*``, ``shipyard_alert_*``, ``shipyard_notifications``)."""
    body = telemetry.render()
    if "monitor_metrics" in app.__dict__:
        body += generate_latest(app.monitor_metrics.registry)
    return Response(body, media_type=METRICS_CONTENT_TYPE)

"""Operations routes: ``/health`` (open, for load balancers and orchestrators) and ``/metrics``
(Prometheus text format, behind a token like everything else that carries data)."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from shipyard.app import App
from shipyard.server.deps import Metrics, Shipyard, authorize
from shipyard.server.telemetry import METRICS_CONTENT_TYPE

logger = logging.getLogger("shipyard.server")

router = APIRouter(tags=["system"])


class HealthOut(BaseModel):
    status: str
    version: str
    database: str


def server_version() -> str:
    try:
        return version("shipyard")
    except PackageNotFoundError:
        return "unknown"


def _database_ok(app: App) -> bool:
    try:
        with app.db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # whatever the failure, the answer is "not ready"; details go to the log only
        logger.warning("health check: the metadata database is unavailable", exc_info=True)
        return False
    return True


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The metadata database is unavailable."}},
)
def health(app: Shipyard) -> JSONResponse:
    ok = _database_ok(app)
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
def metrics(telemetry: Metrics) -> Response:
    return Response(telemetry.render(), media_type=METRICS_CONTENT_TYPE)

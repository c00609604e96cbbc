"""Pipeline routes under ``/api/v1/pipelines``: apply a graph, list and show pipelines, start runs
(executed in the background by the server), read runs and their captured logs.

Reads need ``pipelines.read``; applying ``pipelines.write``; starting a run ``pipelines.run``.
Reading logs, which are tracking artifacts of the step runs, also needs ``tracking.read`` on the
pipeline's experiment. Handlers are thin: validate -> service -> schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shipyard.accounts.model import Principal
from shipyard.errors import InvalidInput
from shipyard.pipelines.model import PipelineSpec
from shipyard.pipelines.service import PipelineService
from shipyard.server import pipeline_schemas as s
from shipyard.server.deps import Shipyard, authorize, ensure_allowed

router = APIRouter(prefix="/api/v1/pipelines", tags=["pipelines"], responses=s.ERRORS)


def get_pipelines(app: Shipyard) -> PipelineService:
    return app.pipelines


Pipelines = Annotated[PipelineService, Depends(get_pipelines)]
Reader = Annotated[Principal, Depends(authorize("pipelines.read"))]
Writer = Annotated[Principal, Depends(authorize("pipelines.write"))]
Runner = Annotated[Principal, Depends(authorize("pipelines.run"))]


@router.get("")
def list_pipelines(_: Reader, pipelines: Pipelines) -> s.PipelinesOut:
    return s.PipelinesOut(pipelines=[s.PipelineOut.of(p) for p in pipelines.list_pipelines()])


@router.post("", status_code=201)
def apply(body: s.SpecIn, principal: Writer, pipelines: Pipelines) -> s.SpecOut:
    """Store a pipeline graph built by the SDK (its code must be importable by the server to run)."""
    try:
        spec = PipelineSpec.from_dict(body.model_dump())
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"malformed pipeline graph: {exc}", field="nodes") from None
    return s.SpecOut.of(pipelines.apply_spec(spec, actor=principal.user.name))


@router.get("/{name}")
def show(
    name: str, _: Reader, pipelines: Pipelines, version: str | None = Query(None, max_length=71)
) -> s.SpecOut:
    return s.SpecOut.of(pipelines.get_pipeline(name, version))


@router.get("/{name}/runs")
def list_runs(
    name: str,
    _: Reader,
    pipelines: Pipelines,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> s.RunsOut:
    return s.RunsOut(runs=[s.RunOut.of(r) for r in pipelines.list_runs(name, limit=limit, offset=offset)])


@router.post("/{name}/runs", status_code=202)
def start_run(name: str, body: s.RunIn, principal: Runner, pipelines: Pipelines) -> s.RunCreated:
    """Queue a run; it executes in the background. Poll ``GET /api/v1/pipelines/runs/{run_id}``."""
    if body.resume is not None:
        pipelines.get_run(body.resume)  # the run it references must exist (404 otherwise)
    run_id = pipelines.submit(
        name,
        body.params,
        started_by=principal.user.name,
        executor=body.executor,
        cache=body.cache,
        resume=body.resume,
    )
    return s.RunCreated(run_id=run_id)


@router.get("/runs/{run_id}")
def get_run(run_id: str, _: Reader, pipelines: Pipelines) -> s.RunOut:
    return s.RunOut.of(pipelines.get_run(run_id))


@router.get("/runs/{run_id}/logs")
def logs(
    run_id: str,
    principal: Reader,
    pipelines: Pipelines,
    app: Shipyard,
    step: list[str] = Query(default_factory=list, max_length=100),
) -> s.LogsOut:
    run = pipelines.get_run(run_id)
    ensure_allowed(app, principal, "tracking.read", experiment=pipelines.experiment.format(name=run.pipeline))
    found = pipelines.logs(run_id, step)
    return s.LogsOut(logs=[s.LogOut(node=k, stdout=v[0], stderr=v[1]) for k, v in found.items()])

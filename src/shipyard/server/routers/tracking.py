"""Tracking routes: experiments, runs, params, metrics, tags, datasets, search, compare, lineage.

Handlers are plain ``def`` (FastAPI runs them in its threadpool, the service blocks on the
database) and thin: validate the body (schemas) -> call the service -> map the result. Bodies are
decoded by orjson (:mod:`shipyard.server.fast_json`); metric points are written by group commit
(:mod:`shipyard.tracking.group_commit`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from shipyard.accounts.model import Principal
from shipyard.server import tracking_schemas as s
from shipyard.server.deps import Metrics, MetricWrites, Shipyard, Tracking, authorize, ensure_run_readable
from shipyard.server.fast_json import FastJSONRoute

router = APIRouter(prefix="/api/v1", tags=["tracking"], route_class=FastJSONRoute)

READ = [Depends(authorize("tracking.read"))]
# Scoped: an experiment-scoped grant counts for requests about that experiment or its runs.
READ_EXPERIMENT = [Depends(authorize("tracking.read", experiment="name_or_id"))]
WRITE_EXPERIMENT = [Depends(authorize("tracking.write", experiment_field="name"))]
READ_RUN = [Depends(authorize("tracking.read", run="run_id"))]
WRITE_RUN = [Depends(authorize("tracking.write", run="run_id"))]
Writer = Annotated[Principal, Depends(authorize("tracking.write", experiment_field="experiment"))]


# -- experiments --------------------------------------------------------------------------------


@router.post("/experiments", status_code=201, dependencies=WRITE_EXPERIMENT)
def create_experiment(body: s.ExperimentIn, tracking: Tracking) -> s.ExperimentOut:
    return s.ExperimentOut.of(tracking.create_experiment(body.name, body.description, body.tags))


@router.get("/experiments", dependencies=READ)
def list_experiments(tracking: Tracking) -> s.ExperimentsOut:
    return s.ExperimentsOut(experiments=[s.ExperimentOut.of(e) for e in tracking.list_experiments()])


@router.get("/experiments/{name_or_id:path}", dependencies=READ_EXPERIMENT)
def get_experiment(name_or_id: str, tracking: Tracking) -> s.ExperimentOut:
    return s.ExperimentOut.of(tracking.get_experiment(name_or_id))


# -- runs ---------------------------------------------------------------------------------------


@router.post("/runs", status_code=201)
def create_run(
    body: s.RunIn, principal: Writer, app: Shipyard, tracking: Tracking, metrics: Metrics
) -> s.RunOut:
    if body.parent_id is not None:  # choosing a parent needs read access to the parent's experiment
        ensure_run_readable(app, principal, body.parent_id, field="parent_id")
    run = tracking.create_run(
        body.experiment,
        name=body.name,
        user=principal.user.name,
        parent_id=body.parent_id,
        tags=body.tags,
        environment=body.environment.to_model() if body.environment else None,
        params=body.params,
    )
    metrics.runs_created.inc()
    return s.RunOut.of(run)


@router.post("/runs/search", dependencies=READ)
def search_runs(body: s.SearchIn, tracking: Tracking) -> s.RunsOut:
    runs = tracking.search_runs(body.experiments, body.filter, body.order_by, body.max_results, body.offset)
    return s.RunsOut.of(runs)


@router.post("/runs/count", dependencies=READ)
def count_runs(body: s.CountIn, tracking: Tracking) -> s.CountOut:
    return s.CountOut(count=tracking.count_runs(body.experiments, body.filter))


@router.post("/runs/compare", dependencies=READ)
def compare_runs(body: s.CompareIn, tracking: Tracking) -> s.ComparisonOut:
    return s.ComparisonOut.of(tracking.compare_runs(body.run_ids))


@router.get("/runs/{run_id}", dependencies=READ_RUN)
def get_run(run_id: str, tracking: Tracking) -> s.RunOut:
    return s.RunOut.of(tracking.get_run(run_id))


@router.patch("/runs/{run_id}", dependencies=WRITE_RUN)
def update_run(run_id: str, body: s.RunPatch, tracking: Tracking) -> s.RunOut:
    return s.RunOut.of(tracking.update_run(run_id, name=body.name, note=body.note))


@router.post("/runs/{run_id}/end", dependencies=WRITE_RUN)
def end_run(run_id: str, body: s.RunEnd, tracking: Tracking, metrics: Metrics) -> s.RunOut:
    status: Any = body.status  # the service names a bad one
    ended = tracking.end_run(run_id, status, points=body.points, batch_id=body.batch_id)
    metrics.metric_points.inc(len(body.points))
    return s.RunOut.of(ended)


@router.post("/runs/{run_id}/params", status_code=204, dependencies=WRITE_RUN)
def log_params(run_id: str, body: s.ParamsIn, tracking: Tracking) -> Response:
    tracking.log_params(run_id, body.params)
    return Response(status_code=204)


@router.post("/runs/{run_id}/metrics", dependencies=WRITE_RUN)
def log_metrics(run_id: str, body: s.MetricBatchIn, writes: MetricWrites, metrics: Metrics) -> s.StoredOut:
    stored = writes.log_metrics(run_id, body.points, batch_id=body.batch_id)
    metrics.metric_points.inc(stored)
    return s.StoredOut(stored=stored)


@router.get("/runs/{run_id}/metrics", dependencies=READ_RUN)
def metric_history(
    run_id: str, key: Annotated[str, Query(min_length=1)], tracking: Tracking
) -> s.MetricHistoryOut:
    return s.MetricHistoryOut.of(key, tracking.metric_history(run_id, key))


@router.post("/runs/{run_id}/tags", status_code=204, dependencies=WRITE_RUN)
def set_tags(run_id: str, body: s.TagsIn, tracking: Tracking) -> Response:
    tracking.set_tags(run_id, body.tags)
    return Response(status_code=204)


@router.delete("/runs/{run_id}/tags", status_code=204, dependencies=WRITE_RUN)
def delete_tag(run_id: str, key: Annotated[str, Query()], tracking: Tracking) -> Response:
    tracking.delete_tag(run_id, key)
    return Response(status_code=204)


# -- datasets and lineage -----------------------------------------------------------------------


@router.post("/runs/{run_id}/datasets", status_code=201, dependencies=WRITE_RUN)
def log_dataset(run_id: str, body: s.DatasetLogIn, tracking: Tracking) -> s.RunDatasetOut:
    linked = tracking.log_dataset(
        run_id, body.dataset.to_model(), context=body.context, direction=body.direction
    )
    return s.RunDatasetOut.of(linked)


@router.get("/runs/{run_id}/datasets", dependencies=READ_RUN)
def run_datasets(run_id: str, tracking: Tracking) -> s.RunDatasetsOut:
    return s.RunDatasetsOut(datasets=[s.RunDatasetOut.of(rd) for rd in tracking.run_datasets(run_id)])


@router.get("/lineage", dependencies=READ)
def lineage(
    subject: Annotated[str, Query(min_length=1)],
    tracking: Tracking,
    depth: Annotated[int, Query(ge=0, le=20)] = 1,
) -> s.LineageOut:
    return s.LineageOut.of(tracking.lineage(subject, depth))

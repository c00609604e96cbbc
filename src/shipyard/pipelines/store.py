"""Reading and writing pipeline rows. Helpers take a connection; the caller owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from shipyard.core.clock import to_datetime
from shipyard.core.ids import new_id
from shipyard.errors import NotFound
from shipyard.pipelines.model import (
    Node,
    Param,
    Pipeline,
    PipelineRun,
    PipelineSpec,
    RunState,
    StepRun,
)
from shipyard.pipelines.tables import PipelineRow, PipelineRunRow, PipelineVersionRow, StepRunRow
from shipyard.storage.metadata.base import table

pipes_t = table(PipelineRow)
versions_t = table(PipelineVersionRow)
runs_t = table(PipelineRunRow)
steps_t = table(StepRunRow)

ACTIVE = (RunState.QUEUED.value, RunState.RUNNING.value)


def pipeline_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(pipes_t).where(pipes_t.c.name == name)).first()
    if row is None:
        raise NotFound(f"pipeline {name!r} does not exist (apply it first)", field="pipeline")
    return row


def to_pipeline(row: Any) -> Pipeline:
    return Pipeline(
        row.name,
        row.description,
        row.latest_version,
        "",
        to_datetime(row.created_at),
        to_datetime(row.updated_at),
    )


def spec(conn: Connection, pipeline: Any, version: str | None = None) -> PipelineSpec:
    version = version or pipeline.latest_version
    row = conn.execute(
        select(versions_t).where(versions_t.c.pipeline_id == pipeline.id, versions_t.c.version == version)
    ).first()
    if row is None:
        raise NotFound(f"pipeline {pipeline.name!r} has no version {version}", field="version")
    return PipelineSpec(
        name=pipeline.name,
        version=row.version,
        ref=row.ref,
        source_digest=row.source_digest,
        params=tuple(Param(**p) for p in row.spec["params"]),
        nodes=tuple(Node.from_dict(n) for n in row.spec["nodes"]),
        description=pipeline.description,
    )


def insert_step(conn: Connection, pipeline_run_id: str, node: Node, **values: Any) -> None:
    row = {
        "id": new_id(),
        "pipeline_run_id": pipeline_run_id,
        "node": node.id,
        "step": node.step,
        "step_version": node.code_digest,
        "state": RunState.RUNNING.value,
        "run_id": None,
        "attempt": 1,
        "cache_key": None,
        "cached_from": None,
        "output_digest": None,
        "output_kind": None,
        "error": None,
        "started_at": None,
        "finished_at": None,
    }
    row.update(values)
    conn.execute(steps_t.insert(), row)


def update_step(conn: Connection, pipeline_run_id: str, node: str, **values: Any) -> None:
    conn.execute(
        update(steps_t)
        .where(steps_t.c.pipeline_run_id == pipeline_run_id, steps_t.c.node == node)
        .values(**values)
    )


def cache_hit(conn: Connection, cache_key: str) -> Any:
    """The latest successful (not itself cached) step run with ``cache_key``."""
    return conn.execute(
        select(steps_t)
        .where(steps_t.c.cache_key == cache_key, steps_t.c.state == RunState.SUCCEEDED.value)
        .order_by(steps_t.c.finished_at.desc())
        .limit(1)
    ).first()


def step_runs(conn: Connection, run_id: str) -> list[StepRun]:
    rows = conn.execute(
        select(steps_t).where(steps_t.c.pipeline_run_id == run_id).order_by(steps_t.c.started_at)
    )
    return [
        StepRun(
            node=r.node,
            step=r.step,
            step_version=r.step_version,
            state=RunState(r.state),
            run_id=r.run_id,
            attempt=r.attempt,
            cache_key=r.cache_key,
            cached_from=r.cached_from,
            output_digest=r.output_digest,
            output_kind=r.output_kind,
            error=r.error,
            started_at=to_datetime(r.started_at),
            finished_at=to_datetime(r.finished_at),
        )
        for r in rows
    ]


def to_run(conn: Connection, row: Any, name: str, *, with_steps: bool = True) -> PipelineRun:
    return PipelineRun(
        id=row.id,
        pipeline=name,
        version=row.version,
        state=RunState(row.state),
        params=dict(row.params),
        started_by=row.started_by,
        trigger_id=row.trigger_id,
        firing_key=row.firing_key,
        executor=row.executor,
        resumed_from=row.resumed_from,
        error=row.error,
        created_at=to_datetime(row.created_at),
        started_at=to_datetime(row.started_at),
        finished_at=to_datetime(row.finished_at),
        steps=tuple(step_runs(conn, row.id)) if with_steps else (),
    )


def run_row(conn: Connection, run_id: str) -> Any:
    row = conn.execute(
        select(runs_t, pipes_t.c.name.label("pipeline_name"))
        .join(pipes_t, pipes_t.c.id == runs_t.c.pipeline_id)
        .where(runs_t.c.id == run_id)
    ).first()
    if row is None:
        raise NotFound(f"pipeline run {run_id!r} does not exist", field="run_id")
    return row


def active_count(conn: Connection, trigger_id: str) -> int:
    q = select(func.count()).where(runs_t.c.trigger_id == trigger_id, runs_t.c.state.in_(ACTIVE))
    return int(conn.execute(q).scalar_one())


def resume_root(conn: Connection, run_id: str) -> str:
    """The first run of the chain of resumed runs ``run_id`` belongs to."""
    seen = {run_id}
    while True:
        row = conn.execute(select(runs_t.c.resumed_from).where(runs_t.c.id == run_id)).first()
        if row is None or row.resumed_from is None or row.resumed_from in seen:
            return run_id
        run_id = row.resumed_from
        seen.add(run_id)

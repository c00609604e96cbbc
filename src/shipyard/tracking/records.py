"""Rows to model objects, and the queries that load a run whole (params, metrics, tags)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from shipyard.core.clock import to_datetime
from shipyard.errors import NotFound
from shipyard.tracking.model import (
    Column,
    Dataset,
    DatasetId,
    Experiment,
    ExperimentId,
    Metric,
    Run,
    RunEnvironment,
    RunId,
    RunStatus,
)
from shipyard.tracking.tables import (
    DatasetRow,
    EnvironmentRow,
    LatestMetricRow,
    ParamRow,
    RunRow,
    TagRow,
)

runs_t = RunRow.__table__
params_t = ParamRow.__table__
tags_t = TagRow.__table__
latest_t = LatestMetricRow.__table__
env_t = EnvironmentRow.__table__


def nan_if_null(value: float | None) -> float:
    return math.nan if value is None else value


def experiment(row: Row[Any]) -> Experiment:
    return Experiment(
        id=ExperimentId(row.id),
        name=row.name,
        description=row.description,
        created_at=to_datetime(row.created_at),  # type: ignore[arg-type]
        tags=dict(row.tags or {}),
    )


def dataset(row: Row[Any]) -> Dataset:
    return Dataset(
        id=DatasetId(row.id),
        name=row.name,
        digest=row.digest,
        schema=tuple(Column(c["name"], c["type"]) for c in row.schema),
        num_rows=row.num_rows,
        location=row.location,
        source_type=row.source_type,
        created_at=to_datetime(row.created_at),  # type: ignore[arg-type]
    )


def load_runs(conn: Connection, ids: Sequence[str], *, with_environment: bool = False) -> list[Run]:
    """Load runs with their params, latest metrics and tags, in the order of ``ids``."""
    if not ids:
        return []
    ids = list(ids)
    rows = {r.id: r for r in conn.execute(select(runs_t).where(runs_t.c.id.in_(ids)))}
    params: dict[str, dict[str, str]] = defaultdict(dict)
    for r in conn.execute(
        select(params_t.c.run_id, params_t.c.key, params_t.c.value).where(params_t.c.run_id.in_(ids))
    ):
        params[r.run_id][r.key] = r.value
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for r in conn.execute(select(tags_t).where(tags_t.c.run_id.in_(ids))):
        tags[r.run_id][r.key] = r.value
    metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
    for r in conn.execute(select(latest_t).where(latest_t.c.run_id.in_(ids))):
        metrics[r.run_id][r.key] = Metric(r.key, nan_if_null(r.value), r.step, r.timestamp)
    envs: dict[str, RunEnvironment] = {}
    if with_environment:
        digests = {r.environment_digest for r in rows.values() if r.environment_digest}
        for e in conn.execute(select(env_t).where(env_t.c.digest.in_(digests))):
            envs[e.digest] = RunEnvironment(e.python_version, e.platform, dict(e.packages), "")
    out = []
    for run_id in ids:
        row = rows.get(run_id)
        if row is None:
            continue
        env = envs.get(row.environment_digest) if row.environment_digest else None
        if env is not None:
            env = RunEnvironment(
                env.python_version, env.platform, env.packages, row.command, row.git_commit, row.git_dirty
            )
        out.append(
            Run(
                id=RunId(row.id),
                experiment_id=ExperimentId(row.experiment_id),
                name=row.name,
                status=RunStatus(row.status),
                start_time=to_datetime(row.start_time),  # type: ignore[arg-type]
                end_time=to_datetime(row.end_time),
                user=row.user,
                params=params.get(run_id, {}),
                metrics=metrics.get(run_id, {}),
                tags=tags.get(run_id, {}),
                note=row.note,
                parent_id=RunId(row.parent_id) if row.parent_id else None,
                environment=env,
            )
        )
    return out


def load_run(conn: Connection, run_id: str) -> Run:
    found = load_runs(conn, [run_id], with_environment=True)
    if not found:
        raise NotFound(f"run {run_id!r} does not exist", field="run_id")
    return found[0]


def datasets_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Dataset]:
    t = DatasetRow.__table__
    return {r.id: dataset(r) for r in conn.execute(select(t).where(t.c.id.in_(list(ids))))}

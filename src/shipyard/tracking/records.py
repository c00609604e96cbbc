"""Rows to model objects, and the queries that load a run whole (params, metrics, tags)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    String,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
)

from shipyard.core.clock import to_datetime
from shipyard.errors import NotFound
from shipyard.storage.metadata.base import table
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

runs_t = table(RunRow)
params_t = table(ParamRow)
tags_t = table(TagRow)
latest_t = table(LatestMetricRow)
env_t = table(EnvironmentRow)


def nan_if_null(value: float | None) -> float:
    return math.nan if value is None else value


def experiment(row: Any) -> Experiment:
    return Experiment(
        id=ExperimentId(row.id),
        name=row.name,
        description=row.description,
        created_at=to_datetime(row.created_at),
        tags=dict(row.tags or {}),
    )


def dataset(row: Any) -> Dataset:
    return Dataset(
        id=DatasetId(row.id),
        name=row.name,
        digest=row.digest,
        schema=tuple(Column(c["name"], c["type"]) for c in row.schema),
        num_rows=row.num_rows,
        location=row.location,
        source_type=row.source_type,
        created_at=to_datetime(row.created_at),
    )


def load_runs(conn: Connection, ids: Sequence[str]) -> list[Run]:
    """Load runs with their params, latest metrics and tags (not their environment: see
    :func:`load_run`), in the order of ``ids``.

    This is the hot half of ``search_runs`` (a page of 1,000 runs is ~20,000 child rows), so rows
    are fetched in bulk and unpacked positionally rather than row by row through attributes.
    """
    if not ids:
        return []
    ids = list(ids)
    rows = {r.id: r for r in conn.execute(select(runs_t).where(runs_t.c.id.in_(ids))).all()}
    params: dict[str, dict[str, str]] = defaultdict(dict)
    query = select(params_t.c.run_id, params_t.c.key, params_t.c.value).where(params_t.c.run_id.in_(ids))
    for run_id, key, value in conn.execute(query).all():
        params[run_id][key] = value
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    query = select(tags_t.c.run_id, tags_t.c.key, tags_t.c.value).where(tags_t.c.run_id.in_(ids))
    for run_id, key, value in conn.execute(query).all():
        tags[run_id][key] = value
    metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
    query = select(
        latest_t.c.run_id, latest_t.c.key, latest_t.c.value, latest_t.c.step, latest_t.c.timestamp
    ).where(latest_t.c.run_id.in_(ids))
    rows_: list[Any] = list(conn.execute(query).all())
    for run_id, key, value, step, ts in rows_:
        metrics[run_id][key] = Metric(key, math.nan if value is None else value, step, ts)
    out = []
    empty: dict[str, Any] = {}
    for run_id in ids:
        row = rows.get(run_id)
        if row is None:
            continue
        out.append(
            Run(
                id=RunId(run_id),
                experiment_id=ExperimentId(row.experiment_id),
                name=row.name,
                status=RunStatus(row.status),
                start_time=to_datetime(row.start_time),
                end_time=to_datetime(row.end_time),
                user=row.user,
                params=params.get(run_id, empty),
                metrics=metrics.get(run_id, empty),
                tags=tags.get(run_id, empty),
                note=row.note,
                parent_id=RunId(row.parent_id) if row.parent_id else None,
            )
        )
    return out


_ONE = bindparam("run_id", type_=String)
_ONE_RUN = select(runs_t).where(runs_t.c.id == _ONE)
#: A run's params (p), tags (t) and latest metrics (m) in one statement: one round trip, not three.
_NO_TEXT = cast(null(), String)
_NO_NUMBER = cast(null(), Float)
_NO_INT = cast(null(), BigInteger)
_ONE_DETAILS = union_all(
    select(
        literal("p").label("kind"),
        params_t.c.key,
        params_t.c.value.label("text"),
        _NO_NUMBER,
        _NO_INT,
        _NO_INT,
    ).where(params_t.c.run_id == _ONE),
    select(literal("t"), tags_t.c.key, tags_t.c.value, _NO_NUMBER, _NO_INT, _NO_INT).where(
        tags_t.c.run_id == _ONE
    ),
    select(
        literal("m"), latest_t.c.key, _NO_TEXT, latest_t.c.value, latest_t.c.step, latest_t.c.timestamp
    ).where(latest_t.c.run_id == _ONE),
)
_ONE_ENV = select(env_t).where(env_t.c.digest == bindparam("digest"))


#: Environments read, by digest: a digest names its content, so what it names never changes.
_ENVIRONMENTS: dict[str, tuple[str, str, dict[str, str]]] = {}
_MAX_ENVIRONMENTS = 256


def _environment(conn: Connection, digest: str) -> tuple[str, str, dict[str, str]] | None:
    """An environment's Python version, platform and packages (read once per process)."""
    found = _ENVIRONMENTS.get(digest)
    if found is None:
        e = conn.execute(_ONE_ENV, {"digest": digest}).first()
        if e is None:
            return None
        found = (e.python_version, e.platform, dict(e.packages))
        if len(_ENVIRONMENTS) >= _MAX_ENVIRONMENTS:
            _ENVIRONMENTS.clear()
        _ENVIRONMENTS[digest] = found
    return found


def load_run(conn: Connection, run_id: str) -> Run:
    """One run, whole (with its environment); NotFound if there is none."""
    row = conn.execute(_ONE_RUN, {"run_id": run_id}).first()
    if row is None:
        raise NotFound(f"run {run_id!r} does not exist", field="run_id")
    return run_of_row(conn, row)


def run_of_row(conn: Connection, row: Any) -> Run:
    """The whole run whose ``runs`` row is ``row`` (its params, tags and latest metrics read in
    one statement, its environment once per process)."""
    key = {"run_id": row.id}
    env = None
    if row.environment_digest:
        known = _environment(conn, row.environment_digest)
        if known is not None:
            python_version, platform, packages = known
            env = RunEnvironment(
                python_version, platform, dict(packages), row.command, row.git_commit, row.git_dirty
            )
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    metrics: dict[str, Metric] = {}
    for kind, k, text, value, step, ts in conn.execute(_ONE_DETAILS, key):
        if kind == "m":
            metrics[k] = Metric(k, math.nan if value is None else value, step, ts)
        else:
            (params if kind == "p" else tags)[k] = text
    return Run(
        id=RunId(row.id),
        experiment_id=ExperimentId(row.experiment_id),
        name=row.name,
        status=RunStatus(row.status),
        start_time=to_datetime(row.start_time),
        end_time=to_datetime(row.end_time),
        user=row.user,
        params=params,
        metrics=metrics,
        tags=tags,
        note=row.note,
        parent_id=RunId(row.parent_id) if row.parent_id else None,
        environment=env,
    )


def new_run(
    values: Mapping[str, Any],
    tags: Mapping[str, str],
    environment: RunEnvironment | None,
    params: Mapping[str, str] | None = None,
) -> Run:
    """The run just inserted with ``values`` (a ``runs`` row), ``tags`` and ``params``, without
    reading it back."""
    return Run(
        id=RunId(values["id"]),
        experiment_id=ExperimentId(values["experiment_id"]),
        name=values["name"],
        status=RunStatus(values["status"]),
        start_time=to_datetime(values["start_time"]),
        end_time=None,
        user=values["user"],
        tags=dict(tags),
        params=dict(params or {}),
        note=values["note"],
        parent_id=RunId(values["parent_id"]) if values["parent_id"] else None,
        environment=environment,
    )


def datasets_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Dataset]:
    t = table(DatasetRow)
    return {r.id: dataset(r) for r in conn.execute(select(t).where(t.c.id.in_(list(ids))))}

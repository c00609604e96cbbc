"""The tracking routes' JSON, decoded into the tracking model (and the few request bodies encoded).

Decoding rebuilds the exact dataclasses the local service returns, so results compare equal
whichever way the SDK talks to the stores. Non-finite metric values travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (see :mod:`shipyard.server.tracking_schemas`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from shipyard.client.http import Json
from shipyard.core.jsonfloat import encode_float, non_finite
from shipyard.tracking.model import (
    Artifact,
    Column,
    Dataset,
    DatasetId,
    DatasetInfo,
    Direction,
    Experiment,
    ExperimentId,
    LineageEdge,
    LineageGraph,
    LineageNode,
    Metric,
    NodeKind,
    Run,
    RunComparison,
    RunDataset,
    RunEnvironment,
    RunId,
    RunStatus,
)

# -- values -------------------------------------------------------------------------------------


def decode_float(value: float | int | str | None) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        parsed = non_finite(value)
        if parsed is None:
            raise ValueError(f"not a number: {value!r}")
        return parsed
    return float(value)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _maybe_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# -- model objects ------------------------------------------------------------------------------


def experiment(d: Json) -> Experiment:
    return Experiment(
        ExperimentId(d["id"]), d["name"], d["description"], _time(d["created_at"]), dict(d["tags"])
    )


def metric(d: Json) -> Metric:
    return Metric(d["key"], decode_float(d["value"]), d["step"], d["timestamp"])


def metric_history(d: Json) -> list[Metric]:
    key = d["key"]
    return [Metric(key, decode_float(v), step, ts) for v, step, ts in d["points"]]


def environment(d: Json | None) -> RunEnvironment | None:
    if d is None:
        return None
    return RunEnvironment(
        d["python_version"], d["platform"], dict(d["packages"]), d["command"], d["git_commit"], d["git_dirty"]
    )


def run(d: Json) -> Run:
    return Run(
        id=RunId(d["id"]),
        experiment_id=ExperimentId(d["experiment_id"]),
        name=d["name"],
        status=RunStatus(d["status"]),
        start_time=_time(d["start_time"]),
        end_time=_maybe_time(d["end_time"]),
        user=d["user"],
        params=dict(d["params"]),
        metrics={k: metric(m) for k, m in d["metrics"].items()},
        tags=dict(d["tags"]),
        note=d["note"],
        parent_id=RunId(d["parent_id"]) if d["parent_id"] else None,
        environment=environment(d["environment"]),
    )


def dataset(d: Json) -> Dataset:
    return Dataset(
        id=DatasetId(d["id"]),
        name=d["name"],
        digest=d["digest"],
        schema=tuple(Column(c["name"], c["type"]) for c in d["schema"]),
        num_rows=d["num_rows"],
        location=d["location"],
        source_type=d["source_type"],
        created_at=_time(d["created_at"]),
    )


def run_dataset(d: Json) -> RunDataset:
    return RunDataset(RunId(d["run_id"]), dataset(d["dataset"]), Direction(d["direction"]), d["context"])


def artifact(d: Json) -> Artifact:
    return Artifact(RunId(d["run_id"]), d["path"], d["digest"], d["size"], _time(d["created_at"]))


def comparison(d: Json) -> RunComparison:
    return RunComparison(tuple(run(r) for r in d["runs"]), tuple(d["param_keys"]), tuple(d["metric_keys"]))


def _node(d: Json) -> LineageNode:
    return LineageNode(NodeKind(d["kind"]), d["id"], d["label"])


def lineage(d: Json) -> LineageGraph:
    return LineageGraph(
        subject=_node(d["subject"]),
        nodes=tuple(_node(n) for n in d["nodes"]),
        edges=tuple(LineageEdge(e["source"], e["target"], e["relation"]) for e in d["edges"]),
    )


# -- request bodies -----------------------------------------------------------------------------


def environment_json(env: RunEnvironment) -> Json:
    return {
        "python_version": env.python_version,
        "platform": env.platform,
        "packages": dict(env.packages),
        "command": env.command,
        "git_commit": env.git_commit,
        "git_dirty": env.git_dirty,
    }


def dataset_info_json(info: DatasetInfo) -> Json:
    return {
        "name": info.name,
        "digest": info.digest,
        "schema": [{"name": c.name, "type": c.type} for c in info.schema],
        "num_rows": info.num_rows,
        "location": info.location,
        "source_type": info.source_type,
    }


def metric_points_json(points: Sequence[tuple[str, float, int, int]]) -> list[list[object]]:
    return [[k, encode_float(v), step, ts] for k, v, step, ts in points]

"""What tracking talks about: experiments, runs, metrics, datasets, artifacts and lineage.

Frozen dataclasses, no I/O. Times are aware UTC datetimes; metric timestamps are epoch
milliseconds (they are logged by the million and compared as numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, NewType

ExperimentId = NewType("ExperimentId", str)
RunId = NewType("RunId", str)
DatasetId = NewType("DatasetId", str)


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def terminal(self) -> bool:
        return self is not RunStatus.RUNNING


@dataclass(frozen=True)
class Experiment:
    id: ExperimentId
    name: str
    description: str
    created_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict)


class Metric(NamedTuple):
    """One point of a metric series (a named tuple: runs carry thousands of them in searches)."""

    key: str
    value: float
    step: int
    timestamp: int  # epoch milliseconds


@dataclass(frozen=True)
class RunEnvironment:
    """Captured automatically when a run starts."""

    python_version: str
    platform: str
    packages: Mapping[str, str]
    command: str
    git_commit: str | None = None
    git_dirty: bool | None = None


@dataclass(frozen=True)
class Run:
    id: RunId
    experiment_id: ExperimentId
    name: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    user: str
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Metric] = field(default_factory=dict)  # latest value per key
    tags: Mapping[str, str] = field(default_factory=dict)
    note: str = ""
    parent_id: RunId | None = None
    environment: RunEnvironment | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while running."""
        return None if self.end_time is None else (self.end_time - self.start_time).total_seconds()


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class DatasetInfo:
    """A description of data, computed where the data is (the SDK), then recorded by the service."""

    name: str
    digest: str  # "sha256:<hex>"
    schema: tuple[Column, ...]
    num_rows: int | None
    location: str  # a path or URI; "" for in-memory data
    source_type: str  # "pandas" | "arrow" | "parquet" | "csv" | "artifact" | ...


@dataclass(frozen=True)
class Dataset:
    id: DatasetId
    name: str
    digest: str
    schema: tuple[Column, ...]
    num_rows: int | None
    location: str
    source_type: str
    created_at: datetime


class Direction(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class RunDataset:
    """A dataset linked to a run as an input (e.g. context "training") or an output."""

    run_id: RunId
    dataset: Dataset
    direction: Direction
    context: str


@dataclass(frozen=True)
class Artifact:
    """A file a run produced, stored by content (``digest``) under a run-relative ``path``."""

    run_id: RunId
    path: str
    digest: str
    size: int
    created_at: datetime


class NodeKind(StrEnum):
    RUN = "run"
    DATA = "data"  # a dataset or an artifact: anything with a digest
    SOURCE = "source"  # a feature view's source file or table, id ``source:<path>#<fingerprint>``
    FEATURE_VIEW = "feature_view"  # id ``feature_view:<name>@<version>``
    MODEL_VERSION = "model_version"  # id ``model_version:<model>/<version>``


@dataclass(frozen=True)
class LineageNode:
    kind: NodeKind
    id: str  # run id, or the data's digest
    label: str  # run name, or dataset name / artifact path


@dataclass(frozen=True)
class LineageEdge:
    source: str  # node id; data -> run means "used by", run -> data means "produced"
    target: str
    relation: str  # "input:<context>" or "output"


@dataclass(frozen=True)
class LineageGraph:
    """The neighbourhood of ``subject``: who produced it (upstream) and who used it (downstream)."""

    subject: LineageNode
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]

    def producers(self, node_id: str) -> list[LineageNode]:
        by_id = {n.id: n for n in self.nodes}
        return [by_id[e.source] for e in self.edges if e.target == node_id and e.relation == "output"]

    def consumers(self, node_id: str) -> list[LineageNode]:
        by_id = {n.id: n for n in self.nodes}
        return [by_id[e.target] for e in self.edges if e.source == node_id and e.relation != "output"]


@dataclass(frozen=True)
class RunComparison:
    """Several runs side by side: one column per run, one row per param or metric key."""

    runs: tuple[Run, ...]
    param_keys: tuple[str, ...]
    metric_keys: tuple[str, ...]

    def param(self, key: str) -> list[str | None]:
        return [r.params.get(key) for r in self.runs]

    def metric(self, key: str) -> list[float | None]:
        return [m.value if (m := r.metrics.get(key)) else None for r in self.runs]

    def differing_params(self) -> tuple[str, ...]:
        return tuple(k for k in self.param_keys if len(set(self.param(k))) > 1)

"""The JSON shapes of the tracking and artifact routes, mapped from and to the tracking model.

Non-finite floats (metric values): JSON has no NaN or infinity, so the API writes them as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``. On input it accepts those strings (any case,
also ``"inf"``/``"-inf"``), ``null`` (meaning NaN), and the bare ``NaN``/``Infinity`` tokens that
Python's ``json`` module emits.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from shipyard.core.jsonfloat import encode_float, non_finite
from shipyard.server.fields import Count, Input, Int64, Line, Name, NonNegative, Offset
from shipyard.tracking.api import DEFAULT_MAX_RESULTS
from shipyard.tracking.model import (
    Artifact,
    Column,
    Dataset,
    DatasetInfo,
    Direction,
    Experiment,
    LineageEdge,
    LineageGraph,
    LineageNode,
    Metric,
    Run,
    RunComparison,
    RunDataset,
    RunEnvironment,
)


def _metric_value(value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and (parsed := non_finite(value)) is not None:
        return parsed
    raise PydanticCustomError(
        "float_type",
        'Input should be a valid number (or "NaN", "Infinity", "-Infinity", null), got {kind} {value}',
        {"kind": type(value).__name__, "value": repr(value)[:40]},
    )


MetricValue = Annotated[
    float,
    PlainValidator(_metric_value),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}, {"type": "null"}]}
    ),
]
FloatOut = Annotated[
    float | str, WithJsonSchema({"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]})
]
ParamValue = str | StrictInt | StrictFloat | StrictBool | None


# -- requests -----------------------------------------------------------------------------------


class ExperimentIn(Input):
    name: Name
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class EnvironmentIO(Input):
    python_version: str
    platform: str
    packages: dict[str, str] = Field(default_factory=dict)
    command: str = ""
    git_commit: str | None = None
    git_dirty: bool | None = None

    @classmethod
    def of(cls, env: RunEnvironment) -> EnvironmentIO:
        return cls(
            python_version=env.python_version,
            platform=env.platform,
            packages=dict(env.packages),
            command=env.command,
            git_commit=env.git_commit,
            git_dirty=env.git_dirty,
        )

    def to_model(self) -> RunEnvironment:
        return RunEnvironment(
            self.python_version,
            self.platform,
            dict(self.packages),
            self.command,
            self.git_commit,
            self.git_dirty,
        )


class RunIn(Input):
    """A new run. The run's user is the authenticated caller; a ``user`` sent here is ignored."""

    experiment: Name
    name: Name | None = None
    parent_id: Line | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    environment: EnvironmentIO | None = None


class RunPatch(Input):
    name: str | None = None
    note: str | None = None


class RunEnd(Input):
    """The run's end; ``points`` are its last metric points, stored in the same transaction (a
    ``batch_id`` seen before stores nothing, so the end can be retried)."""

    status: str = "FINISHED"
    batch_id: Annotated[Line, Field(min_length=1, max_length=64)] | None = None
    points: list[tuple[Line, MetricValue, Int64, Int64]] = Field(default_factory=list)


class ParamsIn(Input):
    params: dict[str, ParamValue]


class MetricBatchIn(Input):
    """Points as ``[key, value, step, timestamp_ms]``. A ``batch_id`` seen before stores nothing,
    so a batch can be retried safely."""

    batch_id: Annotated[Line, Field(min_length=1, max_length=64)] | None = None
    points: list[tuple[Line, MetricValue, Int64, Int64]]


class TagsIn(Input):
    tags: dict[str, str]


class ColumnIO(Input):
    name: str
    type: str


class DatasetInfoIn(Input):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    digest: str
    columns: list[ColumnIO] = Field(default_factory=list, alias="schema")
    num_rows: NonNegative | None = None
    location: str = ""
    source_type: str = ""

    def to_model(self) -> DatasetInfo:
        return DatasetInfo(
            self.name,
            self.digest,
            tuple(Column(c.name, c.type) for c in self.columns),
            self.num_rows,
            self.location,
            self.source_type,
        )


class DatasetLogIn(Input):
    dataset: DatasetInfoIn
    context: str = "training"
    direction: Direction = Direction.INPUT


class SearchIn(Input):
    experiments: list[str] | None = None
    filter: str = ""
    order_by: list[str] = Field(default_factory=list)
    max_results: Count = DEFAULT_MAX_RESULTS
    offset: Offset = 0


class CountIn(Input):
    experiments: list[str] | None = None
    filter: str = ""


class CountOut(BaseModel):
    count: int


class CompareIn(Input):
    run_ids: list[str]


# -- responses ----------------------------------------------------------------------------------


class ExperimentOut(BaseModel):
    id: str
    name: str
    description: str
    created_at: datetime
    tags: dict[str, str]

    @classmethod
    def of(cls, e: Experiment) -> ExperimentOut:
        return cls(
            id=e.id, name=e.name, description=e.description, created_at=e.created_at, tags=dict(e.tags)
        )


class ExperimentsOut(BaseModel):
    experiments: list[ExperimentOut]


class MetricOut(BaseModel):
    key: str
    value: FloatOut
    step: int
    timestamp: int

    @classmethod
    def of(cls, m: Metric) -> MetricOut:
        return cls(key=m.key, value=encode_float(m.value), step=m.step, timestamp=m.timestamp)


class MetricHistoryOut(BaseModel):
    """One metric's points in step and timestamp order, as ``[value, step, timestamp_ms]``."""

    key: str
    points: list[tuple[FloatOut, int, int]]

    @classmethod
    def of(cls, key: str, history: list[Metric]) -> MetricHistoryOut:
        return cls(key=key, points=[(encode_float(m.value), m.step, m.timestamp) for m in history])


class StoredOut(BaseModel):
    stored: int


class RunOut(BaseModel):
    id: str
    experiment_id: str
    name: str
    status: str
    start_time: datetime
    end_time: datetime | None
    user: str
    params: dict[str, str]
    metrics: dict[str, MetricOut]
    tags: dict[str, str]
    note: str
    parent_id: str | None
    environment: EnvironmentIO | None

    @classmethod
    def of(cls, r: Run) -> RunOut:
        return cls(
            id=r.id,
            experiment_id=r.experiment_id,
            name=r.name,
            status=r.status.value,
            start_time=r.start_time,
            end_time=r.end_time,
            user=r.user,
            params=dict(r.params),
            metrics={k: MetricOut.of(m) for k, m in r.metrics.items()},
            tags=dict(r.tags),
            note=r.note,
            parent_id=r.parent_id,
            environment=EnvironmentIO.of(r.environment) if r.environment else None,
        )


class RunsOut(BaseModel):
    runs: list[RunOut]

    @classmethod
    def of(cls, runs: list[Run]) -> RunsOut:
        return cls(runs=[RunOut.of(r) for r in runs])


class DatasetOut(BaseModel):
    id: str
    name: str
    digest: str
    columns: list[ColumnIO] = Field(serialization_alias="schema")
    num_rows: int | None
    location: str
    source_type: str
    created_at: datetime

    @classmethod
    def of(cls, d: Dataset) -> DatasetOut:
        return cls(
            id=d.id,
            name=d.name,
            digest=d.digest,
            columns=[ColumnIO(name=c.name, type=c.type) for c in d.schema],
            num_rows=d.num_rows,
            location=d.location,
            source_type=d.source_type,
            created_at=d.created_at,
        )


class RunDatasetOut(BaseModel):
    run_id: str
    dataset: DatasetOut
    direction: str
    context: str

    @classmethod
    def of(cls, rd: RunDataset) -> RunDatasetOut:
        return cls(
            run_id=rd.run_id,
            dataset=DatasetOut.of(rd.dataset),
            direction=rd.direction.value,
            context=rd.context,
        )


class RunDatasetsOut(BaseModel):
    datasets: list[RunDatasetOut]


class ArtifactOut(BaseModel):
    run_id: str
    path: str
    digest: str
    size: int
    created_at: datetime

    @classmethod
    def of(cls, a: Artifact) -> ArtifactOut:
        return cls(run_id=a.run_id, path=a.path, digest=a.digest, size=a.size, created_at=a.created_at)


class ArtifactsOut(BaseModel):
    artifacts: list[ArtifactOut]


class ComparisonOut(BaseModel):
    runs: list[RunOut]
    param_keys: list[str]
    metric_keys: list[str]

    @classmethod
    def of(cls, c: RunComparison) -> ComparisonOut:
        return cls(
            runs=[RunOut.of(r) for r in c.runs],
            param_keys=list(c.param_keys),
            metric_keys=list(c.metric_keys),
        )


class LineageNodeOut(BaseModel):
    kind: str
    id: str
    label: str

    @classmethod
    def of(cls, n: LineageNode) -> LineageNodeOut:
        return cls(kind=n.kind.value, id=n.id, label=n.label)


class LineageEdgeOut(BaseModel):
    source: str
    target: str
    relation: str

    @classmethod
    def of(cls, e: LineageEdge) -> LineageEdgeOut:
        return cls(source=e.source, target=e.target, relation=e.relation)


class LineageOut(BaseModel):
    subject: LineageNodeOut
    nodes: list[LineageNodeOut]
    edges: list[LineageEdgeOut]

    @classmethod
    def of(cls, g: LineageGraph) -> LineageOut:
        return cls(
            subject=LineageNodeOut.of(g.subject),
            nodes=[LineageNodeOut.of(n) for n in g.nodes],
            edges=[LineageEdgeOut.of(e) for e in g.edges],
        )

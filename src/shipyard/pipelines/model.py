"""What the pipelines domain talks about: applied pipelines, their graph, runs and step runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

#: Tags set on the tracking runs of pipelines and steps (searchable like any tag).
TAG_PIPELINE = "shipyard.pipeline"
TAG_PIPELINE_VERSION = "shipyard.pipeline.version"
TAG_PIPELINE_RUN = "shipyard.pipeline.run"
TAG_STEP = "shipyard.step"
TAG_STEP_VERSION = "shipyard.step.version"
#: On a run started inside a step body (besides TAG_PIPELINE_RUN): the step run that made it.
TAG_STEP_RUN = "shipyard.step.run"
TAG_STARTED_BY = "shipyard.started_by"
TAG_TRIGGER = "shipyard.trigger_id"
TAG_ATTEMPT = "shipyard.step.attempt"
TAG_CACHED_FROM = "shipyard.step.cached_from"
TAG_PARENT = "mlflow.parentRunId"


class RunState(StrEnum):
    """The state of a pipeline run or a step run (the tracking run says FINISHED/FAILED)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CACHED = "CACHED"  # step runs only: reused an earlier successful step run
    SKIPPED = "SKIPPED"  # step runs only: an upstream step failed

    @property
    def done(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CACHED, RunState.SKIPPED)

    @property
    def ok(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.CACHED)


@dataclass(frozen=True)
class StepOptions:
    cache: bool = True
    retries: int = 0
    retry_backoff: float = 1.0  # seconds before the first retry; doubles each time
    timeout: float | None = None  # seconds per attempt
    pickle: bool = False


@dataclass(frozen=True)
class NodeInput:
    """Where a step argument comes from: another node's output, a pipeline parameter, or a constant."""

    kind: str  # "node" | "param" | "const"
    ref: str = ""  # node id or parameter name
    value: Any = None  # the JSON constant when kind == "const"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "value": self.value}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NodeInput:
        return cls(str(d["kind"]), str(d.get("ref", "")), d.get("value"))


@dataclass(frozen=True)
class Node:
    """One call of a step inside a pipeline: the DAG's vertex."""

    id: str
    step: str
    ref: str  # "module:qualname" of the step function
    code_digest: str
    inputs: Mapping[str, NodeInput]
    output_type: str
    options: StepOptions = field(default_factory=StepOptions)

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.ref for i in self.inputs.values() if i.kind == "node"))

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "id": self.id,
            "step": self.step,
            "ref": self.ref,
            "code_digest": self.code_digest,
            "inputs": {k: v.to_dict() for k, v in self.inputs.items()},
            "output_type": self.output_type,
            "options": {
                "cache": o.cache,
                "retries": o.retries,
                "retry_backoff": o.retry_backoff,
                "timeout": o.timeout,
                "pickle": o.pickle,
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Node:
        return cls(
            id=d["id"],
            step=d["step"],
            ref=d["ref"],
            code_digest=d["code_digest"],
            inputs={k: NodeInput.from_dict(v) for k, v in d["inputs"].items()},
            output_type=d["output_type"],
            options=StepOptions(**d["options"]),
        )


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any = None
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "default": self.default, "required": self.required}


@dataclass(frozen=True)
class PipelineSpec:
    """An applied pipeline version: the graph and where its code lives."""

    name: str
    version: str  # digest of the steps' code digests and the graph
    ref: str  # "module:qualname" of the pipeline function
    source_digest: str
    params: tuple[Param, ...]
    nodes: tuple[Node, ...]
    description: str = ""

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": [p.to_dict() for p in self.params],
            "nodes": [n.to_dict() for n in self.nodes],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PipelineSpec:
        """The spec a client sent (see :meth:`to_dict` plus name, version, ref, source_digest)."""
        return cls(
            name=d["name"],
            version=d["version"],
            ref=d["ref"],
            source_digest=d["source_digest"],
            params=tuple(Param(**p) for p in d["params"]),
            nodes=tuple(Node.from_dict(n) for n in d["nodes"]),
            description=d.get("description", ""),
        )


@dataclass(frozen=True)
class Pipeline:
    name: str
    description: str
    latest_version: str
    ref: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StepRun:
    node: str
    step: str
    step_version: str
    state: RunState
    run_id: str | None  # the nested tracking run
    attempt: int
    cache_key: str | None
    cached_from: str | None  # the step run (tracking run id) whose outputs were reused
    output_digest: str | None
    output_kind: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


@dataclass(frozen=True)
class PipelineRun:
    id: str  # the tracking run id
    pipeline: str
    version: str
    state: RunState
    params: Mapping[str, Any]
    started_by: str
    trigger_id: str | None
    firing_key: str | None
    executor: str
    resumed_from: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: tuple[StepRun, ...] = ()

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)

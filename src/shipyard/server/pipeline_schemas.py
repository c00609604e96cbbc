"""The JSON shapes of the pipeline routes, mapped explicitly from the pipelines model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shipyard.pipelines.model import Pipeline, PipelineRun, PipelineSpec, StepRun

MAX_NODES = 500

# -- requests -----------------------------------------------------------------------------------


class ParamIn(BaseModel):
    name: str = Field(..., max_length=128)
    type: str = Field(..., max_length=500)
    default: Any = None
    required: bool = False


class SpecIn(BaseModel):
    """A pipeline graph as the SDK builds it (``PipelineSpec.to_dict`` plus its identity)."""

    name: str = Field(..., max_length=128)
    version: str = Field(..., pattern=r"^sha256:[0-9a-f]{64}$")
    ref: str = Field(..., max_length=500)
    source_digest: str = Field(..., pattern=r"^sha256:[0-9a-f]{64}$")
    description: str = Field("", max_length=10_000)
    params: list[ParamIn] = Field(default_factory=list, max_length=200)
    nodes: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_NODES)


class RunIn(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict, max_length=200)
    executor: str | None = Field(None, max_length=50)
    cache: bool = True
    resume: str | None = Field(None, min_length=32, max_length=32, description="Run id to resume.")


# -- responses ----------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    type: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


#: The error responses every pipeline route may answer (the JSON envelope of shipyard.server.errors).
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown token"},
    403: {"model": ErrorOut, "description": "the token's user may not do this"},
    404: {"model": ErrorOut, "description": "unknown pipeline, run or step"},
    409: {
        "model": ErrorOut,
        "description": "the pipeline's code changed since apply, or the run cannot resume",
    },
    422: {"model": ErrorOut, "description": "invalid input (the field is named)"},
}


class PipelineOut(BaseModel):
    name: str
    description: str
    latest_version: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Pipeline) -> PipelineOut:
        return cls(
            name=p.name,
            description=p.description,
            latest_version=p.latest_version,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PipelinesOut(BaseModel):
    pipelines: list[PipelineOut]


class SpecOut(BaseModel):
    name: str
    version: str
    ref: str
    source_digest: str
    description: str
    params: list[dict[str, Any]]
    nodes: list[dict[str, Any]]

    @classmethod
    def of(cls, spec: PipelineSpec) -> SpecOut:
        d = spec.to_dict()
        return cls(
            name=spec.name,
            version=spec.version,
            ref=spec.ref,
            source_digest=spec.source_digest,
            description=spec.description,
            params=d["params"],
            nodes=d["nodes"],
        )


class StepRunOut(BaseModel):
    node: str
    step: str
    step_version: str
    state: str
    run_id: str | None
    attempt: int
    cache_key: str | None
    cached_from: str | None
    output_digest: str | None
    output_kind: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, s: StepRun) -> StepRunOut:
        return cls(
            node=s.node,
            step=s.step,
            step_version=s.step_version,
            state=s.state.value,
            run_id=s.run_id,
            attempt=s.attempt,
            cache_key=s.cache_key,
            cached_from=s.cached_from,
            output_digest=s.output_digest,
            output_kind=s.output_kind,
            error=s.error,
            started_at=s.started_at,
            finished_at=s.finished_at,
        )


class RunOut(BaseModel):
    id: str
    pipeline: str
    version: str
    state: str
    params: dict[str, Any]
    started_by: str
    trigger_id: str | None
    firing_key: str | None
    executor: str
    resumed_from: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepRunOut]

    @classmethod
    def of(cls, r: PipelineRun) -> RunOut:
        return cls(
            id=r.id,
            pipeline=r.pipeline,
            version=r.version,
            state=r.state.value,
            params=dict(r.params),
            started_by=r.started_by,
            trigger_id=r.trigger_id,
            firing_key=r.firing_key,
            executor=r.executor,
            resumed_from=r.resumed_from,
            error=r.error,
            created_at=r.created_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            steps=[StepRunOut.of(s) for s in r.steps],
        )


class RunsOut(BaseModel):
    runs: list[RunOut]


class RunCreated(BaseModel):
    run_id: str


class LogOut(BaseModel):
    node: str
    stdout: str
    stderr: str


class LogsOut(BaseModel):
    logs: list[LogOut]

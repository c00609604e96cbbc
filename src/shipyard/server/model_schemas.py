"""The JSON shapes of the model registry routes, mapped explicitly from the registry entities."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from shipyard.registry.entities import (
    Approval,
    GateReport,
    GateResult,
    ModelVersion,
    RegisteredModel,
    Transition,
    VersionComparison,
)
from shipyard.server.fields import INT32_MAX, Input


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


# -- requests -----------------------------------------------------------------------------------


class ModelIn(Input):
    name: str
    description: str = ""
    allow_multiple_production: bool = False


class ModelPatch(Input):
    description: str | None = None


class VersionIn(Input):
    run_id: str
    artifact_path: str = "model"
    description: str = ""
    limitations: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class VersionPatch(Input):
    description: str | None = None
    limitations: str | None = None


class TransitionIn(Input):
    comment: str = ""


class AliasIn(Input):
    version: Annotated[int, Field(ge=1, le=INT32_MAX)]


class ModelTagsIn(Input):
    tags: dict[str, str]
    version: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None


class GatesIn(Input):
    """The evaluation frame as rows (column -> value), holding ``label`` and any sensitive column."""

    target_stage: str = "production"
    label: str
    rows: list[dict[str, Any]] = Field(min_length=1)


class ApprovalIn(Input):
    target_stage: str = "production"
    comment: str = ""


class DecisionIn(Input):
    comment: str = ""


# -- responses ----------------------------------------------------------------------------------


class ModelOut(BaseModel):
    name: str
    description: str
    allow_multiple_production: bool
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    production_versions: list[int]

    @classmethod
    def of(cls, m: RegisteredModel) -> ModelOut:
        return cls(
            name=m.name,
            description=m.description,
            allow_multiple_production=m.allow_multiple_production,
            created_at=m.created_at,
            updated_at=m.updated_at,
            tags=dict(m.tags),
            aliases=dict(m.aliases),
            latest_version=m.latest_version,
            production_versions=list(m.production_versions),
        )


class ModelsOut(BaseModel):
    models: list[ModelOut]


class TrainingDataOut(BaseModel):
    name: str
    digest: str
    location: str
    num_rows: int | None


class VersionOut(BaseModel):
    model: str
    version: int
    stage: str
    run_id: str
    artifact_path: str
    artifact_digest: str
    flavor: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    description: str
    limitations: str
    signature: dict[str, Any]
    input_example: list[dict[str, Any]]
    training_data: TrainingDataOut | None
    feature_service: str | None
    code_version: str | None
    metrics: dict[str, float | None]
    params: dict[str, str]
    tags: dict[str, str]
    aliases: list[str]

    @classmethod
    def of(cls, v: ModelVersion) -> VersionOut:
        t = v.training_data
        return cls(
            model=v.model,
            version=v.version,
            stage=v.stage.value,
            run_id=v.run_id,
            artifact_path=v.artifact_path,
            artifact_digest=v.artifact_digest,
            flavor=v.flavor,
            created_by=v.created_by,
            created_at=v.created_at,
            updated_at=v.updated_at,
            description=v.description,
            limitations=v.limitations,
            signature=dict(v.signature),
            input_example=[dict(r) for r in v.input_example],
            training_data=None if t is None else TrainingDataOut(**t.__dict__),
            feature_service=v.feature_service,
            code_version=v.code_version,
            metrics={k: _finite(x) for k, x in v.metrics.items()},
            params=dict(v.params),
            tags=dict(v.tags),
            aliases=list(v.aliases),
        )


class VersionsOut(BaseModel):
    versions: list[VersionOut]


class TransitionOut(BaseModel):
    version: int
    from_stage: str | None
    to_stage: str
    actor: str
    comment: str
    at: datetime

    @classmethod
    def of(cls, t: Transition) -> TransitionOut:
        return cls(
            version=t.version,
            from_stage=t.from_stage.value if t.from_stage else None,
            to_stage=t.to_stage.value,
            actor=t.actor,
            comment=t.comment,
            at=t.at,
        )


class HistoryOut(BaseModel):
    transitions: list[TransitionOut]


class ApprovalOut(BaseModel):
    id: str
    model: str
    version: int
    target_stage: str
    status: str
    requested_by: str
    requested_at: datetime
    comment: str
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str

    @classmethod
    def of(cls, a: Approval) -> ApprovalOut:
        return cls(
            id=a.id,
            model=a.model,
            version=a.version,
            target_stage=a.target_stage.value,
            status=a.status.value,
            requested_by=a.requested_by,
            requested_at=a.requested_at,
            comment=a.comment,
            decided_by=a.decided_by,
            decided_at=a.decided_at,
            decision_comment=a.decision_comment,
        )


class ApprovalsOut(BaseModel):
    approvals: list[ApprovalOut]


class GateResultOut(BaseModel):
    name: str
    passed: bool
    measured: float | None
    threshold: float | None
    margin: float | None
    detail: str

    @classmethod
    def of(cls, r: GateResult) -> GateResultOut:
        return cls(
            name=r.name,
            passed=r.passed,
            measured=_finite(r.measured),
            threshold=_finite(r.threshold),
            margin=_finite(r.margin),
            detail=r.detail,
        )


class GateReportOut(BaseModel):
    id: str
    model: str
    version: int
    target_stage: str
    passed: bool
    results: list[GateResultOut]
    actor: str
    at: datetime
    dataset_digest: str | None

    @classmethod
    def of(cls, g: GateReport) -> GateReportOut:
        return cls(
            id=g.id,
            model=g.model,
            version=g.version,
            target_stage=g.target_stage.value,
            passed=g.passed,
            results=[GateResultOut.of(r) for r in g.results],
            actor=g.actor,
            at=g.at,
            dataset_digest=g.dataset_digest,
        )


class GateReportsOut(BaseModel):
    reports: list[GateReportOut]


class PolicyOut(BaseModel):
    policy: dict[str, Any] | None


class ComparisonOut(BaseModel):
    left: VersionOut
    right: VersionOut
    metrics: dict[str, tuple[float | None, float | None]]
    params: dict[str, tuple[str | None, str | None]]
    same_training_data: bool
    features_added: list[str]
    features_removed: list[str]
    features_retyped: list[str]

    @classmethod
    def of(cls, c: VersionComparison) -> ComparisonOut:
        return cls(
            left=VersionOut.of(c.left),
            right=VersionOut.of(c.right),
            metrics={k: (_finite(a), _finite(b)) for k, (a, b) in c.metrics.items()},
            params=dict(c.params),
            same_training_data=c.same_training_data,
            features_added=list(c.features_added),
            features_removed=list(c.features_removed),
            features_retyped=list(c.features_retyped),
        )

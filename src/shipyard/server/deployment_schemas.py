"""The JSON shapes of the deployment routes, mapped explicitly from :mod:`shipyard.serving.model`.
Times are epoch milliseconds."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from shipyard.serving.canary import Check
from shipyard.serving.model import CanaryPolicy, Deployment, Target, VersionWindow
from shipyard.serving.records import DecisionRecord
from shipyard.serving.strategies import TargetSpec

Ref = Annotated[str, Field(min_length=1, max_length=400, description="MODEL@ALIAS or MODEL@VERSION")]
Percent = Annotated[int, Field(ge=0, le=100)]
RoleName = Literal["primary", "challenger", "shadow", "standby"]


class ErrorDetail(BaseModel):
    type: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """The documented error responses of a route."""
    text = {
        401: "No or an unknown token.",
        403: "The token's user may not perform the action (or may not read a model it names).",
        404: "No deployment, model, version or alias by that name.",
        409: "The deployment exists already, or its state does not allow the change.",
        422: "Invalid input; `field` names it.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in (401, 403, *codes)}


# -- requests -----------------------------------------------------------------------------------


class TargetIn(BaseModel):
    ref: Ref
    role: RoleName
    weight: Percent | None = None

    def to_spec(self) -> TargetSpec:
        return TargetSpec(self.ref, self.role, self.weight)


class CanaryIn(BaseModel):
    steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(default=[10, 25, 50, 100], max_length=20)
    step_seconds: int = Field(60, ge=0, le=86_400)
    min_requests: int = Field(200, ge=1, le=10_000_000)
    max_error_rate: float = Field(0.01, ge=0, le=1)
    max_p99_ratio: float = Field(1.5, ge=0, le=1000)
    min_agreement: float = Field(0.95, ge=0, le=1)
    max_metric_drop: float | None = Field(None, ge=-1e9, le=1e9)
    progress_deadline_seconds: int = Field(600, ge=1, le=604_800)
    promote_alias: str | None = Field(None, min_length=1, max_length=100)

    def to_policy(self) -> CanaryPolicy:
        return CanaryPolicy(**{**self.model_dump(), "steps": tuple(self.steps)})


class DeploymentSpecIn(BaseModel):
    """Name the primary as ``model`` (plus a ``challenger`` or ``shadow``), or give ``targets``."""

    model: Ref | None = None
    strategy: str = Field("single", max_length=20)
    challenger: Ref | None = None
    shadow: Ref | None = None
    weight: Percent | None = None
    targets: list[TargetIn] | None = Field(None, max_length=4)
    canary: CanaryIn | None = None
    public: bool = False
    feature_service: str | None = Field(None, min_length=1, max_length=250)


class DeploymentIn(DeploymentSpecIn):
    name: str = Field(min_length=1, max_length=100)


class ReasonIn(BaseModel):
    reason: str = Field("", max_length=1000)


class DecideIn(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100, description="One canary; default all.")


# -- responses ----------------------------------------------------------------------------------


class TargetOut(BaseModel):
    model: str
    version: int
    role: str
    weight: int
    alias: str | None

    @classmethod
    def of(cls, t: Target) -> TargetOut:
        return cls(model=t.model, version=t.version, role=t.role, weight=t.weight, alias=t.alias)


class DeploymentOut(BaseModel):
    name: str
    model: str
    strategy: str
    status: str
    public: bool
    targets: list[TargetOut]
    canary: CanaryIn | None
    feature_service: str | None
    revision: int
    created_at: int
    updated_at: int
    created_by: str

    @classmethod
    def of(cls, d: Deployment) -> DeploymentOut:
        canary = None
        if d.canary is not None:
            canary = CanaryIn(**{**d.canary.__dict__, "steps": list(d.canary.steps)})
        return cls(
            name=d.name,
            model=d.model,
            strategy=d.strategy,
            status=d.status,
            public=d.public,
            targets=[TargetOut.of(t) for t in d.targets],
            canary=canary,
            feature_service=d.feature_service,
            revision=d.revision,
            created_at=d.created_at,
            updated_at=d.updated_at,
            created_by=d.created_by,
        )


class DeploymentsOut(BaseModel):
    deployments: list[DeploymentOut]


class RevisionOut(BaseModel):
    revision: int


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


class CheckOut(BaseModel):
    name: str
    value: float | None
    threshold: float
    samples: int
    min_samples: int
    status: str

    @classmethod
    def of(cls, c: Check) -> CheckOut:
        return cls(
            name=c.name,
            value=_finite(c.value),
            threshold=c.threshold,
            samples=c.samples,
            min_samples=c.min_samples,
            status=c.status,
        )


class DecisionOut(BaseModel):
    id: str
    deployment: str
    at: int
    action: str
    revision: int
    weight: int
    reason: str
    checks: list[CheckOut]
    figures: dict[str, dict[str, float | int | None]]
    actor: str

    @classmethod
    def of(cls, d: DecisionRecord) -> DecisionOut:
        figures = {
            side: {k: _finite(v) if isinstance(v, float) else v for k, v in dict(values).items()}  # type: ignore[call-overload]
            for side, values in d.figures.items()
        }
        return cls(
            id=d.id,
            deployment=d.deployment,
            at=d.at,
            action=d.action,
            revision=d.revision,
            weight=d.weight,
            reason=d.reason,
            checks=[CheckOut.of(c) for c in d.checks],
            figures=figures,
            actor=d.actor,
        )


class DecisionsOut(BaseModel):
    decisions: list[DecisionOut]


class WindowOut(BaseModel):
    deployment: str
    model: str
    version: int
    role: str
    start: int
    end: int
    requests: int
    errors: int
    latency_buckets: dict[str, int]
    compared: int
    agreed: int

    @classmethod
    def of(cls, w: VersionWindow) -> WindowOut:
        return cls(
            deployment=w.deployment,
            model=w.model,
            version=w.version,
            role=w.role,
            start=w.start,
            end=w.end,
            requests=w.requests,
            errors=w.errors,
            latency_buckets={repr(float(b)): c for b, c in w.latency_buckets.items()},
            compared=w.compared,
            agreed=w.agreed,
        )


class WindowsOut(BaseModel):
    windows: list[WindowOut]

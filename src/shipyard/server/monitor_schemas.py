"""The JSON shapes of the monitoring routes, mapped explicitly from :mod:`shipyard.monitoring.model`.
Times are epoch milliseconds; figures that are not finite numbers are left out."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from shipyard.monitoring.model import (
    CHECKS,
    Alert,
    Channel,
    Check,
    DriftSettings,
    Evaluation,
    LabelReport,
    Monitor,
    MonitorSpec,
    Rule,
    Window,
)
from shipyard.server.fields import Input, Line, Name

Ident = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Figure = Annotated[str, Field(min_length=1, max_length=250, pattern=r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_.-]+)+$")]
Threshold = Annotated[float, Field(ge=-1e15, le=1e15)]


# -- requests -----------------------------------------------------------------------------------


class DriftIn(Input):
    method: Annotated[str, Field(max_length=50)] | None = None
    threshold: Threshold | None = None
    per_column_method: dict[Name, Annotated[str, Field(max_length=50)]] = Field(
        default_factory=dict, max_length=1000
    )
    per_column_threshold: dict[Name, Threshold] = Field(default_factory=dict, max_length=1000)
    drift_share: float = Field(0.5, gt=0, le=1)

    def to_settings(self) -> DriftSettings:
        return DriftSettings(**self.model_dump())


class MonitorIn(Input):
    """Watch a ``deployment``, or a ``model`` version (``version``) evaluated on data you pass."""

    name: Ident
    deployment: Name | None = None
    model: Name | None = None
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    reference: Line | None = Field(None, description="A Parquet or CSV path or URI the server can read.")
    target: Name | None = None
    features: list[Name] | None = Field(None, max_length=2000)
    task: Literal["classification", "regression"] = "classification"
    positive: Annotated[str, Field(max_length=200)] | None = None
    window: Annotated[str, Field(max_length=30)] = Field("1h", description="1h, 30m, 7d or 5000rows")
    schedule: Annotated[str, Field(max_length=200)] | None = Field(None, description="cron, UTC")
    checks: list[Check] = Field(default_factory=lambda: list(CHECKS), min_length=1, max_length=8)
    drift: DriftIn = Field(default_factory=DriftIn)

    def to_spec(self) -> MonitorSpec:
        return MonitorSpec(
            name=self.name,
            deployment=self.deployment,
            model=self.model,
            version=self.version,
            reference=self.reference,
            target=self.target,
            features=None if self.features is None else tuple(self.features),
            task=self.task,
            positive=self.positive,
            window=Window.parse(self.window),
            schedule=self.schedule,
            checks=tuple(self.checks),
            drift=self.drift.to_settings(),
        )


class EvaluateIn(Input):
    at: int | None = Field(None, ge=0, le=2**53, description="The window's end (epoch ms); default now.")


class RuleIn(Input):
    name: Ident
    figure: Figure
    op: Literal[">", ">=", "<", "<="]
    threshold: Threshold
    severity: Literal["info", "warning", "critical"] = "warning"
    cooldown_s: int = Field(3600, ge=0, le=30 * 86_400)
    for_evaluations: int = Field(1, ge=1, le=1000)
    channels: list[Ident] = Field(default_factory=list, max_length=20)


class ChannelIn(Input):
    name: Ident
    kind: Annotated[str, Field(min_length=1, max_length=50)]
    settings: dict[Annotated[str, Field(max_length=100)], Any] = Field(default_factory=dict, max_length=50)


class LabelIn(Input):
    request_id: Annotated[str, Field(min_length=1, max_length=200)]
    label: Annotated[str, Field(min_length=1, max_length=200)] | float | int | bool
    row: int = Field(0, ge=0, le=999_999)


class LabelsIn(Input):
    labels: list[LabelIn] = Field(min_length=1, max_length=100_000)


# -- responses ----------------------------------------------------------------------------------


def _figures(values: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}


class MonitorOut(BaseModel):
    name: str
    deployment: str | None
    model: str | None
    version: int | None
    reference: str
    reference_rows: int
    columns: list[str]
    target: str | None
    task: str
    window: str
    schedule: str | None
    checks: list[str]
    estimates_performance: bool
    enabled: bool
    next_due_at: int | None
    last_evaluated_at: int | None
    created_by: str
    created_at: int

    @classmethod
    def of(cls, m: Monitor) -> MonitorOut:
        s = m.spec
        return cls(
            name=m.name, deployment=s.deployment, model=s.model, version=s.version, reference=m.reference_source,
            reference_rows=m.reference_rows, columns=list(m.columns), target=s.target, task=s.task,
            window=s.window.label(), schedule=s.schedule, checks=list(s.checks),
            estimates_performance=m.estimator_digest is not None, enabled=m.enabled, next_due_at=m.next_due_at,
            last_evaluated_at=m.last_evaluated_at, created_by=m.created_by, created_at=m.created_at,
        )  # fmt: skip


class MonitorsOut(BaseModel):
    monitors: list[MonitorOut]


class EvaluationOut(BaseModel):
    id: str
    monitor: str
    model: str
    version: int
    window_start: int
    window_end: int
    rows: int
    status: str
    error: str | None
    duration_ms: float
    figures: dict[str, float]
    details: dict[str, Any] | None = None

    @classmethod
    def of(cls, e: Evaluation, *, details: bool = False) -> EvaluationOut:
        return cls(
            id=e.id, monitor=e.monitor, model=e.model, version=e.version, window_start=e.window_start,
            window_end=e.window_end, rows=e.rows, status=e.status, error=e.error, duration_ms=e.duration_ms,
            figures=_figures(e.figures), details=e.details if details else None,
        )  # fmt: skip


class EvaluationsOut(BaseModel):
    evaluations: list[EvaluationOut]


class PointOut(BaseModel):
    at: int
    value: float


class HistoryOut(BaseModel):
    monitor: str
    figure: str
    points: list[PointOut]


class RuleOut(BaseModel):
    name: str
    monitor: str
    figure: str
    op: str
    threshold: float
    severity: str
    cooldown_s: int
    for_evaluations: int
    channels: list[str]
    created_by: str
    created_at: int

    @classmethod
    def of(cls, r: Rule) -> RuleOut:
        return cls(
            name=r.name, monitor=r.monitor, figure=r.figure, op=r.op, threshold=r.threshold, severity=r.severity,
            cooldown_s=r.cooldown_s, for_evaluations=r.for_evaluations, channels=list(r.channels),
            created_by=r.created_by, created_at=r.created_at,
        )  # fmt: skip


class RulesOut(BaseModel):
    rules: list[RuleOut]


class AlertOut(BaseModel):
    id: str
    monitor: str
    rule: str
    figure: str
    op: str
    threshold: float
    severity: str
    status: str
    value: float | None
    estimated: bool
    evaluation_id: str
    event_type: str | None
    fired_at: int
    resolved_at: int | None
    acknowledged_by: str | None
    acknowledged_at: int | None

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        return cls(
            id=a.id, monitor=a.monitor, rule=a.rule, figure=a.figure, op=a.op, threshold=a.threshold,
            severity=a.severity, status=a.status, value=a.value if math.isfinite(a.value) else None,
            estimated=a.figure.startswith("estimated."), evaluation_id=a.evaluation_id, event_type=a.event_type,
            fired_at=a.fired_at, resolved_at=a.resolved_at, acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
        )  # fmt: skip


class AlertsOut(BaseModel):
    alerts: list[AlertOut]


SECRET_KEYS = ("password", "token", "secret")


class ChannelOut(BaseModel):
    name: str
    kind: str
    settings: dict[str, Any]
    created_by: str
    created_at: int

    @classmethod
    def of(cls, c: Channel) -> ChannelOut:
        shown = {k: ("***" if any(s in k.lower() for s in SECRET_KEYS) else v) for k, v in c.settings.items()}
        return cls(name=c.name, kind=c.kind, settings=shown, created_by=c.created_by, created_at=c.created_at)


class ChannelsOut(BaseModel):
    channels: list[ChannelOut]


class LabelReportOut(BaseModel):
    received: int
    stored: int
    duplicates: int
    unknown: int
    out_of_order: int

    @classmethod
    def of(cls, r: LabelReport) -> LabelReportOut:
        return cls(
            received=r.received, stored=r.stored, duplicates=r.duplicates, unknown=r.unknown,
            out_of_order=r.out_of_order,
        )  # fmt: skip


class ThreadStepOut(BaseModel):
    kind: str
    id: str
    at: int | None
    summary: str


class ThreadOut(BaseModel):
    alert: str
    steps: list[ThreadStepOut]

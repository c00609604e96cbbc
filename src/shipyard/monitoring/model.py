"""What monitoring talks about: monitors, their evaluations and figures, labels, alert rules,
alerts and notification channels. Frozen values, no I/O.

A monitor watches one deployment (the version serving as its primary at evaluation time) or one
model version (batch scoring, whose predictions are logged the same way). Each evaluation reads a
window of the inference log, runs the monitor's checks against a reference prepared once from the
version's training data, and stores every figure under a dotted name:

=======================  ==========================================================================
``window.rows``          predictions in the window
``quality.*``            nulls, values outside the reference range, unseen categories, schema
``drift.share``          share of drifted feature columns; ``drift.count``, ``drift.dataset`` (0/1)
``drift.column.<c>``     the drift score of feature ``c`` (distance or p-value, see drift)
``drift.prediction``     the drift score of the model's scores against the reference's
``performance.<m>``      metric ``m`` on the labelled predictions (``performance.labelled_rows``)
``estimated.<m>``        metric ``m`` estimated without labels (CBPE), always marked as estimated
``ops.*``                latency p50/p99, rows per second, requests, error rate (from serving)
``stability.*``          NaN and inf shares of the outputs, score spread, collapsed (0/1)
``age.days``             days since the monitored version was registered
=======================  ==========================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from shipyard.errors import InvalidInput

Check = Literal[
    "quality",
    "drift",
    "prediction_drift",
    "performance",
    "estimated_performance",
    "operations",
    "stability",
    "age",
]
CHECKS: tuple[Check, ...] = (
    "quality",
    "drift",
    "prediction_drift",
    "performance",
    "estimated_performance",
    "operations",
    "stability",
    "age",
)
Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
WindowKind = Literal["time", "rows"]

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
#: Most rows a window may hold: a window is read into memory to be evaluated.
MAX_WINDOW_ROWS = 5_000_000
MAX_WINDOW_SECONDS = 366 * 24 * 3600


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or NAME_PATTERN.fullmatch(value) is None:
        raise InvalidInput(
            f"{what} name {value!r} must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit",
            field="name",
        )
    return value


@dataclass(frozen=True)
class Window:
    """The rows an evaluation reads: the last ``size`` seconds (``time``) or the last ``size``
    predictions (``rows``) before the evaluation time."""

    kind: WindowKind = "time"
    size: int = 3600

    def __post_init__(self) -> None:
        if self.kind not in ("time", "rows"):
            raise InvalidInput(f"window kind must be 'time' or 'rows', got {self.kind!r}", field="window")
        limit = MAX_WINDOW_SECONDS if self.kind == "time" else MAX_WINDOW_ROWS
        if not isinstance(self.size, int) or not 1 <= self.size <= limit:
            unit = "seconds" if self.kind == "time" else "rows"
            raise InvalidInput(
                f"a {self.kind} window is 1 to {limit} {unit}, got {self.size!r}", field="window"
            )

    @classmethod
    def parse(cls, text: str) -> Window:
        """``1h``, ``30m``, ``7d``, ``3600s`` (time) or ``5000rows`` (rows)."""
        match = re.fullmatch(r"\s*(\d{1,9})\s*(s|m|h|d|rows?)\s*", text or "")
        if match is None:
            raise InvalidInput(
                f"window {text!r} is not understood: give e.g. 1h, 30m, 7d, 3600s or 5000rows", field="window"
            )
        number, unit = int(match.group(1)), match.group(2)
        if unit.startswith("row"):
            return cls("rows", number)
        return cls("time", number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])

    def label(self) -> str:
        if self.kind == "rows":
            return f"{self.size} rows"
        for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
            if self.size % seconds == 0:
                return f"{self.size // seconds}{unit}"
        return f"{self.size}s"


@dataclass(frozen=True)
class DriftSettings:
    """Overrides of the drift defaults (see :mod:`shipyard.monitoring.drift`); empty means
    Evidently's defaults."""

    method: str | None = None
    threshold: float | None = None
    per_column_method: dict[str, str] = field(default_factory=dict)
    per_column_threshold: dict[str, float] = field(default_factory=dict)
    drift_share: float = 0.5


@dataclass(frozen=True)
class MonitorSpec:
    """What a user declares. ``deployment`` or ``model``+``version`` (batch scoring) names what is
    watched; ``reference`` is a Parquet/CSV path or URI, or None for the version's training dataset
    as recorded in the registry; ``target`` is the label column in the reference."""

    name: str
    deployment: str | None = None
    model: str | None = None
    version: int | None = None
    reference: str | None = None
    target: str | None = None
    features: tuple[str, ...] | None = None
    task: Task = "classification"
    positive: str | None = None  # the positive class, as text; default: the larger of two classes
    window: Window = field(default_factory=Window)
    schedule: str | None = None  # cron, UTC
    checks: tuple[Check, ...] = CHECKS
    drift: DriftSettings = field(default_factory=DriftSettings)

    def __post_init__(self) -> None:
        check_name(self.name, "monitor")
        if (self.deployment is None) == (self.model is None):
            raise InvalidInput(
                "a monitor watches a deployment or a model version: give exactly one", field="deployment"
            )
        if self.model is not None and self.version is None:
            raise InvalidInput("a monitor on a model names its version (MODEL/VERSION)", field="version")
        if self.task not in TASKS:
            raise InvalidInput(f"task must be one of {', '.join(TASKS)}, got {self.task!r}", field="task")
        unknown = [c for c in self.checks if c not in CHECKS]
        if unknown or not self.checks:
            raise InvalidInput(
                f"unknown check(s) {', '.join(map(repr, unknown)) or '(none given)'}; known: {', '.join(CHECKS)}",
                field="checks",
            )


@dataclass(frozen=True)
class Monitor:
    id: str
    spec: MonitorSpec
    reference_digest: str  # the prepared reference in the content store
    reference_rows: int
    reference_source: str  # where the reference came from, for people
    columns: tuple[str, ...]  # the feature columns watched
    estimator_digest: str | None  # the fitted CBPE estimator, None if not a fitted classifier
    enabled: bool
    next_due_at: int | None  # epoch ms of the next scheduled evaluation
    last_evaluated_at: int | None
    created_by: str
    created_at: int
    updated_at: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def subject(self) -> str:
        s = self.spec
        return f"deployment {s.deployment}" if s.deployment else f"{s.model}/{s.version}"


@dataclass(frozen=True)
class Evaluation:
    id: str
    monitor: str
    model: str
    version: int
    window_start: int  # epoch ms, inclusive
    window_end: int  # epoch ms, exclusive
    rows: int
    figures: dict[str, float]
    details: dict[str, Any]  # per-column drift, distributions, quality: what reports draw
    status: Literal["ok", "empty", "failed"]
    error: str | None
    duration_ms: float
    created_at: int


@dataclass(frozen=True)
class LabelReport:
    """What happened to a batch of labels: all are kept; each case is counted, never an error."""

    received: int
    stored: int
    duplicates: int  # already known for that prediction, or repeated in the batch (first kept)
    unknown: int  # no logged prediction with that request id (yet): kept, joined when it appears
    out_of_order: int  # for a prediction older than one labelled before: kept; older windows
    #: are re-evaluated with ``shipyard monitor evaluate --at``


@dataclass(frozen=True)
class Channel:
    """A configured notifier: ``kind`` is a notifier plugin (webhook, smtp, log)."""

    name: str
    kind: str
    settings: dict[str, Any]
    created_by: str
    created_at: int


@dataclass(frozen=True)
class Rule:
    id: str
    monitor: str
    name: str
    figure: str
    op: str
    threshold: float
    severity: str
    cooldown_s: int
    for_evaluations: int
    channels: tuple[str, ...]
    created_by: str
    created_at: int


AlertStatus = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Alert:
    id: str
    rule: str
    monitor: str
    figure: str
    op: str
    threshold: float
    severity: str
    status: AlertStatus
    value: float
    evaluation_id: str
    event_type: str | None  # drift.detected / performance.degraded, if the alert published one
    fired_at: int
    resolved_at: int | None
    acknowledged_by: str | None
    acknowledged_at: int | None


@dataclass(frozen=True)
class ThreadStep:
    """One link of the closed loop's thread for an alert (``shipyard monitor explain``): alert,
    event, trigger firing, pipeline run, step runs, model version, gate report, deployment decision."""

    kind: str
    id: str
    at: int | None
    summary: str

"""What the registry talks about: registered models, versions, aliases, approvals, gate policies
and their results. Frozen dataclasses, no I/O. Times are aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shipyard.errors import InvalidInput


class Stage(StrEnum):
    REGISTERED = "registered"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"
    RETIRED = "retired"

    @classmethod
    def parse(cls, value: str | Stage, *, field: str = "stage") -> Stage:
        try:
            return cls(str(value).lower())
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise InvalidInput(f"unknown stage {value!r} (known: {known})", field=field) from None


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    allow_multiple_production: bool
    created_at: datetime
    updated_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)  # alias -> version
    latest_version: int | None = None
    production_versions: tuple[int, ...] = ()


@dataclass(frozen=True)
class TrainingData:
    """The dataset a version was trained on (the run's input dataset with context "training")."""

    name: str
    digest: str
    location: str
    num_rows: int | None = None


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    stage: Stage
    run_id: str
    artifact_path: str
    artifact_digest: str
    flavor: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    limitations: str = ""
    signature: Mapping[str, Any] = field(default_factory=dict)
    input_example: tuple[Mapping[str, Any], ...] = ()
    training_data: TrainingData | None = None
    feature_service: str | None = None
    code_version: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"


@dataclass(frozen=True)
class Transition:
    """One lifecycle move, kept forever (rollback reads them)."""

    model: str
    version: int
    from_stage: Stage | None  # None for the registration itself
    to_stage: Stage
    actor: str
    comment: str
    at: datetime


@dataclass(frozen=True)
class Approval:
    id: str
    model: str
    version: int
    target_stage: Stage
    requested_by: str
    requested_at: datetime
    status: ApprovalStatus
    comment: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str = ""


@dataclass(frozen=True)
class FairnessLimits:
    """Upper bounds on group disparities across ``sensitive`` (a column of the evaluation frame)."""

    sensitive: str
    max_demographic_parity_difference: float | None = None
    max_equalized_odds_difference: float | None = None


@dataclass(frozen=True)
class GatePolicy:
    """What a version must pass before it may enter one of ``stages``.

    ``min``/``max`` bound metrics measured on the evaluation frame (names in
    :data:`shipyard.registry.gates.METRICS`); ``beat_champion_by`` asks the candidate to beat the
    version holding the ``champion`` alias (else the production one) by at least that much on
    ``champion_metric``, on the same frame; ``require_validation`` asks for the frame to match the
    signature (or the run tag ``shipyard.validation=passed``); ``require_approval`` asks for a
    reviewer other than the requester to approve.
    """

    stages: tuple[Stage, ...] = (Stage.PRODUCTION,)
    min: Mapping[str, float] = field(default_factory=dict)
    max: Mapping[str, float] = field(default_factory=dict)
    beat_champion_by: float | None = None
    champion_metric: str = "auc"
    require_validation: bool = False
    fairness: FairnessLimits | None = None
    require_approval: bool = False

    def __post_init__(self) -> None:
        # Accept plain strings and any mappings from Python callers; store one canonical form.
        object.__setattr__(self, "stages", tuple(Stage.parse(s, field="policy.stages") for s in self.stages))
        object.__setattr__(self, "min", _bounds(self.min, "policy.min"))
        object.__setattr__(self, "max", _bounds(self.max, "policy.max"))

    @property
    def needs_evaluation(self) -> bool:
        """Whether some gate measures the model on data (everything but the approval)."""
        return bool(
            self.min
            or self.max
            or self.beat_champion_by is not None
            or self.require_validation
            or self.fairness
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = [s.value for s in self.stages]
        data["min"], data["max"] = dict(self.min), dict(self.max)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GatePolicy:
        """Parse a policy (from JSON, the API or the CLI); InvalidInput names the bad field."""
        if not isinstance(data, Mapping):
            raise InvalidInput("a gate policy is a JSON object", field="policy")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(
                f"unknown gate policy field {unknown[0]!r} (known: {', '.join(sorted(known))})",
                field=f"policy.{unknown[0]}",
            )
        stages = data.get("stages", ["production"])
        if isinstance(stages, str) or not isinstance(stages, list | tuple) or not stages:
            raise InvalidInput("policy.stages must be a non-empty list of stages", field="policy.stages")
        fairness = data.get("fairness")
        if fairness is not None:
            if not isinstance(fairness, Mapping) or not isinstance(fairness.get("sensitive"), str):
                raise InvalidInput(
                    "policy.fairness must be an object with a 'sensitive' column name",
                    field="policy.fairness.sensitive",
                )
            fairness = FairnessLimits(
                sensitive=fairness["sensitive"],
                max_demographic_parity_difference=_number(
                    fairness.get("max_demographic_parity_difference"),
                    "policy.fairness.max_demographic_parity_difference",
                ),
                max_equalized_odds_difference=_number(
                    fairness.get("max_equalized_odds_difference"),
                    "policy.fairness.max_equalized_odds_difference",
                ),
            )
        champion_metric = data.get("champion_metric", "auc")
        if not isinstance(champion_metric, str):
            raise InvalidInput("policy.champion_metric must be a metric name", field="policy.champion_metric")
        return cls(
            stages=tuple(Stage.parse(s, field="policy.stages") for s in stages),
            min=_bounds(data.get("min", {}), "policy.min"),
            max=_bounds(data.get("max", {}), "policy.max"),
            beat_champion_by=_number(data.get("beat_champion_by"), "policy.beat_champion_by"),
            champion_metric=champion_metric,
            require_validation=_flag(data.get("require_validation", False), "policy.require_validation"),
            fairness=fairness,
            require_approval=_flag(data.get("require_approval", False), "policy.require_approval"),
        )


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where} must be a number, got {value!r}", field=where)
    return float(value)


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{where} must be true or false, got {value!r}", field=where)
    return value


def _bounds(value: object, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be an object of metric name -> number", field=where)
    out: dict[str, float] = {}
    for key, bound in value.items():
        number = _number(bound, f"{where}.{key}")
        if number is None:
            raise InvalidInput(f"{where}.{key} must be a number", field=f"{where}.{key}")
        out[str(key)] = number
    return out


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict. ``margin`` is how far the measurement is on the right side of the
    threshold (negative: by how much it failed)."""

    name: str
    passed: bool
    measured: float | None = None
    threshold: float | None = None
    margin: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class GateReport:
    """Every gate of the policy for one version and target stage, as stored."""

    id: str
    model: str
    version: int
    target_stage: Stage
    results: tuple[GateResult, ...]
    actor: str
    at: datetime
    dataset_digest: str | None = None
    policy_digest: str = ""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failures(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]


@dataclass(frozen=True)
class VersionComparison:
    """Two versions side by side: what changed in metrics, params, data and features."""

    left: ModelVersion
    right: ModelVersion
    metrics: Mapping[str, tuple[float | None, float | None]]
    params: Mapping[str, tuple[str | None, str | None]]
    same_training_data: bool
    features_added: tuple[str, ...]
    features_removed: tuple[str, ...]
    features_retyped: tuple[str, ...]

    def metric_delta(self, key: str) -> float | None:
        a, b = self.metrics.get(key, (None, None))
        return None if a is None or b is None else b - a

    def differing_params(self) -> tuple[str, ...]:
        return tuple(k for k, (a, b) in self.params.items() if a != b)

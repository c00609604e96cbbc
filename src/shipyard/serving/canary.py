"""The canary decider's reasoning, without I/O: live figures in, a decision out.

Each round compares what the challenger and the primary served since the current step began (the
:class:`~shipyard.serving.model.VersionWindow` figures every replica reports, summed). Every check
has a threshold and a minimum sample size:

- ``error_rate``: challenger errors / requests, at most ``max_error_rate``;
- ``latency_p99_ratio``: challenger p99 / primary p99 (from the summed histogram buckets), at most
  ``max_p99_ratio``;
- ``agreement``: share of compared requests where both versions gave the same answer, at least
  ``min_agreement`` (0 turns the check off);
- ``label_metric``: primary - challenger on the label metric, at most ``max_metric_drop``, once
  labels are known (:class:`LabelMetrics`; skipped while there are none).

A check short of samples is *pending*, never a pass: the round waits, and a step still pending
after ``progress_deadline_seconds`` rolls back ("no traffic"). One failed check rolls back at once.
When every check passes and the step has lasted ``step_seconds``, the challenger's weight goes to the
next step; reaching 100 is the promotion (at 100 the primary would serve nothing to compare with).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from shipyard.serving.model import CanaryPolicy, VersionWindow

CheckStatus = Literal["pass", "fail", "pending"]
Action = Literal["wait", "advance", "promote", "rollback"]


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None  # None while there are no samples
    threshold: float
    samples: int
    min_samples: int
    status: CheckStatus

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "samples": self.samples,
            "min_samples": self.min_samples,
            "status": self.status,
        }


@dataclass(frozen=True)
class Figures:
    """One version's summed live figures over the current step."""

    requests: int = 0
    errors: int = 0
    latency_buckets: dict[float, int] = field(default_factory=dict)
    compared: int = 0
    agreed: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def p99(self) -> float | None:
        return quantile(0.99, self.latency_buckets)

    def to_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p99_ms": self.p99,
            "compared": self.compared,
            "agreed": self.agreed,
        }


@dataclass(frozen=True)
class LabelFigure:
    """A label metric of one version (higher is better), over ``samples`` labelled predictions."""

    value: float
    samples: int


class LabelMetrics(Protocol):
    """Label metrics per deployed version once labels arrive (monitoring fills this in)."""

    def metric(self, deployment: str, model: str, version: int, since: int) -> LabelFigure | None: ...


class NoLabels:
    """The default: no labels are known, so the label check is skipped."""

    def metric(self, deployment: str, model: str, version: int, since: int) -> LabelFigure | None:
        return None


@dataclass(frozen=True)
class Decision:
    action: Action
    weight: int  # the challenger's weight after the decision
    reason: str
    checks: tuple[Check, ...]
    primary: Figures
    challenger: Figures


def summed(windows: Iterable[VersionWindow]) -> Figures:
    """The figures of several replicas' windows added up (histogram buckets per upper bound)."""
    requests = errors = compared = agreed = 0
    buckets: dict[float, int] = {}
    for w in windows:
        requests += w.requests
        errors += w.errors
        compared += w.compared
        agreed += w.agreed
        for bound, count in w.latency_buckets.items():
            buckets[float(bound)] = buckets.get(float(bound), 0) + count
    return Figures(requests, errors, buckets, compared, agreed)


def quantile(q: float, buckets: Mapping[float, int]) -> float | None:
    """The ``q`` quantile of a cumulative histogram, interpolated inside its bucket as Prometheus'
    ``histogram_quantile`` does; the highest finite bound if it falls in the ``+Inf`` bucket."""
    ordered = sorted((float(b), c) for b, c in buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def _check(name: str, value: float | None, threshold: float, samples: int, minimum: int, ok: bool) -> Check:
    if samples < minimum or value is None:
        return Check(name, value, threshold, samples, minimum, "pending")
    return Check(name, value, threshold, samples, minimum, "pass" if ok else "fail")


def checks(
    policy: CanaryPolicy,
    primary: Figures,
    challenger: Figures,
    labels: tuple[LabelFigure | None, LabelFigure | None] = (None, None),
) -> tuple[Check, ...]:
    n = policy.min_requests
    out = []
    rate = challenger.error_rate
    out.append(
        _check(
            "error_rate",
            rate,
            policy.max_error_rate,
            challenger.requests,
            n,
            rate is not None and rate <= policy.max_error_rate,
        )
    )
    p_primary, p_challenger = primary.p99, challenger.p99
    ratio = None
    if p_primary is not None and p_challenger is not None:
        ratio = p_challenger / p_primary if p_primary > 0 else (1.0 if p_challenger == 0 else math.inf)
    out.append(
        _check(
            "latency_p99_ratio",
            ratio,
            policy.max_p99_ratio,
            min(primary.requests, challenger.requests),
            n,
            ratio is not None and ratio <= policy.max_p99_ratio,
        )
    )
    if policy.min_agreement > 0:
        share = challenger.agreed / challenger.compared if challenger.compared else None
        out.append(
            _check(
                "agreement",
                share,
                policy.min_agreement,
                challenger.compared,
                n,
                share is not None and share >= policy.min_agreement,
            )
        )
    left, right = labels
    if policy.max_metric_drop is not None and left is not None and right is not None:
        drop = left.value - right.value
        out.append(
            _check(
                "label_metric_drop",
                drop,
                policy.max_metric_drop,
                min(left.samples, right.samples),
                n,
                drop <= policy.max_metric_drop,
            )
        )
    return tuple(out)


def next_weight(policy: CanaryPolicy, weight: int) -> int:
    """The challenger's weight at the step after ``weight`` (100 when none is left)."""
    return next((step for step in policy.steps if step > weight), 100)


def decide(
    policy: CanaryPolicy,
    weight: int,
    step_started_at: int,
    now: int,
    primary: Figures,
    challenger: Figures,
    labels: tuple[LabelFigure | None, LabelFigure | None] = (None, None),
) -> Decision:
    """What the canary at ``weight`` percent should do now (see the module docstring)."""
    found = checks(policy, primary, challenger, labels)
    elapsed = (now - step_started_at) / 1000

    def made(action: Action, new_weight: int, reason: str) -> Decision:
        return Decision(action, new_weight, reason, found, primary, challenger)

    failed = [c.name for c in found if c.status == "fail"]
    if failed:
        return made("rollback", 0, f"check failed: {', '.join(failed)}")
    pending = [c.name for c in found if c.status == "pending"]
    if pending:
        if elapsed >= policy.progress_deadline_seconds:
            return made(
                "rollback",
                0,
                f"too few samples after {policy.progress_deadline_seconds} s (no traffic is not a pass): "
                + ", ".join(pending),
            )
        return made("wait", weight, f"waiting for samples: {', '.join(pending)}")
    if elapsed < policy.step_seconds:
        return made("wait", weight, f"checks pass; the step lasts {policy.step_seconds} s")
    following = next_weight(policy, weight)
    if following >= 100:
        return made("promote", 100, f"every check passed at {weight}%")
    return made("advance", following, f"every check passed at {weight}%; raising to {following}%")

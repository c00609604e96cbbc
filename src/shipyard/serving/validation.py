"""Bounds on what callers and replicas hand the deployment service: canary policies and windows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.serving.model import CanaryPolicy, VersionWindow
from shipyard.serving.records import bucket_json
from shipyard.serving.strategies import deployment_name

MAX_WINDOWS = 10_000
MAX_BUCKETS = 100
_ROLES = ("primary", "challenger", "shadow", "standby")


def _number(value: object, field: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(
            f"{field} must be a number from {low} to {high}, got {value!r}", field=f"canary.{field}"
        )


def check_policy(policy: CanaryPolicy) -> CanaryPolicy:
    steps = policy.steps
    if (
        not isinstance(steps, tuple | list)
        or not 1 <= len(steps) <= 20
        or any(isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 100 for s in steps)
        or list(steps) != sorted(set(steps))
    ):
        raise InvalidInput(
            f"steps must be 1-20 increasing percentages from 1 to 100, got {steps!r}", field="canary.steps"
        )
    _number(policy.step_seconds, "step_seconds", 0, 86_400)
    _number(policy.min_requests, "min_requests", 1, 10_000_000)
    _number(policy.max_error_rate, "max_error_rate", 0, 1)
    _number(policy.max_p99_ratio, "max_p99_ratio", 0, 1000)
    _number(policy.min_agreement, "min_agreement", 0, 1)
    if policy.max_metric_drop is not None:
        _number(policy.max_metric_drop, "max_metric_drop", -1e9, 1e9)
    _number(policy.progress_deadline_seconds, "progress_deadline_seconds", 1, 7 * 86_400)
    if policy.promote_alias is not None and (
        not isinstance(policy.promote_alias, str) or not 0 < len(policy.promote_alias) <= 100
    ):
        raise InvalidInput("promote_alias must be an alias of 1-100 characters", field="canary.promote_alias")
    return CanaryPolicy(**{**policy.__dict__, "steps": tuple(steps)})


def _count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{field} must be a non-negative integer, got {value!r}", field=field)
    return value


def check_windows(windows: Sequence[VersionWindow]) -> list[dict[str, Any]]:
    """The rows of ``windows``, each checked."""
    if len(windows) > MAX_WINDOWS:
        raise InvalidInput(f"at most {MAX_WINDOWS} windows at once, got {len(windows)}", field="windows")
    rows = []
    for i, w in enumerate(windows):
        where = f"windows[{i}]"
        deployment_name(w.deployment, field=f"{where}.deployment")
        if w.role not in _ROLES:
            raise InvalidInput(f"role must be one of {', '.join(_ROLES)}", field=f"{where}.role")
        for name in ("version", "start", "end", "requests", "errors", "compared", "agreed"):
            _count(getattr(w, name), f"{where}.{name}")
        if w.end < w.start or w.errors > w.requests or w.agreed > w.compared:
            raise InvalidInput(
                "a window needs start <= end, errors <= requests, agreed <= compared", field=where
            )
        if len(w.latency_buckets) > MAX_BUCKETS:
            raise InvalidInput(f"at most {MAX_BUCKETS} latency buckets", field=f"{where}.latency_buckets")
        for bound, count in w.latency_buckets.items():
            if (
                isinstance(bound, bool)
                or not isinstance(bound, int | float)
                or math.isnan(bound)
                or bound < 0
            ):
                raise InvalidInput(
                    f"bucket bound {bound!r} must be a number >= 0", field=f"{where}.latency_buckets"
                )
            _count(count, f"{where}.latency_buckets")
        rows.append(
            {
                "deployment": w.deployment,
                "model": w.model,
                "version": w.version,
                "role": w.role,
                "start": w.start,
                "end": w.end,
                "requests": w.requests,
                "errors": w.errors,
                "latency_buckets": bucket_json(w.latency_buckets),
                "compared": w.compared,
                "agreed": w.agreed,
            }
        )
    return rows

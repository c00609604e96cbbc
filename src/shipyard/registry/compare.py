"""Two versions side by side: metrics, params, training data and input features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.registry.entities import ModelVersion, VersionComparison


def _features(version: ModelVersion) -> dict[str, str]:
    inputs: Any = version.signature.get("inputs", [])
    return {str(c["name"]): str(c.get("dtype", "")) for c in inputs if isinstance(c, Mapping)}


def compare(left: ModelVersion, right: ModelVersion) -> VersionComparison:
    metric_keys = sorted(set(left.metrics) | set(right.metrics))
    param_keys = sorted(set(left.params) | set(right.params))
    mine, theirs = _features(left), _features(right)
    left_digest = left.training_data.digest if left.training_data else None
    right_digest = right.training_data.digest if right.training_data else None
    return VersionComparison(
        left=left,
        right=right,
        metrics={k: (left.metrics.get(k), right.metrics.get(k)) for k in metric_keys},
        params={k: (left.params.get(k), right.params.get(k)) for k in param_keys},
        same_training_data=left_digest is not None and left_digest == right_digest,
        features_added=tuple(sorted(set(theirs) - set(mine))),
        features_removed=tuple(sorted(set(mine) - set(theirs))),
        features_retyped=tuple(sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])),
    )

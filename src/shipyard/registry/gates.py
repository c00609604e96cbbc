"""Promotion gates: measure a candidate version on an evaluation frame against a
:class:`~shipyard.registry.entities.GatePolicy`. Pure computation (models are loaded by the
caller); the service stores the results and :func:`blocking_message` words a refusal.

Metrics a policy may bound (:data:`METRICS`): classification ``accuracy``, ``auc`` (alias
``roc_auc``; from probabilities), ``f1``, ``precision``, ``recall``, ``log_loss``; regression
``rmse``, ``mae``, ``r2``. Fairness uses ``fairlearn.metrics`` on predicted labels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput, ShipyardError
from shipyard.packaging.signature import Signature
from shipyard.registry.entities import GatePolicy, GateResult

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Predictions:
    labels: Array
    scores: Array | None  # probabilities, None when the model has none


def _auc(y: Array, p: Predictions) -> float:
    from sklearn.metrics import roc_auc_score

    if p.scores is None:
        raise InvalidInput("metric 'auc' needs a model with predict_proba", field="policy.min")
    scores = p.scores[:, 1] if p.scores.ndim == 2 and p.scores.shape[1] == 2 else p.scores
    return float(
        roc_auc_score(y, scores, multi_class="ovr") if scores.ndim == 2 else roc_auc_score(y, scores)
    )


def _sk(name: str, **kwargs: Any) -> Callable[[Array, Predictions], float]:
    def metric(y: Array, p: Predictions) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(y, p.labels, **kwargs))

    return metric


def _log_loss(y: Array, p: Predictions) -> float:
    from sklearn.metrics import log_loss

    if p.scores is None:
        raise InvalidInput("metric 'log_loss' needs a model with predict_proba", field="policy.max")
    return float(log_loss(y, p.scores))


def _rmse(y: Array, p: Predictions) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, dtype=float) - np.asarray(p.labels, dtype=float)) ** 2)))


METRICS: dict[str, Callable[[Array, Predictions], float]] = {
    "accuracy": _sk("accuracy_score"),
    "auc": _auc,
    "roc_auc": _auc,
    "f1": _sk("f1_score", average="binary"),
    "precision": _sk("precision_score", average="binary", zero_division=0),
    "recall": _sk("recall_score", average="binary", zero_division=0),
    "log_loss": _log_loss,
    "rmse": _rmse,
    "mae": _sk("mean_absolute_error"),
    "r2": _sk("r2_score"),
}
#: Metrics where smaller is better (for "beats the champion").
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def policy_digest(policy: GatePolicy) -> str:
    payload = json.dumps(policy.to_dict(), sort_keys=True)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of the frame's columns and values (which data a gate evaluation used)."""
    header = json.dumps([str(c) for c in frame.columns]).encode()
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    except TypeError:  # unhashable cells (lists, dicts): hash their text instead
        hashed = frame.astype(str).to_csv(index=False).encode()
    return "sha256:" + hashlib.sha256(header + hashed).hexdigest()


def check_policy(policy: GatePolicy) -> None:
    """InvalidInput naming a metric no gate can measure."""
    for where, names in (("policy.min", policy.min), ("policy.max", policy.max)):
        for name in names:
            if name not in METRICS:
                raise InvalidInput(
                    f"{where}.{name}: unknown metric (known: {', '.join(sorted(METRICS))})",
                    field=f"{where}.{name}",
                )
    if policy.beat_champion_by is not None and policy.champion_metric not in METRICS:
        raise InvalidInput(
            f"policy.champion_metric {policy.champion_metric!r} is not a known metric",
            field="policy.champion_metric",
        )


def predict(model: Any, features: pd.DataFrame) -> Predictions:
    labels = np.asarray(model.predict(features)).reshape(len(features), -1)
    scores = model.predict_proba(features)
    return Predictions(
        labels[:, 0] if labels.shape[1] == 1 else labels, None if scores is None else np.asarray(scores)
    )


def evaluate(
    policy: GatePolicy,
    frame: pd.DataFrame,
    *,
    label: str,
    candidate: Any,
    signature: Signature,
    champion: Any | None = None,
    champion_ref: str | None = None,
    validated_by: str | None = None,
) -> list[GateResult]:
    """Every data gate of ``policy`` (not the approval) for ``candidate`` on ``frame``."""
    if label not in frame.columns:
        raise InvalidInput(
            f"label column {label!r} is not in the evaluation data (columns: {list(map(str, frame.columns))})",
            field="label",
        )
    if len(frame) == 0:
        raise InvalidInput("the evaluation data has no rows", field="data")
    results: list[GateResult] = []
    if policy.require_validation:
        results.append(_validation(frame, signature, validated_by))
    y = frame[label].to_numpy()
    features = frame.drop(columns=[label])
    try:
        mine = predict(candidate, features)
    except (ShipyardError, ValueError, TypeError) as exc:
        if results and not results[0].passed:
            return results  # the validation gate already says why the frame does not fit
        raise InvalidInput(f"evaluation data does not fit the model: {exc}", field="data") from None
    measured: dict[str, float] = {}

    def metric(name: str, predictions: Predictions = mine) -> float:
        if predictions is mine and name in measured:
            return measured[name]
        try:
            value = METRICS[name](y, predictions)
        except (ValueError, TypeError) as exc:  # e.g. a binary metric on a multi-class label
            raise InvalidInput(
                f"metric {name!r} cannot be measured on this data (label {label!r}): {exc}", field="label"
            ) from None
        if predictions is mine:
            measured[name] = value
        return value

    for name, bound in sorted(policy.min.items()):
        value = metric(name)
        results.append(_bound(f"min {name}", value, bound, value - bound, ">=", "<"))
    for name, bound in sorted(policy.max.items()):
        value = metric(name)
        results.append(_bound(f"max {name}", value, bound, bound - value, "<=", ">"))
    if policy.beat_champion_by is not None:
        try:
            results.append(_champion(policy, metric, champion, champion_ref, features))
        except (ValueError, TypeError) as exc:  # the champion cannot read this frame
            raise InvalidInput(
                f"the champion {champion_ref} cannot score this data: {exc}", field="data"
            ) from None
    if policy.fairness is not None:
        results.extend(_fairness(policy, frame, y, mine))
    return results


def _bound(name: str, value: float, bound: float, margin: float, ok: str, bad: str) -> GateResult:
    passed = margin >= 0
    detail = f"{value:.4g} {ok if passed else bad} {'limit' if ok == '<=' else 'threshold'} {bound:.4g}"
    if not passed:
        detail += f" (by {-margin:.4g})"
    return GateResult(name, passed, value, bound, margin, detail)


def _validation(frame: pd.DataFrame, signature: Signature, validated_by: str | None) -> GateResult:
    if validated_by is not None:
        return GateResult("data validation", True, detail=validated_by)
    required = [c.name for c in signature.inputs if c.name in frame.columns]
    nulls = [c for c in required if frame[c].isna().any()]
    if nulls:
        count = int(frame[nulls[0]].isna().sum())
        also = f" (also: {', '.join(nulls[1:])})" if nulls[1:] else ""
        detail = f"column {nulls[0]!r} has {count} missing value(s){also}"
        return GateResult("data validation", False, float(count), 0.0, -float(count), detail)
    try:
        signature.check(frame)
    except ShipyardError as exc:
        return GateResult("data validation", False, detail=str(exc))
    return GateResult(
        "data validation", True, 0.0, 0.0, 0.0, "the data matches the signature, no missing values"
    )


def _champion(
    policy: GatePolicy,
    metric: Callable[..., float],
    champion: Any | None,
    champion_ref: str | None,
    features: pd.DataFrame,
) -> GateResult:
    name, delta = policy.champion_metric, float(policy.beat_champion_by or 0.0)
    gate = f"beats champion on {name}"
    mine = metric(name)
    if champion is None:
        return GateResult(gate, True, mine, None, None, "no champion to beat")
    theirs = metric(name, predict(champion, features))
    improvement = theirs - mine if name in LOWER_IS_BETTER else mine - theirs
    margin = improvement - delta
    detail = (
        f"{name} {mine:.4g} vs champion {champion_ref} {theirs:.4g}: improvement {improvement:.4g}, "
        f"needs {delta:.4g}" + ("" if margin >= 0 else f" (short by {-margin:.4g})")
    )
    return GateResult(gate, margin >= 0, improvement, delta, margin, detail)


def _fairness(policy: GatePolicy, frame: pd.DataFrame, y: Array, mine: Predictions) -> list[GateResult]:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    limits = policy.fairness
    assert limits is not None
    if limits.sensitive not in frame.columns:
        raise InvalidInput(
            f"sensitive column {limits.sensitive!r} (policy.fairness.sensitive) is not in the evaluation data",
            field="sensitive",
        )
    groups = frame[limits.sensitive].astype(str).to_numpy()
    checks = (
        (
            "demographic_parity_difference",
            limits.max_demographic_parity_difference,
            demographic_parity_difference,
        ),
        ("equalized_odds_difference", limits.max_equalized_odds_difference, equalized_odds_difference),
    )
    results = []
    for name, limit, measure in checks:
        if limit is None:
            continue
        try:
            value = float(measure(y, mine.labels, sensitive_features=groups))
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{name} cannot be measured on this data: {exc}", field="label") from None
        margin = limit - value
        passed = margin >= 0
        detail = f"{name} {value:.2f} {'<=' if passed else '>'} limit {limit:.2f}" + (
            "" if passed else f" (by {-margin:.2f})"
        )
        results.append(GateResult(f"fairness {name}", passed, value, limit, margin, detail))
    return results


def approval_result(approved_by: str | None, pending: str | None) -> GateResult:
    if approved_by:
        return GateResult("approval", True, detail=f"approved by {approved_by}")
    detail = f"request {pending} is pending" if pending else "no approval requested"
    return GateResult("approval", False, detail=detail)


def blocking_message(ref: str, target: str, failures: list[GateResult]) -> str:
    """``churn/3 -> production refused: fairness: demographic_parity_difference 0.21 > limit 0.10
    (by 0.11); min auc: 0.71 < threshold 0.8``."""
    parts = [
        f"{r.name.split(' ')[0] if r.name.startswith('fairness') else r.name}: {r.detail}" for r in failures
    ]
    return f"{ref} -> {target} refused by promotion gates: " + "; ".join(parts)

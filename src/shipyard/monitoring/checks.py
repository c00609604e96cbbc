"""The checks of one evaluation, as pure functions of the window and the prepared reference. Each
returns its figures (flat, dotted names; see :mod:`.model`) and, where a report draws something,
its details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.monitoring.baseline import SCORE
from shipyard.monitoring.cbpe import CBPE
from shipyard.monitoring.drift import DriftOptions, Reference, detect_drift, distribution
from shipyard.monitoring.model import DriftSettings, Task
from shipyard.monitoring.performance import classification_metrics, regression_metrics
from shipyard.monitoring.quality import check_quality

Figures = dict[str, float]
#: Distributions drawn per evaluation (the most drifted columns first).
MAX_DISTRIBUTIONS = 12


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and bool(np.isfinite(value))


def quality(reference: Reference, current: pd.DataFrame) -> tuple[Figures, dict[str, Any]]:
    report = check_quality(reference, current)
    return {k: float(v) for k, v in report.figures().items() if _finite(v)}, report.to_dict()


def drift_options(settings: DriftSettings) -> DriftOptions:
    """The drift engine's options (InvalidInput naming an unknown method or a bad threshold)."""
    return DriftOptions(
        method=settings.method,
        threshold=settings.threshold,
        per_column_method=dict(settings.per_column_method),
        per_column_threshold=dict(settings.per_column_threshold),
        drift_share=settings.drift_share,
    )


def drift(
    reference: Reference, current: pd.DataFrame, columns: tuple[str, ...], settings: DriftSettings
) -> tuple[Figures, dict[str, Any]]:
    result = detect_drift(reference, current, drift_options(settings), columns=list(columns))
    figures: Figures = {
        "drift.share": float(result.share),
        "drift.count": float(result.drifted),
        "drift.dataset": 1.0 if result.drift else 0.0,
    }
    for column in result.columns:
        if column.tested and column.score is not None and _finite(column.score):
            figures[f"drift.column.{column.column}"] = float(column.score)
    ranked = sorted(result.columns, key=lambda c: (not c.drifted, c.column))
    shown = [c.column for c in ranked if c.tested][:MAX_DISTRIBUTIONS]
    details = {
        "drift": result.to_dict(),
        "distributions": {c: distribution(reference, current, c).to_dict() for c in shown},
    }
    return figures, details


def prediction_drift(reference: Reference, scores: np.ndarray) -> tuple[Figures, dict[str, Any]]:
    frame = pd.DataFrame({SCORE: scores})
    result = detect_drift(reference, frame, None, columns=[SCORE])
    column = result.columns[0]
    figures: Figures = {}
    if column.tested and column.score is not None and _finite(column.score):
        figures["drift.prediction"] = float(column.score)
        figures["drift.prediction_drifted"] = 1.0 if column.drifted else 0.0
    return figures, {
        "prediction_drift": result.to_dict(),
        "prediction_distribution": distribution(reference, frame, SCORE).to_dict(),
    }


def performance(
    task: Task,
    labels: list[str | None],
    predictions: np.ndarray,
    scores: np.ndarray | None,
    positive: object | None,
) -> Figures:
    known = np.array([v is not None for v in labels], dtype=bool)
    figures: Figures = {"performance.labelled_rows": float(known.sum())}
    if not known.any():
        return figures
    values = [v for v in labels if v is not None]
    if task == "regression":
        y_true = np.asarray(values, dtype=float)
        metrics = regression_metrics(y_true, np.asarray(predictions, dtype=float)[known])
    else:
        pos = str(positive) if positive is not None else None
        y_true = np.array([v == pos for v in values], dtype=int)
        y_pred = np.array([str(p) == pos for p in np.asarray(predictions, dtype=object)[known]], dtype=int)
        metrics = classification_metrics(y_true, None if scores is None else scores[known], y_pred)
    figures.update({f"performance.{k}": float(v) for k, v in metrics.items() if _finite(v)})
    return figures


def estimated(
    estimator: CBPE, scores: np.ndarray, predictions: np.ndarray, positive: object | None
) -> tuple[Figures, dict[str, Any]]:
    pred = np.array([str(p) == str(positive) for p in np.asarray(predictions, dtype=object)], dtype=int)
    estimates = estimator.estimate(scores, pred)
    figures: Figures = {}
    details: dict[str, Any] = {}
    for metric, e in estimates.items():
        if _finite(e.value):
            figures[f"estimated.{metric}"] = float(e.value)
            details[metric] = {
                "value": e.value,
                "lower_band": e.lower_band,
                "upper_band": e.upper_band,
                "lower_threshold": e.lower_threshold,
                "upper_threshold": e.upper_threshold,
                "alert": bool(e.alert),
            }
    return figures, {"estimated": details}


def operations(
    latency_ms: np.ndarray, times: np.ndarray, live: Mapping[str, float], seconds: float
) -> Figures:
    figures: Figures = {}
    if len(latency_ms):
        figures["ops.latency_p50_ms"] = float(np.percentile(latency_ms, 50))
        figures["ops.latency_p99_ms"] = float(np.percentile(latency_ms, 99))
        figures["ops.rows_per_s"] = float(len(times) / max(seconds, 1e-3))
    for key in ("requests", "errors", "error_rate"):
        if key in live and _finite(live[key]):
            figures[f"ops.{key}"] = float(live[key])
    return figures


def stability(outputs: np.ndarray, scores: np.ndarray | None) -> Figures:
    figures: Figures = {}
    numeric = outputs if outputs.dtype != object else None
    values = scores if scores is not None else numeric
    if numeric is not None and len(numeric):
        figures["stability.nan_share"] = float(np.isnan(numeric).mean())
        figures["stability.inf_share"] = float(np.isinf(numeric).mean())
    if values is not None and len(values):
        finite = values[np.isfinite(values)]
        spread = float(np.std(finite)) if len(finite) else 0.0
        figures["stability.score_std"] = spread
        figures["stability.distinct_scores"] = float(len(np.unique(finite)))
        figures["stability.collapsed"] = (
            1.0 if len(finite) >= 10 and (spread < 1e-9 or len(np.unique(finite)) == 1) else 0.0
        )
    return figures


def age(registered_at: int, now: int) -> Figures:
    return {"age.days": max(0.0, (now - registered_at) / 86_400_000)}


def known_figure(name: str, columns: tuple[str, ...]) -> bool:
    """Whether a rule may name ``name``: a figure some check of this monitor produces."""
    exact = {
        "window.rows", "drift.share", "drift.count", "drift.dataset", "drift.prediction", "drift.prediction_drifted",
        "performance.labelled_rows", "ops.latency_p50_ms", "ops.latency_p99_ms", "ops.rows_per_s",
        "ops.requests", "ops.errors", "ops.error_rate", "stability.nan_share", "stability.inf_share",
        "stability.score_std", "stability.distinct_scores", "stability.collapsed", "age.days",
    }  # fmt: skip
    if name in exact:
        return True
    metrics = ("roc_auc", "accuracy", "precision", "recall", "f1", "specificity", "log_loss", "average_precision",
               "mae", "rmse", "mape", "r2")  # fmt: skip
    for prefix in ("performance.", "estimated."):
        if name.startswith(prefix) and name[len(prefix) :] in metrics:
            return True
    if name.startswith("drift.column."):
        return name[len("drift.column.") :] in columns
    if name.startswith("quality."):
        parts = name.split(".")
        return len(parts) == 2 or (len(parts) >= 3 and ".".join(parts[2:]) in columns)
    return False

"""Realized performance: the metrics of one window once its labels have arrived.

Binary classification takes the score (predicted probability of class 1) and/or the predicted
class (``score >= threshold`` when only the score is given). Multiclass takes a score matrix with
one column per class (or predicted classes only) and reports macro means. A metric that cannot be
computed on the window (ROC AUC with a single class present, MAPE with a zero target) is absent
from the result rather than NaN, so a caller never stores a number that means nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from shipyard.errors import InvalidInput
from shipyard.monitoring.metric_inputs import (
    FloatArray,
    IntArray,
    class_labels,
    numbers,
    probabilities,
    same_length,
)


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is, so monitors know which way is worse and how to draw its axis."""

    name: str
    task: str  # "classification" or "regression"
    higher_is_better: bool
    lower: float | None  # the smallest value the metric can take, when bounded
    upper: float | None
    description: str


_CLASSIFICATION = (
    ("roc_auc", True, 0.0, 1.0, "area under the ROC curve (one-vs-rest macro for multiclass)"),
    ("accuracy", True, 0.0, 1.0, "share of rows whose predicted class is right"),
    ("precision", True, 0.0, 1.0, "share of predicted positives that are positive"),
    ("recall", True, 0.0, 1.0, "share of positives predicted positive"),
    ("f1", True, 0.0, 1.0, "harmonic mean of precision and recall"),
    ("specificity", True, 0.0, 1.0, "share of negatives predicted negative"),
    ("log_loss", False, 0.0, None, "cross-entropy of the scores"),
    ("average_precision", True, 0.0, 1.0, "area under the precision-recall curve"),
)
_REGRESSION = (
    ("mae", False, 0.0, None, "mean absolute error"),
    ("rmse", False, 0.0, None, "root mean squared error"),
    ("mape", False, 0.0, None, "mean absolute percentage error, as a fraction"),
    ("r2", True, None, 1.0, "coefficient of determination"),
)
MAX_CLASSES = 1000  # a label above this is a mistake (an id sent as a label), not a class

METRICS: Mapping[str, MetricSpec] = {
    name: MetricSpec(name, task, higher, lower, upper, description)
    for task, table in (("classification", _CLASSIFICATION), ("regression", _REGRESSION))
    for name, higher, lower, upper, description in table
}


def classification_metrics(
    y_true: object, y_score: object = None, y_pred: object = None, *, threshold: float = 0.5
) -> dict[str, float]:
    """Realized classification metrics of one window (see the module docstring for the shapes)."""
    if y_score is None and y_pred is None:
        raise InvalidInput("give y_score, y_pred or both", field="y_score")
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"threshold must lie in [0, 1], got {threshold}", field="threshold")
    if y_score is not None and not isinstance(y_score, str | bytes) and np.ndim(y_score) == 2:  # type: ignore[arg-type]
        scores = probabilities(y_score, "y_score", ndim=2)
        if scores.shape[1] == 2:
            return _binary(y_true, scores[:, 1], y_pred, threshold)
        return _multiclass(y_true, scores, y_pred)
    if y_score is None:
        classes = _classes_from_labels(y_true, y_pred)
        if classes > 2:
            return _multiclass(y_true, None, y_pred, classes=classes)
    return _binary(y_true, y_score, y_pred, threshold)


def regression_metrics(y_true: object, y_pred: object) -> dict[str, float]:
    """MAE, RMSE, MAPE (absent if a target is 0) and R² (absent below two rows or a constant target)."""
    truth = numbers(y_true, "y_true")
    pred = numbers(y_pred, "y_pred")
    same_length([("y_true", truth), ("y_pred", pred)])
    out = {
        "mae": float(skm.mean_absolute_error(truth, pred)),
        "rmse": float(skm.root_mean_squared_error(truth, pred)),
    }
    if not (truth == 0).any():
        out["mape"] = float(skm.mean_absolute_percentage_error(truth, pred))
    if truth.shape[0] >= 2 and np.ptp(truth) > 0:
        out["r2"] = float(skm.r2_score(truth, pred))
    return out


def binary_counts(y_true: IntArray, y_pred: IntArray) -> tuple[int, int, int, int]:
    """``(tn, fp, fn, tp)`` of checked 0/1 arrays (a bincount: CBPE counts every reference chunk,
    and ``confusion_matrix``'s input checks cost fifty times the counting)."""
    tn, fp, fn, tp = np.bincount(2 * y_true + y_pred, minlength=4)
    return int(tn), int(fp), int(fn), int(tp)


def from_counts(tn: float, fp: float, fn: float, tp: float) -> dict[str, float]:
    """The threshold metrics from a (possibly expected, fractional) confusion matrix; a zero
    denominator gives 0, as scikit-learn's ``zero_division=0`` does."""

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else 0.0

    return {
        "accuracy": ratio(tp + tn, tp + tn + fp + fn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(tp, tp + 0.5 * (fp + fn)),
        "specificity": ratio(tn, tn + fp),
    }


def _binary(y_true: object, y_score: object, y_pred: object, threshold: float) -> dict[str, float]:
    truth = class_labels(y_true, "y_true")
    scores = None if y_score is None else probabilities(y_score, "y_score")
    if y_pred is not None:
        pred = class_labels(y_pred, "y_pred")
    else:
        assert scores is not None
        pred = (scores >= threshold).astype(np.int64)
    same_length([("y_true", truth), *([("y_score", scores)] if scores is not None else []), ("y_pred", pred)])
    out = from_counts(*binary_counts(truth, pred))
    if scores is not None:
        out["log_loss"] = float(skm.log_loss(truth, scores, labels=[0, 1]))
        if truth.min() != truth.max():
            out["roc_auc"] = float(skm.roc_auc_score(truth, scores))
            out["average_precision"] = float(skm.average_precision_score(truth, scores))
    return out


def _multiclass(
    y_true: object, scores: FloatArray | None, y_pred: object, *, classes: int | None = None
) -> dict[str, float]:
    k = int(scores.shape[1]) if scores is not None else classes or 2
    truth = class_labels(y_true, "y_true", classes=k)
    if y_pred is not None:
        pred = class_labels(y_pred, "y_pred", classes=k)
    else:
        assert scores is not None
        pred = scores.argmax(axis=1).astype(np.int64)
    same_length([("y_true", truth), ("y_pred", pred), *([("y_score", scores)] if scores is not None else [])])
    labels = list(range(k))
    matrix = skm.confusion_matrix(truth, pred, labels=labels).astype(np.float64)
    fp = matrix.sum(axis=0) - np.diag(matrix)
    tn = matrix.sum() - matrix.sum(axis=1) - fp
    out = {
        "accuracy": float(skm.accuracy_score(truth, pred)),
        "precision": float(skm.precision_score(truth, pred, labels=labels, average="macro", zero_division=0)),
        "recall": float(skm.recall_score(truth, pred, labels=labels, average="macro", zero_division=0)),
        "f1": float(skm.f1_score(truth, pred, labels=labels, average="macro", zero_division=0)),
        "specificity": float(np.mean(np.divide(tn, tn + fp, out=np.zeros(k), where=(tn + fp) > 0))),
    }
    if scores is not None:
        if not np.allclose(scores.sum(axis=1), 1.0, atol=1e-6):
            raise InvalidInput(
                "each row of y_score must sum to 1 (one probability per class)", field="y_score"
            )
        out["log_loss"] = float(skm.log_loss(truth, scores, labels=labels))
        if np.unique(truth).shape[0] == k:
            out["roc_auc"] = float(skm.roc_auc_score(truth, scores, multi_class="ovr", average="macro"))
            onehot = np.eye(k, dtype=np.int64)[truth]
            out["average_precision"] = float(skm.average_precision_score(onehot, scores, average="macro"))
    return out


def _classes_from_labels(y_true: object, y_pred: object) -> int:
    """How many classes predicted-classes-only input has (at least two)."""
    highest = 1.0
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        array = numbers(values, name)
        highest = max(highest, float(array.max()))
    if highest >= MAX_CLASSES:
        raise InvalidInput(f"class labels must be below {MAX_CLASSES}, got {highest:g}", field="y_true")
    return int(highest) + 1 if highest == int(highest) else 2

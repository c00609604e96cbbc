"""Realized metrics agree with scikit-learn computed directly, and bad input is named."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from shipyard.errors import InvalidInput
from shipyard.monitoring.performance import (
    METRICS,
    binary_counts,
    classification_metrics,
    regression_metrics,
)


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    scores = rng.random(2_000)
    labels = (rng.random(2_000) < scores).astype(int)
    return labels, scores


def test_binary_metrics_match_scikit_learn(binary: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = binary
    pred = (scores >= 0.3).astype(int)
    got = classification_metrics(labels, scores, threshold=0.3)
    tn, fp, _, _ = skm.confusion_matrix(labels, pred).ravel()
    assert got == pytest.approx(
        {
            "roc_auc": skm.roc_auc_score(labels, scores),
            "average_precision": skm.average_precision_score(labels, scores),
            "log_loss": skm.log_loss(labels, scores),
            "accuracy": skm.accuracy_score(labels, pred),
            "precision": skm.precision_score(labels, pred),
            "recall": skm.recall_score(labels, pred),
            "f1": skm.f1_score(labels, pred),
            "specificity": tn / (tn + fp),
        },
        rel=1e-12,
    )


def test_given_predictions_win_over_the_threshold(binary: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = binary
    pred = 1 - (scores >= 0.5).astype(int)  # a model whose decision is not score >= threshold
    got = classification_metrics(labels, scores, pred)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(labels, pred))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, scores))


def test_predictions_only_give_the_threshold_metrics() -> None:
    got = classification_metrics([0, 1, 1, 0, 1], y_pred=[0, 1, 0, 0, 1])
    assert set(got) == {"accuracy", "precision", "recall", "f1", "specificity"}
    assert got["precision"] == 1.0
    assert got["recall"] == pytest.approx(2 / 3)
    assert got["accuracy"] == pytest.approx(0.8)


def test_one_class_window_has_no_roc_auc_but_keeps_the_rest() -> None:
    got = classification_metrics([1, 1, 1], [0.9, 0.2, 0.6])
    assert "roc_auc" not in got and "average_precision" not in got
    assert got["recall"] == pytest.approx(2 / 3)
    assert got["precision"] == 1.0
    assert got["specificity"] == 0.0  # no negatives: zero denominator gives 0


def test_binary_counts_match_the_confusion_matrix(binary: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = binary
    pred = (scores >= 0.5).astype(np.int64)
    assert binary_counts(labels.astype(np.int64), pred) == tuple(skm.confusion_matrix(labels, pred).ravel())


def test_two_column_scores_are_binary(binary: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = binary
    matrix = np.column_stack([1 - scores, scores])
    assert classification_metrics(labels, matrix) == pytest.approx(classification_metrics(labels, scores))


def test_multiclass_macro_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(1_500, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in probs])
    pred = probs.argmax(axis=1)
    got = classification_metrics(labels, probs)
    cm = skm.confusion_matrix(labels, pred)
    fp = cm.sum(axis=0) - np.diag(cm)
    tn = cm.sum() - cm.sum(axis=1) - fp
    assert got == pytest.approx(
        {
            "roc_auc": skm.roc_auc_score(labels, probs, multi_class="ovr"),
            "average_precision": skm.average_precision_score(np.eye(3)[labels], probs),
            "log_loss": skm.log_loss(labels, probs),
            "accuracy": skm.accuracy_score(labels, pred),
            "precision": skm.precision_score(labels, pred, average="macro"),
            "recall": skm.recall_score(labels, pred, average="macro"),
            "f1": skm.f1_score(labels, pred, average="macro"),
            "specificity": float(np.mean(tn / (tn + fp))),
        },
        rel=1e-12,
    )


def test_multiclass_from_predicted_classes_only() -> None:
    labels, pred = [0, 1, 2, 2, 1, 0], [0, 2, 2, 2, 1, 1]
    got = classification_metrics(labels, y_pred=pred)
    assert got["f1"] == pytest.approx(skm.f1_score(labels, pred, average="macro"))
    assert "roc_auc" not in got


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    truth = rng.normal(10, 3, 1_000)
    pred = truth + rng.normal(0, 1, 1_000)
    got = regression_metrics(truth, pred)
    assert got == pytest.approx(
        {
            "mae": skm.mean_absolute_error(truth, pred),
            "rmse": math.sqrt(skm.mean_squared_error(truth, pred)),
            "mape": skm.mean_absolute_percentage_error(truth, pred),
            "r2": skm.r2_score(truth, pred),
        }
    )


def test_regression_leaves_out_what_is_undefined() -> None:
    got = regression_metrics([0.0, 2.0], [1.0, 2.0])
    assert "mape" not in got  # a zero target has no percentage error
    assert got["mae"] == 0.5
    assert "r2" not in regression_metrics([3.0], [2.0])


def test_every_reported_metric_is_described() -> None:
    labels, scores = [0, 1, 1, 0], [0.2, 0.7, 0.4, 0.1]
    for name in [*classification_metrics(labels, scores), *regression_metrics([1.0, 2.0], [1.5, 2.5])]:
        assert name in METRICS
    assert METRICS["log_loss"].higher_is_better is False
    assert METRICS["roc_auc"].task == "classification"
    assert METRICS["rmse"].task == "regression"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0, 2, 1], [0.1, 0.5, 0.9]), {}, "y_true must be class labels (0 or 1), got 2"),
        (([0, 1, 1], [0.1, 1.5, 0.9]), {}, "y_score must be probabilities in [0, 1]"),
        (([0, 1, 1], [0.1, 0.5]), {}, "y_score has 2 rows but y_true has 3"),
        ((["no", "yes"], [0.1, 0.5]), {}, "y_true must hold numbers"),
        (([0, 1], ["0.1", "0.5"]), {}, "y_score must hold numbers"),
        (([0, 1], [0.1, float("nan")]), {}, "y_score contains NaN"),
        (([0, 1],), {}, "give y_score, y_pred or both"),
        (([], []), {}, "y_true is empty"),
        (([0, 1], [0.2, 0.6]), {"threshold": 2.0}, "threshold must lie in [0, 1]"),
        (([0, 1], [[0.2, 0.3, 0.5], [0.1, 0.1, 0.1]]), {}, "each row of y_score must sum to 1"),
        (
            ([0, 3], [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]),
            {},
            "y_true must be class labels (integers from 0 to 2)",
        ),
        (("01", [0.2, 0.6]), {}, "y_true must be a sequence of numbers, not a string"),
    ],
)
def test_bad_classification_input_is_named(
    args: tuple[object, ...], kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        classification_metrics(*args, **kwargs)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("truth", "pred", "message"),
    [
        ([1.0, 2.0], [1.0], "y_pred has 1 rows but y_true has 2"),
        ([1.0, "x"], [1.0, 2.0], "y_true must hold numbers"),
        ([1.0, 2.0], [1.0, float("inf")], "y_pred contains NaN or infinite values"),
    ],
)
def test_bad_regression_input_is_named(truth: object, pred: object, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        regression_metrics(truth, pred)
    assert message in str(raised.value)

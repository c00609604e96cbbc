"""Isotonic calibration of a binary model's scores, and the check that decides whether to use it.

CBPE needs P(y=1 | score) to be the score itself. When the reference says it is not, an isotonic
regression fitted on the whole reference maps scores to calibrated probabilities. We keep it as
its fitted step points (``X_thresholds_``, ``y_thresholds_``) and apply it with ``np.interp``, which
clips outside the fitted range exactly as ``IsotonicRegression(out_of_bounds="clip")`` does, so the
calibrator is stored as plain numbers and never pickled.

Whether to calibrate follows NannyML 0.13.1: never for a single class or a reference AUC above
0.999; otherwise fit on 10 stratified 90/10 splits (seed 42), and calibrate only if the expected
calibration error (10 equal-count bins) of the held-out scores is lower after than before.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

from shipyard.monitoring.metric_inputs import FloatArray, IntArray

ECE_BINS = 10
CHECK_SPLITS = 10
CHECK_TEST_SIZE = 0.1
CHECK_SEED = 42
PERFECT_AUC = 0.999


@dataclass(frozen=True)
class IsotonicCalibration:
    """A fitted isotonic map: increasing step points ``x`` (scores) to ``y`` (probabilities)."""

    x: FloatArray
    y: FloatArray

    @classmethod
    def fit(cls, scores: FloatArray, labels: IntArray) -> IsotonicCalibration:
        model = IsotonicRegression(out_of_bounds="clip").fit(scores, labels.astype(np.float64))
        return cls(np.asarray(model.X_thresholds_, np.float64), np.asarray(model.y_thresholds_, np.float64))

    def apply(self, scores: FloatArray) -> FloatArray:
        return np.interp(scores, self.x, self.y)


def needs_calibration(scores: FloatArray, labels: IntArray) -> bool:
    """True when isotonic calibration lowers the held-out expected calibration error."""
    if labels.min() == labels.max() or roc_auc_score(labels, scores) > PERFECT_AUC:
        return False
    splits = StratifiedShuffleSplit(n_splits=CHECK_SPLITS, test_size=CHECK_TEST_SIZE, random_state=CHECK_SEED)
    truth, before, after = [], [], []
    for train, test in splits.split(scores, labels):
        calibration = IsotonicCalibration.fit(scores[train], labels[train])
        truth.append(labels[test])
        before.append(scores[test])
        after.append(calibration.apply(scores[test]))
    y = np.concatenate(truth)
    return expected_calibration_error(y, np.concatenate(before)) > expected_calibration_error(
        y, np.concatenate(after)
    )


def expected_calibration_error(labels: IntArray, scores: FloatArray, bins: int = ECE_BINS) -> float:
    """Σ w·|mean score - mean label| over equal-count bins of the sorted scores."""
    n = scores.shape[0]
    if n <= 2 * bins:
        bins = n // 2
    edges = np.linspace(0, n, bins + 1).astype(int) if bins >= 2 else np.array([0, n])
    order = np.argsort(scores)
    sorted_scores, sorted_labels = scores[order], labels[order].astype(np.float64)
    total = 0.0
    for left, right in itertools.pairwise(edges):
        if right > left:
            weight = (right - left) / n
            total += weight * abs(sorted_scores[left:right].mean() - sorted_labels[left:right].mean())
    return total

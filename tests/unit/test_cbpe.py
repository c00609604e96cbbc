"""CBPE: estimates that follow the realized metrics under covariate shift, calibration only when it
helps, thresholds from the reference, a lossless round trip, and named errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from shipyard.errors import InvalidInput
from shipyard.monitoring.calibration import IsotonicCalibration, expected_calibration_error, needs_calibration
from shipyard.monitoring.cbpe import CBPE, estimate_roc_auc
from shipyard.monitoring.performance import classification_metrics


def population(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are true probabilities (P(y | x) fixed), for features drawn around ``shift``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(1.7 * x - 0.4)))
    return p, (rng.random(n) < p).astype(int)


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, np.ndarray]:
    return population(20_000, 0.0, seed=1)


@pytest.fixture(scope="module")
def fitted(reference: tuple[np.ndarray, np.ndarray]) -> CBPE:
    scores, labels = reference
    return CBPE.fit(
        scores, labels, metrics=("roc_auc", "accuracy", "f1", "precision", "recall", "specificity")
    )


@pytest.mark.parametrize("shift", [0.0, 0.8, -0.8, 1.5])
def test_estimates_follow_realized_metrics_under_covariate_shift(fitted: CBPE, shift: float) -> None:
    scores, labels = population(5_000, shift, seed=int(10 + shift * 10))
    realized = classification_metrics(labels, scores)
    estimates = fitted.estimate(scores)
    for metric, estimate in estimates.items():
        # the estimate is an expectation; the realized value differs from it by sampling noise only
        assert abs(estimate.value - realized[metric]) < 3 * estimate.sampling_error, metric
        assert estimate.lower_band < realized[metric] < estimate.upper_band, metric


def test_shift_moves_the_estimate_and_raises_alerts(fitted: CBPE) -> None:
    calm = fitted.estimate(population(5_000, 0.0, seed=2)[0])
    shifted = fitted.estimate(population(5_000, -1.5, seed=3)[0])
    assert not any(e.alert for e in calm.values())
    # mostly negatives now: recall and f1 collapse, specificity rises; estimates, no labels needed
    assert shifted["recall"].value < calm["recall"].value - 0.1
    assert shifted["recall"].alert and shifted["f1"].alert and shifted["specificity"].alert
    assert shifted["recall"].value < shifted["recall"].lower_threshold  # type: ignore[operator]


def test_thresholds_are_three_deviations_around_the_reference_chunks(
    fitted: CBPE, reference: tuple[np.ndarray, np.ndarray]
) -> None:
    scores, labels = reference
    assert fitted.chunk_size == 2_000
    chunks = [
        classification_metrics(labels[i : i + 2_000], scores[i : i + 2_000]) for i in range(0, 20_000, 2_000)
    ]
    for metric in fitted.metrics:
        values = np.array([c[metric] for c in chunks])
        ref = fitted.references[metric]
        assert ref.realized == pytest.approx(tuple(values))
        assert ref.lower_threshold == pytest.approx(max(0.0, values.mean() - 3 * values.std()))
        assert ref.upper_threshold == pytest.approx(min(1.0, values.mean() + 3 * values.std()))


def test_sampling_error_matches_the_spread_of_realized_values(fitted: CBPE) -> None:
    windows = [population(1_000, 0.0, seed=100 + i) for i in range(120)]
    realized = {
        m: np.std([classification_metrics(y, y_pred=(s >= 0.5).astype(int))[m] for s, y in windows])
        for m in ("accuracy", "precision", "recall", "specificity", "f1")
    }
    realized["roc_auc"] = np.std([roc_auc_score(y, s) for s, y in windows])
    errors = {m: e.sampling_error for m, e in fitted.estimate(windows[0][0]).items()}
    for metric in ("accuracy", "precision", "recall", "specificity"):
        assert errors[metric] == pytest.approx(realized[metric], rel=0.2), metric
    # NannyML's rules, kept for agreement: F1's treats the rescaling as a constant (too wide by
    # about 1 + TP/(TP+FP+FN)); ROC AUC's counts only the positives' spread (too narrow)
    assert 1.2 < errors["f1"] / realized["f1"] < 1.8
    assert 0.6 < errors["roc_auc"] / realized["roc_auc"] < 1.0


def test_miscalibrated_scores_are_calibrated_and_still_estimated(
    reference: tuple[np.ndarray, np.ndarray],
) -> None:
    scores, labels = reference
    skewed = scores**3  # same ranking, far from P(y=1)
    assert needs_calibration(skewed, labels)
    model = CBPE.fit(skewed, labels)
    assert model.calibrated
    window, truth = population(5_000, 0.7, seed=4)
    realized = classification_metrics(truth, window**3)
    for metric, estimate in model.estimate(window**3).items():
        assert abs(estimate.value - realized[metric]) < 3 * estimate.sampling_error, metric
    assert expected_calibration_error(labels, model.calibration.apply(skewed)) < 0.01  # type: ignore[union-attr]
    assert expected_calibration_error(labels, skewed) > 0.1


def test_calibrated_scores_are_left_alone(fitted: CBPE, reference: tuple[np.ndarray, np.ndarray]) -> None:
    scores, labels = reference
    assert not needs_calibration(scores, labels)
    assert not fitted.calibrated
    perfect = np.r_[np.full(500, 0.1), np.full(500, 0.9)]
    assert not needs_calibration(perfect, np.r_[np.zeros(500, int), np.ones(500, int)])  # AUC 1: skipped


def test_stored_calibrator_predicts_what_isotonic_regression_predicts(
    reference: tuple[np.ndarray, np.ndarray],
) -> None:
    scores, labels = reference
    skewed = scores[:5_000] ** 3
    fitted = IsotonicRegression(out_of_bounds="clip").fit(skewed, labels[:5_000])
    calibration = IsotonicCalibration.fit(skewed, labels[:5_000])
    probe = np.r_[0.0, 1.0, skewed.min() / 2, np.linspace(0, 1, 1_001), scores[5_000:8_000] ** 3]
    np.testing.assert_allclose(calibration.apply(probe), fitted.predict(probe), rtol=0, atol=1e-12)


def test_roc_auc_estimate_is_the_real_auc_when_probabilities_are_certain() -> None:
    rng = np.random.default_rng(9)
    scores = rng.random(3_000)
    labels = (rng.random(3_000) < scores).astype(int)
    # calibrated p of exactly 0 or 1 = the labels: the expected curve is the realized one
    assert estimate_roc_auc(scores, labels.astype(float)) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-9
    )
    assert math.isnan(estimate_roc_auc(scores, np.zeros(3_000)))  # no expected positive


def test_expected_confusion_matrix_by_hand() -> None:
    rng = np.random.default_rng(11)
    ref_scores = rng.random(1_000)
    model = CBPE.fit(ref_scores, (rng.random(1_000) < ref_scores).astype(int))
    assert not model.calibrated
    got = model.estimate([0.9, 0.6, 0.2, 0.4], pred=[1, 1, 0, 1])
    tp, fp, fn, tn = 0.9 + 0.6 + 0.4, 0.1 + 0.4 + 0.6, 0.2, 0.8
    assert got["precision"].value == pytest.approx(tp / (tp + fp))
    assert got["recall"].value == pytest.approx(tp / (tp + fn))
    assert got["accuracy"].value == pytest.approx((tp + tn) / 4)
    assert got["f1"].value == pytest.approx(tp / (tp + 0.5 * (fp + fn)))


def test_a_window_the_metric_cannot_describe_gives_nan_and_no_alert(fitted: CBPE) -> None:
    got = fitted.estimate(np.zeros(100))  # certain negatives: no expected positive
    assert math.isnan(got["roc_auc"].value)
    assert not got["roc_auc"].alert
    assert got["precision"].value == 0.0  # nothing predicted positive: zero denominator gives 0
    assert got["specificity"].value == 1.0


def test_a_metric_no_reference_chunk_defines_has_no_thresholds_and_survives_the_round_trip() -> None:
    scores, labels = population(40, 0.0, seed=6)
    model = CBPE.fit(scores, labels, chunk_size=1)  # one row per chunk: ROC AUC never defined
    assert model.references["roc_auc"].lower_threshold is None
    restored = CBPE.from_bytes(model.to_bytes())
    window = population(500, 2.0, seed=7)[0]
    got = restored.estimate(window)["roc_auc"]
    assert got == model.estimate(window)["roc_auc"]
    assert got.upper_threshold is None and not got.alert
    assert all(math.isnan(v) for v in restored.references["roc_auc"].realized)


def test_round_trip_gives_identical_estimates(reference: tuple[np.ndarray, np.ndarray]) -> None:
    scores, labels = reference
    for model in (CBPE.fit(scores, labels, chunk_size=3_000), CBPE.fit(scores**3, labels, threshold=0.2)):
        data = model.to_bytes()
        json.loads(data)  # plain JSON, nothing executable
        restored = CBPE.from_bytes(data)
        assert restored.calibrated == model.calibrated
        assert restored.references == model.references
        for shift in (0.0, 1.0, -2.0):
            window = population(2_000, shift, seed=5)[0]
            window = window**3 if model.calibrated else window
            assert restored.estimate(window) == model.estimate(window)
        assert restored.to_bytes() == data


@pytest.mark.parametrize(
    "data", [b"", b"not json", b"[]", b'{"format": "other"}', b'{"format": "shipyard.cbpe/1"}']
)
def test_from_bytes_rejects_what_it_did_not_write(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="not a serialized CBPE estimator"):
        CBPE.from_bytes(data)


@pytest.mark.parametrize(
    ("scores", "labels", "kwargs", "message"),
    [
        ([0.1, 0.9] * 10, [0, 2] * 10, {}, "reference_labels must be class labels (0 or 1), got 2"),
        ([0.1, 1.9] * 10, [0, 1] * 10, {}, "reference_scores must be probabilities in [0, 1]"),
        ([0.1, 0.9] * 10, [0, 1] * 9, {}, "reference_labels has 18 rows but reference_scores has 20"),
        ([0.1, 0.9] * 10, [1, 1] * 10, {}, "reference_labels hold only class 1"),
        (["0.1", "0.9"] * 10, [0, 1] * 10, {}, "reference_scores must hold numbers"),
        ([0.1, 0.9] * 10, ["a", "b"] * 10, {}, "reference_labels must hold numbers"),
        ([0.1, 0.9] * 10, [0, 1] * 10, {"metrics": ("roc_auc", "mae")}, "CBPE cannot estimate 'mae'"),
        ([0.1, 0.9] * 10, [0, 1] * 10, {"metrics": "roc_auc"}, "metrics must be a list"),
        ([0.1, 0.9] * 10, [0, 1] * 10, {"chunk_size": 0}, "chunk_size must be an integer from 1"),
        ([0.1, 0.9] * 10, [0, 1] * 10, {"threshold": -0.5}, "threshold must be a number in [0, 1]"),
        ([0.1, 0.9] * 10, [0, 1] * 10, {"reference_pred": [0, 1] * 5}, "reference_pred has 10 rows"),
        ([0.1, 0.9] * 4, [0, 1] * 4, {}, "the reference has 8 rows; CBPE needs at least 10"),
    ],
)
def test_bad_reference_is_named(
    scores: object, labels: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        CBPE.fit(scores, labels, **kwargs)  # type: ignore[arg-type]
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("scores", "pred", "message"),
    [
        ([0.2, -0.1], None, "scores must be probabilities in [0, 1]"),
        ([0.2, 0.4], [1, 0, 1], "pred has 3 rows but scores has 2"),
        ([0.2, 0.4], [1, 5], "pred must be class labels (0 or 1), got 5"),
        ([], None, "scores is empty"),
        ("0.5", None, "scores must be a sequence of numbers"),
    ],
)
def test_bad_window_is_named(fitted: CBPE, scores: object, pred: object, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        fitted.estimate(scores, pred)
    assert message in str(raised.value)

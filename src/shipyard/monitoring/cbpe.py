"""Confidence-based performance estimation (CBPE): a binary classifier's performance on windows
whose labels have not arrived yet, estimated from its own calibrated scores.

If the score ``p`` is the probability that the row is positive, each row contributes ``p`` of a
true positive (or false negative) and ``1 - p`` of a false positive (or true negative), so the
expected confusion matrix, and every metric built on it, follows from the scores alone. This
holds under covariate shift but not under concept drift (P(y | x) changing), which only labels
reveal. The rules follow NannyML 0.13.1 so both give the same numbers on the same data:

* calibration: see :mod:`shipyard.monitoring.calibration`;
* ROC AUC: rows sorted by the *uncalibrated* score, cumulative calibrated ``p`` as true
  positives, both counts rounded to 5 decimals, trapezoidal area;
* thresholds: mean ± 3 standard deviations of the *realized* metric over the reference chunks
  (``chunk_size``, default a tenth of the reference), clipped to [0, 1]; an estimate outside
  them raises an alert;
* sampling error: the reference's per-row standard deviation over √(rows * share of relevant
  rows); the band is the estimate ± 3 sampling errors, clipped to [0, 1].

Every value this module returns is an estimate; realized metrics are in
:mod:`shipyard.monitoring.performance`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import auc, roc_auc_score

from shipyard.errors import InvalidInput
from shipyard.monitoring.calibration import IsotonicCalibration, needs_calibration
from shipyard.monitoring.metric_inputs import FloatArray, IntArray, class_labels, probabilities, same_length
from shipyard.monitoring.performance import binary_counts, from_counts

SUPPORTED = ("roc_auc", "accuracy", "f1", "precision", "recall", "specificity")
DEFAULT_METRICS = ("roc_auc", "accuracy", "f1", "precision", "recall")
STD_MULTIPLIER = 3.0
BAND_MULTIPLIER = 3.0
DEFAULT_CHUNKS = 10
FORMAT = "shipyard.cbpe/1"


@dataclass(frozen=True)
class Estimate:
    """One metric estimated on one window. ``alert`` is True when ``value`` falls outside the
    thresholds (``None`` when the reference chunks gave no realized value to derive them)."""

    metric: str
    value: float
    sampling_error: float
    lower_threshold: float | None
    upper_threshold: float | None
    alert: bool
    lower_band: float
    upper_band: float


@dataclass(frozen=True)
class MetricReference:
    """What the reference says about one metric: the spread of its per-row contributions
    (``sigma``) and the share of rows that contribute (``fraction``), for the sampling error;
    its realized value on each reference chunk and the thresholds derived from them."""

    sigma: float
    fraction: float
    realized: tuple[float, ...]
    lower_threshold: float | None
    upper_threshold: float | None


class CBPE:
    """A fitted estimator: build it with :meth:`fit` (or :meth:`from_bytes`), then call
    :meth:`estimate` once per window."""

    def __init__(
        self,
        *,
        threshold: float,
        metrics: tuple[str, ...],
        chunk_size: int,
        reference_rows: int,
        calibration: IsotonicCalibration | None,
        references: dict[str, MetricReference],
    ) -> None:
        self.threshold = threshold
        self.metrics = metrics
        self.chunk_size = chunk_size
        self.reference_rows = reference_rows
        self.calibration = calibration
        self.references = references

    @property
    def calibrated(self) -> bool:
        """Whether scores go through the isotonic calibrator before estimation."""
        return self.calibration is not None

    @classmethod
    def fit(
        cls,
        reference_scores: object,
        reference_labels: object,
        *,
        reference_pred: object = None,
        threshold: float = 0.5,
        metrics: Sequence[str] = DEFAULT_METRICS,
        chunk_size: int | None = None,
    ) -> CBPE:
        """Learn calibration, sampling-error components and thresholds from a labelled reference
        (typically the model's test set or its first labelled weeks of traffic)."""
        chosen = _check_metrics(metrics)
        _check_threshold(threshold)
        scores = probabilities(reference_scores, "reference_scores")
        labels = class_labels(reference_labels, "reference_labels")
        pred = _predictions(scores, reference_pred, threshold, "reference_pred")
        n = same_length(
            [("reference_scores", scores), ("reference_labels", labels), ("reference_pred", pred)]
        )
        if labels.min() == labels.max():
            raise InvalidInput(
                f"reference_labels hold only class {labels[0]}; CBPE needs both classes in the reference",
                field="reference_labels",
            )
        size = _chunk_size(chunk_size, n)
        calibration = IsotonicCalibration.fit(scores, labels) if needs_calibration(scores, labels) else None
        chunks = [slice(start, start + size) for start in range(0, n, size)]
        per_chunk = [_realized(labels[c], scores[c], pred[c], with_auc="roc_auc" in chosen) for c in chunks]
        realized = {m: [values[m] for values in per_chunk] for m in chosen}
        references = {}
        for metric in chosen:
            sigma, fraction = _components(metric, labels, scores, pred)
            lower, upper = _thresholds(realized[metric])
            references[metric] = MetricReference(sigma, fraction, tuple(realized[metric]), lower, upper)
        return cls(
            threshold=threshold,
            metrics=chosen,
            chunk_size=size,
            reference_rows=n,
            calibration=calibration,
            references=references,
        )

    def estimate(self, scores: object, pred: object = None) -> dict[str, Estimate]:
        """Estimated metrics of one window of unlabelled predictions (scores of class 1, and the
        predicted classes when the model's decision is not ``score >= threshold``)."""
        raw = probabilities(scores, "scores")
        predicted = _predictions(raw, pred, self.threshold, "pred")
        n = same_length([("scores", raw), ("pred", predicted)])
        p = raw if self.calibration is None else self.calibration.apply(raw)
        values = _expected_counts_metrics(p, predicted)
        if "roc_auc" in self.metrics:
            values["roc_auc"] = estimate_roc_auc(raw, p)
        return {m: self._estimate(m, values[m], n) for m in self.metrics}

    def _estimate(self, metric: str, value: float, rows: int) -> Estimate:
        ref = self.references[metric]
        error = ref.sigma / math.sqrt(rows * ref.fraction) if ref.fraction > 0 else math.nan
        alert = (ref.lower_threshold is not None and value < ref.lower_threshold) or (
            ref.upper_threshold is not None and value > ref.upper_threshold
        )
        return Estimate(
            metric=metric,
            value=value,
            sampling_error=error,
            lower_threshold=ref.lower_threshold,
            upper_threshold=ref.upper_threshold,
            alert=bool(alert),
            lower_band=max(0.0, value - BAND_MULTIPLIER * error),
            upper_band=min(1.0, value + BAND_MULTIPLIER * error),
        )

    def to_bytes(self) -> bytes:
        """JSON (floats written exactly, NaN as null): what the content store keeps."""
        document = {
            "format": FORMAT,
            "threshold": self.threshold,
            "metrics": list(self.metrics),
            "chunk_size": self.chunk_size,
            "reference_rows": self.reference_rows,
            "calibration": None
            if self.calibration is None
            else {"x": self.calibration.x.tolist(), "y": self.calibration.y.tolist()},
            "references": {
                m: {
                    "sigma": _json_float(r.sigma),
                    "fraction": r.fraction,
                    "realized": [_json_float(v) for v in r.realized],
                    "lower_threshold": r.lower_threshold,
                    "upper_threshold": r.upper_threshold,
                }
                for m, r in self.references.items()
            },
        }
        return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> CBPE:
        """The estimator :meth:`to_bytes` wrote, or :class:`InvalidInput` for anything else."""
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError(f"expected format {FORMAT!r}")
            metrics = _check_metrics(doc["metrics"])
            raw_cal = doc["calibration"]
            calibration = None
            if raw_cal is not None:
                x, y = np.asarray(raw_cal["x"], np.float64), np.asarray(raw_cal["y"], np.float64)
                if x.ndim != 1 or x.shape != y.shape or x.shape[0] == 0:
                    raise ValueError("calibration points must be two lists of the same, non-zero length")
                calibration = IsotonicCalibration(x, y)
            references = {
                m: MetricReference(
                    sigma=_from_json_float(doc["references"][m]["sigma"]),
                    fraction=float(doc["references"][m]["fraction"]),
                    realized=tuple(_from_json_float(v) for v in doc["references"][m]["realized"]),
                    lower_threshold=_optional_float(doc["references"][m]["lower_threshold"]),
                    upper_threshold=_optional_float(doc["references"][m]["upper_threshold"]),
                )
                for m in metrics
            }
            return cls(
                threshold=float(doc["threshold"]),
                metrics=metrics,
                chunk_size=int(doc["chunk_size"]),
                reference_rows=int(doc["reference_rows"]),
                calibration=calibration,
                references=references,
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, InvalidInput) as exc:
            raise InvalidInput(f"not a serialized CBPE estimator: {exc}", field="data") from exc


def estimate_roc_auc(scores: FloatArray, calibrated: FloatArray) -> float:
    """Expected ROC AUC: rank by the model's score, count calibrated ``p`` as expected positives.

    Rounding the cumulative counts to 5 decimals (as NannyML does) keeps float noise from making
    the false-positive counts decrease. NaN when the window holds no expected positive or negative.
    """
    order = np.argsort(scores)[::-1]
    tps = np.cumsum(calibrated[order])
    fps = np.arange(1, tps.shape[0] + 1) - tps
    tps = np.round(np.concatenate([[0.0], tps]), 5)
    fps = np.round(np.concatenate([[0.0], fps]), 5)
    if tps[-1] <= 0 or fps[-1] <= 0:
        return math.nan
    return float(auc(fps / fps[-1], tps / tps[-1]))


def _expected_counts_metrics(p: FloatArray, pred: IntArray) -> dict[str, float]:
    positive = pred == 1
    tp = float(p[positive].sum())
    fp = float((1.0 - p[positive]).sum())
    fn = float(p[~positive].sum())
    tn = float((1.0 - p[~positive]).sum())
    return from_counts(tn, fp, fn, tp)


def _realized(labels: IntArray, scores: FloatArray, pred: IntArray, *, with_auc: bool) -> dict[str, float]:
    """The metrics on one labelled reference chunk (uncalibrated scores); NaN if undefined."""
    values = from_counts(*binary_counts(labels, pred))
    if with_auc:
        values["roc_auc"] = float(roc_auc_score(labels, scores)) if labels.min() != labels.max() else math.nan
    return values


def _components(metric: str, labels: IntArray, scores: FloatArray, pred: IntArray) -> tuple[float, float]:
    """(sigma of the per-row contributions, share of rows that contribute) on the whole reference."""
    n = labels.shape[0]
    if metric == "roc_auc":
        return _auc_components(labels, scores)
    correct = labels == pred
    if metric == "accuracy":
        return float(np.std(correct)), 1.0
    relevant = {
        "precision": pred == 1,
        "recall": labels == 1,
        "specificity": labels == 0,
        "f1": (pred == 1) | (labels == 1),
    }[metric]
    hits = correct[relevant].astype(np.float64)
    if hits.shape[0] == 0:
        return math.nan, 0.0
    if metric == "f1":
        # F1 = TP / (TP + (FP + FN) / 2): rescale so the per-row mean is the F1 itself
        tp = hits.sum()
        hits = hits * hits.shape[0] / (tp + 0.5 * (hits.shape[0] - tp)) if tp > 0 else hits
    return float(np.std(hits)), hits.shape[0] / n


def _auc_components(labels: IntArray, scores: FloatArray) -> tuple[float, float]:
    """Sigma of the positives' placement values (share of negatives scored below each positive),
    taking the minority class as positive, and that class's share of the reference."""
    if labels.mean() > 0.5:
        labels, scores = 1 - labels, 1.0 - scores
    order = np.argsort(scores, kind="stable")
    sorted_labels = labels[order]
    negatives_below = np.cumsum(1 - sorted_labels)[sorted_labels == 1]
    n_pos = int(sorted_labels.sum())
    placements = negatives_below / (labels.shape[0] - n_pos)
    return float(np.std(placements)), n_pos / labels.shape[0]


def _thresholds(realized: list[float]) -> tuple[float | None, float | None]:
    values = np.asarray(realized, np.float64)
    if np.isnan(values).all():
        return None, None
    mean, std = float(np.nanmean(values)), float(np.nanstd(values))
    return max(0.0, mean - STD_MULTIPLIER * std), min(1.0, mean + STD_MULTIPLIER * std)


def _predictions(scores: FloatArray, pred: object, threshold: float, name: str) -> IntArray:
    if pred is None:
        return (scores >= threshold).astype(np.int64)
    return class_labels(pred, name)


def _check_metrics(metrics: object) -> tuple[str, ...]:
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise InvalidInput("metrics must be a list of metric names", field="metrics")
    unknown = [m for m in metrics if m not in SUPPORTED]
    if unknown:
        raise InvalidInput(
            f"CBPE cannot estimate {unknown[0]!r}; it estimates {', '.join(SUPPORTED)}", field="metrics"
        )
    if not metrics:
        raise InvalidInput("metrics is empty", field="metrics")
    return tuple(dict.fromkeys(metrics))


def _check_threshold(threshold: object) -> None:
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"threshold must be a number in [0, 1], got {threshold!r}", field="threshold")


def _chunk_size(chunk_size: object, rows: int) -> int:
    if chunk_size is None:
        if rows < DEFAULT_CHUNKS:
            raise InvalidInput(
                f"the reference has {rows} rows; CBPE needs at least {DEFAULT_CHUNKS}",
                field="reference_scores",
            )
        return rows // DEFAULT_CHUNKS
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or not 1 <= chunk_size <= rows:
        raise InvalidInput(
            f"chunk_size must be an integer from 1 to the reference's {rows} rows, got {chunk_size!r}",
            field="chunk_size",
        )
    return chunk_size


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


def _from_json_float(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]

"""CBPE: a 50,000-row labelled reference and 10 unlabelled windows of 5,000 rows whose features
drift further each window (covariate shift; P(y | x) unchanged), in two cases: a calibrated model
and an overconfident one (which the isotonic calibrator has to fix).

Figures: how far Shipyard's estimated ROC AUC is from the realized one (labels the estimator never
sees) and Shipyard's fit + 10 estimates time (CPU seconds, the machine being shared; wall time in
the note). With ``.venv-nannyml`` present (``make bench-nannyml``), NannyML 0.13.1's CBPE on the
same files: the largest |difference| of estimated ROC AUC per window (target <= 0.01), of the other
metrics, sampling errors and thresholds, alert agreement, and its time.
Data is generated once with numpy into ``$TMPDIR/shipyard-bench-cbpe``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import Result, anchor_figures
from shipyard.monitoring.cbpe import CBPE, Estimate
from shipyard.monitoring.performance import classification_metrics

CACHE = Path(tempfile.gettempdir()) / "shipyard-bench-cbpe"
NANNYML_PYTHON = Path(__file__).resolve().parent.parent / ".venv-nannyml" / "bin" / "python"
REFERENCE_ROWS = 50_000
WINDOWS = 10
WINDOW_ROWS = 5_000
METRICS = ("roc_auc", "accuracy", "f1", "precision", "recall", "specificity")
CASES = {"calibrated": 1.0, "overconfident": 1.8}  # the model's logit is the true one times this


def dataset(case: str) -> tuple[Path, Path]:
    folder = CACHE / case
    reference, analysis = folder / "reference.parquet", folder / "analysis.parquet"
    if reference.exists() and analysis.exists():
        return reference, analysis
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261207)
    pq.write_table(_rows(rng, REFERENCE_ROWS, 0.0, CASES[case]), reference)
    windows = [_rows(rng, WINDOW_ROWS, 0.12 * i, CASES[case]) for i in range(WINDOWS)]
    pq.write_table(pa.concat_tables(windows), analysis)
    return reference, analysis


def _rows(rng: np.random.Generator, n: int, shift: float, sharpness: float) -> pa.Table:
    x1 = rng.normal(shift, 1.0 + shift / 2, n)
    x2 = rng.normal(-shift, 1.0, n)
    logit = 1.4 * x1 - 0.9 * x2 - 0.3
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    score = 1.0 / (1.0 + np.exp(-sharpness * logit))
    return pa.table({"score": score, "pred": (score >= 0.5).astype(np.int64), "label": label})


def shipyard_cbpe(case: str) -> tuple[float, float, bool, list[dict[str, Estimate]], list[float]]:
    """Median wall and CPU seconds of fit + all window estimates, whether it calibrated, the
    estimates, and the realized ROC AUC of each window."""
    reference_path, analysis_path = dataset(case)
    ref, ana = pq.read_table(reference_path), pq.read_table(analysis_path)
    ref_score, ref_label, ref_pred = (ref.column(c).to_numpy() for c in ("score", "label", "pred"))
    score, pred, label = (ana.column(c).to_numpy() for c in ("score", "pred", "label"))
    windows = [slice(i * WINDOW_ROWS, (i + 1) * WINDOW_ROWS) for i in range(WINDOWS)]
    timings: list[tuple[float, float]] = []
    estimates: list[dict[str, Estimate]] = []
    calibrated = False
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        model = CBPE.fit(ref_score, ref_label, reference_pred=ref_pred, metrics=METRICS)
        estimates = [model.estimate(score[w], pred[w]) for w in windows]
        timings.append((time.perf_counter() - started, time.process_time() - cpu))
        calibrated = model.calibrated
    realized = [classification_metrics(label[w], score[w], pred[w])["roc_auc"] for w in windows]
    wall, cpu_seconds = sorted(timings)[1]
    return wall, cpu_seconds, calibrated, estimates, realized


def nannyml_cbpe(case: str) -> dict[str, object] | None:
    if not NANNYML_PYTHON.exists():
        return None
    reference, analysis = dataset(case)
    return anchor_figures(NANNYML_PYTHON, "nannyml_cbpe.py", reference, analysis, WINDOW_ROWS, *METRICS)


def run() -> list[Result]:
    results: list[Result] = []
    for case in CASES:
        seconds, cpu, calibrated, ours, realized = shipyard_cbpe(case)
        gap = max(abs(e["roc_auc"].value - r) for e, r in zip(ours, realized, strict=True))
        errors = [e["roc_auc"].sampling_error for e in ours]
        results += [
            Result(
                f"CBPE {case}: max |estimated - realized ROC AUC| per window",
                gap,
                "",
                note=f"labels unseen by the estimator; sampling error {min(errors):.4f}-{max(errors):.4f}; "
                f"calibrated: {calibrated}",
            ),
            Result(
                f"CBPE {case}: Shipyard fit on {REFERENCE_ROWS:,} rows + {WINDOWS} windows of {WINDOW_ROWS:,}",
                cpu,
                "CPU s",
                target=1.0,
                note=f"median of 3; wall {seconds:.2f} s on a shared machine",
            ),
        ]
        theirs = nannyml_cbpe(case)
        if theirs is not None:
            results += _comparison(case, ours, cpu, calibrated, theirs)
    return results


def _comparison(
    case: str, ours: list[dict[str, Estimate]], cpu: float, calibrated: bool, theirs: dict[str, object]
) -> list[Result]:
    per_metric: dict[str, dict[str, list[float | bool | None]]] = theirs["metrics"]  # type: ignore[assignment]
    nannyml_seconds = float(theirs["fit_seconds"]) + float(theirs["estimate_seconds"])  # type: ignore[arg-type]
    nannyml_cpu = float(theirs["cpu_seconds"])  # type: ignore[arg-type]
    gaps = {
        m: max(abs(e[m].value - v) for e, v in zip(ours, per_metric[m]["value"], strict=True))  # type: ignore[operator]
        for m in METRICS
    }
    bounds = max(
        _gap(getattr(e[m], side), theirs_value)
        for m in METRICS
        for side in ("sampling_error", "lower_threshold", "upper_threshold")
        for e, theirs_value in zip(ours, per_metric[m][side], strict=True)
    )
    alerts_ours = [e[m].alert for e in ours for m in METRICS]
    alerts_theirs = [per_metric[m]["alert"][i] for i in range(WINDOWS) for m in METRICS]
    agree = sum(a == b for a, b in zip(alerts_ours, alerts_theirs, strict=True))
    others = ", ".join(f"{m} {gaps[m]:.1e}" for m in METRICS if m != "roc_auc")
    return [
        Result(
            f"CBPE {case}: max |Shipyard - NannyML estimated ROC AUC| per window",
            gaps["roc_auc"],
            "",
            target=0.01,
            note=f"exactly {gaps['roc_auc']:.1e}; other metrics: {others}; alerts agree {agree}/{len(alerts_ours)}; "
            f"sampling errors and thresholds within {bounds:.1e}; "
            f"calibrated: Shipyard {calibrated}, NannyML {theirs['calibrated']}",
        ),
        Result(
            f"CBPE {case}: NannyML 0.13.1 fit + estimate, same files",
            nannyml_cpu,
            "CPU s",
            note=f"one run; wall {nannyml_seconds:.2f} s",
        ),
        Result(f"CBPE {case}: NannyML CPU time / Shipyard CPU time", nannyml_cpu / cpu, "x"),
    ]


def _gap(ours: float | None, theirs: object) -> float:
    """|difference|, with a missing value (None, NaN) equal only to another missing one."""
    missing = [v is None or v != v for v in (ours, theirs)]
    if any(missing):
        return 0.0 if all(missing) else float("inf")
    return abs(float(ours) - float(theirs))  # type: ignore[arg-type]

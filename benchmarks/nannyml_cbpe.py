"""NannyML's CBPE on the benchmark's files (run inside ``.venv-nannyml``, not Shipyard's venv):
``python nannyml_cbpe.py REFERENCE.parquet ANALYSIS.parquet CHUNK_SIZE METRIC [METRIC ...]``.

Both files hold ``score`` (P(class 1)) and ``pred`` (the predicted class); the reference also
holds ``label``. Prints one JSON line: fit and estimate seconds (and CPU seconds of both), whether NannyML calibrated, and per
metric the analysis chunks' estimates, sampling errors, thresholds and alerts.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings

import nannyml
import pandas as pd


def main(reference_path: str, analysis_path: str, chunk_size: int, metrics: list[str]) -> None:
    warnings.filterwarnings("ignore")
    reference = pd.read_parquet(reference_path)
    analysis = pd.read_parquet(analysis_path)[["score", "pred"]]
    estimator = nannyml.CBPE(
        problem_type="classification_binary",
        y_pred_proba="score",
        y_pred="pred",
        y_true="label",
        metrics=metrics,
        chunk_size=chunk_size,
    )
    started, cpu = time.perf_counter(), time.process_time()
    estimator.fit(reference)
    fitted = time.perf_counter()
    result = estimator.estimate(analysis).filter(period="analysis").to_df()
    done = time.perf_counter()
    out: dict[str, object] = {
        "fit_seconds": fitted - started,
        "estimate_seconds": done - fitted,
        "cpu_seconds": time.process_time() - cpu,
        "calibrated": bool(estimator.needs_calibration),
        "metrics": {},
    }
    for metric in metrics:
        column = result[metric]
        out["metrics"][metric] = {  # type: ignore[index]
            "value": [_number(v) for v in column["value"]],
            "sampling_error": [_number(v) for v in column["sampling_error"]],
            "lower_threshold": [_number(v) for v in column["lower_threshold"]],
            "upper_threshold": [_number(v) for v in column["upper_threshold"]],
            "alert": [bool(v) for v in column["alert"]],
        }
    print(json.dumps(out))


def _number(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:])

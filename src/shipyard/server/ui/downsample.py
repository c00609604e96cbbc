"""Long metric series cut to what a chart can show: Largest-Triangle-Three-Buckets (Steinarsson,
2013) keeps the points that shape the curve, so peaks and dips survive. The ``lttb`` package pins
numpy below 2, which this project cannot take; this is the algorithm on numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shipyard.tracking.model import Metric

#: Points per curve sent to the browser.
POINTS = 1000


def lttb_indices(x: np.ndarray, y: np.ndarray, threshold: int = POINTS) -> np.ndarray:
    """Indices of the points LTTB keeps (first and last always), in order."""
    n = len(x)
    if threshold >= n or threshold < 3:
        return np.arange(n)
    y = np.nan_to_num(y.astype(float), nan=0.0, posinf=0.0, neginf=0.0)
    x = x.astype(float)
    every = (n - 2) / (threshold - 2)
    kept = np.empty(threshold, dtype=np.int64)
    kept[0], kept[-1] = 0, n - 1
    a = 0
    for i in range(threshold - 2):
        start, end = int(i * every) + 1, int((i + 1) * every) + 1
        next_start, next_end = end, min(int((i + 2) * every) + 1, n)
        avg_x = x[next_start:next_end].mean() if next_end > next_start else x[-1]
        avg_y = y[next_start:next_end].mean() if next_end > next_start else y[-1]
        area = np.abs((x[a] - avg_x) * (y[start:end] - y[a]) - (x[a] - x[start:end]) * (avg_y - y[a]))
        a = start + int(np.argmax(area))
        kept[i + 1] = a
    return kept


def series(history: Sequence[Metric], points: int = POINTS) -> dict[str, list[float] | list[int]]:
    """A metric history as chart columns (``step``, ``time`` in epoch ms, ``value``), downsampled
    by LTTB over the steps to at most ``points`` points."""
    steps = np.fromiter((m.step for m in history), dtype=np.int64, count=len(history))
    values = np.fromiter((m.value for m in history), dtype=float, count=len(history))
    times = np.fromiter((m.timestamp for m in history), dtype=np.int64, count=len(history))
    order = np.argsort(steps, kind="stable")
    steps, values, times = steps[order], values[order], times[order]
    kept = lttb_indices(steps, values, points)
    return {
        "step": steps[kept].tolist(),
        "time": times[kept].tolist(),
        "value": [None if not np.isfinite(v) else float(v) for v in values[kept]],
    }

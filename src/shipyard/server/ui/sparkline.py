"""A metric's history as a small SVG polyline, computed on the server (no JavaScript charting)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shipyard.tracking.model import Metric

WIDTH = 120
HEIGHT = 28
PAD = 2.0
#: More points than pixels only hides the line's shape; longer series are thinned evenly.
MAX_POINTS = 240


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    points: str  # "x,y x,y …" for <polyline points=…>
    last_x: float
    last_y: float
    low: float
    high: float
    count: int  # points in the history, NaN included


def sparkline(history: Sequence[Metric], width: int = WIDTH, height: int = HEIGHT) -> Sparkline | None:
    """The line of ``history`` (ordered by step) scaled to ``width`` by ``height``; None without a
    finite value. The x axis is the step, the y axis the value (higher is up)."""
    finite = [m for m in history if math.isfinite(m.value)]
    if not finite:
        return None
    if len(finite) > MAX_POINTS:
        stride = len(finite) / MAX_POINTS
        finite = [finite[int(i * stride)] for i in range(MAX_POINTS - 1)] + [finite[-1]]
    low = min(m.value for m in finite)
    high = max(m.value for m in finite)
    first_step, last_step = finite[0].step, finite[-1].step
    span_x = last_step - first_step
    span_y = high - low
    inner_w, inner_h = width - 2 * PAD, height - 2 * PAD

    def x(i: int, m: Metric) -> float:
        if span_x > 0:
            return PAD + inner_w * (m.step - first_step) / span_x
        return PAD + inner_w * (i / (len(finite) - 1) if len(finite) > 1 else 1.0)

    def y(m: Metric) -> float:
        return PAD + inner_h * (0.5 if span_y == 0 else (high - m.value) / span_y)

    coords = [(x(i, m), y(m)) for i, m in enumerate(finite)]
    return Sparkline(
        width=width,
        height=height,
        points=" ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords),
        last_x=round(coords[-1][0], 1),
        last_y=round(coords[-1][1], 1),
        low=low,
        high=high,
        count=len(history),
    )

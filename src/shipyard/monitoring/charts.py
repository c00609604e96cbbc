"""The pictures of a monitor, as plotly figure specs (plain ``{"data", "layout"}`` dicts): the HTML
report and the web UI draw the same ones with plotly.js.

- per-feature distributions, reference against the latest window;
- drift over time (the share of drifted columns, and each column's score);
- performance over time, measured (solid) and estimated before labels (dashed, named "estimated");
- operations over time (latency p99, error rate).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shipyard.monitoring.model import Alert, Evaluation

Figure = dict[str, Any]
REFERENCE = "#8a94a6"
CURRENT = "#2f6fdf"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "height": 280,
        "margin": {"l": 50, "r": 10, "t": 36, "b": 40},
        **extra,
    }


def distribution(column: str, spec: dict[str, Any], drift: dict[str, Any] | None) -> Figure:
    """Reference against current shares of one column (bins of a number, or categories)."""
    if spec.get("categories") is not None:
        x: list[Any] = [str(c) for c in spec["categories"]]
        width = None
    else:
        edges = spec.get("edges") or []
        x = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        width = [b - a for a, b in itertools.pairwise(edges)]
    title = column
    if drift is not None and drift.get("score") is not None:
        verdict = "drifted" if drift.get("drifted") else "no drift"
        title = f"{column}: {drift.get('method')} {drift['score']:.3g} ({verdict})"
    traces = [
        {"type": "bar", "name": "reference", "x": x, "y": spec.get("reference", []), "marker": {"color": REFERENCE}, "opacity": 0.6},
        {"type": "bar", "name": "current", "x": x, "y": spec.get("current", []), "marker": {"color": CURRENT}, "opacity": 0.6},
    ]  # fmt: skip
    if width is not None:
        for t in traces:
            t["width"] = width
    return {
        "data": traces,
        "layout": _layout(title, barmode="overlay", bargap=0.05, yaxis={"title": {"text": "share"}}),
    }


def distributions(evaluation: Evaluation) -> list[Figure]:
    columns = {c["column"]: c for c in evaluation.details.get("drift", {}).get("columns", [])}
    specs = evaluation.details.get("distributions", {})
    return [distribution(name, spec, columns.get(name)) for name, spec in specs.items()]


def _series(evaluations: Sequence[Evaluation], figure: str) -> tuple[list[str], list[float]]:
    points = [(e.window_end, e.figures[figure]) for e in evaluations if figure in e.figures]
    return [_iso(t) for t, _ in points], [v for _, v in points]


def over_time(
    evaluations: Sequence[Evaluation], figures: Sequence[str], title: str, *, estimated: bool = True
) -> Figure:
    traces = []
    for name in figures:
        x, y = _series(evaluations, name)
        if not x:
            continue
        is_estimate = name.startswith("estimated.")
        label = f"{name} (estimated)" if is_estimate and estimated else name
        traces.append(
            {"type": "scatter", "mode": "lines+markers", "name": label, "x": x, "y": y,
             "line": {"dash": "dash" if is_estimate else "solid"}}
        )  # fmt: skip
    return {"data": traces, "layout": _layout(title, showlegend=True, xaxis={"type": "date"})}


def drift_over_time(evaluations: Sequence[Evaluation]) -> Figure:
    columns = sorted({k for e in evaluations for k in e.figures if k.startswith("drift.column.")})
    figure = over_time(evaluations, ["drift.share", *columns[:20]], "drift over time")
    for trace in figure["data"][1:]:
        trace["visible"] = "legendonly"  # per-column scores on demand; the share is what alerts read
    return figure


def performance_over_time(evaluations: Sequence[Evaluation]) -> Figure:
    names = sorted(
        {k for e in evaluations for k in e.figures if k.startswith(("performance.", "estimated."))}
        - {"performance.labelled_rows"}
    )
    return over_time(evaluations, names, "performance: measured (solid) and estimated before labels (dashed)")


def operations_over_time(evaluations: Sequence[Evaluation]) -> Figure:
    return over_time(evaluations, ["ops.latency_p99_ms", "ops.error_rate", "window.rows"], "operations")


def alert_marks(alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    """Vertical lines where alerts fired, for the drift and performance charts."""
    return [
        {"type": "line", "xref": "x", "yref": "paper", "x0": _iso(a.fired_at), "x1": _iso(a.fired_at), "y0": 0, "y1": 1,
         "line": {"color": "#d33", "width": 1, "dash": "dot"}}
        for a in alerts
    ]  # fmt: skip

"""``shipyard monitor report``: one self-contained HTML file (plotly.js inlined from the ``plotly``
package, no network needed to open it) with the monitor, its alerts, the latest window's
distributions against the reference, drift over time, performance measured and estimated, and
operations."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from shipyard.monitoring import charts
from shipyard.monitoring.model import Alert, Evaluation, Monitor

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1d2433;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #dde;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:8px}
.firing{color:#c22;font-weight:600}.resolved{color:#2a7}.estimated{font-style:italic;color:#666}
"""


@cache
def _plotly_js() -> str:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def _when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _figure(div_id: str, figure: charts.Figure) -> str:
    spec = json.dumps(figure).replace("</", "<\\/")
    return (
        f'<div id="{div_id}" class="chart"></div>'
        f"<script>Plotly.newPlot('{div_id}', {spec}.data, {spec}.layout, {{displaylogo:false,responsive:true}});</script>"
    )


def _alerts_table(alerts: Sequence[Alert]) -> str:
    if not alerts:
        return "<p>No alert has fired.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(a.id)}</td><td>{html.escape(a.rule)}</td>"
        f"<td>{html.escape(a.figure)}{' <span class=estimated>(estimated)</span>' if a.figure.startswith('estimated.') else ''}"
        f" {html.escape(a.op)} {a.threshold:g}</td><td>{a.value:.4g}</td>"
        f"<td class={a.status}>{a.status}</td><td>{_when(a.fired_at)}</td><td>{_when(a.resolved_at)}</td></tr>"
        for a in alerts
    )
    return f"<table><tr><th>alert</th><th>rule</th><th>condition</th><th>value</th><th>status</th><th>fired</th><th>resolved</th></tr>{rows}</table>"


def render_report(monitor: Monitor, evaluations: Sequence[Evaluation], alerts: Sequence[Alert]) -> str:
    latest = evaluations[-1] if evaluations else None
    marks = charts.alert_marks(alerts)
    drift = charts.drift_over_time(evaluations)
    drift["layout"]["shapes"] = marks
    performance = charts.performance_over_time(evaluations)
    performance["layout"]["shapes"] = marks
    parts = [
        f"<h1>Monitor {html.escape(monitor.name)}</h1>",
        f"<p>Watches {html.escape(monitor.subject)}; window {monitor.spec.window.label()}; reference "
        f"{html.escape(monitor.reference_source)} ({monitor.reference_rows} rows); {len(evaluations)} evaluations"
        + (f", latest {_when(latest.window_end)} ({latest.rows} rows, {latest.status})" if latest else "")
        + ".</p>",
        "<h2>Alerts</h2>",
        _alerts_table(alerts),
    ]
    if latest is not None:
        figures = charts.distributions(latest)
        parts.append("<h2>Distributions: reference against the latest window</h2>")
        parts.append(
            '<div class="grid">' + "".join(_figure(f"dist{i}", f) for i, f in enumerate(figures)) + "</div>"
        )
    parts += [
        "<h2>Drift over time</h2>",
        _figure("drift", drift),
        "<h2>Performance</h2>",
        "<p class=estimated>Dashed lines are estimated from the model's calibrated confidence (CBPE) before labels arrive.</p>",
        _figure("performance", performance),
        "<h2>Operations</h2>",
        _figure("operations", charts.operations_over_time(evaluations)),
    ]
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>Shipyard monitor {html.escape(monitor.name)}</title><style>{STYLE}</style>"
        f"<script>{_plotly_js()}</script></head><body>{''.join(parts)}</body></html>"
    )

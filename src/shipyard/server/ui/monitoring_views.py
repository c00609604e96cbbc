"""The monitors page (what each watches, its latest figures and firing alerts) and one monitor's
page: rules, alerts, the latest window's distributions against the reference, drift over time and
performance measured and estimated, drawn with plotly.js from :mod:`shipyard.monitoring.charts`.
Both declare the API's gate, ``authorize("monitoring.read")``."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.monitoring import charts
from shipyard.server.deps import Shipyard, authorize
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import UI_PREFIX, UIRoute

router = APIRouter(prefix=f"{UI_PREFIX}/monitors", route_class=UIRoute, include_in_schema=False)
READ = [Depends(authorize("monitoring.read"))]


def _spec(figure: charts.Figure) -> str:
    return json.dumps(figure).replace("</", "<\\/")


@router.get("", dependencies=READ)
def monitors(request: Request, app: Shipyard) -> HTMLResponse:
    rows = []
    firing = app.alerts.list_alerts(status="firing", limit=1000)
    for m in app.monitoring.list_monitors():
        latest = app.monitoring.evaluations(m.name, limit=1)
        rows.append(
            {
                "monitor": m,
                "latest": latest[-1] if latest else None,
                "firing": sum(1 for a in firing if a.monitor == m.name),
            }
        )
    return render(request, "monitors.html", {"rows": rows})


@router.get("/{name}", dependencies=READ)
def monitor(request: Request, name: str, app: Shipyard) -> HTMLResponse:
    found = app.monitoring.get(name)
    evaluations = app.monitoring.evaluations(name, limit=500)
    alerts = app.alerts.list_alerts(monitor=name, limit=100)
    marks = charts.alert_marks(alerts)
    drift = charts.drift_over_time(evaluations)
    drift["layout"]["shapes"] = marks
    performance = charts.performance_over_time(evaluations)
    performance["layout"]["shapes"] = marks
    latest = evaluations[-1] if evaluations else None
    context = {
        "monitor": found,
        "latest": latest,
        "rules": app.alerts.list_rules(name),
        "alerts": alerts,
        "distributions": [_spec(f) for f in charts.distributions(latest)] if latest else [],
        "drift": _spec(drift),
        "performance": _spec(performance),
        "operations": _spec(charts.operations_over_time(evaluations)),
        "evaluations": list(reversed(evaluations[-20:])),
    }
    return render(request, "monitor.html", context)

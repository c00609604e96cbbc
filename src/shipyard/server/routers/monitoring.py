"""Monitoring routes: monitors (``/api/v1/monitors``), their evaluations, figure history and alert
rules; alerts (``/api/v1/alerts``); notification channels (``/api/v1/channels``); late labels
(``/api/v1/labels/{deployment}``).

Reads need ``monitoring.read``; creating, changing and evaluating monitors, rules and channels and
acknowledging alerts need ``monitoring.write``; sending labels needs ``monitoring.labels``. A monitor
names a deployment or a model version: creating it also needs ``deployments.read`` and
``models.read`` on that model, and reading or changing it needs ``models.read`` on its model, so a
user scoped away from a model learns nothing about its monitors. Error statuses are documented
for every route by :mod:`shipyard.server.openapi`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from shipyard.accounts.model import Principal
from shipyard.errors import NotFound
from shipyard.monitoring.model import Monitor
from shipyard.server import monitor_schemas as s
from shipyard.server.deps import Shipyard, authorize, ensure_allowed

router = APIRouter(tags=["monitoring"])

Reader = Annotated[Principal, Depends(authorize("monitoring.read"))]
Writer = Annotated[Principal, Depends(authorize("monitoring.write"))]
Labeller = Annotated[Principal, Depends(authorize("monitoring.labels"))]


def _model_of(app: Shipyard, deployment: str | None, model: str | None) -> str:
    if deployment is not None:
        return app.deployments.get(deployment).model
    assert model is not None
    return model


def _monitor(app: Shipyard, principal: Principal, name: str, action: str = "models.read") -> Monitor:
    """The monitor, if the caller may read its model (otherwise answered as not found)."""
    monitor = app.monitoring.get(name)
    model = monitor.spec.model or _model_of(app, monitor.spec.deployment, None)
    if not app.accounts.allowed(principal.user.name, action, model=model):
        raise NotFound(f"no monitor {name!r}")
    return monitor


@router.get("/api/v1/monitors")
def list_monitors(
    principal: Reader, app: Shipyard, deployment: Annotated[str | None, Query(max_length=250)] = None
) -> s.MonitorsOut:
    shown = []
    for m in app.monitoring.list_monitors(deployment=deployment):
        model = m.spec.model or _model_or_none(app, m.spec.deployment)
        if model is None or app.accounts.allowed(principal.user.name, "models.read", model=model):
            shown.append(s.MonitorOut.of(m))
    return s.MonitorsOut(monitors=shown)


def _model_or_none(app: Shipyard, deployment: str | None) -> str | None:
    try:
        return _model_of(app, deployment, None)
    except NotFound:  # the deployment is gone: the monitor stays listed
        return None


@router.post("/api/v1/monitors", status_code=201)
def create_monitor(body: s.MonitorIn, principal: Writer, app: Shipyard) -> s.MonitorOut:
    """Create a monitor; its reference is prepared now (by default the version's training data)."""
    spec = body.to_spec()
    model = _model_of(app, spec.deployment, spec.model)
    if spec.deployment is not None:
        ensure_allowed(app, principal, "deployments.read", model=model)
    ensure_allowed(app, principal, "models.read", model=model)
    ensure_allowed(app, principal, "monitoring.write", model=model)
    return s.MonitorOut.of(app.monitoring.create(spec, actor=principal.user.name))


@router.get("/api/v1/monitors/{name}")
def get_monitor(name: str, principal: Reader, app: Shipyard) -> s.MonitorOut:
    return s.MonitorOut.of(_monitor(app, principal, name))


@router.delete("/api/v1/monitors/{name}", status_code=204)
def delete_monitor(name: str, principal: Writer, app: Shipyard) -> Response:
    _monitor(app, principal, name)
    app.monitoring.delete(name, actor=principal.user.name)
    return Response(status_code=204)


@router.post("/api/v1/monitors/{name}/enable")
def enable_monitor(name: str, principal: Writer, app: Shipyard) -> s.MonitorOut:
    """Resume a monitor's schedule."""
    _monitor(app, principal, name)
    return s.MonitorOut.of(app.monitoring.set_enabled(name, True, actor=principal.user.name))


@router.post("/api/v1/monitors/{name}/disable")
def disable_monitor(name: str, principal: Writer, app: Shipyard) -> s.MonitorOut:
    """Stop a monitor's schedule (its history stays)."""
    _monitor(app, principal, name)
    return s.MonitorOut.of(app.monitoring.set_enabled(name, False, actor=principal.user.name))


@router.post("/api/v1/monitors/{name}/evaluate")
def evaluate(name: str, body: s.EvaluateIn, principal: Writer, app: Shipyard) -> s.EvaluationOut:
    """Evaluate the window ending at ``at`` (default now) of a deployment's monitor."""
    _monitor(app, principal, name)
    return s.EvaluationOut.of(app.monitoring.evaluate(name, at=body.at), details=True)


@router.get("/api/v1/monitors/{name}/evaluations")
def evaluations(
    name: str,
    principal: Reader,
    app: Shipyard,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    since: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    details: bool = False,
) -> s.EvaluationsOut:
    """The monitor's evaluations, oldest first (the latest ``limit``)."""
    _monitor(app, principal, name)
    found = app.monitoring.evaluations(name, limit=limit, since=since)
    return s.EvaluationsOut(evaluations=[s.EvaluationOut.of(e, details=details) for e in found])


@router.get("/api/v1/monitors/{name}/history")
def history(
    name: str,
    principal: Reader,
    app: Shipyard,
    figure: Annotated[str, Query(min_length=1, max_length=250)],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> s.HistoryOut:
    """One figure over the monitor's evaluations (``drift.share``, ``performance.roc_auc`` …)."""
    _monitor(app, principal, name)
    points = app.monitoring.history(name, figure, limit=limit)
    return s.HistoryOut(monitor=name, figure=figure, points=[s.PointOut(at=t, value=v) for t, v in points])


@router.get("/api/v1/monitors/{name}/rules")
def list_rules(name: str, principal: Reader, app: Shipyard) -> s.RulesOut:
    _monitor(app, principal, name)
    return s.RulesOut(rules=[s.RuleOut.of(r) for r in app.alerts.list_rules(name)])


@router.post("/api/v1/monitors/{name}/rules", status_code=201)
def create_rule(name: str, body: s.RuleIn, principal: Writer, app: Shipyard) -> s.RuleOut:
    _monitor(app, principal, name)
    rule = app.alerts.create_rule(
        name, body.name, body.figure, body.op, body.threshold, severity=body.severity,
        cooldown_s=body.cooldown_s, for_evaluations=body.for_evaluations, channels=body.channels,
        actor=principal.user.name,
    )  # fmt: skip
    return s.RuleOut.of(rule)


@router.delete("/api/v1/monitors/{name}/rules/{rule}", status_code=204)
def delete_rule(name: str, rule: str, principal: Writer, app: Shipyard) -> Response:
    _monitor(app, principal, name)
    app.alerts.delete_rule(name, rule, actor=principal.user.name)
    return Response(status_code=204)


@router.get("/api/v1/alerts")
def list_alerts(
    principal: Reader,
    app: Shipyard,
    monitor: Annotated[str | None, Query(max_length=100)] = None,
    status: Literal["firing", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> s.AlertsOut:
    """Alerts, newest first."""
    if monitor is not None:
        _monitor(app, principal, monitor)
    found = app.alerts.list_alerts(monitor=monitor, status=status, limit=limit)
    readable = {m: _readable(app, principal, m) for m in {a.monitor for a in found}}
    return s.AlertsOut(alerts=[s.AlertOut.of(a) for a in found if readable[a.monitor]])


def _readable(app: Shipyard, principal: Principal, monitor: str) -> bool:
    try:
        _monitor(app, principal, monitor)
    except NotFound:
        return False
    return True


@router.get("/api/v1/alerts/{alert_id}")
def get_alert(alert_id: str, principal: Reader, app: Shipyard) -> s.AlertOut:
    alert = app.alerts.get_alert(alert_id)
    if not _readable(app, principal, alert.monitor):
        raise NotFound(f"no alert {alert_id!r}")
    return s.AlertOut.of(alert)


@router.get("/api/v1/alerts/{alert_id}/explain")
def explain(alert_id: str, principal: Reader, app: Shipyard) -> s.ThreadOut:
    """The closed loop's thread: alert → event → trigger firing → pipeline run → version → gate
    reports → deployment decisions."""
    alert = app.alerts.get_alert(alert_id)
    if not _readable(app, principal, alert.monitor):
        raise NotFound(f"no alert {alert_id!r}")
    steps = app.monitoring_api.explain(alert_id)
    return s.ThreadOut(
        alert=alert_id,
        steps=[s.ThreadStepOut(kind=t.kind, id=t.id, at=t.at, summary=t.summary) for t in steps],
    )


@router.post("/api/v1/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: str, principal: Writer, app: Shipyard) -> s.AlertOut:
    alert = app.alerts.get_alert(alert_id)
    if not _readable(app, principal, alert.monitor):
        raise NotFound(f"no alert {alert_id!r}")
    return s.AlertOut.of(app.alerts.acknowledge(alert_id, actor=principal.user.name))


@router.get("/api/v1/channels")
def list_channels(_: Reader, app: Shipyard) -> s.ChannelsOut:
    """Notification channels (secrets shown as ``***``)."""
    return s.ChannelsOut(channels=[s.ChannelOut.of(c) for c in app.alerts.list_channels()])


@router.post("/api/v1/channels", status_code=201)
def create_channel(body: s.ChannelIn, principal: Writer, app: Shipyard) -> s.ChannelOut:
    """A webhook (Slack-compatible), an SMTP mailbox or the log, for rules to notify."""
    return s.ChannelOut.of(
        app.alerts.create_channel(body.name, body.kind, body.settings, actor=principal.user.name)
    )


@router.delete("/api/v1/channels/{name}", status_code=204)
def delete_channel(name: str, principal: Writer, app: Shipyard) -> Response:
    app.alerts.delete_channel(name, actor=principal.user.name)
    return Response(status_code=204)


@router.post("/api/v1/labels/{deployment}")
def log_labels(deployment: str, body: s.LabelsIn, principal: Labeller, app: Shipyard) -> s.LabelReportOut:
    """Late labels for a deployment's predictions, by request id (and row): every label is kept,
    duplicates, unknown ids and out-of-order labels are counted."""
    ensure_allowed(app, principal, "monitoring.labels", model=_model_of(app, deployment, None))
    items = [label.model_dump() for label in body.labels]
    return s.LabelReportOut.of(app.monitoring.log_labels(deployment, items))

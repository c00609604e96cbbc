"""The monitoring API both clients implement: :class:`Monitoring` in process (the services), and
:class:`shipyard.client.remote_monitoring.RemoteMonitoring` over HTTP. ``actor`` is who acts in
process; over HTTP the server acts as the token's user."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

from shipyard.monitoring.alerts import AlertService
from shipyard.monitoring.model import (
    Alert,
    AlertStatus,
    Channel,
    Evaluation,
    LabelReport,
    Monitor,
    MonitorSpec,
    Rule,
    ThreadStep,
)
from shipyard.monitoring.service import MonitorService


class MonitoringAPI(Protocol):
    def create_monitor(self, spec: MonitorSpec, *, actor: str) -> Monitor: ...

    def get_monitor(self, name: str) -> Monitor: ...

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]: ...

    def set_enabled(self, name: str, enabled: bool, *, actor: str) -> Monitor: ...

    def delete_monitor(self, name: str, *, actor: str) -> None: ...

    def evaluate(self, name: str, *, at: int | None = None, data: pa.Table | None = None) -> Evaluation: ...

    def evaluations(self, name: str, *, limit: int = 100, since: int | None = None) -> list[Evaluation]: ...

    def history(self, name: str, figure: str, *, limit: int = 1000) -> list[tuple[int, float]]: ...

    def log_labels(self, deployment: str, labels: Sequence[Mapping[str, object]]) -> LabelReport: ...

    def create_rule(
        self,
        monitor: str,
        name: str,
        figure: str,
        op: str,
        threshold: float,
        *,
        severity: str = "warning",
        cooldown_s: int = 3600,
        for_evaluations: int = 1,
        channels: Sequence[str] = (),
        actor: str,
    ) -> Rule: ...

    def list_rules(self, monitor: str) -> list[Rule]: ...

    def delete_rule(self, monitor: str, name: str, *, actor: str) -> None: ...

    def list_alerts(
        self, *, monitor: str | None = None, status: AlertStatus | None = None, limit: int = 100
    ) -> list[Alert]: ...

    def get_alert(self, alert_id: str) -> Alert: ...

    def acknowledge(self, alert_id: str, *, actor: str) -> Alert: ...

    def create_channel(self, name: str, kind: str, settings: Mapping[str, Any], *, actor: str) -> Channel: ...

    def list_channels(self) -> list[Channel]: ...

    def delete_channel(self, name: str, *, actor: str) -> None: ...

    def explain(self, alert_id: str) -> list[ThreadStep]: ...


class Monitoring(MonitoringAPI):
    """The in-process API over the two services; ``explain`` is composed above the domains (the
    thread crosses pipelines, the registry and serving), so it is handed in."""

    def __init__(
        self, monitors: MonitorService, alerts: AlertService, explain: Callable[[str], list[ThreadStep]]
    ) -> None:
        self.monitors = monitors
        self.alerts = alerts
        self._explain = explain

    def create_monitor(self, spec: MonitorSpec, *, actor: str) -> Monitor:
        return self.monitors.create(spec, actor=actor)

    def get_monitor(self, name: str) -> Monitor:
        return self.monitors.get(name)

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]:
        return self.monitors.list_monitors(deployment=deployment)

    def set_enabled(self, name: str, enabled: bool, *, actor: str) -> Monitor:
        return self.monitors.set_enabled(name, enabled, actor=actor)

    def delete_monitor(self, name: str, *, actor: str) -> None:
        self.monitors.delete(name, actor=actor)

    def evaluate(self, name: str, *, at: int | None = None, data: pa.Table | None = None) -> Evaluation:
        return self.monitors.evaluate(name, at=at, data=data)

    def evaluations(self, name: str, *, limit: int = 100, since: int | None = None) -> list[Evaluation]:
        return self.monitors.evaluations(name, limit=limit, since=since)

    def history(self, name: str, figure: str, *, limit: int = 1000) -> list[tuple[int, float]]:
        return self.monitors.history(name, figure, limit=limit)

    def log_labels(self, deployment: str, labels: Sequence[Mapping[str, object]]) -> LabelReport:
        return self.monitors.log_labels(deployment, labels)

    def create_rule(
        self,
        monitor: str,
        name: str,
        figure: str,
        op: str,
        threshold: float,
        *,
        severity: str = "warning",
        cooldown_s: int = 3600,
        for_evaluations: int = 1,
        channels: Sequence[str] = (),
        actor: str,
    ) -> Rule:
        return self.alerts.create_rule(
            monitor, name, figure, op, threshold, severity=severity, cooldown_s=cooldown_s,
            for_evaluations=for_evaluations, channels=channels, actor=actor,
        )  # fmt: skip

    def list_rules(self, monitor: str) -> list[Rule]:
        return self.alerts.list_rules(monitor)

    def delete_rule(self, monitor: str, name: str, *, actor: str) -> None:
        self.alerts.delete_rule(monitor, name, actor=actor)

    def list_alerts(
        self, *, monitor: str | None = None, status: AlertStatus | None = None, limit: int = 100
    ) -> list[Alert]:
        return self.alerts.list_alerts(monitor=monitor, status=status, limit=limit)

    def get_alert(self, alert_id: str) -> Alert:
        return self.alerts.get_alert(alert_id)

    def acknowledge(self, alert_id: str, *, actor: str) -> Alert:
        return self.alerts.acknowledge(alert_id, actor=actor)

    def create_channel(self, name: str, kind: str, settings: Mapping[str, Any], *, actor: str) -> Channel:
        return self.alerts.create_channel(name, kind, settings, actor=actor)

    def list_channels(self) -> list[Channel]:
        return self.alerts.list_channels()

    def delete_channel(self, name: str, *, actor: str) -> None:
        self.alerts.delete_channel(name, actor=actor)

    def explain(self, alert_id: str) -> list[ThreadStep]:
        self.alerts.get_alert(alert_id)  # NotFound first
        return self._explain(alert_id)

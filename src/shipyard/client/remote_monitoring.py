"""Monitoring over HTTP: :class:`RemoteMonitoring` talks to a Shipyard server's monitoring routes
and implements :class:`~shipyard.monitoring.api.MonitoringAPI` with the results and exceptions of
the in-process services. ``actor`` is ignored: the server acts as the token's user. Evaluating a
monitor on a model version needs the data in process (``data=``), so it is embedded-only."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from shipyard.client.http import RemoteClient, segment
from shipyard.errors import InvalidInput
from shipyard.monitoring.api import MonitoringAPI
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
    Window,
)

Json = dict[str, Any]


def _m(name: str) -> str:
    return f"/monitors/{segment(name)}"


def _monitor(d: Mapping[str, Any]) -> Monitor:
    spec = MonitorSpec(
        name=d["name"], deployment=d["deployment"], model=d["model"], version=d["version"],
        reference=d["reference"], target=d["target"], features=tuple(d["columns"]), task=d["task"],
        window=Window.parse(d["window"]),
        schedule=d["schedule"], checks=tuple(d["checks"]),
    )  # fmt: skip
    return Monitor(
        id=d["name"], spec=spec, reference_digest="", reference_rows=d["reference_rows"],
        reference_source=d["reference"], columns=tuple(d["columns"]),
        estimator_digest="remote" if d["estimates_performance"] else None, enabled=d["enabled"],
        next_due_at=d["next_due_at"], last_evaluated_at=d["last_evaluated_at"], created_by=d["created_by"],
        created_at=d["created_at"], updated_at=d["created_at"],
    )  # fmt: skip


def _evaluation(d: Mapping[str, Any]) -> Evaluation:
    return Evaluation(
        id=d["id"], monitor=d["monitor"], model=d["model"], version=d["version"], window_start=d["window_start"],
        window_end=d["window_end"], rows=d["rows"], figures=dict(d["figures"]), details=dict(d.get("details") or {}),
        status=d["status"], error=d["error"], duration_ms=d["duration_ms"], created_at=d["window_end"],
    )  # fmt: skip


def _rule(d: Mapping[str, Any]) -> Rule:
    return Rule(
        id=d["name"], **{k: v for k, v in d.items() if k != "channels"}, channels=tuple(d["channels"])
    )


def _alert(d: Mapping[str, Any]) -> Alert:
    fields = {f.name for f in dataclasses.fields(Alert)}
    value = d["value"] if d["value"] is not None else float("nan")
    return Alert(**{k: v for k, v in d.items() if k in fields and k != "value"}, value=value)


def _channel(d: Mapping[str, Any]) -> Channel:
    return Channel(d["name"], d["kind"], dict(d["settings"]), d["created_by"], d["created_at"])


class RemoteMonitoring(RemoteClient, MonitoringAPI):
    def create_monitor(self, spec: MonitorSpec, *, actor: str) -> Monitor:
        body: Json = {
            "name": spec.name, "deployment": spec.deployment, "model": spec.model, "version": spec.version,
            "reference": spec.reference, "target": spec.target,
            "features": None if spec.features is None else list(spec.features), "task": spec.task,
            "positive": spec.positive, "window": spec.window.label().replace(" ", ""), "schedule": spec.schedule,
            "checks": list(spec.checks), "drift": dataclasses.asdict(spec.drift),
        }  # fmt: skip
        return _monitor(self.connection.json("POST", "/monitors", json=body))

    def get_monitor(self, name: str) -> Monitor:
        return _monitor(self.connection.json("GET", _m(name)))

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]:
        params = {} if deployment is None else {"deployment": deployment}
        return [_monitor(m) for m in self.connection.json("GET", "/monitors", params=params)["monitors"]]

    def set_enabled(self, name: str, enabled: bool, *, actor: str) -> Monitor:
        return _monitor(
            self.connection.json("POST", f"{_m(name)}/{'enable' if enabled else 'disable'}", json={})
        )

    def delete_monitor(self, name: str, *, actor: str) -> None:
        self.connection.send("DELETE", _m(name))

    def evaluate(self, name: str, *, at: int | None = None, data: pa.Table | None = None) -> Evaluation:
        if data is not None:
            raise InvalidInput(
                "evaluating a monitor on data you pass runs in process: unset SHIPYARD_URL, or score "
                "through a deployment so the server's inference log has the window",
                field="data",
            )
        return _evaluation(self.connection.json("POST", f"{_m(name)}/evaluate", json={"at": at}))

    def evaluations(self, name: str, *, limit: int = 100, since: int | None = None) -> list[Evaluation]:
        params: Json = {"limit": min(limit, 1000), "details": True}
        if since is not None:
            params["since"] = since
        found = self.connection.json("GET", f"{_m(name)}/evaluations", params=params)
        return [_evaluation(e) for e in found["evaluations"]]

    def history(self, name: str, figure: str, *, limit: int = 1000) -> list[tuple[int, float]]:
        found = self.connection.json("GET", f"{_m(name)}/history", params={"figure": figure, "limit": limit})
        return [(p["at"], p["value"]) for p in found["points"]]

    def log_labels(self, deployment: str, labels: Sequence[Mapping[str, object]]) -> LabelReport:
        body = {"labels": [dict(label) for label in labels]}
        found = self.connection.json("POST", f"/labels/{segment(deployment)}", json=body)
        return LabelReport(**found)

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
        body: Json = {
            "name": name, "figure": figure, "op": op, "threshold": threshold, "severity": severity,
            "cooldown_s": cooldown_s, "for_evaluations": for_evaluations, "channels": list(channels),
        }  # fmt: skip
        return _rule(self.connection.json("POST", f"{_m(monitor)}/rules", json=body))

    def list_rules(self, monitor: str) -> list[Rule]:
        return [_rule(r) for r in self.connection.json("GET", f"{_m(monitor)}/rules")["rules"]]

    def delete_rule(self, monitor: str, name: str, *, actor: str) -> None:
        self.connection.send("DELETE", f"{_m(monitor)}/rules/{segment(name)}")

    def list_alerts(
        self, *, monitor: str | None = None, status: AlertStatus | None = None, limit: int = 100
    ) -> list[Alert]:
        params: Json = {"limit": min(limit, 1000)}
        if monitor is not None:
            params["monitor"] = monitor
        if status is not None:
            params["status"] = status
        return [_alert(a) for a in self.connection.json("GET", "/alerts", params=params)["alerts"]]

    def get_alert(self, alert_id: str) -> Alert:
        return _alert(self.connection.json("GET", f"/alerts/{segment(alert_id)}"))

    def acknowledge(self, alert_id: str, *, actor: str) -> Alert:
        return _alert(self.connection.json("POST", f"/alerts/{segment(alert_id)}/acknowledge", json={}))

    def create_channel(self, name: str, kind: str, settings: Mapping[str, Any], *, actor: str) -> Channel:
        body = {"name": name, "kind": kind, "settings": dict(settings)}
        return _channel(self.connection.json("POST", "/channels", json=body))

    def list_channels(self) -> list[Channel]:
        return [_channel(c) for c in self.connection.json("GET", "/channels")["channels"]]

    def delete_channel(self, name: str, *, actor: str) -> None:
        self.connection.send("DELETE", f"/channels/{segment(name)}")

    def explain(self, alert_id: str) -> list[ThreadStep]:
        found = self.connection.json("GET", f"/alerts/{segment(alert_id)}/explain")
        return [ThreadStep(s["kind"], s["id"], s["at"], s["summary"]) for s in found["steps"]]

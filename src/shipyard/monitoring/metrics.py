"""Monitor figures for Prometheus, so teams that already run Prometheus and Grafana see monitors
next to the prediction servers' own metrics (``deploy/grafana/shipyard.json`` and
``deploy/prometheus/shipyard-alerts.yml`` read these names).

The metrics live in a registry of their own unless one is given (several services may share a
process in tests); expose ``registry`` on ``/metrics``.
"""

from __future__ import annotations

import math
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

EVALUATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class MonitorMetrics:
    """What monitors measured, how evaluating them went, which alerts fire and how notifications
    fared."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.figures = Gauge(
            "shipyard_monitor_figure",
            "the latest value of a monitored figure (drift.share, performance.roc_auc, ...)",
            ("monitor", "deployment", "figure"),
            registry=self.registry,
        )
        self.evaluations = Counter(
            "shipyard_monitor_evaluations",
            "monitor evaluations, by outcome (ok, error, skipped)",
            ("monitor", "outcome"),
            registry=self.registry,
        )
        self.evaluation_seconds = Histogram(
            "shipyard_monitor_evaluation_seconds",
            "time to evaluate a monitor",
            ("monitor",),
            buckets=EVALUATION_BUCKETS,
            registry=self.registry,
        )
        self.last_evaluation = Gauge(
            "shipyard_monitor_last_evaluation_timestamp_seconds",
            "when a monitor was last evaluated (Unix time), to alert on monitors that stopped running",
            ("monitor",),
            registry=self.registry,
        )
        self.firing = Gauge(
            "shipyard_alert_firing",
            "1 while an alert rule fires, 0 otherwise",
            ("monitor", "rule", "severity"),
            registry=self.registry,
        )
        self.fired = Counter(
            "shipyard_alerts_fired",
            "times an alert rule started firing",
            ("monitor", "rule", "severity"),
            registry=self.registry,
        )
        self.notifications = Counter(
            "shipyard_notifications",
            "notification attempts by notifier and outcome (sent, retried, failed)",
            ("notifier", "outcome"),
            registry=self.registry,
        )
        self._lock = threading.Lock()
        self._firing: dict[tuple[str, str, str], bool] = {}

    def figure(self, monitor: str, deployment: str, figure: str, value: float) -> None:
        """Record a figure's latest value; NaN (not computable in this window) is exported as NaN."""
        self.figures.labels(monitor, deployment, figure).set(value if math.isfinite(value) else math.nan)

    def evaluated(self, monitor: str, outcome: str, seconds: float) -> None:
        self.evaluations.labels(monitor, outcome).inc()
        self.evaluation_seconds.labels(monitor).observe(seconds)
        self.last_evaluation.labels(monitor).set(time.time())

    def alert(self, monitor: str, rule: str, severity: str, firing: bool) -> None:
        """Set whether a rule fires. Call it on every evaluation or only on changes: the counter
        counts only the changes from not firing to firing."""
        key = (monitor, rule, severity)
        with self._lock:
            was = self._firing.get(key, False)
            self._firing[key] = firing
        self.firing.labels(*key).set(1 if firing else 0)
        if firing and not was:
            self.fired.labels(*key).inc()

    def notification(self, notifier: str, outcome: str) -> None:
        self.notifications.labels(notifier, outcome).inc()


__all__ = ["EVALUATION_BUCKETS", "MonitorMetrics"]

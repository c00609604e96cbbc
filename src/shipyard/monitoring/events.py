"""Events monitoring publishes. Pipelines' event triggers subscribe to them by type; nothing here
imports another domain."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.core.events import Event


@dataclass(frozen=True)
class DriftDetected(Event):
    """A drift alert fired: the monitor's dataset (or prediction) drift crossed its rule."""

    TYPE = "drift.detected"
    monitor: str
    deployment: str
    model: str
    version: int
    alert_id: str
    figure: str
    value: float
    threshold: float


@dataclass(frozen=True)
class PerformanceDegraded(Event):
    """A performance alert fired: a measured or estimated metric crossed its rule."""

    TYPE = "performance.degraded"
    monitor: str
    deployment: str
    model: str
    version: int
    alert_id: str
    figure: str
    value: float
    threshold: float
    estimated: bool

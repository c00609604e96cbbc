"""Events the feature store publishes (leaf module: other domains may import it to subscribe)."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.core.events import Event


@dataclass(frozen=True)
class FeatureApplied(Event):
    """A definition (``kind`` entity, source, view, service …) got a new version by an apply."""

    TYPE = "feature.applied"
    kind: str
    name: str
    version: int
    previous: int | None


@dataclass(frozen=True)
class FeatureMaterialized(Event):
    """A view's window ``[start_ms, end_ms)`` was written to the online store."""

    TYPE = "feature.materialized"
    view: str
    version: int
    run_id: str
    start_ms: int
    end_ms: int
    keys_written: int

"""Events the model registry publishes (leaf module: other domains may import it to subscribe)."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.core.events import Event


@dataclass(frozen=True)
class VersionRegistered(Event):
    TYPE = "model.version_registered"
    model: str
    version: int
    run_id: str


@dataclass(frozen=True)
class StageChanged(Event):
    """Any lifecycle move of a version (promotion to production also publishes :class:`ModelPromoted`)."""

    TYPE = "model.stage_changed"
    model: str
    version: int
    from_stage: str
    to_stage: str


@dataclass(frozen=True)
class ModelPromoted(Event):
    """A version entered ``stage`` production; ``previous`` is the production version it replaced."""

    TYPE = "model.promoted"
    model: str
    version: int
    stage: str
    previous: int | None


@dataclass(frozen=True)
class ModelRolledBack(Event):
    """Production went back from ``from_version`` to ``to_version``."""

    TYPE = "model.rolled_back"
    model: str
    from_version: int
    to_version: int


@dataclass(frozen=True)
class AliasSet(Event):
    TYPE = "model.alias_set"
    model: str
    alias: str
    version: int
    previous: int | None


@dataclass(frozen=True)
class AliasRemoved(Event):
    TYPE = "model.alias_removed"
    model: str
    alias: str
    version: int


@dataclass(frozen=True)
class ApprovalRequested(Event):
    TYPE = "model.approval_requested"
    model: str
    version: int
    target_stage: str
    request_id: str


@dataclass(frozen=True)
class ApprovalGranted(Event):
    TYPE = "model.approval_granted"
    model: str
    version: int
    target_stage: str
    request_id: str


@dataclass(frozen=True)
class ApprovalRejected(Event):
    TYPE = "model.approval_rejected"
    model: str
    version: int
    target_stage: str
    request_id: str

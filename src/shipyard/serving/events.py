"""Events about deployments, for other domains to subscribe to (monitoring, pipelines). Leaf
module: primitives only, nothing but :mod:`shipyard.core` imported."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.core.events import Event


@dataclass(frozen=True)
class DeploymentChanged(Event):
    """A deployment was created, changed, paused, resumed, advanced or deleted."""

    TYPE = "deployment.changed"
    deployment: str
    revision: int
    change: str  # create | update | pause | resume | advance | delete
    strategy: str


@dataclass(frozen=True)
class DeploymentPromoted(Event):
    """A challenger (or shadow) became the primary, by hand or by the canary decider."""

    TYPE = "deployment.promoted"
    deployment: str
    revision: int
    model: str
    version: int
    previous: int | None
    automatic: bool


@dataclass(frozen=True)
class DeploymentRolledBack(Event):
    """A challenger was dropped, or a blue-green deployment switched back to its standby."""

    TYPE = "deployment.rolled_back"
    deployment: str
    revision: int
    model: str
    version: int  # the primary after the rollback
    reason: str
    automatic: bool

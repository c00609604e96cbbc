"""Events about deployments, for other domains to subscribe to (monitoring, pipelines). Leaf
module: primitives only, nothing but :mod:`shipyard.core` imported."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar


@dataclass(frozen=True)
class DeploymentChanged:
    """A deployment was created, changed, paused, resumed, advanced or deleted."""

    TYPE: ClassVar[str] = "deployment.changed"
    deployment: str
    revision: int
    change: str  # create | update | pause | resume | advance | delete
    strategy: str

    def payload(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class DeploymentPromoted:
    """A challenger (or shadow) became the primary, by hand or by the canary decider."""

    TYPE: ClassVar[str] = "deployment.promoted"
    deployment: str
    revision: int
    model: str
    version: int
    previous: int | None
    automatic: bool

    def payload(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class DeploymentRolledBack:
    """A challenger was dropped, or a blue-green deployment switched back to its standby."""

    TYPE: ClassVar[str] = "deployment.rolled_back"
    deployment: str
    revision: int
    model: str
    version: int  # the primary after the rollback
    reason: str
    automatic: bool

    def payload(self) -> dict[str, object]:
        return asdict(self)

"""The deployment use cases as a protocol.

:class:`~shipyard.serving.deployments.DeploymentService` implements it in process (embedded mode and
inside the server); :class:`shipyard.client.remote_deployments.RemoteDeployments` implements it over
HTTP. ``actor`` names who acts in process; over HTTP the server records the token's user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shipyard.serving.model import CanaryPolicy, Deployment, VersionWindow
from shipyard.serving.records import DecisionRecord
from shipyard.serving.strategies import TargetSpec


class DeploymentsAPI(Protocol):
    def revision(self) -> int: ...

    def get(self, name: str) -> Deployment: ...

    def list_deployments(self, *, model: str | None = None) -> list[Deployment]: ...

    def deploy(
        self,
        name: str,
        model: str | None = None,
        *,
        strategy: str = "single",
        challenger: str | None = None,
        shadow: str | None = None,
        weight: int | None = None,
        targets: Sequence[TargetSpec] | None = None,
        canary: CanaryPolicy | None = None,
        public: bool = False,
        feature_service: str | None = None,
        create: bool | None = None,
        actor: str,
    ) -> Deployment: ...

    def pause(self, name: str, *, actor: str) -> Deployment: ...

    def resume(self, name: str, *, actor: str) -> Deployment: ...

    def promote(self, name: str, *, actor: str, reason: str = ...) -> Deployment: ...

    def rollback(self, name: str, *, actor: str, reason: str = ...) -> Deployment: ...

    def delete(self, name: str, *, actor: str) -> None: ...

    def windows(self, name: str, *, since: int = 0, limit: int = 10_000) -> list[VersionWindow]: ...

    def decisions(self, name: str, *, limit: int = 100) -> list[DecisionRecord]: ...

    def decide(
        self, name: str | None = None, *, holder: str, actor: str = ..., keep_lease: bool = ...
    ) -> list[DecisionRecord]: ...

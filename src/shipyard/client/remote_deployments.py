"""Deployments over HTTP: :class:`RemoteDeployments` talks to a Shipyard server's
``/api/v1/deployments`` routes and implements :class:`~shipyard.serving.api.DeploymentsAPI` with
the results and exceptions of the in-process service. ``actor`` is ignored: the server acts as the
token's user and checks its roles (``deployments.write``, and ``models.read`` on the models named).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from shipyard.client.http import RemoteClient, segment
from shipyard.serving.api import DeploymentsAPI
from shipyard.serving.canary import Check
from shipyard.serving.model import CanaryPolicy, Deployment, Target, VersionWindow
from shipyard.serving.records import DecisionRecord, to_policy
from shipyard.serving.strategies import TargetSpec, deployment_name

Json = dict[str, Any]


def _d(name: str) -> str:
    return f"/deployments/{segment(deployment_name(name))}"


def _deployment(data: Mapping[str, Any]) -> Deployment:
    return Deployment(
        name=data["name"],
        model=data["model"],
        strategy=data["strategy"],
        targets=tuple(Target(**t) for t in data["targets"]),
        status=data["status"],
        public=data["public"],
        canary=to_policy(data["canary"]),
        feature_service=data["feature_service"],
        revision=data["revision"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        created_by=data["created_by"],
    )


def _decision(data: Mapping[str, Any]) -> DecisionRecord:
    return DecisionRecord(
        id=data["id"],
        deployment=data["deployment"],
        at=data["at"],
        action=data["action"],
        revision=data["revision"],
        weight=data["weight"],
        reason=data["reason"],
        checks=tuple(Check(**c) for c in data["checks"]),
        figures=data["figures"],
        actor=data["actor"],
    )


def _window(data: Mapping[str, Any]) -> VersionWindow:
    return VersionWindow(
        **{**data, "latency_buckets": {float(b): c for b, c in data["latency_buckets"].items()}}
    )


class RemoteDeployments(RemoteClient, DeploymentsAPI):
    def revision(self) -> int:
        return int(self.connection.json("GET", "/deployments/revision")["revision"])

    def get(self, name: str) -> Deployment:
        return _deployment(self.connection.json("GET", _d(name)))

    def list_deployments(self, *, model: str | None = None) -> list[Deployment]:
        params = {} if model is None else {"model": model}
        found = self.connection.json("GET", "/deployments", params=params)["deployments"]
        return [_deployment(d) for d in found]

    def active(self) -> list[Deployment]:
        return self.list_deployments()

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
    ) -> Deployment:
        body: Json = {
            "model": model,
            "strategy": strategy,
            "challenger": challenger,
            "shadow": shadow,
            "weight": weight,
            "targets": None if targets is None else [asdict(t) for t in targets],
            "canary": None if canary is None else {**asdict(canary), "steps": list(canary.steps)},
            "public": public,
            "feature_service": feature_service,
        }
        if create:
            return _deployment(self.connection.json("POST", "/deployments", json={**body, "name": name}))
        if create is False:
            self.get(name)  # NotFound unless it exists
        return _deployment(self.connection.json("PUT", _d(name), json=body))

    def pause(self, name: str, *, actor: str) -> Deployment:
        return _deployment(self.connection.json("POST", f"{_d(name)}/pause", json={}))

    def resume(self, name: str, *, actor: str) -> Deployment:
        return _deployment(self.connection.json("POST", f"{_d(name)}/resume", json={}))

    def promote(self, name: str, *, actor: str, reason: str = "") -> Deployment:
        return _deployment(self.connection.json("POST", f"{_d(name)}/promote", json={"reason": reason}))

    def rollback(self, name: str, *, actor: str, reason: str = "") -> Deployment:
        return _deployment(self.connection.json("POST", f"{_d(name)}/rollback", json={"reason": reason}))

    def delete(self, name: str, *, actor: str) -> None:
        self.connection.send("DELETE", _d(name))

    def windows(self, name: str, *, since: int = 0, limit: int = 10_000) -> list[VersionWindow]:
        params = {"since": since, "limit": min(limit, 10_000)}
        return [
            _window(w) for w in self.connection.json("GET", f"{_d(name)}/windows", params=params)["windows"]
        ]

    def decisions(self, name: str, *, limit: int = 100) -> list[DecisionRecord]:
        found = self.connection.json("GET", f"{_d(name)}/decisions", params={"limit": min(limit, 1000)})
        return [_decision(d) for d in found["decisions"]]

    def decide(
        self, name: str | None = None, *, holder: str = "", actor: str = "", keep_lease: bool = False
    ) -> list[DecisionRecord]:
        """One decider round on the server (it takes and gives back the lease under its own name)."""
        found = self.connection.json("POST", "/deployments/decide", json={"name": name})
        return [_decision(d) for d in found["decisions"]]

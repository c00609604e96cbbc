"""The registry use cases as a protocol.

:class:`~shipyard.registry.service.RegistryService` implements it in process (embedded mode and
inside the server); :class:`shipyard.client.remote_registry.RemoteRegistry` implements it over
HTTP. One contract suite (``tests/contract/test_registry_contract.py``) runs against both.

``actor`` names who acts in process; over HTTP it is ignored, since the server records the user
the token belongs to (and checks that user's roles).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd

from shipyard.packaging.package import LoadedModel
from shipyard.registry.entities import (
    Approval,
    GatePolicy,
    GateReport,
    ModelVersion,
    RegisteredModel,
    Stage,
    Transition,
    VersionComparison,
)
from shipyard.registry.refs import ModelRef


class RegistryAPI(Protocol):
    # models
    def create_model(
        self, name: str, description: str = "", allow_multiple_production: bool = False, *, actor: str
    ) -> RegisteredModel: ...

    def get_model(self, name: str) -> RegisteredModel: ...

    def list_models(self) -> list[RegisteredModel]: ...

    def update_model(self, name: str, *, description: str | None = None, actor: str) -> RegisteredModel: ...

    # versions
    def create_version(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model",
        *,
        description: str = "",
        limitations: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str,
    ) -> ModelVersion: ...

    def get_version(self, name: str, version: int) -> ModelVersion: ...

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version ``churn/3``, ``churn@champion`` or ``churn@production`` names."""
        ...

    def list_versions(self, name: str, stage: Stage | str | None = None) -> list[ModelVersion]: ...

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        limitations: str | None = None,
        actor: str,
    ) -> ModelVersion: ...

    # aliases and tags
    def set_alias(self, name: str, alias: str, version: int, *, actor: str) -> ModelVersion: ...

    def delete_alias(self, name: str, alias: str, *, actor: str) -> None: ...

    def set_tags(
        self, name: str, tags: Mapping[str, str], *, version: int | None = None, actor: str
    ) -> None: ...

    def delete_tag(self, name: str, key: str, *, version: int | None = None, actor: str) -> None: ...

    # lifecycle
    def transition(
        self, name: str, version: int, stage: Stage | str, *, actor: str, comment: str = ""
    ) -> ModelVersion: ...

    def rollback(self, name: str, *, actor: str, comment: str = "") -> ModelVersion: ...

    def history(self, name: str, version: int | None = None) -> list[Transition]: ...

    # gate policies and evaluations
    def set_policy(
        self, name: str, policy: GatePolicy | Mapping[str, Any] | None, *, actor: str
    ) -> GatePolicy | None: ...

    def get_policy(self, name: str) -> GatePolicy | None: ...

    def evaluate_gates(
        self,
        name: str,
        version: int,
        target_stage: Stage | str,
        eval_df: pd.DataFrame,
        *,
        label: str,
        actor: str,
    ) -> GateReport: ...

    def gate_reports(self, name: str, version: int | None = None) -> list[GateReport]: ...

    # approvals
    def request_approval(
        self, name: str, version: int, target_stage: Stage | str, *, actor: str, comment: str = ""
    ) -> Approval: ...

    def decide_approval(
        self, request_id: str, approve: bool, *, actor: str, comment: str = "", model: str | None = None
    ) -> Approval: ...

    def list_approvals(self, name: str, version: int | None = None) -> list[Approval]: ...

    # comparison, cards, loading
    def compare(self, name: str, left: int, right: int) -> VersionComparison: ...

    def card(self, name: str, version: int) -> tuple[str, str]:
        """The version's model card as (Markdown, HTML)."""
        ...

    def load(self, ref: str | ModelRef) -> LoadedModel:
        """The model a reference names, its bytes verified against the recorded digest."""
        ...

"""The model registry over HTTP: :class:`RemoteRegistry` talks to a Shipyard server's
``/api/v1/models`` routes.

It implements :class:`~shipyard.registry.api.RegistryAPI` with the results and exceptions of the
in-process service (the HTTP plumbing, retries and error mapping are :mod:`shipyard.client.http`'s).
``actor`` is ignored: the server acts as the token's user and checks that user's roles, so a
contributor's promotion to production is PermissionDenied here as on the REST API. Evaluation
frames are uploaded as Parquet; ``load`` downloads the package by digest and verifies it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import pandas as pd

from shipyard.client.http import RemoteClient, ServerConnection, segment
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.packaging.package import LoadedModel, load_model
from shipyard.registry import lifecycle
from shipyard.registry.api import RegistryAPI
from shipyard.registry.entities import (
    Approval,
    ApprovalStatus,
    GatePolicy,
    GateReport,
    GateResult,
    ModelVersion,
    RegisteredModel,
    Stage,
    TrainingData,
    Transition,
    VersionComparison,
)
from shipyard.registry.refs import ModelRef, alias_name, model_name, parse_ref, version_number

Json = dict[str, Any]

#: The route that moves a version to each stage (``registered`` has none: nothing moves back).
_STAGE_ROUTES = {
    Stage.STAGING: "staging",
    Stage.PRODUCTION: "production",
    Stage.ARCHIVED: "archive",
    Stage.RETIRED: "retire",
}
PARQUET = "application/vnd.apache.parquet"


class RemoteRegistry(RemoteClient, RegistryAPI):
    """:class:`~shipyard.registry.api.RegistryAPI` over a :class:`~shipyard.client.http.ServerConnection`
    (``RemoteRegistry(url, token)`` opens its own; ``RemoteRegistry(connection)`` shares one)."""

    def __init__(
        self,
        url: str | ServerConnection,
        token: str | None = None,
        *,
        trust_pickle: bool = False,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, timeout=timeout, transport=transport)
        self.trust_pickle = trust_pickle

    # -- models -----------------------------------------------------------------------------------
    def create_model(
        self, name: str, description: str = "", allow_multiple_production: bool = False, *, actor: str
    ) -> RegisteredModel:
        body = {
            "name": model_name(name),
            "description": description,
            "allow_multiple_production": allow_multiple_production,
        }
        return _model(self.connection.json("POST", "/models", json=body))

    def get_model(self, name: str) -> RegisteredModel:
        return _model(self.connection.json("GET", _m(name)))

    def list_models(self) -> list[RegisteredModel]:
        return [_model(m) for m in self.connection.json("GET", "/models")["models"]]

    def update_model(self, name: str, *, description: str | None = None, actor: str) -> RegisteredModel:
        return _model(self.connection.json("PATCH", _m(name), json={"description": description}))

    # -- versions ---------------------------------------------------------------------------------
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
    ) -> ModelVersion:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput("run_id must be a run id", field="run_id")
        body = {
            "run_id": run_id,
            "artifact_path": artifact_path,
            "description": description,
            "limitations": limitations,
            "tags": dict(tags or {}),
        }
        return _version(self.connection.json("POST", f"{_m(name)}/versions", json=body))

    def get_version(self, name: str, version: int) -> ModelVersion:
        return _version(self.connection.json("GET", _v(name, version)))

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.version is not None:
            return self.get_version(parsed.name, parsed.version)
        alias = segment(parsed.alias or "")
        return _version(self.connection.json("GET", f"{_m(parsed.name)}/aliases/{alias}"))

    def list_versions(self, name: str, stage: Stage | str | None = None) -> list[ModelVersion]:
        params = {} if stage is None else {"stage": Stage.parse(stage).value}
        found = self.connection.json("GET", f"{_m(name)}/versions", params=params)["versions"]
        return [_version(v) for v in found]

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        limitations: str | None = None,
        actor: str,
    ) -> ModelVersion:
        body = {"description": description, "limitations": limitations}
        return _version(self.connection.json("PATCH", _v(name, version), json=body))

    # -- aliases and tags -------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, *, actor: str) -> ModelVersion:
        path = f"{_m(name)}/aliases/{segment(alias_name(alias))}"
        return _version(self.connection.json("PUT", path, json={"version": version_number(version)}))

    def delete_alias(self, name: str, alias: str, *, actor: str) -> None:
        self.connection.send("DELETE", f"{_m(name)}/aliases/{segment(alias_name(alias))}")

    def set_tags(self, name: str, tags: Mapping[str, str], *, version: int | None = None, actor: str) -> None:
        if not isinstance(tags, Mapping):
            raise InvalidInput("tags must be an object of string -> string", field="tags")
        self.connection.send("POST", f"{_m(name)}/tags", json={"tags": dict(tags), "version": version})

    def delete_tag(self, name: str, key: str, *, version: int | None = None, actor: str) -> None:
        params: dict[str, str | int] = {"key": key}
        if version is not None:
            params["version"] = version_number(version)
        self.connection.send("DELETE", f"{_m(name)}/tags", params=params)

    # -- lifecycle --------------------------------------------------------------------------------
    def transition(
        self, name: str, version: int, stage: Stage | str, *, actor: str, comment: str = ""
    ) -> ModelVersion:
        target = Stage.parse(stage)
        route = _STAGE_ROUTES.get(target)
        if route is None:  # no move leads back to registered: the service's Conflict, named alike
            current = self.get_version(name, version)
            lifecycle.check_legal(current.ref, current.stage, target)
            raise Conflict(f"{current.ref} cannot move to {target.value}", field="stage")
        return _version(
            self.connection.json("POST", f"{_v(name, version)}/{route}", json={"comment": comment})
        )

    def rollback(self, name: str, *, actor: str, comment: str = "") -> ModelVersion:
        return _version(self.connection.json("POST", f"{_m(name)}/rollback", json={"comment": comment}))

    def history(self, name: str, version: int | None = None) -> list[Transition]:
        params = {} if version is None else {"version": version_number(version)}
        found = self.connection.json("GET", f"{_m(name)}/history", params=params)["transitions"]
        return [_transition(model_name(name), t) for t in found]

    # -- gate policies and evaluations ------------------------------------------------------------
    def set_policy(
        self, name: str, policy: GatePolicy | Mapping[str, Any] | None, *, actor: str
    ) -> GatePolicy | None:
        if policy is None:
            self.connection.send("DELETE", f"{_m(name)}/policy")
            return None
        body = policy.to_dict() if isinstance(policy, GatePolicy) else dict(policy)
        return _policy(self.connection.json("PUT", f"{_m(name)}/policy", json=body)["policy"])

    def get_policy(self, name: str) -> GatePolicy | None:
        return _policy(self.connection.json("GET", f"{_m(name)}/policy")["policy"])

    def evaluate_gates(
        self,
        name: str,
        version: int,
        target_stage: Stage | str,
        eval_df: pd.DataFrame,
        *,
        label: str,
        actor: str,
    ) -> GateReport:
        target = Stage.parse(target_stage, field="target_stage")
        if not isinstance(eval_df, pd.DataFrame):
            raise InvalidInput("evaluation data must be a pandas DataFrame", field="data")
        buffer = io.BytesIO()
        try:
            eval_df.to_parquet(buffer, index=False)
        except (ValueError, TypeError) as exc:  # e.g. mixed-type object columns
            raise InvalidInput(f"evaluation data cannot be written as Parquet: {exc}", field="data") from None
        path = f"{_v(name, version)}/gates/parquet"
        params = {"label": label, "target_stage": target.value}
        headers = {"Content-Type": PARQUET}
        return _report(
            self.connection.json("POST", path, content=buffer.getvalue(), params=params, headers=headers)
        )

    def gate_reports(self, name: str, version: int | None = None) -> list[GateReport]:
        if version is None:
            return [r for v in self.list_versions(name) for r in self.gate_reports(name, v.version)]
        return [_report(r) for r in self.connection.json("GET", f"{_v(name, version)}/gates")["reports"]]

    # -- approvals --------------------------------------------------------------------------------
    def request_approval(
        self, name: str, version: int, target_stage: Stage | str, *, actor: str, comment: str = ""
    ) -> Approval:
        body = {"target_stage": Stage.parse(target_stage, field="target_stage").value, "comment": comment}
        return _approval(self.connection.json("POST", f"{_v(name, version)}/approvals", json=body))

    def decide_approval(
        self, request_id: str, approve: bool, *, actor: str, comment: str = "", model: str | None = None
    ) -> Approval:
        """As the service; without ``model``, the request is looked up among the models the token
        may read (one request per model), since the routes are scoped to a model."""
        if not isinstance(request_id, str) or not request_id:
            raise InvalidInput("request_id must be an approval request id", field="request_id")
        owner = model if model is not None else self._approval_owner(request_id)
        verb = "approve" if approve else "reject"
        path = f"{_m(owner)}/approvals/{segment(request_id)}/{verb}"
        return _approval(self.connection.json("POST", path, json={"comment": comment}))

    def _approval_owner(self, request_id: str) -> str:
        for m in self.list_models():
            if any(a.id == request_id for a in self.list_approvals(m.name)):
                return m.name
        raise NotFound(f"approval request {request_id!r} does not exist", field="request_id")

    def list_approvals(self, name: str, version: int | None = None) -> list[Approval]:
        params = {} if version is None else {"version": version_number(version)}
        found = self.connection.json("GET", f"{_m(name)}/approvals", params=params)["approvals"]
        return [_approval(a) for a in found]

    # -- comparison, cards, loading ---------------------------------------------------------------
    def compare(self, name: str, left: int, right: int) -> VersionComparison:
        params = {"left": version_number(left, field="left"), "right": version_number(right, field="right")}
        return _comparison(self.connection.json("GET", f"{_m(name)}/compare", params=params))

    def card(self, name: str, version: int) -> tuple[str, str]:
        path = f"{_v(name, version)}/card"
        markdown = self.connection.send("GET", path, params={"format": "md"}).text
        html = self.connection.send("GET", path, params={"format": "html"}).text
        return markdown, html

    def load(self, ref: str | ModelRef) -> LoadedModel:
        """Download the package by its recorded digest (verified while streaming, and again here
        on the bytes that are loaded) and load it; pickle payloads need ``trust_pickle``."""
        version = self.resolve(ref)
        digest = version.artifact_digest
        data = self.connection.read_verified(f"/blobs/{segment(digest)}", digest)
        return load_model(data, trust_pickle=self.trust_pickle)


# -- paths --------------------------------------------------------------------------------------


def _m(name: str) -> str:
    return f"/models/{segment(model_name(name))}"


def _v(name: str, version: int) -> str:
    return f"{_m(name)}/versions/{version_number(version)}"


# -- decoding the JSON of server/model_schemas.py -------------------------------------------------


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)  # the server sends non-finite values as null


def _maybe_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _model(d: Json) -> RegisteredModel:
    return RegisteredModel(
        name=d["name"],
        description=d["description"],
        allow_multiple_production=d["allow_multiple_production"],
        created_at=_time(d["created_at"]),
        updated_at=_time(d["updated_at"]),
        tags=dict(d["tags"]),
        aliases=dict(d["aliases"]),
        latest_version=d["latest_version"],
        production_versions=tuple(d["production_versions"]),
    )


def _version(d: Json) -> ModelVersion:
    t = d["training_data"]
    return ModelVersion(
        model=d["model"],
        version=d["version"],
        stage=Stage(d["stage"]),
        run_id=d["run_id"],
        artifact_path=d["artifact_path"],
        artifact_digest=d["artifact_digest"],
        flavor=d["flavor"],
        created_by=d["created_by"],
        created_at=_time(d["created_at"]),
        updated_at=_time(d["updated_at"]),
        description=d["description"],
        limitations=d["limitations"],
        signature=dict(d["signature"]),
        input_example=tuple(d["input_example"]),
        training_data=None
        if t is None
        else TrainingData(t["name"], t["digest"], t["location"], t["num_rows"]),
        feature_service=d["feature_service"],
        code_version=d["code_version"],
        metrics={k: _float(v) for k, v in d["metrics"].items()},
        params=dict(d["params"]),
        tags=dict(d["tags"]),
        aliases=tuple(d["aliases"]),
    )


def _transition(model: str, d: Json) -> Transition:
    return Transition(
        model=model,
        version=d["version"],
        from_stage=None if d["from_stage"] is None else Stage(d["from_stage"]),
        to_stage=Stage(d["to_stage"]),
        actor=d["actor"],
        comment=d["comment"],
        at=_time(d["at"]),
    )


def _approval(d: Json) -> Approval:
    return Approval(
        id=d["id"],
        model=d["model"],
        version=d["version"],
        target_stage=Stage(d["target_stage"]),
        requested_by=d["requested_by"],
        requested_at=_time(d["requested_at"]),
        status=ApprovalStatus(d["status"]),
        comment=d["comment"],
        decided_by=d["decided_by"],
        decided_at=None if d["decided_at"] is None else _time(d["decided_at"]),
        decision_comment=d["decision_comment"],
    )


def _report(d: Json) -> GateReport:
    results = tuple(
        GateResult(
            name=r["name"],
            passed=r["passed"],
            measured=_maybe_float(r["measured"]),
            threshold=_maybe_float(r["threshold"]),
            margin=_maybe_float(r["margin"]),
            detail=r["detail"],
        )
        for r in d["results"]
    )
    return GateReport(
        id=d["id"],
        model=d["model"],
        version=d["version"],
        target_stage=Stage(d["target_stage"]),
        results=results,
        actor=d["actor"],
        at=_time(d["at"]),
        dataset_digest=d["dataset_digest"],
    )


def _policy(d: Json | None) -> GatePolicy | None:
    return None if d is None else GatePolicy.from_dict(d)


def _comparison(d: Json) -> VersionComparison:
    return VersionComparison(
        left=_version(d["left"]),
        right=_version(d["right"]),
        metrics={k: (_maybe_float(a), _maybe_float(b)) for k, (a, b) in d["metrics"].items()},
        params={k: (a, b) for k, (a, b) in d["params"].items()},
        same_training_data=d["same_training_data"],
        features_added=tuple(d["features_added"]),
        features_removed=tuple(d["features_removed"]),
        features_retyped=tuple(d["features_retyped"]),
    )

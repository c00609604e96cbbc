"""Model registry routes under ``/api/v1/models``: models, versions, lifecycle, aliases, tags,
gate policies and evaluations, approvals, comparison and model cards.

Each route declares one action, scoped to the model in the path: reads ``models.read``; creating,
tagging, requesting approval, staging ``models.write``; production, rollback, aliases and gate
policies ``models.deploy``; deciding approvals ``models.approve``. Archiving or retiring a version
that is in production also needs ``models.deploy`` (checked in the handler, since it depends on the
version's stage). Handlers are thin: validate -> service -> schema.
"""

from __future__ import annotations

import io
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from shipyard.accounts.model import Principal
from shipyard.errors import InvalidInput, NotFound
from shipyard.registry.entities import Stage
from shipyard.registry.service import RegistryService
from shipyard.server import model_schemas as s
from shipyard.server.deps import Shipyard, authorize, ensure_allowed, ensure_run_readable
from shipyard.server.fields import VersionNumber, VersionParam, VersionQuery
from shipyard.server.guard import UPLOAD
from shipyard.tracking.tags import FEATURE_SERVICE as FEATURE_SERVICE_TAG

router = APIRouter(prefix="/api/v1/models", tags=["models"])


def get_registry(app: Shipyard) -> RegistryService:
    return app.registry


Registry = Annotated[RegistryService, Depends(get_registry)]
Reader = Annotated[Principal, Depends(authorize("models.read", model="name"))]
Writer = Annotated[Principal, Depends(authorize("models.write", model="name"))]
Deployer = Annotated[Principal, Depends(authorize("models.deploy", model="name"))]
Approver = Annotated[Principal, Depends(authorize("models.approve", model="name"))]
#: Archive and retire: models.write, or models.deploy for the production version (see ``_leave``).
Leaver = Annotated[Principal, Depends(authorize("models.write", model="name", alternative="models.deploy"))]
NewModelWriter = Annotated[Principal, Depends(authorize("models.write"))]


# -- models -------------------------------------------------------------------------------------


@router.get("", dependencies=[Depends(authorize("models.read"))])
def list_models(registry: Registry) -> s.ModelsOut:
    return s.ModelsOut(models=[s.ModelOut.of(m) for m in registry.list_models()])


@router.post("", status_code=201)
def create_model(body: s.ModelIn, principal: NewModelWriter, registry: Registry) -> s.ModelOut:
    model = registry.create_model(
        body.name, body.description, body.allow_multiple_production, actor=principal.user.name
    )
    return s.ModelOut.of(model)


@router.get("/{name}")
def get_model(name: str, _: Reader, registry: Registry) -> s.ModelOut:
    return s.ModelOut.of(registry.get_model(name))


@router.patch("/{name}")
def update_model(name: str, body: s.ModelPatch, principal: Writer, registry: Registry) -> s.ModelOut:
    return s.ModelOut.of(registry.update_model(name, description=body.description, actor=principal.user.name))


# -- versions -----------------------------------------------------------------------------------


@router.get("/{name}/versions")
def list_versions(name: str, _: Reader, registry: Registry, stage: str | None = None) -> s.VersionsOut:
    return s.VersionsOut(versions=[s.VersionOut.of(v) for v in registry.list_versions(name, stage)])


@router.post("/{name}/versions", status_code=201)
def create_version(name: str, body: s.VersionIn, principal: Writer, app: Shipyard) -> s.VersionOut:
    """Register a run's model. The caller must be able to read the run (``tracking.read`` on its
    experiment) and the feature service it names (``features.read``): one it cannot read is
    answered as one that does not exist."""
    ensure_run_readable(app, principal, body.run_id)
    service = app.tracking.get_run(body.run_id).tags.get(FEATURE_SERVICE_TAG)
    if service is not None and not app.accounts.allowed(principal.user.name, "features.read"):
        raise NotFound(f"feature service {service!r} does not exist", field="feature_service")
    version = app.registry.create_version(
        name,
        body.run_id,
        body.artifact_path,
        description=body.description,
        limitations=body.limitations,
        tags=body.tags,
        actor=principal.user.name,
    )
    return s.VersionOut.of(version)


@router.get("/{name}/versions/{version}")
def get_version(name: str, version: VersionNumber, _: Reader, registry: Registry) -> s.VersionOut:
    return s.VersionOut.of(registry.get_version(name, version))


@router.patch("/{name}/versions/{version}")
def update_version(
    name: str, version: VersionNumber, body: s.VersionPatch, principal: Writer, registry: Registry
) -> s.VersionOut:
    updated = registry.update_version(
        name, version, description=body.description, limitations=body.limitations, actor=principal.user.name
    )
    return s.VersionOut.of(updated)


@router.get("/{name}/aliases/{alias}")
def resolve_alias(name: str, alias: str, _: Reader, registry: Registry) -> s.VersionOut:
    """The version an alias (or ``staging``/``production``) names."""
    return s.VersionOut.of(registry.resolve(f"{name}@{alias}"))


# -- lifecycle ----------------------------------------------------------------------------------


def _move(
    registry: RegistryService,
    name: str,
    version: VersionNumber,
    stage: Stage,
    principal: Principal,
    comment: str,
) -> s.VersionOut:
    return s.VersionOut.of(
        registry.transition(name, version, stage, actor=principal.user.name, comment=comment)
    )


@router.post("/{name}/versions/{version}/staging")
def to_staging(
    name: str, version: VersionNumber, body: s.TransitionIn, principal: Writer, registry: Registry
) -> s.VersionOut:
    return _move(registry, name, version, Stage.STAGING, principal, body.comment)


@router.post("/{name}/versions/{version}/production")
def to_production(
    name: str, version: VersionNumber, body: s.TransitionIn, principal: Deployer, registry: Registry
) -> s.VersionOut:
    return _move(registry, name, version, Stage.PRODUCTION, principal, body.comment)


def _leave(
    app: Shipyard, name: str, version: VersionNumber, stage: Stage, principal: Principal, comment: str
) -> s.VersionOut:
    """Archive or retire: taking a version out of production is a deployment decision
    (``models.deploy``); any other version needs ``models.write``."""
    current = app.registry.get_version(name, version).stage
    needed = "models.deploy" if current is Stage.PRODUCTION else "models.write"
    ensure_allowed(app, principal, needed, model=name)
    # `expected`: a version promoted between this check and the move is not archived unchecked.
    moved = app.registry.transition(
        name, version, stage, actor=principal.user.name, comment=comment, expected=current
    )
    return s.VersionOut.of(moved)


@router.post("/{name}/versions/{version}/archive")
def archive(
    name: str, version: VersionNumber, body: s.TransitionIn, principal: Leaver, app: Shipyard
) -> s.VersionOut:
    return _leave(app, name, version, Stage.ARCHIVED, principal, body.comment)


@router.post("/{name}/versions/{version}/retire")
def retire(
    name: str, version: VersionNumber, body: s.TransitionIn, principal: Leaver, app: Shipyard
) -> s.VersionOut:
    return _leave(app, name, version, Stage.RETIRED, principal, body.comment)


@router.post("/{name}/rollback")
def rollback(name: str, body: s.TransitionIn, principal: Deployer, registry: Registry) -> s.VersionOut:
    return s.VersionOut.of(registry.rollback(name, actor=principal.user.name, comment=body.comment))


@router.get("/{name}/history")
def history(name: str, _: Reader, registry: Registry, version: VersionQuery = None) -> s.HistoryOut:
    return s.HistoryOut(transitions=[s.TransitionOut.of(t) for t in registry.history(name, version)])


# -- aliases and tags ---------------------------------------------------------------------------


@router.put("/{name}/aliases/{alias}")
def set_alias(
    name: str, alias: str, body: s.AliasIn, principal: Deployer, registry: Registry
) -> s.VersionOut:
    return s.VersionOut.of(registry.set_alias(name, alias, body.version, actor=principal.user.name))


@router.delete("/{name}/aliases/{alias}", status_code=204)
def delete_alias(name: str, alias: str, principal: Deployer, registry: Registry) -> Response:
    registry.delete_alias(name, alias, actor=principal.user.name)
    return Response(status_code=204)


@router.post("/{name}/tags", status_code=204)
def set_tags(name: str, body: s.ModelTagsIn, principal: Writer, registry: Registry) -> Response:
    registry.set_tags(name, body.tags, version=body.version, actor=principal.user.name)
    return Response(status_code=204)


@router.delete("/{name}/tags", status_code=204)
def delete_tag(
    name: str,
    key: Annotated[str, Query(min_length=1)],
    principal: Writer,
    registry: Registry,
    version: VersionQuery = None,
) -> Response:
    registry.delete_tag(name, key, version=version, actor=principal.user.name)
    return Response(status_code=204)


# -- gates ----------------------------------------------------------------------------------------


@router.get("/{name}/policy")
def get_policy(name: str, _: Reader, registry: Registry) -> s.PolicyOut:
    policy = registry.get_policy(name)
    return s.PolicyOut(policy=None if policy is None else policy.to_dict())


@router.put("/{name}/policy")
def set_policy(name: str, body: dict[str, object], principal: Deployer, registry: Registry) -> s.PolicyOut:
    policy = registry.set_policy(name, body, actor=principal.user.name)
    return s.PolicyOut(policy=None if policy is None else policy.to_dict())


@router.delete("/{name}/policy", status_code=204)
def delete_policy(name: str, principal: Deployer, registry: Registry) -> Response:
    registry.set_policy(name, None, actor=principal.user.name)
    return Response(status_code=204)


@router.post("/{name}/versions/{version}/gates")
def evaluate_gates(
    name: str, version: VersionNumber, body: s.GatesIn, principal: Writer, registry: Registry
) -> s.GateReportOut:
    try:
        frame = pd.DataFrame.from_records(body.rows)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"rows must be objects of column -> value: {exc}", field="rows") from None
    report = registry.evaluate_gates(
        name, version, body.target_stage, frame, label=body.label, actor=principal.user.name
    )
    return s.GateReportOut.of(report)


#: The media type of an evaluation frame uploaded as Parquet (keeps dtypes, nulls and timestamps).
PARQUET = "application/vnd.apache.parquet"


@router.post("/{name}/versions/{version}/gates/parquet", openapi_extra=UPLOAD)
async def evaluate_gates_parquet(
    name: str,
    version: VersionNumber,
    request: Request,
    principal: Writer,
    registry: Registry,
    label: Annotated[str, Query(min_length=1)],
    target_stage: str = "production",
) -> s.GateReportOut:
    """As ``POST .../gates``, with the evaluation frame as a Parquet body (what the SDK sends)."""
    data = await request.body()
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"the body must be a Parquet file ({PARQUET}): {exc}", field="data") from None
    report = await run_in_threadpool(
        registry.evaluate_gates, name, version, target_stage, frame, label=label, actor=principal.user.name
    )
    return s.GateReportOut.of(report)


@router.get("/{name}/versions/{version}/gates")
def gate_reports(name: str, version: VersionNumber, _: Reader, registry: Registry) -> s.GateReportsOut:
    return s.GateReportsOut(reports=[s.GateReportOut.of(r) for r in registry.gate_reports(name, version)])


# -- approvals ------------------------------------------------------------------------------------


@router.post("/{name}/versions/{version}/approvals", status_code=201)
def request_approval(
    name: str, version: VersionNumber, body: s.ApprovalIn, principal: Writer, registry: Registry
) -> s.ApprovalOut:
    approval = registry.request_approval(
        name, version, body.target_stage, actor=principal.user.name, comment=body.comment
    )
    return s.ApprovalOut.of(approval)


@router.get("/{name}/approvals")
def list_approvals(name: str, _: Reader, registry: Registry, version: VersionQuery = None) -> s.ApprovalsOut:
    return s.ApprovalsOut(approvals=[s.ApprovalOut.of(a) for a in registry.list_approvals(name, version)])


def _decide(
    registry: RegistryService, name: str, request_id: str, approve: bool, principal: Principal, comment: str
) -> s.ApprovalOut:
    decided = registry.decide_approval(
        request_id, approve, actor=principal.user.name, comment=comment, model=name
    )
    return s.ApprovalOut.of(decided)


@router.post("/{name}/approvals/{request_id}/approve")
def approve(
    name: str, request_id: str, body: s.DecisionIn, principal: Approver, registry: Registry
) -> s.ApprovalOut:
    return _decide(registry, name, request_id, True, principal, body.comment)


@router.post("/{name}/approvals/{request_id}/reject")
def reject(
    name: str, request_id: str, body: s.DecisionIn, principal: Approver, registry: Registry
) -> s.ApprovalOut:
    return _decide(registry, name, request_id, False, principal, body.comment)


# -- comparison and cards -------------------------------------------------------------------------


@router.get("/{name}/compare")
def compare(
    name: str, left: VersionParam, right: VersionParam, _: Reader, registry: Registry
) -> s.ComparisonOut:
    return s.ComparisonOut.of(registry.compare(name, left, right))


@router.get("/{name}/versions/{version}/card")
def card(
    name: str, version: VersionNumber, _: Reader, registry: Registry, format: Literal["md", "html"] = "md"
) -> Response:
    markdown, html = registry.card(name, version)
    if format == "html":
        return Response(html, media_type="text/html; charset=utf-8")
    return Response(markdown, media_type="text/markdown; charset=utf-8")

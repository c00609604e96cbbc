"""The model registry's pages: models, one model (versions and lifecycle), one version.

Each route declares the API's gate, ``authorize("models.read")`` (scoped to the model in the path
like ``GET /api/v1/models/{name}``). What a page shows is assembled here from registry use cases;
an unknown model or version is the registry's NotFound, shown as the UI's 404 page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from shipyard.registry.entities import (
    Approval,
    ApprovalStatus,
    GatePolicy,
    GateReport,
    ModelVersion,
    RegisteredModel,
    Transition,
    VersionComparison,
)
from shipyard.registry.refs import version_number
from shipyard.registry.service import RegistryService
from shipyard.server.deps import Shipyard, authorize
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import UI_PREFIX, UIRoute

#: Metric columns the versions table shows at most (the version page shows them all).
MAX_METRIC_COLUMNS = 8

router = APIRouter(prefix=f"{UI_PREFIX}/models", route_class=UIRoute, include_in_schema=False)


def get_registry(app: Shipyard) -> RegistryService:
    return app.registry


Registry = Annotated[RegistryService, Depends(get_registry)]


# -- what the pages show ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPage:
    model: RegisteredModel
    versions: Sequence[ModelVersion]
    metric_keys: Sequence[str]
    history: Sequence[Transition]
    pending: Sequence[Approval]
    policy: GatePolicy | None


def model_page(registry: RegistryService, name: str) -> ModelPage:
    model = registry.get_model(name)
    versions = list(reversed(registry.list_versions(model.name)))  # newest first
    keys = sorted({k for v in versions for k in v.metrics})[:MAX_METRIC_COLUMNS]
    return ModelPage(
        model=model,
        versions=versions,
        metric_keys=keys,
        history=list(reversed(registry.history(model.name))),
        pending=[a for a in registry.list_approvals(model.name) if a.status is ApprovalStatus.PENDING],
        policy=registry.get_policy(model.name),
    )


@dataclass(frozen=True)
class SignatureRow:
    direction: str  # "input" or "output"
    name: str
    dtype: str


@dataclass(frozen=True)
class VersionPage:
    model: RegisteredModel
    version: ModelVersion
    others: Sequence[int]  # the versions it can be compared with
    signature: Sequence[SignatureRow]
    gate_reports: Sequence[GateReport]
    approvals: Sequence[Approval]
    history: Sequence[Transition]
    card_html: str
    comparison: VersionComparison | None


def signature_rows(signature: Mapping[str, object]) -> list[SignatureRow]:
    rows = []
    for direction, key in (("input", "inputs"), ("output", "outputs")):
        columns = signature.get(key)
        for column in columns if isinstance(columns, list | tuple) else ():
            if isinstance(column, Mapping):
                rows.append(
                    SignatureRow(direction, str(column.get("name", "")), str(column.get("dtype", "")))
                )
    return rows


def version_page(
    registry: RegistryService, name: str, number: int, compare_with: int | None = None
) -> VersionPage:
    version = registry.get_version(name, number)
    model = registry.get_model(version.model)
    _, card_html = registry.card(model.name, version.version)
    return VersionPage(
        model=model,
        version=version,
        others=[v.version for v in registry.list_versions(model.name) if v.version != version.version],
        signature=signature_rows(version.signature),
        gate_reports=list(reversed(registry.gate_reports(model.name, version.version))),
        approvals=list(reversed(registry.list_approvals(model.name, version.version))),
        history=list(reversed(registry.history(model.name, version.version))),
        card_html=card_html,
        # The other version on the left: deltas read "this version minus that one".
        comparison=None
        if compare_with is None
        else registry.compare(model.name, compare_with, version.version),
    )


# -- routes -----------------------------------------------------------------------------------------


@router.get("", dependencies=[Depends(authorize("models.read"))])
def models(request: Request, registry: Registry) -> HTMLResponse:
    return render(request, "models.html", {"models": registry.list_models()})


@router.get("/{name}", dependencies=[Depends(authorize("models.read", model="name"))])
def model(request: Request, name: str, registry: Registry) -> HTMLResponse:
    return render(request, "model.html", {"page": model_page(registry, name)})


@router.get("/{name}/versions/{version}", dependencies=[Depends(authorize("models.read", model="name"))])
def version(
    request: Request,
    name: str,
    version: int,
    registry: Registry,
    compare: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    # The selector's empty choice sends ``compare=``: no comparison, rather than a 422.
    other = version_number(compare.strip(), field="compare") if compare.strip() else None
    return render(request, "version.html", {"page": version_page(registry, name, version, other)})

"""Deployment routes under ``/api/v1/deployments``: list, show, deploy, pause, resume, promote,
roll back, delete, live figures, decisions, and one round of the canary decider.

Reads need ``deployments.read``; every change ``deployments.write``. Deploying also needs
``models.read`` on every model the deployment names (checked in the handler once the body is
valid), and so do promote and roll back on the models of the deployment they change. Bodies over
64 KiB are refused before they are parsed. Handlers are thin: validate -> service -> schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from shipyard.accounts.model import Principal
from shipyard.core.ids import new_id
from shipyard.errors import InvalidInput
from shipyard.server import deployment_schemas as s
from shipyard.server.deployment_schemas import errors
from shipyard.server.deps import Shipyard, authorize, ensure_allowed
from shipyard.serving.deployments import DeploymentService
from shipyard.serving.model import Deployment
from shipyard.serving.strategies import parse_ref

#: The largest request body a deployment route reads (a deployment spec is well under 2 KiB).
MAX_BODY = 64 * 1024


async def bounded_body(request: Request) -> None:
    """Refuse a body over :data:`MAX_BODY` before it is parsed (422 naming ``body``)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise InvalidInput(f"the request body is {declared} bytes; at most {MAX_BODY} are read", field="body")
    if declared is None and request.method in ("POST", "PUT") and len(await request.body()) > MAX_BODY:
        raise InvalidInput(f"the request body is over {MAX_BODY} bytes", field="body")


router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"], dependencies=[Depends(bounded_body)])


def get_deployments(app: Shipyard) -> DeploymentService:
    return app.deployments


Deployments = Annotated[DeploymentService, Depends(get_deployments)]
Reader = Annotated[Principal, Depends(authorize("deployments.read"))]
Writer = Annotated[Principal, Depends(authorize("deployments.write"))]


def _models(spec: s.DeploymentSpecIn) -> set[str]:
    refs = [spec.model, spec.challenger, spec.shadow, *(t.ref for t in spec.targets or [])]
    return {parse_ref(ref, field="model")[0] for ref in refs if ref is not None}


def _may_read(app: Shipyard, principal: Principal, models: set[str] | list[str]) -> None:
    for model in sorted(set(models)):
        ensure_allowed(app, principal, "models.read", model=model)


def _deploy(
    app: Shipyard, principal: Principal, name: str, spec: s.DeploymentSpecIn, create: bool | None
) -> Deployment:
    _may_read(app, principal, _models(spec))
    return app.deployments.deploy(
        name,
        spec.model,
        strategy=spec.strategy,
        challenger=spec.challenger,
        shadow=spec.shadow,
        weight=spec.weight,
        targets=None if spec.targets is None else [t.to_spec() for t in spec.targets],
        canary=None if spec.canary is None else spec.canary.to_policy(),
        public=spec.public,
        feature_service=spec.feature_service,
        create=create,
        actor=principal.user.name,
    )


@router.get("", responses=errors(422))
def list_deployments(
    _: Reader, deployments: Deployments, model: Annotated[str | None, Query(max_length=250)] = None
) -> s.DeploymentsOut:
    return s.DeploymentsOut(
        deployments=[s.DeploymentOut.of(d) for d in deployments.list_deployments(model=model)]
    )


@router.post("", status_code=201, responses=errors(404, 409, 422))
def create_deployment(body: s.DeploymentIn, principal: Writer, app: Shipyard) -> s.DeploymentOut:
    return s.DeploymentOut.of(_deploy(app, principal, body.name, body, create=True))


@router.get("/revision")
def revision(_: Reader, deployments: Deployments) -> s.RevisionOut:
    """The highest revision of any deployment: poll it to notice a change."""
    return s.RevisionOut(revision=deployments.revision())


@router.post("/decide", responses=errors(422))
def decide(body: s.DecideIn, principal: Writer, deployments: Deployments) -> s.DecisionsOut:
    """One round of canary analysis (if no other decider holds the lease)."""
    found = deployments.decide(body.name, holder=f"api-{new_id()}", actor=principal.user.name)
    return s.DecisionsOut(decisions=[s.DecisionOut.of(d) for d in found])


@router.get("/{name}", responses=errors(404))
def get_deployment(name: str, _: Reader, deployments: Deployments) -> s.DeploymentOut:
    return s.DeploymentOut.of(deployments.get(name))


@router.put("/{name}", responses=errors(404, 409, 422))
def put_deployment(name: str, body: s.DeploymentSpecIn, principal: Writer, app: Shipyard) -> s.DeploymentOut:
    """Create the deployment, or change it (a blue-green one keeps its old primary as standby)."""
    return s.DeploymentOut.of(_deploy(app, principal, name, body, create=None))


@router.delete("/{name}", status_code=204, responses=errors(404))
def delete_deployment(name: str, principal: Writer, deployments: Deployments) -> Response:
    deployments.delete(name, actor=principal.user.name)
    return Response(status_code=204)


@router.post("/{name}/pause", responses=errors(404))
def pause(name: str, principal: Writer, deployments: Deployments) -> s.DeploymentOut:
    return s.DeploymentOut.of(deployments.pause(name, actor=principal.user.name))


@router.post("/{name}/resume", responses=errors(404))
def resume(name: str, principal: Writer, deployments: Deployments) -> s.DeploymentOut:
    return s.DeploymentOut.of(deployments.resume(name, actor=principal.user.name))


@router.post("/{name}/promote", responses=errors(404, 409, 422))
def promote(name: str, body: s.ReasonIn, principal: Writer, app: Shipyard) -> s.DeploymentOut:
    """A canary's challenger (or a shadow) becomes the primary."""
    _may_read(app, principal, [t.model for t in app.deployments.get(name).targets])
    reason = body.reason or "promoted by hand"
    return s.DeploymentOut.of(app.deployments.promote(name, actor=principal.user.name, reason=reason))


@router.post("/{name}/rollback", responses=errors(404, 409, 422))
def rollback(name: str, body: s.ReasonIn, principal: Writer, app: Shipyard) -> s.DeploymentOut:
    """Drop the challenger or shadow; a blue-green deployment switches back to its standby."""
    _may_read(app, principal, [t.model for t in app.deployments.get(name).targets])
    reason = body.reason or "rolled back by hand"
    return s.DeploymentOut.of(app.deployments.rollback(name, actor=principal.user.name, reason=reason))


@router.get("/{name}/windows", responses=errors(404, 422))
def windows(
    name: str,
    _: Reader,
    deployments: Deployments,
    since: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> s.WindowsOut:
    """The live figures replicas reported for the deployment's versions since ``since`` (epoch ms)."""
    deployments.get(name)
    found = deployments.windows(name, since=since, limit=limit)
    return s.WindowsOut(windows=[s.WindowOut.of(w) for w in found])


@router.get("/{name}/decisions", responses=errors(404, 422))
def decisions(
    name: str, _: Reader, deployments: Deployments, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> s.DecisionsOut:
    """Promotions, rollbacks and canary steps, newest first, with their checks and figures."""
    deployments.get(name)
    return s.DecisionsOut(decisions=[s.DecisionOut.of(d) for d in deployments.decisions(name, limit=limit)])

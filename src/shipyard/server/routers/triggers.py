"""Trigger routes under ``/api/v1/triggers`` and the scheduler's status at ``/api/v1/scheduler``.

Reading needs ``pipelines.read``; creating, changing, enabling, disabling and deleting a trigger
``pipelines.write``; firing one or backfilling a schedule ``pipelines.run``. A trigger watching a
feature view also needs ``features.read`` (checked in the handler: it references that view).
Every change is audited with the caller as the actor.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from shipyard.accounts.model import Principal
from shipyard.pipelines.triggers.service import TriggerService
from shipyard.server import trigger_schemas as s
from shipyard.server.deps import Shipyard, authorize, ensure_allowed

router = APIRouter(prefix="/api/v1", tags=["triggers"])


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {}}}


#: Error answers the routes document (the body is the JSON envelope of ``server/errors.py``).
ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or bad token."),
    403: _error("The caller's roles do not allow the action."),
    404: _error("No such trigger or pipeline (or feature view)."),
    422: _error("A bad value: the field is named (cron, timezone, event_type, cooldown ...)."),
}
CHANGE_ERRORS = {**ERRORS, 409: _error("A trigger of that name exists, or the trigger is disabled.")}


def get_triggers(app: Shipyard) -> TriggerService:
    return app.triggers


Triggers = Annotated[TriggerService, Depends(get_triggers)]
Reader = Annotated[Principal, Depends(authorize("pipelines.read"))]
Writer = Annotated[Principal, Depends(authorize("pipelines.write"))]
Runner = Annotated[Principal, Depends(authorize("pipelines.run"))]


@router.get("/triggers", responses=ERRORS)
def list_triggers(
    _: Reader,
    triggers: Triggers,
    pipeline: Annotated[str | None, Query(max_length=250)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
) -> s.TriggersOut:
    return s.TriggersOut(
        triggers=[s.TriggerOut.of(t) for t in triggers.list_triggers(pipeline=pipeline, kind=kind)]
    )


@router.post("/triggers", status_code=201, responses=CHANGE_ERRORS)
def create_trigger(body: s.TriggerIn, principal: Writer, app: Shipyard, triggers: Triggers) -> s.TriggerOut:
    if body.spec and body.spec.get("source") == "feature_view":
        ensure_allowed(app, principal, "features.read")
    trigger = triggers.create(
        body.name,
        body.pipeline,
        body.kind,
        body.spec,
        params=body.params,
        enabled=body.enabled,
        cooldown=body.cooldown,
        max_concurrent=body.max_concurrent,
        description=body.description,
        actor=principal.user.name,
    )
    return s.TriggerOut.of(trigger)


@router.get("/triggers/{name}", responses=ERRORS)
def get_trigger(name: str, _: Reader, triggers: Triggers) -> s.TriggerOut:
    return s.TriggerOut.of(triggers.get(name))


@router.patch("/triggers/{name}", responses=ERRORS)
def update_trigger(
    name: str, body: s.TriggerUpdateIn, principal: Writer, app: Shipyard, triggers: Triggers
) -> s.TriggerOut:
    """Change a trigger's spec (cron, source, event …), parameters, cooldown, concurrency limit or
    description; what the body leaves out is kept."""
    if body.spec and body.spec.get("source") == "feature_view":
        ensure_allowed(app, principal, "features.read")
    given = body.model_fields_set
    trigger = triggers.update(
        name,
        spec=body.spec,
        params=body.params,
        cooldown=body.cooldown,
        max_concurrent=body.max_concurrent if "max_concurrent" in given else False,
        description=body.description,
        actor=principal.user.name,
    )
    return s.TriggerOut.of(trigger)


@router.post("/triggers/{name}/enable", responses=ERRORS)
def enable_trigger(name: str, principal: Writer, triggers: Triggers) -> s.TriggerOut:
    return s.TriggerOut.of(triggers.set_enabled(name, True, actor=principal.user.name))


@router.post("/triggers/{name}/disable", responses=ERRORS)
def disable_trigger(name: str, principal: Writer, triggers: Triggers) -> s.TriggerOut:
    return s.TriggerOut.of(triggers.set_enabled(name, False, actor=principal.user.name))


@router.delete("/triggers/{name}", status_code=204, responses=ERRORS)
def delete_trigger(name: str, principal: Writer, triggers: Triggers) -> Response:
    triggers.delete(name, actor=principal.user.name)
    return Response(status_code=204)


@router.post("/triggers/{name}/fire", responses=CHANGE_ERRORS)
def fire_trigger(name: str, body: s.FireIn, principal: Runner, triggers: Triggers) -> s.FiringOut:
    return s.FiringOut.of(triggers.fire(name, body.params, key=body.key, actor=principal.user.name))


@router.get("/triggers/{name}/firings", responses=ERRORS)
def list_firings(
    name: str, _: Reader, triggers: Triggers, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> s.FiringsOut:
    return s.FiringsOut(firings=[s.FiringOut.of(f) for f in triggers.firings(name, limit=limit)])


@router.post("/backfills", responses=ERRORS)
def backfill(body: s.BackfillIn, principal: Runner, triggers: Triggers) -> s.FiringsOut:
    firings = triggers.backfill(
        body.pipeline, body.start, body.end, trigger=body.trigger, actor=principal.user.name
    )
    return s.FiringsOut(firings=[s.FiringOut.of(f) for f in firings])


@router.get("/scheduler/status", responses=ERRORS)
def scheduler_status(_: Reader, triggers: Triggers) -> s.SchedulerStatusOut:
    return s.SchedulerStatusOut(triggers=[s.TriggerStatusOut.of(t) for t in triggers.status()])

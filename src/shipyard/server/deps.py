"""Request dependencies: the composition root's services, and authorization.

:func:`authorize` is the one gate every route except ``/health`` (and the data-free docs, login and
logout pages) passes. Each route declares the action it performs and, when the request is about one
model or experiment, where that object is named::

    Depends(authorize("tracking.read"))                           # needs a global grant
    Depends(authorize("models.deploy", model="name"))            # path parameter ``name``
    Depends(authorize("tracking.read", experiment="name_or_id"))  # path param: experiment name or id
    Depends(authorize("tracking.write", run="run_id"))           # path param: a run; its experiment
    Depends(authorize("tracking.write", experiment_field="experiment"))  # JSON body field

``model=``/``experiment=``/``run=`` name *path parameters*; ``experiment_field=`` names a top-level
field of the JSON body (an experiment name or id). Experiment ids and run ids are resolved to the
experiment's name through the tracking service (a run by
:meth:`~shipyard.tracking.service.TrackingService.run_experiment`, which reads none of its params or
metrics); the token, that lookup and the grants are read in one transaction
(:meth:`~shipyard.storage.metadata.database.Database.shared_read`). A check that passed is held
for ``token_cache_seconds`` (:meth:`~shipyard.accounts.service.AccountsService.held_access`), so a
busy client's next requests on the same object cost no query; a revocation counts at once in this
process and within that bound in the others. An experiment or run that does
not exist leaves the raw value as the experiment's name (the route then answers 404, or creates it
by that name). A grant on ``model:<name>`` or ``experiment:<name>`` counts only for requests scoped
that way; every other request needs a global grant (see :mod:`shipyard.accounts.permissions`).

The token comes from the ``Authorization: Bearer`` header, else from the ``shipyard_token`` cookie
the web UI's login sets (HttpOnly, SameSite=Strict). No or a bad token raises
:class:`~shipyard.errors.Unauthenticated` (401; the web UI redirects to its login page); a valid
token whose user's roles do not allow the action raises
:class:`~shipyard.errors.PermissionDenied` (403 naming the action and the roles that allow it). A
handler whose action depends on its body calls :func:`ensure_allowed` after validating it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from shipyard.accounts.model import Principal
from shipyard.accounts.permissions import ACTIONS, roles_allowing
from shipyard.app import App
from shipyard.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from shipyard.server.fields import bad_character
from shipyard.server.telemetry import Telemetry
from shipyard.tracking.group_commit import MetricGroupCommit
from shipyard.tracking.service import TrackingService

__all__ = [
    "ACTIONS",
    "TOKEN_COOKIE",
    "MetricWrites",
    "Metrics",
    "Shipyard",
    "Tracking",
    "authorize",
    "ensure_allowed",
    "ensure_run_readable",
    "get_app",
]

#: The cookie holding the web UI's token (set by ``POST /ui/login``).
TOKEN_COOKIE = "shipyard_token"

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`shipyard tokens create <user>`), sent as `Authorization: Bearer <token>`.",
)

Dependency = Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]


def get_app(request: Request) -> App:
    app: App = request.app.state.shipyard
    return app


def get_tracking(request: Request) -> TrackingService:
    return get_app(request).tracking


def get_metric_writes(request: Request) -> MetricGroupCommit:
    writes: MetricGroupCommit = request.app.state.metric_writes
    return writes


def get_telemetry(request: Request) -> Telemetry:
    telemetry: Telemetry = request.app.state.telemetry
    return telemetry


def _experiment_name(app: App, *, name_or_id: str | None = None, run_id: str | None = None) -> str | None:
    try:
        if run_id is not None:
            return app.tracking.run_experiment(run_id).name
        if name_or_id is not None:
            return app.tracking.get_experiment(name_or_id).name
    except (NotFound, InvalidInput):
        # An unknown experiment is named by the raw value (it may be about to be created); an
        # unknown run belongs to no experiment, so only a global grant lets the route say 404.
        return name_or_id
    return None


def _denied(principal: Principal, action: str, model: str | None, experiment: str | None) -> PermissionDenied:
    allowing = roles_allowing(action)
    roles = (
        f"role {' or '.join(allowing)}" if len(allowing) <= 2 else f"one of the roles {', '.join(allowing)}"
    )
    target = f"model {model!r}" if model is not None else None
    if experiment is not None:
        target = f"experiment {experiment!r}"
    where = f"globally or on {target}" if target else "globally"
    on = f" on {target}" if target else ""
    return PermissionDenied(
        f"user {principal.user.name!r} may not perform {action}{on}: it needs {roles} ({where})",
        field="action",
    )


def ensure_allowed(
    app: App, principal: Principal, action: str, *, model: str | None = None, experiment: str | None = None
) -> None:
    """For a handler whose action depends on its body (a transition to staging or to production):
    raise the same PermissionDenied as :func:`authorize` unless ``principal`` may do ``action``.
    The route still declares ``authorize`` with the least action it needs."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(sorted(ACTIONS))}")
    if not app.accounts.allowed(principal.user.name, action, model=model, experiment=experiment):
        raise _denied(principal, action, model, experiment)


def ensure_run_readable(app: App, principal: Principal, run_id: str, *, field: str = "run_id") -> None:
    """For a run named in a request body (a version's source, a parent run): the caller needs
    ``tracking.read`` on its experiment. A run the caller cannot read is answered exactly as one
    that does not exist, so the answer reveals nothing about other experiments."""
    experiment = _experiment_name(app, run_id=run_id)
    if experiment is None or not app.accounts.allowed(
        principal.user.name, "tracking.read", experiment=experiment
    ):
        raise NotFound(f"run {run_id!r} does not exist", field=field)


@functools.cache
def authorize(
    action: str,
    *,
    model: str | None = None,
    experiment: str | None = None,
    run: str | None = None,
    experiment_field: str | None = None,
    alternative: str | None = None,
) -> Dependency:
    """A dependency that authenticates the caller and authorizes ``action`` (on the model or
    experiment the request names, see the module docstring); returns the principal. With
    ``alternative``, that action is enough too (the handler then checks which one its request
    needs with :func:`ensure_allowed`)."""
    for name in (action, alternative):
        if name is not None and name not in ACTIONS:
            raise ValueError(f"unknown action {name!r}; known: {', '.join(sorted(ACTIONS))}")
    if sum(x is not None for x in (model, experiment, run, experiment_field)) > 1:
        raise ValueError("authorize takes at most one of model=, experiment=, run=, experiment_field=")

    def check(app: App, secret: str, path: dict[str, str], body_value: str | None) -> Principal:
        with app.db.shared_read():  # the token, the scope and the grants: one transaction
            principal = app.accounts.authenticate(secret)
            model_name = path.get(model) if model is not None else None
            experiment_name = None
            if experiment is not None:
                experiment_name = _experiment_name(app, name_or_id=path.get(experiment))
            elif run is not None and path.get(run):
                experiment_name = _experiment_name(app, run_id=path[run])
            elif body_value is not None:
                experiment_name = _experiment_name(app, name_or_id=body_value)
            allowed = any(
                app.accounts.allowed(principal.user.name, a, model=model_name, experiment=experiment_name)
                for a in (action, alternative)
                if a is not None
            )
        if not allowed:
            raise _denied(principal, action, model_name, experiment_name)
        return principal

    def question(path: Mapping[str, str], body_value: str | None) -> Hashable:
        """What this check is asked about one request: held as answered by the accounts service."""
        named = model or experiment or run
        return (action, alternative, named, path.get(named) if named else None, body_value)

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(_bearer)
    ) -> Principal:
        secret = credentials.credentials if credentials else request.cookies.get(TOKEN_COOKIE)
        if not secret:
            raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
        body_value = await _body_field(request, experiment_field) if experiment_field else None
        app = get_app(request)
        asked = question(request.path_params, body_value)
        principal = app.accounts.held_access(secret, asked)
        if principal is None:
            path = dict(request.path_params)
            principal = await run_in_threadpool(check, app, secret, path, body_value)
            app.accounts.hold_access(secret, asked, principal)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"authorize_{action.replace('.', '_')}"
    dependency.shipyard_action = action  # type: ignore[attr-defined]  # read by the route matrix test
    dependency.shipyard_alternative = alternative  # type: ignore[attr-defined]
    dependency.question = question  # type: ignore[attr-defined]  # asked by shipyard.server.ingest
    return dependency


async def _body_field(request: Request, name: str) -> str | None:
    """A top-level string field of a JSON body; None when the body is not such JSON (the route's
    own validation then answers 422, after authorization against a global grant)."""
    try:
        data = await request.json()
    except ValueError:
        return None
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value or bad_character(value, line=True) is not None:
        return None  # the route's validation names the problem
    return value


Shipyard = Annotated[App, Depends(get_app)]
Tracking = Annotated[TrackingService, Depends(get_tracking)]
Metrics = Annotated[Telemetry, Depends(get_telemetry)]
MetricWrites = Annotated[MetricGroupCommit, Depends(get_metric_writes)]

"""Roles, the actions each allows, and grant scopes: the one place that maps a role to what it may do.

Actions are what routes declare (``authorize("models.deploy")``). A user holds roles through grants;
a grant is global, or scoped to one model (``model:<name>``) or one experiment
(``experiment:<name>``). A scoped grant applies only to requests about that model or experiment; a
request that names no model or experiment (listing models, searching runs across experiments)
needs a global grant. A user without any grant can authenticate and do nothing else.
"""

from __future__ import annotations

from shipyard.errors import InvalidInput

READ_ACTIONS = frozenset(
    {
        "tracking.read",
        "artifacts.read",
        "models.read",
        "features.read",
        "pipelines.read",
        "audit.read",
        "events.read",
        "deployments.read",
        "deployments.predict",
        "monitoring.read",
    }
)

#: Every action a route may declare.
ACTIONS = READ_ACTIONS | {
    "tracking.write",
    "artifacts.write",
    "system.metrics",
    "models.write",
    "models.approve",
    "models.deploy",
    "features.write",
    "pipelines.write",
    "pipelines.run",
    "deployments.write",
    "monitoring.write",
    "monitoring.labels",
    "admin",
    # Your own account: who you are, your grants, your tokens. Every role includes it.
    "account.self",
}

_VIEWER = (READ_ACTIONS - {"audit.read"}) | {"system.metrics", "account.self"}

#: What each role allows. ``admin`` allows everything.
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset(_VIEWER),
    "contributor": frozenset(
        _VIEWER
        | {
            "tracking.write",
            "artifacts.write",
            "models.write",
            "features.write",
            "pipelines.write",
            "pipelines.run",
            "monitoring.write",
            "monitoring.labels",
        }
    ),
    "reviewer": frozenset(_VIEWER | {"models.approve", "audit.read"}),
    "deployer": frozenset(
        _VIEWER | {"models.deploy", "deployments.write", "monitoring.write", "monitoring.labels"}
    ),
    "admin": frozenset(ACTIONS),
}

GLOBAL = "global"
SCOPE_KINDS = ("model", "experiment")


def check_action(action: str) -> str:
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; known: {', '.join(sorted(ACTIONS))}", field="action")
    return action


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are: {', '.join(ROLES)}", field="role")
    return role


def roles_allowing(action: str) -> list[str]:
    """The roles that allow ``action``, in the order of :data:`ROLES` (least powerful first)."""
    return [role for role, actions in ROLES.items() if action in actions]


def scope_of(*, model: str | None = None, experiment: str | None = None) -> str:
    """The scope string of a grant on ``model`` or ``experiment``, or :data:`GLOBAL`."""
    if model is not None and experiment is not None:
        raise InvalidInput("a grant is scoped to a model or to an experiment, not both", field="scope")
    for kind, name in (("model", model), ("experiment", experiment)):
        if name is not None:
            if not isinstance(name, str) or not name.strip() or len(name) > 250:
                raise InvalidInput(f"{kind} name must be 1-250 characters, got {name!r}", field=kind)
            return f"{kind}:{name}"
    return GLOBAL


def parse_scope(scope: str) -> str:
    """Validate a scope written as ``global``, ``model:<name>`` or ``experiment:<name>``."""
    if scope == GLOBAL:
        return scope
    kind, sep, name = scope.partition(":")
    if not sep or kind not in SCOPE_KINDS:
        raise InvalidInput(
            f"scope must be 'global', 'model:<name>' or 'experiment:<name>', got {scope!r}", field="scope"
        )
    return scope_of(**{kind: name})


def applicable_scopes(*, model: str | None = None, experiment: str | None = None) -> list[str]:
    """The grant scopes that count for a request about ``model``/``experiment``."""
    scopes = [GLOBAL]
    if model is not None:
        scopes.append(f"model:{model}")
    if experiment is not None:
        scopes.append(f"experiment:{experiment}")
    return scopes

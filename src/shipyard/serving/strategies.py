"""What each strategy accepts, and how a deployment's targets move (promote, roll back, advance a
canary, switch a blue-green). Pure functions on :mod:`.model` values; the service stores the result.

A target is named by ``MODEL@ALIAS``, ``MODEL@VERSION`` or ``MODEL/VERSION``; the service resolves
aliases when the deployment changes and records both. Rules:

- ``single``: one ``primary`` at 100%;
- ``blue_green``: one ``primary`` at 100% and at most one ``standby`` at 0% (deploying a new primary
  over a blue-green deployment keeps the previous one as the standby);
- ``canary``: a ``primary`` and a ``challenger`` whose weights sum to 100 (the challenger starts at
  ``weight`` or the policy's first step);
- ``shadow``: a ``primary`` at 100% and a ``shadow`` at 0% (a copy of the traffic).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shipyard.errors import Conflict, InvalidInput
from shipyard.serving.model import STRATEGIES, CanaryPolicy, Deployment, Role, Strategy, Target

_MODEL = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}"
_REF = re.compile(rf"^(?P<model>{_MODEL})(?:@(?P<ref>[A-Za-z0-9][A-Za-z0-9_\-]{{0,99}})|/(?P<version>\d+))$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")

#: The roles each strategy takes; the first is required.
ROLES: dict[Strategy, tuple[Role, ...]] = {
    "single": ("primary",),
    "blue_green": ("primary", "standby"),
    "canary": ("primary", "challenger"),
    "shadow": ("primary", "shadow"),
}
MAX_TARGETS = 4


@dataclass(frozen=True)
class TargetSpec:
    """A target as a caller names it, before aliases are resolved."""

    ref: str  # churn@champion, churn@3 or churn/3
    role: Role
    weight: int | None = None  # None: the strategy's default


def deployment_name(value: object, *, field: str = "name") -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInput(
            "deployment name must be 1-100 letters, digits, '_', '-' or '.', starting with a letter or "
            f"digit; got {value!r}",
            field=field,
        )
    return value


def parse_ref(text: object, *, field: str) -> tuple[str, str]:
    """``(model, ref)`` of ``churn@champion`` / ``churn@3`` / ``churn/3``; ref is an alias or digits."""
    match = _REF.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{field} must be MODEL@ALIAS or MODEL@VERSION (churn@champion, churn@3), got {text!r}",
            field=field,
        )
    return match["model"], match["ref"] or match["version"]


def strategy_of(value: object) -> Strategy:
    for strategy in STRATEGIES:
        if value == strategy:
            return strategy
    raise InvalidInput(f"unknown strategy {value!r}; strategies: {', '.join(STRATEGIES)}", field="strategy")


def plan(
    strategy: Strategy,
    primary: str,
    *,
    challenger: str | None = None,
    shadow: str | None = None,
    weight: int | None = None,
) -> list[TargetSpec]:
    """The targets of the usual shapes: a primary, plus a canary's challenger or a shadow."""
    specs = [TargetSpec(primary, "primary")]
    if challenger is not None:
        specs.append(TargetSpec(challenger, "challenger", weight))
    elif weight is not None:
        raise InvalidInput("weight is the challenger's share: give a challenger too", field="weight")
    if shadow is not None:
        specs.append(TargetSpec(shadow, "shadow"))
    if strategy == "canary" and challenger is None:
        raise InvalidInput("a canary needs a challenger (MODEL@REF) to send traffic to", field="challenger")
    if strategy == "shadow" and shadow is None:
        raise InvalidInput("a shadow deployment needs a shadow target (MODEL@REF)", field="shadow")
    return specs


def _weight(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InvalidInput(f"weight must be an integer from 0 to 100, got {value!r}", field=field)
    return value


def weigh(strategy: Strategy, specs: Sequence[TargetSpec], policy: CanaryPolicy | None) -> list[int]:
    """Each spec's weight (defaults filled in), checked against the strategy's rules."""
    if not specs:
        raise InvalidInput("a deployment needs at least a primary target", field="targets")
    if len(specs) > MAX_TARGETS:
        raise InvalidInput(f"a deployment has at most {MAX_TARGETS} targets", field="targets")
    allowed = ROLES[strategy]
    roles = [s.role for s in specs]
    for i, role in enumerate(roles):
        if role not in allowed:
            raise InvalidInput(
                f"strategy {strategy} takes roles {', '.join(allowed)}, not {role!r}",
                field=f"targets[{i}].role",
            )
        if roles.count(role) > 1:
            raise InvalidInput(f"role {role} is given {roles.count(role)} times", field="targets")
    if allowed[0] not in roles:
        raise InvalidInput(f"strategy {strategy} needs a {allowed[0]} target", field="targets")
    if strategy == "canary" and "challenger" not in roles:
        raise InvalidInput("a canary needs a challenger (MODEL@REF) to send traffic to", field="challenger")
    if strategy == "shadow" and "shadow" not in roles:
        raise InvalidInput("a shadow deployment needs a shadow target (MODEL@REF)", field="shadow")
    weights = [
        None if s.weight is None else _weight(s.weight, f"targets[{i}].weight") for i, s in enumerate(specs)
    ]
    if strategy == "canary":
        c = roles.index("challenger")
        p = roles.index("primary")
        primary_weight = weights[p]
        if weights[c] is None:
            first = (policy or CanaryPolicy()).steps[0]
            weights[c] = 100 - primary_weight if primary_weight is not None else first
        if primary_weight is None:
            weights[p] = 100 - (weights[c] or 0)
    for i, role in enumerate(roles):
        if weights[i] is None:
            weights[i] = 100 if role == "primary" else 0
        if role in ("standby", "shadow") and weights[i] != 0:
            raise InvalidInput(
                f"a {role} target takes no live traffic: weight must be 0", field=f"targets[{i}].weight"
            )
    total = sum(w or 0 for w in weights)
    if total != 100:
        raise InvalidInput(
            f"weights must sum to 100, got {total} ({', '.join(f'{s.ref}={w}' for s, w in zip(specs, weights, strict=True))})",
            field="targets",
        )
    if strategy == "canary" and weights[roles.index("challenger")] in (0, 100):
        raise InvalidInput("a canary's challenger weight must be between 1 and 99", field="weight")
    return [w or 0 for w in weights]


def check_distinct(targets: Sequence[Target]) -> None:
    seen: set[tuple[str, int]] = set()
    for t in targets:
        if (t.model, t.version) in seen:
            raise InvalidInput(f"targets name {t.model}@{t.version} twice", field="targets")
        seen.add((t.model, t.version))


def carry_standby(previous: Deployment | None, strategy: Strategy, targets: list[Target]) -> list[Target]:
    """A blue-green deployment given a new primary keeps the one it replaces as the standby."""
    if strategy != "blue_green" or previous is None or any(t.role == "standby" for t in targets):
        return targets
    old = previous.role("primary")
    new = targets[0]
    if old is None or (old.model, old.version) == (new.model, new.version):
        return targets
    return [*targets, replace(old, role="standby", weight=0)]


def promoted(deployment: Deployment) -> tuple[Strategy, tuple[Target, ...]]:
    """A canary's challenger or a shadow becomes the primary; the old primary stays as a standby
    (the deployment becomes blue-green, so a switch back stays instant)."""
    primary = deployment.role("primary")
    new = deployment.role("challenger") or deployment.role("shadow")
    if primary is None or new is None or deployment.strategy not in ("canary", "shadow"):
        raise Conflict(
            f"deployment {deployment.name!r} ({deployment.strategy}) has no challenger or shadow to promote",
            field="deployment",
        )
    return "blue_green", (
        replace(new, role="primary", weight=100),
        replace(primary, role="standby", weight=0),
    )


def rolled_back(deployment: Deployment) -> tuple[Strategy, tuple[Target, ...]]:
    """A canary or shadow drops its challenger; a blue-green deployment switches back to its standby."""
    primary = deployment.role("primary")
    if primary is None:
        raise Conflict(f"deployment {deployment.name!r} has no primary", field="deployment")
    if deployment.strategy in ("canary", "shadow"):
        return "single", (replace(primary, weight=100),)
    standby = deployment.role("standby")
    if deployment.strategy == "blue_green" and standby is not None:
        return "blue_green", (
            replace(standby, role="primary", weight=100),
            replace(primary, role="standby", weight=0),
        )
    raise Conflict(
        f"deployment {deployment.name!r} ({deployment.strategy}) has no standby or challenger to roll back from",
        field="deployment",
    )


def advanced(deployment: Deployment, weight: int) -> tuple[Target, ...]:
    """A canary's targets with the challenger at ``weight`` percent."""
    return tuple(
        replace(
            t, weight=weight if t.role == "challenger" else 100 - weight if t.role == "primary" else t.weight
        )
        for t in deployment.targets
    )

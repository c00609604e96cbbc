"""Which version answers a request: the deployment table a server follows, and the choice of a
live target by traffic weight. Rebuilt whenever the deployment source's revision changes."""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from shipyard.errors import NotFound, PermissionDenied, Unauthenticated
from shipyard.serving.model import Deployment, Target
from shipyard.serving.ports import PredictAuthorizer


@dataclass(frozen=True)
class Route:
    deployment: Deployment
    live: tuple[Target, ...]
    cumulative: tuple[int, ...]
    primary: Target
    shadow: Target | None

    @classmethod
    def of(cls, deployment: Deployment) -> Route | None:
        live = deployment.live()
        if not live:
            return None
        running, cumulative = 0, []
        for target in live:
            running += target.weight
            cumulative.append(running)
        primary = deployment.role("primary") or live[0]
        shadow = deployment.role("shadow") if deployment.strategy == "shadow" else None
        return cls(deployment, live, tuple(cumulative), primary, shadow)

    def pick(self, rng: random.Random) -> Target:
        if len(self.live) == 1:
            return self.live[0]
        point = rng.randrange(self.cumulative[-1])
        return self.live[bisect.bisect_right(self.cumulative, point)]

    def target(self, version: int) -> Target:
        """The target of ``version`` (an explicit version request); NotFound otherwise."""
        for t in self.deployment.targets:
            if t.version == version:
                return t
        versions = ", ".join(str(t.version) for t in self.deployment.targets)
        raise NotFound(
            f"deployment {self.deployment.name!r} serves no version {version} (it serves {versions})",
            field="version",
        )


class RouteTable:
    def __init__(self, deployments: Sequence[Deployment] = (), only: Sequence[str] = ()) -> None:
        self.only = set(only)
        self.revision = -1
        self.routes: dict[str, Route] = {}
        self.update(deployments, 0)

    def update(self, deployments: Sequence[Deployment], revision: int) -> None:
        routes = {}
        for d in deployments:
            if self.only and d.name not in self.only:
                continue
            route = Route.of(d)
            if route is not None:
                routes[d.name] = route
        self.routes = routes
        self.revision = revision

    def get(self, name: str) -> Route:
        route = self.routes.get(name)
        if route is None:
            raise NotFound(f"deployment {name!r} does not exist or is not served here", field="deployment")
        return route


class TokenCache:
    """Valid (token, model) pairs remembered for ``ttl`` seconds, so a request seldom reaches the
    accounts service; a refused token is never cached."""

    def __init__(self, authorizer: PredictAuthorizer, ttl: float = 10.0, max_entries: int = 10_000) -> None:
        self.authorizer = authorizer
        self.ttl = ttl
        self.max_entries = max_entries
        self._valid: dict[tuple[str, str | None], tuple[str, float]] = {}  # model None: any
        self._lock = threading.Lock()

    def cached(self, secret: str, model: str | None) -> str | None:
        hit = self._valid.get((secret, model))
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        return None

    def known(self, secret: str) -> bool:
        """Whether ``secret`` is a token remembered as valid."""
        return self.cached(secret, None) is not None

    def authenticate(self, secret: str) -> str:
        """The token's user; Unauthenticated from the accounts service otherwise."""
        user = self.cached(secret, None)
        if user is not None:
            return user
        if not secret:
            raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
        user = self.authorizer.authenticate(secret)
        self._remember(secret, None, user)
        return user

    def check(self, secret: str, model: str) -> str:
        """The user; Unauthenticated or PermissionDenied from the accounts service otherwise."""
        user = self.cached(secret, model)
        if user is not None:
            return user
        if not secret:
            raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
        try:
            user = self.authorizer.authorize(secret, model)
        except (Unauthenticated, PermissionDenied):
            raise
        self._remember(secret, model, user)
        self._remember(secret, None, user)  # valid, whatever the model
        return user

    def _remember(self, secret: str, model: str | None, user: str) -> None:
        with self._lock:
            if len(self._valid) >= self.max_entries:
                self._valid.clear()
            self._valid[(secret, model)] = (user, time.monotonic() + self.ttl)

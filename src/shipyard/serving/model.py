"""What serving talks about: deployments, the model versions they route to, and the live figures
per version that a rollout decision reads. Frozen values, no I/O.

A deployment routes the traffic of one endpoint to versions of one registered model:

- ``single``: one ``primary`` target takes all traffic;
- ``blue_green``: a ``primary`` takes all traffic and the previous one stays loaded as ``standby``,
  so a switch back is instant;
- ``canary``: the ``challenger`` takes ``weight`` percent of live traffic, raised step by step by the
  canary policy, and is promoted or rolled back from live analysis;
- ``shadow``: the ``shadow`` target gets a copy of every request; its answers are logged and
  compared with the primary's, never returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Strategy = Literal["single", "blue_green", "canary", "shadow"]
STRATEGIES: tuple[Strategy, ...] = ("single", "blue_green", "canary", "shadow")

Role = Literal["primary", "challenger", "shadow", "standby"]
Status = Literal["active", "paused"]


@dataclass(frozen=True)
class Target:
    """One version a deployment routes to. ``weight`` is its percent of live traffic (0-100; the
    live weights of a deployment sum to 100, shadow and standby targets have 0). ``alias`` records
    the alias it was named by (``champion``), resolved to ``version`` when the deployment changed."""

    model: str
    version: int
    role: Role
    weight: int
    alias: str | None = None


@dataclass(frozen=True)
class CanaryPolicy:
    """How a canary advances and what it must show at each step. A check with fewer than
    ``min_requests`` samples on either side is not decided yet (no traffic is never a pass)."""

    steps: tuple[int, ...] = (10, 25, 50, 100)  # challenger weight at each step, percent
    step_seconds: int = 60  # least time spent at a step before it can advance
    min_requests: int = 200  # per version, within the step, before any check is decided
    max_error_rate: float = 0.01  # challenger errors / requests
    max_p99_ratio: float = 1.5  # challenger p99 latency / primary p99 latency
    min_agreement: float = 0.95  # share of requests where challenger and primary agree
    max_metric_drop: float | None = None  # label metric: primary - challenger, once labels are known
    #: A step whose checks still lack samples after this long fails: no traffic is never a pass.
    progress_deadline_seconds: int = 600
    #: On promotion, point this registry alias at the new primary (None: the registry is untouched).
    promote_alias: str | None = None


@dataclass(frozen=True)
class Deployment:
    name: str
    model: str
    strategy: Strategy
    targets: tuple[Target, ...]
    status: Status = "active"
    public: bool = False  # predicting needs no token
    canary: CanaryPolicy | None = None
    feature_service: str | None = None  # online features fetched by entity key before predicting
    revision: int = 1  # increases with every change; replicas follow the highest revision
    created_at: int = 0  # epoch ms
    updated_at: int = 0
    created_by: str = ""

    def live(self) -> tuple[Target, ...]:
        """Targets that answer requests (weight > 0)."""
        return tuple(t for t in self.targets if t.weight > 0)

    def role(self, role: Role) -> Target | None:
        return next((t for t in self.targets if t.role == role), None)


@dataclass(frozen=True)
class VersionWindow:
    """What one server replica saw of one version of one deployment over a window: the live
    figures a canary decision reads. Replicas each write theirs; the decider sums them."""

    deployment: str
    model: str
    version: int
    role: Role
    start: int  # epoch ms
    end: int
    requests: int = 0
    errors: int = 0
    #: Prometheus-style cumulative latency histogram: upper bound in ms -> count of requests.
    latency_buckets: dict[float, int] = field(default_factory=dict)
    compared: int = 0  # requests also answered by the primary (canary or shadow)
    agreed: int = 0  # of those, how many gave the same answer

"""Rows to :mod:`.model` values and back, and the lookups the use cases start with (inside the
caller's transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from shipyard.errors import NotFound
from shipyard.serving.canary import Check
from shipyard.serving.model import CanaryPolicy, Deployment, Target, VersionWindow
from shipyard.serving.tables import (
    DecisionRow,
    DeploymentHeadRow,
    DeploymentRow,
    LeaseRow,
    VersionWindowRow,
)
from shipyard.storage.metadata.base import table

deployments_t = table(DeploymentRow)
head_t = table(DeploymentHeadRow)
windows_t = table(VersionWindowRow)
decisions_t = table(DecisionRow)
leases_t = table(LeaseRow)
HEAD_ID = 1


@dataclass(frozen=True)
class DecisionRecord:
    """A decision about a deployment: the canary decider's (``actor`` is the decider) or a
    person's promote/rollback, with the checks and figures it rested on."""

    id: str
    deployment: str
    at: int
    action: str  # advance | promote | rollback | wait (a wait is reported, never stored)
    revision: int
    weight: int
    reason: str
    checks: tuple[Check, ...]
    figures: Mapping[str, object]
    actor: str


def policy_dict(policy: CanaryPolicy | None) -> dict[str, Any] | None:
    return None if policy is None else {**asdict(policy), "steps": list(policy.steps)}


def to_policy(data: Mapping[str, Any] | None) -> CanaryPolicy | None:
    if data is None:
        return None
    known = CanaryPolicy.__dataclass_fields__
    values = {k: v for k, v in data.items() if k in known}
    if "steps" in values:
        values["steps"] = tuple(values["steps"])
    return CanaryPolicy(**values)


def targets_json(targets: tuple[Target, ...] | list[Target]) -> list[dict[str, Any]]:
    return [asdict(t) for t in targets]


def to_deployment(row: Any) -> Deployment:
    return Deployment(
        name=row.name,
        model=row.model,
        strategy=row.strategy,
        targets=tuple(Target(**t) for t in row.targets),
        status=row.status,
        public=row.public,
        canary=to_policy(row.canary),
        feature_service=row.feature_service,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
    )


def lock_head(conn: Connection) -> None:
    """Take the head row's lock first in every change, so writers queue in one order (no deadlock
    between two changes of one deployment, no race between two creations of one name)."""
    found = conn.execute(select(head_t.c.revision).where(head_t.c.id == HEAD_ID).with_for_update()).first()
    if found is None:
        conn.execute(insert(head_t).values(id=HEAD_ID, revision=0))


def deployment_row(conn: Connection, name: str, *, lock: bool = False, deleted: bool = False) -> Any:
    """The deployment's row; with ``lock``, the head's lock and then the row's (see :func:`lock_head`)."""
    if lock:
        lock_head(conn)
    query = select(deployments_t).where(deployments_t.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None or (row.deleted and not deleted):
        raise NotFound(f"deployment {name!r} does not exist", field="deployment")
    return row


def next_revision(conn: Connection) -> int:
    """The next revision, taken under the head row's lock (writers queue on it until they commit)."""
    changed = conn.execute(
        update(head_t).where(head_t.c.id == HEAD_ID).values(revision=head_t.c.revision + 1)
    ).rowcount
    if not changed:
        conn.execute(insert(head_t).values(id=HEAD_ID, revision=1))
    revision: int = conn.execute(select(head_t.c.revision).where(head_t.c.id == HEAD_ID)).scalar_one()
    return revision


def bucket_json(buckets: Mapping[float, int]) -> dict[str, int]:
    return {repr(float(bound)): int(count) for bound, count in buckets.items()}


def to_window(row: Any) -> VersionWindow:
    return VersionWindow(
        deployment=row.deployment,
        model=row.model,
        version=row.version,
        role=row.role,
        start=row.start,
        end=row.end,
        requests=row.requests,
        errors=row.errors,
        latency_buckets={float(b): int(c) for b, c in row.latency_buckets.items()},
        compared=row.compared,
        agreed=row.agreed,
    )


def to_decision(row: Any) -> DecisionRecord:
    return DecisionRecord(
        id=row.id,
        deployment=row.deployment,
        at=row.at,
        action=row.action,
        revision=row.revision,
        weight=row.weight,
        reason=row.reason,
        checks=tuple(Check(**c) for c in row.checks),
        figures=row.figures,
        actor=row.actor,
    )

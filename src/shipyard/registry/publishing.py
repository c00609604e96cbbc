"""The registry's events, published last in the transaction of the change (see :mod:`.events`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from shipyard.events import log as event_log
from shipyard.registry.entities import Approval, ApprovalStatus, Stage
from shipyard.registry.events import (
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    ModelPromoted,
    StageChanged,
)


def publish_transition(
    conn: Connection,
    model: str,
    version: int,
    from_stage: str,
    target: Stage,
    displaced: Sequence[int],
    *,
    actor: str,
) -> None:
    """``model.stage_changed`` for the version (and for each production version it displaced),
    then ``model.promoted`` when it entered production."""
    for other in displaced:
        event_log.publish(
            conn, StageChanged(model, other, Stage.PRODUCTION.value, Stage.ARCHIVED.value), actor=actor
        )
    event_log.publish(conn, StageChanged(model, version, from_stage, target.value), actor=actor)
    if target is Stage.PRODUCTION:
        previous = displaced[-1] if displaced else None
        event_log.publish(conn, ModelPromoted(model, version, target.value, previous), actor=actor)


def publish_approval(conn: Connection, approval: Approval, *, actor: str) -> None:
    kind = {
        ApprovalStatus.PENDING: ApprovalRequested,
        ApprovalStatus.APPROVED: ApprovalGranted,
        ApprovalStatus.REJECTED: ApprovalRejected,
    }[approval.status]
    event_log.publish(
        conn, kind(approval.model, approval.version, approval.target_stage.value, approval.id), actor=actor
    )

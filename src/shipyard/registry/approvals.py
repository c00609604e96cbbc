"""Approval requests: a version's move to a stage, asked by one user and decided by another.
Functions run inside the caller's write transaction, after it locked the model row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import Conflict, PermissionDenied
from shipyard.registry import records
from shipyard.registry.entities import Approval, ApprovalStatus, Stage
from shipyard.registry.records import approvals_t


def state(conn: Connection, model: Any, version: int, target: Stage) -> tuple[str | None, str | None]:
    """(who approved, id of a pending request) among the requests for this version and stage."""
    rows = conn.execute(
        select(approvals_t)
        .where(
            approvals_t.c.model_id == model.id,
            approvals_t.c.version == version,
            approvals_t.c.target_stage == target.value,
        )
        .order_by(approvals_t.c.created_at.desc())
    ).all()
    approved = next((r.decided_by for r in rows if r.status == ApprovalStatus.APPROVED), None)
    pending = next((r.id for r in rows if r.status == ApprovalStatus.PENDING), None)
    return approved, pending


def request(
    conn: Connection, model: Any, version: Any, target: Stage, *, actor: str, comment: str
) -> Approval:
    approval_id = new_id()
    conn.execute(
        approvals_t.insert(),
        {
            "id": approval_id,
            "model_id": model.id,
            "version": version.version,
            "target_stage": target.value,
            "status": ApprovalStatus.PENDING.value,
            "requested_by": actor,
            "comment": comment,
            "decided_by": None,
            "decision_comment": "",
            "created_at": now_ms(),
            "decided_at": None,
        },
    )
    audit.append(
        conn,
        actor=actor,
        action="approval.request",
        object_type="approval",
        object_id=f"{model.name}/{version.version}",
        after={"request_id": approval_id, "target_stage": target.value},
    )
    return _load(conn, approval_id, model.name)


def decide(
    conn: Connection, model: Any, request_id: str, approve: bool, *, actor: str, comment: str
) -> Approval:
    """Decide a pending request of ``model`` (whose row the caller locked). Deciding your own
    request is PermissionDenied; deciding twice is a Conflict."""
    row = conn.execute(select(approvals_t).where(approvals_t.c.id == request_id)).one()
    if row.requested_by == actor:
        raise PermissionDenied(
            f"{actor!r} requested approval {request_id} and cannot decide it: another reviewer must",
            field="actor",
        )
    if row.status != ApprovalStatus.PENDING:
        raise Conflict(
            f"approval request {request_id} was already {row.status} by {row.decided_by}", field="request_id"
        )
    status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    conn.execute(
        update(approvals_t)
        .where(approvals_t.c.id == request_id)
        .values(status=status.value, decided_by=actor, decision_comment=comment, decided_at=now_ms())
    )
    audit.append(
        conn,
        actor=actor,
        action="approval.decide",
        object_type="approval",
        object_id=f"{model.name}/{row.version}",
        before={"request_id": request_id, "status": row.status},
        after={"request_id": request_id, "status": status.value, "comment": comment},
    )
    return _load(conn, request_id, model.name)


def _load(conn: Connection, request_id: str, model_name: str) -> Approval:
    return records.to_approval(
        conn.execute(select(approvals_t).where(approvals_t.c.id == request_id)).one(), model_name
    )

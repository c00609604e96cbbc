"""Reading records: row mapping and the filters ``list`` and ``export`` share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from shipyard.audit.model import MODEL_OBJECT_TYPES, AuditRecord
from shipyard.audit.tables import AuditRecordRow
from shipyard.core.clock import to_datetime
from shipyard.storage.metadata.base import table

records_t = table(AuditRecordRow)


def to_record(row: Any) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        id=row.id,
        at=to_datetime(row.at),
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=row.before,
        after=row.after,
        request_id=row.request_id,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def model_condition(model: str) -> ColumnElement[bool]:
    """Records about model ``model``, its versions, aliases and approvals (``churn``, ``churn/3``)."""
    return and_(
        records_t.c.object_type.in_(MODEL_OBJECT_TYPES),
        or_(
            records_t.c.object_id == model,
            records_t.c.object_id.startswith(model + "/", autoescape=True),
        ),
    )


def query(
    *,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    model: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> Select[Any]:
    """Records matching every filter given, oldest first. ``action`` ending in ``.`` or ``*``
    matches a prefix (``model.*`` or ``role.``)."""
    stmt = select(records_t)
    if actor is not None:
        stmt = stmt.where(records_t.c.actor == actor)
    if action is not None:
        if action.endswith("*") or action.endswith("."):
            stmt = stmt.where(records_t.c.action.startswith(action.rstrip("*"), autoescape=True))
        else:
            stmt = stmt.where(records_t.c.action == action)
    if object_type is not None:
        stmt = stmt.where(records_t.c.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(records_t.c.object_id == object_id)
    if model is not None:
        stmt = stmt.where(model_condition(model))
    if since_ms is not None:
        stmt = stmt.where(records_t.c.at >= since_ms)
    if until_ms is not None:
        stmt = stmt.where(records_t.c.at < until_ms)
    return stmt.order_by(records_t.c.seq)

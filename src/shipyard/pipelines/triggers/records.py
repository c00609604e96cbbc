"""Rows to models, and the lookups every use case starts with (inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from shipyard.core.clock import to_datetime
from shipyard.errors import NotFound
from shipyard.pipelines.triggers.model import Firing, FiringStatus, Trigger, TriggerKind, spec_from
from shipyard.pipelines.triggers.tables import FiringRow, TriggerRow
from shipyard.storage.metadata.base import table

triggers_t = table(TriggerRow)
firings_t = table(FiringRow)


def trigger_of(row: Any) -> Trigger:
    kind = TriggerKind(row.kind)
    return Trigger(
        id=row.id,
        name=row.name,
        pipeline=row.pipeline,
        kind=kind,
        spec=spec_from(kind, row.spec),
        params=dict(row.params or {}),
        enabled=bool(row.enabled),
        cooldown_s=row.cooldown_s,
        max_concurrent=row.max_concurrent,
        description=row.description,
        created_by=row.created_by,
        created_at=to_datetime(row.created_at),
        updated_at=to_datetime(row.updated_at),
        last_fired_at=to_datetime(row.last_fired_at),
        next_check_at=to_datetime(row.next_check_at),
        cursor=row.cursor,
    )


def firing_of(row: Any) -> Firing:
    return Firing(
        id=row.id,
        trigger_id=row.trigger_id,
        key=row.key,
        status=FiringStatus(row.status),
        due_at=to_datetime(row.due_at),
        params=dict(row.params or {}),
        detail=dict(row.detail or {}),
        run_id=row.run_id,
        error=row.error,
        created_at=to_datetime(row.created_at),
        submitted_at=to_datetime(row.submitted_at),
    )


def trigger_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(triggers_t).where(triggers_t.c.name == name)).first()
    if row is None:
        raise NotFound(f"no trigger named {name!r}", field="name")
    return row

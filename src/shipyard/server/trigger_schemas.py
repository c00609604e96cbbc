"""Request and response bodies of the trigger and scheduler routes, mapped from the trigger model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, StrictInt

from shipyard.pipelines.triggers.model import Firing, Trigger, TriggerStatus

#: Bounds of what a request may hold (the domain checks the values themselves).
MAX_ENTRIES = 100
Name = Field(min_length=1, max_length=128)


class TriggerIn(BaseModel):
    name: str = Name
    pipeline: str = Field(min_length=1, max_length=250)
    kind: str = Field(max_length=20, description="manual, schedule, new_data or event.")
    spec: dict[str, Any] | None = Field(
        None,
        max_length=20,
        description="schedule: cron, timezone, catchup, slot_param; new_data: source, path, url, table, "
        "column, view, poll_seconds; event: event_type, where.",
    )
    params: dict[str, Any] = Field(default_factory=dict, max_length=MAX_ENTRIES)
    enabled: bool = True
    cooldown: StrictInt = Field(0, description="Seconds between two firings (0: none).")
    max_concurrent: StrictInt | None = Field(
        None, description="Queued or running runs at most (unset: no limit)."
    )
    description: str = Field("", max_length=5000)


class TriggerUpdateIn(BaseModel):
    """What to change; a field left out is kept (``max_concurrent: null`` removes the limit)."""

    spec: dict[str, Any] | None = Field(
        None,
        max_length=20,
        description="The whole new spec (as in TriggerIn); restarts the trigger's cursor.",
    )
    params: dict[str, Any] | None = Field(
        None, max_length=MAX_ENTRIES, description="The parameters every run gets (replaces them all)."
    )
    cooldown: StrictInt | None = Field(None, description="Seconds between two firings (0: none).")
    max_concurrent: StrictInt | None = Field(
        None, description="Queued or running runs at most; null removes the limit, absent keeps it."
    )
    description: str | None = Field(None, max_length=5000)


class FireIn(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict, max_length=MAX_ENTRIES)
    key: str | None = Field(None, min_length=1, max_length=200, description="Makes the call idempotent.")


class BackfillIn(BaseModel):
    pipeline: str = Field(min_length=1, max_length=250)
    start: datetime
    end: datetime
    trigger: str | None = Field(None, min_length=1, max_length=128)


class TriggerOut(BaseModel):
    id: str
    name: str
    pipeline: str
    kind: str
    spec: dict[str, Any] | None
    params: dict[str, Any]
    enabled: bool
    cooldown: int
    max_concurrent: int | None
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_fired_at: datetime | None
    next_check_at: datetime | None

    @classmethod
    def of(cls, t: Trigger) -> TriggerOut:
        return cls(
            id=t.id,
            name=t.name,
            pipeline=t.pipeline,
            kind=t.kind.value,
            spec=None if t.spec is None else t.spec.to_dict(),
            params=dict(t.params),
            enabled=t.enabled,
            cooldown=t.cooldown_s,
            max_concurrent=t.max_concurrent,
            description=t.description,
            created_by=t.created_by,
            created_at=t.created_at,
            updated_at=t.updated_at,
            last_fired_at=t.last_fired_at,
            next_check_at=t.next_check_at,
        )


class TriggersOut(BaseModel):
    triggers: list[TriggerOut]


class FiringOut(BaseModel):
    id: str
    trigger_id: str
    key: str
    status: str
    due_at: datetime
    params: dict[str, Any]
    detail: dict[str, Any]
    run_id: str | None
    error: str | None
    created_at: datetime
    submitted_at: datetime | None

    @classmethod
    def of(cls, f: Firing) -> FiringOut:
        return cls(
            id=f.id,
            trigger_id=f.trigger_id,
            key=f.key,
            status=f.status.value,
            due_at=f.due_at,
            params=dict(f.params),
            detail=dict(f.detail),
            run_id=f.run_id,
            error=f.error,
            created_at=f.created_at,
            submitted_at=f.submitted_at,
        )


class FiringsOut(BaseModel):
    firings: list[FiringOut]


class TriggerStatusOut(BaseModel):
    trigger: TriggerOut
    last_firing: FiringOut | None
    pending: int

    @classmethod
    def of(cls, s: TriggerStatus) -> TriggerStatusOut:
        return cls(
            trigger=TriggerOut.of(s.trigger),
            last_firing=None if s.last_firing is None else FiringOut.of(s.last_firing),
            pending=s.pending,
        )


class SchedulerStatusOut(BaseModel):
    triggers: list[TriggerStatusOut]

"""What triggers talk about: a trigger (what starts which pipeline, with which parameters) and its
firings (one per schedule slot, new watermark, matching event or manual fire).

A trigger's kind decides its spec:

- ``manual``: no spec; fired on demand with parameters;
- ``schedule``: :class:`ScheduleSpec`, a cron expression in an IANA time zone, with a catch-up
  policy for slots missed while no scheduler ran (``latest``: only the most recent; ``all``: every
  one; ``none``: none, only a slot seen on time);
- ``new_data``: :class:`NewDataSpec`, a source (file glob, folder of partitions, SQL table, or a
  feature view's source) that gains files, partitions or rows past the trigger's watermark;
- ``event``: :class:`EventSpec`, an event type (or ``domain.*``) from the event log with an
  equality filter on its payload.

Every firing has a key (trigger + slot, watermark, event position, or a manual id) that is unique
in the database: that is what makes firing idempotent (see :mod:`.scheduler`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from shipyard.errors import InvalidInput
from shipyard.pipelines.triggers import schedules
from shipyard.pipelines.triggers.schedules import CatchUp as CatchUp

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

#: Event types monitoring publishes (the domains' own types come from their ``events`` modules).
WELL_KNOWN_EVENTS = frozenset({"drift.detected", "performance.degraded"})

#: Limits on what a trigger may hold (a trigger is small; big inputs are mistakes).
MAX_PARAMS = 100
MAX_COOLDOWN_S = 366 * 24 * 3600
MAX_CONCURRENT = 1000
MIN_POLL_S = 1


class TriggerKind(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    NEW_DATA = "new_data"
    EVENT = "event"


class FiringStatus(StrEnum):
    PENDING = "pending"  # recorded, not yet submitted (or waiting for a free concurrency slot)
    SUBMITTING = "submitting"  # claimed by a scheduler; resubmitted if its lease expires
    SUBMITTED = "submitted"  # the pipeline run exists
    SKIPPED = "skipped"  # inside the cooldown: recorded so it is not fired later
    FAILED = "failed"  # the launcher refused it (e.g. the pipeline was deleted)


class SourceKind(StrEnum):
    FILES = "files"
    PARTITIONS = "partitions"
    TABLE = "table"
    FEATURE_VIEW = "feature_view"


def check_name(name: object, what: str = "trigger") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"{what} name must be a letter or '_' followed by up to 127 letters, digits, '_', '.' or '-', "
            f"got {name!r}",
            field="name" if what == "trigger" else what,
        )
    return name


def _text(value: object, name: str, limit: int = 1000) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"{name} must be 1-{limit} characters, got {value!r}", field=name)
    return value


@dataclass(frozen=True)
class ScheduleSpec:
    cron: str
    timezone: str = "UTC"
    catchup: CatchUp = CatchUp.LATEST
    #: When set, the run gets the slot's time (ISO 8601, in the time zone) as this parameter.
    slot_param: str | None = None

    def __post_init__(self) -> None:
        schedules.check_cron(self.cron)
        schedules.zone(self.timezone)
        try:
            object.__setattr__(self, "catchup", CatchUp(self.catchup))
        except ValueError:
            raise InvalidInput(
                f"catchup must be one of latest, all, none, got {self.catchup!r}", field="catchup"
            ) from None
        if self.slot_param is not None:
            check_name(self.slot_param, "slot_param")

    def to_dict(self) -> dict[str, Any]:
        return {
            "cron": self.cron,
            "timezone": self.timezone,
            "catchup": self.catchup.value,
            "slot_param": self.slot_param,
        }


@dataclass(frozen=True)
class NewDataSpec:
    source: SourceKind
    #: files: a glob (``data/*.parquet``); partitions: a folder whose sub-folders are partitions.
    path: str | None = None
    #: table: a SQLAlchemy URL and a table; ``column`` a timestamp (or increasing) column whose
    #: maximum is the watermark, else the row count is.
    url: str | None = None
    table: str | None = None
    column: str | None = None
    #: feature_view: the view whose source is watched.
    view: str | None = None
    poll_seconds: int = 60

    def __post_init__(self) -> None:
        try:
            kind = SourceKind(self.source)
        except ValueError:
            known = ", ".join(k.value for k in SourceKind)
            raise InvalidInput(
                f"source must be one of {known}, got {self.source!r}", field="source"
            ) from None
        object.__setattr__(self, "source", kind)
        required = {
            SourceKind.FILES: ("path",),
            SourceKind.PARTITIONS: ("path",),
            SourceKind.TABLE: ("url", "table"),
            SourceKind.FEATURE_VIEW: ("view",),
        }[kind]
        for name in required:
            _text(getattr(self, name), name)
        if kind is SourceKind.TABLE:
            check_name(self.table, "table")
            if self.column is not None:
                check_name(self.column, "column")
        if kind is SourceKind.FEATURE_VIEW:
            check_name(self.view, "view")
        if not isinstance(self.poll_seconds, int) or not MIN_POLL_S <= self.poll_seconds <= 86400:
            raise InvalidInput(
                f"poll_seconds must be an integer from {MIN_POLL_S} to 86400, got {self.poll_seconds!r}",
                field="poll_seconds",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.value,
            "path": self.path,
            "url": self.url,
            "table": self.table,
            "column": self.column,
            "view": self.view,
            "poll_seconds": self.poll_seconds,
        }


def check_event_type(event_type: object, known: frozenset[str]) -> str:
    """An exact event type or a ``domain.*`` pattern; it must name (or match) a known type."""
    if not isinstance(event_type, str) or len(event_type) > 200:
        raise InvalidInput(f"event_type must be a string, got {event_type!r}", field="event_type")
    prefix = event_type[:-2] if event_type.endswith(".*") else None
    if not _EVENT_TYPE.match(prefix if prefix is not None else event_type):
        raise InvalidInput(
            f"event_type must be a dotted lower-case name ('model.promoted') or 'domain.*', got {event_type!r}",
            field="event_type",
        )
    matches = any(t.startswith(prefix + ".") for t in known) if prefix is not None else event_type in known
    if not matches:
        raise InvalidInput(
            f"unknown event type {event_type!r}; known: {', '.join(sorted(known))}", field="event_type"
        )
    return event_type


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    #: payload key -> the value it must equal (all must match).
    where: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.where, Mapping) or len(self.where) > 20:
            raise InvalidInput("where must be a mapping of up to 20 payload keys", field="where")
        for key, value in self.where.items():
            _text(key, "where", 100)
            if not isinstance(value, str | int | float | bool) and value is not None:
                raise InvalidInput(
                    f"where[{key!r}] must be a string, number, boolean or null, got {type(value).__name__}",
                    field="where",
                )
        object.__setattr__(self, "where", dict(self.where))

    def to_dict(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "where": dict(self.where)}


Spec: TypeAlias = ScheduleSpec | NewDataSpec | EventSpec | None

_SPEC_OF_KIND: dict[TriggerKind, type[ScheduleSpec] | type[NewDataSpec] | type[EventSpec] | None] = {
    TriggerKind.MANUAL: None,
    TriggerKind.SCHEDULE: ScheduleSpec,
    TriggerKind.NEW_DATA: NewDataSpec,
    TriggerKind.EVENT: EventSpec,
}


def parse_kind(kind: object) -> TriggerKind:
    try:
        return TriggerKind(str(kind))
    except ValueError:
        known = ", ".join(k.value for k in TriggerKind)
        raise InvalidInput(f"kind must be one of {known}, got {kind!r}", field="kind") from None


def spec_from(kind: TriggerKind, data: Mapping[str, Any] | None) -> Spec:
    """Build the spec of ``kind`` from a mapping (as stored, or as a user typed it)."""
    cls = _SPEC_OF_KIND[kind]
    if cls is None:
        if data:
            raise InvalidInput("a manual trigger takes no spec", field="spec")
        return None
    if not isinstance(data, Mapping):
        raise InvalidInput(f"a {kind.value} trigger needs a spec", field="spec")
    names = set(cls.__dataclass_fields__)
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidInput(
            f"unknown {kind.value} spec field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}",
            field="spec",
        )
    try:
        return cls(**{k: v for k, v in data.items() if v is not None})
    except TypeError as exc:  # a required field is missing
        raise InvalidInput(f"incomplete {kind.value} spec: {exc}", field="spec") from None


def check_params(params: Mapping[str, object] | None) -> dict[str, object]:
    if params is None:
        return {}
    if not isinstance(params, Mapping) or len(params) > MAX_PARAMS:
        raise InvalidInput(f"params must be a mapping of up to {MAX_PARAMS} entries", field="params")
    for key in params:
        check_name(key, "params")
    return dict(params)


def check_cooldown(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COOLDOWN_S:
        raise InvalidInput(
            f"cooldown must be a whole number of seconds from 0 to {MAX_COOLDOWN_S}, got {value!r}",
            field="cooldown",
        )
    return value


def check_max_concurrent(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENT:
        raise InvalidInput(
            f"max_concurrent must be a whole number from 1 to {MAX_CONCURRENT} (or unset), got {value!r}",
            field="max_concurrent",
        )
    return value


@dataclass(frozen=True)
class Trigger:
    id: str
    name: str
    pipeline: str
    kind: TriggerKind
    spec: Spec
    params: Mapping[str, object]
    enabled: bool
    cooldown_s: int
    max_concurrent: int | None
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    #: When the trigger last started (or recorded) a run; None if never.
    last_fired_at: datetime | None
    #: When a scheduler next looks at it (the next slot of a schedule); None for manual triggers.
    next_check_at: datetime | None
    #: The scheduler's position: last slot (epoch ms), watermark, or event-log position.
    cursor: str | None

    def describe(self) -> str:
        """What fires it, in a few words."""
        spec = self.spec
        if isinstance(spec, ScheduleSpec):
            return f"{spec.cron} ({spec.timezone}, catch-up {spec.catchup.value})"
        if isinstance(spec, NewDataSpec):
            return f"{spec.source.value.replace('_', ' ')} {spec.path or spec.view or spec.table}"
        if isinstance(spec, EventSpec):
            cond = ", ".join(f"{k}={v}" for k, v in spec.where.items())
            return spec.event_type + (f" where {cond}" if cond else "")
        return "on demand"

    def next_fire(self) -> str | None:
        """When it fires next, in words; None for a schedule (its next slot is ``next_check_at``)."""
        if not self.enabled:
            return "disabled"
        if isinstance(self.spec, ScheduleSpec):
            return None
        if isinstance(self.spec, NewDataSpec):
            return f"when new data arrives (checked every {self.spec.poll_seconds}s)"
        if isinstance(self.spec, EventSpec):
            return "on the next matching event"
        return "on demand"

    def to_dict(self) -> dict[str, Any]:
        """The trigger's definition as the audit trail records it."""
        return {
            "name": self.name,
            "pipeline": self.pipeline,
            "kind": self.kind.value,
            "spec": None if self.spec is None else self.spec.to_dict(),
            "params": dict(self.params),
            "enabled": self.enabled,
            "cooldown_s": self.cooldown_s,
            "max_concurrent": self.max_concurrent,
            "description": self.description,
        }


@dataclass(frozen=True)
class Firing:
    id: str
    trigger_id: str
    key: str
    status: FiringStatus
    #: The slot (schedule), or when the data/event/manual request was seen.
    due_at: datetime
    params: Mapping[str, object]
    #: What caused it: ``{"slot": ...}``, ``{"watermark": ...}``, ``{"event_seq": ...}``, ``{"by": ...}``.
    detail: Mapping[str, object]
    run_id: str | None
    error: str | None
    created_at: datetime
    submitted_at: datetime | None


@dataclass(frozen=True)
class TriggerStatus:
    """One line of ``shipyard scheduler status``."""

    trigger: Trigger
    last_firing: Firing | None
    pending: int

"""Trigger use cases: create, change, enable/disable, delete, fire by hand, backfill, status.
One transaction per call; every change is appended to the audit trail (object type ``trigger``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms, to_ms
from shipyard.core.ids import new_id
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.pipelines.triggers import schedules
from shipyard.pipelines.triggers.dispatch import NewFiring, record, submit_pending
from shipyard.pipelines.triggers.model import (
    WELL_KNOWN_EVENTS,
    EventSpec,
    Firing,
    NewDataSpec,
    ScheduleSpec,
    SourceKind,
    Spec,
    Trigger,
    TriggerKind,
    TriggerStatus,
    check_cooldown,
    check_event_type,
    check_max_concurrent,
    check_name,
    check_params,
    parse_kind,
    spec_from,
)
from shipyard.pipelines.triggers.ports import (
    EventFeed,
    FeatureViewSources,
    PipelineCatalog,
    PipelineLauncher,
    UnavailableLauncher,
)
from shipyard.pipelines.triggers.records import firing_of, firings_t, trigger_of, trigger_row, triggers_t
from shipyard.pipelines.triggers.scheduler import slot_firing
from shipyard.storage.metadata.database import Database
from shipyard.storage.metadata.upsert import insert_ignore

#: A backfill starts at most this many runs.
MAX_BACKFILL_SLOTS = 1000
MAX_LIST = 10_000


def _parse_spec(kind: TriggerKind, spec: Spec | Mapping[str, Any] | None) -> Spec:
    if spec is None or isinstance(spec, Mapping):
        return spec_from(kind, spec)
    expected = {
        TriggerKind.SCHEDULE: ScheduleSpec,
        TriggerKind.NEW_DATA: NewDataSpec,
        TriggerKind.EVENT: EventSpec,
    }
    if kind not in expected or not isinstance(spec, expected[kind]):
        raise InvalidInput(f"a {kind.value} trigger cannot take a {type(spec).__name__}", field="spec")
    return spec


class TriggerService:
    def __init__(
        self,
        db: Database,
        launcher: PipelineLauncher,
        *,
        pipelines: PipelineCatalog | None = None,
        events: EventFeed | None = None,
        views: FeatureViewSources | None = None,
    ) -> None:
        self.db = db
        self.launcher = launcher
        self.pipelines = pipelines
        self.events = events
        self.views = views

    # -- definitions ------------------------------------------------------------------------------

    def _check_spec(self, kind: TriggerKind, spec: Spec) -> None:
        if isinstance(spec, EventSpec):
            known = WELL_KNOWN_EVENTS | (self.events.known_types() if self.events else frozenset())
            check_event_type(spec.event_type, known)
        if (
            isinstance(spec, NewDataSpec)
            and spec.source is SourceKind.FEATURE_VIEW
            and self.views is not None
        ):
            assert spec.view is not None
            self.views.source_of(spec.view)  # NotFound for an unknown view

    def _check_pipeline(self, pipeline: object) -> str:
        if not isinstance(pipeline, str) or not pipeline or len(pipeline) > 250:
            raise InvalidInput(f"pipeline must be a pipeline name, got {pipeline!r}", field="pipeline")
        if self.pipelines is not None and not self.pipelines.exists(pipeline):
            raise NotFound(f"no pipeline named {pipeline!r}", field="pipeline")
        return pipeline

    def _start(self, kind: TriggerKind, spec: Spec, now: int) -> tuple[int | None, str | None]:
        """The first ``next_check_at`` and cursor of a trigger enabled at ``now``."""
        if isinstance(spec, ScheduleSpec):
            slot = schedules.next_slot(spec.cron, spec.timezone, datetime.fromtimestamp(now / 1000, UTC))
            return (None if slot is None else to_ms(slot)), str(now)
        if isinstance(spec, EventSpec):
            return now, str(self.events.latest()) if self.events is not None else "0"
        if isinstance(spec, NewDataSpec):
            return now, None
        return None, None

    def create(
        self,
        name: str,
        pipeline: str,
        kind: TriggerKind | str,
        spec: Spec | Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, object] | None = None,
        enabled: bool = True,
        cooldown: int = 0,
        max_concurrent: int | None = None,
        description: str = "",
        actor: str,
    ) -> Trigger:
        check_name(name)
        kind = parse_kind(kind)
        parsed = _parse_spec(kind, spec)
        run_params = check_params(params)
        cooldown = check_cooldown(cooldown)
        max_concurrent = check_max_concurrent(max_concurrent)
        if not isinstance(description, str) or len(description) > 5000:
            raise InvalidInput("description must be at most 5000 characters", field="description")
        self._check_pipeline(pipeline)
        self._check_spec(kind, parsed)
        now = now_ms()
        next_check, cursor = self._start(kind, parsed, now) if enabled else (None, None)
        row = {
            "id": new_id(),
            "name": name,
            "pipeline": pipeline,
            "kind": kind.value,
            "spec": None if parsed is None else parsed.to_dict(),
            "params": run_params,
            "enabled": bool(enabled),
            "cooldown_s": cooldown,
            "max_concurrent": max_concurrent,
            "description": description,
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
            "last_fired_at": None,
            "next_check_at": next_check,
            "cursor": cursor,
        }
        with self.db.write() as conn:
            if not insert_ignore(conn, triggers_t, [row]):
                raise AlreadyExists(f"a trigger named {name!r} exists already", field="name")
            trigger = trigger_of(conn.execute(select(triggers_t).where(triggers_t.c.id == row["id"])).one())
            audit.append(
                conn,
                actor=actor,
                action="trigger.create",
                object_type="trigger",
                object_id=name,
                after=trigger.to_dict(),
            )
        return trigger

    def get(self, name: str) -> Trigger:
        with self.db.read() as conn:
            return trigger_of(trigger_row(conn, name))

    def list_triggers(self, *, pipeline: str | None = None, kind: str | None = None) -> list[Trigger]:
        query = select(triggers_t).order_by(triggers_t.c.name).limit(MAX_LIST)
        if pipeline is not None:
            query = query.where(triggers_t.c.pipeline == pipeline)
        if kind is not None:
            query = query.where(triggers_t.c.kind == parse_kind(kind).value)
        with self.db.read() as conn:
            return [trigger_of(r) for r in conn.execute(query)]

    def update(
        self,
        name: str,
        *,
        spec: Spec | Mapping[str, Any] | None = None,
        params: Mapping[str, object] | None = None,
        cooldown: int | None = None,
        max_concurrent: int | bool | None = False,
        description: str | None = None,
        actor: str,
    ) -> Trigger:
        """Change what is given (``max_concurrent=None`` removes the limit; leave it out to keep it).
        A changed spec restarts the trigger's schedule, watermark or event position from now."""
        if (
            spec is None
            and params is None
            and cooldown is None
            and max_concurrent is False
            and description is None
        ):
            raise InvalidInput(
                "nothing to change: give spec, params, cooldown, max_concurrent or description",
                field="trigger",
            )
        with self.db.write() as conn:
            row = trigger_row(conn, name)
            before = trigger_of(row)
            values: dict[str, Any] = {"updated_at": now_ms()}
            if spec is not None:
                parsed = _parse_spec(before.kind, spec)
                self._check_spec(before.kind, parsed)
                values["spec"] = None if parsed is None else parsed.to_dict()
                if before.enabled:
                    values["next_check_at"], values["cursor"] = self._start(
                        before.kind, parsed, values["updated_at"]
                    )
            if params is not None:
                values["params"] = check_params(params)
            if cooldown is not None:
                values["cooldown_s"] = check_cooldown(cooldown)
            if max_concurrent is not False:
                values["max_concurrent"] = check_max_concurrent(max_concurrent)
            if description is not None:
                if not isinstance(description, str) or len(description) > 5000:
                    raise InvalidInput("description must be at most 5000 characters", field="description")
                values["description"] = description
            return self._change(conn, before, values, "trigger.update", actor)

    def _change(self, conn: Any, before: Trigger, values: dict[str, Any], action: str, actor: str) -> Trigger:
        conn.execute(update(triggers_t).where(triggers_t.c.id == before.id).values(**values))
        after = trigger_of(conn.execute(select(triggers_t).where(triggers_t.c.id == before.id)).one())
        audit.append(
            conn,
            actor=actor,
            action=action,
            object_type="trigger",
            object_id=before.name,
            before=before.to_dict(),
            after=after.to_dict(),
        )
        return after

    def set_enabled(self, name: str, enabled: bool, *, actor: str) -> Trigger:
        """Enable or disable a trigger. Enabling starts from now: slots, data and events that came
        while it was disabled do not fire."""
        with self.db.write() as conn:
            before = trigger_of(trigger_row(conn, name))
            if before.enabled == enabled:
                return before
            values: dict[str, Any] = {"enabled": enabled, "updated_at": now_ms()}
            if enabled:
                values["next_check_at"], values["cursor"] = self._start(
                    before.kind, before.spec, values["updated_at"]
                )
            else:
                values["next_check_at"] = None
            return self._change(
                conn, before, values, "trigger.enable" if enabled else "trigger.disable", actor
            )

    def delete(self, name: str, *, actor: str) -> None:
        """Delete a trigger and its firing history (runs it started are kept)."""
        with self.db.write() as conn:
            before = trigger_of(trigger_row(conn, name))
            conn.execute(delete(firings_t).where(firings_t.c.trigger_id == before.id))
            conn.execute(delete(triggers_t).where(triggers_t.c.id == before.id))
            audit.append(
                conn,
                actor=actor,
                action="trigger.delete",
                object_type="trigger",
                object_id=name,
                before=before.to_dict(),
            )

    # -- firing -----------------------------------------------------------------------------------

    def fire(
        self, name: str, params: Mapping[str, object] | None = None, *, key: str | None = None, actor: str
    ) -> Firing:
        """Start the trigger's pipeline now with its parameters overridden by ``params``. A ``key``
        makes the call idempotent: firing again with the same key returns the first firing."""
        extra = check_params(params)
        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200):
            raise InvalidInput("key must be 1-200 characters", field="key")
        with self.db.write() as conn:
            trigger = trigger_of(trigger_row(conn, name))
            if not trigger.enabled:
                raise Conflict(f"trigger {name!r} is disabled; enable it first", field="name")
            self._can_launch()
            at = now_ms()
            firing = NewFiring(
                f"manual/{key or new_id()}", at, {**trigger.params, **extra}, {"by": actor, "params": extra}
            )
            record(conn, trigger.id, [firing])
            conn.execute(update(triggers_t).where(triggers_t.c.id == trigger.id).values(last_fired_at=at))
            row = conn.execute(select(firings_t).where(firings_t.c.key == f"{trigger.id}/{firing.key}")).one()
            audit.append(
                conn,
                actor=actor,
                action="trigger.fire",
                object_type="trigger",
                object_id=name,
                after={"firing": row.key, "params": extra},
            )
        submit_pending(self.db, self.launcher, only=[row.id])
        return self._firing(row.id)

    def backfill(
        self,
        pipeline: str,
        start: datetime,
        end: datetime,
        *,
        trigger: str | None = None,
        actor: str,
    ) -> list[Firing]:
        """One run per slot of the pipeline's schedule with ``start <= slot < end``, under the same
        keys the scheduler uses: a slot that already fired is not run again."""
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput(
                "start and end need a time zone (e.g. 2024-05-01T00:00:00+00:00)", field="start"
            )
        if end <= start:
            raise InvalidInput("end must be after start", field="end")
        with self.db.read() as conn:
            chosen = self._schedule_of(conn, pipeline, trigger)
        self._can_launch()
        assert isinstance(chosen.spec, ScheduleSpec)
        slots = schedules.slots_between(
            chosen.spec.cron, chosen.spec.timezone, start, end, MAX_BACKFILL_SLOTS
        )
        firings = [slot_firing(dict(chosen.params), chosen.spec, s) for s in slots]
        firings = [
            NewFiring(f.key, f.due_at, f.params, {**f.detail, "by": actor, "backfill": True}) for f in firings
        ]
        keys = [f"{chosen.id}/{f.key}" for f in firings]
        with self.db.write() as conn:
            record(conn, chosen.id, firings)
            audit.append(
                conn,
                actor=actor,
                action="trigger.backfill",
                object_type="trigger",
                object_id=chosen.name,
                after={"start": start.isoformat(), "end": end.isoformat(), "slots": len(slots)},
            )
            ids = (
                [r.id for r in conn.execute(select(firings_t.c.id).where(firings_t.c.key.in_(keys)))]
                if keys
                else []
            )
        submit_pending(self.db, self.launcher, only=ids)
        with self.db.read() as conn:
            rows = conn.execute(
                select(firings_t).where(firings_t.c.key.in_(keys)).order_by(firings_t.c.due_at)
            )
            return [firing_of(r) for r in rows] if keys else []

    def _can_launch(self) -> None:
        if isinstance(self.launcher, UnavailableLauncher):
            self.launcher.submit("", {}, started_by="")  # raises BackendUnavailable saying why

    def _schedule_of(self, conn: Any, pipeline: str, trigger: str | None) -> Trigger:
        if trigger is not None:
            found = trigger_of(trigger_row(conn, trigger))
            if found.pipeline != pipeline:
                raise InvalidInput(
                    f"trigger {trigger!r} starts {found.pipeline!r}, not {pipeline!r}", field="trigger"
                )
            if found.kind is not TriggerKind.SCHEDULE:
                raise InvalidInput(f"trigger {trigger!r} is not a schedule", field="trigger")
            return found
        rows = conn.execute(
            select(triggers_t).where(
                triggers_t.c.pipeline == pipeline, triggers_t.c.kind == TriggerKind.SCHEDULE.value
            )
        ).all()
        if not rows:
            raise NotFound(f"pipeline {pipeline!r} has no schedule trigger to backfill", field="pipeline")
        if len(rows) > 1:
            names = ", ".join(sorted(r.name for r in rows))
            raise InvalidInput(
                f"pipeline {pipeline!r} has several schedules ({names}); pick one with --trigger",
                field="trigger",
            )
        return trigger_of(rows[0])

    def _firing(self, firing_id: str) -> Firing:
        with self.db.read() as conn:
            return firing_of(conn.execute(select(firings_t).where(firings_t.c.id == firing_id)).one())

    # -- reading ----------------------------------------------------------------------------------

    def firings(self, name: str, *, limit: int = 50) -> list[Firing]:
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be 1-1000, got {limit!r}", field="limit")
        with self.db.read() as conn:
            row = trigger_row(conn, name)
            rows = conn.execute(
                select(firings_t)
                .where(firings_t.c.trigger_id == row.id)
                .order_by(firings_t.c.created_at.desc(), firings_t.c.due_at.desc())
                .limit(limit)
            )
            return [firing_of(r) for r in rows]

    def status(self) -> list[TriggerStatus]:
        """Every trigger with its last firing and how many firings wait to be submitted."""
        with self.db.read() as conn:
            triggers = [
                trigger_of(r)
                for r in conn.execute(select(triggers_t).order_by(triggers_t.c.name).limit(MAX_LIST))
            ]
            latest = (
                select(firings_t.c.trigger_id, func.max(firings_t.c.created_at).label("at"))
                .group_by(firings_t.c.trigger_id)
                .subquery()
            )
            last: dict[str, Firing] = {}
            for r in conn.execute(
                select(firings_t).join(
                    latest,
                    (latest.c.trigger_id == firings_t.c.trigger_id) & (latest.c.at == firings_t.c.created_at),
                )
            ):
                f = firing_of(r)
                if f.trigger_id not in last or f.due_at > last[f.trigger_id].due_at:
                    last[f.trigger_id] = f
            pending: dict[str, int] = dict(
                conn.execute(
                    select(firings_t.c.trigger_id, func.count())
                    .where(firings_t.c.status.in_(["pending", "submitting"]))
                    .group_by(firings_t.c.trigger_id)
                ).all()
            )
        return [TriggerStatus(t, last.get(t.id), int(pending.get(t.id, 0))) for t in triggers]

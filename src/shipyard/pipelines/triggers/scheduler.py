"""The durable scheduler: each tick evaluates the triggers that are due and submits their firings.

A tick reads the enabled triggers whose ``next_check_at`` has come, works out each one's firings
(schedule slots, new data past the watermark, matching events) outside any transaction, then
records them: in one transaction per batch, each trigger's cursor is moved with a compare-and-set
on the cursor it was evaluated from, and its firings are inserted under their unique keys. Two
schedulers evaluating the same trigger therefore record its firings once: the loser's
compare-and-set matches nothing, and even a stale evaluation could only repeat keys that exist.
Then pending firings are submitted (see :mod:`.dispatch`). A scheduler killed at any point leaves
either nothing (the transaction rolled back; the next tick evaluates again) or pending firings
(the next tick submits them).

Every ``sweep_every_s`` a tick also fails the pipeline runs whose process died (no heartbeat for
``stale_after_s``, see :meth:`shipyard.pipelines.service.PipelineService.abandon_stale`), so a
killed executor does not leave runs RUNNING, counted against a trigger's concurrency, forever.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from shipyard.core.clock import now_ms, to_datetime, to_ms
from shipyard.errors import BackendUnavailable, ShipyardError
from shipyard.pipelines.triggers import duckdb_tables, schedules, sources
from shipyard.pipelines.triggers.dispatch import DEFAULT_LEASE_S, NewFiring, record_many, submit_pending
from shipyard.pipelines.triggers.model import (
    CatchUp,
    EventSpec,
    Firing,
    FiringStatus,
    NewDataSpec,
    ScheduleSpec,
    SourceKind,
    TriggerKind,
    spec_from,
)
from shipyard.pipelines.triggers.ports import (
    EventFeed,
    FeatureViewSources,
    PipelineLauncher,
    StaleRuns,
    TickJob,
)
from shipyard.pipelines.triggers.records import triggers_t
from shipyard.storage.metadata.database import Database
from shipyard.storage.metadata.engine import make_engine

log = logging.getLogger(__name__)

#: Triggers whose new cursor is written in one transaction.
BATCH = 500
#: Events read per event trigger per tick (the rest on the next tick).
EVENT_BATCH = 500
#: A ``none`` schedule still fires a slot seen this late (a tick or two behind).
DEFAULT_GRACE_S = 120.0
#: A run without a heartbeat for this long is abandoned (a dozen missed heartbeats).
DEFAULT_STALE_AFTER_S = 120.0
#: Seconds between two sweeps for abandoned runs.
DEFAULT_SWEEP_EVERY_S = 30.0


@dataclass(frozen=True)
class Evaluation:
    trigger_id: str
    old_cursor: str | None
    old_next: int | None
    cursor: str | None
    next_check_at: int | None
    firings: list[NewFiring]
    last_fired_at: int | None
    #: An event trigger's new position in the event log (its consumer cursor there moves with it).
    event_position: int | None = None


@dataclass
class TickReport:
    evaluated: int = 0
    recorded: int = 0
    submitted: list[Firing] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # what the tick's jobs did (monitors evaluated)
    abandoned: list[str] = field(default_factory=list)  # ids of runs whose process died


def _with_cooldown(
    firings: list[NewFiring], last_fired: int | None, cooldown_s: int
) -> tuple[list[NewFiring], int | None]:
    """Mark firings inside the cooldown after the previous one as skipped."""
    out: list[NewFiring] = []
    for f in firings:
        if cooldown_s and last_fired is not None and f.due_at - last_fired < cooldown_s * 1000:
            out.append(
                NewFiring(
                    f.key, f.due_at, f.params, {**f.detail, "skipped": "cooldown"}, FiringStatus.SKIPPED
                )
            )
            continue
        out.append(f)
        last_fired = f.due_at
    return out, last_fired


class Scheduler:
    def __init__(
        self,
        db: Database,
        launcher: PipelineLauncher,
        *,
        events: EventFeed | None = None,
        views: FeatureViewSources | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        grace_s: float = DEFAULT_GRACE_S,
        clock: Callable[[], datetime] | None = None,
        runs: StaleRuns | None = None,
        storage_options: Mapping[str, Mapping[str, Any]] | None = None,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        sweep_every_s: float = DEFAULT_SWEEP_EVERY_S,
        jobs: Sequence[TickJob] = (),
    ) -> None:
        self.db = db
        self.runs = runs
        self.jobs = tuple(jobs)
        self.storage_options = dict(storage_options or {})  # fsspec's, per scheme: object-store sources
        self.stale_after_s = stale_after_s
        self.sweep_every_s = sweep_every_s
        self._swept_at: float | None = None
        self.launcher = launcher
        self.events = events
        self.views = views
        self.lease_s = lease_s
        self.grace_s = grace_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self._engines: dict[str, Engine] = {}
        self._memo: dict[tuple[str, str, datetime], datetime | None] = {}

    # -- one tick ---------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Evaluate the due triggers, record their firings, submit what is pending."""
        now = now or self.clock()
        report = TickReport()
        self._memo.clear()
        for job in self.jobs:
            done, errors = job.tick(to_ms(now))
            report.done.extend(done)
            report.errors.extend(errors)
        due = self._due(to_ms(now))
        for start in range(0, len(due), BATCH):
            evaluations = []
            for row in due[start : start + BATCH]:
                try:
                    evaluations.append(self.evaluate(row, now))
                except ShipyardError as exc:  # one bad source must not stop the others
                    report.errors.append(f"trigger {row.name}: {exc}")
                    log.warning("trigger %s: %s", row.name, exc)
            report.evaluated += len(evaluations)
            report.recorded += self._apply(evaluations)
        report.submitted = submit_pending(self.db, self.launcher, lease_s=self.lease_s)
        self._sweep(report)
        return report

    def _sweep(self, report: TickReport) -> None:
        """Abandon the runs whose process died, at most every ``sweep_every_s`` seconds."""
        if self.runs is None:
            return
        started = time.monotonic()
        if self._swept_at is not None and started - self._swept_at < self.sweep_every_s:
            return
        self._swept_at = started
        try:
            report.abandoned = self.runs.abandon_stale(self.stale_after_s)
        except ShipyardError as exc:
            report.errors.append(f"abandoning stale runs: {exc}")
            log.warning("abandoning stale runs: %s", exc)
        for run_id in report.abandoned:
            log.warning("run %s abandoned: its process stopped", run_id)

    def _due(self, now: int) -> Sequence[Any]:
        with self.db.read() as conn:
            return conn.execute(
                select(triggers_t)
                .where(
                    triggers_t.c.enabled.is_(True),
                    triggers_t.c.next_check_at.is_not(None),
                    triggers_t.c.next_check_at <= now,
                )
                .order_by(triggers_t.c.id)
            ).all()

    def _apply(self, evaluations: list[Evaluation]) -> int:
        """Record a batch: lock the triggers' rows (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so a
        row another scheduler is recording is left to it; SQLite's write transaction is exclusive),
        keep the evaluations whose trigger is still enabled and still where it was evaluated from,
        move those cursors and insert their firings under their unique keys."""
        if not evaluations:
            return 0
        by_id = {e.trigger_id: e for e in evaluations}
        with self.db.write() as conn:
            query = select(triggers_t.c.id, triggers_t.c.cursor, triggers_t.c.next_check_at).where(
                triggers_t.c.id.in_(list(by_id)), triggers_t.c.enabled.is_(True)
            )
            if conn.dialect.name == "postgresql":
                query = query.order_by(triggers_t.c.id).with_for_update(skip_locked=True)
            current = conn.execute(query).all()
            fresh = [
                by_id[r.id]
                for r in current
                if r.cursor == by_id[r.id].old_cursor and r.next_check_at == by_id[r.id].old_next
            ]
            if not fresh:
                return 0
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            quote = conn.dialect.identifier_preparer.quote
            conn.exec_driver_sql(  # straight through the driver: a tick moves thousands of cursors
                f"UPDATE {quote(triggers_t.name)} SET {quote('cursor')} = {mark}, next_check_at = {mark}, "
                f"last_fired_at = COALESCE({mark}, last_fired_at) WHERE id = {mark}",
                [(e.cursor, e.next_check_at, e.last_fired_at, e.trigger_id) for e in fresh],
            )
            for e in fresh:
                if e.event_position is not None and self.events is not None:
                    self.events.advance(conn, consumer_name(e.trigger_id), e.event_position)
            return record_many(conn, [(e.trigger_id, f) for e in fresh for f in e.firings])

    # -- evaluating one trigger -------------------------------------------------------------------

    def evaluate(self, row: Any, now: datetime) -> Evaluation:
        kind = TriggerKind(row.kind)
        spec = spec_from(kind, row.spec)
        if isinstance(spec, ScheduleSpec):
            firings, cursor, next_check = self._schedule(row, spec, now)
        elif isinstance(spec, NewDataSpec):
            firings, cursor, next_check = self._new_data(row, spec, now)
        elif isinstance(spec, EventSpec):
            firings, cursor, next_check = self._event(row, spec, now)
        else:  # manual triggers are never due
            firings, cursor, next_check = [], row.cursor, None
        firings, last = _with_cooldown(firings, row.last_fired_at, row.cooldown_s)
        fired = last if last != row.last_fired_at else None
        moved = int(cursor) if kind is TriggerKind.EVENT and cursor and cursor != row.cursor else None
        return Evaluation(row.id, row.cursor, row.next_check_at, cursor, next_check, firings, fired, moved)

    def _next_slot(self, spec: ScheduleSpec, after: datetime) -> datetime | None:
        """The slot after ``after``, memoized per tick: many triggers share a schedule."""
        key = (spec.cron, spec.timezone, after)
        if key not in self._memo:
            self._memo[key] = schedules.next_slot(spec.cron, spec.timezone, after)
        return self._memo[key]

    def _schedule(
        self, row: Any, spec: ScheduleSpec, now: datetime
    ) -> tuple[list[NewFiring], str | None, int | None]:
        after = to_datetime(int(row.cursor) if row.cursor else row.created_at)
        due = to_datetime(row.next_check_at)
        following = self._next_slot(spec, due) if due > after else None
        on_time = spec.catchup is not CatchUp.NONE or (now - due).total_seconds() <= self.grace_s
        if following is not None and following > now and on_time:
            # The usual tick: exactly the slot the trigger was waiting for has come.
            slot = due.astimezone(schedules.zone(spec.timezone))
            return [slot_firing(row.params or {}, spec, slot)], str(row.next_check_at), to_ms(following)
        slots, last = schedules.due_slots(spec.cron, spec.timezone, after, now, spec.catchup, self.grace_s)
        firings = [slot_firing(row.params or {}, spec, s) for s in slots]
        cursor = str(to_ms(last)) if last is not None else row.cursor
        # From the last slot seen, so a wall time repeated in a fall-back hour is not due again.
        nxt = self._next_slot(spec, last if last is not None else now)
        return firings, cursor, None if nxt is None else to_ms(nxt)

    def _new_data(
        self, row: Any, spec: NewDataSpec, now: datetime
    ) -> tuple[list[NewFiring], str | None, int | None]:
        if spec.source is SourceKind.FEATURE_VIEW:
            if self.views is None:
                raise BackendUnavailable("feature views cannot be read by this scheduler")
            assert spec.view is not None
            spec = dataclasses.replace(self.views.source_of(spec.view), poll_seconds=spec.poll_seconds)
        sql = spec.source is SourceKind.TABLE and spec.url and not duckdb_tables.is_duckdb(spec.url)
        engine = self._engine(spec.url) if sql and spec.url else None
        found, cursor = sources.observe(spec, row.cursor, engine, self.storage_options)
        at = to_ms(now)
        firings = [NewFiring(f"data/{d.key}", at, row.params or {}, d.detail) for d in found]
        return firings, cursor, at + spec.poll_seconds * 1000

    def _event(
        self, row: Any, spec: EventSpec, now: datetime
    ) -> tuple[list[NewFiring], str | None, int | None]:
        if self.events is None:
            raise BackendUnavailable("the event log cannot be read by this scheduler")
        position = int(row.cursor) if row.cursor else 0
        batch, next_position = self.events.after(position, [spec.event_type], EVENT_BATCH)
        at = to_ms(now)
        firings = [
            NewFiring(
                f"event/{e.seq}",
                at,
                row.params or {},
                {"event_seq": e.seq, "event_type": e.type},
            )
            for e in batch
            if all(e.payload.get(k) == v for k, v in spec.where.items())
        ]
        cursor = str(next_position) if next_position > position else row.cursor
        return firings, cursor, at  # looked at again on every tick

    def _engine(self, url: str) -> Engine:
        engine = self._engines.get(url)
        if engine is None:
            engine = self._engines[url] = make_engine(url)
        return engine

    # -- the loop ---------------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        *,
        interval: float = 10.0,
        on_tick: Callable[[TickReport], None] | None = None,
    ) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (a tick in progress completes)."""
        while not stop.is_set():
            started = now_ms()
            try:
                report = self.tick()
            except BackendUnavailable as exc:  # the database is down: try again next tick
                log.warning("scheduler tick failed: %s", exc)
                report = TickReport(errors=[str(exc)])
            if on_tick is not None:
                on_tick(report)
            stop.wait(max(0.0, interval - (now_ms() - started) / 1000))

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


def consumer_name(trigger_id: str) -> str:
    """The event-log consumer an event trigger reads as."""
    return f"trigger:{trigger_id}"


def slot_firing(params: dict[str, Any], spec: ScheduleSpec, slot: datetime) -> NewFiring:
    """The firing of a schedule slot: the key backfills share with the scheduler."""
    local = slot.astimezone(schedules.zone(spec.timezone))
    run_params = dict(params)
    if spec.slot_param:
        run_params[spec.slot_param] = local.isoformat()
    return NewFiring(f"slot/{to_ms(slot)}", to_ms(slot), run_params, {"slot": local.isoformat()})

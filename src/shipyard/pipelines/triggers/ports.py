"""What triggers need from the rest of Shipyard, as small protocols the composition root wires:
something that starts pipeline runs, something that knows which pipelines exist, the source of a
feature view, and the event log to read. :class:`MemoryLauncher` is the in-memory launcher for
tests and for embedding."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection

from shipyard.core.ids import new_id
from shipyard.errors import BackendUnavailable, NotFound
from shipyard.pipelines.triggers.model import NewDataSpec


class TickJob(Protocol):
    """Other periodic work a scheduler tick runs before the triggers (monitors that are due), so
    the events it publishes fire event triggers in the same tick."""

    def tick(self, now_ms: int) -> tuple[list[str], list[str]]:
        """Run what is due; returns (what was done, errors) as one-line texts."""
        ...


class PipelineLauncher(Protocol):
    def submit(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        started_by: str,
        trigger_id: str | None = None,
        firing_key: str | None = None,
    ) -> str:
        """Start pipeline ``name`` in the background and return its run id. A ``firing_key`` that
        was submitted before returns the run it started (no second run)."""
        ...

    def active_runs(self, trigger_id: str) -> int:
        """How many runs started by ``trigger_id`` are queued or running."""
        ...


class StaleRuns(Protocol):
    def abandon_stale(self, older_than_s: float) -> list[str]:
        """Fail the active runs whose process stopped (no heartbeat or step activity for
        ``older_than_s`` seconds); return their ids."""
        ...


class PipelineCatalog(Protocol):
    def exists(self, name: str) -> bool:
        """Whether a pipeline called ``name`` is defined."""
        ...


class FeatureViewSources(Protocol):
    def source_of(self, view: str) -> NewDataSpec:
        """The watchable source behind feature view ``view`` (NotFound if there is no such view)."""
        ...


@dataclass(frozen=True)
class PublishedEvent:
    """What a trigger reads of an event-log entry."""

    seq: int
    type: str
    payload: Mapping[str, object]


class EventFeed(Protocol):
    def after(self, position: int, types: Sequence[str], limit: int) -> tuple[list[PublishedEvent], int]:
        """Events after ``position`` of ``types`` (exact or ``domain.*``), oldest first, and the
        position to continue from (past events of other types too)."""
        ...

    def latest(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        ...

    def known_types(self) -> frozenset[str]:
        """The event types a trigger may name."""
        ...

    def advance(self, conn: Connection, consumer: str, position: int) -> None:
        """Move ``consumer``'s durable cursor inside the caller's transaction."""
        ...


class UnavailableLauncher:
    """The launcher of an installation that cannot start pipelines: triggers can be defined,
    listed and changed; firing them says why nothing starts (firings wait, pending)."""

    def submit(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        started_by: str,
        trigger_id: str | None = None,
        firing_key: str | None = None,
    ) -> str:
        raise BackendUnavailable("pipeline runs cannot be started here: no pipeline engine is configured")

    def active_runs(self, trigger_id: str) -> int:
        return 0


@dataclass
class LaunchedRun:
    run_id: str
    pipeline: str
    params: dict[str, object]
    started_by: str
    trigger_id: str | None
    firing_key: str | None
    active: bool = True


@dataclass
class MemoryLauncher:
    """A launcher that records runs in memory (for tests and embedding): idempotent on
    ``firing_key``; a run stays active until :meth:`finish` is called."""

    pipelines: set[str] = field(default_factory=set)
    runs: list[LaunchedRun] = field(default_factory=list)
    calls: int = 0
    _by_key: dict[str, LaunchedRun] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def submit(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        started_by: str,
        trigger_id: str | None = None,
        firing_key: str | None = None,
    ) -> str:
        with self._lock:
            self.calls += 1
            if name not in self.pipelines:
                raise NotFound(f"no pipeline named {name!r}", field="pipeline")
            if firing_key is not None and firing_key in self._by_key:
                return self._by_key[firing_key].run_id
            run = LaunchedRun(new_id(), name, dict(params), started_by, trigger_id, firing_key)
            self.runs.append(run)
            if firing_key is not None:
                self._by_key[firing_key] = run
            return run.run_id

    def active_runs(self, trigger_id: str) -> int:
        with self._lock:
            return sum(1 for r in self.runs if r.trigger_id == trigger_id and r.active)

    def exists(self, name: str) -> bool:
        return name in self.pipelines

    def finish(self, run_id: str) -> None:
        with self._lock:
            for run in self.runs:
                if run.run_id == run_id:
                    run.active = False


@dataclass
class MemoryEventFeed:
    """An event feed held in memory (for tests): :meth:`publish` appends an event."""

    events: list[PublishedEvent] = field(default_factory=list)
    types: frozenset[str] = frozenset()
    cursors: dict[str, int] = field(default_factory=dict)

    def publish(self, type: str, payload: Mapping[str, object]) -> int:
        seq = len(self.events) + 1
        self.events.append(PublishedEvent(seq, type, dict(payload)))
        return seq

    def after(self, position: int, types: Sequence[str], limit: int) -> tuple[list[PublishedEvent], int]:
        def wanted(t: str) -> bool:
            return any(t == p or (p.endswith(".*") and t.startswith(p[:-1])) for p in types)

        found = [e for e in self.events if e.seq > position and wanted(e.type)][:limit]
        return found, (found[-1].seq if len(found) == limit else max(position, len(self.events)))

    def latest(self) -> int:
        return len(self.events)

    def known_types(self) -> frozenset[str]:
        return self.types

    def advance(self, conn: Connection, consumer: str, position: int) -> None:
        self.cursors[consumer] = position

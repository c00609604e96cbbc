"""The event log as event triggers read it (:class:`~shipyard.pipelines.triggers.ports.EventFeed`).

Each event trigger is a consumer of the log named ``trigger:<id>``; its cursor moves with
:func:`shipyard.events.log.advance` in the transaction that records its firings, so a matching
event fires exactly once. The types a trigger may name are those the domains declare (their
``events`` modules) and those monitoring publishes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

import shipyard.features.events
import shipyard.pipelines.events
import shipyard.registry.events
import shipyard.tracking.events
from shipyard.core.events import Event
from shipyard.events import log
from shipyard.events.service import EventLog
from shipyard.pipelines.triggers.model import WELL_KNOWN_EVENTS
from shipyard.pipelines.triggers.ports import PublishedEvent

#: The modules whose events a trigger may name (imported for their Event subclasses).
DECLARING = (
    shipyard.tracking.events,
    shipyard.registry.events,
    shipyard.features.events,
    shipyard.pipelines.events,
)


def declared_types() -> frozenset[str]:
    """Every ``TYPE`` of an :class:`~shipyard.core.events.Event` subclass imported so far."""
    found: set[str] = set()
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        kind = getattr(cls, "TYPE", None)
        if isinstance(kind, str):
            found.add(kind)
        pending.extend(cls.__subclasses__())
    return frozenset(found)


class EventLogFeed:
    def __init__(self, events: EventLog) -> None:
        self.events = events

    def after(self, position: int, types: Sequence[str], limit: int) -> tuple[list[PublishedEvent], int]:
        batch = self.events.page(after=position, types=types, limit=limit)
        return [PublishedEvent(e.seq, e.type, e.payload) for e in batch.events], batch.next_cursor

    def latest(self) -> int:
        return self.events.latest_seq()

    def known_types(self) -> frozenset[str]:
        return WELL_KNOWN_EVENTS | declared_types()

    def advance(self, conn: Connection, consumer: str, position: int) -> None:
        log.advance(conn, consumer, position)

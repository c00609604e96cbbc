"""``Client.events``: list and tail the event log, in process or over HTTP (same results)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from shipyard.events.api import EventReader
from shipyard.events.model import StoredEvent

PAGE = 1000


class EventFeed:
    """Reads through an :class:`~shipyard.events.api.EventReader` (filters: :mod:`shipyard.events.filters`)."""

    def __init__(self, reader: EventReader) -> None:
        self.reader = reader

    def list(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """Events with ``seq > after`` matching the filters, oldest first."""
        return self.reader.list(after=after, types=types, where=where, limit=limit)

    def tail(
        self,
        *,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        last: int = 10,
        follow: bool = False,
        poll_seconds: float = 1.0,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[StoredEvent]:
        """The last ``last`` matching events; with ``follow``, then every new one as it commits
        (polling every ``poll_seconds`` until ``stop()`` is true or the caller stops iterating)."""
        batch = self.reader.page(types=types, where=where, limit=max(1, last), newest=True)
        yield from batch.events[-last:] if last > 0 else []
        position = batch.next_cursor
        while follow and not (stop is not None and stop()):
            batch = self.reader.page(after=position, types=types, where=where, limit=PAGE)
            yield from batch.events
            position = batch.next_cursor
            if len(batch.events) < PAGE:
                time.sleep(poll_seconds)

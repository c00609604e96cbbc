"""What a reader of the event log needs, in process (:class:`~shipyard.events.service.EventLog`) or
over HTTP (:class:`shipyard.client.remote_events.RemoteEvents`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from shipyard.events.model import EventBatch, StoredEvent


class EventReader(Protocol):
    def list(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]: ...

    def page(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> EventBatch: ...

"""The event log over HTTP: :class:`RemoteEvents` reads a Shipyard server's ``/api/v1/events``
(with the token's user, who needs ``events.read`` granted globally)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shipyard.client.http import RemoteClient
from shipyard.events import filters
from shipyard.events.api import EventReader
from shipyard.events.model import EventBatch, StoredEvent

#: The server answers at most this many events per request.
PAGE_LIMIT = 1000


class RemoteEvents(RemoteClient, EventReader):
    def list(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        return self.page(after=after, types=types, where=where, limit=limit).events

    def page(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
        newest: bool = False,
    ) -> EventBatch:
        patterns = filters.check_types(types)
        conditions = filters.check_where(where)
        params: dict[str, str | int | list[str]] = {"after": after, "limit": limit}
        if patterns:
            params["type"] = patterns
        if conditions:
            params["where"] = [f"{k}={v}" for k, v in conditions.items()]
        if newest:
            params["newest"] = "true"
        data = self.connection.json("GET", "/events", params=params)
        return EventBatch(
            [
                StoredEvent(
                    seq=e["seq"],
                    id=e["id"],
                    type=e["type"],
                    at=e["at"],
                    actor=e["actor"],
                    payload=dict(e["payload"]),
                    request_id=e["request_id"],
                )
                for e in data["events"]
            ],
            int(data["next_after"]),
        )

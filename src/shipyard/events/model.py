"""What the event log talks about: stored events and a consumer's batch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: ``seq`` is its position in the log, strictly increasing in commit order."""

    seq: int
    id: str
    type: str
    at: int  # epoch milliseconds
    actor: str
    payload: dict[str, object] = field(default_factory=dict)
    request_id: str | None = None


@dataclass(frozen=True)
class EventBatch:
    """Events after a consumer's cursor; ack ``next_cursor`` once they are handled (it may pass
    events the filters skipped)."""

    events: list[StoredEvent]
    next_cursor: int

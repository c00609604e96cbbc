"""Event log response schemas (the wire shape of :class:`shipyard.events.model.StoredEvent`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shipyard.events.model import StoredEvent


class EventOut(BaseModel):
    seq: int
    id: str
    type: str
    at: int
    actor: str
    payload: dict[str, object]
    request_id: str | None

    @classmethod
    def of(cls, e: StoredEvent) -> EventOut:
        return cls(
            seq=e.seq,
            id=e.id,
            type=e.type,
            at=e.at,
            actor=e.actor,
            payload=dict(e.payload),
            request_id=e.request_id,
        )

    def to_event(self) -> StoredEvent:
        return StoredEvent(
            self.seq, self.id, self.type, self.at, self.actor, dict(self.payload), self.request_id
        )


class EventsOut(BaseModel):
    events: list[EventOut]
    #: Pass as ``after`` to continue: past the last event, or the head when the page is not full.
    next_after: int


class ErrorBody(BaseModel):
    type: str
    message: str
    field: str | None


class ErrorOut(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or unknown token."},
    403: {"model": ErrorOut, "description": "The caller has no global grant allowing events.read."},
    422: {"model": ErrorOut, "description": "A bad limit, after, type pattern or where condition."},
}

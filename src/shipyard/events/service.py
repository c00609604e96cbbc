"""Use cases over the event log: list with filters, and consumers reading with durable cursors.

Delivery to a consumer is at-least-once: :meth:`EventLog.consume` handles a batch and then acks
it, so a consumer killed mid-batch gets the unacked batch again and never skips an event. A
consumer that writes its own effect can commit it with its cursor
(:func:`shipyard.events.log.advance`) for exactly-once effects. Filters: :mod:`.filters`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, String, select, type_coerce

from shipyard.errors import InvalidInput
from shipyard.events import filters, log
from shipyard.events.model import EventBatch, StoredEvent
from shipyard.storage.metadata.database import Database

MAX_LIMIT = 10_000
MAX_SEQ = 2**63 - 1

events_t = log.events_t


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}", field="limit")
    return limit


def _check_after(after: int) -> int:
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_SEQ:
        raise InvalidInput(f"after must be an integer between 0 and {MAX_SEQ}, got {after!r}", field="after")
    return after


#: The payload as the driver returns it: text on SQLite (decoded once, below, not per row by
#: SQLAlchemy's JSON type), already decoded by psycopg on PostgreSQL.
_COLUMNS = (
    events_t.c.seq,
    events_t.c.id,
    events_t.c.type,
    events_t.c.at,
    events_t.c.actor,
    type_coerce(events_t.c.payload, String),
    events_t.c.request_id,
)
_decode = json.JSONDecoder().decode


def _to_events(rows: Sequence[Any]) -> list[StoredEvent]:
    texts = [row[5] for row in rows if isinstance(row[5], str)]
    # One decode of the batch as a JSON array: a tenth of the cost of a decode per row.
    payloads = iter(_decode("[" + ",".join(texts) + "]") if texts else [])
    return [
        StoredEvent(seq, id_, type_, at, actor, next(payloads) if isinstance(payload, str) else payload, rid)
        for seq, id_, type_, at, actor, payload, rid in rows
    ]


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """Events with ``seq > after`` matching the filters, oldest first."""
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
        """:meth:`list` with the position to continue from (``next_cursor``: past the events the
        filters skipped too), for readers that keep their own position. With ``newest``, the last
        ``limit`` matching events (still oldest first) and the head as ``next_cursor``."""
        return self._scan(_check_after(after), types, where, _check_limit(limit), newest=newest)

    def latest_seq(self) -> int:
        with self.db.read() as conn:
            return log.latest_seq(conn)

    def cursor(self, consumer: str) -> int:
        """The consumer's acked position (0 for a new consumer)."""
        with self.db.read() as conn:
            return log.cursor(conn, consumer)

    def read(
        self,
        consumer: str,
        *,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
    ) -> EventBatch:
        """The next events after the consumer's cursor; the cursor moves only with :meth:`ack`."""
        _check_limit(limit)
        patterns = filters.check_types(types)
        conditions = filters.check_where(where)
        with self.db.read() as conn:
            return self._batch(conn, log.cursor(conn, consumer), patterns, conditions, limit, False)

    def ack(self, consumer: str, position: int) -> None:
        """Record that the consumer handled everything up to ``position`` (never moves back)."""
        with self.db.write() as conn:
            log.advance(conn, consumer, position)

    def consume(
        self,
        consumer: str,
        handle: Callable[[StoredEvent], None],
        *,
        types: Sequence[str] = (),
        where: Mapping[str, object] | None = None,
        limit: int = 100,
    ) -> int:
        """Read one batch, call ``handle`` on each event, then ack the batch; returns how many
        events were handled. If ``handle`` raises, nothing is acked and the batch comes again."""
        _check_limit(limit)
        patterns = filters.check_types(types)
        conditions = filters.check_where(where)
        with self.db.read() as conn:
            position = log.cursor(conn, consumer)
            batch = self._batch(conn, position, patterns, conditions, limit, False)
        for event in batch.events:
            handle(event)
        if batch.next_cursor > position:
            self.ack(consumer, batch.next_cursor)
        return len(batch.events)

    def _scan(
        self,
        after: int,
        types: Sequence[str],
        where: Mapping[str, object] | None,
        limit: int,
        *,
        newest: bool = False,
    ) -> EventBatch:
        patterns = filters.check_types(types)
        conditions = filters.check_where(where)
        with self.db.read() as conn:
            return self._batch(conn, after, patterns, conditions, limit, newest)

    def _batch(
        self,
        conn: Connection,
        after: int,
        patterns: Sequence[str],
        where: Mapping[str, str],
        limit: int,
        newest: bool,
    ) -> EventBatch:
        # The head first: every seq up to it is committed (seqs are assigned in commit order), so a
        # batch that is not full has seen all of them and the cursor may move to the head.
        head = log.latest_seq(conn)
        stmt = select(*_COLUMNS).where(events_t.c.seq > after, events_t.c.seq <= head)
        for condition in (
            filters.type_condition(patterns),
            filters.where_condition(conn.dialect.name, where),
        ):
            if condition is not None:
                stmt = stmt.where(condition)
        if newest:
            rows = conn.execute(stmt.order_by(events_t.c.seq.desc()).limit(limit)).all()
            return EventBatch(_to_events(rows[::-1]), max(head, after))
        events = _to_events(conn.execute(stmt.order_by(events_t.c.seq).limit(limit)).all())
        if len(events) == limit:
            return EventBatch(events, events[-1].seq)
        return EventBatch(events, max(head, after))

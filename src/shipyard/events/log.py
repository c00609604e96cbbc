"""Publishing to the event log and advancing a consumer's cursor, inside the caller's transaction.

:func:`publish` takes the append lock of :mod:`shipyard.storage.metadata.locks` (the one the audit
trail takes) before it assigns the next ``seq``, and the lock is held until the caller commits, so
seqs are gapless and in commit order: no consumer can see ``seq`` N+1 before N is committed. Call it
as the last statements of the ``db.write()`` block, after the change it describes (and after any
audit append): a transaction that still had rows to lock after taking the lock could deadlock with
one that waits for the lock while holding those rows.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, func, literal, select, update
from sqlalchemy.dialects import postgresql

from shipyard.core import context
from shipyard.core.clock import now_ms
from shipyard.core.events import Event, is_event_type
from shipyard.core.ids import new_id
from shipyard.errors import InvalidInput
from shipyard.events.tables import EventCursorRow, EventHeadRow, EventRow
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.locks import ADVISORY_LOCK_KEY, take_append_lock
from shipyard.storage.metadata.upsert import upsert

events_t = table(EventRow)
head_t = table(EventHeadRow)
cursors_t = table(EventCursorRow)

HEAD_ID = 1
MAX_PAYLOAD_BYTES = 16_384
CONSUMER_MAX_LENGTH = 200


def _payload(event: Event) -> dict[str, Any]:
    try:
        encoded = json.dumps(event.payload(), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"event {event.TYPE} payload is not JSON: {exc}", field="payload") from None
    if len(encoded) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(
            f"event {event.TYPE} payload is {len(encoded)} bytes (at most {MAX_PAYLOAD_BYTES}): "
            "keep ids and names, not data",
            field="payload",
        )
    data: dict[str, Any] = json.loads(encoded)
    return data


def publish(conn: Connection, event: Event, *, actor: str) -> None:
    """Append ``event`` inside the caller's transaction (request id taken from
    :data:`shipyard.core.context.request_id`); it becomes visible when the caller commits."""
    kind = getattr(event, "TYPE", "")
    if not isinstance(kind, str) or not is_event_type(kind):
        raise InvalidInput(f"event type must be a dotted lower-case name, got {kind!r}", field="type")
    if not isinstance(actor, str) or not actor or len(actor) > 250:
        raise InvalidInput(f"event actor must be 1-250 characters, got {actor!r}", field="actor")
    fields = {
        "id": new_id(),
        "type": kind,
        "at": now_ms(),
        "actor": actor,
        "payload": _payload(event),
        "request_id": context.request_id.get(),
    }
    if conn.dialect.name == "postgresql":
        conn.execute(_APPEND_POSTGRES, fields)
        return
    take_append_lock(conn)  # SQLite: the writer lock this transaction holds already
    seq = conn.execute(
        update(head_t).where(head_t.c.id == HEAD_ID).values(seq=head_t.c.seq + 1).returning(head_t.c.seq)
    ).scalar()
    if seq is None:
        seq = 1
        conn.execute(head_t.insert(), {"id": HEAD_ID, "seq": seq})
    conn.execute(events_t.insert(), {**fields, "seq": seq})


def _append_postgres() -> Insert:
    """One statement (one round trip) that takes the append lock, advances the head and inserts
    the event under the new seq. The head is written by ``INSERT ... ON CONFLICT DO UPDATE``, which
    updates the newest committed version of the row even when the statement's snapshot predates
    the lock (the previous appender committed while this one waited): the seq stays gapless."""
    locked = select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY).label("locked")).cte("locked")
    upsert_head = postgresql.insert(head_t).from_select(
        ["id", "seq"], select(literal(HEAD_ID), literal(1)).select_from(locked)
    )
    head = (
        upsert_head.on_conflict_do_update(index_elements=[head_t.c.id], set_={"seq": head_t.c.seq + 1})
        .returning(head_t.c.seq)
        .cte("head")
    )
    columns = ["id", "type", "at", "actor", "payload", "request_id"]
    values = [bindparam(c, type_=events_t.c[c].type) for c in columns]
    return events_t.insert().from_select([*columns, "seq"], select(*values, head.c.seq))


_APPEND_POSTGRES = _append_postgres()


def latest_seq(conn: Connection) -> int:
    """The last committed seq (0 for an empty log): every event up to it is visible."""
    seq = conn.execute(select(head_t.c.seq).where(head_t.c.id == HEAD_ID)).scalar()
    return 0 if seq is None else int(seq)


def check_consumer(consumer: str) -> str:
    if not isinstance(consumer, str) or not consumer.strip() or len(consumer) > CONSUMER_MAX_LENGTH:
        raise InvalidInput(
            f"consumer must be 1-{CONSUMER_MAX_LENGTH} characters, got {consumer!r}", field="consumer"
        )
    return consumer


def cursor(conn: Connection, consumer: str) -> int:
    position = conn.execute(
        select(cursors_t.c.position).where(cursors_t.c.consumer == check_consumer(consumer))
    ).scalar()
    return 0 if position is None else int(position)


def advance(conn: Connection, consumer: str, position: int) -> None:
    """Move ``consumer``'s cursor to ``position`` inside the caller's transaction (never backwards),
    so a consumer can commit its own effect and its progress together."""
    check_consumer(consumer)
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise InvalidInput(f"position must be an integer >= 0, got {position!r}", field="position")
    latest = latest_seq(conn)
    if position > latest:
        # acking past the head would skip events published later
        raise InvalidInput(f"position {position} is past the end of the log ({latest})", field="position")
    upsert(
        conn,
        cursors_t,
        [{"consumer": consumer, "position": position, "updated_at": now_ms()}],
        keys=["consumer"],
        update=["position", "updated_at"],
        where=lambda t, excluded: t.c.position < excluded.position,
    )

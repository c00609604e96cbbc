"""Appending to the audit trail, inside the caller's transaction.

Appends are serialized so the chain never forks: on SQLite every write transaction already holds
the database's writer lock (``BEGIN IMMEDIATE``); on PostgreSQL :func:`append` takes the
transaction-level advisory lock of :mod:`shipyard.storage.metadata.locks` (shared with the event
log) in the statement that advances the head, held until the caller commits, and writes the record
and the head's new hash in a second statement (two round trips, not four). Call it as
the last statement of the ``db.write()`` block, after the change it records: appenders queue on the
lock, and a transaction that still had rows to lock after its append could deadlock with one that
waits for the lock while holding those rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, select, update
from sqlalchemy.dialects import postgresql

from shipyard.audit.chain import GENESIS, jsonable, record_hash
from shipyard.audit.tables import AuditHeadRow, AuditRecordRow
from shipyard.core import context
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import InvalidInput
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.locks import ADVISORY_LOCK_KEY, take_append_lock

records_t = table(AuditRecordRow)
head_t = table(AuditHeadRow)

__all__ = ["ADVISORY_LOCK_KEY", "append"]
HEAD_ID = 1


def _check(name: str, value: str, limit: int) -> None:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInput(f"audit {name} must be 1-{limit} characters, got {value!r}", field=name)


def _payload(name: str, value: Mapping[str, object] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput(f"audit {name} must be a mapping or None, got {type(value).__name__}", field=name)
    data: dict[str, Any] = jsonable(value)
    return data


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Mapping[str, object] | None = None,
    after: Mapping[str, object] | None = None,
) -> None:
    """Append one hash-chained record inside the caller's transaction (request id taken from
    :data:`shipyard.core.context.request_id`). Call it in the same ``db.write()`` block as the
    mutation, after it."""
    _check("actor", actor, 250)
    _check("action", action, 100)
    _check("object_type", object_type, 100)
    _check("object_id", object_id, 500)
    fields: dict[str, Any] = {
        "id": new_id(),
        "at": now_ms(),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "before": _payload("before", before),
        "after": _payload("after", after),
        "request_id": context.request_id.get(),
    }
    if conn.dialect.name == "postgresql":
        seq, prev_hash = conn.execute(_ADVANCE_HEAD_POSTGRES).one()
        fields["seq"] = seq
        digest = record_hash(prev_hash, fields)
        record = {**fields, "prev_hash": prev_hash, "hash": digest}
        conn.execute(_WRITE_RECORD_POSTGRES, {f"record_{k}": v for k, v in record.items()})
        return
    take_append_lock(conn)  # SQLite: the writer lock this transaction holds already
    head = conn.execute(select(head_t.c.seq, head_t.c.hash).where(head_t.c.id == HEAD_ID)).first()
    prev_seq, prev_hash = (0, GENESIS) if head is None else (head.seq, head.hash)
    fields["seq"] = prev_seq + 1
    digest = record_hash(prev_hash, fields)
    conn.execute(records_t.insert(), {**fields, "prev_hash": prev_hash, "hash": digest})
    if head is None:
        conn.execute(head_t.insert(), {"id": HEAD_ID, "seq": fields["seq"], "hash": digest})
    else:
        conn.execute(update(head_t).where(head_t.c.id == HEAD_ID).values(seq=fields["seq"], hash=digest))


def _advance_head_postgres() -> Any:
    """Take the append lock and move the head to the next seq, in one statement; returns the new
    seq and the previous record's hash. ``INSERT ... ON CONFLICT DO UPDATE`` reads the newest
    committed head even when the statement's snapshot predates the lock (the previous appender
    committed while this one waited), so the chain never forks; the first append inserts the head
    at seq 1 with the genesis hash."""
    locked = select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY).label("locked")).cte("locked")
    return (
        postgresql.insert(head_t)
        .from_select(
            ["id", "seq", "hash"], select(literal(HEAD_ID), literal(1), literal(GENESIS)).select_from(locked)
        )
        .on_conflict_do_update(index_elements=[head_t.c.id], set_={"seq": head_t.c.seq + 1})
        .returning(head_t.c.seq, head_t.c.hash)
    )


def _write_record_postgres() -> Any:
    """Insert the record and set the head's hash to its hash, in one statement."""
    values = {c.name: bindparam(f"record_{c.name}", type_=c.type) for c in records_t.c}
    record = records_t.insert().values(values).cte("record")
    return update(head_t).where(head_t.c.id == HEAD_ID).values(hash=values["hash"]).add_cte(record)


_ADVANCE_HEAD_POSTGRES = _advance_head_postgres()
_WRITE_RECORD_POSTGRES = _write_record_postgres()

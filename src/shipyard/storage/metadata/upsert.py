"""``INSERT … ON CONFLICT`` for the two dialects we run on (their statements differ in SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, silently skipping those whose key exists; returns how many were inserted
    (counted from RETURNING: drivers' rowcount is unreliable for ON CONFLICT and executemany)."""
    if not rows:
        return 0
    stmt = _insert(conn, table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return len(conn.execute(stmt, list(rows)).all())


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Sequence[str],
    where: Any = None,
) -> None:
    """Insert rows; on a key conflict, update ``update`` columns (only where ``where`` holds).

    ``where`` is a callable ``(table, excluded) -> condition``.
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    excluded = stmt.excluded
    condition: ColumnElement[bool] | None = where(table, excluded) if where is not None else None
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: excluded[c] for c in update}, where=condition
    )
    conn.execute(stmt, list(rows))

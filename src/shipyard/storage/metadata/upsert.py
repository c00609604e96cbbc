"""``INSERT … ON CONFLICT`` for the two dialects we run on (their statements differ in SQLAlchemy).

Statements are built once per table and shape (building one costs more than running it on SQLite)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


@functools.lru_cache(maxsize=512)
def _ignore_stmt(dialect: str, table: Table) -> Any:
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return insert.on_conflict_do_nothing().returning(*table.primary_key.columns)


@functools.lru_cache(maxsize=512)
def _upsert_stmt(
    dialect: str, table: Table, keys: tuple[str, ...], update: tuple[str, ...], where: Any
) -> Any:
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    excluded = stmt.excluded
    condition: ColumnElement[bool] | None = where(table, excluded) if where is not None else None
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: excluded[c] for c in update}, where=condition
    )


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, silently skipping those whose key exists; returns how many were inserted
    (counted from RETURNING: drivers' rowcount is unreliable for ON CONFLICT and executemany)."""
    if not rows:
        return 0
    stmt = _ignore_stmt(conn.dialect.name, table)
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
    stmt = _upsert_stmt(conn.dialect.name, table, tuple(keys), tuple(update), where)
    conn.execute(stmt, list(rows))

"""Bulk writes straight through the driver (no per-row dict building, no statement compiling), for
the hot paths that write hundreds of thousands of rows (metric points): on SQLite multi-row
``INSERT`` statements of :data:`SQLITE_CHUNK` rows (and a few smaller fixed sizes); on PostgreSQL
binary ``COPY ... FROM STDIN`` (psycopg 3) once a batch has :data:`COPY_FROM` rows or more, and one
multi-row ``INSERT`` below (a quarter quicker than a pipelined ``executemany``: one statement to
run, not one per row); and upserts as one multi-row ``INSERT ... ON CONFLICT`` statement on both.

Binary COPY needs each column's type: it is read from the database's catalog once per table and
engine. It is three times quicker than text COPY, on both sides (no text formatting in Python, no
parsing in the server)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, text

#: Rows from which PostgreSQL inserts go through COPY (below, one multi-row INSERT is as quick).
COPY_FROM = 16
#: Rows one multi-row INSERT carries at most on SQLite. Fewer rows go in statements of 64, 32 … 1
#: rows, so a connection prepares at most eight statements per table and column list, and reuses
#: them (a statement of any other size would be parsed anew every time).
SQLITE_CHUNK = 128


def insert_tuples(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, str | int] | None = None,
) -> None:
    """Insert ``rows`` (one value per name in ``columns``); ``constants`` are the same for every
    row (the caller need not repeat them in each tuple)."""
    if not rows:
        return
    constants = constants or {}
    if conn.dialect.name == "postgresql":
        if len(rows) >= COPY_FROM:
            _copy(conn, table, columns, rows, constants)
        else:
            _insert_values(conn, table, columns, rows, constants)
        return
    # SQLite: multi-row statements of a few fixed sizes, each one call into the library (an
    # executemany steps into it, and gives up the GIL, once per row: 1.5 times slower).
    start, size = 0, SQLITE_CHUNK
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        _insert_values(conn, table, columns, rows[start : start + size], constants)
        start += size


def _insert_values(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, str | int],
) -> None:
    """One ``INSERT ... VALUES (...), (...)`` statement of ``len(rows)`` rows."""
    names = (*constants, *columns)
    key = (conn.dialect.name, table.name, names, len(rows))
    statement = _statements.get(key)
    if statement is None:
        quote = conn.dialect.identifier_preparer.quote
        one = f"({', '.join([_placeholder(conn)] * len(names))})"
        statement = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) VALUES "
            + ", ".join([one] * len(rows))
        )
        _statements[key] = statement
    fixed = tuple(constants.values())
    if fixed:
        values = tuple(v for row in rows for v in (*fixed, *row))
    else:
        values = tuple(v for row in rows for v in row)
    conn.exec_driver_sql(statement, values)


#: Multi-row INSERT texts, by dialect, table, columns and row count (a few per table).
_statements: dict[tuple[str, str, tuple[str, ...], int], str] = {}


def _placeholder(conn: Connection) -> str:
    """The driver's positional parameter marker (sqlite3: ``?``, psycopg: ``%s``)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _copy(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, str | int],
) -> None:
    """Binary ``COPY`` in the connection's own transaction (None is NULL)."""
    quote = conn.dialect.identifier_preparer.quote
    ordered = [*constants, *columns]
    names = ", ".join(quote(c) for c in ordered)
    types = _column_types(conn, table)
    fixed = tuple(constants.values())
    raw: Any = conn.connection.dbapi_connection
    statement = f"COPY {quote(table.name)} ({names}) FROM STDIN (FORMAT BINARY)"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([types[c] for c in ordered])
        if fixed:
            for row in rows:
                copy.write_row((*fixed, *row))
        else:
            for row in rows:
                copy.write_row(row)


#: Rows one upsert statement carries at most (SQLite takes at most 32,766 parameters).
UPSERT_ROWS = 1000


def upsert_tuples(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
    where: str = "",
) -> None:
    """Insert ``rows`` (one value per name in ``columns``); where a row's ``keys`` exist, set its
    ``update`` columns to the new values, only where ``where`` holds (SQL over the table's columns,
    written ``{table}.name``, and the new row's, ``excluded.name``). One statement per
    :data:`UPSERT_ROWS` rows; rows must not repeat a key."""
    if not rows:
        return
    mark = _placeholder(conn)
    quote = conn.dialect.identifier_preparer.quote
    name = quote(table.name)
    one = f"({', '.join([mark] * len(columns))})"
    head = f"INSERT INTO {name} ({', '.join(quote(c) for c in columns)}) VALUES "
    tail = (
        f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        + (f" WHERE {where.format(table=name)}" if where else "")
    )
    for start in range(0, len(rows), UPSERT_ROWS):
        chunk = rows[start : start + UPSERT_ROWS]
        flat = tuple(value for row in chunk for value in row)
        conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, flat)


_types: weakref.WeakKeyDictionary[Engine, dict[str, dict[str, int]]] = weakref.WeakKeyDictionary()
_types_lock = threading.Lock()
_CATALOG = text(
    "SELECT attname, atttypid FROM pg_attribute "
    "WHERE attrelid = to_regclass(:table) AND attnum > 0 AND NOT attisdropped"
)


def _column_types(conn: Connection, table: Table) -> dict[str, int]:
    """The type oid of each of ``table``'s columns, as the database has them (cached)."""
    found = _types.get(conn.engine, {}).get(table.name)
    if found is None:
        quoted = conn.dialect.identifier_preparer.quote(table.name)
        found = {name: int(oid) for name, oid in conn.execute(_CATALOG, {"table": quoted})}
        with _types_lock:
            _types.setdefault(conn.engine, {})[table.name] = found
    return found

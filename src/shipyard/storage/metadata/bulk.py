"""Bulk inserts straight through the driver (no per-row dict building), for the hot paths that
write hundreds of thousands of rows (metric points): ``executemany`` on SQLite, ``COPY ... FROM
STDIN`` (psycopg 3) on PostgreSQL once a batch has :data:`COPY_FROM` rows or more."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, literal

#: Rows from which PostgreSQL inserts go through COPY (below, a pipelined executemany is as quick).
COPY_FROM = 16


def insert_tuples(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, str | int] | None = None,
) -> None:
    """Insert ``rows`` (one value per name in ``columns``); ``constants`` are the same for every
    row and are rendered once as quoted literals instead of being repeated in each tuple."""
    if not rows:
        return
    constants = constants or {}
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        _copy(conn, table, columns, rows, constants)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in [*constants, *columns])
    fixed = [
        str(literal(v).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        for v in constants.values()
    ]
    values = ", ".join([*fixed, *([mark] * len(columns))])
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({values})", rows)


def _copy(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, str | int],
) -> None:
    """``COPY`` in the connection's own transaction (psycopg 3 adapts each value, None is NULL)."""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in [*constants, *columns])
    fixed = tuple(constants.values())
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
        if fixed:
            for row in rows:
                copy.write_row((*fixed, *row))
        else:
            for row in rows:
                copy.write_row(row)

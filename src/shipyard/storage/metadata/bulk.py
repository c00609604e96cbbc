"""Bulk inserts straight through the driver's ``executemany`` (no per-row dict building), for the
hot paths that write hundreds of thousands of rows (metric points)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, literal


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
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in [*constants, *columns])
    fixed = [
        str(literal(v).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        for v in constants.values()
    ]
    values = ", ".join([*fixed, *([mark] * len(columns))])
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({values})", rows)

"""A feature view's rows in one normal shape for the joins and scans: join keys, ``__ev`` (event
time, epoch microseconds, BIGINT), ``__cr`` (created time likewise, only when the view has one),
then the requested features cast to their declared types.

Times become integers so the ASOF join compares plain BIGINTs and no time zone rule can creep in:
naive timestamps in sources are taken as UTC.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

from shipyard.errors import InvalidInput
from shipyard.features.model import FeatureView
from shipyard.features.offline.sources import SourceReader, TimeRange, quote
from shipyard.features.types import ValueType

EVENT = "__ev"
CREATED = "__cr"

DUCKDB_TYPES: dict[ValueType, str] = {
    ValueType.INT32: "INTEGER",
    ValueType.INT64: "BIGINT",
    ValueType.FLOAT32: "FLOAT",
    ValueType.FLOAT64: "DOUBLE",
    ValueType.STRING: "VARCHAR",
    ValueType.BOOL: "BOOLEAN",
    ValueType.BYTES: "BLOB",
    ValueType.TIMESTAMP: "TIMESTAMPTZ",
}


def connect(memory_limit: str, temp_directory: Path | None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection (one per call: connections are not shared between
    threads), bounded in memory and spilling to ``temp_directory``."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "threads": os.cpu_count() or 1,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if temp_directory is not None:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(temp_directory)
    try:
        con = duckdb.connect(config=config)
    except duckdb.Error as exc:
        raise InvalidInput(
            f"offline store settings are invalid: {exc}", field="offline_memory_limit"
        ) from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    # Registered Arrow tables have no cardinality estimate, and DuckDB then plans small-looking
    # ASOF joins as nested loops: quadratic on real entity frames. Always use the ASOF operator.
    con.execute("SET asof_loop_join_threshold = 0")
    return con


def epoch_us(column: str, duck_type: str) -> str:
    """SQL giving ``column`` as epoch microseconds (naive timestamps, dates and text as UTC)."""
    if duck_type.startswith("TIMESTAMP WITH TIME ZONE") or duck_type == "TIMESTAMPTZ":
        return f"epoch_us({column})"
    if duck_type in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT"):
        raise InvalidInput(f"{column} is a number, not a timestamp", field=column)
    return f"epoch_us(CAST({column} AS TIMESTAMP))"


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {str(r[0]): str(r[1]) for r in described}


def view_error(view: FeatureView, exc: Exception) -> InvalidInput:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InvalidInput(f"feature view {view.name!r}: cannot read its rows: {first}", field=view.name)


def join_keys(view: FeatureView) -> tuple[str, ...]:
    if not view.join_keys:
        raise InvalidInput(
            f"feature view {view.name!r}: its join keys are unknown (build it with Entity objects or load it "
            "from the registry)",
            field="entities",
        )
    return view.join_keys


def view_rows(
    reader: SourceReader,
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    features: Sequence[str],
    *,
    time_range: TimeRange | None = None,
    with_created: bool = True,
) -> tuple[str, bool]:
    """SQL of the view's rows in the normal shape and whether it has ``__cr``. Rows with a null
    join key or event time are left out: they can never match an entity row."""
    keys = join_keys(view)
    try:
        relation = reader.relation(con, view, time_range)
        types = column_types(con, relation)
    except (duckdb.Error, OSError) as exc:
        raise view_error(view, exc) from None
    declared = {f.name: f.dtype for f in view.features}
    needed = [*keys, view.timestamp_field, *features]
    created = view.created_timestamp_field if with_created else None
    if created:
        needed.append(created)
    missing = [c for c in needed if c not in types]
    if missing:
        raise InvalidInput(
            f"feature view {view.name!r}: its source has no column {missing[0]!r} "
            f"(columns: {', '.join(sorted(types))})",
            field=missing[0],
        )
    parts = [quote(k) for k in keys]
    try:
        parts.append(f"{epoch_us(quote(view.timestamp_field), types[view.timestamp_field])} AS {EVENT}")
        if created:
            parts.append(f"{epoch_us(quote(created), types[created])} AS {CREATED}")
    except InvalidInput as exc:
        raise InvalidInput(f"feature view {view.name!r}: {exc.message}", field=exc.field) from None
    for name in features:
        if name not in declared:
            raise InvalidInput(f"feature view {view.name!r} has no feature {name!r}", field=name)
        parts.append(f"CAST({quote(name)} AS {DUCKDB_TYPES[declared[name]]}) AS {quote(name)}")
    not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in (*keys, view.timestamp_field))
    sql = f"(SELECT {', '.join(parts)} FROM {relation} WHERE {not_null})"
    return sql, bool(created)

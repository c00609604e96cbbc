"""Watermarks of new-data sources: what a ``new_data`` trigger compares with its stored cursor.

- ``files``: the fingerprint of the files a glob matches (name, size, modification time); any
  change with at least one file present is new data (one firing per distinct fingerprint);
- ``partitions``: the sub-folders of a folder (``month=2024-05``), ordered by name; each name past
  the watermark is a new partition (one firing per partition);
- ``table``: ``max(column)`` of a SQL table when a column is given (a timestamp or an increasing
  id), else ``count(*)``; a value past the watermark is new rows.

A ``files`` or ``partitions`` path given as a URL (``s3://…``) is listed on its object store (see
:mod:`.object_stores`); a ``table`` whose url is ``duckdb:///…`` is read from that DuckDB file
(see :mod:`.duckdb_tables`), any other url through SQLAlchemy.

The first look at a source sets the watermark without firing: a trigger fires on data that
arrives after it was created.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, column, func, select, table
from sqlalchemy.exc import SQLAlchemyError

from shipyard.errors import BackendUnavailable, InvalidInput
from shipyard.pipelines.triggers import duckdb_tables, object_stores
from shipyard.pipelines.triggers.model import NewDataSpec, SourceKind

#: A partition folder holding more entries than this is a mistake (a glob was meant).
MAX_PARTITIONS = 100_000


@dataclass(frozen=True)
class NewData:
    """One firing's worth of new data: its key part and the watermark after it."""

    key: str
    watermark: str
    detail: dict[str, object]


def files_fingerprint(pattern: str) -> tuple[str, int]:
    """The fingerprint of the files ``pattern`` matches, and how many there are."""
    h = hashlib.sha256()
    count = 0
    for name in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
        try:
            st = os.stat(name)
        except FileNotFoundError:  # removed while we looked
            continue
        if not os.path.isfile(name):
            continue
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        count += 1
    return h.hexdigest()[:32], count


def partitions(folder: str) -> list[str]:
    path = Path(os.path.expanduser(folder))
    if not path.is_dir():
        return []
    names = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if len(names) > MAX_PARTITIONS:
        raise InvalidInput(f"{folder} holds more than {MAX_PARTITIONS} partitions", field="path")
    return names


def _ordered(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def past(value: str, watermark: str) -> bool:
    return _ordered(value) > _ordered(watermark)


def table_watermark(engine: Engine, name: str, column_name: str | None) -> str | None:
    t = table(name)
    query = select(func.max(column(column_name))) if column_name else select(func.count())
    try:
        with engine.connect() as conn:
            value = conn.execute(query.select_from(t)).scalar()
    except SQLAlchemyError as exc:
        raise BackendUnavailable(f"cannot read table {name!r}: {str(exc).splitlines()[0]}") from None
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def observe(
    spec: NewDataSpec,
    cursor: str | None,
    engine: Engine | None = None,
    storage_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[NewData], str | None]:
    """The new data past ``cursor`` (oldest first) and the watermark to store.

    ``spec`` must be a ``files``, ``partitions`` or ``table`` source (a feature view is resolved to
    one of these first); ``engine`` is the engine of a ``table`` source's SQLAlchemy URL (None for
    a DuckDB file); ``storage_options`` are fsspec's options per URL scheme (``{"s3": {…}}``).
    """
    options = storage_options or {}
    if spec.source is SourceKind.FILES:
        assert spec.path is not None
        if object_stores.is_url(spec.path):
            fingerprint, count = object_stores.files_fingerprint(spec.path, options)
        else:
            fingerprint, count = files_fingerprint(spec.path)
        if cursor is None or fingerprint == cursor or count == 0:
            return [], fingerprint
        return [
            NewData(f"files/{fingerprint}", fingerprint, {"files": count, "watermark": fingerprint})
        ], fingerprint
    if spec.source is SourceKind.PARTITIONS:
        assert spec.path is not None
        if object_stores.is_url(spec.path):
            names = object_stores.partitions(spec.path, options, MAX_PARTITIONS)
        else:
            names = partitions(spec.path)
        newest = names[-1] if names else None
        if cursor is None:
            return [], newest if newest is not None else ""
        fresh = [n for n in names if n > cursor]
        return [NewData(f"partition/{n}", n, {"partition": n}) for n in fresh], (
            fresh[-1] if fresh else cursor
        )
    if spec.source is SourceKind.TABLE:
        assert spec.table is not None and spec.url is not None
        if duckdb_tables.is_duckdb(spec.url):
            value = duckdb_tables.watermark(spec.url, spec.table, spec.column)
        else:
            assert engine is not None
            value = table_watermark(engine, spec.table, spec.column)
        if value is None:
            return [], cursor if cursor is not None else ""
        if cursor is None:
            return [], value
        if cursor == "" or past(value, cursor):
            what = "max" if spec.column else "rows"
            return [NewData(f"table/{value}", value, {what: value, "watermark": value})], value
        return [], cursor
    raise InvalidInput(f"cannot watch a {spec.source.value} source directly", field="source")

"""Rows pushed to a :class:`~shipyard.features.model.PushSource`, kept offline as Parquet parts.

Each push is one part, written to a temporary file and stored whole under
``features/push/<source>/<time>-<id>.parquet`` (the artifact store's writes are atomic), so
readers see all of a push or none of it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import InvalidInput
from shipyard.features.model import PushSource
from shipyard.features.offline.sources import push_prefix

if TYPE_CHECKING:
    from shipyard.storage.artifacts.base import ArtifactStore


def validate_push(source: PushSource, rows: pa.Table | pd.DataFrame) -> pa.Table:
    """``rows`` with exactly the push schema's columns, cast to their declared types; an
    :class:`~shipyard.errors.InvalidInput` naming the column otherwise."""
    if isinstance(rows, pd.DataFrame):
        try:
            rows = pa.Table.from_pandas(rows, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"push to {source.name!r}: rows cannot be converted: {exc}", field="rows"
            ) from None
    if not isinstance(rows, pa.Table):
        raise InvalidInput(
            f"push to {source.name!r}: rows must be an Arrow table or a DataFrame, got {type(rows).__name__}",
            field="rows",
        )
    declared = {f.name: f for f in source.schema}
    unknown = [c for c in rows.column_names if c not in declared]
    if unknown:
        raise InvalidInput(
            f"push to {source.name!r}: unknown column {unknown[0]!r} (schema: {', '.join(declared)})",
            field=unknown[0],
        )
    missing = [n for n in declared if n not in rows.column_names]
    if missing:
        raise InvalidInput(f"push to {source.name!r}: missing column {missing[0]!r}", field=missing[0])
    columns = []
    for name, f in declared.items():
        column = rows.column(name)
        if not (f.dtype.accepts(column.type) or pa.types.is_null(column.type)):
            raise InvalidInput(
                f"push to {source.name!r}: column {name!r} must be {f.dtype.value}, got {column.type}",
                field=name,
            )
        try:
            if pa.types.is_timestamp(column.type) and column.type.tz is None:
                column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
            columns.append(column.cast(f.dtype.arrow()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(
                f"push to {source.name!r}: column {name!r} cannot be cast to {f.dtype.value}: {exc}",
                field=name,
            ) from None
    return pa.table(columns, names=list(declared))


def append_push(artifacts: ArtifactStore, source: PushSource, rows: pa.Table | pd.DataFrame) -> int:
    """Validate and store ``rows`` as one Parquet part; return the number of rows stored."""
    table = validate_push(source, rows)
    if table.num_rows == 0:
        return 0
    key = f"{push_prefix(source.name)}{now_ms():015d}-{new_id()}.parquet"
    with tempfile.TemporaryDirectory(prefix="shipyard-push-") as tmp:
        path = Path(tmp) / "part.parquet"
        pq.write_table(table, path)
        artifacts.put_file(key, path)
    return int(table.num_rows)

"""The prepared reference: the training data reduced once to what every later window is compared
against, so evaluating a window never rereads the training data.

Per column it keeps the sorted finite values (numbers, booleans as 0/1) or the value counts
(strings), plus null and infinity counts. That is enough for every drift method (Wasserstein and
KS from two sorted arrays, bin counts for any edges by binary search, value counts for categories)
and for the quality checks (min, max, null share, known categories). It serialises to Arrow IPC
(zstd-compressed), never pickle, so it can live in the content-addressed artifact store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.monitoring.drift.columns import (
    ColumnSummary,
    Dtype,
    column_names,
    row_count,
    summarize,
)

FORMAT = b"shipyard.drift.reference/1"
_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("dtype", pa.string()),
        ("rows", pa.int64()),
        ("nulls", pa.int64()),
        ("infinite", pa.int64()),
        ("values", pa.large_list(pa.float64())),
        ("categories", pa.large_list(pa.string())),
        ("counts", pa.large_list(pa.int64())),
    ],
    metadata={b"format": FORMAT},
)


@dataclass(frozen=True, eq=False)
class Reference:
    """Per-column summaries of the reference data, in the data's column order."""

    summaries: Mapping[str, ColumnSummary]
    rows: int

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.summaries)

    def column(self, name: str) -> ColumnSummary:
        try:
            return self.summaries[name]
        except KeyError:
            raise InvalidInput(
                f"column {name!r} is not in the reference (it has {', '.join(self.columns)})",
                field="columns",
            ) from None

    def to_bytes(self) -> bytes:
        """Arrow IPC stream, one row per column."""
        summaries = list(self.summaries.values())
        table = pa.table(
            [
                pa.array(list(self.summaries), pa.string()),
                pa.array([s.dtype for s in summaries], pa.string()),
                pa.array([s.rows for s in summaries], pa.int64()),
                pa.array([s.nulls for s in summaries], pa.int64()),
                pa.array([s.infinite for s in summaries], pa.int64()),
                _lists([s.values for s in summaries], pa.float64()),
                _lists([s.categories for s in summaries], pa.string()),
                _lists([s.counts for s in summaries], pa.int64()),
            ],
            schema=_SCHEMA.with_metadata({b"format": FORMAT, b"rows": str(self.rows).encode()}),
        )
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        return cast(bytes, sink.getvalue().to_pybytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Reference:
        try:
            table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"not a prepared drift reference: {exc}", field="reference") from None
        meta = table.schema.metadata or {}
        if meta.get(b"format") != FORMAT:
            raise InvalidInput(
                f"not a prepared drift reference (format {meta.get(b'format')!r})", field="reference"
            )
        columns = {n: table.column(n).combine_chunks() for n in table.column_names}
        summaries: dict[str, ColumnSummary] = {}
        for i, name in enumerate(columns["name"].to_pylist()):
            summaries[name] = ColumnSummary(
                dtype=cast(Dtype, columns["dtype"][i].as_py()),
                rows=columns["rows"][i].as_py(),
                nulls=columns["nulls"][i].as_py(),
                infinite=columns["infinite"][i].as_py(),
                values=_unlist(columns["values"], i, np.float64),
                categories=_unlist(columns["categories"], i, np.object_),
                counts=_unlist(columns["counts"], i, np.int64),
            )
        return cls(summaries, int(meta[b"rows"]))


def prepare_reference(data: pa.Table | pd.DataFrame, columns: Sequence[str] | None = None) -> Reference:
    """Summarise ``data`` (all columns, or ``columns``) once, for every later drift and quality
    check against it."""
    available = column_names(data)
    chosen = available if columns is None else tuple(columns)
    if not chosen:
        raise InvalidInput("the reference needs at least one column", field="columns")
    missing = [c for c in chosen if c not in available]
    if missing:
        raise InvalidInput(f"reference data has no column {', '.join(map(repr, missing))}", field="columns")
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("columns lists a column twice", field="columns")
    return Reference({name: summarize(data, name) for name in chosen}, row_count(data))


def _lists(items: list[np.ndarray | None], typ: pa.DataType) -> pa.Array:
    """A large_list array from per-row numpy arrays (None for rows without one), built from one
    flat buffer rather than row by row."""
    lengths = np.array([0 if a is None else len(a) for a in items], dtype=np.int64)
    offsets = pa.array(np.concatenate(([0], np.cumsum(lengths))), pa.int64())
    present = [a for a in items if a is not None and len(a)]
    if typ == pa.string():
        flat = pa.array([v for a in present for v in a.tolist()] if present else [], pa.string())
    else:
        flat = pa.array(np.concatenate(present) if present else np.empty(0), typ)
    mask = pa.array([a is None for a in items])
    return pa.LargeListArray.from_arrays(offsets, flat, mask=mask)


def _unlist(array: pa.Array, i: int, dtype: type) -> np.ndarray | None:
    item = array[i]
    if not item.is_valid:
        return None
    values = item.values
    if dtype is np.object_:
        out = np.empty(len(values), dtype=object)
        out[:] = values.to_pylist()
        return out
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)

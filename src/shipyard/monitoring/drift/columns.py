"""One column of a batch reduced to what drift and quality need: sorted finite values for numbers,
value counts for strings, and the null and infinity counts.

The same summary serves the prepared reference and the current window, so both sides go through
the same cleaning: ±inf and NaN/null are dropped from each side independently (missingness is a
data-quality figure, never a drift category), as Evidently does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput

#: What a column holds, as far as drift is concerned. ``int`` becomes categorical or numerical
#: depending on how many distinct values the current window has; ``other`` (dates, lists, bytes)
#: is summarised for nulls only.
Dtype = Literal["float", "int", "bool", "string", "category", "datetime", "other"]
NUMERIC: frozenset[str] = frozenset({"float", "int", "bool"})
LABELS: frozenset[str] = frozenset({"string", "category"})

Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]
Objects = npt.NDArray[np.object_]


@dataclass(eq=False)
class ColumnSummary:
    """A cleaned column: ``values`` (sorted, finite, float64) for numbers and booleans, or
    ``categories``/``counts`` for strings. ``rows`` counts every row, ``nulls`` the null/NaN ones
    and ``infinite`` the ±inf ones, which are kept out of ``values``."""

    dtype: Dtype
    rows: int
    nulls: int
    infinite: int = 0
    values: Floats | None = None
    categories: Objects | None = None
    counts: Counts | None = None
    _uniques: tuple[Floats, Counts] | None = field(default=None, repr=False)

    @property
    def count(self) -> int:
        """Values left after cleaning (what the statistical tests see)."""
        if self.values is not None:
            return int(self.values.size)
        if self.counts is not None:
            return int(self.counts.sum())
        return 0

    def numeric_uniques(self) -> tuple[Floats, Counts]:
        """Distinct values and their counts, read off the sorted values in one pass."""
        if self._uniques is None:
            values = self.values if self.values is not None else np.empty(0)
            if values.size == 0:
                self._uniques = (np.empty(0), np.empty(0, dtype=np.int64))
            else:
                starts = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
                counts = np.diff(np.append(starts, values.size)).astype(np.int64)
                self._uniques = (values[starts], counts)
        return self._uniques

    @property
    def n_unique(self) -> int:
        if self.values is not None:
            return int(self.numeric_uniques()[0].size)
        return 0 if self.categories is None else int(self.categories.size)


def summarize(data: pa.Table | pd.DataFrame, name: str) -> ColumnSummary:
    """Summarise column ``name`` of ``data`` (an Arrow table or a pandas DataFrame)."""
    if isinstance(data, pd.DataFrame):
        return _from_pandas(data[name])
    if isinstance(data, pa.Table):
        return _from_arrow(data.column(name))
    raise InvalidInput(
        f"data must be a pyarrow Table or a pandas DataFrame, not {type(data).__name__}", field="data"
    )


def column_names(data: pa.Table | pd.DataFrame) -> tuple[str, ...]:
    if isinstance(data, pd.DataFrame):
        names = tuple(str(c) for c in data.columns)
        if len(set(names)) != len(names):
            raise InvalidInput("data has duplicate column names", field="data")
        return names
    if isinstance(data, pa.Table):
        return tuple(data.column_names)
    raise InvalidInput(
        f"data must be a pyarrow Table or a pandas DataFrame, not {type(data).__name__}", field="data"
    )


def row_count(data: pa.Table | pd.DataFrame) -> int:
    return len(data) if isinstance(data, pd.DataFrame) else data.num_rows


def _numeric(dtype: Dtype, raw: npt.NDArray[np.generic], rows: int) -> ColumnSummary:
    values = raw.astype(np.float64, copy=False)
    finite = np.isfinite(values)
    nan = int(np.isnan(values).sum())
    kept = values[finite] if not finite.all() else values.copy()
    kept.sort()
    return ColumnSummary(dtype, rows, nulls=nan, infinite=rows - nan - kept.size, values=kept)


def _labels(dtype: Dtype, categories: Objects, counts: Counts, rows: int) -> ColumnSummary:
    order = np.argsort(-counts, kind="stable")
    kept = counts[order].astype(np.int64)
    return ColumnSummary(dtype, rows, nulls=rows - int(kept.sum()), categories=categories[order], counts=kept)


def _from_pandas(series: pd.Series) -> ColumnSummary:
    rows = len(series)
    dt = series.dtype
    if isinstance(dt, pd.CategoricalDtype):
        counts = series.value_counts(dropna=True)
        counts = counts[counts > 0]
        return _labels("category", _as_str(counts.index.to_numpy()), counts.to_numpy(np.int64), rows)
    if pd.api.types.is_bool_dtype(dt):
        if series.isna().any():
            valid = series.dropna().to_numpy(bool)
            summary = _numeric("bool", valid, len(valid))
            summary.rows, summary.nulls = rows, rows - len(valid)
            return summary
        return _numeric("bool", series.to_numpy(bool), rows)
    if pd.api.types.is_float_dtype(dt):
        return _numeric("float", series.to_numpy(np.float64, na_value=np.nan), rows)
    if pd.api.types.is_integer_dtype(dt):
        if series.isna().any():  # a nullable int with gaps reads as float, as pandas makes it
            return _numeric("float", series.to_numpy(np.float64, na_value=np.nan), rows)
        return _numeric("int", series.to_numpy(np.int64), rows)
    if pd.api.types.is_datetime64_any_dtype(dt) or isinstance(dt, pd.PeriodDtype):
        return ColumnSummary("datetime", rows, nulls=int(series.isna().sum()))
    if pd.api.types.is_string_dtype(dt) or pd.api.types.is_object_dtype(dt):
        counts = series.value_counts(dropna=True)
        index = counts.index.to_numpy()
        if pd.api.types.is_object_dtype(dt) and not all(isinstance(v, str) for v in index):
            return ColumnSummary("other", rows, nulls=int(series.isna().sum()))
        return _labels("string", _as_str(index), counts.to_numpy(np.int64), rows)
    return ColumnSummary("other", rows, nulls=int(series.isna().sum()))


def _from_arrow(column: pa.ChunkedArray) -> ColumnSummary:
    rows = len(column)
    typ = column.type
    if pa.types.is_dictionary(typ):
        decoded = column.cast(typ.value_type)
        summary = _from_arrow(decoded)
        if summary.dtype in LABELS:
            summary.dtype = "category"
        return summary
    if pa.types.is_boolean(typ):
        valid = pc.drop_null(column)
        summary = _numeric("bool", valid.to_numpy(), len(valid))
        summary.rows, summary.nulls = rows, column.null_count
        return summary
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        floats = column.cast(pa.float64()).fill_null(np.nan).to_numpy()
        return _numeric("float", floats, rows)
    if pa.types.is_integer(typ):
        if column.null_count:  # as pandas reads it: a float column with NaN
            return _numeric("float", column.cast(pa.float64()).fill_null(np.nan).to_numpy(), rows)
        return _numeric("int", column.cast(pa.int64()).to_numpy(), rows)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        counts = pc.value_counts(pc.drop_null(column))
        return _labels(
            "string",
            _as_str(counts.field("values").to_numpy(zero_copy_only=False)),
            counts.field("counts").to_numpy().astype(np.int64),
            rows,
        )
    if pa.types.is_temporal(typ):
        return ColumnSummary("datetime", rows, nulls=column.null_count)
    return ColumnSummary("other", rows, nulls=column.null_count)


def _as_str(values: npt.NDArray[np.generic]) -> Objects:
    out = np.empty(len(values), dtype=object)
    out[:] = [v if isinstance(v, str) else str(v) for v in values]
    return out

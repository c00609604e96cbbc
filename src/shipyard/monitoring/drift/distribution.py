"""Reference-vs-current shares of one column, for the histograms a monitor page draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.monitoring.drift.columns import ColumnSummary, column_names, summarize
from shipyard.monitoring.drift.reference import Reference
from shipyard.monitoring.drift.stattests import category_counts, histogram, sturges_edges


@dataclass(frozen=True)
class Distribution:
    """Bin ``edges`` (numbers) or ``categories`` (labels), and each side's share per bin; shares
    are of the cleaned values (nulls, NaN and inf left out), so each side sums to 1."""

    column: str
    edges: tuple[float, ...] | None
    categories: tuple[str, ...] | None
    reference: tuple[float, ...]
    current: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "edges": None if self.edges is None else list(self.edges),
            "categories": None if self.categories is None else list(self.categories),
            "reference": list(self.reference),
            "current": list(self.current),
        }


def distribution(
    reference: Reference,
    current: pa.Table | pd.DataFrame,
    column: str,
    bins: int | None = None,
    max_categories: int = 50,
) -> Distribution:
    """Numbers with more than ``max_categories`` distinct values get ``bins`` equal-width bins over
    both sides' range (default: Sturges' rule, as the drift binning); other columns one bin per
    value, the ``max_categories`` most frequent in the reference first."""
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int) or bins < 1):
        raise InvalidInput(f"bins must be a positive integer, got {bins!r}", field="bins")
    ref = reference.column(column)
    if column not in column_names(current):
        raise InvalidInput(f"column {column!r} is missing from the current data", field="column")
    cur = summarize(current, column)
    numeric = ref.values is not None and cur.values is not None
    if numeric and (ref.n_unique > max_categories or cur.n_unique > max_categories):
        return _binned(column, ref, cur, bins)
    if (ref.values is None) != (cur.values is None):
        raise InvalidInput(
            f"column {column!r} changed type: {ref.dtype} in the reference, {cur.dtype} now",
            field="column",
        )
    ref_counts, cur_counts, keys = category_counts(ref, cur)
    order = np.argsort(-ref_counts, kind="stable")[:max_categories]
    labels = tuple(_label(k) for k in keys[order])
    return Distribution(
        column,
        None,
        labels,
        tuple((ref_counts[order] / max(ref.count, 1)).tolist()),
        tuple((cur_counts[order] / max(cur.count, 1)).tolist()),
    )


def _binned(column: str, ref: ColumnSummary, cur: ColumnSummary, bins: int | None) -> Distribution:
    assert ref.values is not None and cur.values is not None
    sides = [v for v in (ref.values, cur.values) if v.size]
    low, high = min(v[0] for v in sides), max(v[-1] for v in sides)
    n = ref.values.size + cur.values.size
    if bins is None:
        edges = sturges_edges(low, high, n)
    else:
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    return Distribution(
        column,
        tuple(edges.tolist()),
        None,
        tuple((histogram(ref.values, edges) / max(ref.count, 1)).tolist()),
        tuple((histogram(cur.values, edges) / max(cur.count, 1)).tolist()),
    )


def _label(key: object) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)

"""Drift of a current window against a prepared reference, column by column, then for the dataset.

How a column is tested (Evidently 0.7's defaults, see docs/drift.md):

- its kind comes from the **current** window: floats are numerical; integers are categorical with
  at most 10 distinct values, numerical otherwise; booleans and pandas/Arrow categoricals are
  categorical; strings are categorical unless more than half the values are distinct (text);
- the method comes from the reference size after dropping null/NaN/inf and the number of distinct
  values over both sides: over 1,000 reference values, Wasserstein (numerical with more than 5
  distinct values) or Jensen-Shannon; otherwise KS (numerical, more than 5), chi-square (3 or
  more) or the Z-test (2 or fewer);
- the dataset drifts when the share of drifted columns among tested ones reaches ``drift_share``.

Columns that cannot be tested (text, dates, missing from the window, empty after cleaning, a type
that changed) are reported with ``tested=False`` and the reason, and left out of the share.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.monitoring.drift.columns import LABELS, NUMERIC, ColumnSummary, column_names, summarize
from shipyard.monitoring.drift.reference import Reference
from shipyard.monitoring.drift.stattests import METHODS, Kind, Method

#: Above this many reference values the distance methods are the default (Evidently's rule).
LARGE_REFERENCE = 1000


@dataclass(frozen=True)
class DriftOptions:
    """Which method and threshold each column gets, and when the dataset counts as drifted.

    Precedence, as in Evidently: the method is ``per_column_method`` > ``numerical_method`` /
    ``categorical_method`` > ``method`` > the default; the threshold is ``per_column_threshold`` >
    ``numerical_threshold`` / ``categorical_threshold`` > ``threshold`` > the method's default.
    """

    method: str | None = None
    threshold: float | None = None
    per_column_method: Mapping[str, str] = field(default_factory=dict)
    per_column_threshold: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    numerical_method: str | None = None
    categorical_method: str | None = None
    numerical_threshold: float | None = None
    categorical_threshold: float | None = None

    def __post_init__(self) -> None:
        named = {
            "method": self.method,
            "numerical_method": self.numerical_method,
            "categorical_method": self.categorical_method,
        }
        named.update({f"per_column_method[{c!r}]": m for c, m in self.per_column_method.items()})
        for where, method in named.items():
            if method is not None and method not in METHODS:
                raise InvalidInput(
                    f"unknown drift method {method!r} in {where}; known methods: "
                    + ", ".join(sorted(METHODS)),
                    field=where,
                )
        thresholds = {
            "threshold": self.threshold,
            "numerical_threshold": self.numerical_threshold,
            "categorical_threshold": self.categorical_threshold,
        }
        thresholds.update({f"per_column_threshold[{c!r}]": t for c, t in self.per_column_threshold.items()})
        for where, value in thresholds.items():
            if value is not None and not _is_number(value, low=0.0):
                raise InvalidInput(f"{where} must be a finite number >= 0, got {value!r}", field=where)
        if not _is_number(self.drift_share, low=0.0) or not 0 < self.drift_share <= 1:
            raise InvalidInput(
                f"drift_share must be in (0, 1], got {self.drift_share!r}", field="drift_share"
            )


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict. ``score`` is a p-value for the tests (drift when low) and a distance
    for the others (drift when high); ``reason`` says why an untested column was not tested."""

    column: str
    kind: str | None
    method: str | None
    threshold: float | None
    score: float | None
    drifted: bool
    tested: bool
    reason: str | None = None
    reference_count: int = 0
    current_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "threshold": self.threshold,
            "score": _json_float(self.score),
            "drifted": self.drifted,
            "tested": self.tested,
            "reason": self.reason,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
        }


@dataclass(frozen=True)
class DatasetDrift:
    """Every column's verdict and the dataset's: ``drift`` when ``share`` (drifted / tested)
    reaches ``drift_share``."""

    columns: tuple[ColumnDrift, ...]
    tested: int
    drifted: int
    share: float
    drift: bool
    drift_share: float

    def column(self, name: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == name:
                return c
        raise InvalidInput(f"no drift result for column {name!r}", field="column")

    def figures(self) -> dict[str, float]:
        """Flat named figures for monitors and alerts (non-finite scores left out)."""
        out = {
            "drift.share": self.share,
            "drift.drifted_columns": float(self.drifted),
            "drift.tested_columns": float(self.tested),
            "drift.dataset": 1.0 if self.drift else 0.0,
        }
        for c in self.columns:
            if c.tested and c.score is not None and math.isfinite(c.score):
                out[f"drift.score.{c.column}"] = c.score
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "tested": self.tested,
            "drifted": self.drifted,
            "share": self.share,
            "drift": self.drift,
            "drift_share": self.drift_share,
        }


def detect_drift(
    reference: Reference,
    current: pa.Table | pd.DataFrame,
    options: DriftOptions | None = None,
    columns: Sequence[str] | None = None,
) -> DatasetDrift:
    """Compare ``current`` with the prepared ``reference`` on ``columns`` (default: all of the
    reference's). Columns run in parallel threads: sorting and binary search release the GIL."""
    options = options or DriftOptions()
    chosen = reference.columns if columns is None else tuple(columns)
    for name in chosen:
        reference.column(name)  # raises InvalidInput naming an unknown column
    present = set(column_names(current))

    def one(name: str) -> ColumnDrift:
        if name not in present:
            return _untested(name, None, "missing from the current data")
        return column_drift(name, reference.column(name), summarize(current, name), options)

    workers = min(len(chosen), os.cpu_count() or 1, 8)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = tuple(pool.map(one, chosen))
    else:
        results = tuple(one(n) for n in chosen)
    tested = [r for r in results if r.tested]
    drifted = sum(r.drifted for r in tested)
    share = drifted / len(tested) if tested else 0.0
    return DatasetDrift(
        columns=results,
        tested=len(tested),
        drifted=drifted,
        share=share,
        drift=bool(tested) and share >= options.drift_share,
        drift_share=options.drift_share,
    )


def column_kind(current: ColumnSummary) -> Kind | None:
    """The column's kind from the current window (None: not drift-tested)."""
    if current.dtype == "float":
        return "numerical"
    if current.dtype == "int":
        return "categorical" if current.n_unique <= 10 else "numerical"
    if current.dtype in ("bool", "category"):
        return "categorical"
    if current.dtype == "string":
        return "text" if current.n_unique > 0.5 * current.count else "categorical"
    return None


def default_method(reference: ColumnSummary, current: ColumnSummary, kind: Kind) -> Method:
    """Evidently's default: by reference size after cleaning and distinct values over both sides."""
    if reference.count > LARGE_REFERENCE:
        if kind == "numerical" and _distinct_over_both(reference, current, 5) > 5:
            return METHODS["wasserstein"]
        return METHODS["jensenshannon"]
    distinct = _distinct_over_both(reference, current, 5)
    if kind == "numerical" and distinct > 5:
        return METHODS["ks"]
    return METHODS["chisquare"] if distinct > 2 else METHODS["z"]


def column_drift(
    name: str, reference: ColumnSummary, current: ColumnSummary, options: DriftOptions
) -> ColumnDrift:
    kind = column_kind(current)
    if kind is None:
        return _untested(name, None, f"{current.dtype} columns are not drift-tested")
    if kind == "text":
        return _untested(name, kind, "text column (over half the values distinct): no text drift test")
    if not _compatible(reference, current):
        return _untested(name, kind, f"type changed: {reference.dtype} in the reference, {current.dtype} now")
    if reference.count == 0 or current.count == 0:
        side = "reference" if reference.count == 0 else "current data"
        return _untested(name, kind, f"no values in the {side} after dropping nulls, NaN and inf")
    # The defaults give small numerical columns chi-square or Z (as Evidently does); a method the
    # caller names must suit the column's kind.
    method = _chosen_method(name, kind, options)
    if method is None:
        method = default_method(reference, current, kind)
    elif kind not in method.kinds:
        raise InvalidInput(
            f"drift method {method.name!r} applies to {' and '.join(sorted(method.kinds))} columns; "
            f"column {name!r} is {kind}",
            field="method",
        )
    threshold = _chosen_threshold(name, kind, options, method)
    score = method.compute(reference, current, kind)
    return ColumnDrift(
        column=name,
        kind=kind,
        method=method.name,
        threshold=threshold,
        score=score,
        drifted=method.drifted(score, threshold),
        tested=True,
        reference_count=reference.count,
        current_count=current.count,
    )


def _chosen_method(name: str, kind: Kind, options: DriftOptions) -> Method | None:
    typed = options.numerical_method if kind == "numerical" else options.categorical_method
    chosen = options.per_column_method.get(name) or typed or options.method
    return METHODS[chosen] if chosen else None


def _chosen_threshold(name: str, kind: Kind, options: DriftOptions, method: Method) -> float:
    typed = options.numerical_threshold if kind == "numerical" else options.categorical_threshold
    for value in (options.per_column_threshold.get(name), typed, options.threshold):
        if value is not None:
            return float(value)
    return method.default_threshold


def _distinct_over_both(reference: ColumnSummary, current: ColumnSummary, cap: int) -> int:
    """Distinct values of both sides together, exact up to ``cap`` (above it, any number > cap)."""
    if reference.n_unique > cap or current.n_unique > cap:
        return max(reference.n_unique, current.n_unique)
    if reference.values is not None and current.values is not None:
        return len(set(reference.numeric_uniques()[0].tolist()) | set(current.numeric_uniques()[0].tolist()))
    return len(set(_labels(reference)) | set(_labels(current)))


def _labels(summary: ColumnSummary) -> list[object]:
    return [] if summary.categories is None else summary.categories.tolist()


def _compatible(reference: ColumnSummary, current: ColumnSummary) -> bool:
    return (reference.dtype in NUMERIC and current.dtype in NUMERIC) or (
        reference.dtype in LABELS and current.dtype in LABELS
    )


def _untested(name: str, kind: str | None, reason: str) -> ColumnDrift:
    return ColumnDrift(name, kind, None, None, None, drifted=False, tested=False, reason=reason)


def _is_number(value: object, low: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= low
    )


def _json_float(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None

"""Data quality of a current window against the prepared drift reference: the columns the model
expects, their types, nulls, numbers outside the range seen in training and categories never seen
in training. Everything is read from the reference's summaries (see ``monitoring/drift``), so the
training data is not read again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.monitoring.drift.columns import LABELS, ColumnSummary, column_names, summarize
from shipyard.monitoring.drift.reference import Reference

#: Integer columns with at most this many distinct reference values are also checked for unseen
#: values (codes such as a region id), as drift treats them as categories.
CODE_LIMIT = 10
#: At most this many unseen values are listed per column (the share counts them all).
UNSEEN_LISTED = 20


@dataclass(frozen=True)
class ColumnQuality:
    """One column's checks. Shares are of the current window's rows; ``out_of_range`` counts
    finite numbers outside the reference's [min, max] and ±inf; ``unseen_share`` counts values
    the reference never had."""

    column: str
    reference_type: str
    current_type: str
    type_mismatch: bool
    null_share_reference: float
    null_share_current: float
    out_of_range_share: float | None = None
    reference_min: float | None = None
    reference_max: float | None = None
    unseen: tuple[str, ...] = ()
    unseen_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "reference_type": self.reference_type,
            "current_type": self.current_type,
            "type_mismatch": self.type_mismatch,
            "null_share_reference": self.null_share_reference,
            "null_share_current": self.null_share_current,
            "out_of_range_share": self.out_of_range_share,
            "reference_min": self.reference_min,
            "reference_max": self.reference_max,
            "unseen": list(self.unseen),
            "unseen_share": self.unseen_share,
        }


@dataclass(frozen=True)
class QualityReport:
    """The checks of every reference column present in the window, plus the columns the window
    lacks (``missing_columns``) or adds (``unexpected_columns``)."""

    rows: int
    columns: tuple[ColumnQuality, ...]
    missing_columns: tuple[str, ...]
    unexpected_columns: tuple[str, ...]

    @property
    def type_mismatches(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.type_mismatch)

    def column(self, name: str) -> ColumnQuality:
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)

    def figures(self) -> dict[str, float]:
        """Flat named figures a monitor stores and alerts on."""
        out = {
            "quality.rows": float(self.rows),
            "quality.missing_columns": float(len(self.missing_columns)),
            "quality.unexpected_columns": float(len(self.unexpected_columns)),
            "quality.type_mismatches": float(len(self.type_mismatches)),
        }
        for c in self.columns:
            out[f"quality.nulls.{c.column}"] = c.null_share_current
            if c.out_of_range_share is not None:
                out[f"quality.out_of_range.{c.column}"] = c.out_of_range_share
            if c.unseen_share is not None:
                out[f"quality.unseen.{c.column}"] = c.unseen_share
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "columns": [c.to_dict() for c in self.columns],
            "missing_columns": list(self.missing_columns),
            "unexpected_columns": list(self.unexpected_columns),
            "type_mismatches": list(self.type_mismatches),
        }


def check_quality(reference: Reference, current: pa.Table | pd.DataFrame) -> QualityReport:
    """Check ``current`` against ``reference`` (see the module docstring)."""
    present = column_names(current)
    rows = len(current) if isinstance(current, pd.DataFrame) else current.num_rows
    checks = tuple(
        _check(name, reference.column(name), summarize(current, name))
        for name in reference.columns
        if name in present
    )
    return QualityReport(
        rows=rows,
        columns=checks,
        missing_columns=tuple(c for c in reference.columns if c not in present),
        unexpected_columns=tuple(c for c in present if c not in reference.summaries),
    )


def _check(name: str, ref: ColumnSummary, cur: ColumnSummary) -> ColumnQuality:
    mismatch = not _same_family(ref.dtype, cur.dtype)
    base = ColumnQuality(
        column=name,
        reference_type=ref.dtype,
        current_type=cur.dtype,
        type_mismatch=mismatch,
        null_share_reference=_share(ref.nulls, ref.rows),
        null_share_current=_share(cur.nulls, cur.rows),
    )
    if mismatch:
        return base
    if ref.dtype in ("float", "int") and ref.values is not None and cur.values is not None:
        low, high = (float(ref.values[0]), float(ref.values[-1])) if ref.values.size else (None, None)
        outside = cur.infinite
        if low is not None and high is not None:
            outside += int(np.searchsorted(cur.values, low, side="left"))
            outside += int(cur.values.size - np.searchsorted(cur.values, high, side="right"))
        else:
            outside += int(cur.values.size)
        base = replace(
            base, out_of_range_share=_share(outside, cur.rows), reference_min=low, reference_max=high
        )
        if not (ref.dtype == "int" and ref.n_unique <= CODE_LIMIT):
            return base
    if ref.values is not None and cur.values is not None:
        known, _ = ref.numeric_uniques()
        values, counts = cur.numeric_uniques()
        new = ~np.isin(values, known)
        labels = [_number(v) for v in values[new][:UNSEEN_LISTED].tolist()]
        return replace(base, unseen=tuple(labels), unseen_share=_share(int(counts[new].sum()), cur.rows))
    if ref.categories is not None and cur.categories is not None and cur.counts is not None:
        new = ~pd.Index(cur.categories, dtype=object).isin(ref.categories)
        return replace(
            base,
            unseen=tuple(str(v) for v in cur.categories[new][:UNSEEN_LISTED]),
            unseen_share=_share(int(cur.counts[new].sum()), cur.rows),
        )
    return base


def _same_family(a: str, b: str) -> bool:
    if a == b:
        return True
    return ({a, b} <= {"float", "int"}) or ({a, b} <= LABELS)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)

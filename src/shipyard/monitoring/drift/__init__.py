"""Drift of a window of data against a prepared training reference, with Evidently 0.7's methods,
defaults and values (see docs/drift.md)."""

from __future__ import annotations

from shipyard.monitoring.drift.columns import ColumnSummary
from shipyard.monitoring.drift.detect import (
    ColumnDrift,
    DatasetDrift,
    DriftOptions,
    column_kind,
    default_method,
    detect_drift,
)
from shipyard.monitoring.drift.distribution import Distribution, distribution
from shipyard.monitoring.drift.reference import Reference, prepare_reference
from shipyard.monitoring.drift.stattests import METHODS, Method

__all__ = [
    "METHODS",
    "ColumnDrift",
    "ColumnSummary",
    "DatasetDrift",
    "Distribution",
    "DriftOptions",
    "Method",
    "Reference",
    "column_kind",
    "default_method",
    "detect_drift",
    "distribution",
    "prepare_reference",
]

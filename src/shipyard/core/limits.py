"""Caps on what one request may ask of the domain services (set from ``Settings``, see docs/limits.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    #: Metric points one call may log.
    max_metric_points: int = 50_000
    #: Tags a run or experiment may hold (and one call may set).
    max_tags: int = 1_000
    #: Params a run may hold (and one call may log).
    max_params: int = 1_000
    #: Characters in a search filter.
    max_filter_length: int = 4_096
    #: Comparisons in a search filter (each IN-list value counts).
    max_filter_terms: int = 64


__all__ = ["Limits"]

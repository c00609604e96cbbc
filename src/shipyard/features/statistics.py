"""Per-feature statistics: the profile shown by ``describe`` and stored per materialization, and
the reference that drift monitoring compares against.

Numbers (ints, floats, timestamps as epoch seconds) get min/max/mean/std, quantiles and a
10-bin histogram; strings and booleans get their most frequent values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from shipyard.features.model import Field
from shipyard.features.types import ValueType

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

QUANTILES: dict[str, float] = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
TOP_VALUES = 10
HISTOGRAM_BINS = 10
EXACT_QUANTILE_ROWS = 1_000_000
_NUMERIC = {ValueType.INT32, ValueType.INT64, ValueType.FLOAT32, ValueType.FLOAT64, ValueType.TIMESTAMP}
_CATEGORICAL = {ValueType.STRING, ValueType.BOOL}


@dataclass(frozen=True)
class Histogram:
    """Equal-width bins: ``edges`` has one more entry than ``counts``."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class FeatureStatistics:
    feature: str
    dtype: str
    count: int
    nulls: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)
    top_values: list[tuple[str, int]] = field(default_factory=list)
    histogram: Histogram | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "dtype": self.dtype,
            "count": self.count,
            "nulls": self.nulls,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "quantiles": dict(self.quantiles),
            "top_values": [[v, n] for v, n in self.top_values],
            "histogram": None
            if self.histogram is None
            else {"edges": list(self.histogram.edges), "counts": list(self.histogram.counts)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureStatistics:
        hist = data.get("histogram")
        return cls(
            feature=str(data["feature"]),
            dtype=str(data["dtype"]),
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            min=_float(data.get("min")),
            max=_float(data.get("max")),
            mean=_float(data.get("mean")),
            std=_float(data.get("std")),
            quantiles={str(k): float(v) for k, v in (data.get("quantiles") or {}).items()},
            top_values=[(str(v), int(n)) for v, n in (data.get("top_values") or [])],
            histogram=None
            if not hist
            else Histogram(tuple(float(e) for e in hist["edges"]), tuple(int(c) for c in hist["counts"])),
        )


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value(f: Field) -> str:
    column = _quote(f.name)
    return f"epoch({column})" if f.dtype is ValueType.TIMESTAMP else f"CAST({column} AS DOUBLE)"


def relation_statistics(
    con: duckdb.DuckDBPyConnection, relation: str, fields: Sequence[Field]
) -> list[FeatureStatistics]:
    """Statistics of ``fields`` over ``relation`` (SQL text naming a table or a subquery).

    One scan for counts, moments and quantiles of every feature (quantiles exact up to
    :data:`EXACT_QUANTILE_ROWS` rows, t-digest estimates above), one for the histograms, one per
    categorical feature for its top values. NaN and infinities count as present but are left out
    of the numeric aggregates, which they would poison.
    """
    numeric = [f for f in fields if f.dtype in _NUMERIC]
    total = int((con.execute(f"SELECT count(*) FROM {relation}").fetchone() or (0,))[0])
    quantile = "quantile_cont" if total <= EXACT_QUANTILE_ROWS else "approx_quantile"
    probs = ", ".join(str(p) for p in QUANTILES.values())
    selects = [f"count({_quote(f.name)})" for f in fields]
    for f in numeric:
        x, ok = _value(f), f"isfinite({_value(f)})"
        selects += [
            f"min({x}) FILTER (WHERE {ok})",
            f"max({x}) FILTER (WHERE {ok})",
            f"avg({x}) FILTER (WHERE {ok})",
            f"stddev_samp({x}) FILTER (WHERE {ok})",
            f"{quantile}({x}, [{probs}]) FILTER (WHERE {ok})",
            f"count({x}) FILTER (WHERE {ok})",
        ]
    row = con.execute(f"SELECT {', '.join(selects)} FROM {relation}").fetchone() or ()
    counts = {f.name: int(row[i]) for i, f in enumerate(fields)}
    moments = {f.name: row[len(fields) + 6 * i : len(fields) + 6 * (i + 1)] for i, f in enumerate(numeric)}
    histograms = _histograms(con, relation, [f for f in numeric if moments[f.name][0] is not None], moments)
    out = []
    for f in fields:
        count = counts[f.name]
        stats = FeatureStatistics(feature=f.name, dtype=f.dtype.value, count=count, nulls=total - count)
        if f.name in moments and moments[f.name][0] is not None:
            low, high, mean, std, qs, _ = moments[f.name]
            stats = replace(
                stats,
                min=float(low),
                max=float(high),
                mean=float(mean),
                std=None if std is None else float(std),
                quantiles={k: float(q) for k, q in zip(QUANTILES, qs, strict=True)},
                histogram=histograms.get(f.name),
            )
        elif f.dtype in _CATEGORICAL and count:
            column = _quote(f.name)
            rows = con.execute(
                f"SELECT CAST({column} AS VARCHAR) AS v, count(*) AS n FROM {relation} WHERE {column} IS NOT NULL "
                f"GROUP BY v ORDER BY n DESC, v LIMIT {TOP_VALUES}"
            ).fetchall()
            stats = replace(stats, top_values=[(str(v), int(n)) for v, n in rows])
        out.append(stats)
    return out


def _histograms(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    numeric: Sequence[Field],
    moments: Mapping[str, Sequence[Any]],
) -> dict[str, Histogram]:
    """Equal-width histograms of ``numeric`` between their min and max, in one scan."""
    if not numeric:
        return {}
    selects = []
    for f in numeric:
        low, high = float(moments[f.name][0]), float(moments[f.name][1])
        width = (high - low) / HISTOGRAM_BINS or 1.0
        x = _value(f)
        bucket = f"least(CAST(floor(({x} - {low!r}) / {width!r}) AS BIGINT), {HISTOGRAM_BINS - 1})"
        # CASE, not FILTER: the bucket expression must never see NaN (its cast would fail).
        selects.append(f"histogram(CASE WHEN isfinite({x}) THEN {bucket} END)")
    row = con.execute(f"SELECT {', '.join(selects)} FROM {relation}").fetchone() or ()
    out = {}
    for f, counts_by_bin in zip(numeric, row, strict=True):
        low, high = float(moments[f.name][0]), float(moments[f.name][1])
        finite = int(moments[f.name][5])
        if high == low:
            out[f.name] = Histogram((low, high), (finite,))
            continue
        width = (high - low) / HISTOGRAM_BINS
        counts = [0] * HISTOGRAM_BINS
        for b, n in dict(counts_by_bin or {}).items():
            counts[int(b)] += int(n)
        edges = (*(low + width * i for i in range(HISTOGRAM_BINS)), high)
        out[f.name] = Histogram(edges, tuple(counts))
    return out


def table_statistics(table: pa.Table, fields: Sequence[Field]) -> list[FeatureStatistics]:
    """Statistics of ``fields`` over an Arrow table (e.g. the rows a materialization wrote)."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("__stats_rows", table)
        return relation_statistics(con, "__stats_rows", fields)

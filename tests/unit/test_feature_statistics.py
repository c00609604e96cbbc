"""Feature statistics: the numbers ``describe`` shows and drift monitoring compares against."""

from __future__ import annotations

import math
import statistics as py_stats
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from shipyard.features.model import Entity, FeatureView, Field, FileSource
from shipyard.features.offline import OfflineStore
from shipyard.features.statistics import FeatureStatistics, table_statistics
from shipyard.features.types import ValueType
from shipyard.storage.artifacts.memory import MemoryArtifactStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_numeric_categorical_and_null_counts() -> None:
    values = [float(v) for v in range(1, 101)]
    table = pa.table(
        {
            "amount": [*values, None, None],
            "country": ["fr"] * 60 + ["de"] * 30 + ["it"] * 10 + [None, None],
            "active": [True] * 70 + [False] * 30 + [None, None],
            "seen": [T0 + timedelta(seconds=i) for i in range(102)],
        }
    )
    fields = [
        Field("amount", ValueType.FLOAT64),
        Field("country", ValueType.STRING),
        Field("active", ValueType.BOOL),
        Field("seen", ValueType.TIMESTAMP),
    ]
    amount, country, active, seen = table_statistics(table, fields)

    assert (amount.count, amount.nulls, amount.min, amount.max) == (100, 2, 1.0, 100.0)
    assert amount.mean == 50.5
    assert math.isclose(amount.std or 0, py_stats.stdev(values))
    assert amount.quantiles["p50"] == 50.5
    assert math.isclose(amount.quantiles["p99"], float(np.quantile(values, 0.99)))
    assert list(amount.quantiles) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    assert amount.histogram is not None
    assert sum(amount.histogram.counts) == 100 and len(amount.histogram.edges) == 11
    assert amount.histogram.counts == (10,) * 10

    assert (country.count, country.nulls) == (100, 2)
    assert country.top_values == [("fr", 60), ("de", 30), ("it", 10)]
    assert country.mean is None and country.histogram is None
    assert active.top_values == [("true", 70), ("false", 30)]
    assert seen.min == T0.timestamp() and seen.max == T0.timestamp() + 101


def test_nan_counts_as_present_but_not_in_aggregates() -> None:
    table = pa.table({"x": pa.array([1.0, float("nan"), 3.0, None])})
    (x,) = table_statistics(table, [Field("x", ValueType.FLOAT64)])
    assert (x.count, x.nulls, x.min, x.max, x.mean) == (3, 1, 1.0, 3.0, 2.0)


def test_all_null_and_constant_columns() -> None:
    table = pa.table({"x": pa.array([None, None], type=pa.float64()), "y": [5, 5]})
    x, y = table_statistics(table, [Field("x", ValueType.FLOAT64), Field("y", ValueType.INT64)])
    assert (x.count, x.nulls, x.min, x.quantiles) == (0, 2, None, {})
    assert (y.min, y.max, y.std) == (5.0, 5.0, 0.0)
    assert y.histogram is not None and y.histogram.counts == (2,)


def test_round_trip_through_dict() -> None:
    table = pa.table({"x": [1.0, 2.0, 4.0], "s": ["a", "b", "a"]})
    for stats in table_statistics(table, [Field("x", ValueType.FLOAT64), Field("s", ValueType.STRING)]):
        assert FeatureStatistics.from_dict(stats.to_dict()) == stats


def test_offline_store_statistics_over_a_window(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "event_timestamp": [T0, T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3)],
            "spend": [1.0, 2.0, 3.0, 100.0],
        }
    )
    frame.to_parquet(tmp_path / "f.parquet")
    view = FeatureView(
        "v",
        entities=[Entity("c", {"customer_id": "int64"})],
        features={"spend": "float64"},
        source=FileSource("s", str(tmp_path / "f.parquet")),
    )
    store = OfflineStore(artifacts=MemoryArtifactStore())
    (everything,) = store.statistics(view)
    (window,) = store.statistics(view, T0, T0 + timedelta(days=3))
    assert (everything.count, everything.max) == (4, 100.0)
    assert (window.count, window.max, window.mean) == (3, 3.0, 2.0)
